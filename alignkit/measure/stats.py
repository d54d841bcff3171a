"""The statistics every chapter reports: a mean with its standard error, differences with one verdict rule,
"mean ± SE" tables, the results files, and the harmlessness-helpfulness plane. A comparison says "A higher"
only where the difference clears two standard errors; otherwise "within noise".

    mean_and_se(values)                          -> (mean, se)          independent values (one per prompt)
    clustered_mean_and_se(values, prompts)       -> (mean, se)          several values per prompt
    verdict(difference, se)                      -> "A higher" | "B higher" | "within noise"
    unpaired_difference(summary_a, summary_b, key) -> dict              two summaries, no per-prompt values
    sentence(diff, "ppo", "sft")                 -> "gold_reward: ppo − sft = +0.018 ± 0.037 (...): within noise"
    se_table({"sft": summary, ...}, keys)        -> DataFrame of "0.520 ± 0.033" strings
    load_result("seed_spread")                   -> the dict in data/results/seed_spread.json
    harm_help_points({"sft": summary, ...})      -> DataFrame: one row per model, each axis with its SE

The paired difference of two evaluations needs the harness's per-prompt values: it is
`alignkit.measure.evaluate.paired_difference`, and it returns the same dict as `unpaired_difference`.
"""
from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from alignkit.infra.errors import DataFileError
from alignkit.infra.paths import results_dir
from alignkit.world.files import world_fingerprint

__all__ = ["HIGHER", "LOWER", "WITHIN_NOISE", "mean_and_se", "clustered_mean_and_se", "verdict", "verdict_words", "claim_verdict",
           "unpaired_difference", "sentence", "se_table", "result_path", "result_command", "load_result",
           "harm_help_points", "OtherWorldWarning", "from_this_world", "Z95",
           "wilson_interval"]

HIGHER, LOWER, WITHIN_NOISE = "A higher", "B higher", "within noise"  # the verdicts stored in data/results


def mean_and_se(values: Sequence[float] | pd.Series, digits: int | None = 4) -> tuple[float, float]:
    """The mean of independent values [N] and its standard error std(ddof=1) / sqrt(N), rounded to `digits`.

    (nan, nan) for no values; an SE of 0 for one value. The harness's numbers are rounded to 4 places.
    """
    values = pd.Series(values, dtype=float)
    if len(values) == 0:
        return float("nan"), float("nan")
    se = float(values.std(ddof=1)) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    mean = float(values.mean())
    return (mean, se) if digits is None else (round(mean, digits), round(se, digits))


def clustered_mean_and_se(values: Sequence[float], clusters: Sequence) -> tuple[float, float]:
    """The mean of values [N] and its standard error clustered by `clusters` [N] (e.g. each value's prompt).

    Values of one prompt are not independent (a prompt's pairs share responses), so the residuals are summed
    within each cluster first: se = sqrt(sum over clusters of (sum of its residuals)^2) / N. With one value
    per cluster this is sqrt(sum r^2) / N, the population-variance form of `mean_and_se`. Not rounded.
    """
    values = np.asarray(values, dtype=float)  # [N]
    residual = pd.Series(values - values.mean()).groupby(list(clusters)).sum()  # [clusters]
    return float(values.mean()), float(np.sqrt((residual ** 2).sum()) / len(values))


def verdict(difference: float, se: float, higher: str = HIGHER, lower: str = LOWER,
            within: str = WITHIN_NOISE) -> str:
    """The course's one rule: A − B is "A higher" only above +2 SE, "B higher" only below −2 SE, else within noise.

    Exactly 2 SE is within noise. `higher`, `lower` and `within` reword the three outcomes for a sentence.
    """
    return higher if difference > 2 * se else lower if difference < -2 * se else within


def verdict_words(diff: Mapping, a: str, b: str) -> str:
    """A difference's verdict with the two sides' names: "ppo higher", "sft higher" or "within noise"."""
    return {HIGHER: f"{a} higher", LOWER: f"{b} higher"}.get(diff["verdict"], WITHIN_NOISE)


def claim_verdict(diff: Mapping, claim: str, expected: str = HIGHER) -> str:
    """A paper's claim that A differs from B in the `expected` direction (HIGHER: A above B), judged on a difference:
    "reproduced" only where the difference clears two standard errors that way. A difference within noise neither
    shows nor refutes it, so it is not called a match.

        The paper's claim that KTO beats DPO: not shown here (within noise: -0.012 ± 0.020)
    """
    numbers = f"{diff['difference']:+.3f} ± {diff['se']:.3f}"
    if diff["verdict"] == expected:
        return f"The paper's claim that {claim}: reproduced ({numbers}, beyond two standard errors)"
    if diff["verdict"] == WITHIN_NOISE:
        return f"The paper's claim that {claim}: not shown here (within noise: {numbers})"
    return f"The paper's claim that {claim}: contradicted here ({numbers}, beyond two standard errors the other way)"


def unpaired_difference(summary_a: Mapping, summary_b: Mapping, key: str = "gold_reward") -> dict:
    """A minus B from two summaries that keep only `key` and `key_se`: se = sqrt(se_a^2 + se_b^2).

    For two saved results whose per-prompt values are gone. On the same prompts this is conservative: it
    ignores the positive correlation that `paired_difference` removes. Same keys as `paired_difference`,
    with n_prompts None and paired False.
    """
    a, b = float(summary_a[key]), float(summary_b[key])
    difference = a - b
    se = math.hypot(float(summary_a[f"{key}_se"]), float(summary_b[f"{key}_se"]))
    return {"key": key, "a": a, "b": b, "difference": difference, "se": se, "n_prompts": None,
            "verdict": verdict(difference, se), "paired": False}


def sentence(diff: Mapping, a: str = "A", b: str = "B", digits: int = 3) -> str:
    """One printed sentence for a difference dict (paired, unpaired, or read from a results file):

        gold_reward: ppo − sft = +0.018 ± 0.037 (0.538 vs 0.520, paired over 222 prompts): within noise
    """
    f = f".{digits}f"
    if diff.get("paired", True):
        n = diff.get("n_prompts")
        how = f"paired over {n} prompts" if n is not None else "paired"
    else:
        how = "unpaired"
    label = f"{diff['key']}: " if diff.get("key") else ""
    return (f"{label}{a} − {b} = {diff['difference']:+{f}} ± {diff['se']:{f}} "
            f"({diff['a']:{f}} vs {diff['b']:{f}}, {how}): {verdict_words(diff, a, b)}")


def se_table(summaries: Mapping[str, Mapping], keys: Sequence[str], digits: int = 3) -> pd.DataFrame:
    """One column per model, one row per metric: "mean ± SE" strings, "–" where a summary lacks the metric.

    summaries: {model name: a harness summary (or any dict with `key` and `key_se`)}.
    """
    def cell(s: Mapping, key: str) -> str:
        mean, se = s.get(key), s.get(f"{key}_se")
        if mean is None or se is None or mean != mean:  # missing or NaN: not measured
            return "–"
        return f"{mean:.{digits}f} ± {se:.{digits}f}"

    return pd.DataFrame({name: {key: cell(s, key) for key in keys} for name, s in summaries.items()})


# The scripts that write each results file (a file also names its own command, once it exists).
_MAKERS = {"cai": "python scripts/cai_results.py", "feedback_agreement": "python scripts/feedback_agreement.py",
           "frontier": "python scripts/frontier.py", "lora_memory": "python scripts/lora_memory.py",
           "method_costs": "python scripts/method_costs.py", "ppo_sweep": "python scripts/ppo_sweep.py",
           "seed_spread": "python scripts/seed_spread.py", "self_instruct": "python scripts/self_instruct.py",
           "zoo_comparison": "python scripts/compare_zoo.py", "policy_preferences": "python scripts/preference_data.py",
           **{name: f"python scripts/preference_experiments.py --only {only}" for name, only in
              (("kto_vs_dpo", "kto_vs_dpo"), ("kto_one_output", "one_output"), ("kto_imbalance", "imbalance"),
               ("no_sft", "no_sft"), ("kto_budget", "fixed_budget"))}}


Z95 = 1.959964  # the normal quantile of a two-sided 95% interval


def wilson_interval(wins: int, games: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (NaN, NaN with no games)."""
    if games == 0:
        return float("nan"), float("nan")
    p, z2 = wins / games, z * z
    center = (p + z2 / (2 * games)) / (1 + z2 / games)
    half = z / (1 + z2 / games) * math.sqrt(p * (1 - p) / games + z2 / (4 * games * games))
    return max(0.0, center - half), min(1.0, center + half)


def result_path(name: str | Path) -> Path:
    """data/results/<name>.json for a bare name ("seed_spread"); any other path as given."""
    name = Path(name)
    return name if name.suffix or name.parent != Path(".") else results_dir() / f"{name}.json"


def result_command(name: str | Path) -> str:
    """The command that writes results file `name` (tuning_<method> files: scripts/tune.py <method>)."""
    stem = Path(name).stem
    if stem.startswith("tuning_"):
        return f"python scripts/tune.py {stem.removeprefix('tuning_')}"
    return _MAKERS.get(stem, "the script in scripts/ that writes it")


def load_result(name: str | Path, missing_ok: bool = False, warn_other_world: bool = True) -> dict:
    """A results file as a dict: `name` is "seed_spread" (data/results/seed_spread.json) or a path.

    A missing file raises DataFileError naming it and the command that makes it ({} with missing_ok, for
    scripts that add to a file); a malformed one raises DataFileError naming it. A file measured on another world
    warns (OtherWorldWarning), unless the caller handles that itself (warn_other_world=False, `from_this_world`).
    """
    path = result_path(name)
    if not path.exists():
        if missing_ok:
            return {}
        raise DataFileError(f"{path} does not exist: make it with `{result_command(path)}`.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataFileError(f"{path} is not valid JSON ({err}); rerun the command that made it, or delete it.") from err
    if not isinstance(data, dict):
        raise DataFileError(f"{path} should hold a JSON object, not {type(data).__name__}; rerun its command.")
    if warn_other_world:
        _warn_if_another_world(path, data.get("world"))
    return data


def from_this_world(result: Mapping) -> bool:
    """Whether a results file's dict was measured on the world data/world/ holds now."""
    return result.get("world") == world_fingerprint()


class OtherWorldWarning(UserWarning):
    """A results file measured on a world other than the one data/world/ holds now."""


def _warn_if_another_world(path: Path, recorded: str | None) -> None:
    if recorded == world_fingerprint():
        return
    when = "on another world" if recorded else "before results files recorded their world (an earlier world)"
    warnings.warn(f"{path.name} was measured {when}, not on the prompts and facts data/world/ holds now: its numbers "
                  f"do not describe this zoo. Rerun `{result_command(path)}` to measure them here.",
                  OtherWorldWarning, stacklevel=3)


def harm_help_points(summaries: Mapping[str, Mapping]) -> pd.DataFrame:
    """The CAI paper's plane: per model, helpfulness on benign prompts and harmlessness on harmful ones.

    summaries: {model name: harness summary with helpfulness_benign, harmlessness_harmful and their _se}.
    Returns one row per model: model, helpfulness, helpfulness_se, harmlessness, harmlessness_se (NaN where
    a summary lacks a value). Plot it with alignkit.viz.labeled_scatter.
    """
    axes = {"helpfulness": "helpfulness_benign", "harmlessness": "harmlessness_harmful"}
    columns = {column: key for axis, key in axes.items() for column, key in ((axis, key), (f"{axis}_se", f"{key}_se"))}
    rows = [{"model": name, **{column: float("nan") if s.get(key) is None else float(s[key])
                               for column, key in columns.items()}} for name, s in summaries.items()]
    return pd.DataFrame(rows, columns=["model", "helpfulness", "helpfulness_se", "harmlessness", "harmlessness_se"])
