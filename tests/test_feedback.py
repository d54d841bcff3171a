"""The feedback model's data and training: reviews and editors' notes are world text about training prompts, the
loss sits on what the model will be asked to write (the verdict; the critique and revision), and fine-tuning
moves the model toward it."""
from __future__ import annotations

import pytest
import torch

from alignkit.cai import ai_feedback
from alignkit.cai.feedback_model import (FeedbackSettings, review_accuracy, split_critique, split_document, split_review,
                               train_feedback_model)
from alignkit.world import load_world
from alignkit.world.reviews import QUESTIONS, critiques, reviews
from alignkit.world.tasks import splits


@pytest.fixture(scope="module")
def world():
    return load_world()


def test_reviews_are_about_preference_or_validation_prompts_never_test_ones(world):
    split = splits(world)
    test_prompts = {t.prompt for t in split.test}
    for name, allowed in (("preference", split.preference), ("validation", split.validation)):
        allowed_prompts = {t.prompt for t in allowed}
        for document in reviews(world, 200, split=name) + critiques(world, 50, split=name):
            prompt = document.split("Human: ", 1)[1]
            assert any(prompt.startswith(p + " ") for p in allowed_prompts)
            assert not any(prompt.startswith(p + " ") for p in test_prompts - allowed_prompts)
    with pytest.raises(ValueError, match="never 'test'"):
        reviews(world, 1, split="test")


def test_reviews_ask_both_directions_and_both_positions(world):
    documents = reviews(world, 400)
    verdicts = [split_review(d)[1] for d in documents]
    assert 0.35 < verdicts.count(" (A)") / len(verdicts) < 0.65
    worse_questions = {q for _, worse in QUESTIONS.values() for q in worse}
    assert 0.2 < sum(any(q in d for q in worse_questions) for d in documents) / len(documents) < 0.6
    assert reviews(world, 5, seed=1) != reviews(world, 5, seed=2) and reviews(world, 5) == reviews(world, 5)


def test_split_review_rejects_text_without_a_verdict():
    question, verdict = split_review("Consider this. Options: (A) x (B) y Answer: (B)")
    assert question.endswith(ai_feedback.ANSWER_CUE) and verdict == " (B)"
    with pytest.raises(ValueError, match="not a review"):
        split_review("Consider this. Options: (A) x (B) y Answer: maybe")


def test_training_raises_the_verdicts_probability(world, tiny_lm, small_tokenizer):
    documents = reviews(world, 16)
    questions, verdicts = zip(*(split_review(d) for d in documents))

    def verdict_logprob() -> float:
        with torch.no_grad():
            return float(ai_feedback.continuation_logprobs(tiny_lm, small_tokenizer, list(questions), list(verdicts)).mean())

    before = verdict_logprob()
    log = train_feedback_model(tiny_lm, small_tokenizer, documents,
                               FeedbackSettings(epochs=4, batch_size=8, learning_rate=3e-3))
    assert len(log) == 8 and log[-1]["seconds"] > 0
    assert verdict_logprob() > before + 1.0
    assert 0.0 <= review_accuracy(tiny_lm, small_tokenizer, documents) <= 1.0


def test_split_critique_cuts_an_editors_note_right_after_the_critique_cue(world):
    for note in critiques(world, 20):
        context, continuation = split_critique(note)
        assert context + continuation == note and context.endswith(" Critique:")
        assert context.count("Critique:") == 1 and " Critique request: " in context  # the request stays context
        assert " Revision request: " in continuation and " Revision: " in continuation
    for broken in ("Human: hi Assistant: hello Critique request: Is it kind? Revision: Hello.",
                   "Human: hi Assistant: hello Critique request: Is it kind? Critique: It is fine."):
        with pytest.raises(ValueError, match="not an editor's note"):
            split_critique(broken)


def test_split_document_tells_reviews_from_editors_notes(world):
    review, note = reviews(world, 1)[0], critiques(world, 1)[0]
    assert split_document(review) == split_review(review) and split_document(review)[1] in (" (A)", " (B)")
    assert split_document(note) == split_critique(note)
    with pytest.raises(ValueError):
        split_document("Just a sentence from the corpus.")


def test_training_on_editors_notes_raises_the_critique_and_revision_probability(world, tiny_lm, small_tokenizer):
    notes = critiques(world, 8)
    contexts, continuations = zip(*(split_critique(d) for d in notes))

    def per_token_logprob() -> float:
        with torch.no_grad():
            logps = ai_feedback.continuation_logprobs(tiny_lm, small_tokenizer, list(contexts), list(continuations))
        lengths = [len(small_tokenizer(c, add_special_tokens=False)["input_ids"]) for c in continuations]
        return float((logps / torch.tensor(lengths)).mean())

    before = per_token_logprob()
    log = train_feedback_model(tiny_lm, small_tokenizer, notes,
                               FeedbackSettings(epochs=8, batch_size=8, learning_rate=3e-3))
    assert len(log) == 8
    assert per_token_logprob() > before + 0.5  # measured: about +1.0 nat per token
