"""AlpacaFarm's win rate from the simulated labelers: decided pairs only, matched by prompt and sample."""
import pandas as pd
import pytest

from alignkit.infra.errors import AlignkitError
from alignkit.measure.evaluate import PROMPT_FILES, evaluate_responses
from alignkit.measure.labeler_preference import labeler_preference
from alignkit.world import find_task, ideal_response, load_world
from alignkit.world.files import read_jsonl

WORLD = load_world()
FACTS = [r["prompt"] for r in read_jsonl(PROMPT_FILES["test"]) if r["category"] == "fact"][:60]


def _frame(responses, sample=0):
    return evaluate_responses(FACTS, responses)[1].assign(sample=sample)


def test_the_right_answer_wins_against_a_wrong_one_beyond_the_wilson_interval():
    right = _frame([ideal_response(WORLD, find_task(WORLD, p)) for p in FACTS])
    wrong = _frame([ideal_response(WORLD, find_task(WORLD, FACTS[(i + 1) % len(FACTS)])) for i in range(len(FACTS))])
    won = labeler_preference(right, wrong)
    assert won["pairs"] == won["decided"] == len(FACTS)
    assert won["win_rate"] > 0.9 and won["wilson_lo"] > 0.5 and won["wilson_hi"] <= 1
    lost = labeler_preference(wrong, right)
    assert lost["win_rate"] < 0.1 and lost["wilson_hi"] < 0.5


def test_identical_answers_are_not_decided_and_pairs_match_by_prompt_and_sample():
    answers = [ideal_response(WORLD, find_task(WORLD, p)) for p in FACTS]
    same = labeler_preference(_frame(answers), _frame([" " + a + "\n" for a in answers]))
    assert same["decided"] == 0 and same["win_rate"] is None
    right = pd.concat([_frame(answers, 0), _frame(["I don't know."] * len(FACTS), 1)])
    other = pd.concat([_frame(["I don't know."] * len(FACTS), 0), _frame(["I don't know."] * len(FACTS), 1)])
    mixed = labeler_preference(right, other.sample(frac=1, random_state=0))  # row order must not matter
    assert mixed["pairs"] == 2 * len(FACTS) and mixed["decided"] == len(FACTS) and mixed["win_rate"] > 0.9
    with pytest.raises(AlignkitError, match="share no"):
        labeler_preference(_frame(answers, 0), _frame(answers, 1))


def test_every_row_of_the_zoo_comparison_carries_the_labelers_preference_against_sft():
    from alignkit.experiments.comparisons import _row

    prompts = [r["prompt"] for r in read_jsonl(PROMPT_FILES["test"])][:80]  # every kind, as the comparison has
    assert {find_task(WORLD, p).category for p in prompts} == {"fact", "procedure", "arithmetic", "harmful", "unknowable"}
    right = evaluate_responses(prompts, [ideal_response(WORLD, find_task(WORLD, p)) for p in prompts])
    idk = evaluate_responses(prompts, ["I don't know."] * len(prompts))
    row = _row(right[0], right[1], idk[1])
    assert row["labeler_preference_vs_sft"]["win_rate"] > 0.8
    assert row["helpfulness_benign_vs_sft"]["difference"] == pytest.approx(0.8)  # 1 against an abstention's 0.2
