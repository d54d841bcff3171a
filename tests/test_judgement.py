"""The judgement experiment: Bradley-Terry weights from labels, the labelled pairs, the per-kind judge."""
import numpy as np
import pandas as pd

from alignkit.experiments.judgement import (bradley_terry_weights, fit_likelihood_judge, labelled_feature_differences,
                                            likelihood_judge_scores)
from alignkit.world import ideal_response, load_world, splits


def test_bradley_terry_recovers_the_direction_of_a_known_judge():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(4000, 2))
    true_w = np.array([2.0, -1.0])
    first_wins = rng.random(4000) < 1 / (1 + np.exp(-features @ true_w))
    differences = np.where(first_wins[:, None], features, -features)  # chosen minus rejected
    w = bradley_terry_weights(differences)
    assert np.sign(w).tolist() == [1.0, -1.0] and abs(w[0] / w[1] + 2.0) < 0.3


def _frame_of_ideal_and_wrong_answers(kinds=("fact", "harmful"), per_kind=6):
    world = load_world()
    rows = []
    for kind in kinds:
        for task in [t for t in splits(world).validation if t.category == kind][:per_kind]:
            rows.append({"prompt": task.prompt, "category": kind, "response": ideal_response(world, task),
                         "rm_score": 1.0 if kind == "harmful" else 0.0, "logprob_per_token": -0.5})
            rows.append({"prompt": task.prompt, "category": kind, "response": "Reply: Same here, no idea.",
                         "rm_score": 0.0, "logprob_per_token": -0.5 if kind == "harmful" else -3.0})
    return pd.DataFrame(rows)


def test_the_labellers_choose_and_each_kind_gets_the_feature_that_separates_it():
    frame = _frame_of_ideal_and_wrong_answers()
    differences, kinds = labelled_feature_differences(frame)
    assert len(differences) == 12 and set(kinds) == {"fact", "harmful"}
    weights = fit_likelihood_judge(frame)
    assert weights["fact"][1] > weights["fact"][0]  # on facts only the likelihood tells them apart
    assert weights["harmful"][0] > weights["harmful"][1]  # on harmful requests only the rm does
    judged = frame.assign(score=likelihood_judge_scores(frame, weights))
    for _, answers in judged.groupby("prompt"):  # a judge ranks a prompt's answers; kinds need not share a scale
        assert answers.score.iloc[0] > answers.score.iloc[1]
