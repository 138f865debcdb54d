"""Turning the answers of a 2AFC user study (:mod:`ota.study.kit`) into preferences with confidence intervals.

The preference for scheme A is the share of trials in which A was chosen over B, in percent, overall and per
image. Statistical units:

* **Trials** are the unit of the Wilson score intervals (overall and per image) and of the two-sided exact
  binomial test against 50 %: every answer counts as one independent Bernoulli draw. This is the usual reading of
  a 2AFC study and what :func:`highest_less_preferred` uses, but it ignores that answers of one person are
  correlated, so with few participants it is optimistic.
* **Participants** are the unit of the bootstrap interval reported beside it: participants are resampled with
  replacement (all of a participant's trials together) and the pooled preference recomputed; it needs at least
  two participants and widens when participants disagree.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.stats import binomtest, norm  # noqa: E402

from models.figure_file import write_figure  # noqa: E402
from ota.study.kit import StudyError, cbr_from_label, format_cbr, load_study  # noqa: E402

RESULT_KEYS = ("study_id", "scheme_a", "scheme_b", "cbr_b", "confidence", "overall")
ANSWER_FIELDS = ("trial", "patch_id", "image", "left_scheme", "right_scheme", "choice_scheme", "response_ms")


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``successes / trials`` (fractions in [0, 1])."""
    if trials < 1 or not 0 <= successes <= trials:
        raise ValueError(f"expected 0 <= successes <= trials and trials >= 1, got {successes}/{trials}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


def participant_bootstrap(prefer_a: np.ndarray, trials: np.ndarray, n_resamples: int, confidence: float,
                          rng: np.random.Generator) -> tuple[float, float] | None:
    """Percentile interval of the pooled preference, resampling participants with replacement.

    Args:
        prefer_a, trials: int arrays (n_participants,): each participant's count of A choices and of trials.

    Returns:
        (low, high) fractions, or None with fewer than two participants.
    """
    if len(trials) < 2:
        return None
    picks = rng.integers(0, len(trials), size=(n_resamples, len(trials)))
    pooled = prefer_a[picks].sum(axis=1) / trials[picks].sum(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(pooled, [tail, 1 - tail])
    return float(low), float(high)


def _fail(path: Path, message: str) -> StudyError:
    return StudyError(f"{path}: {message}")


def load_answers(path: str | Path, study: dict) -> dict:
    """Read one participant's exported answers and check them against the study.

    Raises:
        StudyError for malformed JSON, another study's answers, unknown patch ids, a trial that does not match
        the study's trial list (image, sides), a choice that was not shown, a bad response time, or a trial
        answered twice.
    """
    path = Path(path)
    try:
        answers = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _fail(path, "no such answer file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _fail(path, f"malformed JSON ({exc}); expected the answers file the study page exported") from None
    if not isinstance(answers, dict) or not isinstance(answers.get("trials"), list):
        raise _fail(path, "expected a JSON object with a 'trials' list, as the study page exports")
    if answers.get("study_id") != study["study_id"]:
        raise _fail(path, f"answers to study {answers.get('study_id')!r}, expected study {study['study_id']!r}")
    patch_ids = {record["patch_id"] for record in study["patches"]}
    seen = set()
    for position, answer in enumerate(answers["trials"]):
        where = f"trials[{position}]"
        if not isinstance(answer, dict) or any(field not in answer for field in ANSWER_FIELDS):
            raise _fail(path, f"{where}: expected an object with {', '.join(ANSWER_FIELDS)}")
        if answer["patch_id"] not in patch_ids:
            raise _fail(path, f"{where}: unknown patch id {answer['patch_id']!r}; not a patch of this study")
        index = answer["trial"]
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(study["trials"]):
            raise _fail(path, f"{where}: trial {index!r} is not a trial number of this study "
                              f"(0..{len(study['trials']) - 1})")
        if index in seen:
            raise _fail(path, f"{where}: trial {index} is answered twice")
        seen.add(index)
        expected = study["trials"][index]
        for field in ("patch_id", "image", "left_scheme", "right_scheme"):
            if answer[field] != expected[field]:
                raise _fail(path, f"{where}: {field} {answer[field]!r} does not match the study's trial {index} "
                                  f"({expected[field]!r})")
        if answer["choice_scheme"] not in (expected["left_scheme"], expected["right_scheme"]):
            raise _fail(path, f"{where}: choice {answer['choice_scheme']!r} is neither of the schemes shown "
                              f"({expected['left_scheme']!r}, {expected['right_scheme']!r})")
        response = answer["response_ms"]
        if isinstance(response, bool) or not isinstance(response, int | float) or not (
                math.isfinite(response) and response >= 0):
            raise _fail(path, f"{where}: response_ms {response!r} is not a non-negative number of milliseconds")
    if not seen:
        raise _fail(path, "no answered trials")
    participant = answers.get("participant")
    return {"file": str(path), "participant": participant if isinstance(participant, str) and participant else None,
            "trials": answers["trials"]}


def _share(prefer_a: int, trials: int, confidence: float) -> dict:
    low, high = wilson_interval(prefer_a, trials, confidence)
    return {"trials": trials, "prefer_a": prefer_a, "preference_a_percent": 100 * prefer_a / trials,
            "ci_percent": [100 * low, 100 * high]}


def preferences(study: dict, answer_sets: Sequence[dict], *, confidence: float = 0.95, n_bootstrap: int = 2000,
                rng: np.random.Generator) -> dict:
    """Preference for scheme A over B from several participants' answers (as returned by :func:`load_answers`).

    Returns:
        a dict: ``overall`` (trials, prefer_a, preference_a_percent, ci_percent [Wilson, trials as unit],
        binomial_p_value [two-sided, against 50 %], bootstrap_ci_percent [participants as unit, or None]),
        ``per_image`` (the same without the tests, one entry per image in the study's order), ``participants``
        (each one's counts and median response time [ms]), the scheme labels and CBRs.
    """
    if not answer_sets:
        raise StudyError("no answer files; expected at least one participant's answers")
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be a positive number of resamples, got {n_bootstrap}")
    label_a = study["schemes"]["A"]
    names, participants = set(), []
    per_image = {image["name"]: [0, 0] for image in study["images"]}
    for answers in answer_sets:
        name = answers["participant"] or Path(answers["file"]).stem
        if name in names:
            raise StudyError(f"{answers['file']}: participant {name!r} appears in two answer files")
        names.add(name)
        chose_a = [answer["choice_scheme"] == label_a for answer in answers["trials"]]
        for answer, a in zip(answers["trials"], chose_a, strict=True):
            per_image[answer["image"]][0] += a
            per_image[answer["image"]][1] += 1
        participants.append({"participant": name, "file": answers["file"], "trials": len(chose_a),
                             "prefer_a": sum(chose_a),
                             "median_response_ms": float(np.median([a["response_ms"] for a in answers["trials"]]))})
    counts = np.array([[p["prefer_a"], p["trials"]] for p in participants])
    prefer_a, trials = int(counts[:, 0].sum()), int(counts[:, 1].sum())
    overall = _share(prefer_a, trials, confidence)
    overall["binomial_p_value"] = float(binomtest(prefer_a, trials, 0.5).pvalue)
    interval = participant_bootstrap(counts[:, 0], counts[:, 1], n_bootstrap, confidence, rng)
    overall["bootstrap_ci_percent"] = None if interval is None else [100 * interval[0], 100 * interval[1]]
    cbr_b = study["cbr"]["B"] if study["cbr"]["B"] is not None else cbr_from_label(study["schemes"]["B"])
    return {
        "study_id": study["study_id"],
        "scheme_a": label_a,
        "scheme_b": study["schemes"]["B"],
        "cbr_a": study["cbr"]["A"],
        "cbr_b": cbr_b,
        "confidence": confidence,
        "units": {"ci_percent": "trials (Wilson score interval)", "binomial_p_value": "trials (exact, two-sided)",
                  "bootstrap_ci_percent": "participants (percentile bootstrap)"},
        "n_bootstrap": n_bootstrap,
        "overall": overall,
        "per_image": [{"image": image} | _share(a, n, confidence) for image, (a, n) in per_image.items() if n],
        "participants": participants,
    }


def plot_preferences(result: dict, path: str | Path) -> Path:
    """Bar plot of the per-image preference for A [%] with its Wilson interval, and the overall bar."""
    rows = result["per_image"] + [{"image": "all"} | result["overall"]]
    values = np.array([row["preference_a_percent"] for row in rows])
    ci = np.array([row["ci_percent"] for row in rows])
    errors = np.stack([values - ci[:, 0], ci[:, 1] - values])
    fig, ax = plt.subplots(figsize=(max(5.0, 0.45 * len(rows) + 2), 4))
    colors = ["tab:blue"] * (len(rows) - 1) + ["tab:orange"]
    ax.bar(range(len(rows)), values, yerr=errors, capsize=3, color=colors)
    ax.axhline(50, color="k", linestyle="--", linewidth=1)
    ax.set_xticks(range(len(rows)), [str(Path(row["image"]).with_suffix("")) for row in rows], rotation=60, ha="right")
    ax.set_ylim(0, 100)
    ax.set_ylabel(f"prefer {result['scheme_a']} [%] ({round(100 * result['confidence'])} % Wilson CI)")
    ax.set_title(f"{result['scheme_a']} vs {result['scheme_b']}: {result['overall']['preference_a_percent']:.1f} % "
                 f"of {result['overall']['trials']} trials prefer {result['scheme_a']}")
    fig.tight_layout()
    path = Path(path)
    write_figure(fig, path, 110)
    plt.close(fig)
    return path


def analyse(study_path: str | Path, answer_paths: Sequence[str | Path], out: str | Path, *,
            confidence: float = 0.95, n_bootstrap: int = 2000, seed: int = 0) -> dict:
    """Check every answer file, compute the preferences, write ``out/preferences.json`` and ``out/preferences.png``.

    ``seed`` seeds the participant bootstrap. Every file is checked before anything is written.
    """
    study = load_study(study_path)
    answer_sets = [load_answers(path, study) for path in answer_paths]
    result = preferences(study, answer_sets, confidence=confidence, n_bootstrap=n_bootstrap,
                         rng=np.random.default_rng(seed))
    result |= {"study": str(study_path), "bootstrap_seed": seed}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "preferences.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    plot_preferences(result, out / "preferences.png")
    return result


def highest_less_preferred(results: Sequence[dict], b_name: str = "BPG") -> str:
    """The paper's statement over studies of one scheme A against B at increasing CBRs.

    Args:
        results: :func:`preferences` results (e.g. the ``preferences.json`` files), one per study, all with the
            same ``scheme_a`` and each with ``cbr_b`` (from the study, or read from B's label).
        b_name: how B is named in the sentence.

    Returns:
        "the highest-CBR BPG point still less preferred than <A> is CBR x (y % [lo, hi] prefer <A>)": the
        largest CBR of B whose Wilson interval for A lies entirely above 50 %; a sentence saying so when there is
        none.
    """
    if not results:
        raise StudyError("no study results; expected one preferences result per CBR of scheme B")
    for result in results:
        if not isinstance(result, dict) or any(key not in result for key in RESULT_KEYS) or not isinstance(
                result["overall"], dict) or "ci_percent" not in result["overall"]:
            raise StudyError(f"expected preferences results with {', '.join(RESULT_KEYS)} (as `ota study analyse` "
                             f"writes), got {str(result)[:80]}")
    names = {result["scheme_a"] for result in results}
    if len(names) != 1:
        raise StudyError(f"the studies compare different schemes A ({', '.join(sorted(names))}); expected one")
    name = names.pop()
    cbrs = []
    for result in results:
        if result.get("cbr_b") is None:
            raise StudyError(f"study {result['study_id']} ({result['scheme_b']}): no CBR for scheme B; build it with "
                             f"--cbr-b or name the CBR in its label (e.g. 'BPG CBR 1/24')")
        cbrs.append(result["cbr_b"])
    if len(set(cbrs)) != len(cbrs):
        raise StudyError(f"two studies have the same CBR for scheme B ({', '.join(map(format_cbr, cbrs))})")
    below = [result for result in results if result["overall"]["ci_percent"][0] > 50]
    if not below:
        level = round(100 * results[0]["confidence"])
        return f"no {b_name} point is less preferred than {name} with {level} % confidence"
    best = max(below, key=lambda result: result["cbr_b"])
    share = best["overall"]
    low, high = share["ci_percent"]
    return (f"the highest-CBR {b_name} point still less preferred than {name} is CBR {format_cbr(best['cbr_b'])} "
            f"({share['preference_a_percent']:.1f} % [{low:.1f}, {high:.1f}] prefer {name})")
