"""`alignkit world build|check`: regenerate the world's data files, or check they are current."""
from __future__ import annotations

import argparse
from pathlib import Path

from alignkit.world.files import DATA_DIR, stale_files, write_data


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("build", "check"), help="build: write the files; check: compare")
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="directory of the data files")


def run(args: argparse.Namespace) -> int:
    from alignkit.infra.errors import AlignkitError
    from alignkit.infra.paths import NO_COURSE_DATA, has_course_data

    if args.out == DATA_DIR and not has_course_data():  # never build the world into site-packages
        raise AlignkitError(NO_COURSE_DATA.format(missing=DATA_DIR.parent) + " Or pass --out DIR.")
    if args.out.exists() and not args.out.is_dir():
        raise AlignkitError(f"--out {args.out} is a file, not a directory.")
    if args.action == "check":
        if not args.out.is_dir():
            raise AlignkitError(f"--out {args.out} does not exist; build the data into it with: "
                                f"alignkit world build --out {args.out}")
        stale = stale_files(args.out)
        for name in stale:
            print(f"{args.out / name}: missing or out of date; run: alignkit world build")
        return 1 if stale else 0
    for name, rows in write_data(args.out).items():
        print(f"{args.out / name}: {rows} rows")
    return 0
