"""The feedback model of chapter 05: `base`, fine-tuned on the corpus's reviews and editors' notes.

    model, log = train_feedback_model(base_model, tokenizer, reviews(world, 8000) + critiques(world, 4000))

A review (alignkit.world.reviews) is a comparison in the layout `cai.ai_preferences` later asks, in varied
wording and both directions, followed by its verdict; an editor's note is a reply, a critique request, the
critique, a revision request and the revision, the layout `cai.critique_and_revise` asks in. Fine-tuning puts
the loss on what the model will be asked to write: the verdict, summed over its tokens, and the critique
and revision, averaged per token so that a long revision does not drown a one-letter verdict (measured:
averaging the verdict's four tokens too cut the reviews of validation prompts answered right from 0.92 to
0.83). Under the plain next-token loss over whole
documents a base-sized model did not learn the verdict (measured: 260 steps over reviews mixed with the
corpus left P(A) at 0.43-0.46 whatever the options said). The model reads text only; no oracle score or
labeler choice is an input.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from alignkit.cai.ai_feedback import ANSWER_CUE, OPTIONS, choice_probabilities, continuation_logprobs
from alignkit.core.trl_driver import StepHook
from alignkit.infra.errors import explain_out_of_memory

__all__ = ["FeedbackSettings", "split_review", "split_critique", "split_document", "train_feedback_model",
           "review_accuracy"]


@dataclass(frozen=True)
class FeedbackSettings:
    n_reviews: int = 8000  # review documents about training prompts
    n_critiques: int = 4000  # editors' notes about training prompts (what SL-CAI's critiques and revisions need)
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


CRITIQUE_CUE = " Critique:"


def split_critique(document: str) -> tuple[str, str]:
    """(the reply and critique request up to the critique cue, the critique → revision request → revision)."""
    head, cue, tail = document.partition(CRITIQUE_CUE)
    if not cue or " Revision:" not in tail:
        raise ValueError(f"not an editor's note (it needs '{CRITIQUE_CUE.strip()}' then 'Revision:'): {document[:60]!r}")
    return head + cue, tail


def split_document(document: str) -> tuple[str, str]:
    """(context, the part the model learns to write) of a review or an editor's note."""
    return split_review(document) if document.rstrip().endswith(OPTIONS) else split_critique(document)


def _loss_divisors(tokenizer, documents, continuations) -> torch.Tensor:
    """1 for a review's verdict (its log-prob is summed), the token count for an editor's note (averaged)."""
    def tokens(text: str) -> int:
        return max(1, len(tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]))
    return torch.tensor([1 if d.rstrip().endswith(OPTIONS) else tokens(c) for d, c in zip(documents, continuations)],
                        dtype=torch.float)


def train_feedback_model(model, tokenizer, documents: list[str], settings: FeedbackSettings = FeedbackSettings(),
                         on_step: StepHook | None = None) -> list[dict]:
    """Fine-tune `model` in place on reviews and editors' notes, loss per token on what follows each context
    (the verdict; the critique and revision); returns the per-step log. on_step(row): after every step, with
    its logged dict ({"step", "loss"}), e.g. a LivePlot; it replaces the progress bar."""
    questions, verdicts = zip(*(split_document(d) for d in documents))
    divisors = _loss_divisors(tokenizer, documents, verdicts)
    rng = random.Random(settings.seed)
    steps = max(1, int(settings.epochs * len(documents) / settings.batch_size))
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=0.0)
    model.train()
    log, started = [], time.perf_counter()
    for step in tqdm(range(steps), desc="feedback model", disable=True if on_step is not None else None):
        batch = [rng.randrange(len(documents)) for _ in range(settings.batch_size)]
        with explain_out_of_memory("feedback training", f"Lower FeedbackSettings.batch_size (now {settings.batch_size})."):
            logps = continuation_logprobs(model, tokenizer, [questions[i] for i in batch],
                                          [verdicts[i] for i in batch], batch_size=settings.batch_size)
            loss = -(logps / divisors[batch]).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        log.append({"step": step + 1, "loss": loss.item()})
        if on_step is not None:
            on_step(log[-1])
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
