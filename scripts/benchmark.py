"""Measure the course's time and size budgets on this machine and print them as a table (and JSON with --json).

    python scripts/benchmark.py                 # chapters, course under nbval, unit tests, zoo size
    python scripts/benchmark.py --zoo           # + rebuild every zoo checkpoint into a temp folder
    python scripts/benchmark.py --zoo-only      # only the zoo rebuild (about half an hour)
    python scripts/benchmark.py --ci            # + .ci/run end to end on a fresh clone (slow)
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from alignkit.experiments import benchmark


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zoo", action="store_true", help="also rebuild the zoo into a temporary folder")
    parser.add_argument("--zoo-only", action="store_true", help="only rebuild the zoo into a temporary folder")
    parser.add_argument("--ci", action="store_true", help="also run .ci/run on a fresh clone")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args()
    rows = [benchmark.zoo_size()] if args.zoo_only else benchmark.measure_chapters() + [
        benchmark.measure_course(), benchmark.measure_unit_tests(), benchmark.zoo_size()]
    if args.zoo or args.zoo_only:
        rows += benchmark.measure_zoo_rebuild()
    if args.ci:
        rows.append(benchmark.measure_ci())
    print(benchmark.report(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0 if all(r["passed"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
