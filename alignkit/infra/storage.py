"""Crash-safe files for everything a learner produces (quiz answers, votes, submissions).

Two patterns, both safe against a kernel dying mid-write:

- a whole file is written to a temporary file in the same folder, fsynced, then `os.replace`d over the
  target, so readers see either the old file or the new one, never half of one;
- a log grows by appending one complete JSON line with a single write, then flush + fsync. A crash can
  still leave a torn last line; `read_jsonl` skips it with a warning and keeps every earlier line, and
  `append_jsonl` starts a fresh line after it so later records stay readable.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_json", "append_jsonl", "read_jsonl", "sha256_of"]


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not possible on every platform (e.g. Windows), hence best effort.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Replace `path` with `data` atomically: readers see the old or the new file, never a mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """`atomic_write_bytes` for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write `obj` as indented JSON atomically (NaN and infinity are refused: they are not JSON)."""
    text = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
    return atomic_write_text(path, text)


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
    """Append `record` as one JSON line with a single write, then flush and fsync; a failed append is
    truncated away, so the record is either whole on disk or absent."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, sort_keys=True, ensure_ascii=False, allow_nan=False)
    data = (line + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        old_size = os.fstat(fd).st_size
        # After a torn write the file does not end in a newline: start a new line so this record parses.
        if old_size > 0 and not _ends_with_newline(path):
            data = b"\n" + data
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        except BaseException:
            # All or nothing: a record that failed (a full disk) must not stay half on disk, or a later
            # read would count an answer the learner was told was not recorded.
            try:
                os.ftruncate(fd, old_size)
                os.fsync(fd)
            except OSError:
                pass
            raise
    finally:
        os.close(fd)


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """All JSON-object lines of `path` (none if it does not exist).

    A line that is not a complete JSON object (the torn tail of a crashed write, or damage) is
    skipped with a warning naming the line; every other line is kept.
    """
    path = Path(path)
    if not path.exists():
        return []
    records: list[dict] = []
    lines = path.read_bytes().split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            record = None
        if isinstance(record, dict):
            records.append(record)
            continue
        torn = number == len(lines)  # the last piece has no newline after it: an interrupted append
        why = "an incomplete last line (a write was interrupted)" if torn else "a damaged line"
        warnings.warn(f"{path}: skipped {why} at line {number}; the other lines are intact.", stacklevel=2)
    return records


def sha256_of(path: str | os.PathLike) -> str:
    """The file's sha256, read in 1 MB blocks (checkpoints run to hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
