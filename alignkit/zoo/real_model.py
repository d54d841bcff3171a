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
from dataclasses import replace
from pathlib import Path

import pandas as pd

from alignkit.measure.evaluate import EvalSettings, evaluate
from alignkit.core.profiles import Profile, profile_settings, real_model_profile
from alignkit.infra.runtime import in_ci
from alignkit.zoo.real_runs import CI_RUN, RealRun
from alignkit.zoo.recipes import card

__all__ = ["ENV", "source", "load", "section"]

ENV = "ALIGNKIT_REAL_MODEL"
KEYS = ("gold_reward", "answer_rate", "helpfulness_benign", "harmlessness_harmful", "honesty_unknowable",
        "mean_length")


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
    trained = card(method).real_model(model, tokenizer, profile, run) or model
    table = pd.DataFrame([before, _measure(trained, tokenizer, run, f"after {method.upper()}")]).set_index("model")
    on_standin = chosen != os.environ.get(ENV)
    print(f"{method.upper()} on {'the local stand-in' if on_standin else chosen} "
          f"({profile.name} profile, LoRA {'r=' + str(lora.r) if lora else 'off'}), "
          f"{run.eval_prompts} held-out prompts:")
    if on_standin:
        print(f"A smoke test, not a result: the stand-in has a real architecture but random weights and this run is "
              f"a few rows long, so it shows that the code runs, not what {method.upper()} does to a real model. "
              f"Set {ENV} to see that.")
    return table.round(3)
