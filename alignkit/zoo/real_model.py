"""The chapters' optional "On a real model" sections: the chapter's method on a hub model (or any HF directory).

    ALIGNKIT_REAL_MODEL=HuggingFaceTB/SmolLM2-135M-Instruct jupyter lab    # or a local directory

Off by default: unset, a section prints one line saying how to turn it on. Under CI (`runtime.in_ci()`)
it runs on the local stand-in (`alignkit.core.standin`) at a few rows and steps, so the code path is exercised
in seconds. The world, the simulated labelers and the harness are the toy's: a real model is asked the
world's questions and measured by the same oracle, so its numbers mean what the toy models' numbers mean
(a real model does not know the world's fictional facts, so expect gold to start low). LoRA, batch size,
sequence length and precision come from `profiles.real_model_profile()` (T4, L4, A100, H100, CPU).
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from alignkit.measure.evaluate import EvalSettings, evaluate
from alignkit.core.profiles import Profile, method_settings, profile_settings, real_model_profile
from alignkit.infra.runtime import in_ci

__all__ = ["ENV", "RealRun", "source", "load", "run_sft", "run_dpo", "run_ppo", "section"]

ENV = "ALIGNKIT_REAL_MODEL"
KEYS = ("gold_reward", "answer_rate", "helpfulness_benign", "harmlessness_harmful", "honesty_unknowable",
        "mean_length")


@dataclass(frozen=True)
class RealRun:
    """How much a section does: rows, steps and prompts (GPU defaults; `CI_RUN` is the stand-in's)."""

    sft_rows: int = 512  # demonstrations from the world's sft.jsonl
    pair_prompts: int = 200  # prompts whose sampled responses the simulated labelers compare
    ppo_steps: int = 20
    eval_prompts: int = 100  # held-out prompts the harness measures before and after
    max_new_tokens: int = 64  # the harness's response cap (an untrained stand-in never stops by itself)


CI_RUN = RealRun(sft_rows=8, pair_prompts=4, ppo_steps=1, eval_prompts=4, max_new_tokens=12)


def source() -> str | None:
    """The model a section runs on: $ALIGNKIT_REAL_MODEL, a fresh stand-in under CI, else None (off)."""
    chosen = os.environ.get(ENV, "").strip()
    if chosen:
        return chosen
    if in_ci():
        from alignkit.core.standin import build_standin
        from alignkit.world.files import read_jsonl

        texts = [m["content"] for r in read_jsonl("sft.jsonl")[:300] for m in r["messages"]]
        directory = tempfile.mkdtemp(prefix="alignkit-standin-")
        atexit.register(shutil.rmtree, directory, True)  # a fresh one per process; nothing left behind
        return str(build_standin(Path(directory), texts=texts))
    return None


def load(name_or_path: str, profile: Profile):
    """(model, tokenizer) from a directory (the zoo's loader) or a hub id; safetensors only, no remote code."""
    from alignkit import zoo
    from alignkit.core.models import load_pretrained

    if Path(name_or_path).expanduser().is_dir():
        model, tokenizer = zoo.load(Path(name_or_path).expanduser(), device=profile.device)
    else:
        from transformers import AutoTokenizer

        model = load_pretrained(name_or_path, device=profile.device, dtype=profile.torch_dtype)
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=False)
    if tokenizer.pad_token is None:  # Llama-style tokenizers ship none; TRL and batched generation need one
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def _measure(model, tokenizer, run: RealRun, label: str) -> dict:
    config = EvalSettings(max_prompts=run.eval_prompts)
    config = replace(config, sampling=replace(config.sampling, max_new_tokens=run.max_new_tokens))
    summary, _ = evaluate(model, tokenizer, config=config, cloze=False)
    return {"model": label} | {key: summary[key] for key in KEYS}


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
    prompts = [r["prompt"] for r in read_jsonl("prompts_train.jsonl")]
    train_ppo(policy, ref_model, reward_model, value_model, tokenizer, prompts, settings)
    return policy


def _copy(model):
    import copy

    return copy.deepcopy(model).eval()


_RUNNERS = {"sft": run_sft, "dpo": run_dpo, "ppo": run_ppo}


def section(method: str, run: RealRun | None = None) -> pd.DataFrame | None:
    """Run `method` ("sft", "dpo" or "ppo") on the real model and return the harness's numbers before and after.

    Off (None, one printed line) unless ALIGNKIT_REAL_MODEL is set or CI runs; under CI on the stand-in.
    run: how much to do; None = RealRun() on a real model, CI_RUN on the stand-in."""
    chosen = source()
    if chosen is None:
        print(f"Off. To run {method.upper()} on a real model, restart with {ENV}=<hub id or directory> "
              "(a GPU is advised), e.g. HuggingFaceTB/SmolLM2-135M-Instruct.")
        return None
    profile = real_model_profile()
    lora = profile_settings(profile).lora
    run = run or (RealRun() if os.environ.get(ENV, "").strip() else CI_RUN)
    model, tokenizer = load(chosen, profile)
    before = _measure(model, tokenizer, run, "before")
    trained = _RUNNERS[method](model, tokenizer, profile, run) or model
    table = pd.DataFrame([before, _measure(trained, tokenizer, run, f"after {method.upper()}")]).set_index("model")
    print(f"{method.upper()} on {'the local stand-in' if chosen != os.environ.get(ENV) else chosen} "
          f"({profile.name} profile, LoRA {'r=' + str(lora.r) if lora else 'off'}), "
          f"{run.eval_prompts} held-out prompts:")
    return table.round(3)
