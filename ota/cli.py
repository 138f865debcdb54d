"""The ``ota`` command line: one sub-command per module in :mod:`ota.commands`.

Each module there defines ``register(subparsers)``, which adds its parser and sets
``func(args) -> int`` as the parser's default. Errors meant for the user are raised as
:class:`UserError` and printed as one line, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import ota.commands
from ota.radio import RadioError


class UserError(Exception):
    """Bad input from the user: printed as one clear line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ota",
        description="Perceptual deep JSCC over the air: simulate, transmit, receive, replay, train, evaluate.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(ota.commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"ota.commands.{info.name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UserError, FileNotFoundError, ValueError, RadioError) as exc:
        print(f"ota {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # python -m ota.cli (torchrun): run the module's canonical copy, so that the
    from ota.cli import main as canonical_main  # UserError the commands raise is the one caught there

    sys.exit(canonical_main())
