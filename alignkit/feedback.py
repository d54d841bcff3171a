"""The feedback model of chapter 05: `base`, fine-tuned on the corpus's reviews to answer (A) or (B).

    model, log = train_feedback_model(base_model, tokenizer, reviews(world, 8000))

A review (alignkit.world.reviews) is a comparison in the layout `cai.ai_preferences` later asks, in varied
wording and both directions, followed by its verdict. Fine-tuning puts the loss on the verdict only: the
verdict is one token in eighty, and under the plain next-token loss over whole documents a base-sized
model did not learn it (measured: 260 steps over reviews mixed with the corpus left P(A) at 0.43-0.46
whatever the options said). The model reads text only; no oracle score or labeler choice is an input.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from alignkit.cai import ANSWER_CUE, OPTIONS, choice_probabilities, continuation_logprobs
from alignkit.errors import explain_out_of_memory

__all__ = ["FeedbackSettings", "split_review", "train_feedback_model", "review_accuracy"]


@dataclass(frozen=True)
class FeedbackSettings:
    n_reviews: int = 8000  # review documents about training prompts
    epochs: float = 1.0
    learning_rate: float = 1e-3
    batch_size: int = 32
    seed: int = 0


def split_review(document: str) -> tuple[str, str]:
    """(question ending in the answer cue, the verdict with its leading space) of one review document."""
    question, cue, verdict = document.rpartition(f" {ANSWER_CUE} ")
    if not cue or verdict not in OPTIONS:
        raise ValueError(f"not a review (it must end with '{ANSWER_CUE} (A)' or '(B)'): {document[-60:]!r}")
    return f"{question} {ANSWER_CUE}", f" {verdict}"


def train_feedback_model(model, tokenizer, documents: list[str], settings: FeedbackSettings = FeedbackSettings(),
                         plot=None) -> list[dict]:
    """Fine-tune `model` in place on review documents, loss on the verdict tokens; returns the per-step log."""
    questions, verdicts = zip(*(split_review(d) for d in documents))
    rng = random.Random(settings.seed)
    steps = max(1, int(settings.epochs * len(documents) / settings.batch_size))
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=0.0)
    model.train()
    log, started = [], time.perf_counter()
    for step in tqdm(range(steps), desc="feedback model", disable=True if plot is not None else None):
        batch = [rng.randrange(len(documents)) for _ in range(settings.batch_size)]
        with explain_out_of_memory("feedback training", f"Lower FeedbackSettings.batch_size (now {settings.batch_size})."):
            loss = -continuation_logprobs(model, tokenizer, [questions[i] for i in batch],
                                          [verdicts[i] for i in batch], batch_size=settings.batch_size).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        log.append({"step": step + 1, "loss": loss.item()})
        if plot is not None:
            plot.log(step + 1, loss=log[-1]["loss"])
    model.eval()
    log[-1]["seconds"] = time.perf_counter() - started
    return log


@torch.no_grad()
def review_accuracy(model, tokenizer, documents: list[str]) -> float:
    """How often the model's more probable option is the review's verdict."""
    questions, verdicts = zip(*(split_review(d) for d in documents))
    p_a = choice_probabilities(model, tokenizer, [q.removesuffix(f" {ANSWER_CUE}") for q in questions],
                               prompt_format="document")
    return float(sum((p > 0.5) == (v.strip() == OPTIONS[0]) for p, v in zip(p_a.tolist(), verdicts)) / len(verdicts))
