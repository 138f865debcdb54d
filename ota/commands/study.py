"""``ota study``: a two-alternative forced-choice user study of two schemes' reconstructions (the paper's Fig. 6).

  ota study build --a DIR_A --b DIR_B [--label-a NAME --label-b NAME] [--cbr-a X --cbr-b X] [--reference DIR]
                  --patches-per-image N --patch 256 --seed S --out DIR
      cuts patches at the same seeded random places from both folders (same file names, same sizes) and writes
      DIR/index.html (open it in a browser, or serve DIR with `python -m http.server`), DIR/patches/ and
      DIR/study.json.
  ota study analyse --study DIR/study.json ANSWERS.json [ANSWERS.json ...] --out RESULTS
      checks the answer files the page exported and writes RESULTS/preferences.json and RESULTS/preferences.png.
  ota study statement PREFERENCES.json [PREFERENCES.json ...]
      over studies of one scheme A against BPG at several CBRs: the highest-CBR BPG point still less preferred.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ota.commands import COMMANDS
from ota.study.analysis import analyse, highest_less_preferred
from ota.study.kit import StudyConfig, build_study, parse_cbr
from ota.user_error import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "study",
        help=COMMANDS["study"],
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    b = actions.add_parser("build", help="cut the patches and write the study page")
    b.add_argument("--a", required=True, metavar="DIR_A", help="reconstructions of scheme A")
    b.add_argument("--b", required=True, metavar="DIR_B", help="reconstructions of scheme B (same file names)")
    b.add_argument("--label-a", default=None, metavar="NAME", help="name of scheme A (default: DIR_A's name)")
    b.add_argument("--label-b", default=None, metavar="NAME", help="name of scheme B (default: DIR_B's name)")
    b.add_argument("--cbr-a", type=_cbr, default=None, metavar="CBR", help="CBR of scheme A, e.g. 1/48 (recorded)")
    b.add_argument("--cbr-b", type=_cbr, default=None, metavar="CBR", help="CBR of scheme B, e.g. 1/24 (recorded)")
    b.add_argument("--reference", default=None, metavar="DIR", help="originals, shown above each pair (optional)")
    b.add_argument("--patches-per-image", type=int, default=StudyConfig.patches_per_image, metavar="N",
                   help=f"patches cut from every image (default {StudyConfig.patches_per_image})")
    b.add_argument("--patch", type=int, default=StudyConfig.patch, metavar="SIZE",
                   help=f"patch side [pixels] (default {StudyConfig.patch})")
    b.add_argument("--seed", type=int, default=StudyConfig.seed,
                   help=f"seed of the patch places, trial order and sides (default {StudyConfig.seed})")
    b.add_argument("--out", required=True, help="output folder (must not exist yet, or be empty)")
    b.set_defaults(func=run_build)

    a = actions.add_parser("analyse", aliases=["analyze"], help="preferences from the participants' answer files")
    a.add_argument("--study", required=True, help="the study.json that `ota study build` wrote")
    a.add_argument("answers", nargs="+", metavar="ANSWERS.json", help="answer files exported by the page")
    a.add_argument("--out", required=True, help="folder for preferences.json and preferences.png")
    a.add_argument("--confidence", type=float, default=0.95, help="confidence level of the intervals (default 0.95)")
    a.add_argument("--bootstrap", type=int, default=2000, metavar="N",
                   help="participant bootstrap resamples (default 2000)")
    a.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    a.set_defaults(func=run_analyse)

    s = actions.add_parser("statement", help="the highest-CBR BPG point still less preferred than scheme A")
    s.add_argument("preferences", nargs="+", metavar="PREFERENCES.json", help="`ota study analyse` results")
    s.add_argument("--b-name", default="BPG", help="how scheme B is named in the sentence (default BPG)")
    s.set_defaults(func=run_statement)


def _cbr(text: str) -> float:
    try:
        return parse_cbr(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run_build(args: argparse.Namespace) -> int:
    label_a = args.label_a if args.label_a is not None else Path(args.a).resolve().name
    label_b = args.label_b if args.label_b is not None else Path(args.b).resolve().name
    if label_a == label_b:
        raise UserError(f"both schemes would be called {label_a!r}; name them with --label-a and --label-b")
    config = StudyConfig(label_a=label_a, label_b=label_b, patches_per_image=args.patches_per_image,
                         patch=args.patch, seed=args.seed, cbr_a=args.cbr_a, cbr_b=args.cbr_b)
    study = build_study(args.a, args.b, args.out, config, reference=args.reference)
    print(f"study {study['study_id']}: {len(study['trials'])} trials from {len(study['images'])} images "
          f"({label_a} vs {label_b}); open {Path(args.out) / 'index.html'}")
    return 0


def run_analyse(args: argparse.Namespace) -> int:
    if not 0 < args.confidence < 1:
        raise UserError(f"--confidence must lie between 0 and 1 (e.g. 0.95), got {args.confidence}")
    result = analyse(args.study, args.answers, args.out, confidence=args.confidence, n_bootstrap=args.bootstrap,
                     seed=args.seed)
    overall = result["overall"]
    low, high = overall["ci_percent"]
    print(f"{overall['preference_a_percent']:.1f} % [{low:.1f}, {high:.1f}] of {overall['trials']} trials by "
          f"{len(result['participants'])} participant(s) prefer {result['scheme_a']} over {result['scheme_b']} "
          f"(binomial p = {overall['binomial_p_value']:.3g}); wrote {Path(args.out) / 'preferences.json'}")
    return 0


def run_statement(args: argparse.Namespace) -> int:
    results = []
    for path in args.preferences:
        try:
            results.append(json.loads(Path(path).read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: malformed JSON ({exc}); expected a preferences.json of `ota study analyse`") \
                from None
    print(highest_less_preferred(results, b_name=args.b_name))
    return 0
