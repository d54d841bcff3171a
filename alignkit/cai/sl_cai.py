"""SL-CAI, the supervised half of Constitutional AI (chapter 05).

    revisions = red_team_revisions(sft, feedback, tokenizer, constitution, red_team)
    rows = sl_cai_rows(revisions, helpful_demonstrations(demos, red_team))

The helpful-only policy answers the red-team prompts (the training split's harmful requests); the feedback
model critiques each answer under a principle drawn at random from those about harm and rewrites it; a model
is then fine-tuned on the revisions mixed with the demonstrations for every other prompt (Bai et al. 2022,
§3, whose SL-CAI principles all concern harm). Which prompts
are red-team prompts is a property of the prompt set (people wrote them to provoke harm), not a judgement
of any response.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from alignkit.cai.ai_feedback import Revision, critique_and_revise
from alignkit.world.constitution import Constitution
from alignkit.core.generation import SampleSettings, sample

__all__ = ["HARM_PRINCIPLES", "SLCAISettings", "red_team_prompts", "helpful_demonstrations", "red_team_revisions", "sl_cai_rows"]


# The constitution's principles about harm: SL-CAI critiques red-team answers under them, and RL-CAI's feedback
# model labels red-team pairs with them. The others (honest, helpful_not_evasive, concise) judge helpfulness,
# which the simulated human labelers judge in RL-CAI, as people did in the paper.
HARM_PRINCIPLES = ("harmless", "no_help_with_crime", "kind")


@dataclass(frozen=True)
class SLCAISettings:
    samples_per_prompt: int = 4  # the policy's answers to each red-team prompt, each critiqued and revised
    rounds: int = 1  # critique → revision rounds per answer (the paper used up to 4)
    temperature: float = 1.0  # the policy's sampling, so the revised answers vary
    principles: tuple[str, ...] = HARM_PRINCIPLES  # drawn from, one per answer
    seed: int = 0


def red_team_prompts(prompt_rows: list[dict]) -> list[str]:
    """The prompts of a prompt file written as harmful requests (its `category` column)."""
    return [row["prompt"] for row in prompt_rows if row["category"] == "harmful"]


def helpful_demonstrations(demonstrations: list[dict], red_team: list[str]) -> list[dict]:
    """The demonstrations (`{"messages": [...]}`) for every prompt that is not a red-team prompt."""
    excluded = set(red_team)
    return [row for row in demonstrations if row["messages"][0]["content"] not in excluded]


def red_team_revisions(policy, feedback_model, tokenizer, constitution: Constitution, prompts: list[str],
                       settings: SLCAISettings = SLCAISettings()) -> list[Revision]:
    """The policy's answers to `prompts`, each critiqued and revised by the feedback model (document format)."""
    asked, answers = [], []
    for round_index in range(settings.samples_per_prompt):
        config = SampleSettings(temperature=settings.temperature, seed=settings.seed + round_index)
        asked += prompts
        answers += sample(policy, tokenizer, prompts, "chat", config).responses
    return critique_and_revise(feedback_model, tokenizer, constitution.subset(settings.principles), asked, answers, random.Random(settings.seed),
                               rounds=settings.rounds, sampling=SampleSettings(temperature=0.0, seed=settings.seed),
                               prompt_format="document")


def sl_cai_rows(revisions: list[Revision], helpful: list[dict]) -> list[dict]:
    """Conversations to fine-tune on: each non-empty final revision as the answer, then the helpful demos."""
    revised = [{"messages": [{"role": "user", "content": r.prompt}, {"role": "assistant", "content": r.final}]}
               for r in revisions if r.final.strip()]
    # only the messages: other columns would confuse the trainer's collator
    return revised + [{"messages": row["messages"]} for row in helpful]
