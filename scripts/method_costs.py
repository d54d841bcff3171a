"""Wall seconds and peak memory of each method's training on this machine (data/results/method_costs.json).

    .venv/bin/python scripts/method_costs.py [--names sft rm ppo ...]    # about 15 minutes of CPU for all

Each name trains by its zoo recipe in its own subprocess (alignkit.experiments.method_costs). --dry trains a
tiny stand-in instead (tests) and needs --out, so stand-in numbers never land in data/results.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alignkit.experiments.common import RESULTS_DIR
from alignkit.experiments.method_costs import DEFAULT_NAMES, measure_methods


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", nargs="+", default=DEFAULT_NAMES, help="zoo recipes to measure")
    parser.add_argument("--out", default=None, help="results file (default data/results/method_costs.json)")
    parser.add_argument("--dry", action="store_true", help="train a tiny stand-in, not the recipe (needs --out)")
    args = parser.parse_args(argv)
    if args.dry and args.out is None:
        parser.error("--dry writes stand-in numbers: give --out so they never land in data/results")
    out = Path(args.out) if args.out else RESULTS_DIR / "method_costs.json"
    return measure_methods(args.names, out, "python scripts/method_costs.py " + " ".join(argv), args.dry)


if __name__ == "__main__":
    main(sys.argv[1:])
