"""The zoo's policy preference set (data/results/policy_preferences.json): POLICY_SET's labelled pairs of the
zoo's sft, the pairs `alignkit zoo build dpo` and `kto` train on, stored so chapters 06 and 07 read them
instead of drawing them again. Rerun it after rebuilding sft (a stale file is ignored, not trusted).

    .venv/bin/python scripts/preference_data.py      # about 20 s
"""
from __future__ import annotations

import argparse
import sys

from alignkit import zoo
from alignkit.experiments.common import RESULTS_DIR, write_result
from alignkit.zoo.preference_data import STORED_POLICY_SET, stored_policy_preferences


def main(argv: list[str]) -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    sft, tokenizer = zoo.load("sft")
    payload = stored_policy_preferences(sft, tokenizer)
    path = write_result(RESULTS_DIR / f"{STORED_POLICY_SET}.json", "python scripts/preference_data.py", payload)
    print(f"{path}: {len(payload['train'])} training pairs, {len(payload['heldout'])} held-out pairs")


if __name__ == "__main__":
    main(sys.argv[1:])
