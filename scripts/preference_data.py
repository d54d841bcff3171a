"""The stored preference sets (alignkit.zoo.preference_data.STORED_SETS): labelled pairs of the zoo's sft that the
zoo's dpo and kto (POLICY_SET) and chapter 03's reward model (CHAPTER_REWARD_MODEL_SET) train on, stored under
data/results/ so builds and chapters read them instead of drawing them again. Rerun it after rebuilding sft (a
stale file is ignored, not trusted).

    .venv/bin/python scripts/preference_data.py      # about 40 s
"""
from __future__ import annotations

import argparse
import sys

from alignkit.experiments.preference_sets import store_preference_sets


def main(argv: list[str]) -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    print("\n".join(store_preference_sets("python scripts/preference_data.py")))


if __name__ == "__main__":
    main(sys.argv[1:])
