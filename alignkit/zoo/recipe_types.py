"""What a recipe is and what it returns: the zoo's recipes (alignkit.zoo.recipes, alignkit.zoo.recipes_cai) share these.

Kept apart from the registry so that a module of recipes can import them without importing the registry,
which imports every module of recipes.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

__all__ = ["Trained", "Recipe", "resolve"]


@dataclass
class Trained:
    """A recipe's result before it is saved: the model, and what the zoo records about how it was made."""

    model: object
    tokenizer: object
    config: dict  # the settings it was trained with, as the manifest records them
    metrics: dict = field(default_factory=dict)  # what training measured (losses, steps, its own accuracies)
    ref_model: object = None  # the harness measures KL to it
    reward_model: object = None  # the harness reports this RM's score
    seed: int = 0
    log: list = field(default_factory=list)  # the training loop's per-step log


@dataclass(frozen=True)
class Recipe:
    parent: str | None  # the checkpoint it starts from
    kind: str  # "causal-lm" or "reward-model"
    format: str  # "document" (base) or "chat"
    train: Callable[..., Trained]
    measured_by_harness: bool = True  # False: the recipe measures itself (the RM's accuracies)
    measured_against_parent: bool = False  # the harness reports KL to the parent, the reference it was kept near
    scored_by: str | None = None  # the reward model whose score the harness reports (PPO's proxy)


def resolve(default, given=None, **explicit):
    """explicit arguments (those not None) > `given` settings > `default` settings."""
    chosen = given if given is not None else default
    return replace(chosen, **{key: value for key, value in explicit.items() if value is not None})
