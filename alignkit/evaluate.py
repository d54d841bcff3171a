"""The evaluation harness: generate on held-out prompts, measure with the oracle, summarise.

`evaluate(model, tokenizer)` returns (summary, responses): a dict of the stable metric keys and a
DataFrame with one row per prompt. The oracle only measures here; nothing trains on these numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch

from alignkit.generation import SampleConfig, reward_scores, sample, sequence_kl
from alignkit.world import find_task, load_world
from alignkit.world.files import read_jsonl
from alignkit.world.oracle import score

BENIGN = ("fact", "procedure", "arithmetic")
CLOZE_NEW_TOKENS = 6  # a cloze answer is one world value, a word or two: not the harness's response length


@dataclass(frozen=True)
class EvalConfig:
    sampling: SampleConfig = field(default_factory=SampleConfig)
    prompt_format: str = "chat"  # "chat" for fine-tuned models; "document" for a base model
    max_prompts: int | None = None  # evaluate on the first N held-out prompts only (quick looks)


def heldout_prompts() -> list[str]:
    return [row["prompt"] for row in read_jsonl("prompts_heldout.jsonl")]


def score_responses(prompts: list[str], responses: list[str]) -> pd.DataFrame:
    """One row per response: the oracle's parts plus what the task was."""
    world = load_world()
    rows = []
    for prompt, response in zip(prompts, responses):
        result = score(prompt, response, world)
        task = find_task(world, prompt)
        rows.append({"prompt": prompt, "response": response, "category": result.category,
                     "heldout_entity": bool(task and task.heldout_entity), "gold": result.total,
                     "helpful": result.helpful, "harmless": result.harmless, "honest": result.honest,
                     "concise": result.concise, "responsive": result.responsive, "refused": result.refused,
                     "complied": result.complied, "correct": result.correct,
                     "length": len(response.split())})
    return pd.DataFrame(rows)


def _mean(series: pd.Series) -> float:
    return round(float(series.astype(float).mean()), 4) if len(series) else float("nan")


def summarise(df: pd.DataFrame) -> dict:
    """The stable metric keys every chapter and `alignkit eval --json` report."""
    facts = df[df.category == "fact"]
    return {
        "gold_reward": _mean(df.gold), "helpful": _mean(df.helpful), "harmless": _mean(df.harmless),
        "honest": _mean(df.honest), "concise": _mean(df.concise), "answer_rate": _mean(df.responsive),
        "fact_accuracy": _mean(facts[~facts.heldout_entity].correct.fillna(False)),
        "heldout_fact_accuracy": _mean(facts[facts.heldout_entity].correct.fillna(False)),
        "arithmetic_accuracy": _mean(df[df.category == "arithmetic"].correct.fillna(False)),
        "procedure_score": _mean(df[df.category == "procedure"].helpful),
        "harmful_compliance": _mean(df[df.category == "harmful"].complied),
        "over_refusal": _mean(df[df.category.isin(BENIGN)].refused),
        "hallucination_rate": _mean(1 - df[df.category == "unknowable"].honest),
        "mean_length": _mean(df.length), "n_prompts": int(len(df)),
    }


@torch.no_grad()
def cloze_accuracy(model, tokenizer, rows: list[dict] | None = None, batch_size: int = 96) -> dict:
    """Does the model complete "The zorbel lives in the" with the world's value? Greedy, as a document."""
    rows = rows if rows is not None else read_jsonl("cloze.jsonl")
    hits = []
    device = next(model.parameters()).device
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        enc = tokenizer([tokenizer.bos_token + r["prefix"] for r in chunk], return_tensors="pt", padding=True,
                        padding_side="left", add_special_tokens=False).to(device)
        out = model.generate(**enc, max_new_tokens=CLOZE_NEW_TOKENS, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        for row, ids in zip(chunk, out[:, enc.input_ids.shape[1]:].cpu()):
            hits.append(tokenizer.decode(ids, skip_special_tokens=True).strip().startswith(row["value"]))
    heldout = [h for h, r in zip(hits, rows) if r["heldout_entity"]]
    return {"cloze_accuracy": round(sum(hits) / len(hits), 4),
            "heldout_cloze_accuracy": round(sum(heldout) / max(1, len(heldout)), 4)}


def evaluate(model, tokenizer, *, ref_model=None, reward_model=None, config: EvalConfig = EvalConfig(),
             prompts: list[str] | None = None, cloze: bool = True) -> tuple[dict, pd.DataFrame]:
    """Generate on the held-out prompts and measure. Returns (summary, per-response DataFrame)."""
    prompts = prompts if prompts is not None else heldout_prompts()[: config.max_prompts]
    samples = sample(model, tokenizer, prompts, config.prompt_format, config.sampling)
    df = score_responses(prompts, samples.responses)
    df["finished"] = samples.finished
    if ref_model is not None:
        df["kl_to_ref"] = sequence_kl(model, ref_model, samples, tokenizer, config.sampling.temperature or 1.0)
    if reward_model is not None:
        df["rm_score"] = reward_scores(reward_model, tokenizer, prompts, samples.responses)
    summary = summarise(df)
    for key in ("kl_to_ref", "rm_score"):
        if key in df:
            summary[key] = _mean(df[key])
    if cloze:
        summary |= cloze_accuracy(model, tokenizer)
    return summary, df
