"""`alignkit world build|check`: regenerate the world's data files, or check they are current."""
from __future__ import annotations

import argparse
from pathlib import Path

from alignkit.world.files import DATA_DIR, stale_files, write_data


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("build", "check"), help="build: write the files; check: compare")
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="directory of the data files")


def run(args: argparse.Namespace) -> int:
    if args.action == "check":
        stale = stale_files(args.out)
        for name in stale:
            print(f"{args.out / name}: missing or out of date; run: alignkit world build")
        return 1 if stale else 0
    for name, rows in write_data(args.out).items():
        print(f"{args.out / name}: {rows} rows")
    return 0
