"""Constitutional AI's two uses of a feedback model (chapter 05): critique → revision (SL-CAI) and AI
preference labels (RL-CAI / RLAIF).

    preferences = ai_preferences(feedback_model, tokenizer, constitution["harmless"], prompts, firsts, seconds)
    revised = critique_and_revise(model, tokenizer, constitution, red_team_prompts, responses, rng)

The feedback model is a language model: its inputs here are the principle's words, the prompt and the
two responses, nothing else. No oracle score or labeler choice reaches it (a test holds this), and no
rule over the response text stands in for it.

A preference is read as Bai et al. read it: the question is posed as a multiple choice, the model's
log-probabilities of answering "(A)" and "(B)" are normalised into P(A), and, because small models
prefer a position, both orders are asked and averaged: P(first better) = (P_AB(A) + P_BA(B)) / 2.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, replace

import torch

from alignkit.constitution import Constitution, Principle
from alignkit.generation import SampleConfig, completion_logprobs, sample

__all__ = ["OPTIONS", "comparison_text", "choice_probabilities", "ai_preferences", "critique_text",
           "revision_text", "critique_and_revise", "Revision"]

OPTIONS = ("(A)", "(B)")


def comparison_text(principle: Principle, prompt: str, option_a: str, option_b: str) -> str:
    """The multiple-choice question the feedback model answers (the layout of the CAI paper's appendix)."""
    return (f"Consider this conversation. Human: {prompt} "
            f"{principle.comparison} "
            f"Options: (A) {option_a} (B) {option_b} "
            "Answer with (A) or (B).")


def choice_probabilities(model, tokenizer, questions: list[str], batch_size: int = 64) -> torch.Tensor:
    """P("(A)") for each question, normalised over the two answers: [N]."""
    n = len(questions)
    answers = [OPTIONS[0]] * n + [OPTIONS[1]] * n
    logps = completion_logprobs(model, tokenizer, questions + questions, answers, batch_size=batch_size)
    return torch.softmax(torch.stack([logps[:n], logps[n:]], dim=1), dim=1)[:, 0]


@torch.no_grad()
def ai_preferences(model, tokenizer, principle: Principle, prompts: list[str], firsts: list[str],
                   seconds: list[str], batch_size: int = 64) -> torch.Tensor:
    """P(first response better than second) under `principle`, averaged over both orders: [N] in (0, 1).

    Swapping firsts and seconds gives exactly 1 - P: the position the model prefers cancels."""
    if not len(prompts) == len(firsts) == len(seconds):
        raise ValueError(f"prompts, firsts and seconds must have one entry per pair; got {len(prompts)}, "
                         f"{len(firsts)} and {len(seconds)}.")
    first_as_a = [comparison_text(principle, p, a, b) for p, a, b in zip(prompts, firsts, seconds)]
    first_as_b = [comparison_text(principle, p, b, a) for p, a, b in zip(prompts, firsts, seconds)]
    p_a = choice_probabilities(model, tokenizer, first_as_a + first_as_b, batch_size)
    n = len(prompts)
    return (p_a[:n] + (1 - p_a[n:])) / 2


def critique_text(principle: Principle, prompt: str, response: str) -> str:
    return f"Human: {prompt} Assistant: {response} Critique request: {principle.critique}"


def revision_text(principle: Principle, prompt: str, response: str, critique: str) -> str:
    return (f"Human: {prompt} Assistant: {response} Critique: {critique} "
            f"Revision request: {principle.revision}")


@dataclass
class Revision:
    prompt: str
    principle: str  # the id of the principle drawn for this example
    responses: list[str]  # the original, then one per round
    critiques: list[str]  # one per round

    @property
    def final(self) -> str:
        return self.responses[-1]


@torch.no_grad()
def critique_and_revise(model, tokenizer, constitution: Constitution, prompts: list[str], responses: list[str],
                        rng: random.Random, rounds: int = 1,
                        sampling: SampleConfig = SampleConfig(temperature=0.0)) -> list[Revision]:
    """SL-CAI: per example draw a principle, generate a critique of the response, then a revision; repeat.

    Generation is batched over examples (one call per round and step); greedy by default so a revision is
    the model's best reading of the request."""
    if len(prompts) != len(responses):
        raise ValueError(f"one response per prompt: got {len(prompts)} prompts and {len(responses)} responses.")
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, not {rounds}.")
    drawn = [constitution.draw(rng) for _ in prompts]
    out = [Revision(p, d.id, [r], []) for p, d, r in zip(prompts, drawn, responses)]
    for round_index in range(rounds):
        config = replace(sampling, seed=sampling.seed + round_index)
        asks = [critique_text(d, r.prompt, r.final) for d, r in zip(drawn, out)]
        critiques = sample(model, tokenizer, asks, config=config).responses
        asks = [revision_text(d, r.prompt, r.final, c) for d, r, c in zip(drawn, out, critiques)]
        revisions = sample(model, tokenizer, asks, config=config).responses
        for record, critique, revision in zip(out, critiques, revisions):
            record.critiques.append(critique)
            record.responses.append(revision)
    return out
