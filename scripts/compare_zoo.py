"""The zoo and the trivial baselines against sft on the test prompts (alignkit.experiments.comparisons).

    .venv/bin/python scripts/compare_zoo.py [--names sft ppo ppo-nokl dpo kto]   # data/results/zoo_comparison.json
"""
from __future__ import annotations

import argparse
import json
import sys

from alignkit.experiments.common import RESULTS_DIR, write_result
from alignkit.experiments.comparisons import compare_zoo


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", nargs="+", default=["sft", "ppo", "ppo-nokl", "dpo", "kto"])
    args = parser.parse_args(argv)
    result = compare_zoo(args.names)
    write_result(RESULTS_DIR / "zoo_comparison.json", "python scripts/compare_zoo.py " + " ".join(argv), result)
    print(json.dumps({name: (row["gold_reward"], row["gold_reward_se"], row["gold_reward_vs_sft"]["verdict"])
                      for name, row in result["rows"].items()}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
