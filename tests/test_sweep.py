"""``ota sweep``: the comparison grid over AWGN and the OFDM link, resuming, figures, and the claims' interpolation.

The images are two 176 x 176 crops of matplotlib's grace_hopper photograph (MS-SSIM needs at least 161
pixels a side); the envelope tries three configurations to keep the LDPC decoding short.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from matplotlib import cbook

from models.fid import frechet_distance
from models.image_io import load_image, save_image
from ota.baseline.chain import CONFIGURATIONS, DigitalError, psnr_score
from ota.baseline.hevc import QualityLadder
from ota.cli import main
from ota.sweep import (
    FID_FOLDER,
    STORE_FILE,
    Clock,
    ResultStore,
    SweepConfig,
    SweepError,
    SymbolChannel,
    channel_seed,
    entry_key,
    error_free_score,
    mean_and_ci,
    run_envelope,
    send_digital,
    summarise,
)
from ota.sweep.figures import bandwidth_savings, bar_lengths, claims, crossing, snr_gains

SCHEMES = "perceptual,mse,bpg-ldpc,bpg-ldpc-fixed,bpg-capacity"
CONFIGS = "qpsk-1/2,16qam-1/2,64qam-2/3"
SIZE = 176


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two 176 x 176 crops (a face, a mostly flat background) of matplotlib's grace_hopper.jpg."""
    folder = tmp_path_factory.mktemp("images")
    photo = load_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    save_image(photo[:, 40 : 40 + SIZE, 160 : 160 + SIZE], folder / "face.png")
    save_image(photo[:, 400 : 400 + SIZE, 0:SIZE], folder / "corner.png")
    return folder


def sweep_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["sweep", "--schemes", SCHEMES, "--snr", "4,13", "--cbr", "1/48", "--data", str(data), "--channel", "awgn",
            "--out", str(out), "--configs", CONFIGS, "--no-progress", *extra]


def store_lines(out: Path) -> list[str]:
    return (out / STORE_FILE).read_text().splitlines()


@pytest.fixture(scope="module")
def swept(data: Path, weights_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sweep")
    assert main(sweep_args(data, out)) == 0
    return out


def test_every_entry_has_finite_metrics(swept: Path):
    results = json.loads((swept / "results.json").read_text())
    entries = {(e["image"], e["scheme"], e["snr_db"], e["cbr"]): e for e in results["entries"]}
    expected = {(i, s, snr, "1/48") for i in ("face", "corner") for s in SCHEMES.split(",") for snr in (4.0, 13.0)}
    assert set(entries) == expected
    for entry in entries.values():
        assert all(math.isfinite(entry[m]) for m in ("psnr_db", "ms_ssim", "lpips")), entry
        assert 0 <= entry["ms_ssim"] <= 1 and entry["lpips"] >= 0
        assert entry["k"] == round(SIZE * SIZE * 3 / 48)
        assert set(entry["timings"]) == {"encode_s", "channel_code_s", "channel_s", "decode_s", "metrics_s"}
    for entry in (e for e in entries.values() if e["scheme"] == "bpg-ldpc"):
        assert isinstance(entry["lost"], bool) and "crc_ok" in entry
        assert entry["config"]["name"] in CONFIGS.split(",")
        capacity = math.log2(1 + 10 ** (entry["snr_db"] / 10))
        assert set(entry["envelope_scores"]) <= {"qpsk-1/2", "16qam-1/2", "64qam-2/3"}
        assert all(n != "64qam-2/3" or capacity >= 4 for n in entry["envelope_scores"])  # only within capacity
        assert entry["psnr_db"] == pytest.approx(max(entry["envelope_scores"].values()))
        assert not set(entry["envelope_scores"]) & set(entry["envelope_skipped"])
    for entry in (e for e in entries.values() if e["scheme"] == "bpg-ldpc-fixed"):
        assert entry["config"]["name"] == "16qam-2/3-n6144"
    for entry in (e for e in entries.values() if e["scheme"] in ("bpg-ldpc", "bpg-ldpc-fixed")):
        assert not entry["crc_ok"] or entry["bits_ok"]  # no undetected errors
        assert entry["lost"] == (not entry["crc_ok"] or entry["bitstream_bits"] is None)
    # a lost image is scored as mid-grey; a decoded one is much closer to the original
    lost = [e for e in entries.values() if e.get("lost")]
    assert all(e["psnr_db"] < 12 for e in lost)
    # BPG + capacity gets at least the bits of any configuration within capacity: never worse than the envelope
    for (image, scheme, snr, cbr), entry in entries.items():
        if scheme == "bpg-ldpc":
            assert entries[(image, "bpg-capacity", snr, cbr)]["psnr_db"] >= entry["psnr_db"] - 0.1
    # every point is a mean over the two images
    points = results["points"]
    assert len(points) == 10 and all(p["n_images"] == 2 for p in points)
    lpips = [e["lpips"] for e in entries.values() if e["scheme"] == "mse" and e["snr_db"] == 4.0]
    point = next(p for p in points if p["scheme"] == "mse" and p["snr_db"] == 4.0)
    assert point["metrics"]["lpips"]["mean"] == pytest.approx(np.mean(lpips))
    assert point["metrics"]["lpips"]["std"] == pytest.approx(np.std(lpips, ddof=1))


@pytest.mark.parametrize("snr_db", [7.0, 13.0])
def test_the_pruned_envelope_is_the_envelope_of_every_candidate(data: Path, snr_db: float):
    """Simulating every candidate gives the same choice as run_envelope, which skips those that cannot win."""
    image = load_image(data / "face.png")
    ladder, reference, k = QualityLadder(image), image, round(SIZE * SIZE * 3 / 48)
    seed = channel_seed(0, "face", snr_db, Fraction(1, 48))
    capacity = math.log2(1 + 10 ** (snr_db / 10))
    every = {}
    for config in sorted(CONFIGURATIONS, key=lambda c: c.spectral_efficiency):
        if config.spectral_efficiency > capacity:
            continue
        try:
            rx, _ = send_digital(config, ladder, k, snr_db, SymbolChannel(), seed, Clock())
        except DigitalError:
            continue
        every[config.name] = psnr_score(reference, rx.scored_image)
        # the bound holds: a reception never beats its error-free score
        assert every[config.name] <= error_free_score(reference, ladder, config, k, {}) + 1e-9
    best = max(every.values())
    expected = next(name for name, score in every.items() if score == best)  # ties: the lower efficiency
    outcome = run_envelope(reference, ladder, k, snr_db, CONFIGURATIONS, SymbolChannel(), seed, Clock())
    assert outcome.record["config"]["name"] == expected
    assert outcome.record["envelope_scores"][expected] == pytest.approx(best)
    assert outcome.record["envelope_skipped"], "nothing was pruned"
    assert set(outcome.record["envelope_scores"]) | set(outcome.record["envelope_skipped"]) == set(every)


def test_missing_metric_weights_are_null_with_a_note(swept: Path):
    results = json.loads((swept / "results.json").read_text())
    if "dists" in results["config"]["metrics"]:
        pytest.skip("DISTS weights are present here")
    assert all(e["dists"] is None for e in results["entries"])
    assert any(note.startswith("DISTS is null") for note in results["notes"])
    assert results["versions"]["torch"] and results["versions"]["sionna-no-rt"]


def test_figures_and_claims_are_written(swept: Path):
    for name in ("snr_psnr", "snr_ms_ssim", "snr_lpips"):
        assert (swept / f"{name}.png").stat().st_size > 10_000
    assert not list(swept.glob("cbr_*.png"))  # one CBR: no CBR curves
    found = json.loads((swept / "claims.json").read_text())
    assert found["bandwidth_saving"] is None and "CBR sweep" in found["bandwidth_saving_reason"]
    assert {(c["scheme"], c["reference"]) for c in found["snr_gain"]} >= {("perceptual", "bpg-ldpc")}
    for claim in found["snr_gain"]:
        assert (claim["gain_db"] is None) == (claim["reason"] is not None)


def test_plot_only_redraws_from_results(swept: Path, capsys: pytest.CaptureFixture):
    (swept / "snr_lpips.png").unlink()
    assert main(["sweep", "--plot-only", str(swept)]) == 0
    assert (swept / "snr_lpips.png").exists()
    assert "SNR gain at CBR 1/48, perceptual" in capsys.readouterr().out


def test_resume_recomputes_nothing_then_only_deleted_entries(swept: Path, data: Path, capsys: pytest.CaptureFixture):
    before = store_lines(swept)
    keys = [json.loads(line).get("key") for line in before[1:]]
    assert len(keys) == len(set(keys)) == 20
    capsys.readouterr()
    assert main(sweep_args(data, swept)) == 0
    assert "0 new entries, 20 already" in capsys.readouterr().out
    assert store_lines(swept) == before
    # delete three entries (one of each digital kind and a JSCC one): exactly those come back, identical
    gone = {entry_key("face", s, 13.0, Fraction(1, 48)) for s in ("bpg-ldpc", "bpg-capacity")}
    gone.add(entry_key("corner", "perceptual", 4.0, Fraction(1, 48)))
    kept = [line for line in before if json.loads(line).get("key") not in gone]
    (swept / STORE_FILE).write_text("\n".join(kept) + "\n")
    assert main(sweep_args(data, swept)) == 0
    assert "3 new entries, 17 already" in capsys.readouterr().out
    after = store_lines(swept)
    assert after[: len(kept)] == kept and len(after) == 21
    old = {json.loads(line)["key"]: json.loads(line) for line in before[1:]}
    for line in after[len(kept) :]:
        entry = json.loads(line)
        assert entry["key"] in gone
        for metric in ("psnr_db", "ms_ssim", "lpips"):  # the same seeds: the same numbers
            assert entry[metric] == pytest.approx(old[entry["key"]][metric], abs=1e-6)


def test_another_configuration_is_refused(swept: Path, data: Path, capsys: pytest.CaptureFixture):
    lines = store_lines(swept)
    assert main(sweep_args(data, swept, "--seed", "7")) == 2
    err = capsys.readouterr().err
    assert "different configuration" in err and "seed: 0 there, 7 now" in err
    assert store_lines(swept) == lines


def test_entries_of_a_replaced_model_are_refused_or_recomputed(swept: Path, data: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture):
    out = tmp_path / "sweep"
    out.mkdir()
    lines = [json.loads(line) for line in store_lines(swept)]
    stale = entry_key("face", "perceptual", 13.0, Fraction(1, 48))
    current = dict(next(e for e in lines[1:] if e["key"] == stale))
    for entry in lines[1:]:  # as if this one entry had been made with another perceptual-cbr48 checkpoint
        if entry["key"] == stale:
            entry["model_weights_sha256"] = "0" * 64
            entry["psnr_db"] = 0.0
    (out / STORE_FILE).write_text("".join(json.dumps(line) + "\n" for line in lines))
    before = store_lines(out)
    capsys.readouterr()
    assert main(sweep_args(data, out)) == 2
    err = capsys.readouterr().err
    assert "1 entries of 'perceptual-cbr48' were made with another checkpoint" in err and "--recompute-stale" in err
    assert store_lines(out) == before
    assert main(sweep_args(data, out, "--recompute-stale")) == 0
    assert "1 new entries, 19 already" in capsys.readouterr().out
    after = {json.loads(line).get("key"): json.loads(line) for line in store_lines(out)[1:]}
    assert len(after) == 20 and len(store_lines(out)) == 21
    assert after[stale]["model_weights_sha256"] == current["model_weights_sha256"]
    assert after[stale]["psnr_db"] == pytest.approx(current["psnr_db"], abs=1e-6)


def test_an_interrupted_line_is_dropped(tmp_path: Path):
    identity = {"seed": 1}
    store = ResultStore(tmp_path / STORE_FILE, identity)
    store.add({"key": "a", "value": 1})
    with open(tmp_path / STORE_FILE, "a") as f:
        f.write('{"key": "b", "val')  # killed in the middle of a write
    reopened = ResultStore(tmp_path / STORE_FILE, identity)
    assert set(reopened.entries) == {"a"}
    reopened.add({"key": "b", "value": 2})
    assert set(ResultStore(tmp_path / STORE_FILE, identity).entries) == {"a", "b"}


def test_point_summaries_and_fid_from_feature_files(tmp_path: Path):
    rng = np.random.default_rng(0)
    (tmp_path / FID_FOLDER).mkdir()
    entries = []
    for i, lpips in enumerate((0.1, 0.2, 0.6)):
        np.save(tmp_path / FID_FOLDER / f"ref-im{i}.npy", rng.standard_normal(8))
        np.save(tmp_path / FID_FOLDER / f"gen{i}.npy", rng.standard_normal(8) + 1)
        entries.append({"image": f"im{i}", "scheme": "mse", "snr_db": 1.0, "cbr": "1/48", "cbr_value": 1 / 48,
                        "psnr_db": 20.0 + i, "ms_ssim": 0.9, "lpips": lpips, "dists": None,
                        "fid_features": f"{FID_FOLDER}/gen{i}.npy"})
    (point,) = summarise(entries, tmp_path)
    assert point["n_images"] == 3 and point["n_lost"] is None and "dists" not in point["metrics"]
    psnr = point["metrics"]["psnr_db"]
    assert psnr["mean"] == pytest.approx(21) and psnr["std"] == pytest.approx(1)
    assert psnr["ci95"] == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)  # t(0.975, 2 dof) * std / sqrt(n)
    real = np.stack([np.load(tmp_path / FID_FOLDER / f"ref-im{i}.npy") for i in range(3)])
    fake = np.stack([np.load(tmp_path / FID_FOLDER / f"gen{i}.npy") for i in range(3)])
    assert point["metrics"]["fid"]["mean"] == pytest.approx(frechet_distance(real, fake))
    assert mean_and_ci([0.5]) == {"mean": 0.5, "std": 0.0, "ci95": 0.0, "n": 1}


def test_bad_input_is_refused(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    assert main(sweep_args(data, tmp_path / "a", "--schemes", "jpeg")) == 2
    assert "unknown scheme" in capsys.readouterr().err
    assert main(sweep_args(data, tmp_path / "b", "--configs", "32qam-1/2")) == 2
    assert "unknown digital configuration" in capsys.readouterr().err
    with pytest.raises(SweepError, match="between 0 and 1"):
        SweepConfig(data=data, cbrs=("3/2",))
    small = tmp_path / "small"
    small.mkdir()
    save_image(load_image(data / "face.png")[:, :128, :128], small / "tiny.png")
    assert main(sweep_args(small, tmp_path / "c", "--schemes", "bpg-capacity")) == 2
    assert "MS-SSIM needs at least 161x161" in capsys.readouterr().err
    assert not (tmp_path / "c" / "results.json").exists()


def test_more_channel_draws_extend_a_store_and_give_their_spread(data: Path, weights_dir: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture):
    args = ["sweep", "--schemes", "mse,bpg-ldpc-fixed", "--snr", "7", "--cbr", "1/48", "--data", str(data),
            "--limit", "1", "--out", str(tmp_path), "--no-progress"]
    assert main(args) == 0
    first = {json.loads(line)["key"]: json.loads(line) for line in store_lines(tmp_path)[1:]}
    capsys.readouterr()
    assert main([*args, "--draws", "3", "--error-bars", "draws"]) == 0
    assert "4 new entries, 2 already" in capsys.readouterr().out
    results = json.loads((tmp_path / "results.json").read_text())
    entries = {e["key"]: e for e in results["entries"]}
    assert set(first) < set(entries) and all(entries[k]["psnr_db"] == first[k]["psnr_db"] for k in first)
    mse = [e for e in results["entries"] if e["scheme"] == "mse"]
    assert sorted(e["draw"] for e in mse) == [0, 1, 2]
    assert len({e["psnr_db"] for e in mse}) == 3  # each draw meets its own noise
    (point,) = [p for p in results["points"] if p["scheme"] == "mse"]
    psnr = point["metrics"]["psnr_db"]
    assert point["n_images"] == 1 and point["n_draws"] == 3 and psnr["n"] == 3
    assert psnr["draw_means"] == [e["psnr_db"] for e in sorted(mse, key=lambda e: e["draw"])]
    assert psnr["draw_min"] == min(psnr["draw_means"]) < psnr["mean"] < psnr["draw_max"] == max(psnr["draw_means"])
    assert bar_lengths([psnr], "draws") == [[psnr["mean"] - psnr["draw_min"]], [psnr["draw_max"] - psnr["mean"]]]
    equal = {"mean": 0.3, "draw_min": 0.1 + 0.2, "draw_max": 0.1 + 0.2}  # equal draws, their mean 1 ulp below
    (lower,), (upper,) = bar_lengths([equal], "draws")
    assert lower == 0.0 and 0.0 <= upper < 1e-15
    with pytest.raises(SweepError, match="draws must be a positive number"):
        SweepConfig(data=data, draws=0)


def test_bpg_ldpc_over_the_ofdm_link_decodes_at_20_db(data: Path, weights_dir: Path, tmp_path: Path):
    args = ["sweep", "--schemes", "perceptual,bpg-ldpc", "--snr", "20", "--cbr", "1/48", "--data", str(data),
            "--limit", "1", "--channel", "ofdm", "--profile", "lab", "--configs", "qpsk-1/2,16qam-2/3,64qam-3/4",
            "--out", str(tmp_path), "--no-progress"]
    assert main(args) == 0
    entries = {e["scheme"]: e for e in json.loads((tmp_path / "results.json").read_text())["entries"]}
    digital = entries["bpg-ldpc"]
    assert digital["crc_ok"] is True and digital["bits_ok"] is True and digital["lost"] is False
    assert digital["psnr_db"] > 20
    assert digital["config"]["name"] in ("16qam-2/3", "64qam-3/4")
    for entry in entries.values():  # the same OFDM frames carry both: the receiver found them all
        reception = entry["reception"]
        assert reception["frames_decoded"] == reception["frames_expected"] >= 1
        assert reception["erased_fraction"] == 0 and 15 < reception["snr_db_est"] < 25
    config = json.loads((tmp_path / "results.json").read_text())["config"]
    assert config["channel"] == "ofdm" and config["profile"]["name"] == "lab"


def test_cbr_sweep_skips_models_that_are_not_shipped(data: Path, weights_dir: Path, tmp_path: Path):
    args = ["sweep", "--schemes", "perceptual,bpg-capacity", "--snr", "10", "--cbr", "1/96,1/48,1/12", "--data",
            str(data), "--out", str(tmp_path), "--no-progress"]
    assert main(args) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert {(s["scheme"], s["cbr"]) for s in results["skipped"]} == {("perceptual", "1/96"), ("perceptual", "1/12")}
    assert any("perceptual at CBR 1/96 skipped" in note for note in results["notes"])
    assert sorted((e["scheme"], e["cbr"]) for e in results["entries"] if e["image"] == "face") == [
        ("bpg-capacity", "1/12"), ("bpg-capacity", "1/48"), ("bpg-capacity", "1/96"), ("perceptual", "1/48")]
    capacity = sorted((e for e in results["entries"] if e["scheme"] == "bpg-capacity" and e["image"] == "face"),
                      key=lambda e: e["cbr_value"])
    bits = [e["bitstream_bits"] or 0 for e in capacity]  # None: nothing fits (lost)
    assert bits == sorted(bits) and bits[-1] > 0 and all(e["lost"] == (e["bitstream_bits"] is None) for e in capacity)
    for name in ("cbr_psnr", "cbr_ms_ssim", "cbr_lpips"):
        assert (tmp_path / f"{name}.png").exists()
    assert not list(tmp_path.glob("snr_*.png"))
    (saving,) = json.loads((tmp_path / "claims.json").read_text())["bandwidth_saving"]
    assert saving["scheme"] == "perceptual" and saving["reference"] == "bpg-capacity" and saving["cbr"] == "1/48"
    assert (saving["saving"] is None) == (saving["reason"] is not None)


# ---------------------------------------------------------------- the claims' interpolation


def test_crossing_interpolates_linearly_or_in_log_x():
    found = crossing([1, 4, 7, 10], [0.7, 0.6, 0.35, 0.2], 0.4)
    assert found.x == pytest.approx(6.4) and found.bracket == [[4, 0.6], [7, 0.35]] and found.reason == ""
    cbrs = [1 / 96, 1 / 48, 1 / 24, 1 / 12]
    found = crossing(cbrs, [0.6, 0.5, 0.35, 0.25], 0.3, log_x=True)
    assert found.x == pytest.approx(math.sqrt(2) / 24)  # halfway between 1/24 and 1/12 in log CBR
    assert crossing([1, 4], [0.5, 0.45], 0.3).reason == "above"
    assert crossing([1, 4], [0.2, 0.1], 0.3).reason == "below"
    assert crossing([1, 4], [0.3, 0.1], 0.3).x == 1
    # a non-monotone curve is read from its low end: the first fall to the level
    assert crossing([1, 2, 3, 4], [0.5, 0.3, 0.6, 0.2], 0.4).x == pytest.approx(1.5)
    with pytest.raises(SweepError, match="increasing"):
        crossing([4, 1], [0.1, 0.2], 0.15)


def point(scheme: str, snr: float, cbr: str, lpips: float, n: int = 3) -> dict:
    return {"scheme": scheme, "snr_db": snr, "cbr": cbr, "cbr_value": float(Fraction(cbr)), "n_images": n,
            "n_lost": 0, "metrics": {"lpips": {"mean": lpips, "std": 0.0, "ci95": 0.0, "n": n}}}


def test_claims_on_synthetic_curves():
    points = [point("perceptual", 10, "1/48", 0.3)]
    points += [point("bpg-ldpc", 10, c, v) for c, v in (("1/96", 0.6), ("1/48", 0.5), ("1/24", 0.35), ("1/12", 0.25))]
    points += [point("perceptual", s, "1/48", v) for s, v in ((1, 0.65), (4, 0.6), (13, 0.28))]
    points += [point("bpg-ldpc", s, "1/48", v) for s, v in ((1, 0.8), (4, 0.7), (7, 0.6), (13, 0.2))]
    (saving,) = bandwidth_savings(points)
    assert saving["saving"] == pytest.approx(2 * math.sqrt(2)) and saving["reference"] == "bpg-ldpc"
    assert saving["bracket"] == [[1 / 24, 0.35], [1 / 12, 0.25]] and saving["reason"] is None
    # the SNR curve of bpg-ldpc at 1/48: 0.8, 0.7, 0.6, 0.5 (the CBR sweep's 10 dB point), 0.2 at 1..13 dB
    gains = {g["snr_db"]: g for g in snr_gains(points)}
    assert gains[1]["gain_db"] == pytest.approx(5.5 - 1)  # LPIPS 0.65: halfway between 4 dB (0.7) and 7 dB (0.6)
    assert gains[4]["gain_db"] == pytest.approx(7 - 4)  # LPIPS 0.6 is reached exactly at 7 dB
    assert gains[10]["gain_db"] == pytest.approx(12 - 10) and gains[10]["bracket"] == [[10, 0.5], [13, 0.2]]
    assert gains[13]["gain_db"] == pytest.approx(10 + 3 * 0.22 / 0.3 - 13)
    # a perceptual LPIPS that BPG + LDPC never reaches: null, with the bound
    worse = [p for p in points if p["scheme"] != "perceptual"] + [point("perceptual", 10, "1/48", 0.1)]
    (none,) = bandwidth_savings(worse)
    assert none["saving"] is None and "more than 4x" in none["reason"]
    found = claims({"points": [p for p in points if p["snr_db"] == 10]})
    assert found["snr_gain"] is None and "SNR sweep" in found["snr_gain_reason"]
    assert found["bandwidth_saving"][0]["saving"] == pytest.approx(2 * math.sqrt(2))
