"""Labelled preference sets, collected once and stored as a pipeline keeps its labelled data.

Drawing a set of labelled pairs from `sft` takes 15-20 s on a laptop CPU, and the same sets are drawn again and
again: POLICY_SET's pairs train the zoo's dpo and kto and are read in chapters 06 and 07, and chapter 03 trains its
reward model on CHAPTER_REWARD_MODEL_SET's. scripts/preference_data.py stores each set in STORED_SETS under
data/results/ with what it was drawn from, and `stored_preference_rows` reads one back only where all of that still
holds (the sampler's very weights, the set, the seed, the labelers, the world); anything else is drawn afresh:

    data = stored_preference_rows(sft, tokenizer, POLICY_SET)   # as preference_rows(sft, tokenizer, POLICY_SET)
"""
from __future__ import annotations

from dataclasses import asdict, replace

from alignkit.core.models import weights_fingerprint
from alignkit.measure.stats import from_this_world, load_result
from alignkit.methods.preferences import (CHAPTER_REWARD_MODEL_SET, POLICY_SET, REWARD_MODEL_SET, PreferenceSet,
                                          preference_rows)
from alignkit.world.labelers import LabelerSettings

__all__ = ["STORED_SETS", "STORED_POLICY_SET", "stored_preferences", "stored_preference_rows",
           "policy_preference_rows"]

STORED_POLICY_SET = "policy_preferences"
# data/results/<name>.json, written by scripts/preference_data.py, each with the default labelers and seed 0
STORED_SETS: dict[str, PreferenceSet] = {STORED_POLICY_SET: POLICY_SET,
                                         "reward_model_chapter_preferences": CHAPTER_REWARD_MODEL_SET}


def _drawn_from(sampler, size: PreferenceSet, seed: int, labeler: LabelerSettings) -> dict:
    """What a stored set records about how it was drawn; it applies only where all of it matches."""
    return {"sampler_weights": weights_fingerprint(sampler), "preference_set": asdict(size),
            "labeler": asdict(labeler), "seed": seed}


def stored_preferences(sampler, tokenizer, size: PreferenceSet) -> dict:
    """What a stored set's file holds: `size`'s labelled pairs of `sampler` (seed 0, the default labelers) and what
    they were drawn from, so a reader can tell whether they still apply."""
    labeler = LabelerSettings()
    return _drawn_from(sampler, size, 0, labeler) | preference_rows(sampler, tokenizer, size, labeler=labeler)


def stored_preference_rows(sampler, tokenizer, size: PreferenceSet = REWARD_MODEL_SET, *, seed: int = 0,
                           labeler: LabelerSettings = LabelerSettings(), **size_fields) -> dict:
    """`preference_rows(sampler, tokenizer, size, seed=seed, labeler=labeler, **size_fields)`: read from a stored
    set drawn from a sampler with these very weights, with these settings, on this world; drawn afresh otherwise
    (from a model you changed, say, or a set nobody stored)."""
    size = replace(size, **size_fields)
    wanted = _drawn_from(sampler, size, seed, labeler)
    for name, stored_size in STORED_SETS.items():
        if stored_size != size:
            continue
        stored = load_result(name, missing_ok=True, warn_other_world=False)
        if stored and from_this_world(stored) and all(stored.get(key) == value for key, value in wanted.items()):
            return {"train": stored["train"], "heldout": stored["heldout"],
                    "heldout_pairs": [tuple(pair) for pair in stored["heldout_pairs"]]}
    return preference_rows(sampler, tokenizer, size, seed=seed, labeler=labeler)


def policy_preference_rows(sampler, tokenizer) -> dict:
    """The pairs the zoo's dpo and kto train on: `stored_preference_rows(sampler, tokenizer, POLICY_SET)`."""
    return stored_preference_rows(sampler, tokenizer, POLICY_SET)
