"""Wall seconds and peak memory of each method's training on this machine (data/results/method_costs.json).

    .venv/bin/python scripts/method_costs.py [--names sft rm ppo ...]    # about 15 minutes of CPU for all

Each name is trained by its zoo recipe (`recipes.train`: train only, nothing saved, the zoo read in place) in its
own subprocess, so one method's memory never counts against the next. The child reports ru_maxrss (the peak
resident set) right after its imports and loading the recipe's parent checkpoint (baseline_bytes), then after
training (peak_bytes), and the wall seconds of the train call. --dry trains a tiny stand-in instead (tests).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
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
    from alignkit import recipes, zoo

    parent = recipes.RECIPES[name].parent
    if parent is not None:
        zoo.load(parent)  # the baseline includes one parent model in memory, as training will
    return lambda: recipes.train(name)


def worker(name: str, dry: bool) -> dict:
    """Measure one training in this process: {train_seconds, peak_bytes, baseline_bytes}."""
    train = _dry_setup() if dry else _recipe_setup(name)
    baseline = peak_rss_bytes()
    started = time.perf_counter()
    train()
    seconds = time.perf_counter() - started
    import torch

    return {"train_seconds": round(seconds, 1), "peak_bytes": peak_rss_bytes(), "baseline_bytes": baseline,
            "torch_threads": torch.get_num_threads(), **({"dry": True} if dry else {})}


def measure_in_subprocess(name: str, dry: bool = False) -> dict:
    """Run `worker(name)` in a fresh Python; its result. A failed child raises with the tail of its stderr."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", name] + (["--dry"] if dry else [])
    with tempfile.TemporaryDirectory(prefix="method-cost-") as scratch:  # any file a trainer writes lands here
        done = subprocess.run(command, cwd=scratch, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"measuring {name!r} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(lines[-1][len(RESULT_PREFIX):])


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", nargs="+", default=DEFAULT_NAMES, help="zoo recipes to measure")
    parser.add_argument("--out", default=None, help="results file (default data/results/method_costs.json)")
    parser.add_argument("--dry", action="store_true", help="train a tiny stand-in, not the recipe (needs --out)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: measure one name in this process
    args = parser.parse_args(argv)
    if args.worker:
        print(RESULT_PREFIX + json.dumps(worker(args.worker, args.dry)), flush=True)
        return {}
    if args.dry and args.out is None:
        parser.error("--dry writes stand-in numbers: give --out so they never land in data/results")
    from alignkit.experiments.common import RESULTS_DIR, read_result, write_result

    out = Path(args.out) if args.out else RESULTS_DIR / "method_costs.json"
    # Names measured earlier stay, so the methods can be measured a few at a time.
    costs = {k: v for k, v in read_result(out).items() if k != "command"}
    for name in args.names:
        costs[name] = measure_in_subprocess(name, args.dry)
        print(name, json.dumps(costs[name]), flush=True)
    write_result(out, "python scripts/method_costs.py " + " ".join(argv), costs)
    return costs


if __name__ == "__main__":
    main(sys.argv[1:])
