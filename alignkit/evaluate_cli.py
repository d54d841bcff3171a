"""`alignkit eval MODEL [--ref MODEL] [--rm MODEL] [--json]`: the harness from the command line."""
from __future__ import annotations

import argparse
import json
from dataclasses import replace

from alignkit.evaluate import EvalConfig, evaluate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="a zoo name (base, sft, ...) or a directory saved with save_pretrained")
    parser.add_argument("--ref", help="reference model for kl_to_ref (zoo name or directory)")
    parser.add_argument("--rm", help="reward model for rm_score (zoo name or directory)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--format", choices=("auto", "chat", "document"), default="auto",
                        help="how prompts are shown; auto: the zoo manifest's format, else chat")
    parser.add_argument("--max-prompts", type=int, default=None, help="only the first N held-out prompts")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument("--temperature", type=float, default=None, help="sampling temperature (0: greedy)")


def prompt_format(name: str, requested: str) -> str:
    from alignkit import zoo

    if requested != "auto":
        return requested
    return zoo.info(name).get("format", "chat") if name in zoo.names() else "chat"


def run(args: argparse.Namespace) -> int:
    from alignkit import zoo
    from alignkit.profiles import setup

    setup(seed=args.seed)
    model, tokenizer = zoo.load(args.model)
    ref = zoo.load(args.ref)[0] if args.ref else None
    rm = zoo.load(args.rm)[0] if args.rm else None
    sampling = replace(EvalConfig().sampling, seed=args.seed)
    if args.temperature is not None:
        sampling = replace(sampling, temperature=args.temperature)
    config = EvalConfig(sampling=sampling, prompt_format=prompt_format(args.model, args.format),
                        max_prompts=args.max_prompts)
    summary, _ = evaluate(model, tokenizer, ref_model=ref, reward_model=rm, config=config)
    summary = {"model": args.model, "prompt_format": config.prompt_format} | summary
    if args.json:
        print(json.dumps(summary))
    else:
        width = max(len(k) for k in summary)
        for key, value in summary.items():
            print(f"{key:<{width}}  {value}")
    return 0
