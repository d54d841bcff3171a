"""Peak memory of full vs LoRA DPO on stand-ins, the per-parameter accounting, and 1B/7B/8B predictions
(alignkit.experiments.lora_memory), written to data/results/lora_memory.json; with --smollm2, the same two runs on
SmolLM2-135M-Instruct (built offline by `alignkit real-model build smollm2`), written to lora_memory_smollm2.json.

    .venv/bin/python scripts/lora_memory.py [--sizes xs s m l] [--steps 2]
    .venv/bin/python scripts/lora_memory.py --smollm2      # about 1 minute once SmolLM2 is built
"""
from __future__ import annotations

import argparse
import json
import sys

from alignkit.experiments.common import RESULTS_DIR, write_result
from alignkit.experiments.lora_memory import lora_memory, smollm2_memory


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["xs", "s", "m", "l"], help="stand-in sizes (standin.STANDIN_SIZES)")
    parser.add_argument("--steps", type=int, default=2, help="DPO steps per run")
    parser.add_argument("--smollm2", action="store_true", help="measure SmolLM2-135M-Instruct instead of the stand-ins")
    parser.add_argument("--out", default=None, help="results file (default: data/results/lora_memory[_smollm2].json)")
    args = parser.parse_args(argv)
    result = smollm2_memory(args.steps) if args.smollm2 else lora_memory(tuple(args.sizes), args.steps)
    out = args.out or str(RESULTS_DIR / ("lora_memory_smollm2.json" if args.smollm2 else "lora_memory.json"))
    write_result(out, "python scripts/lora_memory.py " + " ".join(argv), result)
    shown = result if args.smollm2 else {key: result[key] for key in ("table", "fitted_fp32", "predictions_gb")}
    print(json.dumps(shown, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
