"""The evaluation harness: stable keys, metrics computed from the oracle, and the CLI."""
import json

import pandas as pd
import pytest

from alignkit.measure.baselines import BASELINES, baseline_responses
from alignkit.measure.evaluate import (EvalSettings, evaluate, evaluate_responses, heldout_prompts, paired_difference,
                                       paired_difference_by_kind, prompts_for, score_responses, summarise)
from alignkit.core.generation import SampleSettings
from alignkit.world import find_task, ideal_response, load_world, splits

WORLD = load_world()

STABLE_KEYS = {"gold_reward", "helpful", "harmless", "honest", "answer_rate", "fact_accuracy",
               "heldout_fact_accuracy", "harmful_compliance", "over_refusal", "mean_length"}


def test_ideal_responses_score_perfectly_and_documents_do_not_answer():
    world = load_world()
    tasks = list(splits(world).test)
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
    ]).assign(gold=0.5, helpful=0.5, harmless=1.0, honest=1.0, concise=1.0, responsive=True, length=3,
              prompt=["a", "b", "c", "d"])
    df["heldout_entity"] = df["heldout_entity"].fillna(False).astype(bool)
    df["correct"] = df["correct"].fillna(False).astype(bool)
    summary = summarise(df)
    assert summary["harmful_compliance"] == 0.5 and summary["harmful_compliance_se"] == 0.5  # std 0.707 / sqrt 2
    assert summary["over_refusal"] == pytest.approx(0.5)  # 1 of the 2 benign prompts
    assert summary["gold_reward_se"] == 0.0 and summary["n_prompts"] == 4


def test_standard_errors_are_over_prompts_not_responses():
    """Two responses to each prompt: they are averaged first, so the error counts prompts."""
    prompts = ["p1", "p1", "p2", "p2", "p3", "p3"]
    df = pd.DataFrame({"prompt": prompts, "gold": [1.0, 0.0, 1.0, 1.0, 0.0, 0.0], "category": "fact",
                       "heldout_entity": False, "correct": False, "helpful": 0.0, "harmless": 1.0, "honest": 1.0,
                       "concise": 1.0, "responsive": True, "refused": False, "complied": False, "length": 1})
    summary = summarise(df)
    assert summary["gold_reward"] == pytest.approx(0.5) and summary["samples_per_prompt"] == 2
    assert summary["gold_reward_se"] == pytest.approx(round(0.5 / 3 ** 0.5, 4))  # per-prompt means 0.5, 1, 0


def test_paired_difference_uses_the_same_prompts_and_says_within_noise():
    prompts = heldout_prompts()
    _, ideal = evaluate_responses(prompts, [ideal_response(WORLD, find_task(WORLD, p)) for p in prompts])
    _, evasive = evaluate_responses(prompts, ["I don't know."] * len(prompts))
    result = paired_difference(ideal, evasive)
    assert result["verdict"] == "A higher" and result["difference"] > 2 * result["se"] > 0
    assert result["n_prompts"] == len(prompts)
    assert paired_difference(evasive, evasive)["verdict"] == "within noise"


def test_paired_difference_by_kind_splits_the_prompts_and_skips_kinds_a_metric_does_not_read():
    prompts = heldout_prompts()
    _, ideal = evaluate_responses(prompts, [ideal_response(WORLD, find_task(WORLD, p)) for p in prompts])
    _, evasive = evaluate_responses(prompts, ["I don't know."] * len(prompts))
    gold = paired_difference_by_kind(ideal, evasive)
    assert list(gold) == ["fact", "procedure", "arithmetic", "harmful", "unknowable"]
    assert sum(d["n_prompts"] for d in gold.values()) == len(prompts)
    assert gold["fact"]["verdict"] == "A higher" and gold["unknowable"]["verdict"] == "within noise"  # both abstain
    assert gold["fact"] == paired_difference(ideal[ideal.category == "fact"], evasive[evasive.category == "fact"])
    refusals = paired_difference_by_kind(evasive, ideal, "over_refusal")
    assert list(refusals) == ["fact", "procedure", "arithmetic"] and refusals["fact"]["difference"] == 1.0


def test_several_samples_per_prompt_and_the_validation_split(tiny_lm, small_tokenizer):
    config = EvalSettings(sampling=SampleSettings(max_new_tokens=4), max_prompts=6, samples_per_prompt=3,
                        split="validation")
    summary, df = evaluate(tiny_lm, small_tokenizer, config=config, cloze=False)
    assert len(df) == 18 and sorted(df["sample"].unique()) == [0, 1, 2] and summary["samples_per_prompt"] == 3
    assert set(df.prompt) <= set(prompts_for("validation")) and not set(df.prompt) & set(heldout_prompts())


def test_every_trivial_baseline_scores_far_below_ideal_answers():
    prompts = prompts_for("test")
    ideal, _ = evaluate_responses(prompts, [ideal_response(WORLD, find_task(WORLD, p)) for p in prompts])
    gold = {name: evaluate_responses(prompts, baseline_responses(name, prompts))[0]["gold_reward"] for name in BASELINES}
    assert all(g < ideal["gold_reward"] - 0.4 for g in gold.values()), gold


def test_evaluate_returns_every_stable_key(tiny_lm, other_tiny_lm, small_tokenizer):
    config = EvalSettings(sampling=SampleSettings(max_new_tokens=8), max_prompts=12)
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
