"""How well the feedback model's labels agree with the gold preference and with the simulated human labelers,
per kind of prompt, next to the labelers' own agreement with gold (chapter 05; RLAIF reports ~78% AI-human).

The oracle and the labelers are read here only to measure: the labels come from `ai_feedback.ai_preferences`,
which sees the principle, the prompt and the two responses and nothing else.
"""
from __future__ import annotations

import math
import random

import torch

from alignkit.cai import ai_feedback

from alignkit import zoo
from alignkit.world.constitution import Constitution, load_constitution
from alignkit.methods.preferences import sample_pairs
from alignkit.cai.sl_cai import HARM_PRINCIPLES
from alignkit.world import find_task, load_world
from alignkit.world.files import read_jsonl
from alignkit.world.labelers import LabelerSettings, order_free_probability
from alignkit.world.oracle import gold

__all__ = ["validation_pairs", "ai_labels", "agreement_by_kind", "measure_agreement"]


def validation_pairs(samples_per_prompt: int = 4, seed: int = 5, root=None) -> list[tuple[str, str, str]]:
    """Pairs of `sft`'s samples on the validation prompts (never trained on, never the test prompts)."""
    sft, tokenizer = zoo.load("sft", root=root)
    prompts = [r["prompt"] for r in read_jsonl("prompts_validation.jsonl")]
    return sample_pairs(sft, tokenizer, prompts, samples_per_prompt=samples_per_prompt, seed=seed)


def ai_labels(feedback_model, tokenizer, constitution: Constitution, pairs, prompt_format: str = "document"
              ) -> dict[str, torch.Tensor]:
    """P(first better) per principle, "ensemble", their mean (the CAI paper averages over principles),
    "harm_ensemble", the mean over the harm principles (alignkit.cai.sl_cai.HARM_PRINCIPLES), and "harm_drawn",
    one harm principle drawn per pair, as RL-CAI labels."""
    prompts, firsts, seconds = (list(column) for column in zip(*pairs))
    labels = {p.id: ai_feedback.ai_preferences(feedback_model, tokenizer, p, prompts, firsts, seconds,
                                       prompt_format=prompt_format) for p in constitution.principles}
    labels["ensemble"] = torch.stack(list(labels.values())).mean(0)
    harm = [labels[i] for i in HARM_PRINCIPLES if i in labels]
    if harm:
        labels["harm_ensemble"] = torch.stack(harm).mean(0)
        # What RL-CAI trains on: one harm principle drawn per pair (the draws rl_cai.drawn_preferences makes)
        rng = random.Random(0)
        drawn = torch.tensor([rng.randrange(len(harm)) for _ in pairs], dtype=torch.long)
        labels["harm_drawn"] = torch.stack(harm)[drawn, torch.arange(len(pairs))]
    return labels


def _rate(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    return round(mean, 4), round(math.sqrt(max(mean * (1 - mean), 0.0) / n), 4)


def agreement_by_kind(pairs, labels: dict[str, torch.Tensor], labeler: LabelerSettings = LabelerSettings()) -> dict:
    """Per kind: pairs whose gold differs, each principle's agreement with gold (± SE), the labelers' expected
    agreement with gold (their ceiling) and the ensemble's agreement with the labelers' majority."""
    world, groups = load_world(), {}
    for i, (prompt, first, second) in enumerate(pairs):
        gold_first, gold_second = gold(prompt, first), gold(prompt, second)
        if math.isclose(gold_first, gold_second):
            continue  # no right answer to agree with
        group = groups.setdefault(find_task(world, prompt).category, {"human": [], "ai_vs_human": []})
        first_better, q = gold_first > gold_second, order_free_probability(prompt, first, second, labeler)
        group["human"].append(q if first_better else 1 - q)
        for name, p in labels.items():
            group.setdefault(name, []).append(0.5 if float(p[i]) == 0.5 else float((float(p[i]) > 0.5) == first_better))
        group["ai_vs_human"].append(float((float(labels["ensemble"][i]) > 0.5) == (q > 0.5)))
    table = {}
    for kind, group in sorted(groups.items()):
        row = {"pairs": len(group["human"])}
        for name, values in group.items():
            row[name], row[f"{name}_se"] = _rate(values)
        table[kind] = row
    return table


def measure_agreement(root=None, constitution: Constitution | None = None, samples_per_prompt: int = 4) -> dict:
    """The shipped feedback model's agreement table on validation pairs (what scripts/feedback_agreement.py saves)."""
    constitution = constitution or load_constitution()
    model, tokenizer = zoo.load("feedback", root=root)
    pairs = validation_pairs(samples_per_prompt, root=root)
    return {"pairs_sampled": len(pairs), "principles": constitution.ids,
            "by_kind": agreement_by_kind(pairs, ai_labels(model, tokenizer, constitution, pairs))}
