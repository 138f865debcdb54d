"""SigMF captures: round trips, the ci16 scale, clear errors, atomic writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import sigmf

from phy import capture as capture_module
from phy.capture import (
    CI16_FULL_SCALE,
    CLIPPED_KEY,
    FULL_SCALE_KEY,
    SAMPLE_COUNT_KEY,
    CaptureError,
    capture_info,
    read_capture,
    write_capture,
)

N = 1000


@pytest.fixture()
def samples() -> np.ndarray:
    rng = np.random.default_rng(0)
    return (0.2 * (rng.normal(size=N) + 1j * rng.normal(size=N))).astype(np.complex64)


@pytest.fixture()
def written(tmp_path: Path, samples: np.ndarray) -> Path:
    return write_capture(tmp_path / "cap", samples, 2e6, 915e6, annotations=[(0, 100, "frame 0")])


def edit_meta(meta_path: Path, edit) -> None:
    meta = json.loads(meta_path.read_text())
    edit(meta)
    meta_path.write_text(json.dumps(meta))


def test_cf32_round_trip_is_exact_with_annotations_and_metadata(tmp_path: Path, samples: np.ndarray) -> None:
    header = {"sequence": 7, "payload_kind": "JSCC", "frame_index": 1}
    free = {"numerology": {"fft_size": 64, "pilots": [-21, -7, 7, 21]}, "sent": "kodim01.png", "snr_db": 10.5}
    meta_path = write_capture(
        tmp_path / "run.sigmf-meta",
        samples,
        2e6,
        2.4e9,
        annotations=[(500, 300, "frame 1"), {"sample_start": 10, "sample_count": 200, "label": "frame 0", **header}],
        metadata=free,
        hw="PlutoSDR rev C",
        author="lab",
        description="loopback test",
    )
    assert meta_path == tmp_path / "run.sigmf-meta"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.sigmf-data", "run.sigmf-meta"]
    cap = read_capture(tmp_path / "run.sigmf-data", expected_sample_rate=2e6)
    assert cap.samples.dtype == np.complex64 and cap.samples.shape == (N,)
    np.testing.assert_array_equal(cap.samples, samples)
    assert (cap.sample_rate, cap.center_freq, cap.datatype) == (2e6, 2.4e9, "cf32_le")
    assert cap.metadata == free
    assert cap.annotations == [
        {"sample_start": 10, "sample_count": 200, "label": "frame 0", **header},
        {"sample_start": 500, "sample_count": 300, "label": "frame 1"},
    ]
    assert cap.global_info["core:hw"] == "PlutoSDR rev C"
    assert cap.global_info["core:author"] == "lab" and cap.global_info["core:description"] == "loopback test"
    assert cap.global_info[SAMPLE_COUNT_KEY] == N


def test_files_are_valid_sigmf_for_other_tools(written: Path, samples: np.ndarray) -> None:
    record = sigmf.fromfile(written)
    record.validate()
    np.testing.assert_array_equal(record.read_samples(), samples)
    assert record.get_captures()[0]["core:frequency"] == 915e6


def test_ci16_round_trip_within_half_an_lsb(tmp_path: Path, samples: np.ndarray) -> None:
    path = write_capture(tmp_path / "q", samples, 1e6, 433.92e6, datatype="ci16_le")
    assert path.with_suffix(".sigmf-data").stat().st_size == 4 * N
    cap = read_capture(tmp_path / "q")
    assert cap.datatype == "ci16_le" and cap.samples.dtype == np.complex64
    err = cap.samples - samples
    lsb = 1.0 / CI16_FULL_SCALE
    assert max(np.abs(err.real).max(), np.abs(err.imag).max()) <= 0.5 * lsb * (1 + 1e-5)
    assert np.abs(err.real).max() > 0.4 * lsb  # it really is quantised
    assert cap.global_info[FULL_SCALE_KEY] == CI16_FULL_SCALE and cap.global_info[CLIPPED_KEY] == 0
    # The sigmf package's own autoscale reads the same values (full scale 32768 is its convention).
    np.testing.assert_allclose(sigmf.fromfile(path).read_samples(), cap.samples, rtol=0, atol=1e-7)


def test_ci16_stores_pluto_12_bit_words_losslessly_and_counts_clipping(tmp_path: Path) -> None:
    words = np.arange(-2048, 2048)
    pluto = (words / 2048 + 1j * words[::-1] / 2048).astype(np.complex64)
    write_capture(tmp_path / "pluto", pluto, 2e6, 1e9, datatype="ci16_le")
    np.testing.assert_array_equal(read_capture(tmp_path / "pluto").samples, pluto)
    loud = np.array([1.5 + 0j, -2.0 - 0.5j, 0.25 + 1j], dtype=np.complex64)
    write_capture(tmp_path / "loud", loud, 2e6, 1e9, datatype="ci16_le")
    cap = read_capture(tmp_path / "loud")
    assert cap.global_info[CLIPPED_KEY] == 3  # 1.5, -2.0 and 1.0 (32768 > 32767)
    np.testing.assert_allclose(cap.samples, [32767 / 32768, -1 - 0.5j, 0.25 + 32767j / 32768], atol=1e-7)


def test_capture_info_summarises_without_reading_samples(written: Path) -> None:
    info = capture_info(written)
    assert info["n_samples"] == N and info["datatype"] == "cf32_le"
    assert info["duration_s"] == pytest.approx(N / 2e6)
    assert info["center_freq"] == 915e6 and info["n_annotations"] == 1


def test_missing_files(written: Path) -> None:
    data = written.with_suffix(".sigmf-data")
    data.unlink()
    with pytest.raises(CaptureError, match=r"capture data .*cap\.sigmf-data not found"):
        read_capture(written)
    written.unlink()
    with pytest.raises(CaptureError, match=r"capture metadata .*cap\.sigmf-meta not found"):
        read_capture(data)


def test_malformed_metadata(written: Path) -> None:
    written.write_text('{"global": {"core:datatype": "cf32_le",')
    with pytest.raises(CaptureError, match="is not valid JSON"):
        read_capture(written)
    written.write_text(json.dumps({"global": {"core:datatype": "cf32_le", "core:version": "1.2.6"}, "captures": []}))
    with pytest.raises(CaptureError, match="fails SigMF validation: 'annotations' is a required property"):
        read_capture(written)


def test_sample_rate_that_is_not_a_number_fails_validation(written: Path) -> None:
    edit_meta(written, lambda m: m["global"].update({"core:sample_rate": "fast"}))
    with pytest.raises(CaptureError, match="fails SigMF validation: 'fast' is not of type 'number'"):
        read_capture(written)


def test_unsupported_datatype_names_found_and_expected(written: Path) -> None:
    edit_meta(written, lambda m: m["global"].update({"core:datatype": "ri16_le"}))
    with pytest.raises(CaptureError, match=r"datatype 'ri16_le'; supported datatypes are \('cf32_le', 'ci16_le'\)"):
        read_capture(written)


def test_truncated_to_a_partial_sample(written: Path) -> None:
    data = written.with_suffix(".sigmf-data")
    data.write_bytes(data.read_bytes()[:-3])
    with pytest.raises(CaptureError, match=r"truncated: 7997 bytes is not a whole number of cf32_le samples"):
        read_capture(written)


def test_truncated_to_fewer_samples_than_declared(written: Path) -> None:
    data = written.with_suffix(".sigmf-data")
    data.write_bytes(data.read_bytes()[: 8 * 950])
    with pytest.raises(CaptureError, match=r"holds 950 samples but cap\.sigmf-meta declares 1000 .*truncated"):
        read_capture(written)


def test_truncated_before_an_annotation_ends(written: Path) -> None:
    """A capture without pjscc:sample_count (e.g. from another tool) is checked against its annotations."""
    edit_meta(written, lambda m: m["global"].pop(SAMPLE_COUNT_KEY))
    data = written.with_suffix(".sigmf-data")
    data.write_bytes(data.read_bytes()[: 8 * 60])
    with pytest.raises(
        CaptureError, match=r"truncated: it holds 60 samples but an annotation \('frame 0'\) ends at sample 100"
    ):
        read_capture(written)


def test_modified_data_fails_the_checksum(written: Path) -> None:
    data = written.with_suffix(".sigmf-data")
    raw = bytearray(data.read_bytes())
    raw[100] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.raises(CaptureError, match="does not match cap.sigmf-meta: Calculated file hash"):
        read_capture(written)


def test_sample_rate_mismatch_names_both(written: Path) -> None:
    with pytest.raises(CaptureError, match=r"recorded at 2e\+06 samples/s but 1\.92e\+06 samples/s was expected"):
        read_capture(written, expected_sample_rate=1.92e6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"samples": np.zeros(0, np.complex64)}, "non-empty 1-D complex array"),
        ({"samples": np.zeros((2, 3), np.complex64)}, r"shape \(2, 3\)"),
        ({"samples": np.array([1, np.nan], np.complex64)}, "NaN or infinity"),
        ({"datatype": "cf64_le"}, r"datatype='cf64_le' is not supported; expected one of \('cf32_le', 'ci16_le'\)"),
        ({"sample_rate": 0.0}, "sample_rate=0.0 must be a positive"),
        ({"annotations": [(900, 200, "late")]}, "ends at sample 1100, beyond the 1000 samples written"),
        ({"annotations": [(0, 10)]}, r"must be \(start_sample, length, label\) or a dict"),
        ({"annotations": [{"sample_start": -1, "sample_count": 5}]}, "sample_start=-1 must be a non-negative"),
        ({"metadata": {"weights": np.ones(3)}}, "metadata is not JSON-serialisable"),
        ({"metadata": {"snr": float("nan")}}, "metadata is not JSON-serialisable"),
    ],
)
def test_bad_write_inputs_give_clear_errors_and_write_nothing(
    tmp_path: Path, samples: np.ndarray, kwargs: dict, message: str
) -> None:
    args = {"samples": samples, "sample_rate": 2e6, "center_freq": 915e6, **kwargs}
    with pytest.raises(CaptureError, match=message):
        write_capture(tmp_path / "bad", **args)
    assert list(tmp_path.iterdir()) == []


def test_existing_capture_and_missing_directory(tmp_path: Path, written: Path, samples: np.ndarray) -> None:
    with pytest.raises(CaptureError, match="already exists; pass overwrite=True"):
        write_capture(written, samples, 2e6, 915e6)
    write_capture(written, samples[:10], 1e6, 915e6, overwrite=True)
    assert read_capture(written).samples.shape == (10,)
    with pytest.raises(CaptureError, match="does not exist; create it"):
        write_capture(tmp_path / "nowhere" / "cap", samples, 2e6, 915e6)


def test_failure_while_renaming_leaves_nothing_behind(
    tmp_path: Path, samples: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The data file is renamed into place first; if the metadata rename then fails, both go."""
    real_replace = os.replace
    calls = []

    def flaky_replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(capture_module.os, "replace", flaky_replace)
    with pytest.raises(OSError, match="disk full"):
        write_capture(tmp_path / "cap", samples, 2e6, 915e6)
    assert [Path(c).name for c in calls] == ["cap.sigmf-data", "cap.sigmf-meta"]
    assert list(tmp_path.iterdir()) == []


def test_failure_while_writing_metadata_leaves_nothing_behind(
    tmp_path: Path, samples: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = capture_module._write_temp

    def failing_meta(directory, name, payload):
        if name.endswith(".sigmf-meta"):
            raise OSError("quota exceeded")
        return real_write(directory, name, payload)

    monkeypatch.setattr(capture_module, "_write_temp", failing_meta)
    with pytest.raises(OSError, match="quota exceeded"):
        write_capture(tmp_path / "cap", samples, 2e6, 915e6)
    assert list(tmp_path.iterdir()) == []
