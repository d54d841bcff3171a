"""Choosing settings on the validation prompts (tune on validation, report on test).

Each candidate is trained by the zoo's own recipe (seed 0) and measured on the validation prompts: policies
by gold, the reward model by its accuracy on labeled pairs of `sft`'s answers to validation prompts. The
test prompts are never looked at here. `data/README.md` says which run chose what.

The rule (`choose`): the best candidate wins, unless the zoo's current setting is within two standard
errors of it, paired on the same prompts or pairs; then the current setting stays. Two standard errors is
the course's bar for calling any difference real, and rebuilding the zoo's chain for a difference within
noise would change what every chapter reports for no measured gain.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch

from alignkit import zoo
from alignkit.methods.dpo import DPOSettings
from alignkit.measure.evaluate import REPORTING, per_prompt, prompts_for
from alignkit.measure.stats import from_this_world, load_result, mean_and_se
from alignkit.experiments.common import RESULTS_DIR, held_out_point_and_frame, run_parallel, write_result
from alignkit.core.generation import SampleSettings
from alignkit.methods.kto import KTOSettings
from alignkit.methods.ppo import PPOSettings
from alignkit.methods.ppo_train import train_ppo
from alignkit.methods.preferences import REWARD_MODEL_SET, sample_pairs
from alignkit.zoo.recipes import ppo_setup, train
from alignkit.methods.reward import RewardSettings, pair_correctness
from alignkit.methods.sft import SFTSettings
from alignkit.world.labelers import LabelerSettings, agreement_ceiling, label_pairs

__all__ = ["Grid", "GRIDS", "VALIDATION", "validation_pairs", "candidate", "choose", "sft_reference", "tune",
           "add_sft_reference"]

POLICY_KEYS = ("gold_reward", "over_refusal", "harmful_compliance")
VALIDATION = replace(REPORTING, split="validation", samples_per_prompt=2)
VALIDATION_PAIR_SEED = 2000  # sft's samples for validation pairs: a seed no training set uses


@dataclass(frozen=True)
class Grid:
    """What one tuning run varies: the recipe, its settings keyword and default, the changes to try."""

    recipe: str
    keyword: str
    default: object
    changes: tuple[dict, ...]
    steps: tuple[int, ...] = ()  # PPO's length: each run is measured at these steps (`steps` joins the setting)
    metric: str = "gold_reward"  # "pair_accuracy": the reward model's agreement with validation labels

    def current(self) -> dict:
        """The zoo's setting of what the grid varies."""
        return {k: getattr(self.default, k) for k in (*self.changes[0], *(("steps",) if self.steps else ()))}


def _product(**values: tuple) -> tuple[dict, ...]:
    rows = [{}]
    for key, options in values.items():
        rows = [row | {key: option} for row in rows for option in options]
    return tuple(rows)


GRIDS = {
    "sft": Grid("sft", "settings", SFTSettings(), _product(epochs=(3.0, 6.0, 9.0), learning_rate=(5e-4, 1e-3, 2e-3))),
    "rm": Grid("rm", "settings", RewardSettings(), _product(learning_rate=(2e-5, 5e-5, 1e-4, 2e-4, 4e-4, 8e-4)),
               metric="pair_accuracy"),
    "ppo": Grid("ppo", "settings", PPOSettings(), _product(kl_coef=(0.05, 0.1, 0.2, 0.5))),
    "ppo-schedule": Grid("ppo", "settings", PPOSettings(), _product(learning_rate=(1e-4, 2e-4, 4e-4)),
                         steps=(15, 30, 45)),
    "dpo": Grid("dpo", "settings", DPOSettings(), _product(beta=(0.1, 0.3), learning_rate=(1e-4, 3e-4))),
    "kto": Grid("kto", "settings", KTOSettings(), _product(beta=(0.1, 0.3), learning_rate=(1e-4, 3e-4))),
}


def _policy_point(model, tokenizer, ref_model=None, **where) -> dict:
    """`where`, the validation summary (each key with its SE) and, under "_values", gold per prompt (for pairing)."""
    keys = POLICY_KEYS + (("kl_to_ref",) if ref_model is not None else ())
    point, df = held_out_point_and_frame(model, tokenizer, keys, ref_model, config=VALIDATION, **where)
    return point | {"_values": per_prompt(df, "gold_reward").to_dict()}


def validation_pairs() -> tuple[list[dict], float]:
    """Labeled pairs of `sft`'s answers to the validation prompts (drawn as the RM's training pairs are), and the
    labelers' accuracy ceiling on them."""
    sft, tokenizer = zoo.load("sft")
    pairs = sample_pairs(sft, tokenizer, prompts_for("validation"), samples_per_prompt=4,
                         sampling=SampleSettings(temperature=REWARD_MODEL_SET.temperature), seed=VALIDATION_PAIR_SEED)
    labeler = replace(LabelerSettings(), seed=LabelerSettings().seed + 2)  # labelers neither training set had
    return label_pairs(pairs, labeler), agreement_ceiling(pairs, labeler)["accuracy_ceiling"]


def candidate(method: str, change: dict, pairs: list[dict] | None = None) -> list[dict]:
    """Train one candidate (one torch thread), measure it on the validation split; its points (one per step)."""
    torch.set_num_threads(1)
    grid = GRIDS[method]
    settings = replace(grid.default, **change)
    if grid.steps:
        policy, ref_model, reward_model, value_model, tokenizer, prompts = ppo_setup()
        points: list[dict] = []

        def measure(row: dict) -> None:
            if row["step"] in grid.steps:
                points.append(_policy_point(policy, tokenizer, ref_model, **change, steps=row["step"]))

        train_ppo(policy, ref_model, reward_model, value_model, tokenizer, prompts,
                  replace(settings, steps=max(grid.steps)), on_step=measure)
        return points
    trained = train(grid.recipe, seed=0, **{grid.keyword: settings})
    if grid.metric == "pair_accuracy":
        correct = pair_correctness(trained.model, trained.tokenizer, pairs)
        accuracy, se = mean_and_se(correct)
        return [change | {"pair_accuracy": accuracy, "pair_accuracy_se": se, "_values": dict(enumerate(correct))}]
    return [_policy_point(trained.model, trained.tokenizer, trained.ref_model, **change)]


def _setting(point: dict, grid: Grid) -> dict:
    return {k: point[k] for k in grid.current()}


def choose(points: list[dict], grid: Grid) -> dict:
    """The best point by the grid's metric, or the zoo's current setting where the best is within two paired
    standard errors of it. Points carry per-item values under "_values"; the verdict, with the difference."""
    best = max(points, key=lambda p: p[grid.metric])
    current = next((p for p in points if _setting(p, grid) == grid.current()), None)
    if current is None:
        raise ValueError(f"the grid does not contain the zoo's current setting {grid.current()}")
    shared = sorted(set(best["_values"]) & set(current["_values"]), key=str)
    difference, se = mean_and_se([best["_values"][k] - current["_values"][k] for k in shared])
    keep = difference <= 2 * se
    return {"chosen": _setting(current if keep else best, grid), "best": _setting(best, grid),
            "current": grid.current(), "best_minus_current": difference, "se": se,
            "verdict": "current kept: the best is within two standard errors" if keep
            else "best chosen: it beats the current setting by more than two standard errors"}


def sft_reference() -> dict:
    """`sft` measured as the candidates are (validation prompts, same samples): where every candidate starts,
    so a candidate whose gold falls well below it has diverged (the capstone's stability column)."""
    model, tokenizer = zoo.load("sft")
    point = _policy_point(model, tokenizer)
    point.pop("_values")
    return point


def tune(method: str, jobs: int = 2) -> dict:
    """Every candidate of the method's grid on the validation split, the choice by `choose`, and `sft`."""
    grid = GRIDS[method]
    pairs, ceiling = validation_pairs() if grid.metric == "pair_accuracy" else (None, None)
    runs = run_parallel(candidate, [(method, change, pairs) for change in grid.changes], jobs)
    points = [point for run in runs for point in run]
    choice = choose(points, grid)
    result = {"method": method, "split": "validation", "metric": grid.metric, "default": asdict(grid.default),
              "points": [{k: v for k, v in p.items() if k != "_values"} for p in points],
              "chosen": choice.pop("chosen"), "choice": choice}
    if pairs:
        return result | {"validation_pairs": len(pairs), "accuracy_ceiling": round(ceiling, 4)}
    return result | {"reference": sft_reference()}


def add_sft_reference(results_dir=RESULTS_DIR) -> dict:
    """Measure `sft` once on the validation prompts and add it to every existing policy tuning file measured on
    this world (a file from another world keeps its own: its candidates and today's sft are not comparable)."""
    reference = sft_reference()
    for method, grid in GRIDS.items():
        path = results_dir / f"tuning_{method}.json"
        result = load_result(path, missing_ok=True, warn_other_world=False)  # another world's file: skipped
        if result and grid.metric == "gold_reward" and from_this_world(result):
            command = result.pop("command").split(" (reference:")[0]
            write_result(path, command + " (reference: python scripts/tune.py --reference-only)",
                         result | {"reference": reference})
    return reference
