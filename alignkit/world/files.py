"""The world's data files in `data/world/`: written by `alignkit world build`, read by the chapters."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from alignkit.infra.errors import DataFileError
from alignkit.world.documents import build_corpus
from alignkit.world.demonstrators import sft_rows
from alignkit.world.tasks import POOLS, Task, splits
from alignkit.world.world import World, cloze, load_world
from alignkit.infra.paths import world_dir

DATA_DIR = world_dir()
REBUILD = "alignkit world build"


def world_fingerprint(directory: Path | None = None) -> str:
    """A short sha256 over the world's files: a results file records it, so a number measured on another world
    (other prompts, other facts) is told apart from one measured on this."""
    digest = hashlib.sha256()
    for path in sorted((directory or world_dir()).glob("*.json*")):  # world_dir(): $ALIGNKIT_REPO now
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _task_row(task: Task) -> dict:
    row = {"prompt": task.prompt, "category": task.category}
    if task.category == "fact":
        row |= {"entity": task.entity, "attribute": task.attribute, "heldout_entity": task.heldout_entity}
    return row


def cloze_rows(world: World) -> list[dict]:
    rows = []
    for entity in world.entities:
        for attribute, _ in entity.facts:
            prefix, value = cloze(entity, attribute)
            rows.append({"prefix": prefix, "value": value, "entity": entity.name, "attribute": attribute,
                         "heldout_entity": entity.name in world.heldout_names})
    return rows


def world_summary(world: World) -> dict:
    return {"config": vars(world.config),
            "entities": [{"name": e.name, "kind": e.kind, "facts": dict(e.facts)} for e in world.entities],
            "heldout_entities": sorted(world.heldout_names), "fake_entities": world.fake_names,
            "procedures": {k: list(v) for k, v in world.procedures.items()}}


def tables(world: World) -> dict[str, list[dict] | dict]:
    """Every data file's contents, by file name."""
    split = splits(world)
    return {"corpus.jsonl": [{"text": t} for t in build_corpus(world)], "sft.jsonl": sft_rows(world),
            **{f"prompts_{pool}.jsonl": [_task_row(t) for t in split.pool(pool)] for pool in POOLS},
            "cloze.jsonl": cloze_rows(world), "world.json": world_summary(world)}


def _serialise(content: list[dict] | dict) -> str:
    if isinstance(content, dict):
        return json.dumps(content, indent=1, sort_keys=True) + "\n"
    return "".join(json.dumps(row, sort_keys=True) + "\n" for row in content)


def write_data(out_dir: Path = DATA_DIR, world: World | None = None) -> dict[str, int]:
    """Write every file; returns rows per file."""
    from alignkit.infra.storage import atomic_write_text

    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, content in tables(world or load_world()).items():
        atomic_write_text(out_dir / name, _serialise(content))
        counts[name] = len(content) if isinstance(content, list) else 1
    return counts


def stale_files(out_dir: Path = DATA_DIR, world: World | None = None) -> list[str]:
    """Files that are missing or differ from what the generator makes now."""
    stale = []
    for name, content in tables(world or load_world()).items():
        path = out_dir / name
        if not path.exists() or path.read_text(encoding="utf-8") != _serialise(content):
            stale.append(name)
    return stale


def read_jsonl(name: str, data_dir: Path = DATA_DIR) -> list[dict]:
    """Rows of one world data file, with a clear error if it is missing or damaged."""
    path = data_dir / name
    if not path.exists():
        raise DataFileError(f"{path} is missing. Regenerate the world's data files with: {REBUILD}")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise DataFileError(f"{path} line {number} is not valid JSON ({err.msg}). "
                                f"Regenerate the world's data files with: {REBUILD}") from None
    return rows
