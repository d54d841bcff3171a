"""`alignkit methods [--format markdown|csv] [--root ZOO]`: the course's method table, measured (alignkit.report.method_table)."""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("markdown", "csv"), default="markdown",
                        help="markdown: one column per method, values ± standard error; csv: every raw column")
    parser.add_argument("--root", default=None, help="the zoo directory (default: $ALIGNKIT_ZOO, else data/zoo)")
    parser.add_argument("--results", default=None, help="the results directory (default: data/results)")


def run(args: argparse.Namespace) -> int:
    from alignkit.report.method_table import as_csv, as_markdown, method_table

    table = method_table(root=args.root, results_dir=args.results)
    print(as_csv(table) if args.format == "csv" else as_markdown(table), end="" if args.format == "csv" else "\n")
    return 0
