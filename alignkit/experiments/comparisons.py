"""The zoo side by side on the test prompts: every checkpoint against `sft`, paired on the same prompts.

Each row: gold and the rates with their standard errors, the paired difference to `sft` with its
verdict ("A higher" only where it clears two standard errors), and how often a fresh simulated labeler prefers
its answer to `sft`'s (AlpacaFarm's win rate). Best-of-n under `rm` (no training, only the judge,
as AlpacaFarm reports it) and the trivial baselines stand beside them.
"""
from __future__ import annotations

from dataclasses import replace

from alignkit import zoo
from alignkit.measure.baselines import BASELINES, baseline_responses
from alignkit.measure.best_of_n import best_of_groups, kl_best_of_n
from alignkit.measure.labeler_preference import labeler_preference
from alignkit.measure.evaluate import (REPORTING, evaluate, evaluate_responses, paired_difference, prompts_for,
                                       summarise)

__all__ = ["KEYS", "compare_zoo"]

KEYS = ("gold_reward", "helpfulness_benign", "harmlessness_harmful", "honesty_unknowable", "over_refusal",
        "harmful_compliance", "hallucination_rate", "heldout_fact_accuracy", "kl_to_ref", "rm_score")


def _row(summary: dict, df, against_df) -> dict:
    row = {k: summary[k] for key in KEYS if key in summary for k in (key, f"{key}_se")}
    for key in ("gold_reward", "over_refusal", "harmful_compliance", "helpfulness_benign"):
        row[f"{key}_vs_sft"] = paired_difference(df, against_df, key)
    return row | {"labeler_preference_vs_sft": labeler_preference(df, against_df)}


def _best_of_n_row(policy, tokenizer, rm, n: int, against_df) -> dict:
    """Best-of-n under rm from the policy: n x REPORTING's samples per prompt, the rm's pick in each group of n."""
    config = replace(REPORTING, samples_per_prompt=n * REPORTING.samples_per_prompt)
    df = best_of_groups(evaluate(policy, tokenizer, reward_model=rm, config=config, cloze=False)[1], n)
    return _row(summarise(df), df, against_df) | {"kl_bon": round(kl_best_of_n(n), 4)}


def compare_zoo(names: list[str], against: str = "sft", best_of: tuple[int, ...] = (4,)) -> dict:
    """Every named checkpoint, best-of-n under rm from `against` for each n in best_of, and every trivial
    baseline against `against`, on the test prompts (REPORTING)."""
    reference, tokenizer = zoo.load(against)
    rm = zoo.load("rm")[0]
    frames, rows = {}, {}
    for name in [against, *[n for n in names if n != against]]:
        model = reference if name == against else zoo.load(name)[0]
        config = replace(REPORTING, prompt_format=zoo.info(name).get("format", "chat"))
        summary, frames[name] = evaluate(model, tokenizer, ref_model=reference, reward_model=rm, config=config,
                                         cloze=False)
        rows[name] = _row(summary, frames[name], frames[against])
    for n in best_of:
        rows[f"best-of-{n} under rm"] = _best_of_n_row(reference, tokenizer, rm, n, frames[against])
    prompts = prompts_for("test")
    for name in BASELINES:
        summary, df = evaluate_responses(prompts, baseline_responses(name, prompts))
        rows[f"baseline: {name}"] = _row(summary, df, frames[against])
    return {"against": against, "samples_per_prompt": REPORTING.samples_per_prompt, "rows": rows}
