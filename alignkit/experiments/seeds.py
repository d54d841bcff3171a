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

from alignkit.zoo import recipes

from alignkit import zoo
from alignkit.measure.evaluate import EvalSettings, evaluate
from alignkit.experiments.common import run_parallel
from alignkit.core.profiles import setup

__all__ = ["KEYS", "summarise_runs", "seed_spread", "sampling_spread"]

KEYS = ("gold_reward", "gold_reward_se", "kl_to_ref", "harmful_compliance", "over_refusal", "hallucination_rate",
        "answer_rate", "heldout_fact_accuracy", "mean_length")


def summarise_runs(runs: list[dict]) -> dict:
    """Each metric's mean and standard deviation over the runs."""
    return {k: {"mean": round(statistics.mean(r[k] for r in runs), 4),
                "std": round(statistics.stdev(r[k] for r in runs), 4)} for k in KEYS if all(k in r for r in runs)}


def _built_with_seed(name: str, seed: int, scratch_zoo: Path) -> dict:
    setup(seed=seed, threads=1)
    metrics = recipes.build(name, seed=seed, root=scratch_zoo / f"{name}-{seed}")
    return {"seed": seed} | {k: metrics[k] for k in KEYS if k in metrics}


def seed_spread(names: list[str], seeds: list[int], command: str, jobs: int = 2) -> dict:
    """Rebuild each name once per seed (training seed and preference sampling both change), `jobs` at a time,
    each into its own scratch copy of the zoo. Seed 0 of a checkpoint the zoo built with seed 0 is read from
    the manifest instead: it is the same build."""
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        todo = [(n, s) for n in names for s in seeds if not (s == 0 and zoo.info(n).get("seed") == 0)]
        for name, seed in todo:
            shutil.copytree(zoo.zoo_root(), Path(scratch) / f"{name}-{seed}")
        built = dict(zip(todo, run_parallel(_built_with_seed, [(n, s, Path(scratch)) for n, s in todo], jobs)))
    for name in names:
        manifest = {"seed": 0} | {k: v for k, v in zoo.info(name)["metrics"].items() if k in KEYS}
        runs = [built[(name, s)] if (name, s) in built else manifest for s in seeds]
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
            config = EvalSettings(sampling=replace(EvalSettings().sampling, seed=seed))
            summary, _ = evaluate(model, tokenizer, ref_model=sft, config=config, cloze=False)
            runs.append({"sampling_seed": seed} | {k: summary[k] for k in KEYS if k in summary})
            print(name, runs[-1], flush=True)
        results[f"{name} (sampling seeds)"] = {"command": command, "runs": runs, "summary": summarise_runs(runs)}
    return results
