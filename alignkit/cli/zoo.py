"""`alignkit zoo list | verify [NAME] | build NAME [--seed N]`: inspect, check and rebuild the zoo."""
from __future__ import annotations

import argparse

from alignkit import zoo
from alignkit.infra.errors import AlignkitError
from alignkit.zoo.store import missing_zoo

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    list_parser = actions.add_parser("list", help="show the checkpoints in the manifest")
    verify_parser = actions.add_parser("verify", help="check every file's sha256 against the manifest")
    verify_parser.add_argument("name", nargs="?", help="one checkpoint (default: all)")
    build_parser = actions.add_parser("build", help="train a checkpoint and save it to the zoo")
    build_parser.add_argument("name", help="the checkpoint to build, in order: base, then sft, then the others "
                                           "(alignkit.zoo.recipes.CARDS)")
    build_parser.add_argument("--seed", type=int, default=None, help="training seed (default: the recipe's)")
    measure_parser = actions.add_parser("remeasure", help="measure saved checkpoints again with today's harness")
    measure_parser.add_argument("names", nargs="+", help="checkpoints to measure; their metrics in the manifest change")
    for sub in (list_parser, verify_parser, build_parser, measure_parser):
        sub.add_argument("--root", default=None, help="zoo directory (default: $ALIGNKIT_ZOO or data/zoo)")


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def _require_zoo(root) -> None:
    """A zoo directory that is not there (a typo, ALIGNKIT_ZOO, an install without the data) is an error,
    never "the zoo is empty"."""
    if problem := missing_zoo(root):
        raise AlignkitError(problem)


def _list(root) -> int:
    _require_zoo(root)
    manifest = zoo.read_manifest(root)
    if not manifest:
        print(f"The zoo at {zoo.zoo_root(root)} is empty. "
              f"Build the first checkpoint with: {zoo.rebuild_command('base')}")
        return 0
    rows = [["NAME", "KIND", "FORMAT", "PARENT", "PARAMS", "CREATED"]]
    for name in sorted(manifest):
        entry = manifest[name]
        rows.append([name, str(entry.get("kind", "?")), str(entry.get("format", "?")), str(entry.get("parent") or "-"),
                     f"{entry.get('params', 0):,}", str(entry.get("created", "?"))])
    print(_table(rows))
    return 0


def _verify(name: str | None, root) -> int:
    _require_zoo(root)
    targets = [name] if name else zoo.names(root)
    if not targets:
        print(f"The zoo at {zoo.zoo_root(root)} is empty; nothing to verify.")
        return 0
    failed = 0
    for target in targets:
        problems = zoo.verify(target, root)
        print(f"{'ok' if not problems else 'FAILED':6}  {target}")
        for problem in problems:
            print(f"        {problem}")
        failed += bool(problems)
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        return _list(args.root)
    if args.action == "verify":
        return _verify(args.name, args.root)
    from alignkit.zoo import recipes  # torch and the trainers load only when something is built

    if args.action == "remeasure":
        for name in args.names:
            metrics = recipes.remeasure(name, root=args.root)
            print(f"{name}: gold_reward {metrics['gold_reward']} ± {metrics['gold_reward_se']}")
        return 0
    recipes.build(args.name, seed=args.seed, root=args.root)
    print(f"Built {args.name!r}. Check it with: python -m alignkit zoo verify {args.name}")
    return 0
