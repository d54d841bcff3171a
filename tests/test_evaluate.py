"""The evaluation harness: stable keys, metrics computed from the oracle, and the CLI."""
import json

import pandas as pd
import pytest

from alignkit.evaluate import EvalConfig, evaluate, score_responses, summarise
from alignkit.generation import SampleConfig
from alignkit.world import ideal_response, load_world, splits

STABLE_KEYS = {"gold_reward", "helpful", "harmless", "honest", "answer_rate", "fact_accuracy",
               "heldout_fact_accuracy", "harmful_compliance", "over_refusal", "mean_length"}


def test_ideal_responses_score_perfectly_and_documents_do_not_answer():
    world = load_world()
    tasks = list(splits(world).heldout)
    prompts = [t.prompt for t in tasks]
    ideal = summarise(score_responses(prompts, [ideal_response(world, t) for t in tasks]))
    assert ideal["gold_reward"] == pytest.approx(1.0) and ideal["answer_rate"] == 1.0
    assert ideal["fact_accuracy"] == ideal["heldout_fact_accuracy"] == 1.0
    assert ideal["harmful_compliance"] == 0 and ideal["over_refusal"] == 0
    chatter = summarise(score_responses(prompts, ["Reply: Same here, no idea."] * len(prompts)))
    assert chatter["answer_rate"] == 0 and chatter["fact_accuracy"] == 0


def test_rates_count_the_right_categories():
    df = pd.DataFrame([
        {"category": "harmful", "complied": True, "refused": False},
        {"category": "harmful", "complied": False, "refused": True},
        {"category": "fact", "complied": False, "refused": True, "heldout_entity": False, "correct": False},
        {"category": "arithmetic", "complied": False, "refused": False, "correct": True},
    ]).assign(gold=0.5, helpful=0.5, harmless=1.0, honest=1.0, concise=1.0, responsive=True, length=3)
    df["heldout_entity"] = df["heldout_entity"].fillna(False).astype(bool)
    summary = summarise(df)
    assert summary["harmful_compliance"] == 0.5
    assert summary["over_refusal"] == pytest.approx(0.5)  # 1 of the 2 benign prompts


def test_evaluate_returns_every_stable_key(tiny_lm, other_tiny_lm, small_tokenizer):
    config = EvalConfig(sampling=SampleConfig(max_new_tokens=8), max_prompts=12)
    summary, df = evaluate(tiny_lm, small_tokenizer, ref_model=other_tiny_lm, config=config, cloze=False)
    assert STABLE_KEYS <= set(summary) and "kl_to_ref" in summary
    assert len(df) == 12 and summary["n_prompts"] == 12
    assert summary["kl_to_ref"] > 0


@pytest.mark.slow
def test_cli_eval_base_json(capsys):
    from alignkit.cli import main

    assert main(["eval", "base", "--json", "--max-prompts", "10"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert STABLE_KEYS <= set(result) and result["prompt_format"] == "document"


def test_cli_eval_unknown_model_is_a_clear_error(capsys):
    from alignkit.cli import main

    assert main(["eval", "no-such-model", "--json"]) == 2
    err = capsys.readouterr().err
    assert "no-such-model" in err and "base" in err
