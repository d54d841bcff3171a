"""Peak memory of full vs LoRA DPO on stand-ins, the per-parameter accounting, and 1B/7B/8B predictions
(alignkit.experiments.lora_memory), written to data/results/lora_memory.json.

    .venv/bin/python scripts/lora_memory.py [--sizes xs s m l] [--steps 2]
"""
from __future__ import annotations

import argparse
import json
import sys

from alignkit.experiments.common import RESULTS_DIR, write_result
from alignkit.experiments.lora_memory import lora_memory


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["xs", "s", "m", "l"], help="stand-in sizes (standin.STANDIN_SIZES)")
    parser.add_argument("--steps", type=int, default=2, help="DPO steps per run")
    parser.add_argument("--out", default=str(RESULTS_DIR / "lora_memory.json"))
    args = parser.parse_args(argv)
    result = lora_memory(tuple(args.sizes), args.steps)
    write_result(args.out, "python scripts/lora_memory.py " + " ".join(argv), result)
    print(json.dumps({"table": result["table"], "fitted_fp32": result["fitted_fp32"],
                      "predictions_gb": result["predictions_gb"]}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
