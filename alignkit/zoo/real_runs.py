"""The training half of the "On a real model" sections: each method's run on a real model (or the stand-in).

Each runner is named by its method's card (`MethodCard.real_model`); `alignkit.zoo.real_model.section` measures
before and after. How much a run does is a `RealRun`: GPU-sized by default, `CI_RUN` on the stand-in.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from alignkit.core.profiles import Profile, method_settings, profile_settings

__all__ = ["RealRun", "CI_RUN", "run_sft", "run_dpo", "run_ppo"]


@dataclass(frozen=True)
class RealRun:
    """How much a section does: rows, steps and prompts (GPU defaults; `CI_RUN` is the stand-in's)."""

    sft_rows: int = 512  # demonstrations from the world's sft.jsonl
    pair_prompts: int = 200  # prompts whose sampled responses the simulated labelers compare
    ppo_steps: int = 20
    eval_prompts: int = 100  # held-out prompts the harness measures before and after
    max_new_tokens: int = 64  # the harness's response cap (an untrained stand-in never stops by itself)


CI_RUN = RealRun(sft_rows=8, pair_prompts=4, ppo_steps=1, eval_prompts=4, max_new_tokens=12)


def _pairs(model, tokenizer, run: RealRun, seed: int = 0) -> list[dict]:
    from alignkit.methods.preferences import POLICY_SET, preference_rows

    size = replace(POLICY_SET, n_prompts=run.pair_prompts, samples_per_prompt=2, n_heldout_prompts=1)
    return preference_rows(model, tokenizer, size, seed=seed)["train"]


def run_sft(model, tokenizer, profile: Profile, run: RealRun) -> None:
    from alignkit.methods.sft import SFTSettings, train_sft
    from alignkit.world.files import read_jsonl

    settings = replace(method_settings(SFTSettings(), profile), epochs=1.0, learning_rate=2e-4)
    train_sft(model, tokenizer, read_jsonl("sft.jsonl")[:run.sft_rows], settings)


def run_dpo(model, tokenizer, profile: Profile, run: RealRun) -> None:
    from alignkit.methods.dpo import DPOSettings, train_dpo

    settings = method_settings(DPOSettings(), profile)
    ref_model = None if settings.lora else _copy(model)  # LoRA: the backbone with adapters off is the reference
    train_dpo(model, ref_model, tokenizer, _pairs(model, tokenizer, run), settings)


def run_ppo(model, tokenizer, profile: Profile, run: RealRun):
    """A reward model from the same backbone trained on labeled pairs, then PPO with the profile's LoRA.

    Returns the trained policy (a LoRA policy is a new peft model around a copy of `model`)."""
    from alignkit.methods.ppo import PPOSettings
    from alignkit.methods.ppo_train import ppo_models, train_ppo
    from alignkit.methods.reward import RewardSettings, reward_model_from_sft, train_reward_model
    from alignkit.world.files import read_jsonl

    reward_model = reward_model_from_sft(model, tokenizer)
    train_reward_model(reward_model, tokenizer, _pairs(model, tokenizer, run), method_settings(RewardSettings(), profile))
    sizes = profile_settings(profile)
    batch = min(sizes.batch_size, run.pair_prompts)
    settings = PPOSettings(steps=run.ppo_steps, batch_size=batch, minibatch_size=batch,
                           max_new_tokens=run.max_new_tokens)
    policy, ref_model, reward_model, value_model = ppo_models(model, reward_model, lora=sizes.lora)
    prompts = [r["prompt"] for r in read_jsonl("prompts_rl.jsonl")]
    train_ppo(policy, ref_model, reward_model, value_model, tokenizer, prompts, settings)
    return policy


def _copy(model):
    import copy

    return copy.deepcopy(model).eval()
