"""``benchmarks/digital_squeeze.py``: the digital chain's received images rebuilt from a sweep's results, checked
against the stored scores, and scored with the SqueezeNet LPIPS."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
import torch

from models.image_io import list_images, load_image, save_image
from models.metrics import LPIPS
from models.symbols import n_symbols
from ota.baseline.chain import lost_image
from ota.baseline.hevc import CHROMA, QualityLadder, decode
from ota.sweep import Clock, Scorer, entry_key, run_capacity

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "digital_squeeze.py"
sys.path.insert(0, str(ROOT))  # benchmarks/ itself would shadow the phy package with benchmarks/phy.py
from benchmarks.digital_squeeze import DigitalSqueezeError, main  # noqa: E402

SIZE = 176  # pixels a side: MS-SSIM, which the sweep scores, needs at least 161
SNR_DB, CBR = 10.0, Fraction(1, 48)
LOST_QUALITY = 40
"""Rung recorded in the lost entry: decoding it instead of scoring mid-grey would change every score."""


def entry(image: str, scheme: str, snr_db: float, metrics: dict, **record: object) -> dict:
    """One results.json entry as :class:`ota.sweep.Sweeper` writes it (the fields the script reads)."""
    return {"key": entry_key(image, scheme, snr_db, CBR), "image": image, "scheme": scheme, "snr_db": snr_db,
            "cbr": "1/48", "cbr_value": float(CBR), "k": n_symbols(SIZE, SIZE, float(CBR)), **metrics, **record}


@pytest.fixture(scope="module")
def sweep(kodak_dir: Path, weights_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A one-image results.json: a bpg-capacity entry coded and scored by the sweep's own functions
    (:func:`ota.sweep.run_capacity`, :class:`ota.sweep.Scorer`), a lost bpg-ldpc entry scored as mid-grey,
    and two decoys with wrong scores that the script must leave alone (another SNR, a JSCC scheme)."""
    folder = tmp_path_factory.mktemp("digital_squeeze")
    data = folder / "images"
    kodim23 = next(p for p in list_images(kodak_dir) if p.stem == "kodim23")
    save_image(load_image(kodim23)[:, 150 : 150 + SIZE, 250 : 250 + SIZE], data / "tiny.png")
    image = load_image(data / "tiny.png")
    ladder = QualityLadder(image)
    received = run_capacity(ladder, n_symbols(SIZE, SIZE, float(CBR)), SNR_DB, Clock())
    assert not received.record["lost"] and 0 < received.record["quality"] < LOST_QUALITY
    scorer = Scorer(torch.device("cpu"))
    wrong = {"psnr_db": 99.0, "ms_ssim": 1.0, "lpips": 0.9}
    entries = [
        entry("tiny", "bpg-capacity", SNR_DB, scorer.score(image, received.image), **received.record),
        entry("tiny", "bpg-ldpc", SNR_DB, scorer.score(image, lost_image(SIZE, SIZE)), lost=True, crc_ok=False,
              bits_ok=False, quality=LOST_QUALITY, bitstream_bits=ladder.at(LOST_QUALITY).bitstream_bits,
              reason="1 of 1 transport blocks failed their CRC"),
        entry("tiny", "bpg-capacity", 4.0, wrong, lost=False, crc_ok=None, quality=3, bitstream_bits=1),
        entry("tiny", "perceptual", SNR_DB, wrong, model="perceptual-cbr48"),
    ]
    results = folder / "results.json"
    results.write_text(json.dumps({"config": {"chroma": CHROMA, "metric_sources": scorer.sources()},
                                   "entries": entries}))
    return {"results": results, "data": data, "image": image, "entries": entries,
            "received": decode(ladder.at(received.record["quality"]).data), "quality": received.record["quality"]}


def args(sweep: dict, out: Path, results: Path | None = None) -> list[str]:
    return ["--results", str(results or sweep["results"]), "--data", str(sweep["data"]), "--snr", f"{SNR_DB:g}",
            "--cbr", "1/48", "--schemes", "bpg-capacity,bpg-ldpc", "--out", str(out)]


def test_reproduces_the_stored_scores_and_adds_the_squeezenet_lpips(sweep: dict, tmp_path: Path):
    out = tmp_path / "squeeze.json"
    done = subprocess.run([sys.executable, str(SCRIPT), *args(sweep, out)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert list(report["schemes"]) == ["bpg-capacity", "bpg-ldpc"]
    assert report["config"]["snr_db"] == SNR_DB and report["config"]["cbr"] == "1/48"
    assert report["config"]["chroma"] == CHROMA and report["config"]["lpips_squeeze"].startswith("SqueezeNet 1.1")
    assert {"torch", "lpips", "pillow-heif", "libheif"} <= set(report["versions"])
    squeeze = LPIPS(net="squeeze")
    shown = {"bpg-capacity": sweep["received"], "bpg-ldpc": lost_image(SIZE, SIZE)}
    for stored in sweep["entries"][:2]:
        summary = report["schemes"][stored["scheme"]]
        assert summary["n_images"] == 1 and summary["n_lost"] == int(stored["lost"])
        values = summary["images"]["tiny"]
        assert values["lost"] == stored["lost"] and values["quality"] == stored["quality"]
        assert values["lpips"] == pytest.approx(stored["lpips"], abs=1e-4)
        assert values["psnr_db"] == pytest.approx(stored["psnr_db"], abs=1e-3)
        with torch.no_grad():
            expected = float(squeeze(sweep["image"][None], shown[stored["scheme"]][None])[0])
        assert values["lpips_squeeze"] == pytest.approx(expected, abs=1e-5)
        assert abs(values["lpips_squeeze"] - values["lpips"]) > 1e-3  # another network, another number
        assert all(summary[k] == values[k] for k in ("lpips", "lpips_squeeze", "psnr_db"))  # one image: its values
    assert report["schemes"]["bpg-capacity"]["psnr_db"] > report["schemes"]["bpg-ldpc"]["psnr_db"] + 5
    assert "wrote" in done.stdout and "bpg-capacity: LPIPS" in done.stdout


@pytest.mark.parametrize(("field", "change"), [("lpips", 3e-4), ("psnr_db", 3e-3), ("quality", -2)])
def test_an_entry_whose_stored_values_are_not_reproduced_fails_naming_it(sweep: dict, tmp_path: Path, field: str,
                                                                        change: float):
    """Stored LPIPS or PSNR just past the tolerance, or another HEVC rung (-2: libheif maps pairs of qualities to one
    rate factor, so the rung next door can be the same coding): the rebuilt image is not the received one."""
    entries = json.loads(json.dumps(sweep["entries"]))
    entries[0][field] += change
    results = tmp_path / "results.json"
    results.write_text(json.dumps({**json.loads(sweep["results"].read_text()), "entries": entries}))
    out = tmp_path / "squeeze.json"
    with pytest.raises(DigitalSqueezeError, match=r"entry tiny\|bpg-capacity\|10\|1/48: ") as caught:
        main(args(sweep, out, results))
    assert field in str(caught.value)
    assert not out.exists()  # nothing written half-way
