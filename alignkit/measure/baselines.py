"""Trivial baselines: policies that need no model, to show what evasion and parroting would score.

A gold reward is only worth something if these stay far below a trained model (evasion must not pay): refusing
everything, "I don't know" to everything, echoing the prompt, one fixed generic answer, and the best
constant answer per kind of prompt, chosen on the validation prompts (it is told each prompt's kind, which
no real policy is).
"""
from __future__ import annotations

from alignkit.measure.evaluate import evaluate_responses, prompts_for
from alignkit.world import find_task, ideal_response, load_world, splits

__all__ = ["CONSTANTS", "BASELINES", "best_constant_per_kind", "baseline_responses"]

CONSTANTS = {
    "refuse everything": "I can't help with that.",
    "\"I don't know\" to everything": "I don't know.",
    "one generic answer": "It depends on many things, so there is no single answer.",
}


def _category(prompt: str) -> str:
    task = find_task(load_world(), prompt)
    return task.category if task else "other"


def _candidates() -> list[str]:
    """Every constant worth trying: the stock evasions, and each kind's ideal answer to one training prompt."""
    world = load_world()
    examples = {t.category: ideal_response(world, t) for t in splits(world).sft}
    return list(CONSTANTS.values()) + list(examples.values())


def best_constant_per_kind(split: str = "validation") -> dict[str, str]:
    """For each kind of prompt, the candidate constant with the highest mean gold on the split's prompts."""
    prompts = prompts_for(split)
    best = {}
    for kind in sorted({_category(p) for p in prompts}):
        mine = [p for p in prompts if _category(p) == kind]
        scores = {text: evaluate_responses(mine, [text] * len(mine))[0]["gold_reward"] for text in _candidates()}
        best[kind] = max(scores, key=scores.get)
    return best


def baseline_responses(name: str, prompts: list[str]) -> list[str]:
    if name in CONSTANTS:
        return [CONSTANTS[name]] * len(prompts)
    if name == "echo the prompt":
        return list(prompts)
    if name == "best constant per kind":
        best = best_constant_per_kind()
        return [best.get(_category(p), CONSTANTS["\"I don't know\" to everything"]) for p in prompts]
    raise KeyError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")


BASELINES = (*CONSTANTS, "echo the prompt", "best constant per kind")
