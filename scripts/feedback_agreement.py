"""The feedback model's labels against gold and the simulated labelers, per kind (data/results/feedback_agreement.json).

    .venv/bin/python scripts/feedback_agreement.py [--samples 4]
"""
from __future__ import annotations

import argparse
import json
import sys

from alignkit.experiments.common import RESULTS_DIR, write_result
from alignkit.experiments.feedback_agreement import measure_agreement


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4, help="sft samples per validation prompt")
    args = parser.parse_args(argv)
    result = measure_agreement(samples_per_prompt=args.samples)
    write_result(RESULTS_DIR / "feedback_agreement.json", "python scripts/feedback_agreement.py " + " ".join(argv),
                 result)
    print(json.dumps(result["by_kind"], indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
