"""The training half of the "On a real model" sections: each method's run on a real model (or the stand-in).

Each runner is named by its method's card (`MethodCard.real_model`); `alignkit.zoo.real_model.section` measures
before and after. How much a run does is a `RealRun`: GPU-sized by default, `CI_RUN` on the stand-in.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from alignkit.core.profiles import Profile, method_settings, profile_settings
from alignkit.measure.stats import mean_and_se, verdict

__all__ = ["RealRun", "CI_RUN", "CPU_RUN", "run_sft", "run_dpo", "run_ppo"]


@dataclass(frozen=True)
class RealRun:
    """How much a section does: rows, steps and prompts (GPU defaults; `CI_RUN` is the stand-in's)."""

    sft_rows: int = 512  # demonstrations from the world's sft.jsonl
    pair_prompts: int = 200  # prompts whose sampled responses the simulated labelers compare
    ppo_steps: int = 20
    eval_prompts: int = 100  # held-out prompts the harness measures before and after, the same number of each kind
    max_new_tokens: int = 64  # the harness's response cap (an untrained stand-in never stops by itself)
    stored_pairs: int = 0  # > 0: train on this many of the zoo's stored policy pairs instead of sampling new ones
    learning_rate: float | None = None  # SFT's and DPO's step; None: SFT 2e-4 (LoRA), DPO its settings' default
    heldout_pairs: int = 0  # > 0: DPO's implicit reward and PPO's reward model judged on this many held-out stored pairs


CI_RUN = RealRun(sft_rows=8, pair_prompts=4, ppo_steps=1, eval_prompts=5, max_new_tokens=12)
# SmolLM2 on a laptop's 2 cores, 1 to 2.5 minutes a section: the zoo's stored pairs (sampling 200 prompts from a
# 135M model would take longer than the rest of the run), short responses, and 10 test prompts of each kind.
CPU_RUN = RealRun(sft_rows=64, ppo_steps=4, eval_prompts=50, max_new_tokens=40, stored_pairs=64, learning_rate=5e-4,
                  heldout_pairs=60)


def _stored_pairs(run: RealRun) -> dict[str, list[dict]]:
    """The zoo's policy preference set cut to the run, read once: its first run.stored_pairs training pairs ("train":
    sft's answers compared by the simulated labelers, as the chapters' dpo trains on) and its first run.heldout_pairs
    pairs on validation prompts ("heldout"). Empty where the run asks for none."""
    if not (run.stored_pairs or run.heldout_pairs):
        return {"train": [], "heldout": []}
    from alignkit.zoo.store import load
    from alignkit.zoo.preference_data import policy_preference_rows

    rows = policy_preference_rows(*load("sft"))
    return {"train": rows["train"][:run.stored_pairs], "heldout": rows["heldout"][:run.heldout_pairs]}


def _judged(what: str, credit: list[float]) -> str:
    """A sentence: the share of held-out pairs `what` orders as the labelers did, its SE, against a coin's 0.5."""
    accuracy, se = mean_and_se(credit)
    return (f"{what} orders {accuracy:.3f} ± {se:.3f} of {len(credit)} held-out pairs as the labelers did, against a "
            f"coin's 0.5: {verdict(accuracy - 0.5, se, 'better than a coin', 'worse than a coin')}.")


def _sampled_pairs(model, tokenizer, run: RealRun, seed: int = 0) -> list[dict]:
    """Pairs of the model's own answers to run.pair_prompts prompts, compared by the simulated labelers."""
    from alignkit.methods.preferences import POLICY_SET, preference_rows

    size = replace(POLICY_SET, n_prompts=run.pair_prompts, samples_per_prompt=2, n_heldout_prompts=1)
    return preference_rows(model, tokenizer, size, seed=seed)["train"]


def run_sft(model, tokenizer, profile: Profile, run: RealRun) -> None:
    from alignkit.methods.sft import SFTSettings, train_sft
    from alignkit.world.files import read_jsonl

    settings = replace(method_settings(SFTSettings(), profile), epochs=1.0,
                       learning_rate=run.learning_rate or 2e-4)
    train_sft(model, tokenizer, read_jsonl("sft.jsonl")[:run.sft_rows], settings)


def run_dpo(model, tokenizer, profile: Profile, run: RealRun) -> None:
    from alignkit.methods.dpo import DPOSettings, train_dpo

    settings = method_settings(DPOSettings(), profile)
    settings = replace(settings, learning_rate=run.learning_rate or settings.learning_rate)
    ref_model = None if settings.lora else _copy(model)  # LoRA: the backbone with adapters off is the reference
    before = (ref_model or _copy(model)) if run.heldout_pairs else None  # kept only to judge held-out pairs
    stored = _stored_pairs(run)
    train_dpo(model, ref_model, tokenizer, stored["train"] or _sampled_pairs(model, tokenizer, run), settings)
    if before is not None:  # before training every implicit reward is 0: each pair a tie, credited 0.5
        from alignkit.methods.preferences import implicit_reward_credit

        credit = implicit_reward_credit(model, before, tokenizer, stored["heldout"], settings.beta)
        print(_judged("DPO's implicit reward beta·log(π/π_ref), 0.5 before training,", credit))


def run_ppo(model, tokenizer, profile: Profile, run: RealRun):
    """A reward model from the same backbone trained on labeled pairs, then PPO with the profile's LoRA.

    Returns the trained policy (a LoRA policy is a new peft model around a copy of `model`)."""
    from alignkit.methods.ppo import PPOSettings
    from alignkit.methods.ppo_train import ppo_models, train_ppo
    from alignkit.methods.reward import RewardSettings, reward_model_from_sft, train_reward_model
    from alignkit.world.files import read_jsonl

    reward_model = reward_model_from_sft(model, tokenizer)
    stored = _stored_pairs(run)
    train_reward_model(reward_model, tokenizer, stored["train"] or _sampled_pairs(model, tokenizer, run),
                       method_settings(RewardSettings(), profile))
    if stored["heldout"]:
        from alignkit.methods.reward import pair_correctness

        credit = pair_correctness(reward_model, tokenizer, stored["heldout"])
        print(_judged("The reward model PPO optimises (this backbone with a fresh head)", credit))
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
