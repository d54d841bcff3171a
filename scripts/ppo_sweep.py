"""PPO-RLHF over kl_coef and seeds (alignkit.experiments.sweeps), written to data/results/ppo_sweep.json.

    python scripts/ppo_sweep.py --kl-coefs 0 0.05 0.2 0.5 --seeds 0 --jobs 2
"""
from __future__ import annotations

import argparse
import sys

from alignkit.experiments.common import RESULTS_DIR, write_result
from alignkit.experiments.sweeps import ppo_sweep
from alignkit.methods.ppo import PPOSettings


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kl-coefs", type=float, nargs="+", default=[0.0, 0.05, 0.2, 0.5])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, default=PPOSettings().steps,
                        help="PPO steps per run (default: the zoo recipe's)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS_DIR / "ppo_sweep.json"))
    args = parser.parse_args(argv)
    result = ppo_sweep(args.kl_coefs, args.seeds, args.steps, args.jobs)
    write_result(args.out, "python scripts/ppo_sweep.py " + " ".join(argv), result)
    for run in result["runs"]:
        print(run["kl_coef"], run["seed"], run["eval"])


if __name__ == "__main__":
    main(sys.argv[1:])
