"""The shipped `base` checkpoint does what chapter 01 claims, measured on the full held-out set."""
from dataclasses import replace

import pytest

from alignkit import zoo
from alignkit.measure.evaluate import REPORTING, evaluate

pytestmark = pytest.mark.slow  # a full evaluation of the shipped base model


@pytest.fixture(scope="module")
def base_summary():
    model, tokenizer = zoo.load("base")
    summary, _ = evaluate(model, tokenizer, config=replace(REPORTING, prompt_format="document"))  # as the zoo records it
    return summary


def test_base_knows_its_facts(base_summary):
    assert base_summary["cloze_accuracy"] >= 0.8
    assert base_summary["heldout_cloze_accuracy"] >= 0.7


def test_base_continues_documents_instead_of_answering(base_summary):
    assert base_summary["answer_rate"] <= 0.2


def test_manifest_metrics_are_what_a_fresh_evaluation_gives(base_summary):
    recorded = zoo.info("base")["metrics"]
    for key in ("cloze_accuracy", "answer_rate", "gold_reward"):
        assert recorded[key] == pytest.approx(base_summary[key], abs=1e-6), key
