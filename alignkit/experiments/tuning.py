"""Choosing settings on the validation prompts (DESIGN §2.2: tune on validation, report on test).

Each candidate is trained by the zoo's own recipe (seed 0) and measured on the validation prompts; the
best gold wins. The test prompts are never looked at here. `data/README.md` says which run chose what.
"""
from __future__ import annotations

from dataclasses import asdict, replace

import torch

from alignkit import zoo
from alignkit.dpo import DPOSettings
from alignkit.evaluate import REPORTING
from alignkit.experiments.common import RESULTS_DIR, held_out_point, read_result, run_parallel, write_result
from alignkit.kto import KTOSettings
from alignkit.ppo import PPOConfig
from alignkit.recipes import train

__all__ = ["KEYS", "GRIDS", "candidate", "sft_reference", "tune", "add_sft_reference"]

KEYS = ("gold_reward", "over_refusal", "harmful_compliance", "kl_to_ref")
VALIDATION = replace(REPORTING, split="validation", samples_per_prompt=2)
# method -> (recipe name, the settings keyword, its default, the grid of changes to try)
GRIDS = {
    "ppo": ("ppo", "config", PPOConfig(), [{"kl_coef": k} for k in (0.05, 0.1, 0.2, 0.5)]),
    "dpo": ("dpo", "settings", DPOSettings(), [{"beta": b, "learning_rate": lr} for b in (0.1, 0.3)
                                                for lr in (1e-4, 3e-4)]),
    "kto": ("kto", "settings", KTOSettings(), [{"beta": b, "learning_rate": lr} for b in (0.1, 0.3)
                                                for lr in (1e-4, 3e-4)]),
}


def candidate(method: str, change: dict) -> dict:
    """Train one candidate (one torch thread) and measure it on the validation prompts."""
    torch.set_num_threads(1)
    name, keyword, default, _ = GRIDS[method]
    trained = train(name, seed=0, **{keyword: replace(default, **change)})
    return held_out_point(trained.model, trained.tokenizer, KEYS, trained.ref_model, config=VALIDATION, **change)


def sft_reference() -> dict:
    """`sft` measured as the candidates are (validation prompts, same samples): where every candidate starts,
    so a candidate whose gold falls well below it has diverged (the capstone's stability column)."""
    model, tokenizer = zoo.load("sft")
    return held_out_point(model, tokenizer, [k for k in KEYS if k != "kl_to_ref"], config=VALIDATION)


def tune(method: str, jobs: int = 2) -> dict:
    """Every candidate of the method's grid on the validation prompts, the one with the best gold, and `sft`."""
    _, _, default, grid = GRIDS[method]
    points = run_parallel(candidate, [(method, change) for change in grid], jobs)
    best = max(points, key=lambda p: p["gold_reward"])
    return {"method": method, "split": "validation", "default": asdict(default), "points": points,
            "chosen": {k: best[k] for k in grid[0]}, "reference": sft_reference()}


def add_sft_reference(results_dir=RESULTS_DIR) -> dict:
    """Measure `sft` once on the validation prompts and add it to every existing tuning file; the point."""
    reference = sft_reference()
    for method in GRIDS:
        path = results_dir / f"tuning_{method}.json"
        result = read_result(path)
        if result:
            command = result.pop("command").split(" (reference:")[0]
            write_result(path, command + " (reference: python scripts/tune.py --reference-only)",
                         result | {"reference": reference})
    return reference
