"""Crash safety of learner files: atomic replace, fsynced appends, torn-line-tolerant reads."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from alignkit.infra import storage


def test_append_and_read_round_trip(tmp_path):
    path = tmp_path / "sub" / "log.jsonl"
    records = [{"n": i, "text": "päss\nwith newline"} for i in range(3)]
    for record in records:
        storage.append_jsonl(path, record)
    assert storage.read_jsonl(path) == records
    assert path.read_bytes().count(b"\n") == 3  # newlines inside strings are escaped: one line each


def test_missing_file_reads_as_empty(tmp_path):
    assert storage.read_jsonl(tmp_path / "absent.jsonl") == []


def test_nan_is_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "log.jsonl"
    with pytest.raises(ValueError):
        storage.append_jsonl(path, {"x": float("nan")})
    assert not path.exists() or path.read_bytes() == b""


def test_torn_last_line_is_skipped_and_the_next_append_stays_readable(tmp_path):
    path = tmp_path / "log.jsonl"
    storage.append_jsonl(path, {"n": 1})
    storage.append_jsonl(path, {"n": 2})
    with open(path, "ab") as f:  # what a crash half-way through a write leaves behind
        f.write(b'{"n": 3, "ans')
    with pytest.warns(UserWarning, match="incomplete last line"):
        assert storage.read_jsonl(path) == [{"n": 1}, {"n": 2}]
    storage.append_jsonl(path, {"n": 4})
    with pytest.warns(UserWarning, match="damaged line at line 3"):
        assert storage.read_jsonl(path) == [{"n": 1}, {"n": 2}, {"n": 4}]


def test_crash_inside_the_write_call_keeps_earlier_records(tmp_path, monkeypatch):
    path = tmp_path / "log.jsonl"
    storage.append_jsonl(path, {"n": 1})
    real_write = os.write

    def write_half_then_die(fd, data):
        real_write(fd, bytes(data[: len(data) // 2]))
        raise KeyboardInterrupt  # the kernel is interrupted mid-write

    monkeypatch.setattr(os, "write", write_half_then_die)
    with pytest.raises(KeyboardInterrupt):
        storage.append_jsonl(path, {"n": 2, "payload": "x" * 100})
    monkeypatch.setattr(os, "write", real_write)
    # The interrupted append is truncated away (all or nothing), so no torn line is left to warn about.
    assert storage.read_jsonl(path) == [{"n": 1}]
    storage.append_jsonl(path, {"n": 3})
    assert storage.read_jsonl(path) == [{"n": 1}, {"n": 3}]


_WRITER = """
import sys
from alignkit.infra.storage import append_jsonl
i = 0
while True:
    append_jsonl(sys.argv[1], {"n": i, "pad": "y" * 2000})
    i += 1
"""


def test_killed_writer_process_leaves_every_complete_line_readable(tmp_path):
    path = tmp_path / "log.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (not path.exists() or path.stat().st_size < 40_000):
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a torn last line is allowed; lost earlier lines are not
        records = storage.read_jsonl(path)
    assert len(records) >= 15
    assert [r["n"] for r in records] == list(range(len(records)))


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "out.json"
    storage.atomic_write_json(path, {"a": 1})
    storage.atomic_write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_atomic_write_failure_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "out.json"
    storage.atomic_write_text(path, "old")

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        storage.atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
