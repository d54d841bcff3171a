"""The zoo: named checkpoints (base, sft, rm, ppo, dpo, kto, cai, ...) that chapters load.

The zoo stores, loads and verifies; how each checkpoint is trained is `alignkit.zoo.recipes`.

Each checkpoint is a directory `data/zoo/<name>/` holding a safetensors model and its tokenizer.
`data/zoo/manifest.json` records, per name, the sha256 of every file, the command that rebuilds
it, its parent checkpoint, the seed and config it was trained with, and its measured metrics.
Loading a name first checks every file against the manifest, so a corrupt or hand-edited
checkpoint is refused with the command that rebuilds it, never silently used.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import re
import shutil
import tempfile
from pathlib import Path

from alignkit.infra.errors import CheckpointError
from alignkit.infra.storage import atomic_write_json, sha256_of
from alignkit.core.tokenizer import load_tokenizer, save_tokenizer
from alignkit.infra.paths import NO_COURSE_DATA, zoo_dir

# alignkit.core.models (and so torch) is imported inside the functions that need it: `alignkit zoo list`
# and `verify` only read JSON and hash files.

__all__ = [
    "FORMATS",
    "DEFAULT_ROOT",
    "zoo_root",
    "rebuild_command",
    "read_manifest",
    "names",
    "info",
    "save",
    "load",
    "verify",
    "update_metrics",
    "missing_zoo",
]

FORMATS = ("document", "chat")  # what the model was trained on: raw documents or the chat format
DEFAULT_ROOT = zoo_dir()
MANIFEST = "manifest.json"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def zoo_root(root: str | Path | None = None) -> Path:
    """The zoo directory: `root` if given, else $ALIGNKIT_ZOO, else data/zoo next to the package."""
    if root is not None:
        return Path(root)
    return Path(os.environ["ALIGNKIT_ZOO"]) if os.environ.get("ALIGNKIT_ZOO") else DEFAULT_ROOT


def rebuild_command(name: str) -> str:
    return f"python -m alignkit zoo build {name}"


def _display(path: Path) -> str:
    """A path as the learner would type it: relative to the repository for the default zoo."""
    try:
        return Path(path).resolve().relative_to(DEFAULT_ROOT.parent.parent).as_posix()
    except ValueError:
        return str(path)


# --- manifest -------------------------------------------------------------------------------


def read_manifest(root: str | Path | None = None) -> dict:
    """The manifest as a dict ({} when the zoo has none yet)."""
    path = zoo_root(root) / MANIFEST
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise CheckpointError(f"cannot read {_display(path)} ({err.strerror or err}).") from None
    except RecursionError:
        raise CheckpointError(f"{_display(path)} is nested too deeply to be a manifest. Restore it with "
                              f"`git checkout -- {_display(path)}`.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(
            f"{_display(path)} is not valid JSON ({err}). Restore it with `git checkout -- {_display(path)}`, "
            f"or delete it and rebuild the checkpoints, starting with: {rebuild_command('base')}"
        ) from err
    if not isinstance(manifest, dict):
        raise CheckpointError(
            f"{_display(path)} should hold a JSON object of checkpoints, not {type(manifest).__name__}. "
            f"Restore it with `git checkout -- {_display(path)}`."
        )
    for name, entry in manifest.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("files", {}), dict) \
                or not isinstance(entry.get("metrics", {}), dict):
            raise CheckpointError(
                f"{_display(path)}: the entry {str(name)[:60]!r} should be an object with files and metrics, not "
                f"{json.dumps(entry)[:60]}. Restore it with `git checkout -- {_display(path)}`, or rebuild: "
                f"{rebuild_command(str(name)[:60])}")
    return manifest


def _write_manifest(manifest: dict, root: str | Path | None) -> None:
    # temp file + fsync + os.replace: a reader (or a crash) never sees half a manifest.
    atomic_write_json(zoo_root(root) / MANIFEST, manifest)


def names(root: str | Path | None = None) -> list[str]:
    return sorted(read_manifest(root))


def missing_zoo(root: str | Path | None) -> str | None:
    """Why there is no zoo where we look, said with the path and the fix (never "rebuild into site-packages")."""
    where = zoo_root(root)
    if where.is_dir():
        return None
    if root is None and os.environ.get("ALIGNKIT_ZOO"):
        return (f"ALIGNKIT_ZOO={os.environ['ALIGNKIT_ZOO']} is not a directory. Fix the path, or unset ALIGNKIT_ZOO "
                f"to use the course's zoo ({_display(DEFAULT_ROOT)}).")
    if root is None and not DEFAULT_ROOT.parent.is_dir():  # a non-editable install: no data/ beside the package
        return NO_COURSE_DATA.format(missing=DEFAULT_ROOT.parent) + " ALIGNKIT_ZOO may also point at a zoo directory."
    return f"The zoo directory {_display(where)} does not exist. Check the path, or build into it: " \
           f"{rebuild_command('base')} --root {_display(where)}"


def info(name: str, root: str | Path | None = None) -> dict:
    """The manifest entry of `name`."""
    manifest = read_manifest(root)
    if name not in manifest:
        if problem := missing_zoo(root):
            raise CheckpointError(problem)
        known = ", ".join(sorted(manifest)) or "none yet"
        raise CheckpointError(
            f"Unknown checkpoint {name!r} (known: {known}). List them with `python -m alignkit zoo list`; "
            f"build a missing one with: {rebuild_command(name)}"
        )
    return manifest[name]


def update_metrics(name: str, metrics: dict, root: str | Path | None = None) -> dict:
    """Merge `metrics` into the entry's metrics and rewrite the manifest; returns the new entry."""
    manifest = read_manifest(root)
    entry = info(name, root)
    entry["metrics"] = {**entry.get("metrics", {}), **metrics}
    manifest[name] = entry
    _write_manifest(manifest, root)
    return entry


# --- files ----------------------------------------------------------------------------------


def _hash_files(directory: Path) -> dict[str, str]:
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    return {p.relative_to(directory).as_posix(): sha256_of(p) for p in files}


def _safetensors_problem(path: Path) -> str | None:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            f.keys()
    except (SafetensorError, OSError, ValueError) as err:
        return f"its safetensors header is unreadable ({err})"
    return None


def verify(name: str, root: str | Path | None = None) -> list[str]:
    """Everything wrong with checkpoint `name`, one line each with the fix; [] when it is intact."""
    try:
        entry = info(name, root)
    except CheckpointError as err:
        return [str(err)]
    command = entry.get("command") or rebuild_command(name)
    directory = zoo_root(root) / name
    if not directory.is_dir():
        return [f"{_display(directory)} is missing. Rebuild it with: {command}"]
    listed = entry.get("files") or {}
    if not listed:
        return [f"The manifest lists no files for {name!r}. Rebuild it with: {command}"]
    problems = []
    for relative, expected in sorted(listed.items()):
        path = directory / relative
        if not path.is_file():
            problems.append(f"{_display(path)} is missing. Rebuild it with: {command}")
            continue
        actual = sha256_of(path)
        if actual != expected:
            problems.append(
                f"{_display(path)} is corrupt or was modified (sha256 {actual[:12]}… expected "
                f"{expected[:12]}…). Rebuild it with: {command}"
            )
        elif path.suffix == ".safetensors" and (header := _safetensors_problem(path)):
            problems.append(f"{_display(path)}: {header}. Rebuild it with: {command}")
    for relative in sorted(set(_hash_files(directory)) - set(listed)):
        if not Path(relative).name.startswith("."):  # ignore .DS_Store and the like
            # An unlisted file can change what loads (an adapter_config.json turns it into a PEFT model).
            problems.append(
                f"{_display(directory / relative)} is not in the manifest. Delete it, or rebuild with: {command}"
            )
    return problems


# --- save and load --------------------------------------------------------------------------


def _jsonable_config(config) -> dict:
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    return dict(config or {})


def _unmeasured_as_null(metrics: dict) -> dict:
    # A rate over no responses (a kind the split does not ask) is NaN: the manifest records it as null, "not
    # measured", rather than refusing a checkpoint that took half an hour to train.
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in metrics.items()}


def _check_recordable(name: str, config: dict, metrics: dict) -> None:
    # Checked before any file is written, so a long build never ends in a half-saved checkpoint.
    try:
        json.dumps({"config": config, "metrics": metrics}, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise CheckpointError(
            f"The config or metrics of {name!r} cannot be written to the manifest ({err}). "
            "Use plain numbers, strings, lists and dicts, and no NaN or infinity."
        ) from err


def _check_entry_fields(name: str, kind: str, format: str, parent: str | None) -> None:
    from alignkit.core.models import MODEL_KINDS

    if not _NAME.match(name):
        raise CheckpointError(f"Checkpoint name {name!r} must be letters, digits, '.', '_' or '-' (e.g. 'sft').")
    if kind not in MODEL_KINDS:
        raise CheckpointError(f"kind must be one of {', '.join(MODEL_KINDS)}, not {kind!r}.")
    if format not in FORMATS:
        raise CheckpointError(f"format must be one of {', '.join(FORMATS)}, not {format!r}.")
    if parent is not None and not isinstance(parent, str):
        raise CheckpointError(f"parent must be a checkpoint name or None, not {parent!r}.")


def _swap_in(staging: Path, final: Path) -> None:
    """Replace `final` by `staging` so a crash never leaves a half-written checkpoint under the name."""
    old = None
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
        os.replace(final, old / final.name)
    os.replace(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def save(name: str, model, tokenizer, *, kind: str, format: str, parent: str | None, command: str,
         seed: int, config, metrics: dict | None = None, root: str | Path | None = None) -> Path:
    """Save `model` + `tokenizer` as checkpoint `name` (safetensors) and record it in the manifest."""
    from alignkit.core.models import count_parameters

    _check_entry_fields(name, kind, format, parent)
    config, metrics = _jsonable_config(config), _unmeasured_as_null(metrics or {})
    _check_recordable(name, config, metrics)
    base = zoo_root(root)
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.new-", dir=base))
    try:
        model.save_pretrained(str(staging))  # safetensors is the default and the only format written
        save_tokenizer(tokenizer, staging)
        if not list(staging.glob("*.safetensors")):
            raise CheckpointError(f"Saving {name!r} wrote no .safetensors file; the zoo stores weights only that way.")
        files = _hash_files(staging)
        _swap_in(staging, base / name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    manifest = read_manifest(root)
    manifest[name] = {
        "kind": kind, "format": format, "parent": parent, "files": files, "command": command,
        "seed": int(seed), "config": config, "metrics": metrics,
        "params": count_parameters(model),
        "created": datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
    }
    _write_manifest(manifest, root)
    return base / name


def _infer_kind(directory: Path) -> str:
    config_path = directory / "config.json"
    try:
        architectures = json.loads(config_path.read_text(encoding="utf-8")).get("architectures") or []
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(
            f"{_display(config_path)} is missing or unreadable ({err}); is {_display(directory)} a model directory?"
        ) from err
    if any(a.endswith("ForSequenceClassification") for a in architectures):
        return "reward-model"
    return "causal-lm"


def _load_directory(directory: Path, kind: str, command: str, device, dtype):
    """Load a checkpoint directory; `command` is what recreates it, quoted in every error."""
    from alignkit.core.models import load_pretrained

    for path in sorted(directory.glob("*.safetensors")):
        if problem := _safetensors_problem(path):
            raise CheckpointError(f"{_display(path)}: {problem}. Rebuild it with: {command}")
    model = load_pretrained(directory, kind=kind, device=device, dtype=dtype)
    tokenizer = load_tokenizer(directory, rebuild_command=command)
    if model.config.pad_token_id is None:  # reward models read the score at the last non-pad token
        model.config.pad_token_id = tokenizer.pad_token_id
    model.eval()
    return model, tokenizer


def _is_path(name_or_path, root) -> bool:
    if isinstance(name_or_path, Path) or "/" in name_or_path or os.sep in name_or_path:
        return True
    return name_or_path not in read_manifest(root) and Path(name_or_path).is_dir()


def load(name_or_path: str | Path, *, device=None, dtype=None, root: str | Path | None = None):
    """(model, tokenizer) for a zoo name (checked against the manifest first) or a checkpoint directory.

    The model is in eval mode; weights load from safetensors only, with trust_remote_code off.
    """
    if _is_path(name_or_path, root):
        directory = Path(name_or_path)
        if not directory.is_dir():
            known = ", ".join(names(root)) or "none yet"
            raise CheckpointError(
                f"{directory} is not a directory; pass a zoo name (known: {known}) or a checkpoint directory."
            )
        resave = "alignkit.zoo.save(...), or model.save_pretrained(DIR) and tokenizer.save_pretrained(DIR)"
        return _load_directory(directory, _infer_kind(directory), resave, device, dtype)
    entry = info(name_or_path, root)
    problems = verify(name_or_path, root)
    if problems:
        raise CheckpointError("\n".join(problems))
    command = entry.get("command") or rebuild_command(name_or_path)
    return _load_directory(zoo_root(root) / name_or_path, entry["kind"], command, device, dtype)
