"""The channel emulator: what a radio link does to a burst between transmitter baseband and receiver ADC.

Modules (one concept each):

* :mod:`phy.channel.emulator`: :class:`ChannelEmulator`, the chain that applies a profile to a burst
  (SNR definition, noise padding, the order of the impairments) and returns a :class:`ChannelOutput`;
* :mod:`phy.channel.profile`: :class:`ChannelProfile`, the named :data:`PROFILES` and :func:`get_profile`;
* :mod:`phy.channel.tdl`: power-delay profiles (TR 38.901 TDL-A/B/C, exponential);
* :mod:`phy.channel.fading`: block and Doppler (Jakes) Rayleigh fading of the paths;
* :mod:`phy.channel.interpolation`: band-limited interpolation (fractional delays, resampling);
* :mod:`phy.channel.impairments`: sample-clock offset, CFO, phase noise, IQ imbalance;
* :mod:`phy.channel.adc`: the receiver's analog-to-digital converter (gain, rounding, clipping);
* :mod:`phy.channel.awgn`: symbol-level AWGN (noise on channel symbols, no waveform), the models' channel.

The names below are the package's public interface (``from phy.channel import ChannelEmulator``).
"""

from phy.channel.awgn import awgn
from phy.channel.emulator import SNR_RANGE_DB, ChannelEmulator, ChannelOutput, check_snr_db
from phy.channel.profile import FADING_MODES, PROFILES, ChannelError, ChannelProfile, get_profile

__all__ = [
    "FADING_MODES",
    "PROFILES",
    "SNR_RANGE_DB",
    "ChannelEmulator",
    "ChannelError",
    "ChannelOutput",
    "ChannelProfile",
    "awgn",
    "check_snr_db",
    "get_profile",
]
