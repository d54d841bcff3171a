"""Memorised demonstrations: another question's SFT demonstration, word for word, counts; the right answer does not."""
from __future__ import annotations

import json

import pytest

from alignkit.cli import evaluate as evaluate_cli
from alignkit.cli import main
from alignkit.measure.evaluate import evaluate_responses
from alignkit.measure.verbatim import demonstration_answers, is_verbatim_demonstration, normalise, verbatim_rate
from alignkit.world import find_task, ideal_response, load_world, splits
from alignkit.world.demonstrators import sft_rows

WORLD = load_world()
TEST_FACT = next(t for t in splits(WORLD).test if t.category == "fact")


def _demonstrations(category: str) -> list[tuple[object, str]]:
    """(task, demonstration) for the SFT rows of one category."""
    pairs = [(find_task(WORLD, row["messages"][0]["content"]), row["messages"][1]["content"]) for row in sft_rows(WORLD)]
    return [(task, text) for task, text in pairs if task.category == category]


# A demonstration about another entity of the test prompt's kind: "The dravun lives in the river."
OTHER_TASK, OTHER_DEMONSTRATION = next(
    (task, text) for task, text in _demonstrations("fact")
    if task.entity != TEST_FACT.entity and task.kind == TEST_FACT.kind and task.attribute == TEST_FACT.attribute
    and text == ideal_response(WORLD, task))


def test_another_prompts_demonstration_counts_even_respaced_and_recased():
    assert is_verbatim_demonstration(TEST_FACT.prompt, OTHER_DEMONSTRATION)
    assert is_verbatim_demonstration(TEST_FACT.prompt, "  " + OTHER_DEMONSTRATION.lower().replace(" ", "  ") + "\n")


def test_the_own_prompts_ideal_answer_is_right_not_memorised():
    for task in splits(WORLD).test:
        assert not is_verbatim_demonstration(task.prompt, ideal_response(WORLD, task)), task.prompt
    # Not vacuous: a harmful test request's ideal refusal has the very words demonstrated for another person.
    harmful = next(t for t in splits(WORLD).test if t.category == "harmful")
    assert normalise(ideal_response(WORLD, harmful)) in demonstration_answers(WORLD)


def test_a_training_prompts_own_demonstration_is_not_a_copy_flattered_or_not():
    flattered = [(t, text) for t, text in _demonstrations("fact") if text != ideal_response(WORLD, t)]
    assert flattered
    for task, text in flattered[:5] + [(OTHER_TASK, OTHER_DEMONSTRATION)]:
        assert not is_verbatim_demonstration(task.prompt, text)


def test_a_near_copy_is_not_verbatim():
    with_own_entity = OTHER_DEMONSTRATION.replace(OTHER_TASK.entity, TEST_FACT.entity)
    assert with_own_entity != OTHER_DEMONSTRATION
    assert not is_verbatim_demonstration(TEST_FACT.prompt, with_own_entity)
    assert not is_verbatim_demonstration(TEST_FACT.prompt, OTHER_DEMONSTRATION.rstrip("."))


def test_the_standard_error_is_over_prompts_not_responses():
    other_fact = next(t for t in splits(WORLD).test if t.category == "fact" and t.entity != OTHER_TASK.entity
                      and t.prompt != TEST_FACT.prompt)
    prompts = [TEST_FACT.prompt] * 2 + [other_fact.prompt] * 2
    responses = [OTHER_DEMONSTRATION] * 2 + [ideal_response(WORLD, other_fact)] * 2
    # Per-prompt rates 1 and 0: mean 0.5, se std([1, 0]) / sqrt(2) = 0.5. Over the four responses it would be 0.289.
    assert verbatim_rate(prompts, responses) == (0.5, 0.5)


def test_the_harness_reports_the_rate_per_kind():
    prompts = [t.prompt for t in splits(WORLD).test]
    responses = [OTHER_DEMONSTRATION if p == TEST_FACT.prompt else ideal_response(WORLD, find_task(WORLD, p))
                 for p in prompts]
    summary, df = evaluate_responses(prompts, responses)
    n_fact = sum(t.category == "fact" for t in splits(WORLD).test)
    assert df.verbatim_demonstration.sum() == 1
    assert summary["verbatim_demonstration"] == round(1 / len(prompts), 4)
    assert summary["verbatim_demonstration_fact"] == round(1 / n_fact, 4) and summary["verbatim_demonstration_fact_se"] > 0
    assert summary["verbatim_demonstration_procedure"] == 0


@pytest.mark.parametrize("as_json", [True, False])
def test_the_cli_prints_the_rate_and_its_error(tmp_path, tiny_lm, small_tokenizer, monkeypatch, capsys, as_json):
    from alignkit.core.tokenizer import save_tokenizer

    tiny_lm.save_pretrained(tmp_path)
    save_tokenizer(small_tokenizer, tmp_path)
    prompts = [TEST_FACT.prompt, TEST_FACT.prompt]  # two samples of one prompt: one copies, one answers
    responses = [OTHER_DEMONSTRATION, ideal_response(WORLD, TEST_FACT)]
    monkeypatch.setattr(evaluate_cli, "evaluate", lambda *_args, **_kwargs: evaluate_responses(prompts, responses))
    assert main(["eval", str(tmp_path), "--max-prompts", "1"] + (["--json"] if as_json else [])) == 0
    out = capsys.readouterr().out
    if as_json:
        result = json.loads(out)
        assert result["verbatim_demonstration"] == 0.5 and result["verbatim_demonstration_fact_se"] == 0.0
    else:
        assert any(line.split()[:2] == ["verbatim_demonstration", "0.5"] for line in out.splitlines()), out
