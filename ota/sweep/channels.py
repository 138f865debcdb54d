"""The channels a sweep sends every scheme's symbols through: symbol-level AWGN or the OFDM link."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ota.link import Link
from phy.channel import ChannelEmulator, ChannelProfile, awgn
from phy.header import PayloadKind


@dataclass
class Received:
    """What a receiver recovers of one payload.

    Attributes:
        symbols: complex64 (k,), soft symbols in payload order (0 where erased).
        noise_var: float32 (k,), complex noise variance per symbol (inf where erased).
        erased: bool (k,), symbols that no frame delivered.
        fields: header fields read (kind, height, width, identifier, aux); None when no frame arrived.
        info: reception facts for the results (frames, SNR estimates); empty for the symbol-level channel.
    """

    symbols: np.ndarray
    noise_var: np.ndarray
    erased: np.ndarray
    fields: dict | None
    info: dict


class SymbolChannel:
    """``awgn``: complex AWGN on the symbols at Es/N0 = ``snr_db``, noise variance known, no header."""

    def send(self, symbols: np.ndarray, snr_db: float, seed: np.random.SeedSequence, *, kind: PayloadKind,
             height: int, width: int, identifier: int, aux: int) -> Received:
        """Symbols complex64 (k,), E|s|^2 = 1 -> :class:`Received`; the receiver is told the header fields."""
        received, noise_var = awgn(symbols, snr_db, np.random.default_rng(seed))
        fields = {"kind": kind, "height": height, "width": width, "identifier": identifier, "aux": aux}
        return Received(received, noise_var, np.zeros(symbols.size, bool), fields, {})


class OfdmChannel:
    """``ofdm``: interleave -> OFDM frames -> channel emulator -> receiver -> reassembly -> de-interleave.

    Args:
        air: the link whose transmitter and receiver carry every scheme's payloads.
        profile: the channel emulator's profile.
    """

    def __init__(self, air: Link, profile: ChannelProfile) -> None:
        self.air = air
        self.profile = profile

    def send(self, symbols: np.ndarray, snr_db: float, seed: np.random.SeedSequence, *, kind: PayloadKind,
             height: int, width: int, identifier: int, aux: int) -> Received:
        """Symbols complex64 (k,), E|s|^2 = 1 -> :class:`Received` (erased where no frame arrived)."""
        sequence = int(seed.generate_state(1)[0]) & 0xFFFF
        burst = self.air.frame_payload(symbols, kind=kind, sequence=sequence, height=height, width=width,
                                       identifier=identifier, aux=aux)
        emulator = ChannelEmulator(self.profile, self.air.numerology, np.random.default_rng(seed))
        payload, frames = self.air.receive_payload(emulator(burst.samples, snr_db).samples, kind, sequence,
                                                   total_len=symbols.size)
        header = payload.header
        fields = None if header is None else {"kind": header.payload_kind, "height": header.height,
                                              "width": header.width, "identifier": header.model_id,
                                              "aux": header.aux}
        noise_var = payload.noise_var
        finite = noise_var[np.isfinite(noise_var)]
        info = {
            "frames_expected": len(burst.frame_starts),
            "frames_decoded": payload.frames_decoded,
            "snr_db_est": float(np.mean([f.diagnostics.snr_db for f in frames])) if frames else None,
            "post_eq_snr_db": float(-10 * np.log10(np.mean(finite))) if finite.size else None,
            "erased_fraction": float(payload.erased.mean()),
        }
        return Received(payload.symbols, noise_var, payload.erased, fields, info)


Channel = SymbolChannel | OfdmChannel
