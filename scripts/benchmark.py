"""Measure the DESIGN §5 budgets on this machine and print them as a table (and JSON with --json).

    python scripts/benchmark.py                 # chapters, course under nbval, unit tests, zoo size
    python scripts/benchmark.py --zoo           # + rebuild every zoo checkpoint into a temp folder
    python scripts/benchmark.py --ci            # + .ci/run end to end on a fresh clone (slow)

Budgets are reported, not enforced: timings depend on the machine, and a flaky timed assertion helps
nobody (DESIGN §5).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
BUDGETS_S = {"chapter": 180, "course": 900, "unit_tests": 180, "ci": 1800, "zoo": 1800}
ZOO_BUDGET_MB = 50


def timed(command: list[str], cwd: Path = REPO, env: dict | None = None) -> tuple[float, int, str]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    return time.perf_counter() - started, done.returncode, (done.stdout + done.stderr)[-2000:]


def row(what: str, seconds: float, budget: float, ok: bool, note: str = "") -> dict:
    return {"what": what, "seconds": round(seconds, 1), "budget_s": budget, "passed": ok,
            "within_budget": seconds <= budget, "note": note}


def measure_chapters() -> list[dict]:
    rows = []
    for notebook in sorted((REPO / "chapters").glob("[0-9][0-9]_*.ipynb")):
        seconds, code, _ = timed([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(notebook)],
                                 env={"CI": "true"})
        rows.append(row(f"chapter {notebook.stem} (nbval-lax)", seconds, BUDGETS_S["chapter"], code == 0))
    return rows


def measure_course() -> dict:
    seconds, code, _ = timed([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "chapters"], env={"CI": "true"})
    return row("whole course under nbval", seconds, BUDGETS_S["course"], code == 0)


def measure_unit_tests() -> dict:
    seconds, code, tail = timed([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
    return row("unit tests", seconds, BUDGETS_S["unit_tests"], code == 0, tail.strip().splitlines()[-1])


def measure_zoo_rebuild() -> list[dict]:
    sys.path.insert(0, str(REPO))
    from alignkit.zoo import BUILDERS

    rows, total = [], 0.0
    with tempfile.TemporaryDirectory() as root:
        for name in BUILDERS:
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


def zoo_size() -> dict:
    size = sum(f.stat().st_size for f in (REPO / "data" / "zoo").rglob("*") if f.is_file()) / 1e6
    return {"what": "checkpoints in data/zoo (MB)", "seconds": None, "budget_s": None, "passed": True,
            "within_budget": size <= ZOO_BUDGET_MB, "note": f"{size:.1f} MB of {ZOO_BUDGET_MB} MB"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zoo", action="store_true", help="also rebuild the zoo into a temporary folder")
    parser.add_argument("--ci", action="store_true", help="also run .ci/run on a fresh clone")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args()
    rows = measure_chapters() + [measure_course(), measure_unit_tests(), zoo_size()]
    if args.zoo:
        rows += measure_zoo_rebuild()
    if args.ci:
        rows.append(measure_ci())
    for r in rows:
        took = "" if r["seconds"] is None else f"{r['seconds']:>7.1f} s of {r['budget_s']} s"
        flag = "ok" if r["passed"] and r["within_budget"] else "OVER" if r["passed"] else "FAILED"
        print(f"{r['what']:<40} {took:<20} {flag:<6} {r['note']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0 if all(r["passed"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
