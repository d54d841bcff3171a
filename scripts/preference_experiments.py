"""KTO's experiments against DPO and SFT (alignkit.experiments.kto), each written to data/results/NAME.json.

    .venv/bin/python scripts/preference_experiments.py [--only kto_vs_dpo,one_output,imbalance,no_sft,fixed_budget]
"""
from __future__ import annotations

import argparse
import sys

from alignkit.experiments import kto


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(kto.EXPERIMENTS))
    args = parser.parse_args(argv)
    names = args.only.split(",")
    unknown = sorted(set(names) - set(kto.EXPERIMENTS))
    if unknown:
        parser.error(f"unknown experiment(s) {', '.join(unknown)}; choose from {', '.join(kto.EXPERIMENTS)}")
    print("wrote", *kto.run_and_write(names))


if __name__ == "__main__":
    main(sys.argv[1:])
