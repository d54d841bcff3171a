"""A method's card: everything the course says about a method, declared once, beside its recipe.

    CARD = MethodCard("dpo", Recipe("sft", "causal-lm", "chat", train_dpo_checkpoint), label="DPO", ...)

The registries read the cards: the zoo's recipes (`alignkit.zoo.recipes.CARDS`), the method table
(`alignkit.report.method_table`), `alignkit recipe export` (`alignkit.zoo.export`), the real-model sections
(`alignkit.zoo.real_model`) and the layout test. Adding a method is one card (`recipes.register`), not ten edits.

Cards sit on the zoo floor, not beside the losses in methods/: a card names its recipe, and a recipe loads its
parent from the zoo, which the method floor must not import.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

__all__ = ["Trained", "Recipe", "Phase", "DataCounts", "TRLExport", "MethodCard", "count_text", "resolve"]


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


@dataclass(frozen=True)
class Phase:
    """One stage of a method's training and the models it holds in memory together, by their parameter names."""

    name: str
    calls: tuple[Callable, ...]  # the functions the stage runs (a test holds them to the recipe's code)
    trained: tuple[str, ...] = ()  # models the stage updates
    frozen: tuple[str, ...] = ()  # models it only reads (a reference, a reward or feedback model)

    @property
    def models(self) -> int:
        return len(self.trained) + len(self.frozen)


@dataclass(frozen=True)
class DataCounts:
    """What a build trained on, read from its manifest entry; NaN where the build did not record it."""

    demonstrations: float = 0
    human_labels: float = 0
    ai_labels: float = 0
    ai_revisions: float = 0
    text: str = ""  # the same, as the method table says it


def count_text(value) -> str:
    """A count as the method table prints it; "not measured" where the build did not record it (NaN)."""
    return "not measured" if isinstance(value, float) and math.isnan(value) else f"{int(value):,}"


@dataclass(frozen=True)
class TRLExport:
    """How `alignkit recipe export` writes the method for TRL's command line (`trl <command> --config ...`)."""

    command: str  # TRL's subcommand: "sft", "reward", "dpo", "kto"
    settings: Callable[[], object]  # the method's settings class: its defaults are the recipe's
    config_builder: Callable  # (settings, output_dir, profile) -> the TRL config `train_*` uses
    rows: Callable[[int | None, int], list[dict]]  # (max_prompts, seed) -> the recipe's rows in TRL's format
    model_parent: str  # the zoo checkpoint the export trains by default


@dataclass(frozen=True)
class MethodCard:
    """A zoo checkpoint and, where it is a method of the course's table, what the table says of it."""

    name: str  # the zoo checkpoint it builds
    recipe: Recipe
    label: str = ""  # its column in the method table; "" = a checkpoint, not a method (base, rm, feedback)
    signal: str = ""  # what a real pipeline gives it to learn from
    users: str = ""  # who uses it (cited, not measured)
    phases: tuple[Phase, ...] = ()  # its training stages and the models each holds in memory
    data_counts: Callable[[dict, dict], DataCounts] | None = None  # (its metrics, the manifest) -> what it used
    pipeline: tuple[str, ...] = ()  # checkpoints whose measured costs add up to the method's (default: its own)
    tuning_grid: str | None = None  # the results file of its validation grid (the table's stability column)
    export: TRLExport | None = None  # `alignkit recipe export NAME`
    real_model: Callable | None = None  # (model, tokenizer, profile, run) -> trained model, for "On a real model"
    exercises: tuple[str, ...] = ()  # the auto-checked exercises (alignkit.course.check) that teach its core

    @property
    def in_table(self) -> bool:
        return bool(self.label)

    @property
    def models_in_memory(self) -> int:
        return max((p.models for p in self.phases), default=0)


def resolve(default, given=None, **explicit):
    """explicit arguments (those not None) > `given` settings > `default` settings."""
    chosen = given if given is not None else default
    return replace(chosen, **{key: value for key, value in explicit.items() if value is not None})
