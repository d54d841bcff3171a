"""Seed-to-seed spread of zoo checkpoints (alignkit.experiments.seeds), merged into data/results/seed_spread.json.

    .venv/bin/python scripts/seed_spread.py --names dpo kto --seeds 0 1 2 [--sampling-only]
"""
from __future__ import annotations

import argparse
import sys

from alignkit.experiments.common import RESULTS_DIR, earlier_runs, write_result
from alignkit.experiments.seeds import sampling_spread, seed_spread


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", nargs="+", required=True)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--sampling-only", action="store_true",
                        help="evaluate the committed checkpoints with each sampling seed instead of rebuilding them")
    parser.add_argument("--out", default=str(RESULTS_DIR / "seed_spread.json"))
    args = parser.parse_args(argv)
    if len(args.seeds) < 2:
        parser.error("a spread needs at least two seeds")
    command = "python scripts/seed_spread.py " + " ".join(argv)
    measure = sampling_spread if args.sampling_only else seed_spread
    results = earlier_runs(args.out) | measure(args.names, args.seeds, command)  # this world's other names are kept
    write_result(args.out, command, results)
    print("wrote", args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
