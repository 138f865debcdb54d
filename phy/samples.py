"""Sample format at the receiver's input: any numeric array to finite complex64, scale and DC offset fixed.

Both :class:`phy.receiver.Receiver` (one buffer) and :class:`phy.stream_receiver.StreamReceiver` (chunks
of a stream) start here: NaN and infinities become 0, a peak outside :data:`SCALE_RANGE` is rescaled by a
power of two, and a radio's DC offset is removed per chunk where it holds more than :data:`DC_LEVEL` of
the chunk's power. Input that cannot be read as numbers raises :class:`SampleFormatError`.
"""

from __future__ import annotations

import numpy as np

SCALE_RANGE = (1e-6, 1e6)
"""Peak magnitudes outside this range are rescaled (by a power of two) before processing."""
DC_LEVEL = 1e-3
"""A chunk's mean is removed when its power exceeds this fraction of the chunk's power (-30 dB)."""


class SampleFormatError(ValueError):
    """The input cannot be read as an array of (complex) numbers."""


def finite_complex64(samples: object, what: str, error: type[Exception] = ValueError) -> np.ndarray:
    """Check samples to be sent or stored: non-empty 1-D numbers, all finite -> complex64 (n,).

    Unlike :func:`as_samples` (the receiver's input, repaired), nothing is fixed: ``error`` is raised,
    its message naming ``what`` (e.g. "the burst", "samples") and what was expected.
    """
    x = np.asarray(samples)
    numeric = np.issubdtype(x.dtype, np.number)
    if x.ndim != 1 or x.size == 0 or not numeric:
        kind = "" if numeric else "non-numeric "
        raise error(f"{what} must be a non-empty 1-D complex array; got {kind}{x.dtype} shape {x.shape}")
    x = x.astype(np.complex64)
    if not np.isfinite(x.view(np.float32)).all():
        raise error(f"{what} contains NaN or infinity; expected finite complex samples")
    return x


def as_samples(samples: object, chunk: int = 1 << 20, remove_dc: bool = True) -> np.ndarray:
    """Any numeric array -> finite complex64 (n,) ready for the receiver.

    NaN and infinities become 0; a peak magnitude outside ``SCALE_RANGE`` is rescaled by a power of
    two; with ``remove_dc`` each chunk's mean is subtracted where it holds more than ``DC_LEVEL`` of
    the chunk's power (a smaller DC offset does not disturb detection, and exact zeros, e.g. a
    noiseless gap, stay zeros). Multi-dimensional input is flattened.

    Raises:
        SampleFormatError: when ``samples`` cannot be read as numbers.
    """
    if samples is None:
        raise SampleFormatError("samples is None; expected an array of numbers (complex64 baseband)")
    try:
        arr = np.asarray(samples)
        if arr.dtype.kind not in "biufc":
            arr = arr.astype(np.complex128)
    except (TypeError, ValueError) as err:
        raise SampleFormatError(
            f"samples must be an array of numbers (complex64 baseband); got {type(samples).__name__} ({err})"
        ) from None
    arr = arr.reshape(-1)
    with np.errstate(over="ignore", invalid="ignore"):
        if arr.dtype.kind == "c":
            x = arr.astype(np.complex64, copy=False)
        else:
            x = np.zeros(arr.size, dtype=np.complex64)
            x.real = arr
        floats = x.view(np.float32)
        high, low = (float(floats.max()), float(floats.min())) if x.size else (0.0, 0.0)
        if not (np.isfinite(high) and np.isfinite(low)):
            x = np.where(np.isfinite(x.real) & np.isfinite(x.imag), x, 0).astype(np.complex64)
            floats = x.view(np.float32)
            high, low = float(floats.max()), float(floats.min())
    peak = max(high, -low)
    if peak > 0 and not SCALE_RANGE[0] <= peak <= SCALE_RANGE[1]:
        x = x * np.float32(2.0 ** -np.round(np.log2(peak)))
    if remove_dc:
        x = remove_dc_offset(x, arr, chunk)
    return x


def remove_dc_offset(x: np.ndarray, source: np.ndarray, chunk: int) -> np.ndarray:
    """Subtract each chunk's mean where it exceeds ``DC_LEVEL`` of the chunk's power (copy if ``x`` is ``source``).

    Whether a chunk needs it is judged on every 16th sample (plenty for a -30 dB decision); the mean
    that is subtracted is the whole chunk's.
    """
    copied = False
    for c0 in range(0, x.size, chunk):
        block = x[c0 : c0 + chunk]
        probe = np.ascontiguousarray(block[::16])  # contiguous: the sums below run 3x faster
        mean = complex(probe.mean(dtype=np.complex128))
        floats = probe.view(np.float32)
        power = float(np.dot(floats, floats)) / max(probe.size, 1)
        if abs(mean) ** 2 > DC_LEVEL * power:
            if not copied and np.shares_memory(x, source):
                x, copied = x.copy(), True
            x[c0 : c0 + chunk] -= np.complex64(block.mean(dtype=np.complex128))
    return x
