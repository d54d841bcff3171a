"""Seed-to-seed spread of zoo checkpoints: rebuild each name with several seeds and evaluate it.

    .venv/bin/python scripts/seed_spread.py --names dpo kto --seeds 0 1 2

Each build runs exactly as `alignkit zoo build NAME --seed S` does (same builder, same defaults: the seed
changes the preference sampling and the training order), but into a scratch copy of the zoo, so the
committed checkpoints stay as they are. With --sampling-only it instead evaluates the committed
checkpoints with each sampling seed: how much of a difference between two checkpoints is evaluation
noise. Writes data/results/seed_spread.json: per name, the command that made it and, per seed, the
held-out metrics, with each metric's mean and std.
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


def _summary(runs: list[dict]) -> dict:
    return {k: {"mean": round(statistics.mean(r[k] for r in runs), 4),
                "std": round(statistics.stdev(r[k] for r in runs), 4)} for k in KEYS if all(k in r for r in runs)}


def spread(names: list[str], seeds: list[int], command: str) -> dict:
    """Rebuild each name once per seed (training seed and preference sampling both change)."""
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
            results[name] = {"command": command, "runs": runs, "summary": _summary(runs)}
    return results


def sampling_spread(names: list[str], seeds: list[int], command: str) -> dict:
    """Evaluate each committed checkpoint with several sampling seeds: the evaluation's own noise."""
    from dataclasses import replace

    from alignkit import zoo
    from alignkit.evaluate import EvalConfig, evaluate

    results = {}
    sft, tokenizer = zoo.load("sft")
    for name in names:
        model, _ = zoo.load(name)
        runs = []
        for seed in seeds:
            config = EvalConfig(sampling=replace(EvalConfig().sampling, seed=seed))
            summary, _ = evaluate(model, tokenizer, ref_model=sft, config=config, cloze=False)
            runs.append({"sampling_seed": seed} | {k: summary[k] for k in KEYS if k in summary})
            print(name, runs[-1], flush=True)
        results[f"{name} (sampling seeds)"] = {"command": command, "runs": runs, "summary": _summary(runs)}
    return results


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", nargs="+", required=True)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--sampling-only", action="store_true",
                        help="evaluate the committed checkpoints with each sampling seed instead of rebuilding them")
    parser.add_argument("--out", default=str(ROOT / "data" / "results" / "seed_spread.json"))
    args = parser.parse_args(argv)
    if len(args.seeds) < 2:
        parser.error("a spread needs at least two seeds")
    out = Path(args.out)
    previous = json.loads(out.read_text()) if out.exists() else {}  # other names' runs are kept
    measure = sampling_spread if args.sampling_only else spread
    results = previous | measure(args.names, args.seeds, "python scripts/seed_spread.py " + " ".join(argv))
    out.write_text(json.dumps(results, indent=1) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main(sys.argv[1:])
