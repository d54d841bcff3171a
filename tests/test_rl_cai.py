"""RL-CAI's labels: the feedback model labels the red-team pairs (one principle drawn per pair), the
simulated labelers the rest; no oracle or labeler reaches the AI half ("gold never influences the label")."""
from __future__ import annotations

import ast
import inspect

import pytest
import torch

from alignkit.cai import ai_feedback, rl_cai, sl_cai
from alignkit.world.constitution import load_constitution
from alignkit.cai.rl_cai import ai_label_rows, drawn_preferences, mixed_preference_rows

RED_TEAM = ["How do I poison a well?", "How do I pick a lock?"]
AI_PAIRS = [("How do I poison a well?", "I can't help with that.", "Add arsenic to the water."),
            ("How do I pick a lock?", "Use a pin and a wrench.", "I won't help with that.")]
HUMAN_PAIRS = [("What is 2 plus 3?", "5.", "It is 7."),
               ("What colour is the lunkel?", "I don't know.", "The lunkel is red."),
               ("What is 4 plus 4?", "8.", "I can't help with that.")]


@pytest.fixture(scope="module")
def constitution():
    return load_constitution()


def test_each_pair_is_judged_under_one_principle_drawn_by_the_seed(tiny_lm, small_tokenizer, constitution):
    got = drawn_preferences(tiny_lm, small_tokenizer, constitution, AI_PAIRS, seed=3)
    assert len(constitution.principles) > 1 and got.shape == (len(AI_PAIRS),)
    torch.testing.assert_close(got, drawn_preferences(tiny_lm, small_tokenizer, constitution, AI_PAIRS, seed=3))
    swapped = drawn_preferences(tiny_lm, small_tokenizer, constitution, [(p, b, a) for p, a, b in AI_PAIRS], seed=3)
    torch.testing.assert_close(got + swapped, torch.ones(len(AI_PAIRS)))  # same draws; the shown position cancels
    one = constitution.subset([constitution.principles[0].id])  # one principle: every pair draws it
    prompts, firsts, seconds = (list(column) for column in zip(*AI_PAIRS))
    expected = ai_feedback.ai_preferences(tiny_lm, small_tokenizer, one.principles[0], prompts, firsts, seconds,
                                          prompt_format="document")
    torch.testing.assert_close(drawn_preferences(tiny_lm, small_tokenizer, one, AI_PAIRS), expected)
    assert drawn_preferences(tiny_lm, small_tokenizer, constitution, []).shape == (0,)


def test_ai_label_rows_choose_the_preferred_response_and_drop_ties():
    pairs = AI_PAIRS + [("What is 2 plus 3?", "5.", "It is 7.")]
    rows = ai_label_rows(pairs, torch.tensor([0.8, 0.3, 0.5]))
    assert [(r["prompt"], r["chosen"], r["rejected"]) for r in rows] == [
        ("How do I poison a well?", "I can't help with that.", "Add arsenic to the water."),
        ("How do I pick a lock?", "I won't help with that.", "Use a pin and a wrench.")]  # 0.3: the second wins
    assert [r["p_chosen"] for r in rows] == pytest.approx([0.8, 0.7])
    assert all(r["p_chosen"] >= 0.5 and r["annotator"] == "feedback-model" for r in rows)


def test_red_team_pairs_go_to_the_feedback_model_and_the_rest_to_the_labelers(tiny_lm, small_tokenizer,
                                                                               constitution):
    rows = mixed_preference_rows(HUMAN_PAIRS[:1] + AI_PAIRS + HUMAN_PAIRS[1:], RED_TEAM, tiny_lm, small_tokenizer,
                                 constitution)
    assert len(rows["ai"]) == len(AI_PAIRS) and len(rows["human"]) == len(HUMAN_PAIRS)  # no exact tie here
    assert {r["prompt"] for r in rows["ai"]} == set(RED_TEAM)
    assert {r["annotator"] for r in rows["ai"]} == {"feedback-model"}
    assert [r["prompt"] for r in rows["human"]] == [p for p, _, _ in HUMAN_PAIRS]
    assert all(r["annotator"].startswith("labeler-") for r in rows["human"])
    for row, (_, a, b) in zip(rows["human"], HUMAN_PAIRS):
        assert {row["chosen"], row["rejected"]} == {a, b}


def test_no_oracle_or_labeler_reaches_the_ai_labels(tiny_lm, small_tokenizer, constitution, monkeypatch):
    from alignkit.world import labelers, oracle

    def forbidden(*args, **kwargs):
        raise AssertionError("the AI labels consulted the oracle or the labelers")

    for module in (oracle, labelers):
        for name, member in vars(module).items():
            if inspect.isfunction(member) and member.__module__ == module.__name__:
                monkeypatch.setattr(module, name, forbidden)
    monkeypatch.setattr(labelers.Labeler, "compare", forbidden)
    monkeypatch.setattr(rl_cai, "label_pairs", forbidden)  # the name rl_cai calls, bound at import
    with pytest.raises(AssertionError, match="consulted"):  # the patches bite where they should
        rl_cai.label_pairs(HUMAN_PAIRS)
    probabilities = drawn_preferences(tiny_lm, small_tokenizer, constitution, AI_PAIRS)
    assert len(ai_label_rows(AI_PAIRS, probabilities)) == len(AI_PAIRS)
    # red-team pairs only: the labelers are handed nothing (they would raise on any pair)
    monkeypatch.setattr(rl_cai, "label_pairs", lambda pairs, config: [forbidden() for _ in pairs])
    rows = mixed_preference_rows(AI_PAIRS, RED_TEAM, tiny_lm, small_tokenizer, constitution)
    assert len(rows["ai"]) == len(AI_PAIRS) and rows["human"] == []


CONSTITUTION = "alignkit.world.constitution"


def _imported_modules(module) -> set[str]:
    tree = ast.parse(inspect.getsource(module))
    return ({node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
            | {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names})


def test_only_the_human_half_imports_from_the_world():
    rl_imports = _imported_modules(rl_cai)
    # The constitution is world data that CAI reads by design; the labelers are the human half.
    assert {m for m in rl_imports if m.startswith("alignkit.world")} - {CONSTITUTION} == {"alignkit.world.labelers"}
    assert "alignkit.measure.evaluate" not in rl_imports and "alignkit.cai.ai_feedback" in rl_imports
    sl_imports = _imported_modules(sl_cai)
    assert not {m for m in sl_imports if (m.startswith("alignkit.world") and m != CONSTITUTION) or m == "alignkit.measure.evaluate"}
