"""Channel profiles: what the channel emulator (``phy.channel``) does to a burst, as a frozen dataclass.

The named profiles in ``PROFILES`` (all valid at any sample rate; the figures in samples are for the
default 2 MS/s numerology with a 16-sample = 8 us cyclic prefix):

* ``awgn``: additive white Gaussian noise only (plus noise padding before and after the burst).
* ``tdl-a``, ``tdl-b``, ``tdl-c``: TR 38.901 TDL models with block Rayleigh fading at a 300 ns rms delay
  spread, the "long" spread of TR 38.901 Table 7.7.3-1 and that of the 3GPP test channel TDLC300. At
  2 MS/s the 100 ns "nominal" spread would be almost flat (coherence bandwidth ~1/(5 x 100 ns) = 2 MHz,
  the whole band); 300 ns makes the 1.6 MHz occupied band frequency-selective while the longest paths,
  2.90 / 1.44 / 2.60 us (5.8 / 2.9 / 5.2 samples), stay well inside the 8 us cyclic prefix.
* ``exp``: exponential power-delay profile, one path per sample, 300 ns rms delay spread, block fading.
* ``tdl-c-doppler``: TDL-C at 300 ns with Jakes Doppler fading of 100 Hz maximum Doppler shift, the
  3GPP performance-test channel TDLC300-100 (TS 38.101-4); 100 Hz is 45 km/h at 2.4 GHz. The channel
  changes within a frame (coherence time ~0.42 / f_d = 4 ms).
* ``lab``: a PlutoSDR bench: two radios a few metres apart, whose band is close to flat. TDL-C scaled to
  the "very short" 10 ns rms delay spread of TR 38.901 Table 7.7.3-1 (longest path 87 ns, a sixth of a
  sample at 2 MS/s), block fading: over 40 draws at 10 dB the post-equalisation SNR stays within 0.7 dB
  of the nominal one (at 100 ns a draw could put half the band 10 dB down: that harsh, frequency-selective
  case is what the ``tdl-*`` profiles are for). CFO uniform in +-50 kHz (+-20 ppm at 2.4 GHz; within
  the +-62.5 kHz that a 16-sample-period preamble resolves at 2 MS/s); SFO uniform in +-20 ppm; phase
  noise of 10 Hz linewidth (-95 dBc/Hz at 100 kHz offset, about what AD936x synthesizers give; its
  inter-carrier interference is -35 dB at 64-point FFT and 2 MS/s, while 100 Hz would be -25 dB);
  IQ imbalance 0.1 dB / 1 degree (image rejection 39.6 dB, as after the AD936x quadrature calibration);
  DC offset 1 % of the signal RMS (-40 dB, what is left after DC tracking); a 12-bit ADC with the RMS
  12 dB below full scale (clipping probability of a Gaussian-like OFDM signal ~1e-8, quantisation
  noise -56 dB). Its SNR is set at the receiver (``snr_at_receiver``): a bench sets and measures the
  received SNR, so a block fade changes the spectrum's shape but not the SNR.

Every profile pads the burst with 100-1000 noise samples before and 100-300 after (uniform).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from phy.channel.tdl import PDP_MODELS
from phy.toml_settings import check_keys, read_toml, required_table

FADING_MODES = ("block", "doppler")


class ChannelError(ValueError):
    """A channel profile, emulator setting or emulator input that is not valid."""


@dataclass(frozen=True)
class ChannelProfile:
    """What the channel emulator applies; every random quantity is drawn per call from its generator.

    Attributes:
        name: profile name (echoed into results).
        tdl_model: power-delay profile: ``None`` (no multipath), ``"TDL-A"``, ``"TDL-B"``, ``"TDL-C"``
            (TR 38.901 Tables 7.7.2-1..3) or ``"exp"`` (exponential, one path per sample period).
        delay_spread_s: rms delay spread in seconds the profile is scaled to (0 without multipath).
        fading: ``"block"`` (one Rayleigh draw per path per call) or ``"doppler"`` (Jakes fading, each
            path independent, changing over the call).
        doppler_hz: maximum Doppler shift in Hz for ``fading="doppler"`` (0 for block fading).
        cfo_hz_max: carrier frequency offset bound in Hz; the CFO is drawn uniformly in
            ``[-cfo_hz_max, cfo_hz_max]`` and the oscillator phase at the burst start uniformly in
            [0, 2 pi) (both only when ``cfo_hz_max > 0``).
        sfo_ppm: sample-clock offset bound in ppm; the SFO is drawn uniformly in ``[-sfo_ppm, sfo_ppm]``
            and applied by resampling (the burst is stretched by ``1 + sfo * 1e-6``).
        pad_before: inclusive range ``(low, high)`` of the number of noise samples before the burst,
            drawn uniformly.
        pad_after: inclusive range ``(low, high)`` of the number of noise samples after the burst.
        phase_noise_linewidth_hz: 3-dB (full) linewidth in Hz of the Lorentzian spectrum of the
            transmit and receive oscillators together (Wiener phase noise); 0 for none.
        iq_amplitude_db: receiver IQ gain imbalance in dB (Q branch relative to I).
        iq_phase_deg: receiver IQ phase imbalance in degrees (Q branch from quadrature).
        dc_offset: receiver DC offset amplitude relative to the signal RMS (0.01 = -40 dB), with a
            phase drawn uniformly in [0, 2 pi); 0 for none.
        adc_bits: ADC resolution in bits (12 for a PlutoSDR); ``None`` for no quantisation.
        adc_backoff_db: RMS of the received samples during the burst (signal plus noise, as an AGC
            sees it) below ADC full scale, in dB.
        snr_at_receiver: ``True``: ``snr_db`` is the SNR of the received burst (the noise is scaled to
            the drawn channel's power gain, as on a bench where the received SNR is what is set and
            measured); ``False``: ``snr_db`` is the average over fading draws (a fade lowers it).
    """

    name: str = "custom"
    tdl_model: str | None = None
    delay_spread_s: float = 0.0
    fading: str = "block"
    doppler_hz: float = 0.0
    cfo_hz_max: float = 0.0
    sfo_ppm: float = 0.0
    pad_before: tuple[int, int] = (100, 1000)
    pad_after: tuple[int, int] = (100, 300)
    phase_noise_linewidth_hz: float = 0.0
    iq_amplitude_db: float = 0.0
    iq_phase_deg: float = 0.0
    dc_offset: float = 0.0
    adc_bits: int | None = None
    adc_backoff_db: float = 12.0
    snr_at_receiver: bool = False

    def __post_init__(self) -> None:
        for name in ("pad_before", "pad_after"):
            value = getattr(self, name)
            if len(value) != 2 or any(int(v) != v or v < 0 for v in value) or value[0] > value[1]:
                raise ChannelError(f"{name}={value!r} must be a range (low, high) of samples with 0 <= low <= high")
            object.__setattr__(self, name, (int(value[0]), int(value[1])))
        if self.tdl_model is not None and self.tdl_model not in PDP_MODELS:
            raise ChannelError(f"tdl_model={self.tdl_model!r} is not known; expected None or one of {list(PDP_MODELS)}")
        if self.tdl_model is None:
            if self.delay_spread_s != 0 or self.fading != "block" or self.doppler_hz != 0:
                raise ChannelError("delay_spread_s, fading and doppler_hz need a tdl_model (multipath); it is None")
        elif not (math.isfinite(self.delay_spread_s) and self.delay_spread_s > 0):
            raise ChannelError(f"delay_spread_s={self.delay_spread_s!r} must be a positive number of seconds")
        if self.fading not in FADING_MODES:
            raise ChannelError(f"fading={self.fading!r} is not known; expected one of {FADING_MODES}")
        if (self.fading == "doppler") != (self.doppler_hz > 0):
            raise ChannelError(
                f"doppler_hz={self.doppler_hz!r} must be > 0 with fading='doppler' and 0 with fading='block'"
            )
        bounds = {
            "cfo_hz_max": (0.0, math.inf),
            "sfo_ppm": (0.0, 1000.0),
            "phase_noise_linewidth_hz": (0.0, math.inf),
            "iq_amplitude_db": (-6.0, 6.0),
            "iq_phase_deg": (-45.0, 45.0),
            "dc_offset": (0.0, 1.0),
            "adc_backoff_db": (0.0, 60.0),
            "doppler_hz": (0.0, math.inf),
        }
        for name, (low, high) in bounds.items():
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and low <= value <= high):
                raise ChannelError(f"{name}={value!r} must be a number in [{low}, {high}]")
        if self.adc_bits is not None and not (isinstance(self.adc_bits, int) and 2 <= self.adc_bits <= 16):
            raise ChannelError(f"adc_bits={self.adc_bits!r} must be None or an integer between 2 and 16")

    def to_dict(self) -> dict:
        """Plain-JSON form (echoed into results and captures)."""
        d = asdict(self)
        d["pad_before"] = list(self.pad_before)
        d["pad_after"] = list(self.pad_after)
        return d

    @classmethod
    def from_toml(cls, path: str | Path, table: str = "channel") -> ChannelProfile:
        """Load from the ``[table]`` of a TOML file.

        Keys are this dataclass's fields; an optional ``base = "<profile name>"`` starts from that entry
        of ``PROFILES`` and the other keys override it. Fields left out keep their defaults (TOML has no
        ``None``: leave ``tdl_model`` / ``adc_bits`` out for none).
        """
        what = "channel profile"
        values = required_table(read_toml(path, ChannelError, what), table, path, ChannelError, what)
        check_keys(values, ["base", *(f.name for f in fields(cls))], path, table, ChannelError)
        base = get_profile(values.pop("base")) if "base" in values else cls()
        for key in ("pad_before", "pad_after"):
            if key in values:
                values[key] = tuple(values[key])
        return replace(base, **values)


PROFILES: dict[str, ChannelProfile] = {
    "awgn": ChannelProfile(name="awgn"),
    "tdl-a": ChannelProfile(name="tdl-a", tdl_model="TDL-A", delay_spread_s=300e-9),
    "tdl-b": ChannelProfile(name="tdl-b", tdl_model="TDL-B", delay_spread_s=300e-9),
    "tdl-c": ChannelProfile(name="tdl-c", tdl_model="TDL-C", delay_spread_s=300e-9),
    "exp": ChannelProfile(name="exp", tdl_model="exp", delay_spread_s=300e-9),
    "tdl-c-doppler": ChannelProfile(
        name="tdl-c-doppler", tdl_model="TDL-C", delay_spread_s=300e-9, fading="doppler", doppler_hz=100.0
    ),
    "lab": ChannelProfile(
        name="lab",
        tdl_model="TDL-C",
        delay_spread_s=10e-9,
        cfo_hz_max=50e3,
        sfo_ppm=20.0,
        phase_noise_linewidth_hz=10.0,
        iq_amplitude_db=0.1,
        iq_phase_deg=1.0,
        dc_offset=0.01,
        adc_bits=12,
        adc_backoff_db=12.0,
        snr_at_receiver=True,
    ),
}


def get_profile(name: str) -> ChannelProfile:
    """The named profile of ``PROFILES``; a ``ChannelError`` listing the valid names otherwise."""
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        raise ChannelError(f"unknown channel profile {name!r}; expected one of {sorted(PROFILES)}") from None
