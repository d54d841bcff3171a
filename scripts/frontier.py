"""The reward-KL frontier (DPO paper, Figure 2, at toy scale): DPO at several beta, PPO at several KL targets.

    .venv/bin/python scripts/frontier.py [--jobs 2]

Every run starts from the zoo's `sft` and is evaluated every few steps on the held-out prompts: gold
reward, exact sequence KL to `sft`, and the zoo `rm`'s score. DPO trains on the labeled pairs that
`alignkit zoo build dpo` uses; PPO trains against `rm`, its adaptive KL controller steering to each
target. Gold comes from the oracle and is only measured. Writes data/results/frontier.json with the
command; chapters 04 and 06 plot it.
"""
from __future__ import annotations

import argparse
import inspect
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DPO_BETAS = (0.03, 0.1, 0.3, 1.0)
DPO_PUSHED = ((0.1, 5e-4), (0.5, 5e-4))  # (beta, learning rate): a larger step moves further from sft
PPO_TARGETS = (0.5, 1.0, 2.0, 4.0, 8.0)  # summed KL per response, nats
EVAL_EVERY_DPO, EVAL_EVERY_PPO, PPO_STEPS, PPO_HORIZON = 4, 5, 30, 64
KEYS = ("gold_reward", "rm_score", "kl_to_ref", "harmful_compliance", "over_refusal", "mean_length")


def _point(model, tokenizer, ref_model, reward_model, **where) -> dict:
    from alignkit.evaluate import evaluate

    training = model.training
    summary, _ = evaluate(model, tokenizer, ref_model=ref_model, reward_model=reward_model, cloze=False)
    model.train(training)  # sampling switches to eval mode; the trainer's mode comes back
    return where | {k: summary[k] for k in KEYS}  # evaluate already rounds to 4 places


def dpo_run(beta: float, learning_rate: float | None) -> list[dict]:
    import torch
    from transformers import TrainerCallback

    from alignkit import zoo
    from alignkit.dpo import DPOSettings, build_dpo, policy_reference_and_pairs, train_dpo
    from alignkit.world.labelers import LabelerConfig

    torch.set_num_threads(1)
    defaults = inspect.signature(build_dpo).parameters
    model, ref_model, tokenizer, data = policy_reference_and_pairs(
        "sft", None, defaults["n_prompts"].default, defaults["n_heldout_prompts"].default,
        defaults["samples_per_prompt"].default, 0, LabelerConfig())
    rm = zoo.load("rm")[0]  # its score is recorded next to gold: the proxy, as chapter 04 plots it
    settings = replace(DPOSettings(), beta=beta, learning_rate=learning_rate or DPOSettings().learning_rate)
    where = {"method": "dpo", "beta": beta, "learning_rate": settings.learning_rate}
    points = [_point(model, tokenizer, ref_model, rm, step=0, **where)]

    class EveryFewSteps(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step % EVAL_EVERY_DPO == 0:
                points.append(_point(model, tokenizer, ref_model, rm, step=state.global_step, **where))

    log = train_dpo(model, ref_model, tokenizer, data["train"], settings, eval_callback=EveryFewSteps())
    if points[-1]["step"] != log[-1]["step"]:
        points.append(_point(model, tokenizer, ref_model, rm, step=log[-1]["step"], **where))
    return points


class _EvaluateEvery:
    """Stands where train_ppo expects a live plot: every `every` steps it evaluates the policy instead."""

    def __init__(self, every: int, evaluate_at):
        self.every, self.evaluate_at = every, evaluate_at

    def log(self, step: int, **metrics) -> None:
        if step % self.every == 0:
            self.evaluate_at(step)


def ppo_run(target_kl: float) -> list[dict]:
    import torch

    from alignkit import zoo
    from alignkit.ppo import PPOConfig
    from alignkit.ppo_train import ppo_models, train_ppo
    from alignkit.world.files import read_jsonl

    torch.set_num_threads(1)
    sft_model, tokenizer = zoo.load("sft")
    policy, ref_model, rm, value_model = ppo_models(sft_model, zoo.load("rm")[0])
    prompts = [row["prompt"] for row in read_jsonl("prompts_train.jsonl")]
    # PPOConfig's default horizon (10,000 rollouts) lets beta move by under 20% in a 30-step run; 64 rollouts
    # (two steps) let the controller reach each target within the run.
    config = replace(PPOConfig(), target_kl=target_kl, kl_horizon=PPO_HORIZON)
    where = {"method": "ppo", "target_kl": target_kl}
    points = [_point(policy, tokenizer, ref_model, rm, step=0, **where)]

    def evaluate_at(step: int) -> None:
        points.append(_point(policy, tokenizer, ref_model, rm, step=step, **where))

    train_ppo(policy, ref_model, rm, value_model, tokenizer, prompts, config, PPO_STEPS,
              plot=_EvaluateEvery(EVAL_EVERY_PPO, evaluate_at))
    return points


def best_gold_within(points: list[dict], budgets=(0.25, 0.5, 1.0, 2.0, 4.0)) -> dict:
    """Per method, the highest gold reward among points with KL to sft at most each budget (nats)."""
    table = {}
    for method in sorted({p["method"] for p in points}):
        mine = [p for p in points if p["method"] == method]
        table[method] = {str(k): max((p["gold_reward"] for p in mine if p["kl_to_ref"] <= k), default=None)
                         for k in budgets}
    return table


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "data" / "results" / "frontier.json"))
    args = parser.parse_args(argv)
    from alignkit.dpo import DPOSettings
    from alignkit.ppo import PPOConfig

    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        dpo = [pool.submit(dpo_run, b, None) for b in DPO_BETAS]
        dpo += [pool.submit(dpo_run, b, lr) for b, lr in DPO_PUSHED]
        ppo = [pool.submit(ppo_run, t) for t in PPO_TARGETS]
        points = [p for job in dpo + ppo for p in job.result()]
    result = {"command": "python scripts/frontier.py " + " ".join(argv),
              "dpo_settings": asdict(DPOSettings()), "ppo_config": asdict(PPOConfig()), "ppo_steps": PPO_STEPS,
              "ppo_kl_horizon": PPO_HORIZON, "eval_every": {"dpo": EVAL_EVERY_DPO, "ppo": EVAL_EVERY_PPO},
              "points": points, "best_gold_within_kl": best_gold_within(points)}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["best_gold_within_kl"], indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
