"""The size of the tree that the device tool would send to the GPU machine, against its 64 MiB limit.

What travels (the device tool's README): the tracked files, the untracked files git does not ignore, and
the carried paths (ignored folders named in ``carry``).

    python gpu/travel_size.py --carry gpu/pack gpu/wheels gpu/weights      # exit status 1 when over
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

LIMIT_BYTES = 64 * 2**20
REPOSITORY = Path(__file__).resolve().parents[1]


def git_files(repository: Path) -> list[Path]:
    """Tracked files and untracked files that git does not ignore, as paths under ``repository``."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=repository, check=True, capture_output=True).stdout
    return [repository / name for name in listing.decode().split("\0") if name]


def path_bytes(path: Path) -> int:
    """Bytes of a file, or of every file under a folder (0 for a path that does not exist)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def travel_size(repository: Path = REPOSITORY, carry: tuple[str, ...] = ()) -> dict[str, int]:
    """Bytes that would travel: ``repository`` (git's files) and each carried path, and their ``total``."""
    sizes = {"repository": sum(path_bytes(p) for p in git_files(repository) if p.is_file())}
    sizes |= {name: path_bytes(repository / name) for name in carry}
    sizes["total"] = sum(sizes.values())
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--carry", nargs="*", default=[], help="carried paths, relative to the repository root")
    args = parser.parse_args(argv)
    sizes = travel_size(carry=tuple(args.carry))
    for name, size in sizes.items():
        print(f"{name:>12}: {size / 2**20:6.2f} MiB")
    if sizes["total"] > LIMIT_BYTES:
        print(f"over the {LIMIT_BYTES / 2**20:.0f} MiB the device tool sends: carry less", file=sys.stderr)
        return 1
    print(f"{(LIMIT_BYTES - sizes['total']) / 2**20:.2f} MiB to spare under {LIMIT_BYTES / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
