"""Wall seconds and peak memory of each method's training on this machine (chapter 08's table).

    costs = measure_methods(["sft", "dpo"], out)    # each in its own Python; merged into `out`

Each name is trained by its zoo recipe (`recipes.train`: train only, nothing saved, the zoo read in place) in its
own subprocess (`python -m alignkit.experiments.method_costs NAME`), so one method's memory never counts against
the next. The child reports ru_maxrss (the peak resident set) right after its imports and loading the recipe's
parent checkpoint (baseline_bytes), then after training (peak_bytes), and the wall seconds of the train call.
dry=True trains a tiny stand-in instead (tests).
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from alignkit.experiments.common import earlier_runs, write_result
from alignkit.infra.paths import repo_root

__all__ = ["DEFAULT_NAMES", "peak_rss_bytes", "worker", "measure_in_subprocess", "measure_methods"]

REPO = repo_root()
DEFAULT_NAMES = ["sft", "rm", "ppo", "dpo", "kto", "sl-cai", "rl-cai", "rlaif-dpo"]
RESULT_PREFIX = "METHOD_COST "  # the child's one line of results on stdout, among the trainers' output


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def _dry_setup():
    """A tiny causal LM and a few SGD steps: the same measurement path, in a second."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2)
    model = LlamaForCausalLM(config)

    def train():
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(3):
            ids = torch.randint(0, 64, (4, 16))
            model(input_ids=ids, labels=ids).loss.backward()
            optimizer.step()
            optimizer.zero_grad()

    return train


def _recipe_setup(name: str):
    from alignkit.zoo import recipes
    from alignkit import zoo

    parent = recipes.card(name).recipe.parent
    if parent is not None:
        zoo.load(parent)  # the baseline includes one parent model in memory, as training will
    return lambda: recipes.train(name)


def worker(name: str, dry: bool) -> dict:
    """Measure one training in this process: {train_seconds, peak_bytes, baseline_bytes}."""
    import torch

    train = _dry_setup() if dry else _recipe_setup(name)
    baseline = peak_rss_bytes()
    started = time.perf_counter()
    train()
    seconds = time.perf_counter() - started
    return {"train_seconds": round(seconds, 1), "peak_bytes": peak_rss_bytes(), "baseline_bytes": baseline,
            "torch_threads": torch.get_num_threads(), **({"dry": True} if dry else {})}


def measure_in_subprocess(name: str, dry: bool = False) -> dict:
    """Run `worker(name)` in a fresh Python; its result. A failed child raises with the tail of its stderr."""
    command = [sys.executable, "-m", "alignkit.experiments.method_costs", name] + (["--dry"] if dry else [])
    with tempfile.TemporaryDirectory(prefix="method-cost-") as scratch:  # any file a trainer writes lands here
        done = subprocess.run(command, cwd=scratch, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"measuring {name!r} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(lines[-1][len(RESULT_PREFIX):])


def measure_methods(names: list[str], out: Path, command: str, dry: bool = False) -> dict:
    """Measure each name in its own subprocess and merge into `out`; names measured earlier stay, so the methods
    can be measured a few at a time."""
    costs = earlier_runs(out)
    for name in names:
        costs[name] = measure_in_subprocess(name, dry)
        print(name, json.dumps(costs[name]), flush=True)
    write_result(out, command, costs)
    return costs


if __name__ == "__main__":  # the child: measure one name, print one line
    print(RESULT_PREFIX + json.dumps(worker(sys.argv[1], "--dry" in sys.argv[2:])), flush=True)
