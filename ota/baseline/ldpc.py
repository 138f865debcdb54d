"""5G NR LDPC transport-block chain (TS 38.212 / 38.214) from Sionna: one transport block per code.

:class:`LdpcCode` wraps Sionna's ``TBEncoder`` / ``TBDecoder`` (``sionna.phy.nr``): the transport
block gets its CRC (CRC16 up to 3824 bits, else CRC24A), is segmented into code blocks (each with a
CRC24B when there are several), each block is LDPC-encoded with the base graph (BG1/BG2) and lifting
size that 38.212 selects for its size and rate, rate-matched (puncturing/shortening/repetition over
the circular buffer, redundancy version 0), bit-interleaved for ``bits_per_symbol`` and scrambled
(38.211 Sec. 6.3.1.1 / 7.3.1.1 with ``n_rnti = n_id = 1``). The decoder is Sionna's flooding belief
propagation ("boxplus-phi" check-node rule by default, :data:`DEFAULT_ITERATIONS` iterations) followed by
the code-block and transport-block CRC checks.

Early stopping on the CRC (on by default): every block is first decoded with :data:`EARLY_ITERATIONS`
iterations; a block whose transport-block CRC passes is kept, and only the others are decoded again, from
their LLRs, with the full ``num_iter``. A CRC that passes has found the transmitted block (up to the CRC's
own miss rate, 2^-24 or 2^-16), which further iterations would not change, so the result is that of the
full decoder (``tests/test_ldpc.py`` compares them bit for bit) at a fraction of the work above the
threshold, where most blocks converge within a few iterations; a block that fails costs
``EARLY_ITERATIONS + num_iter`` iterations. Sionna's decoder has no per-block stopping rule of its own.

Transport-block size: 38.214 allows only certain sizes (TBS). The code carries exactly ``n_info``
bits; it uses the smallest TBS that holds them and fills the rest with known zero bits, so the
effective rate is ``tb_size / n_coded`` (slightly above ``n_info / n_coded``), and the CRC bits come
on top, as in 5G where the code rate counts the TBS and not its CRC.

LLR convention (shared with :mod:`ota.baseline.qam` and ``phy``): ``llr = log P(b=0) / P(b=1)``, positive means
0. Sionna's decoder takes logits ``log P(b=1) / P(b=0)``; the sign is flipped inside :meth:`decode`.
Everything runs on the CPU in float32 (Sionna's "single" precision), batched over transport blocks.
"""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import torch
from sionna.phy.nr import TBDecoder, TBEncoder
from sionna.phy.nr.utils import calculate_tb_size

DEFAULT_ITERATIONS = 20
"""Belief-propagation iterations (Sionna's default; a common choice for 5G NR link simulations)."""
EARLY_ITERATIONS = 5
"""Iterations of the first, early-stopping pass (blocks whose CRC passes after it are kept)."""
CHECK_NODE_RULES = ("boxplus-phi", "boxplus", "minsum", "offset-minsum")
MIN_INFO_BITS = 24
"""The smallest transport block 38.214 defines (Table 5.1.3.2-1)."""
MAX_CODE_RATE = 948 / 1024
"""The highest target code rate of the 5G NR MCS tables (Sionna's TBEncoder limit)."""
_DEVICE = "cpu"


class LdpcError(ValueError):
    """Code parameters outside what 5G NR supports, or bits/LLRs of the wrong shape or value."""


def _tb_size(n_info: int, n_coded: int, bits_per_symbol: int) -> int:
    """38.214 transport-block size for a target of ``n_info`` bits in ``n_coded`` coded bits."""
    result = calculate_tb_size(
        modulation_order=bits_per_symbol,
        target_coderate=n_info / n_coded,
        target_tb_size=n_info,
        num_coded_bits=n_coded,
        return_cw_length=False,
        device=_DEVICE,
    )
    return int(result[0])


def _tb_target(n_info: int, n_coded: int, bits_per_symbol: int) -> int:
    """The smallest target size ``t >= n_info`` whose 38.214 TBS holds ``n_info`` bits.

    38.214 rounds large targets to the nearest allowed size, which can be smaller than the target;
    the target is then raised (the extra bits are known zeros) until the TBS holds ``n_info`` bits.
    """
    step = max(1, n_info // 256)
    target = n_info
    while _tb_size(target, n_coded, bits_per_symbol) < n_info:
        target += step
    return target


class LdpcCode:
    """A 5G NR LDPC-coded transport block of ``n_info`` information bits in ``n_coded`` coded bits.

    Args:
        n_info_bits: information bits per transport block (>= :data:`MIN_INFO_BITS`).
        n_coded_bits: coded bits after rate matching; a multiple of ``bits_per_symbol``. Give this or
            ``code_rate``.
        code_rate: with no ``n_coded_bits``, ``n_coded = ceil(n_info / code_rate)`` rounded up to a
            multiple of ``bits_per_symbol``.
        bits_per_symbol: modulation order the 38.212 bit interleaver is set up for (1, 2, 4, 6, 8).
        num_iter: belief-propagation iterations (default :data:`DEFAULT_ITERATIONS`).
        cn_update: check-node rule, one of :data:`CHECK_NODE_RULES`.
        early_stop: first decode with :data:`EARLY_ITERATIONS` and keep the blocks whose CRC passes
            (see the module docstring); off, or with ``num_iter <= EARLY_ITERATIONS``, one pass.

    Attributes:
        blocks_decoded, blocks_stopped_early: transport blocks decoded so far, and how many of them the
            early pass settled (diagnostics).
    """

    def __init__(
        self,
        n_info_bits: int,
        n_coded_bits: int | None = None,
        *,
        code_rate: float | None = None,
        bits_per_symbol: int = 1,
        num_iter: int = DEFAULT_ITERATIONS,
        cn_update: str = "boxplus-phi",
        early_stop: bool = True,
    ) -> None:
        n_info, n_coded = _check_sizes(n_info_bits, n_coded_bits, code_rate, bits_per_symbol)
        if not isinstance(num_iter, int) or num_iter < 1:
            raise LdpcError(f"num_iter must be a positive integer, got {num_iter!r}")
        if cn_update not in CHECK_NODE_RULES:
            raise LdpcError(f"unknown check-node rule {cn_update!r}; expected one of {CHECK_NODE_RULES}")
        self.n_info = n_info
        self.n_coded = n_coded
        self.bits_per_symbol = bits_per_symbol
        self.num_iter = num_iter
        self.blocks_decoded = 0
        self.blocks_stopped_early = 0
        self._target = _tb_target(n_info, n_coded, bits_per_symbol)
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # Sionna prints a note when it pads the TB
                self._encoder = TBEncoder(
                    target_tb_size=self._target,
                    num_coded_bits=n_coded,
                    target_coderate=min(self._target / n_coded, MAX_CODE_RATE),
                    num_bits_per_symbol=bits_per_symbol,
                    device=_DEVICE,
                )
            self._decoder = TBDecoder(self._encoder, num_bp_iter=num_iter, cn_update=cn_update, device=_DEVICE)
            self._early = (TBDecoder(self._encoder, num_bp_iter=EARLY_ITERATIONS, cn_update=cn_update, device=_DEVICE)
                           if early_stop and num_iter > EARLY_ITERATIONS else None)
        except ValueError as exc:
            raise LdpcError(
                f"5G NR LDPC cannot carry {n_info} bits in {n_coded} coded bits ({exc}); "
                "choose a code rate between about 1/5 and 0.92"
            ) from exc

    @property
    def code_rate(self) -> float:
        """Information bits per coded bit, ``n_info / n_coded``."""
        return self.n_info / self.n_coded

    @property
    def tb_size(self) -> int:
        """The 38.214 transport-block size used (>= n_info; the rest are known zero bits)."""
        return self._encoder.tb_size

    @property
    def num_code_blocks(self) -> int:
        """Code blocks the transport block is segmented into."""
        return self._encoder.num_cbs

    @property
    def base_graph(self) -> str:
        """"bg1" or "bg2", as 38.212 Sec. 7.2.2 selects it."""
        ldpc = self._encoder.ldpc_encoder
        return "bg1" if ldpc.k_ldpc == 22 * ldpc.z else "bg2"

    @property
    def lifting_size(self) -> int:
        """The lifting size Z of the code blocks."""
        return self._encoder.ldpc_encoder.z

    @property
    def code_block_bits(self) -> int:
        """Bits into each code block's LDPC encoder (its share of the TB, CRCs included)."""
        return self._encoder.ldpc_encoder.k

    def describe(self) -> dict[str, object]:
        """The code's parameters, for result files."""
        return {
            "n_info": self.n_info,
            "n_coded": self.n_coded,
            "code_rate": self.code_rate,
            "tb_size": self.tb_size,
            "num_code_blocks": self.num_code_blocks,
            "code_block_bits": self.code_block_bits,
            "base_graph": self.base_graph,
            "lifting_size": self.lifting_size,
            "bits_per_symbol": self.bits_per_symbol,
            "num_iter": self.num_iter,
            "early_stop_iterations": None if self._early is None else EARLY_ITERATIONS,
        }

    def encode(self, bits: np.ndarray) -> np.ndarray:
        """Information bits uint8 0/1 (n_info,) or (B, n_info) -> coded bits uint8 (n_coded,) or (B, n_coded)."""
        bits = np.asarray(bits)
        if bits.shape[-1:] != (self.n_info,) or bits.ndim not in (1, 2):
            raise LdpcError(f"expected bits of shape (n_info,) or (B, n_info) with n_info={self.n_info}, "
                            f"got {bits.shape}")
        if bits.size and (bits.min() < 0 or bits.max() > 1):
            raise LdpcError("bits must be 0 or 1")
        batch = bits.reshape(-1, self.n_info)
        padded = np.zeros((batch.shape[0], self._target), dtype=np.float32)
        padded[:, : self.n_info] = batch
        with torch.no_grad():
            coded = self._encoder(torch.from_numpy(padded))
        return coded.numpy().astype(np.uint8).reshape(bits.shape[:-1] + (self.n_coded,))

    def decode(self, llr: np.ndarray) -> tuple[np.ndarray, np.ndarray | bool]:
        """LLRs ``log P(b=0)/P(b=1)``, float (n_coded,) or (B, n_coded) -> (bits uint8, crc_ok).

        Returns:
            the decoded information bits, uint8 (n_info,) or (B, n_info), and whether the transport
            block CRC (and every code-block CRC) passed: a bool, or bool (B,) for a batch.
        """
        llr = np.asarray(llr, dtype=np.float32)
        if llr.shape[-1:] != (self.n_coded,) or llr.ndim not in (1, 2):
            raise LdpcError(f"expected LLRs of shape (n_coded,) or (B, n_coded) with n_coded={self.n_coded}, "
                            f"got {llr.shape}")
        if np.isnan(llr).any():
            raise LdpcError("LLRs must not be NaN (use 0 for an erased bit)")
        batch = np.nan_to_num(llr.reshape(-1, self.n_coded), posinf=1e6, neginf=-1e6)
        bits, crc_ok = self._decode_logits(torch.from_numpy(-batch))
        if llr.ndim == 1:
            return bits[0], bool(crc_ok[0])
        return bits, crc_ok


    @torch.no_grad()
    def _decode_logits(self, logits: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Sionna logits float32 (B, n_coded) -> (bits uint8 (B, n_info), crc_ok bool (B,)), early pass first."""
        first = self._decoder if self._early is None else self._early
        bits, crc_ok = (t.numpy() for t in first(logits))
        bits, crc_ok = bits.astype(np.uint8), crc_ok.astype(bool)
        self.blocks_decoded += len(crc_ok)
        if self._early is not None:
            self.blocks_stopped_early += int(crc_ok.sum())
            retry = np.flatnonzero(~crc_ok)
            if retry.size:
                again, again_ok = (t.numpy() for t in self._decoder(logits[torch.from_numpy(retry)]))
                bits[retry], crc_ok[retry] = again, again_ok.astype(bool)
        return bits[:, : self.n_info], crc_ok


def _check_sizes(
    n_info: int, n_coded: int | None, code_rate: float | None, bits_per_symbol: int
) -> tuple[int, int]:
    """Validated (n_info, n_coded) from the constructor's arguments."""
    if bits_per_symbol not in (1, 2, 4, 6, 8):
        raise LdpcError(f"bits_per_symbol must be 1, 2, 4, 6 or 8, got {bits_per_symbol!r}")
    if not isinstance(n_info, int | np.integer) or n_info < MIN_INFO_BITS:
        raise LdpcError(f"n_info_bits must be an integer >= {MIN_INFO_BITS}, got {n_info!r}")
    if (n_coded is None) == (code_rate is None):
        raise LdpcError("give exactly one of n_coded_bits and code_rate")
    if n_coded is None:
        if not 0 < code_rate <= MAX_CODE_RATE:
            raise LdpcError(f"code_rate must be in (0, {MAX_CODE_RATE:.3f}], got {code_rate!r}")
        n_coded = bits_per_symbol * math.ceil(n_info / code_rate / bits_per_symbol)
    if not isinstance(n_coded, int | np.integer) or n_coded <= 0 or n_coded % bits_per_symbol:
        raise LdpcError(f"n_coded_bits must be a positive multiple of bits_per_symbol={bits_per_symbol}, "
                        f"got {n_coded!r}")
    if n_info / n_coded > MAX_CODE_RATE:
        raise LdpcError(f"{n_info} bits in {n_coded} coded bits is rate {n_info / n_coded:.3f}, "
                        f"above 5G NR's maximum {MAX_CODE_RATE:.3f}")
    return int(n_info), int(n_coded)
