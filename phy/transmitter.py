"""OFDM transmitter: any complex payload -> a burst of self-contained frames.

Each frame (layout in :mod:`phy.frame_layout`) carries up to ``FrameConfig.max_payload_symbols``
OFDM symbols of payload and a header saying where those symbols belong (``offset`` in the
``total_len`` symbols of the transmission, ``frame_index`` of ``frame_count``, the ``sequence``
shared by the transmission's frames, image size, model id, aux), so every frame can be received,
or lost, alone.

Scaling: the preamble, header (BPSK), pilots (+-1) and padding have unit energy per subcarrier and
payload symbols are put on the data subcarriers at their own scale, so a receiver that equalises
with the LTF's channel estimate gives the payload back at the scale it was sent (unit-power in,
unit-power out). Each frame is then multiplied by one gain so that its RMS is
``FrameConfig.target_rms``, and magnitudes above ``FrameConfig.peak_limit`` are clipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from phy.frame_config import FrameConfig
from phy.frame_layout import FrameLayout
from phy.header import FIELD_BITS, Header, PayloadKind, encode_header, header_symbols
from phy.numerology import Numerology
from phy.ofdm import modulate, positions
from phy.pilots import pilot_values
from phy.pn_sequence import pn_signs

MAX_TOTAL_LEN = (1 << FIELD_BITS["total_len"]) - 1
MAX_FRAMES = (1 << FIELD_BITS["frame_count"]) - 1


class PayloadError(ValueError):
    """The payload cannot be transmitted (not a finite 1-D complex array, empty, or too long)."""


@dataclass
class TxBurst:
    """A burst of frames ready for a DAC.

    Attributes:
        samples: complex64 (n,), frames each followed by ``inter_frame_gap`` zeros.
        frame_starts: index of each frame's first sample in ``samples``.
        frame_lengths: samples of each frame (gap not included).
        headers: each frame's header.
        papr_db: PAPR of all frame samples together (gaps excluded), after clipping [dB].
        frame_papr_db: PAPR of each frame [dB].
        clipped_fraction: fraction of frame samples that the peak limit clipped.
        frame_gains: amplitude gain applied to each frame (unit energy per subcarrier -> target RMS).
        sample_rate: samples/s.
    """

    samples: np.ndarray
    frame_starts: list[int]
    frame_lengths: list[int]
    headers: list[Header]
    papr_db: float
    frame_papr_db: list[float] = field(default_factory=list)
    clipped_fraction: float = 0.0
    frame_gains: list[float] = field(default_factory=list)
    sample_rate: float = 0.0


def _padding_symbols(n: int) -> np.ndarray:
    """Known QPSK (unit power) for the unused data subcarriers of a payload's last symbol."""
    signs = pn_signs(2 * n, start=17).reshape(n, 2) if n else np.zeros((0, 2), np.float32)
    return ((signs[:, 0] + 1j * signs[:, 1]) / np.sqrt(2)).astype(np.complex64)


class Transmitter:
    """Turns payloads into bursts of OFDM frames.

    Args:
        numerology: the OFDM numerology (default 802.11a-like, FFT 64).
        frame_config: framing and scaling (default :class:`FrameConfig`).
    """

    def __init__(self, numerology: Numerology | None = None, frame_config: FrameConfig | None = None) -> None:
        self.numerology = numerology or Numerology()
        self.frame_config = frame_config or FrameConfig()
        self.layout = FrameLayout(self.numerology, self.frame_config)
        self._data_pos = positions(self.numerology, self.numerology.data)
        self._pilot_pos = positions(self.numerology, self.numerology.pilot)

    def frame(self, header: Header, payload: np.ndarray) -> np.ndarray:
        """One frame at unit energy per occupied subcarrier (before gain and clipping).

        Args:
            header: its ``payload_len`` must equal ``len(payload)``.
            payload: complex64 (payload_len,).

        Returns:
            complex64 (layout.frame_length(payload_len),).
        """
        num, lay = self.numerology, self.layout
        n_h, n_len = lay.n_header_symbols, len(payload)
        n_sym = n_h + lay.n_payload_symbols(n_len)
        data = np.empty((n_sym, num.n_data), dtype=np.complex64)
        data[:n_h] = header_symbols(encode_header(header), n_h, num.n_data)
        flat = data[n_h:].reshape(-1)
        flat[:n_len] = payload
        flat[n_len:] = _padding_symbols(flat.size - n_len)
        values = np.empty((n_sym, len(num.occupied)), dtype=np.complex64)
        values[:, self._data_pos] = data
        values[:, self._pilot_pos] = pilot_values(num, np.arange(n_sym))
        symbols = modulate(num, values).reshape(n_sym, num.symbol_len)
        pre = lay.preamble
        out = np.empty(lay.frame_length(n_len), dtype=np.complex64)
        out[: pre.stf_len] = pre.stf
        for seg in lay.segments(n_len):
            out[seg.ltf_start : seg.ltf_start + pre.ltf_len] = pre.ltf
            block = symbols[seg.first_index : seg.first_index + seg.n_symbols].reshape(-1)
            out[seg.first_symbol : seg.first_symbol + block.size] = block
        return out

    def transmit(
        self,
        payload: np.ndarray,
        *,
        payload_kind: PayloadKind | int = PayloadKind.RAW,
        sequence: int = 0,
        height: int = 0,
        width: int = 0,
        model_id: int = 0,
        aux: int = 0,
    ) -> TxBurst:
        """Split ``payload`` into frames and make the burst.

        Args:
            payload: complex (k,), finite, 1 <= k < 2**24, at any scale (mapped to the data
                subcarriers as they are).
            payload_kind, sequence, height, width, model_id, aux: header fields (see phy.header).

        Returns:
            The burst (see :class:`TxBurst`).

        Raises:
            PayloadError: for a payload that is not a finite 1-D numeric array, is empty, is too long
                for the header's fields, or needs more than 4095 frames.
            ValueError: for header fields out of range (from :class:`phy.header.Header`).
        """
        s = self._check_payload(payload)
        per_frame = self.layout.max_payload_len
        count = -(-s.size // per_frame)
        if count > MAX_FRAMES:
            raise PayloadError(
                f"the payload needs {count} frames; at most {MAX_FRAMES} fit in the header: raise "
                f"FrameConfig.max_payload_symbols (now {self.frame_config.max_payload_symbols})"
            )
        cfg = self.frame_config
        gap = np.zeros(cfg.inter_frame_gap, dtype=np.complex64)
        pieces, starts, lengths, headers, paprs, gains = [], [], [], [], [], []
        clipped = position = 0
        peak = energy = 0.0
        for index in range(count):
            chunk = s[index * per_frame : (index + 1) * per_frame]
            header = Header(
                payload_kind=payload_kind, sequence=sequence, frame_index=index, frame_count=count,
                payload_len=chunk.size, total_len=s.size, offset=index * per_frame,
                height=height, width=width, model_id=model_id, aux=aux,
            )
            frame = self.frame(header, chunk)
            power = frame.real**2 + frame.imag**2
            gain = cfg.target_rms / float(np.sqrt(np.mean(power, dtype=np.float64)))
            frame *= np.float32(gain)
            power *= np.float32(gain**2)
            if cfg.peak_limit is not None:
                over = power > np.float32(cfg.peak_limit**2)
                if over.any():
                    scale = (cfg.peak_limit / np.sqrt(power[over])).astype(np.float32)
                    frame[over] *= scale
                    power[over] *= scale**2
                    clipped += int(over.sum())
            pieces += [frame, gap]
            starts.append(position)
            lengths.append(frame.size)
            headers.append(header)
            frame_energy = float(np.sum(power, dtype=np.float64))
            paprs.append(float(10 * np.log10(power.max() * frame.size / frame_energy)))
            peak, energy = max(peak, float(power.max())), energy + frame_energy
            gains.append(gain)
            position += frame.size + gap.size
        n_frame_samples = sum(lengths)
        return TxBurst(
            samples=np.concatenate(pieces), frame_starts=starts, frame_lengths=lengths, headers=headers,
            papr_db=float(10 * np.log10(peak * n_frame_samples / energy)), frame_papr_db=paprs,
            clipped_fraction=clipped / n_frame_samples, frame_gains=gains, sample_rate=self.numerology.sample_rate,
        )

    @staticmethod
    def _check_payload(payload: np.ndarray) -> np.ndarray:
        try:
            s = np.asarray(payload)
        except (TypeError, ValueError) as err:
            raise PayloadError(f"payload must be a 1-D complex array; could not convert it ({err})") from None
        if s.dtype.kind not in "biufc":
            raise PayloadError(f"payload must be a 1-D complex array; got dtype {s.dtype}")
        if s.ndim != 1:
            raise PayloadError(f"payload must be a 1-D complex array (k,); got shape {s.shape}")
        if not 1 <= s.size <= MAX_TOTAL_LEN:
            raise PayloadError(f"payload has {s.size} symbols; expected 1..{MAX_TOTAL_LEN}")
        s = s.astype(np.complex64)
        if not np.isfinite(s).all():
            raise PayloadError("payload contains NaN or infinite values (or values beyond complex64's range)")
        return s
