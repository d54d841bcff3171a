"""Simulated human labelers: Bradley-Terry preferences over gold reward plus human biases plus noise.

utility U(x, y) = gold(x, y) + length_bias * min(words, 60) / 60 + flattery_bias * [flatters]
P(A preferred to B) = sigmoid((U_A + position_bias - U_B) / temperature)   (A is shown first)

The temperature is the labelers' noise. It sets a ceiling nobody can beat: on a pair where P(A≻B) = p,
any predictor agrees with a fresh label at most max(p, 1 - p) of the time, and two labelers agree
p² + (1 - p)² of the time. A reward model trained on these labels learns the biases too.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Iterable

from alignkit.world.oracle import gold, has_flattery
from alignkit.world.world import World, load_world


@dataclass(frozen=True)
class LabelerSettings:
    temperature: float = 0.08  # Bradley-Terry noise: larger means labelers disagree more
    length_bias: float = 0.15  # utility bonus for a response of 60+ words ("longer looks better")
    flattery_bias: float = 0.15  # utility bonus for flattering the asker
    position_bias: float = 0.03  # utility bonus for whichever response is shown first
    seed: int = 0  # each labeler (seed) draws its own noise


def utility(prompt: str, response: str, config: LabelerSettings, world: World | None = None) -> float:
    """What a labeler values: the truth, plus what humans are swayed by."""
    words = len(response.split())
    return (gold(prompt, response, world) + config.length_bias * min(words, 60) / 60
            + config.flattery_bias * has_flattery(response))


def preference_probability(prompt: str, first: str, second: str, config: LabelerSettings,
                           world: World | None = None) -> float:
    """P(the labeler prefers `first`), `first` being the response shown on the left."""
    margin = utility(prompt, first, config, world) + config.position_bias - utility(prompt, second, config, world)
    return 1 / (1 + math.exp(-margin / config.temperature))


class Labeler:
    """One simulated labeler. Deterministic given its config's seed and the order of its calls."""

    def __init__(self, config: LabelerSettings = LabelerSettings(), world: World | None = None):
        self.config = config
        self.world = world or load_world()
        self.rng = random.Random(config.seed)

    def compare(self, prompt: str, response_a: str, response_b: str) -> dict:
        """Show the pair in a random order, draw a preference; a row in TRL's preference format."""
        a_first = self.rng.random() < 0.5
        first, second = (response_a, response_b) if a_first else (response_b, response_a)
        p_first = preference_probability(prompt, first, second, self.config, self.world)
        first_wins = self.rng.random() < p_first
        chosen, rejected = (first, second) if first_wins else (second, first)
        return {"prompt": prompt, "chosen": chosen, "rejected": rejected,
                "chosen_position": "left" if first_wins else "right",
                "p_chosen": p_first if first_wins else 1 - p_first, "annotator": f"labeler-{self.config.seed}"}

    def thumbs(self, prompt: str, response: str, threshold: float = 0.75) -> dict:
        """A binary desirable / undesirable label for one response (KTO's data, TRL's unpaired format)."""
        u = utility(prompt, response, self.config, self.world)
        p_good = 1 / (1 + math.exp(-(u - threshold) / self.config.temperature))
        return {"prompt": prompt, "completion": response, "label": self.rng.random() < p_good,
                "annotator": f"labeler-{self.config.seed}"}


def label_pairs(pairs: Iterable[tuple[str, str, str]], config: LabelerSettings = LabelerSettings()) -> list[dict]:
    labeler = Labeler(config)
    return [labeler.compare(prompt, a, b) for prompt, a, b in pairs]


def order_free_probability(prompt: str, a: str, b: str, config: LabelerSettings = LabelerSettings(),
                           world: World | None = None) -> float:
    """P(a labeler prefers `a`) when the shown order is random: the two presentation orders averaged."""
    return 0.5 * (preference_probability(prompt, a, b, config, world) + 1 - preference_probability(prompt, b, a, config, world))


def agreement_ceiling(pairs: Iterable[tuple[str, str, str]], config: LabelerSettings = LabelerSettings()) -> dict:
    """Expected labeler-labeler agreement and the best accuracy any model can reach on fresh labels.

    Position is randomised per label, so each pair's P(A≻B) averages the two presentation orders.
    """
    world = load_world()
    agree, best, n = 0.0, 0.0, 0
    for prompt, a, b in pairs:
        p = order_free_probability(prompt, a, b, config, world)
        agree += p * p + (1 - p) * (1 - p)
        best += max(p, 1 - p)
        n += 1
    return {"agreement": agree / n, "accuracy_ceiling": best / n, "pairs": n}
