"""Store every set in `zoo.preference_data.STORED_SETS` under data/results/, drawn from the zoo's sft (about 40 s)."""
from __future__ import annotations

from alignkit import zoo
from alignkit.experiments.common import RESULTS_DIR, write_result
from alignkit.zoo.preference_data import STORED_SETS, stored_preferences

__all__ = ["store_preference_sets"]


def store_preference_sets(command: str) -> list[str]:
    """Draw and write each stored set; one line per file written (its path and how many pairs it holds)."""
    sft, tokenizer = zoo.load("sft")
    written = []
    for name, size in STORED_SETS.items():
        payload = stored_preferences(sft, tokenizer, size)
        path = write_result(RESULTS_DIR / f"{name}.json", command, payload)
        written.append(f"{path}: {len(payload['train'])} training pairs, {len(payload['heldout'])} held-out pairs")
    return written
