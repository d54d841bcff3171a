"""Self-instruct against the demonstrators at equal count (chapter 05, data/results/self_instruct.json).

`base` proposes tasks from the hand-written seeds (6 seed + 2 of its own per prompt), the filter keeps the
valid and novel ones, and `base` is fine-tuned on them; a second copy is fine-tuned on as many of the
demonstrators' conversations (sft.jsonl, drawn at random). Both are measured on the test prompts, paired.
"""
from __future__ import annotations

import random
from dataclasses import asdict

from alignkit import zoo
from alignkit.measure.evaluate import REPORTING, evaluate, paired_difference
from alignkit.cai.self_instruct import load_seed_tasks, propose_tasks, task_rows
from alignkit.methods.sft import SFTSettings, train_sft
from alignkit.world.files import read_jsonl

__all__ = ["compare_self_instruct"]

KEYS = ("gold_reward", "helpfulness_benign", "harmful_compliance", "over_refusal", "honesty_unknowable",
        "fact_accuracy", "arithmetic_accuracy")


def _fine_tuned(rows: list[dict], settings: SFTSettings):
    model, tokenizer = zoo.load("base")
    train_sft(model, tokenizer, rows, settings)
    return model, tokenizer


def compare_self_instruct(n_tasks: int = 200, seed: int = 0, settings: SFTSettings = SFTSettings()) -> dict:
    """SFT on `n_tasks` self-instructed tasks vs on `n_tasks` demonstrations, from `base`, paired on test prompts."""
    rng = random.Random(seed)
    base, tokenizer = zoo.load("base")
    proposals = propose_tasks(base, tokenizer, load_seed_tasks(), n_tasks, rng)
    n = len(proposals.kept)
    demonstrations = rng.sample(read_jsonl("sft.jsonl"), n)
    frames, rows = {}, {}
    for name, data in (("self-instruct", task_rows(proposals.kept)), ("demonstrations", demonstrations)):
        model, _ = _fine_tuned(data, settings)
        summary, frames[name] = evaluate(model, tokenizer, config=REPORTING, cloze=False)
        rows[name] = {k: summary[k] for key in KEYS for k in (key, f"{key}_se") if k in summary}
    paired = {key: paired_difference(frames["self-instruct"], frames["demonstrations"], key)
              for key in ("gold_reward", "helpfulness_benign", "harmful_compliance")}
    return {"n_tasks": n, "proposed": proposals.proposed, "invalid": proposals.invalid,
            "near_duplicates": proposals.near_duplicates, "rounds": proposals.rounds, "sft": asdict(settings),
            "examples": [asdict(t) for t in proposals.kept[:12]], "rows": rows,
            "self_instruct_vs_demonstrations": paired}
