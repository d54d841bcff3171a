"""Seed-to-seed spread of zoo checkpoints: rebuild each name with several seeds and evaluate it.

    .venv/bin/python scripts/seed_spread.py --names dpo kto --seeds 0 1 2

Each build runs exactly as `alignkit zoo build NAME --seed S` does (same builder, same defaults: the seed
changes the preference sampling and the training order), but into a scratch copy of the zoo, so the
committed checkpoints stay as they are. Writes data/results/seed_spread.json: per name, the command that
made it and, per seed, the held-out metrics the builder recorded, with each metric's mean and std.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("gold_reward", "kl_to_ref", "harmful_compliance", "over_refusal", "hallucination_rate", "answer_rate",
        "heldout_fact_accuracy", "mean_length")


def spread(names: list[str], seeds: list[int], command: str) -> dict:
    from alignkit import zoo
    from alignkit.profiles import setup

    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        scratch_zoo = Path(scratch) / "zoo"
        shutil.copytree(zoo.zoo_root(), scratch_zoo)
        for name in names:
            runs = []
            for seed in seeds:
                setup(seed=seed)
                metrics = zoo.build(name, seed=seed, root=scratch_zoo)
                runs.append({"seed": seed} | {k: metrics[k] for k in KEYS if k in metrics})
                print(name, runs[-1], flush=True)
            summary = {k: {"mean": round(statistics.mean(r[k] for r in runs), 4),
                           "std": round(statistics.stdev(r[k] for r in runs), 4)}
                       for k in KEYS if all(k in r for r in runs)}
            results[name] = {"command": command, "runs": runs, "summary": summary}
    return results


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", nargs="+", required=True)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", default=str(ROOT / "data" / "results" / "seed_spread.json"))
    args = parser.parse_args(argv)
    if len(args.seeds) < 2:
        parser.error("a spread needs at least two seeds")
    out = Path(args.out)
    previous = json.loads(out.read_text()) if out.exists() else {}  # other names' runs are kept
    results = previous | spread(args.names, args.seeds, "python scripts/seed_spread.py " + " ".join(argv))
    out.write_text(json.dumps(results, indent=1) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main(sys.argv[1:])
