"""PPO-RLHF over kl_coef and seeds: per-step training logs plus a held-out evaluation per run.

Chapter 04 plots the result: gold and RM score against sqrt(KL), final KL and gold against kl_coef.
Gold in the logs is the oracle's, logged only, never optimised.
"""
from __future__ import annotations

from dataclasses import asdict

from alignkit.experiments.common import held_out_point, run_parallel
from alignkit.methods.ppo import PPOSettings
from alignkit.core.profiles import setup
from alignkit.zoo.recipes import train_ppo_checkpoint

__all__ = ["LOG_KEYS", "EVAL_KEYS", "ppo_run", "ppo_sweep"]

LOG_KEYS = ("gold", "rm_score", "kl", "kl_exact", "response_length", "eos_rate", "entropy", "rollout_s", "update_s")
EVAL_KEYS = ("gold_reward", "rm_score", "kl_to_ref", "harmful_compliance", "over_refusal", "mean_length",
             "answer_rate", "fact_accuracy", "hallucination_rate")


def ppo_run(kl_coef: float, seed: int, steps: int = PPOSettings().steps) -> dict:
    """The zoo's PPO recipe with this kl_coef and seed (one torch thread), its log and held-out evaluation."""
    setup(seed=seed, threads=1)
    trained = train_ppo_checkpoint(seed=seed, kl_coef=kl_coef, steps=steps)
    point = held_out_point(trained.model, trained.tokenizer, EVAL_KEYS, trained.ref_model, trained.reward_model)
    return {"kl_coef": kl_coef, "seed": seed, "steps": steps,
            "log": [{"step": row["step"], **{k: round(row[k], 4) for k in LOG_KEYS}} for row in trained.log],
            "eval": point}


def ppo_sweep(kl_coefs: list[float], seeds: list[int], steps: int = PPOSettings().steps, jobs: int = 2) -> dict:
    """One PPO run per (kl_coef, seed), `jobs` at a time."""
    runs = run_parallel(ppo_run, [(k, s, steps) for k in kl_coefs for s in seeds], jobs)
    return {"config": asdict(PPOSettings()), "steps": steps, "runs": runs}
