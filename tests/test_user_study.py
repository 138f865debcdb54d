"""The 2AFC user study without a browser: patches, page data, answer checks, preferences and the paper's statement."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.stats import binomtest

from ota.cli import main
from ota.study.analysis import (
    analyse,
    highest_less_preferred,
    load_answers,
    preferences,
    wilson_interval,
)
from ota.study.kit import (
    StudyConfig,
    StudyError,
    build_study,
    cbr_from_label,
    format_cbr,
    load_study,
    parse_cbr,
    patch_positions,
)

SIZES = {"kodim01.png": (80, 112), "kodim02.png": (96, 72), "sub/kodim03.png": (72, 72)}  # name -> (H, W)
BLUE = {"A": 10, "B": 200}
LABELS = {"A": "pjscc", "B": "bpg-cbr1/24"}


def coordinate_image(height: int, width: int, blue: int) -> np.ndarray:
    """(H, W, 3) uint8 whose red is the column and green the row (mod 256): a patch tells where it was cut."""
    rows, cols = np.mgrid[0:height, 0:width]
    return np.stack([cols % 256, rows % 256, np.full_like(rows, blue)], axis=-1).astype(np.uint8)


def write_folder(root: Path, blue: int, sizes: dict[str, tuple[int, int]] = SIZES) -> Path:
    for name, (height, width) in sizes.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(coordinate_image(height, width, blue)).save(root / name)
    return root


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("schemes")
    return {role: write_folder(root / role, BLUE[role]) for role in ("A", "B")} | {"root": root}


CONFIG = StudyConfig(label_a=LABELS["A"], label_b=LABELS["B"], patches_per_image=3, patch=32, seed=7)


@pytest.fixture(scope="module")
def built(folders: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("study") / "out"
    return build_study(folders["A"], folders["B"], out, CONFIG), out


def answers_for(study: dict, choices_a: list[bool], participant: str = "", study_id: str | None = None) -> dict:
    """What the page exports when the participant picks A in the trials where ``choices_a`` is True."""
    trials = []
    for trial, chose_a in zip(study["trials"], choices_a, strict=True):
        label = study["schemes"]["A" if chose_a else "B"]
        trials.append({key: trial[key] for key in ("trial", "patch_id", "image", "left_scheme", "right_scheme")}
                      | {"choice_scheme": label, "response_ms": 400.0 + trial["trial"]})
    return {"study_id": study_id or study["study_id"], "participant": participant, "user_agent": "pytest",
            "started_at": "2026-01-01T00:00:00Z", "trials": trials}


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_patches_are_cut_at_the_same_places_in_both(built: tuple[dict, Path]) -> None:
    study, out = built
    assert len(study["patches"]) == 3 * len(SIZES)
    for record in study["patches"]:
        height, width = SIZES[record["image"]]
        top, left, size = record["top"], record["left"], record["size"]
        assert size == 32 and 0 <= top <= height - size and 0 <= left <= width - size
        expected = coordinate_image(height, width, 0)[top:top + size, left:left + size, :2]
        for role in ("A", "B"):
            patch = np.asarray(Image.open(out / record["files"][role]))
            assert patch.shape == (32, 32, 3)
            np.testing.assert_array_equal(patch[..., :2], expected)
            assert np.all(patch[..., 2] == BLUE[role])


def test_trials_show_every_patch_once_on_seeded_sides(built: tuple[dict, Path]) -> None:
    study, out = built
    assert sorted(t["patch_id"] for t in study["trials"]) == [p["patch_id"] for p in study["patches"]]
    assert [t["trial"] for t in study["trials"]] == list(range(len(study["patches"])))
    assert [t["patch_id"] for t in study["trials"]] != [p["patch_id"] for p in study["patches"]]  # shuffled
    sides = set()
    for trial in study["trials"]:
        assert {trial["left_scheme"], trial["right_scheme"]} == set(LABELS.values())
        left_role = "A" if trial["left_scheme"] == LABELS["A"] else "B"
        assert trial["left_file"].endswith(f"_{left_role.lower()}.png") and (out / trial["right_file"]).is_file()
        sides.add(left_role)
    assert sides == {"A", "B"}


def test_patch_positions_stay_inside_and_follow_the_generator() -> None:
    corners = patch_positions(40, 300, 32, 500, np.random.default_rng(0))
    assert corners.shape == (500, 2) and corners[:, 0].min() >= 0 and corners[:, 0].max() <= 8
    assert corners[:, 1].max() <= 268 and corners[:, 1].max() > 250
    np.testing.assert_array_equal(corners, patch_positions(40, 300, 32, 500, np.random.default_rng(0)))
    assert np.all(patch_positions(32, 32, 32, 3, np.random.default_rng(1)) == 0)
    with pytest.raises(StudyError, match="smaller than the 32x32 patch"):
        patch_positions(31, 100, 32, 1, np.random.default_rng(0))


def test_same_seed_same_study_other_seed_other_study(folders: dict[str, Path], built: tuple[dict, Path],
                                                     tmp_path: Path) -> None:
    study, out = built
    build_study(folders["A"], folders["B"], tmp_path / "again", CONFIG)
    assert (tmp_path / "again" / "study.json").read_bytes() == (out / "study.json").read_bytes()
    assert (tmp_path / "again" / "index.html").read_bytes() == (out / "index.html").read_bytes()
    other = build_study(folders["A"], folders["B"], tmp_path / "other", replace(CONFIG, seed=8))
    assert other["study_id"] != study["study_id"]
    assert [(p["top"], p["left"]) for p in other["patches"]] != [(p["top"], p["left"]) for p in study["patches"]]


def test_page_is_self_contained_and_embeds_the_trials(built: tuple[dict, Path]) -> None:
    study, out = built
    html = (out / "index.html").read_text()
    for external in ("http:", "https:", "//cdn", "<link", "@import", "src=\"/"):
        assert external not in html
    data = html.split('<script id="study-data" type="application/json">')[1].split("</script>")[0]
    embedded = json.loads(data)
    assert embedded["study_id"] == study["study_id"] and embedded["trials"] == study["trials"]
    assert embedded["patch"] == 32 and embedded["question"] == "Which image looks better?"
    assert load_study(out / "study.json") == study


def test_labels_cannot_break_out_of_the_page_script(folders: dict[str, Path], tmp_path: Path) -> None:
    config = StudyConfig(label_a="</script><b>x&y", label_b="B", patches_per_image=1, patch=32, seed=0)
    build_study(folders["A"], folders["B"], tmp_path / "out", config)
    html = (tmp_path / "out" / "index.html").read_text()
    assert html.count("</script>") == 2  # the data block and the program, nothing from the label
    data = html.split('type="application/json">')[1].split("</script>")[0]
    assert json.loads(data)["trials"][0]["left_scheme"] in ("</script><b>x&y", "B")


def test_reference_patches_are_cut_too(folders: dict[str, Path], tmp_path: Path) -> None:
    reference = write_folder(tmp_path / "ref", 100)
    study = build_study(folders["A"], folders["B"], tmp_path / "out", CONFIG, reference=reference)
    for trial in study["trials"]:
        patch = np.asarray(Image.open(tmp_path / "out" / trial["reference_file"]))
        assert np.all(patch[..., 2] == 100)


def test_wilson_interval_known_values() -> None:
    np.testing.assert_allclose(wilson_interval(8, 10), (0.4902, 0.9433), atol=5e-5)
    np.testing.assert_allclose(wilson_interval(50, 100), (0.4038, 0.5962), atol=5e-5)
    np.testing.assert_allclose(wilson_interval(0, 10), (0.0, 0.2775), atol=5e-5)
    z2 = 1.959963984540054**2
    np.testing.assert_allclose(wilson_interval(6, 6), (6 / (6 + z2), 1.0), rtol=1e-9)
    np.testing.assert_allclose(wilson_interval(8, 10, confidence=0.99), (0.4008, 0.9599), atol=5e-5)
    for bad in ((3, 2), (-1, 4), (0, 0)):
        with pytest.raises(ValueError, match="successes <= trials"):
            wilson_interval(*bad)


def test_preferences_over_several_participants(built: tuple[dict, Path], tmp_path: Path) -> None:
    study, out = built
    n = len(study["trials"])
    patterns = {"ann": [True] * n, "bob": [i % 2 == 0 for i in range(n)], "cy": [i % 3 != 0 for i in range(n)]}
    paths = [write_json(tmp_path / f"{who}.json", answers_for(study, choices, who))
             for who, choices in patterns.items()]
    result = analyse(out / "study.json", paths, tmp_path / "results", seed=1)
    k = sum(sum(choices) for choices in patterns.values())
    overall = result["overall"]
    assert overall["trials"] == 3 * n and overall["prefer_a"] == k
    assert overall["preference_a_percent"] == pytest.approx(100 * k / (3 * n))
    np.testing.assert_allclose(overall["ci_percent"], 100 * np.array(wilson_interval(k, 3 * n)))
    assert overall["binomial_p_value"] == pytest.approx(binomtest(k, 3 * n, 0.5).pvalue)
    low, high = overall["bootstrap_ci_percent"]
    assert 100 * sum(patterns["bob"]) / n <= low < overall["preference_a_percent"] < high <= 100
    for row in result["per_image"]:
        trials = [i for i, t in enumerate(study["trials"]) if t["image"] == row["image"]]
        expected = sum(patterns[who][i] for who in patterns for i in trials)
        assert (row["trials"], row["prefer_a"]) == (3 * len(trials), expected)
    assert [p["prefer_a"] for p in result["participants"]] == [sum(c) for c in patterns.values()]
    written = json.loads((tmp_path / "results" / "preferences.json").read_text())
    assert written["overall"] == overall and written["cbr_b"] == pytest.approx(1 / 24)
    assert (tmp_path / "results" / "preferences.png").stat().st_size > 5000
    again = analyse(out / "study.json", paths, tmp_path / "results2", seed=1)
    assert again["overall"]["bootstrap_ci_percent"] == overall["bootstrap_ci_percent"]


def test_one_participant_has_no_bootstrap_interval(built: tuple[dict, Path]) -> None:
    study, _ = built
    answers = {"file": "x.json", "participant": None, "trials": answers_for(study, [True] * 9)["trials"]}
    result = preferences(study, [answers], rng=np.random.default_rng(0))
    assert result["overall"]["bootstrap_ci_percent"] is None and result["overall"]["preference_a_percent"] == 100
    assert result["participants"][0]["participant"] == "x"


def _result(cbr_b: float | None, prefer_a: int, trials: int, label_b: str = "BPG") -> dict:
    low, high = wilson_interval(prefer_a, trials)
    return {"study_id": f"s{cbr_b}", "scheme_a": "Perceptual JSCC", "scheme_b": label_b, "cbr_b": cbr_b,
            "confidence": 0.95, "overall": {"trials": trials, "prefer_a": prefer_a,
                                             "preference_a_percent": 100 * prefer_a / trials,
                                             "ci_percent": [100 * low, 100 * high]}}


def test_highest_less_preferred_statement() -> None:
    # 1/48: 95/100, 1/24: 80/100, 1/12: 62/100 (CI [52.2, 70.9]), 1/6: 55/100 (CI reaches below 50)
    results = [_result(1 / 12, 62, 100), _result(1 / 48, 95, 100), _result(1 / 6, 55, 100), _result(1 / 24, 80, 100)]
    assert highest_less_preferred(results) == (
        "the highest-CBR BPG point still less preferred than Perceptual JSCC is CBR 1/12 "
        "(62.0 % [52.2, 70.9] prefer Perceptual JSCC)")
    assert highest_less_preferred([_result(1 / 6, 55, 100)]) == (
        "no BPG point is less preferred than Perceptual JSCC with 95 % confidence")
    with pytest.raises(StudyError, match="no CBR for scheme B"):
        highest_less_preferred([_result(None, 62, 100)])
    with pytest.raises(StudyError, match="same CBR"):
        highest_less_preferred([_result(1 / 12, 62, 100), _result(1 / 12, 70, 100)])
    with pytest.raises(StudyError, match="different schemes A"):
        highest_less_preferred([_result(1 / 12, 62, 100), _result(1 / 6, 62, 100) | {"scheme_a": "other"}])


def test_cbr_parsing_and_formatting() -> None:
    assert parse_cbr("1/24") == pytest.approx(1 / 24) and parse_cbr(" 0.05 ") == 0.05
    assert cbr_from_label("BPG CBR 1/12") == pytest.approx(1 / 12) and cbr_from_label("bpg_cbr0.1") == 0.1
    assert cbr_from_label("bpg q30") is None
    assert format_cbr(1 / 48) == "1/48" and format_cbr(0.05) == "1/20" and format_cbr(0.3) == "0.3"
    for bad in ("x", "2", "0", "1/0"):
        with pytest.raises(StudyError, match="CBR"):
            parse_cbr(bad)


def test_build_errors_name_the_problem(folders: dict[str, Path], tmp_path: Path) -> None:
    b = write_folder(tmp_path / "b", 1, {"kodim01.png": (80, 112), "kodim02.png": (96, 72), "extra.png": (80, 80)})
    with pytest.raises(StudyError, match=r"missing from A .*extra\.png; missing from B .*sub/kodim03\.png"):
        build_study(folders["A"], b, tmp_path / "out", CONFIG)
    sizes = dict(SIZES) | {"kodim02.png": (96, 80)}
    with pytest.raises(StudyError, match=r"kodim02\.png: the images differ in size \(A 96x72, B 96x80\)"):
        build_study(folders["A"], write_folder(tmp_path / "c", 1, sizes), tmp_path / "out", CONFIG)
    with pytest.raises(StudyError, match=r"kodim02\.png: a 96x72 image is smaller than the 80x80 patch"):
        build_study(folders["A"], folders["B"], tmp_path / "out", StudyConfig(patch=80))
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.tmp-*"))  # nothing written half-way
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(StudyError, match="must not exist yet, or be empty"):
        build_study(folders["A"], folders["B"], tmp_path / "full", CONFIG)
    with pytest.raises(StudyError, match="different labels"):
        StudyConfig(label_a="x", label_b="x")
    with pytest.raises(StudyError, match="patches_per_image"):
        StudyConfig(patches_per_image=0)


def test_answer_files_are_checked(built: tuple[dict, Path], tmp_path: Path) -> None:
    study, out = built
    good = answers_for(study, [True] * len(study["trials"]))
    (tmp_path / "broken.json").write_text('{"study_id": "x", "trials": [')
    with pytest.raises(StudyError, match="broken.json: malformed JSON"):
        load_answers(tmp_path / "broken.json", study)
    with pytest.raises(StudyError, match=f"answers to study 'other', expected study '{study['study_id']}'"):
        load_answers(write_json(tmp_path / "w.json", good | {"study_id": "other"}), study)

    second = good["trials"][1]["patch_id"]

    def altered(index: int, **changes: object) -> dict:
        trials = [dict(t) for t in good["trials"]]
        trials[index].update(changes)
        return good | {"trials": trials}

    cases = {
        "unknown patch id 'p9999'": altered(2, patch_id="p9999"),
        f"patch_id '{second}' does not match the study's trial 0": altered(0, patch_id=second),
        "choice 'jpeg' is neither of the schemes shown": altered(0, choice_scheme="jpeg"),
        "response_ms -3 is not": altered(0, response_ms=-3),
        "trial 0 is answered twice": altered(1, **{k: good["trials"][0][k] for k in good["trials"][0]}),
        "is not a trial number": altered(0, trial=99),
        "expected an object with": altered(0, response_ms=None) | {"trials": [{"trial": 0}]},
    }
    for message, answers in cases.items():
        with pytest.raises(StudyError, match=message):
            load_answers(write_json(tmp_path / "bad.json", answers), study)
    with pytest.raises(StudyError, match="participant 'p' appears in two answer files"):
        analyse(out / "study.json", [write_json(tmp_path / f"{i}.json", good | {"participant": "p"}) for i in "12"],
                tmp_path / "results")
    assert not (tmp_path / "results").exists()
    tampered = json.loads((out / "study.json").read_text())
    tampered["trials"][0]["left_scheme"], tampered["trials"][0]["right_scheme"] = (
        tampered["trials"][0]["right_scheme"], tampered["trials"][0]["left_scheme"])
    with pytest.raises(StudyError, match="does not match its study_id"):
        load_study(write_json(tmp_path / "study.json", tampered))


def test_cli_build_analyse_statement(folders: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "study"
    assert main(["study", "build", "--a", str(folders["A"]), "--b", str(folders["B"]), "--label-a", "Perceptual JSCC",
                 "--label-b", "BPG", "--cbr-b", "1/24", "--patches-per-image", "2", "--patch", "32", "--seed", "3",
                 "--out", str(out)]) == 0
    study = load_study(out / "study.json")
    assert len(study["trials"]) == 6 and study["cbr"] == {"A": None, "B": pytest.approx(1 / 24)}
    answers = write_json(tmp_path / "p1.json", answers_for(study, [True, True, True, True, True, False], "p1"))
    analyse_args = ["study", "analyse", "--study", str(out / "study.json"), str(answers), "--out"]
    assert main([*analyse_args, str(tmp_path / "r")]) == 0
    printed = capsys.readouterr().out
    assert "83.3 % [43.6, 97.0] of 6 trials by 1 participant(s) prefer Perceptual JSCC over BPG" in printed
    assert main(["study", "statement", str(tmp_path / "r" / "preferences.json")]) == 0
    assert capsys.readouterr().out.strip() == "no BPG point is less preferred than Perceptual JSCC with 95 % confidence"
    same = ["--a", str(folders["A"]), "--b", str(folders["A"])]
    assert main(["study", "build", *same, "--out", str(tmp_path / "x")]) == 2
    assert "name them with --label-a and --label-b" in capsys.readouterr().err
    assert main(["study", "analyse", "--study", str(tmp_path / "none.json"), str(answers), "--out", str(tmp_path)]) == 2
    assert "no such study file" in capsys.readouterr().err
    assert math.isclose(json.loads((tmp_path / "r" / "preferences.json").read_text())["cbr_b"], 1 / 24)
