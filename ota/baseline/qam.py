"""Gray-labelled QAM (BPSK, QPSK, 16-, 64-, 256-QAM) with soft demapping, for the digital chain.

The constellations are Sionna's (``sionna.phy.mapping.Constellation``): square QAM with the
3GPP TS 38.211 Sec. 5.1 Gray labelling, normalised to unit average energy ``E|x|^2 = 1``; BPSK is
the real PAM ``0 -> +1, 1 -> -1``. A symbol carries ``bits_per_symbol`` consecutive bits, the first
one as the most significant bit of the point's index (Sionna's ``Mapper`` order).

Soft demapping uses Sionna's ``Demapper`` ("app": exact a-posteriori LLRs, or "maxlog") with the
receiver's per-symbol noise variance ``noise_var = E|n|^2`` (complex noise, the unit of the symbols).
LLR convention, shared with :mod:`ota.baseline.ldpc` and ``phy``: ``llr = log P(b=0|y) / P(b=1|y)``, positive
means 0 (Sionna's own logits have the opposite sign; they are negated here). An erased symbol is
given ``noise_var = inf``: all its LLRs are exactly 0.
"""

from __future__ import annotations

import numpy as np
import torch
from sionna.phy.mapping import Constellation, Demapper

MODULATIONS: dict[str, int] = {"bpsk": 1, "qpsk": 2, "16qam": 4, "64qam": 6, "256qam": 8}
"""Modulation name -> bits per symbol."""
DEMAPPING_METHODS = ("app", "maxlog")
_CHUNK_SYMBOLS = 8192
"""Symbols demapped at once (bounds the (chunk, points) distance table held in memory)."""


class QamError(ValueError):
    """An unknown modulation or demapping method, or bits/symbols/noise of the wrong shape or value."""


def bits_per_symbol(modulation: str) -> int:
    """Bits per symbol of a modulation named in :data:`MODULATIONS`."""
    if modulation not in MODULATIONS:
        raise QamError(f"unknown modulation {modulation!r}; expected one of {', '.join(MODULATIONS)}")
    return MODULATIONS[modulation]


class Qam:
    """One Gray-labelled constellation: ``map`` bits to symbols, ``demap`` symbols to LLRs.

    Args:
        modulation: a key of :data:`MODULATIONS` ("bpsk", "qpsk", "16qam", "64qam", "256qam").
        demapping: "app" (exact log-MAP, default) or "maxlog".
    """

    def __init__(self, modulation: str, demapping: str = "app") -> None:
        self.bits_per_symbol = bits_per_symbol(modulation)
        if demapping not in DEMAPPING_METHODS:
            raise QamError(f"unknown demapping method {demapping!r}; expected one of {DEMAPPING_METHODS}")
        self.modulation = modulation
        self.demapping = demapping
        kind = "pam" if self.bits_per_symbol == 1 else "qam"
        self._constellation = Constellation(kind, self.bits_per_symbol, device="cpu")
        self._demapper = Demapper(demapping, constellation=self._constellation, device="cpu")
        self.points: np.ndarray = self._constellation().detach().numpy().astype(np.complex64)
        """(2**bits_per_symbol,) complex64, unit average energy; point ``i`` carries the bits of ``i``."""
        shifts = np.arange(self.bits_per_symbol - 1, -1, -1)
        self.labels: np.ndarray = ((np.arange(self.points.size)[:, None] >> shifts) & 1).astype(np.uint8)
        """(2**bits_per_symbol, bits_per_symbol) uint8: the bits of each point, MSB (first bit) first."""
        self._weights = (1 << shifts).astype(np.int64)

    def map(self, bits: np.ndarray) -> np.ndarray:
        """Bits uint8 0/1 (n * bits_per_symbol,) -> symbols complex64 (n,)."""
        bits = np.asarray(bits)
        if bits.ndim != 1 or bits.size % self.bits_per_symbol:
            raise QamError(
                f"expected a 1-D bit array whose length is a multiple of {self.bits_per_symbol} "
                f"({self.modulation}), got shape {bits.shape}"
            )
        if bits.size and (bits.min() < 0 or bits.max() > 1):
            raise QamError("bits must be 0 or 1")
        index = bits.reshape(-1, self.bits_per_symbol).astype(np.int64) @ self._weights
        return self.points[index]

    def demap(self, symbols: np.ndarray, noise_var: np.ndarray | float) -> np.ndarray:
        """Soft demapping.

        Args:
            symbols: received symbols, complex (n,), in the unit of the constellation (``E|x|^2 = 1``).
            noise_var: complex noise variance ``E|n|^2`` per symbol, (n,) or a scalar; > 0, ``inf``
                for an erased symbol.
        Returns:
            float32 (n * bits_per_symbol,) LLRs ``log P(b=0|y) / P(b=1|y)``, in bit order.
        """
        symbols = np.asarray(symbols)
        if symbols.ndim != 1:
            raise QamError(f"expected a 1-D array of symbols, got shape {symbols.shape}")
        noise_var = np.broadcast_to(np.asarray(noise_var, dtype=np.float64), symbols.shape)
        if np.isnan(noise_var).any() or (noise_var <= 0).any():
            raise QamError("noise_var must be > 0 (inf for an erased symbol), without NaN")
        erased = np.isinf(noise_var)
        y = np.where(erased, 0, symbols).astype(np.complex64)
        if not np.isfinite(y.view(np.float32)).all():
            raise QamError("symbols must be finite where noise_var is finite")
        llr = np.empty((symbols.size, self.bits_per_symbol), dtype=np.float32)
        with torch.no_grad():
            for start in range(0, symbols.size, _CHUNK_SYMBOLS):
                stop = start + _CHUNK_SYMBOLS
                logits = self._demapper(
                    torch.from_numpy(y[start:stop]), torch.from_numpy(noise_var[start:stop].astype(np.float32))
                )
                llr[start:stop] = -logits.reshape(-1, self.bits_per_symbol).numpy()
        llr[erased] = 0.0
        return llr.reshape(-1)

    def hard_bits(self, symbols: np.ndarray) -> np.ndarray:
        """Bits of the nearest constellation point: complex (n,) -> uint8 (n * bits_per_symbol,)."""
        symbols = np.asarray(symbols)
        if symbols.ndim != 1:
            raise QamError(f"expected a 1-D array of symbols, got shape {symbols.shape}")
        nearest = np.abs(symbols[:, None] - self.points[None, :]).argmin(axis=1)
        return self.labels[nearest].reshape(-1)
