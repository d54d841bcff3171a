"""How much of what base knows does sft say? (alignkit.experiments.elicitation)

    .venv/bin/python scripts/elicitation.py            # data/results/elicitation.json, the test prompts
"""
from __future__ import annotations

import argparse
import json
import sys

from alignkit.experiments.common import RESULTS_DIR, write_result
from alignkit.experiments.elicitation import elicitation


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=("validation", "test"))
    args = parser.parse_args(argv)
    result = elicitation(split=args.split)
    write_result(RESULTS_DIR / "elicitation.json", "python scripts/elicitation.py " + " ".join(argv), result)
    print(json.dumps({run: {kind: f"{m['mean']:.3f} ± {m['se']:.3f}" for kind, m in kinds.items()}
                      for run, kinds in result["runs"].items()}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
