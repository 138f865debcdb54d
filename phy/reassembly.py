"""Joining the received frames of one transmission into its payload.

Every frame's header says where its symbols belong (``offset`` and ``payload_len`` in ``total_len``),
so the frames of one transmission (same ``sequence``) can arrive in any order, some twice (a radio
repeating a burst cyclically), some never. Symbols received more than once are combined with
inverse-variance weights (maximum-ratio combining of unbiased estimates: ``s = sum(s_i / v_i) /
sum(1 / v_i)``, ``v = 1 / sum(1 / v_i)``); symbols never received are erased (symbol 0, noise variance
inf, ``erased`` True), never silently zero-filled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from phy.header import Header
from phy.rx_frame import RxFrame


class ReassemblyError(ValueError):
    """The frames cannot be joined (nothing of the requested transmission, or no length to build)."""


@dataclass
class Reassembled:
    """One transmission's payload as far as it was received.

    Attributes:
        symbols: complex64 (total_len,), received symbols (0 where erased).
        noise_var: float32 (total_len,), noise variance per symbol (inf where erased).
        erased: bool (total_len,), True for symbols that no frame delivered.
        frames_expected: ``frame_count`` of the transmission's headers (0 when no frame arrived).
        frames_decoded: distinct frame indices received.
        header: the header of the lowest-index frame received (``None`` when none arrived).
    """

    symbols: np.ndarray
    noise_var: np.ndarray
    erased: np.ndarray
    frames_expected: int
    frames_decoded: int
    header: Header | None


def reassemble(frames: Iterable[RxFrame], total_len: int | None = None, sequence: int | None = None) -> Reassembled:
    """Join the frames of one transmission.

    Args:
        frames: received frames, any order, possibly of several transmissions.
        total_len: payload length to build; ``None`` takes the headers' ``total_len``.
        sequence: transmission to join; ``None`` takes the first frame's sequence.

    Returns:
        The :class:`Reassembled` payload. Frames of other sequences, and frames whose ``total_len``
        differs from the first matching frame's, are ignored.

    Raises:
        ReassemblyError: when no frame matches and ``total_len`` is not given, or ``total_len`` is negative.
    """
    frames = list(frames)
    if sequence is None and frames:
        sequence = frames[0].header.sequence
    chosen = [f for f in frames if f.header.sequence == sequence]
    if chosen:
        chosen = [f for f in chosen if f.header.total_len == chosen[0].header.total_len]
    if total_len is None:
        if not chosen:
            raise ReassemblyError(
                f"no frame of sequence {sequence} among {len(frames)} frames and no total_len given; "
                "pass total_len to get an all-erased payload"
            )
        total_len = chosen[0].header.total_len
    if total_len < 0:
        raise ReassemblyError(f"total_len={total_len} must be non-negative")
    num = np.zeros(total_len, np.complex128)
    precision = np.zeros(total_len, np.float64)
    for f in chosen:
        start = f.header.offset
        stop = min(start + f.header.payload_len, total_len)
        if stop <= start:
            continue
        ok = ~f.erased[: stop - start]
        var = np.maximum(f.noise_var[: stop - start].astype(np.float64), np.finfo(np.float32).tiny)
        weight = np.where(ok, 1.0 / var, 0.0)
        num[start:stop] += weight * np.where(ok, f.symbols[: stop - start], 0)
        precision[start:stop] += weight
    erased = precision <= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        symbols = np.where(erased, 0, num / precision).astype(np.complex64)
        noise_var = np.where(erased, np.inf, 1.0 / precision).astype(np.float32)
    first = min(chosen, key=lambda f: f.header.frame_index) if chosen else None
    return Reassembled(
        symbols=symbols,
        noise_var=noise_var,
        erased=erased,
        frames_expected=first.header.frame_count if first else 0,
        frames_decoded=len({f.header.frame_index for f in chosen}),
        header=first.header if first else None,
    )
