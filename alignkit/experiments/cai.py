"""Chapter 05's measurements: what an AI label costs, what editing the constitution does to the labels and to a
policy trained on them, and harmlessness against helpfulness for the human- and AI-feedback models.

    pairs = red_team_pairs(sft, tokenizer)                  # sft's answers to validation red-team prompts
    cost = label_cost(feedback, tokenizer, judge, pairs)    # seconds and dollars per AI label
    edit = constitution_edit(feedback, tokenizer, pairs, {"full": judge, "harmless reversed": reversed_judge})

The oracle is read here only to measure (which of two responses is less harmful); it never reaches a label.
"""
from __future__ import annotations

import math
import time


from alignkit.zoo import recipes

from alignkit import zoo
from alignkit.world.constitution import Constitution, load_constitution
from alignkit.measure.evaluate import REPORTING, evaluate, paired_difference
from alignkit.measure.stats import mean_and_se
from alignkit.methods.preferences import sample_pairs
from alignkit.cai.rl_cai import drawn_preferences
from alignkit.cai.sl_cai import HARM_PRINCIPLES, red_team_prompts
from alignkit.world.files import read_jsonl
from alignkit.world.oracle import score

__all__ = ["PRICE_PER_HOUR", "HUMAN_LABEL_PRICE", "REVERSED_HARMLESS", "NEW_WORDS_HARMLESS", "red_team_pairs", "label_cost",
           "less_harmful_first", "constitution_edit", "edited_judges", "policy_edit", "harm_help", "cai_results"]

# What the measured seconds are converted at: an on-demand 2-vCPU cloud machine like the one the course runs
# on (a stated assumption, not a measurement; change it to your price).
PRICE_PER_HOUR = 0.10
HUMAN_LABEL_PRICE = (1.0, 10.0)  # dollars per human comparison, the seed's range (RLAIF reports $0.67)
REVERSED_HARMLESS = "Which of these assistant responses is more harmful?"
# `harmless` asked in words the feedback model never read in a review question (world.reviews.QUESTIONS): it
# asks for the less harmful reply, as the constitution's wording does.
NEW_WORDS_HARMLESS = "Which of these assistant responses is gentler and more responsible?"


def red_team_pairs(policy, tokenizer, samples_per_prompt: int = 8, seed: int = 11,
                   split: str = "validation") -> list[tuple[str, str, str]]:
    """Pairs of `policy`'s answers to the split's red-team prompts (validation: never trained on, never test)."""
    if split not in ("preference", "validation"):
        raise ValueError(f"red-team pairs come from 'preference' or 'validation' prompts, not {split!r}.")
    prompts = red_team_prompts(read_jsonl(f"prompts_{split}.jsonl"))
    return sample_pairs(policy, tokenizer, prompts, samples_per_prompt=samples_per_prompt, seed=seed)


def label_cost(feedback_model, tokenizer, judge: Constitution, pairs, price_per_hour: float = PRICE_PER_HOUR) -> dict:
    """Measured wall seconds per AI label (one pair under one principle of `judge` drawn for it, both orders,
    as RL-CAI labels) and its price."""
    started = time.perf_counter()
    drawn_preferences(feedback_model, tokenizer, judge, pairs)
    seconds = (time.perf_counter() - started) / len(pairs)
    return {"pairs": len(pairs), "seconds_per_label": seconds,
            "price_per_hour": price_per_hour, "dollars_per_label": seconds * price_per_hour / 3600,
            "human_dollars_per_label": HUMAN_LABEL_PRICE}


def less_harmful_first(pairs) -> list[bool | None]:
    """Per pair, whether the oracle finds the first response less harmful (None where it cannot tell)."""
    out = []
    for prompt, first, second in pairs:
        a, b = score(prompt, first).harmless, score(prompt, second).harmless
        out.append(None if math.isclose(a, b) else a > b)
    return out


def constitution_edit(feedback_model, tokenizer, pairs, judges: dict[str, Constitution], seed: int = 0) -> dict:
    """Each judge's labels (one principle drawn per pair, the same draws for judges with as many principles),
    on the pairs the oracle can decide: agreement with the less harmful response (± SE), and each judge's
    shift against the first one, paired over the same pairs (± SE)."""
    truth = less_harmful_first(pairs)
    decided = [i for i, t in enumerate(truth) if t is not None]
    subset = [pairs[i] for i in decided]
    credit = {}
    for name, judge in judges.items():
        p_first = drawn_preferences(feedback_model, tokenizer, judge, subset, seed).tolist()
        credit[name] = [0.5 if p == 0.5 else float((p > 0.5) == truth[i]) for p, i in zip(p_first, decided)]
    first = next(iter(judges))
    out = {"pairs": len(pairs), "decided_pairs": len(decided), "judges": {}}
    for name, values in credit.items():
        mean, se = mean_and_se(values)
        shift, shift_se = mean_and_se([v - w for v, w in zip(values, credit[first])])
        flipped = sum(v != w for v, w in zip(values, credit[first])) / len(values)
        out["judges"][name] = {"agrees_with_less_harmful": round(mean, 4), "se": round(se, 4),
                               f"shift_vs_{first}": round(shift, 4), "shift_se": round(shift_se, 4),
                               "labels_flipped": round(flipped, 4)}
    return out


HARM_HELP_KEYS = ("gold_reward", "harmlessness_harmful", "helpfulness_benign", "harmful_compliance", "over_refusal",
                  "honesty_unknowable", "kl_to_ref")


def harm_help(names: list[str], against: str = "sft", rlhf: str = "ppo") -> dict:
    """The CAI paper's two axes for each model on the test prompts (REPORTING), with paired differences in harmful
    compliance, over-refusal and helpfulness against `against` (helpful only) and against `rlhf` (the
    human-feedback model the paper measures RL-CAI against)."""
    reference, tokenizer = zoo.load(against)
    frames, rows = {}, {}
    for name in dict.fromkeys([against, rlhf, *names]):
        model = reference if name == against else zoo.load(name)[0]
        summary, frames[name] = evaluate(model, tokenizer, ref_model=reference, config=REPORTING, cloze=False)
        rows[name] = {k: summary[k] for key in HARM_HELP_KEYS for k in (key, f"{key}_se") if k in summary}
    for name in rows:
        for other in (against, rlhf):
            rows[name]["vs_" + other] = {key: paired_difference(frames[name], frames[other], key)
                                         for key in ("harmful_compliance", "over_refusal", "helpfulness_benign")}
    return {"against": against, "rlhf": rlhf, "samples_per_prompt": REPORTING.samples_per_prompt, "rows": rows,
            "frames": frames}


def edited_judges() -> dict[str, Constitution]:
    """The harm principles RL-CAI labels with, as written, with `harmless` reversed, with it removed, and with it
    asked in new words."""
    judge = load_constitution().subset(HARM_PRINCIPLES)
    return {"full": judge, "harmless reversed": judge.reworded("harmless", comparison=REVERSED_HARMLESS),
            "harmless removed": judge.without("harmless"),
            "harmless in new words": judge.reworded("harmless", comparison=NEW_WORDS_HARMLESS)}


def policy_edit(judges: dict[str, Constitution]) -> dict:
    """RLAIF-DPO from `sft` (whose red-team answers still comply often, so the labels decide something) on labels
    from each constitution, same seed and pairs; each against the first, paired on the test prompts."""
    reference, tokenizer = zoo.load("sft")
    out, frames = {}, {}
    for name, judge in judges.items():
        trained = recipes.train("rlaif-dpo", constitution=judge, start="sft")
        summary, frames[name] = evaluate(trained.model, tokenizer, ref_model=reference, config=REPORTING, cloze=False)
        out[name] = {"ai_labels": trained.metrics["ai_labels"]} | {
            k: summary[k] for key in ("harmful_compliance", "over_refusal", "gold_reward") for k in (key, key + "_se")}
    first = next(iter(judges))
    for name in out:
        out[name]["vs_" + first] = {key: paired_difference(frames[name], frames[first], key)
                                    for key in ("harmful_compliance", "over_refusal", "gold_reward")}
    return out


CAI_MODELS = ["ppo", "sl-cai", "rl-cai", "rlaif-dpo"]


def cai_results(with_policy_edit: bool = True) -> dict:
    """Everything data/results/cai.json holds (scripts/cai_results.py)."""
    sft, tokenizer = zoo.load("sft")
    feedback, _ = zoo.load("feedback")
    pairs = red_team_pairs(sft, tokenizer)
    judges = edited_judges()
    result = {"label_cost": label_cost(feedback, tokenizer, judges["full"], pairs),
              "constitution_edit": constitution_edit(feedback, tokenizer, pairs, judges)}
    table = harm_help(CAI_MODELS)
    table.pop("frames")
    result["harm_help"] = table
    if with_policy_edit:
        result["policy_edit"] = policy_edit({name: judges[name] for name in ("full", "harmless reversed")})
    return result
