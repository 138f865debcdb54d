"""Building a two-alternative forced-choice (2AFC) study of two schemes' reconstructions (the paper's Fig. 6).

Given two folders of reconstructions of the same images (scheme A and scheme B: the same file names in both,
the same size per name), :func:`build_study` cuts ``patches_per_image`` square patches from every image at the
same seeded random places in both (and in an optional reference folder), and writes into the output folder:

* ``patches/<patch_id>_a.png``, ``_b.png`` (and ``_ref.png``): the patches, lossless PNG;
* ``index.html``: a static page (inline JS/CSS, no external URL; works from ``file://`` and from a local HTTP
  server) that shows each pair side by side in a seeded random order, scheme A on a seeded random side, asks
  "Which image looks better?" (click, or the keys left / right arrow), records every choice with its response time
  [ms] and exports the answers as JSON (a download link, a ``<pre>`` block and ``window.studyResults``);
* ``study.json``: what :mod:`ota.study.analysis` needs to read the answers back (scheme labels and CBRs,
  sources, seed, patch coordinates, the trial list with the side of each scheme, and a ``study_id``).

The answers a participant exports are ``{study_id, participant, user_agent, started_at, finished_at,
trials: [{trial, patch_id, image, left_scheme, right_scheme, choice_scheme, response_ms}]}``, where the
``*_scheme`` fields hold scheme labels. The page shows no label, so the study is blind to the participant (the
labels are in the page's data, for the export). Every participant of one page sees the same trial order.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from fractions import Fraction
from importlib import resources
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image

from models.image_io import list_images, load_image, to_uint8
from models.progress import Progress

STUDY_FORMAT = "ota-user-study/1"
QUESTION = "Which image looks better?"
PAGE_TEMPLATE = "page.html"
PAGE_DATA_TOKEN = "__STUDY_DATA__"
SCHEMES = ("A", "B")
_CBR_IN_LABEL = re.compile(r"cbr\s*[=:_-]?\s*(\d+(?:\.\d+)?)(?:\s*/\s*(\d+(?:\.\d+)?))?", re.IGNORECASE)


class StudyError(ValueError):
    """Bad input to building or analysing a user study (folders, study file, answer files)."""


@dataclass(frozen=True)
class StudyConfig:
    """How a study is cut and shuffled.

    Attributes:
        label_a, label_b: names of the two schemes (distinct; stored in the page and in every answer).
        patches_per_image: patches cut from every image.
        patch: side of the square patches [pixels]; every patch lies fully inside its image.
        seed: seed of the numpy Generator that draws the patch places, the trial order and the sides.
        cbr_a, cbr_b: channel bandwidth ratio of each scheme, or None (recorded for the analysis).
    """

    label_a: str = "A"
    label_b: str = "B"
    patches_per_image: int = 4
    patch: int = 256
    seed: int = 0
    cbr_a: float | None = None
    cbr_b: float | None = None

    def __post_init__(self) -> None:
        for name in ("label_a", "label_b"):
            label = getattr(self, name)
            if not isinstance(label, str) or not label.strip():
                raise StudyError(f"{name}: expected a non-empty scheme name, got {label!r}")
        if self.label_a == self.label_b:
            raise StudyError(f"the two schemes need different labels, both are {self.label_a!r}")
        if self.patches_per_image < 1:
            raise StudyError(f"patches_per_image must be at least 1, got {self.patches_per_image}")
        if self.patch < 1:
            raise StudyError(f"patch must be a positive size in pixels (e.g. 256), got {self.patch}")
        for name in ("cbr_a", "cbr_b"):
            cbr = getattr(self, name)
            if cbr is not None and not (math.isfinite(cbr) and 0 < cbr <= 1):
                raise StudyError(f"{name} must be a channel bandwidth ratio in (0, 1], got {cbr}")


def parse_cbr(text: str) -> float:
    """``"1/24"`` or ``"0.0417"`` -> a CBR in (0, 1]; StudyError otherwise."""
    try:
        value = float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise StudyError(f"CBR {text!r} is not a number; expected a fraction like 1/24 or a decimal like 0.0417") \
            from None
    if not 0 < value <= 1:
        raise StudyError(f"CBR {text!r} is out of range; expected a channel bandwidth ratio in (0, 1]")
    return value


def cbr_from_label(label: str) -> float | None:
    """The CBR named in a scheme label such as ``"BPG CBR 1/24"`` or ``"bpg_cbr0.05"``, or None."""
    match = _CBR_IN_LABEL.search(label)
    if match is None:
        return None
    numerator, denominator = match.groups()
    text = numerator if denominator is None else f"{numerator}/{denominator}"
    try:
        return parse_cbr(text)
    except StudyError:
        return None


def format_cbr(cbr: float) -> str:
    """0.041666 -> ``"1/24"``; a CBR that is not 1/n -> ``"0.05"``."""
    inverse = 1 / cbr
    return f"1/{round(inverse)}" if abs(inverse - round(inverse)) < 1e-6 * inverse else f"{cbr:g}"


def match_images(dir_a: str | Path, dir_b: str | Path, reference: str | Path | None = None) -> list[tuple[str, dict]]:
    """Pair the images of the two folders (and the reference folder) by relative file name.

    Returns:
        sorted ``[(name, {"A": path, "B": path[, "reference": path]})]``; name is the POSIX relative path.

    Raises:
        StudyError naming the files found in one folder but not in another.
    """
    roots = {"A": Path(dir_a), "B": Path(dir_b)}
    if reference is not None:
        roots["reference"] = Path(reference)
    files = {role: {p.relative_to(root).as_posix(): p for p in list_images(root)} for role, root in roots.items()}
    names = set().union(*files.values())
    problems = []
    for role, found in files.items():
        missing = sorted(names - set(found))
        if missing:
            problems.append(f"missing from {role} ({roots[role]}): {', '.join(missing)}")
    if problems:
        raise StudyError("the folders must hold the same image names; " + "; ".join(problems))
    return [(name, {role: found[name] for role, found in files.items()}) for name in sorted(names)]


def patch_positions(height: int, width: int, patch: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` uniformly drawn top-left corners of ``patch`` x ``patch`` squares fully inside an image.

    Returns:
        int64 array (count, 2): ``[top, left]`` [pixels], ``0 <= top <= height - patch``, same for left.
    """
    if height < patch or width < patch:
        raise StudyError(f"a {height}x{width} image is smaller than the {patch}x{patch} patch")
    top = rng.integers(0, height - patch + 1, size=count)
    left = rng.integers(0, width - patch + 1, size=count)
    return np.stack([top, left], axis=1).astype(np.int64)


def trial_order(n_patches: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The shuffled order of the patches and, per trial, whether scheme A is shown on the left.

    Returns:
        (order int64 (n_patches,) [patch index of each trial], a_left bool (n_patches,)).
    """
    return rng.permutation(n_patches), rng.integers(0, 2, size=n_patches).astype(bool)


def _png_bytes(array: np.ndarray) -> bytes:
    buffer = BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _cut_patches(images: list[tuple[str, dict]], config: StudyConfig, root: Path,
                 rng: np.random.Generator) -> tuple[list[dict], list[dict]]:
    """Read every image, cut its patches, write them under ``root/patches``; returns (image sizes, patch records)."""
    sizes, patches = [], []
    suffix = {"A": "a", "B": "b", "reference": "ref"}
    for name, paths in Progress(images, desc="cutting patches", unit="image", disable=len(images) < 8):
        arrays = {role: to_uint8(load_image(path)) for role, path in paths.items()}
        shapes = {role: array.shape[:2] for role, array in arrays.items()}
        if len(set(shapes.values())) != 1:
            listed = ", ".join(f"{role} {h}x{w}" for role, (h, w) in shapes.items())
            raise StudyError(f"{name}: the images differ in size ({listed}); expected the same size in every folder")
        height, width = shapes["A"]
        try:
            corners = patch_positions(height, width, config.patch, config.patches_per_image, rng)
        except StudyError as exc:
            raise StudyError(f"{name}: {exc}") from None
        sizes.append({"name": name, "height": int(height), "width": int(width)})
        for top, left in corners.tolist():
            patch_id = f"p{len(patches):04d}"
            record = {"patch_id": patch_id, "image": name, "top": top, "left": left, "size": config.patch,
                      "files": {}, "sha256": {}}
            for role, array in arrays.items():
                data = _png_bytes(np.ascontiguousarray(array[top:top + config.patch, left:left + config.patch]))
                file = f"patches/{patch_id}_{suffix[role]}.png"
                (root / file).write_bytes(data)
                record["files"][role] = file
                record["sha256"][role] = hashlib.sha256(data).hexdigest()
            patches.append(record)
    return sizes, patches


def _trials(patches: list[dict], config: StudyConfig, rng: np.random.Generator) -> list[dict]:
    labels = {"A": config.label_a, "B": config.label_b}
    order, a_left = trial_order(len(patches), rng)
    trials = []
    for trial, (index, left_is_a) in enumerate(zip(order.tolist(), a_left.tolist(), strict=True)):
        record = patches[index]
        left, right = ("A", "B") if left_is_a else ("B", "A")
        trials.append({
            "trial": trial, "patch_id": record["patch_id"], "image": record["image"],
            "left_scheme": labels[left], "right_scheme": labels[right],
            "left_file": record["files"][left], "right_file": record["files"][right],
            "reference_file": record["files"].get("reference"),
        })
    return trials


def study_id_of(study: dict) -> str:
    """16 hex digits of the SHA-256 of what defines the trials (question, labels, patches with their PNG hashes,
    trial list), as canonical JSON: the same study gives the same id, any other study another one."""
    content = {key: study[key] for key in ("question", "schemes", "patches", "trials")}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]


def render_page(study: dict) -> str:
    """The study page: the packaged template with the study's public data embedded as JSON."""
    data = {key: study[key] for key in ("study_id", "question", "trials")} | {"patch": study["config"]["patch"]}
    text = json.dumps(data, separators=(",", ":"))
    # Inside <script>, "<" would let a label close the element; JSON allows the \u escapes instead.
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    template = resources.files("ota.study").joinpath(PAGE_TEMPLATE).read_text(encoding="utf-8")
    if template.count(PAGE_DATA_TOKEN) != 1:
        raise RuntimeError(f"{PAGE_TEMPLATE} must contain {PAGE_DATA_TOKEN} exactly once")
    return template.replace(PAGE_DATA_TOKEN, text)


def _prepare_out(out: Path) -> Path:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise StudyError(f"{out}: the output folder must not exist yet, or be empty")
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))


def build_study(dir_a: str | Path, dir_b: str | Path, out: str | Path, config: StudyConfig,
                reference: str | Path | None = None) -> dict:
    """Build the study page, its patches and ``study.json`` in ``out`` (a new or empty folder).

    The draws from ``np.random.default_rng(config.seed)`` are, in this order: the patch corners of every image
    (images sorted by name), the trial order, scheme A's side per trial. The folder appears whole or not at all.

    Returns:
        the study description, as written to ``out/study.json``.
    """
    out = Path(out)
    images = match_images(dir_a, dir_b, reference)
    work = _prepare_out(out)
    try:
        rng = np.random.default_rng(config.seed)
        (work / "patches").mkdir()
        sizes, patches = _cut_patches(images, config, work, rng)
        study = {
            "format": STUDY_FORMAT,
            "question": QUESTION,
            "schemes": {"A": config.label_a, "B": config.label_b},
            "cbr": {"A": config.cbr_a, "B": config.cbr_b},
            "sources": {"A": str(dir_a), "B": str(dir_b), "reference": None if reference is None else str(reference)},
            "config": asdict(config),
            "images": sizes,
            "patches": patches,
            "trials": _trials(patches, config, rng),
        }
        study["study_id"] = study_id_of(study)
        (work / "study.json").write_text(json.dumps(study, indent=2) + "\n", encoding="utf-8")
        (work / "index.html").write_text(render_page(study), encoding="utf-8")
        if out.exists():
            out.rmdir()
        os.replace(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return study


def load_study(path: str | Path) -> dict:
    """Read and check a ``study.json`` written by :func:`build_study`."""
    path = Path(path)
    try:
        study = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StudyError(f"{path}: no such study file; expected the study.json that `ota study build` wrote") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StudyError(f"{path}: not valid JSON ({exc}); expected a study.json from `ota study build`") from None
    if not isinstance(study, dict) or study.get("format") != STUDY_FORMAT:
        raise StudyError(f"{path}: not a study description; expected a JSON object with format {STUDY_FORMAT!r}")
    missing = [key for key in ("study_id", "question", "schemes", "cbr", "config", "patches", "trials")
               if key not in study]
    if missing:
        raise StudyError(f"{path}: missing {', '.join(missing)}; expected a complete study.json")
    if study_id_of(study) != study["study_id"]:
        raise StudyError(f"{path}: the content does not match its study_id {study['study_id']}; was it edited?")
    return study
