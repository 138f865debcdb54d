"""The ``ota`` command line: one sub-command per module in :mod:`ota.commands`, imported only when used.

Each module there defines ``register(subparsers)``, which adds its parser and sets
``func(args) -> int`` as the parser's default. Errors meant for the user are raised as
:class:`~ota.user_error.UserError` and printed as one line, without a traceback, exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ota.commands import COMMANDS
from ota.radios import RadioError
from ota.user_error import UserError


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of ``ota``: every command listed with its help, and the full parser of ``command`` (its
    module imported only then, so that ``ota --help`` and each command load only what they use)."""
    parser = argparse.ArgumentParser(
        prog="ota",
        description="Perceptual deep JSCC over the air: simulate, transmit, receive, replay, train, evaluate.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        if name == command:
            importlib.import_module(f"ota.commands.{name}").register(subparsers)
        else:
            subparsers.add_parser(name, help=help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    args = build_parser(next((word for word in words if not word.startswith("-")), None)).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UserError, FileNotFoundError, ValueError, RadioError) as exc:
        print(f"ota {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # python -m ota.cli (torchrun)
    sys.exit(main())
