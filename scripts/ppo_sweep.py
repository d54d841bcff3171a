"""PPO-RLHF sweep over kl_coef (and seeds): per-step training logs plus a held-out evaluation per run.

    python scripts/ppo_sweep.py --kl-coefs 0 0.05 0.1 0.2 --seeds 0 --jobs 2

Writes data/results/ppo_sweep.json: the command, the PPOConfig, and per run its kl_coef, seed, the
per-step log (gold is the oracle's, logged only, never optimised) and `evaluate`'s summary on the
held-out prompts. Chapter 04 plots this file (gold and RM score against sqrt(KL), final KL and gold
against kl_coef). Each run uses one CPU thread; --jobs runs that many at once.
"""
from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOG_KEYS = ("gold", "rm_score", "kl", "kl_exact", "response_length", "eos_rate", "entropy", "rollout_s", "update_s")
EVAL_KEYS = ("gold_reward", "rm_score", "kl_to_ref", "harmful_compliance", "over_refusal", "mean_length",
             "answer_rate", "fact_accuracy", "hallucination_rate")


def one_run(kl_coef: float, seed: int, steps: int) -> dict:
    import torch

    torch.set_num_threads(1)
    from alignkit import zoo
    from alignkit.evaluate import evaluate
    from alignkit.ppo import PPOConfig
    from alignkit.ppo_train import ppo_models, train_ppo
    from alignkit.profiles import setup
    from alignkit.world.files import read_jsonl

    setup(seed=seed, threads=1)
    sft_model, tokenizer = zoo.load("sft")
    reward_model, _ = zoo.load("rm")
    config = replace(PPOConfig(), kl_coef=kl_coef, seed=seed)
    policy, ref_model, rm, value_model = ppo_models(sft_model, reward_model)
    prompts = [row["prompt"] for row in read_jsonl("prompts_train.jsonl")]
    log = train_ppo(policy, ref_model, rm, value_model, tokenizer, prompts, config, steps)
    summary, _ = evaluate(policy, tokenizer, ref_model=ref_model, reward_model=rm, cloze=False)
    return {"kl_coef": kl_coef, "seed": seed, "steps": steps,
            "log": [{"step": row["step"], **{k: round(row[k], 4) for k in LOG_KEYS}} for row in log],
            "eval": {k: summary[k] for k in EVAL_KEYS}}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kl-coefs", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.2])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, default=None, help="PPO steps per run (default: build_ppo's)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "data" / "results" / "ppo_sweep.json"))
    args = parser.parse_args(argv)
    import inspect

    from alignkit.ppo import PPOConfig
    from alignkit.ppo_train import build_ppo

    steps = args.steps or inspect.signature(build_ppo).parameters["steps"].default
    grid = [(k, s) for k in args.kl_coefs for s in args.seeds]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        runs = list(pool.map(one_run, *zip(*grid), [steps] * len(grid)))
    command = "python scripts/ppo_sweep.py " + " ".join(sys.argv[1:] if argv is None else argv)
    result = {"command": command.strip(), "config": asdict(PPOConfig()), "steps": steps, "runs": runs}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    for run in runs:
        print(run["kl_coef"], run["seed"], run["eval"])


if __name__ == "__main__":
    main()
