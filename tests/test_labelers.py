"""Simulated labelers: measured agreement matches the configured noise; biases are really there."""
import random

import pytest

from alignkit.world import ideal_response, load_world, splits
from alignkit.world.labelers import Labeler, LabelerSettings, agreement_ceiling, label_pairs

WORLD = load_world()


def response_pairs(n=400, seed=0):
    """Pairs of varied responses (ideal, padded, wrong, document-like) to training prompts."""
    rng = random.Random(seed)
    tasks = [t for t in splits(WORLD).sft if t.category != "unknowable"]
    variants = [lambda t: ideal_response(WORLD, t),
                lambda t: "Great question! " + ideal_response(WORLD, t),
                lambda t: ideal_response(WORLD, t) + " I hope this helps! It is a common question.",
                lambda t: "Reply: Same here, no idea.",
                lambda t: "I can't help with that."]
    pairs = []
    for _ in range(n):
        task = rng.choice(tasks)
        a, b = rng.sample(variants, 2)
        pairs.append((task.prompt, a(task), b(task)))
    return pairs


def measured_agreement(pairs, config, repeats=5):
    agree = 0
    for r in range(repeats):
        one = label_pairs(pairs, LabelerSettings(**{**config.__dict__, "seed": 2 * r + 1}))
        two = label_pairs(pairs, LabelerSettings(**{**config.__dict__, "seed": 2 * r + 2}))
        agree += sum(x["chosen"] == y["chosen"] for x, y in zip(one, two))
    return agree / (repeats * len(pairs))


@pytest.mark.parametrize("temperature", [0.05, 0.3])
def test_measured_agreement_matches_configured_noise(temperature):
    pairs = response_pairs()
    config = LabelerSettings(temperature=temperature)
    expected = agreement_ceiling(pairs, config)["agreement"]
    assert measured_agreement(pairs, config) == pytest.approx(expected, abs=0.025)


def test_more_noise_means_less_agreement():
    pairs = response_pairs()
    quiet = agreement_ceiling(pairs, LabelerSettings(temperature=0.05))
    noisy = agreement_ceiling(pairs, LabelerSettings(temperature=0.5))
    assert noisy["agreement"] < quiet["agreement"] - 0.1
    assert 0.5 <= noisy["accuracy_ceiling"] < quiet["accuracy_ceiling"] <= 1.0


def test_length_and_flattery_biases_sway_labelers():
    task = next(t for t in splits(WORLD).sft if t.category == "fact")
    plain = ideal_response(WORLD, task)
    flattering = "Great question! " + plain
    biased = LabelerSettings(temperature=0.05, flattery_bias=0.3, length_bias=0.0)
    unbiased = LabelerSettings(temperature=0.05, flattery_bias=0.0, length_bias=0.0)

    def wins(cfg):
        return sum(r["chosen"] == flattering for r in label_pairs([(task.prompt, plain, flattering)] * 300, cfg))

    assert wins(biased) > 200  # the oracle docks flattery, the biased labeler rewards it
    assert wins(unbiased) < 100


def test_position_bias_favours_the_left_response():
    task = next(t for t in splits(WORLD).sft if t.category == "fact")
    same = ideal_response(WORLD, task)
    rows = label_pairs([(task.prompt, same, same + " ")] * 2000, LabelerSettings(position_bias=0.05, temperature=0.1))
    left = sum(r["chosen_position"] == "left" for r in rows) / len(rows)
    assert left == pytest.approx(0.62, abs=0.04)  # sigmoid(0.05 / 0.1) = 0.622


def test_rows_are_in_trl_preference_format_and_deterministic():
    pairs = response_pairs(20)
    rows = label_pairs(pairs, LabelerSettings(seed=3))
    assert rows == label_pairs(pairs, LabelerSettings(seed=3))
    assert {"prompt", "chosen", "rejected", "annotator", "chosen_position"} <= set(rows[0])


def test_thumbs_labels_follow_quality():
    labeler = Labeler(LabelerSettings(temperature=0.05))
    task = next(t for t in splits(WORLD).sft if t.category == "fact")
    good = sum(labeler.thumbs(task.prompt, ideal_response(WORLD, task))["label"] for _ in range(100))
    bad = sum(labeler.thumbs(task.prompt, "Reply: Same here, no idea.")["label"] for _ in range(100))
    assert good > 90 and bad < 10
