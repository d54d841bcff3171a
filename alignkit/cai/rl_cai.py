"""RL-CAI and RLAIF's data (chapter 05): AI labels on the harmlessness pairs, people's on the helpfulness pairs.

    pairs = sample_pairs(sl_cai_model, tokenizer, prompts, samples_per_prompt=4)
    rows = mixed_preference_rows(pairs, red_team, feedback_model, tokenizer, constitution)

As in Bai et al. (2022, §4): the feedback model compares the two responses to a red-team prompt under one of
the constitution's principles about harm, drawn at random for each comparison (its probabilities of "(A)"
and "(B)", both orders),
and the simulated human labelers compare the responses to every other prompt. A preference model trained
on both, then PPO against it, is RL-CAI; DPO on the same rows is the RLAIF variant without a reward model.
"""
from __future__ import annotations

import random

import torch

from alignkit.cai.ai_feedback import ai_preferences
from alignkit.world.constitution import Constitution
from alignkit.cai.sl_cai import HARM_PRINCIPLES
from alignkit.world.labelers import LabelerSettings, label_pairs

__all__ = ["drawn_preferences", "ai_label_rows", "mixed_preference_rows"]


@torch.no_grad()
def drawn_preferences(feedback_model, tokenizer, constitution: Constitution, pairs, seed: int = 0,
                      prompt_format: str = "document") -> torch.Tensor:
    """P(first better) for each pair under one principle drawn at random per pair: [N].

    The draws depend only on `seed`, the number of pairs and the number of principles, so an edited
    constitution with as many principles is asked the same principle on the same pair: the labels move only
    where the edited principle was drawn."""
    rng = random.Random(seed)
    drawn = [rng.randrange(len(constitution.principles)) for _ in pairs]
    out = torch.empty(len(pairs))
    for index, principle in enumerate(constitution.principles):
        chosen = [i for i, d in enumerate(drawn) if d == index]
        if chosen:
            prompts, firsts, seconds = (list(column) for column in zip(*(pairs[i] for i in chosen)))
            out[chosen] = ai_preferences(feedback_model, tokenizer, principle, prompts, firsts, seconds,
                                         prompt_format=prompt_format)
    return out


def ai_label_rows(pairs, probabilities: torch.Tensor) -> list[dict]:
    """Preference rows from AI probabilities: the response the feedback model prefers is chosen; exact ties
    (no preference to learn) are dropped. `p_chosen` keeps the soft label."""
    rows = []
    for (prompt, first, second), p in zip(pairs, probabilities.tolist()):
        if p == 0.5:
            continue
        chosen, rejected = (first, second) if p > 0.5 else (second, first)
        rows.append({"prompt": prompt, "chosen": chosen, "rejected": rejected, "p_chosen": max(p, 1 - p),
                     "annotator": "feedback-model"})
    return rows


def mixed_preference_rows(pairs, red_team: list[str], feedback_model, tokenizer, constitution: Constitution,
                          labeler: LabelerSettings = LabelerSettings(), principles=HARM_PRINCIPLES, seed: int = 0) -> dict:
    """{"ai": rows on red-team prompts labeled by the feedback model, each under one of `principles` drawn at
    random, "human": rows on the rest labeled by the simulated labelers}. Concatenate them for a preference
    model or DPO."""
    harmful = set(red_team)
    ai_pairs = [pair for pair in pairs if pair[0] in harmful]
    human_pairs = [pair for pair in pairs if pair[0] not in harmful]
    judge = constitution.subset(principles)
    ai_rows = ai_label_rows(ai_pairs, drawn_preferences(feedback_model, tokenizer, judge, ai_pairs, seed))
    return {"ai": ai_rows, "human": label_pairs(human_pairs, labeler)}
