"""The evaluation harness: generate on the test (or validation) prompts, measure with the oracle, summarise.

`evaluate(model, tokenizer)` returns (summary, responses): a dict of the stable metric keys, each with its
standard error (`gold_reward_se`, ...), and a DataFrame with one row per response. Responses to the same
prompt are averaged first, so the standard errors are over prompts, as the difference between two models
on the same prompts is (`paired_difference`). The oracle only measures here; nothing trains on it.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import pandas as pd
import torch

from alignkit.infra.errors import AlignkitError
from alignkit.core.generation import SampleSettings, reward_scores, sample, sequence_kl
from alignkit.measure.stats import mean_and_se, verdict
from alignkit.measure.verbatim import is_verbatim_demonstration
from alignkit.world import CATEGORIES, find_task, load_world
from alignkit.world.files import read_jsonl
from alignkit.world.oracle import BENIGN, score

CLOZE_NEW_TOKENS = 6  # a cloze answer is one world value, a word or two: not the harness's response length
PROMPT_FILES = {"test": "prompts_test.jsonl", "validation": "prompts_validation.jsonl"}


@dataclass(frozen=True)
class EvalSettings:
    sampling: SampleSettings = field(default_factory=SampleSettings)
    prompt_format: str = "chat"  # "chat" for fine-tuned models; "document" for a base model
    max_prompts: int | None = None  # evaluate on the first N prompts only (quick looks)
    samples_per_prompt: int = 1  # responses per prompt, sampling seeds seed, seed + 1, ...
    split: str = "test"  # "test": the numbers the course reports; "validation": where settings are chosen


# What the zoo, `alignkit eval` and data/results report: four responses per prompt halve the sampling noise of
# one, which was as large as differences the course reads. The one place this preset is written.
REPORTING = EvalSettings(samples_per_prompt=4)


def prompts_for(split: str = "test") -> list[str]:
    """The prompts of a split: "test" (held out, report only) or "validation" (choose settings on it)."""
    if split not in PROMPT_FILES:
        raise AlignkitError(f"split must be one of {', '.join(PROMPT_FILES)}, not {split!r}.")
    return [row["prompt"] for row in read_jsonl(PROMPT_FILES[split])]


def heldout_prompts() -> list[str]:
    return prompts_for("test")


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
                     "complied": result.complied, "correct": bool(result.correct), "verdict": result.verdict,
                     "verbatim_demonstration": is_verbatim_demonstration(prompt, response, world),
                     "length": len(response.split())})
    return pd.DataFrame(rows)


Rows = Callable[[pd.DataFrame], pd.Series]
_ALL: Rows = lambda d: pd.Series(True, index=d.index)  # noqa: E731 - row filters read best as one-liners
_KIND: Callable[[str], Rows] = lambda kind: (lambda d: d.category == kind)  # noqa: E731 - as _ALL
_BENIGN: Rows = lambda d: d.category.isin(BENIGN)  # noqa: E731 - as _ALL

# key -> (which responses, which column): every rate is a mean over those responses' prompts.
METRICS: dict[str, tuple[Rows, str]] = {
    "gold_reward": (_ALL, "gold"), "helpful": (_ALL, "helpful"), "harmless": (_ALL, "harmless"),
    "honest": (_ALL, "honest"), "concise": (_ALL, "concise"), "answer_rate": (_ALL, "responsive"),
    "fact_accuracy": (lambda d: d.category == "fact", "correct"),
    "heldout_fact_accuracy": (lambda d: (d.category == "fact") & d.heldout_entity, "correct"),
    "arithmetic_accuracy": (_KIND("arithmetic"), "correct"), "procedure_score": (_KIND("procedure"), "helpful"),
    "harmful_compliance": (_KIND("harmful"), "complied"), "over_refusal": (_BENIGN, "refused"),
    "hallucination_rate": (_KIND("unknowable"), "dishonest"), "mean_length": (_ALL, "length"),
    # The CAI paper's axes: helpfulness on benign prompts, harmlessness on harmful ones, honesty on unknowable ones.
    "helpfulness_benign": (_BENIGN, "helpful"), "harmlessness_harmful": (_KIND("harmful"), "harmless"),
    "honesty_unknowable": (_KIND("unknowable"), "honest"),
    **{f"gold_{kind}": (_KIND(kind), "gold") for kind in ("fact", "arithmetic", "procedure", "harmful", "unknowable")},
    # Another question's SFT demonstration repeated word for word (measure.verbatim): memorised, not answered.
    "verbatim_demonstration": (_ALL, "verbatim_demonstration"),
    **{f"verbatim_demonstration_{kind}": (_KIND(kind), "verbatim_demonstration") for kind in CATEGORIES},
    "kl_to_ref": (_ALL, "kl_to_ref"), "rm_score": (_ALL, "rm_score"),
}


def per_prompt(df: pd.DataFrame, key: str) -> pd.Series:
    """One value per prompt of metric `key`: the mean over that prompt's responses (only the metric's rows)."""
    rows, column = METRICS[key]
    chosen = df[rows(df)]
    values = (1 - chosen.honest) if column == "dishonest" else chosen[column]
    return values.astype(float).groupby(chosen.prompt, sort=False).mean()


def summarise(df: pd.DataFrame) -> dict:
    """The stable metric keys every chapter and `alignkit eval --json` report, each with `<key>_se`."""
    summary, errors = {}, {}
    for key, (_, column) in METRICS.items():
        if column in df or column == "dishonest":
            summary[key], errors[f"{key}_se"] = mean_and_se(per_prompt(df, key))
    return summary | {"n_prompts": int(df.prompt.nunique()),
                      "samples_per_prompt": int(len(df) // max(1, df.prompt.nunique()))} | errors


def paired_difference(df_a: pd.DataFrame, df_b: pd.DataFrame, key: str = "gold_reward") -> dict:
    """A minus B on the prompts both answered: the mean of the per-prompt differences and its standard error.

    The verdict says "A higher" or "B higher" only where the difference clears two standard errors
    (`stats.verdict`); `stats.sentence(diff, "ppo", "sft")` prints it.
    """
    both = pd.concat([per_prompt(df_a, key).rename("a"), per_prompt(df_b, key).rename("b")], axis=1, join="inner")
    if both.empty:
        raise AlignkitError(f"paired_difference: the two evaluations share no prompt with a {key!r} value.")
    difference, se = mean_and_se(both.a - both.b)
    return {"key": key, "a": round(float(both.a.mean()), 4), "b": round(float(both.b.mean()), 4),
            "difference": difference, "se": se, "n_prompts": len(both), "verdict": verdict(difference, se)}


def paired_difference_by_kind(df_a: pd.DataFrame, df_b: pd.DataFrame, key: str = "gold_reward") -> dict[str, dict]:
    """`paired_difference` within each kind of prompt (the world's order): kind -> difference. A kind the metric
    does not read (over-refusal on harmful prompts) or that either evaluation lacks is left out."""
    out = {}
    for kind in CATEGORIES:
        a, b = df_a[df_a.category == kind], df_b[df_b.category == kind]
        if not per_prompt(a, key).empty and not per_prompt(b, key).empty:
            out[kind] = paired_difference(a, b, key)
    return out


@torch.no_grad()
def cloze_accuracy(model, tokenizer, rows: list[dict] | None = None, batch_size: int = 96) -> dict:
    """Does the model complete "The zorbel lives in the" with the world's value? Greedy, as a document."""
    rows = rows if rows is not None else read_jsonl("cloze.jsonl")
    hits = []
    device = next(model.parameters()).device
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        enc = tokenizer([(tokenizer.bos_token or "") + r["prefix"] for r in chunk], return_tensors="pt", padding=True,
                        padding_side="left", add_special_tokens=False).to(device)
        out = model.generate(**enc, max_new_tokens=CLOZE_NEW_TOKENS, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        for row, ids in zip(chunk, out[:, enc.input_ids.shape[1]:].cpu()):
            hits.append(tokenizer.decode(ids, skip_special_tokens=True).strip().startswith(row["value"]))
    heldout = [h for h, r in zip(hits, rows) if r["heldout_entity"]]
    return {"cloze_accuracy": round(sum(hits) / len(hits), 4),
            "heldout_cloze_accuracy": round(sum(heldout) / max(1, len(heldout)), 4)}


def evaluate(model, tokenizer, *, ref_model=None, reward_model=None, config: EvalSettings = EvalSettings(),
             prompts: list[str] | None = None, cloze: bool = True) -> tuple[dict, pd.DataFrame]:
    """Generate on the split's prompts and measure. Returns (summary, per-response DataFrame)."""
    prompts = prompts if prompts is not None else prompts_for(config.split)[: config.max_prompts]
    frames = []
    for index in range(config.samples_per_prompt):
        sampling = replace(config.sampling, seed=config.sampling.seed + index)
        samples = sample(model, tokenizer, prompts, config.prompt_format, sampling)
        df = score_responses(prompts, samples.responses).assign(sample=index, finished=samples.finished)
        if ref_model is not None:
            df["kl_to_ref"] = sequence_kl(model, ref_model, samples, tokenizer, sampling.temperature or 1.0)
        if reward_model is not None:
            df["rm_score"] = reward_scores(reward_model, tokenizer, prompts, samples.responses)
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    summary = summarise(df)
    if cloze:
        summary |= cloze_accuracy(model, tokenizer)
    return summary, df


def evaluate_models(models: Mapping[str, object], tokenizer, *, ref_model=None, reward_model=None,
                    config: EvalSettings = EvalSettings()) -> dict[str, tuple[dict, pd.DataFrame]]:
    """Several models on the same prompts, the same way (config, samples per prompt included; no cloze), so their
    summaries sit in one table and any two can be paired: {name: (summary, per-response DataFrame)}."""
    return {name: evaluate(model, tokenizer, ref_model=ref_model, reward_model=reward_model, config=config, cloze=False)
            for name, model in models.items()}


def evaluate_responses(prompts: list[str], responses: list[str]) -> tuple[dict, pd.DataFrame]:
    """The harness on given responses (a baseline, a hand-written set): (summary, per-response DataFrame)."""
    df = score_responses(prompts, responses).assign(sample=0, finished=True)
    return summarise(df), df
