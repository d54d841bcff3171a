"""The feedback model's two jobs: preferences read from its (A)/(B) probabilities, and critique → revision.

Nothing but the model reads the text: no oracle score or labeler choice reaches it (as the methods'
"gold never influences the update" tests hold for training)."""
from __future__ import annotations

import ast
import inspect
import random

import pytest
import torch

from alignkit.cai import ai_feedback
from alignkit.world.constitution import load_constitution
from alignkit.core.generation import SampleSettings, completion_logprobs

PROMPTS = ["What colour is the lunkel?", "How do I break into a house?", "What is 2 plus 3?"]
FIRSTS = ["The lunkel is red.", "I can't help with that.", "5."]
SECONDS = ["I don't know.", "First you find an open window.", "It is 7."]


@pytest.fixture
def constitution():
    return load_constitution()


def test_preferences_are_probabilities_that_swap_to_one_minus(tiny_lm, small_tokenizer, constitution):
    principle = constitution["harmless"]
    forward = ai_feedback.ai_preferences(tiny_lm, small_tokenizer, principle, PROMPTS, FIRSTS, SECONDS)
    backward = ai_feedback.ai_preferences(tiny_lm, small_tokenizer, principle, PROMPTS, SECONDS, FIRSTS)
    assert forward.shape == (3,) and bool(((forward > 0) & (forward < 1)).all())
    torch.testing.assert_close(forward + backward, torch.ones(3))  # the preferred position cancels


def test_preference_is_the_two_order_average_of_normalised_choice_logprobs(tiny_lm, small_tokenizer, constitution):
    principle = constitution["honest"]
    prompt, first, second = PROMPTS[0], FIRSTS[0], SECONDS[0]

    def p_a(question: str) -> float:
        a, b = completion_logprobs(tiny_lm, small_tokenizer, [question] * 2, list(ai_feedback.OPTIONS))
        return float(torch.exp(a) / (torch.exp(a) + torch.exp(b)))

    expected = (p_a(ai_feedback.comparison_text(principle.comparison, prompt, first, second))
                + 1 - p_a(ai_feedback.comparison_text(principle.comparison, prompt, second, first))) / 2
    got = ai_feedback.ai_preferences(tiny_lm, small_tokenizer, principle, [prompt], [first], [second])
    assert float(got) == pytest.approx(expected, abs=1e-6)


def test_the_principle_words_change_the_labels(tiny_lm, small_tokenizer, constitution):
    # An untrained model barely cares which answer it gives, so this only shows the words are read; chapter 05
    # measures the edit on the trained feedback model.
    reversed_ = constitution.reworded("harmless", comparison="Which of these assistant responses is more harmful?")
    questions = [ai_feedback.comparison_text(c["harmless"].comparison, p, a, b) for c in (constitution, reversed_)
                 for p, a, b in zip(PROMPTS, FIRSTS, SECONDS)]
    p_a = ai_feedback.choice_probabilities(tiny_lm, small_tokenizer, questions)
    assert float((p_a[:3] - p_a[3:]).abs().max()) > 1e-6  # well above float32 rounding near 0.5 (6e-8)
    original = ai_feedback.ai_preferences(tiny_lm, small_tokenizer, constitution["harmless"], PROMPTS, FIRSTS, SECONDS)
    edited = ai_feedback.ai_preferences(tiny_lm, small_tokenizer, reversed_["harmless"], PROMPTS, FIRSTS, SECONDS)
    assert not torch.equal(original, edited)


def test_mismatched_lengths_are_refused(tiny_lm, small_tokenizer, constitution):
    with pytest.raises(ValueError, match="one entry per pair"):
        ai_feedback.ai_preferences(tiny_lm, small_tokenizer, constitution["harmless"], PROMPTS, FIRSTS, SECONDS[:2])


def test_no_oracle_or_labeler_reaches_the_feedback_model(tiny_lm, small_tokenizer, constitution, monkeypatch):
    from alignkit.world import labelers, oracle

    def forbidden(*args, **kwargs):
        raise AssertionError("the feedback model consulted the oracle or the labelers")

    for module in (oracle, labelers):
        for name, member in vars(module).items():
            if inspect.isfunction(member) and member.__module__ == module.__name__:
                monkeypatch.setattr(module, name, forbidden)
    ai_feedback.ai_preferences(tiny_lm, small_tokenizer, constitution["harmless"], PROMPTS, FIRSTS, SECONDS)
    ai_feedback.critique_and_revise(tiny_lm, small_tokenizer, constitution, PROMPTS, FIRSTS, random.Random(0),
                            sampling=SampleSettings(max_new_tokens=4, temperature=0.0))
    imported = {node.module for node in ast.walk(ast.parse(inspect.getsource(ai_feedback)))
                if isinstance(node, ast.ImportFrom)}
    world = {m for m in imported if m and m.startswith("alignkit.world")} - {"alignkit.world.constitution"}
    assert not world and "alignkit.measure.evaluate" not in imported  # the constitution is world data CAI reads


def test_critique_and_revise_records_every_round(tiny_lm, small_tokenizer, constitution):
    sampling = SampleSettings(max_new_tokens=5, temperature=0.0)
    records = ai_feedback.critique_and_revise(tiny_lm, small_tokenizer, constitution, PROMPTS, FIRSTS, random.Random(1),
                                      rounds=2, sampling=sampling)
    assert [r.prompt for r in records] == PROMPTS
    for record, original in zip(records, FIRSTS):
        assert record.responses[0] == original and len(record.responses) == 3 and len(record.critiques) == 2
        assert record.principle in constitution.ids and record.final == record.responses[-1]
    again = ai_feedback.critique_and_revise(tiny_lm, small_tokenizer, constitution, PROMPTS, FIRSTS, random.Random(1),
                                    rounds=2, sampling=sampling)
    assert [r.responses for r in again] == [r.responses for r in records]  # greedy and seeded: reproducible
    with pytest.raises(ValueError, match="rounds"):
        ai_feedback.critique_and_revise(tiny_lm, small_tokenizer, constitution, PROMPTS, FIRSTS, random.Random(1), rounds=0)


def test_critique_and_revision_requests_carry_the_principle_text(constitution):
    principle = constitution["kind"]
    assert principle.critique in ai_feedback.critique_text(principle, "p", "r")
    assert principle.revision in ai_feedback.revision_text(principle, "p", "r", "c")


def test_a_document_model_critiques_and_revises_in_the_editors_layout(tiny_lm, small_tokenizer, constitution):
    records = ai_feedback.critique_and_revise(tiny_lm, small_tokenizer, constitution, PROMPTS, FIRSTS, random.Random(2),
                                      sampling=SampleSettings(max_new_tokens=6, temperature=0.0),
                                      prompt_format="document")
    assert all(len(r.responses) == 2 and len(r.critiques) == 1 for r in records)
    principle = constitution["harmless"]
    asked = ai_feedback.revision_text(principle, "p", "r", "c")
    assert asked.startswith(ai_feedback.critique_text(principle, "p", "r")) and asked.endswith(principle.revision)
    # the model goes on writing the note; what it writes is cut at the next section
    assert ai_feedback._cut(" It helps. Revision request: Rewrite it.") == "It helps."
    assert ai_feedback._cut("no marker here ") == "no marker here"
    with pytest.raises(ValueError, match="prompt_format"):
        ai_feedback.generate_continuations(tiny_lm, small_tokenizer, ["x"], "Critique:", SampleSettings(), "html")
