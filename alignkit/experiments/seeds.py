"""Seed-to-seed spread of zoo checkpoints, and the evaluation's own sampling noise.

`seed_spread` rebuilds each name with several seeds exactly as `alignkit zoo build NAME --seed S` does
(the seed changes the preference sampling and the training order), into a scratch copy of the zoo, so
the committed checkpoints stay as they are. `sampling_spread` evaluates the committed checkpoints under
several sampling seeds: how much of a difference between two checkpoints is evaluation noise.
"""
from __future__ import annotations

import shutil
import statistics
import tempfile
from dataclasses import replace
from pathlib import Path

from alignkit import recipes, zoo
from alignkit.evaluate import EvalConfig, evaluate
from alignkit.profiles import setup

__all__ = ["KEYS", "summarise_runs", "seed_spread", "sampling_spread"]

KEYS = ("gold_reward", "kl_to_ref", "harmful_compliance", "over_refusal", "hallucination_rate", "answer_rate",
        "heldout_fact_accuracy", "mean_length")


def summarise_runs(runs: list[dict]) -> dict:
    """Each metric's mean and standard deviation over the runs."""
    return {k: {"mean": round(statistics.mean(r[k] for r in runs), 4),
                "std": round(statistics.stdev(r[k] for r in runs), 4)} for k in KEYS if all(k in r for r in runs)}


def seed_spread(names: list[str], seeds: list[int], command: str) -> dict:
    """Rebuild each name once per seed (training seed and preference sampling both change) into a scratch zoo."""
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        scratch_zoo = Path(scratch) / "zoo"
        shutil.copytree(zoo.zoo_root(), scratch_zoo)
        for name in names:
            runs = []
            for seed in seeds:
                setup(seed=seed)
                metrics = recipes.build(name, seed=seed, root=scratch_zoo)
                runs.append({"seed": seed} | {k: metrics[k] for k in KEYS if k in metrics})
                print(name, runs[-1], flush=True)
            results[name] = {"command": command, "runs": runs, "summary": summarise_runs(runs)}
    return results


def sampling_spread(names: list[str], seeds: list[int], command: str) -> dict:
    """Evaluate each committed checkpoint with several sampling seeds: the evaluation's own noise."""
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
        results[f"{name} (sampling seeds)"] = {"command": command, "runs": runs, "summary": summarise_runs(runs)}
    return results
