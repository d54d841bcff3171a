"""Chapter 05's results (data/results/cai.json): AI label cost, the constitution edit on labels and on a
policy, and harmlessness against helpfulness for sft, ppo, sl-cai, rl-cai and rlaif-dpo.

    .venv/bin/python scripts/cai_results.py            # needs the zoo's sft, ppo, feedback, sl-cai, rl-cai, rlaif-dpo
"""
from __future__ import annotations

import argparse
import json
import sys

from alignkit.experiments.cai import cai_results
from alignkit.experiments.common import RESULTS_DIR, write_result


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-policy-edit", action="store_true", help="do not train RLAIF-DPO on the edited labels")
    args = parser.parse_args(argv)
    result = cai_results(with_policy_edit=not args.skip_policy_edit)
    write_result(RESULTS_DIR / "cai.json", "python scripts/cai_results.py " + " ".join(argv), result)
    print(json.dumps({k: v for k, v in result.items() if k != "harm_help"}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
