"""Choose a method's settings on the validation prompts (alignkit.experiments.tuning); data/results/tuning_METHOD.json.

    .venv/bin/python scripts/tune.py sft|rm|ppo|ppo-schedule|dpo|kto [--jobs 2]
    .venv/bin/python scripts/tune.py --reference-only    # add sft's validation point to the existing files
"""
from __future__ import annotations

import argparse
import json
import sys

from alignkit.experiments.common import RESULTS_DIR, write_result
from alignkit.experiments.tuning import GRIDS, add_sft_reference, tune


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method", nargs="?", choices=sorted(GRIDS))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--reference-only", action="store_true",
                        help="measure sft on the validation prompts and add it to every existing tuning file")
    args = parser.parse_args(argv)
    if args.reference_only:
        print(json.dumps(add_sft_reference()))
        return
    if args.method is None:
        parser.error(f"name a grid ({', '.join(sorted(GRIDS))}) or pass --reference-only")
    result = tune(args.method, args.jobs)
    write_result(RESULTS_DIR / f"tuning_{args.method}.json", "python scripts/tune.py " + " ".join(argv), result)
    print(json.dumps(result["chosen"]), json.dumps(result["points"], indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
