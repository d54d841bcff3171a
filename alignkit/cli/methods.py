"""`alignkit methods [--format markdown|csv] [--root ZOO]`: the course's method table, measured (alignkit.report.method_table)."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from alignkit.infra.errors import AlignkitError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("markdown", "csv"), default="markdown",
                        help="markdown: one column per method, values ± standard error; csv: every raw column")
    parser.add_argument("--root", default=None, help="the zoo directory (default: $ALIGNKIT_ZOO, else data/zoo)")
    parser.add_argument("--results", default=None, help="the results directory (default: data/results)")


def _check_sources(args: argparse.Namespace) -> None:
    """A missing zoo or results folder is an error: a table of "not measured" cells would look like a course
    that never measured them."""
    from alignkit import zoo
    from alignkit.infra.paths import NO_COURSE_DATA, has_course_data
    from alignkit.zoo.store import missing_zoo

    if args.root is None and args.results is None and not os.environ.get("ALIGNKIT_ZOO") and not has_course_data():
        raise AlignkitError(NO_COURSE_DATA.format(missing="its data/ folder"))
    if problem := missing_zoo(args.root):
        raise AlignkitError(problem)
    if args.results is not None and not Path(args.results).is_dir():
        raise AlignkitError(f"--results {args.results} is not a directory; pass the course's data/results "
                            "(or leave --results out).")
    if not zoo.read_manifest(args.root):
        raise AlignkitError(f"the zoo at {zoo.zoo_root(args.root)} holds no checkpoints; build them first, "
                            f"starting with: {zoo.rebuild_command('base')}")


def run(args: argparse.Namespace) -> int:
    _check_sources(args)
    from alignkit.report.method_table import as_csv, as_markdown, method_table

    table = method_table(root=args.root, results_dir=args.results)
    if table.empty:
        raise AlignkitError(f"the zoo at {args.root or 'the default location'} holds none of the course's methods "
                            "(sft, rm, ppo, dpo, kto, ...); build them with `alignkit zoo build NAME`.")
    print(as_csv(table) if args.format == "csv" else as_markdown(table), end="" if args.format == "csv" else "\n")
    return 0
