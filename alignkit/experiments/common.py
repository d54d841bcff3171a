"""What every experiment shares: held-out measurements mid-run, parallel runs, writing results files (read them
with alignkit.measure.stats.load_result)."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from alignkit.measure.evaluate import EvalSettings, evaluate
from alignkit.measure.stats import from_this_world, load_result
from alignkit.infra.storage import atomic_write_json
from alignkit.core.trl_driver import StepHook
from alignkit.infra.paths import results_dir
from alignkit.world.files import world_fingerprint

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RESULTS_DIR", "held_out_point", "held_out_point_and_frame", "every", "run_parallel", "write_result",
           "earlier_runs"]

RESULTS_DIR = results_dir()  # read results with alignkit.measure.stats.load_result


def held_out_point(model, tokenizer, keys: Iterable[str], ref_model=None, reward_model=None,
                   config: EvalSettings = EvalSettings(), **where) -> dict:
    """`where` plus the harness's summary keys, each with its standard error, on the test prompts (cloze skipped:
    it does not change). config: EvalSettings (default one response per prompt, for measuring mid-run)."""
    return held_out_point_and_frame(model, tokenizer, keys, ref_model, reward_model, config, **where)[0]


def held_out_point_and_frame(model, tokenizer, keys: Iterable[str], ref_model=None, reward_model=None,
                             config: EvalSettings = EvalSettings(), **where) -> tuple[dict, pd.DataFrame]:
    """`held_out_point` and the harness's per-response frame, for pairing two points prompt by prompt."""
    training = model.training
    summary, df = evaluate(model, tokenizer, ref_model=ref_model, reward_model=reward_model, cloze=False,
                           config=config)
    model.train(training)  # sampling switches to eval mode; the trainer's mode comes back
    return where | {k: summary[k] for key in keys for k in (key, f"{key}_se")}, df  # evaluate rounds to 4 places


def every(n: int, action: Callable[[int], None]) -> StepHook:
    """A step hook that runs action(step) on every n-th step (the hook receives each step's logged row)."""
    def on_step(row: dict) -> None:
        if row["step"] % n == 0:
            action(row["step"])

    return on_step


def run_parallel(fn: Callable, arguments: list[tuple], jobs: int) -> list:
    """fn(*args) for each tuple, `jobs` processes at a time (each run uses one torch thread); results in order."""
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(fn, *args) for args in arguments]
        return [future.result() for future in futures]


def write_result(path: str | Path, command: str, payload: dict) -> Path:
    """Write a results file atomically, its first key the command that made it, its second the world it was
    measured on (`load_result` warns when that is not the world data/world/ holds now)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, {"command": command.strip(), "world": world_fingerprint()} | payload)
    path.chmod(0o644)  # a shared result, not a learner's private file
    return path



def earlier_runs(path: str | Path) -> dict:
    """The entries of a results file that a script merges new runs into, without its command and world: kept only
    if they were measured on this world, since the merged file is stamped with this world."""
    data = load_result(path, missing_ok=True, warn_other_world=False)  # another world's runs: said so below
    if data and not from_this_world(data):
        print(f"{Path(path).name} holds runs from another world: they are dropped, not merged")
        return {}
    return {key: value for key, value in data.items() if key not in ("command", "world")}
