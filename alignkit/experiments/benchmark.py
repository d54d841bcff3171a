"""Measure the course's time and size budgets (BUDGETS_S, ZOO_BUDGET_MB) on this machine: chapters, the course under nbval, unit tests, zoo size and rebuild.

Budgets are reported, not enforced: timings depend on the machine, and a flaky timed assertion helps
nobody. `scripts/benchmark.py` is the command line.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from alignkit.infra.paths import repo_root

__all__ = ["measure_chapters", "measure_course", "measure_unit_tests", "measure_zoo_rebuild", "measure_ci",
           "measure_real_model_sections", "device_name", "zoo_size", "report"]

REPO = repo_root()
PYTHON = sys.executable
BUDGETS_S = {"chapter": 180, "course": 900, "unit_tests": 180, "ci": 1800, "zoo": 1800}
ZOO_BUDGET_MB = 60


def timed(command: list[str], cwd: Path = REPO, env: dict | None = None) -> tuple[float, int, str]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    return time.perf_counter() - started, done.returncode, (done.stdout + done.stderr)[-2000:]


def row(what: str, seconds: float, budget: float, ok: bool, note: str = "") -> dict:
    return {"what": what, "seconds": round(seconds, 1), "budget_s": budget, "passed": ok,
            "within_budget": seconds <= budget, "note": note}


def measure_chapters(only: str = "[0-9][0-9]_*") -> list[dict]:
    rows = []
    for notebook in sorted((REPO / "chapters").glob(f"{only}.ipynb")):
        seconds, code, _ = timed([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(notebook)],
                                 env={"CI": "true"})
        rows.append(row(f"chapter {notebook.stem} (nbval-lax)", seconds, BUDGETS_S["chapter"], code == 0))
    return rows


def measure_course() -> dict:
    seconds, code, _ = timed([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "chapters"], env={"CI": "true"})
    return row("whole course under nbval", seconds, BUDGETS_S["course"], code == 0)


def measure_unit_tests() -> dict:
    seconds, code, tail = timed([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])  # the README: the unit tests alone
    return row("unit tests", seconds, BUDGETS_S["unit_tests"], code == 0, tail.strip().splitlines()[-1])


def measure_zoo_rebuild() -> list[dict]:
    from alignkit.zoo.recipes import CARDS

    rows, total = [], 0.0
    with tempfile.TemporaryDirectory() as root:
        for name in CARDS:
            seconds, code, _ = timed([PYTHON, "-m", "alignkit", "zoo", "build", name, "--root", root])
            total += seconds
            rows.append(row(f"zoo build {name}", seconds, BUDGETS_S["zoo"], code == 0))
    rows.append(row("zoo rebuild, all checkpoints", total, BUDGETS_S["zoo"], all(r["passed"] for r in rows)))
    return rows


def measure_ci() -> dict:
    with tempfile.TemporaryDirectory() as folder:
        clone = Path(folder) / "alignkit"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        seconds, code, _ = timed(["bash", ".ci/run"], cwd=clone, env={"CI": "true"})
    return row(".ci/run on a fresh clone", seconds, BUDGETS_S["ci"], code == 0)


def device_name() -> str:
    import torch

    from alignkit.core.profiles import choose_device

    device = choose_device()
    return torch.cuda.get_device_name() if device == "cuda" else f"{device} ({os.cpu_count()} cores)"


def measure_real_model_sections(model: str | None = None, methods: tuple[str, ...] = ("sft", "dpo", "ppo"),
                                standin_size: str = "m", run=None) -> list[dict]:
    """Time each chapter's "On a real model" section, in this process, on the device the profiles choose.

    model: a hub id or directory; "smollm2" builds SmolLM2 from its wheel (core.smollm2); None builds a stand-in
    of STANDIN_SIZES[standin_size] (no hub here).
    run: a `real_runs.RealRun`; None = its GPU-sized defaults, which the note compares CPU and GPU on."""
    from alignkit.zoo import real_model, real_runs
    from alignkit.core.standin import STANDIN_SIZES, build_standin

    rows, where = [], device_name()
    with tempfile.TemporaryDirectory() as folder:
        if model == "smollm2":
            from alignkit.core.smollm2 import build_smollm2

            model = str(build_smollm2())
        model = model or str(build_standin(Path(folder) / "standin", STANDIN_SIZES[standin_size]))
        previous = os.environ.get(real_model.ENV)
        os.environ[real_model.ENV] = model  # the sections read their model from here, as a learner sets it
        try:
            for method in methods:
                started = time.perf_counter()
                table = real_model.section(method, run or real_runs.RealRun())
                seconds = time.perf_counter() - started
                gold = table.loc["gold_reward"].tolist() if table is not None else []
                rows.append(row(f"real-model {method} section", seconds, BUDGETS_S["chapter"], table is not None,
                                f"{where}; gold before/after {gold}"))
        finally:
            if previous is None:
                os.environ.pop(real_model.ENV, None)
            else:
                os.environ[real_model.ENV] = previous
    return rows


def zoo_size() -> dict:
    size = sum(f.stat().st_size for f in (REPO / "data" / "zoo").rglob("*") if f.is_file()) / 1e6
    return {"what": "checkpoints in data/zoo (MB)", "seconds": None, "budget_s": None, "passed": True,
            "within_budget": size <= ZOO_BUDGET_MB, "note": f"{size:.1f} MB of {ZOO_BUDGET_MB} MB"}


def report(rows: list[dict]) -> str:
    """One line per measurement: seconds against the budget, and ok / OVER / FAILED."""
    lines = []
    for r in rows:
        took = "" if r["seconds"] is None else f"{r['seconds']:>7.1f} s of {r['budget_s']} s"
        flag = "ok" if r["passed"] and r["within_budget"] else "OVER" if r["passed"] else "FAILED"
        lines.append(f"{r['what']:<40} {took:<20} {flag:<6} {r['note']}")
    return "\n".join(lines)


def markdown_table(rows: list[dict], device: str) -> str:
    """The same measurements as a Markdown table headed by the device, to paste into the README."""
    lines = [f"| on {device} | seconds | budget (s) | |", "|---|---:|---:|---|"]
    for r in rows:
        seconds = "" if r["seconds"] is None else f"{r['seconds']:.1f}"
        flag = "ok" if r["passed"] and r["within_budget"] else "over budget" if r["passed"] else "FAILED"
        lines.append(f"| {r['what']} | {seconds} | {r['budget_s'] or ''} | {flag} |")
    return "\n".join(lines)
