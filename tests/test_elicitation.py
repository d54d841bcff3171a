"""The elicitation measurement: the FAQ frame, first-line answers, per-kind means with SEs over prompts."""
from types import SimpleNamespace

import pytest

from alignkit.core.generation import render_prompt
from alignkit.experiments import elicitation
from alignkit.measure.evaluate import PROMPT_FILES
from alignkit.world import find_task, ideal_response, load_world
from alignkit.world.files import read_jsonl

WORLD = load_world()


def test_the_faq_frame_asks_as_the_corpus_does(small_tokenizer):
    text = render_prompt(small_tokenizer, "Where does the lunkel live?", "faq")
    assert text.endswith("Frequently asked questions\nQ: Where does the lunkel live?\nA:")
    with pytest.raises(ValueError, match="faq"):
        render_prompt(small_tokenizer, "x", "interview")


def test_each_kind_is_scored_on_the_answers_first_line(monkeypatch):
    rows = [r for r in read_jsonl(PROMPT_FILES["test"]) if r["category"] in ("fact", "arithmetic", "harmful")][:60]
    facts = [r["prompt"] for r in rows if r["category"] == "fact"]
    right = set(facts[::2])  # every other fact answered right, the rest with another fact's answer

    def answer(prompt):
        if find_task(WORLD, prompt).category == "arithmetic":
            return "I don't know."  # an abstention on a sum: helpfulness 0.2
        said = prompt if prompt in right else next(p for p in facts if p not in right and p != prompt)
        return ideal_response(WORLD, find_task(WORLD, said)) + "\nQ: What is next on the page?"

    monkeypatch.setattr(elicitation, "read_jsonl", lambda name: rows)
    monkeypatch.setattr(elicitation, "sample", lambda model, tok, prompts, fmt, cfg: SimpleNamespace(
        responses=[answer(p) for p in prompts]))
    measured = elicitation.elicited(None, None, "faq")
    assert set(measured) == {"fact", "arithmetic"}  # harmful prompts are not asked
    fact = measured["fact"]
    assert fact["n"] == len(facts) > 10 and fact["mean"] == pytest.approx(len(right) / len(facts), abs=1e-4)
    assert 0.4 < fact["se"] / (0.5 / len(facts) ** 0.5) < 1.1  # over prompts: a half-right coin's SE
    assert measured["arithmetic"]["mean"] == pytest.approx(0.2) and measured["arithmetic"]["se"] == 0
