"""Self-instruct vs the demonstrators at equal count (data/results/self_instruct.json).

    .venv/bin/python scripts/self_instruct.py [--tasks 200]
"""
from __future__ import annotations

import argparse
import json
import sys

from alignkit.experiments.common import RESULTS_DIR, write_result
from alignkit.experiments.self_instruct import compare_self_instruct


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200, help="self-instructed tasks to keep (and demonstrations)")
    args = parser.parse_args(argv)
    result = compare_self_instruct(args.tasks)
    write_result(RESULTS_DIR / "self_instruct.json", "python scripts/self_instruct.py " + " ".join(argv), result)
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
