"""The reward-KL frontier (DPO paper, Figure 2, at toy scale): DPO at several beta, PPO at several KL targets.

Every run starts from the zoo's `sft` and is measured every few steps on the held-out prompts: gold
reward (the oracle's, measured only), exact sequence KL to `sft`, and the zoo `rm`'s score. DPO trains on
the pairs `alignkit zoo build dpo` uses; PPO trains against `rm`, its adaptive KL controller steering
to each target. Chapters 04 and 06 plot the result.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch

from alignkit import zoo
from alignkit.methods.dpo import DPOSettings, train_dpo
from alignkit.experiments.common import every, held_out_point, run_parallel
from alignkit.methods.ppo import PPOSettings
from alignkit.methods.ppo_train import train_ppo
from alignkit.zoo.recipes import dpo_setup, ppo_setup

__all__ = ["FrontierPlan", "dpo_run", "ppo_run", "best_gold_within", "frontier"]

KEYS = ("gold_reward", "rm_score", "kl_to_ref", "harmful_compliance", "over_refusal", "mean_length")


@dataclass(frozen=True)
class FrontierPlan:
    dpo_betas: tuple[float, ...] = (0.1, 0.3, 1.0)
    dpo_pushed: tuple[tuple[float, float], ...] = ((0.3, 5e-4),)  # (beta, lr): a larger step goes further
    ppo_targets: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)  # summed KL per response, nats
    eval_every_dpo: int = 8  # optimiser steps between held-out measurements
    eval_every_ppo: int = 5
    ppo_steps: int = PPOSettings().steps
    # PPOSettings' default horizon (10,000 rollouts) lets beta move by under 20% in a 30-step run; 64 rollouts
    # (two steps) let the controller reach each target within the run.
    ppo_kl_horizon: int = 64


def dpo_run(beta: float, learning_rate: float | None, plan: FrontierPlan = FrontierPlan()) -> list[dict]:
    """One DPO run from `sft`, measured at step 0, every few steps, and at its end."""
    torch.set_num_threads(1)
    model, ref_model, tokenizer, data = dpo_setup(seed=0)
    rm = zoo.load("rm")[0]  # its score is recorded next to gold: the proxy, as chapter 04 plots it
    settings = replace(DPOSettings(), beta=beta, learning_rate=learning_rate or DPOSettings().learning_rate)
    where = {"method": "dpo", "beta": beta, "learning_rate": settings.learning_rate}

    def measure(step: int) -> None:
        points.append(held_out_point(model, tokenizer, KEYS, ref_model, rm, step=step, **where))

    points: list[dict] = []
    measure(0)
    log = train_dpo(model, ref_model, tokenizer, data["train"], settings, on_step=every(plan.eval_every_dpo, measure))
    if points[-1]["step"] != log[-1]["step"]:
        measure(log[-1]["step"])
    return points


def ppo_run(target_kl: float, plan: FrontierPlan = FrontierPlan()) -> list[dict]:
    """One PPO run from `sft` with the adaptive KL controller steering to `target_kl`, measured every few steps."""
    torch.set_num_threads(1)
    settings = replace(PPOSettings(), steps=plan.ppo_steps, target_kl=target_kl, kl_horizon=plan.ppo_kl_horizon)
    policy, ref_model, rm, value_model, tokenizer, prompts = ppo_setup()
    where = {"method": "ppo", "target_kl": target_kl}

    def measure(step: int) -> None:
        points.append(held_out_point(policy, tokenizer, KEYS, ref_model, rm, step=step, **where))

    points: list[dict] = []
    measure(0)
    train_ppo(policy, ref_model, rm, value_model, tokenizer, prompts, settings,
              on_step=every(plan.eval_every_ppo, measure))
    return points


def best_gold_within(points: list[dict], budgets=(0.25, 0.5, 1.0, 2.0, 4.0)) -> dict:
    """Per method, the highest gold reward among points with KL to sft at most each budget (nats)."""
    table = {}
    for method in sorted({p["method"] for p in points}):
        mine = [p for p in points if p["method"] == method]
        table[method] = {str(k): max((p["gold_reward"] for p in mine if p["kl_to_ref"] <= k), default=None)
                         for k in budgets}
    return table


def frontier(plan: FrontierPlan = FrontierPlan(), jobs: int = 2) -> dict:
    """Every run of the plan, `jobs` at a time; the points and the best gold within each KL budget."""
    dpo_args = [(beta, None, plan) for beta in plan.dpo_betas] + [(b, lr, plan) for b, lr in plan.dpo_pushed]
    dpo_points = run_parallel(dpo_run, dpo_args, jobs)
    ppo_points = run_parallel(ppo_run, [(target, plan) for target in plan.ppo_targets], jobs)
    points = [p for run in dpo_points + ppo_points for p in run]
    return {"plan": asdict(plan), "dpo_settings": asdict(DPOSettings()), "ppo_config": asdict(PPOSettings()),
            "eval_every": {"dpo": plan.eval_every_dpo, "ppo": plan.eval_every_ppo},
            "points": points, "best_gold_within_kl": best_gold_within(points)}
