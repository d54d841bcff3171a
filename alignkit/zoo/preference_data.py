"""The zoo's policy preference set, collected once and stored as a pipeline keeps its labelled data.

`alignkit zoo build dpo` and `kto` train on POLICY_SET's labelled pairs of the zoo's sft. Drawing them takes about
15 s on a laptop CPU, so data/results/policy_preferences.json (scripts/preference_data.py) keeps them with what they
were drawn from, and chapters 06 and 07 read them back where that still holds:

    data = policy_preference_rows(sft, tokenizer)   # as preference_rows(sft, tokenizer, POLICY_SET) returns
"""
from __future__ import annotations

from dataclasses import asdict

from alignkit.core.models import weights_fingerprint
from alignkit.measure.stats import from_this_world, load_result
from alignkit.methods.preferences import POLICY_SET, preference_rows
from alignkit.world.labelers import LabelerSettings

__all__ = ["STORED_POLICY_SET", "stored_policy_preferences", "policy_preference_rows"]

STORED_POLICY_SET = "policy_preferences"  # data/results/policy_preferences.json, by scripts/preference_data.py


def _drawn_from(sampler) -> dict:
    """What the stored pairs record about how they were drawn; they apply only where all of it matches."""
    return {"sampler_weights": weights_fingerprint(sampler), "preference_set": asdict(POLICY_SET),
            "labeler": asdict(LabelerSettings()), "seed": 0}


def stored_policy_preferences(sampler, tokenizer) -> dict:
    """What data/results/policy_preferences.json holds: POLICY_SET's labelled pairs of `sampler` (seed 0, the
    default labelers) and what they were drawn from, so a reader can tell whether they still apply."""
    return _drawn_from(sampler) | preference_rows(sampler, tokenizer, POLICY_SET, labeler=LabelerSettings())


def policy_preference_rows(sampler, tokenizer) -> dict:
    """`preference_rows(sampler, tokenizer, POLICY_SET)`, the pairs the zoo's dpo and kto train on: read from the
    stored file when it was drawn from a sampler with these very weights, with these settings, on this world; drawn
    afresh otherwise (from a model you changed, say)."""
    stored = load_result(STORED_POLICY_SET, missing_ok=True, warn_other_world=False)
    if not (stored and from_this_world(stored)
            and all(stored.get(key) == value for key, value in _drawn_from(sampler).items())):
        return preference_rows(sampler, tokenizer, POLICY_SET)
    return {"train": stored["train"], "heldout": stored["heldout"],
            "heldout_pairs": [tuple(pair) for pair in stored["heldout_pairs"]]}
