"""The reward-KL frontier of DPO and PPO (alignkit.experiments.frontier), written to data/results/frontier.json.

    .venv/bin/python scripts/frontier.py [--jobs 2]
"""
from __future__ import annotations

import argparse
import json
import sys

from alignkit.experiments.common import RESULTS_DIR, write_result
from alignkit.experiments.frontier import frontier


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS_DIR / "frontier.json"))
    args = parser.parse_args(argv)
    result = frontier(jobs=args.jobs)
    write_result(args.out, "python scripts/frontier.py " + " ".join(argv), result)
    print(json.dumps(result["best_gold_within_kl"], indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
