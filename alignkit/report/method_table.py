"""The course's method table, measured: the seed's SFT / PPO-RLHF / DPO / KTO / CAI / RLAIF table rebuilt from the
zoo's manifest and data/results/, never from typed-in numbers.

    df = method_table()            # one row per method in the zoo
    print(as_markdown(df))         # or as_csv(df); `alignkit methods` on the command line

Where a number has no source yet (a results file not made), its cell is NaN ("not measured"), never a guess.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from alignkit import zoo
from alignkit.zoo import recipes
from alignkit.zoo.card import DataCounts, MethodCard
from alignkit.infra.errors import DataFileError
from alignkit.experiments.common import RESULTS_DIR
from alignkit.measure.stats import from_this_world, load_result, result_command
from alignkit.report.formatting import NOT_MEASURED, money_markdown, number

__all__ = ["count_models_in_memory", "method_table", "as_markdown", "as_csv"]

HARNESS_KEYS = (("gold", "gold_reward"), ("helpfulness", "helpfulness_benign"),
                ("harmlessness", "harmlessness_harmful"), ("honesty", "honesty_unknowable"),
                ("over_refusal", "over_refusal"), ("kl_to_ref", "kl_to_ref"))


# --- models in memory, as each card states them ----------------------------------------------------


def count_models_in_memory(cards: list[MethodCard] | None = None) -> dict[str, dict]:
    """{method: {"count": the most models any phase holds, "phases": [{phase, models, trained, frozen}]}}.

    Each card states its phases and the models each holds: SFT and RM training hold 1 model, DPO/KTO 2 (policy
    and its reference), PPO 4 (policy and value trained; reference and reward model frozen), the CAI labeling
    phases 2 (the sampling policy and the feedback model). tests/test_methods.py holds the statements to the
    training functions' signatures and to the models `ppo_models` returns. This counts what a training step
    needs; models a recipe also keeps referenced (its parent, say) are in the measured peak bytes instead.
    """
    return {c.name: {"count": c.models_in_memory,
                     "phases": [{"phase": p.name, "models": p.models, "trained": list(p.trained),
                                 "frozen": list(p.frozen)} for p in c.phases]}
            for c in (cards if cards is not None else recipes.table_cards())}


def _describe_models(counted: dict) -> str:
    parts = []
    for c in counted["phases"]:
        roles = [f"{', '.join(c['trained'])} trained"] if c["trained"] else []
        roles += [f"{', '.join(c['frozen'])} frozen"] if c["frozen"] else []
        parts.append(f"{c['phase']}: {c['models']} ({'; '.join(roles)})")
    return " → ".join(parts)


# --- reading the results ----------------------------------------------------------------------------


def _field(path: Path, data, *keys):
    """data[keys[0]][keys[1]]..., or a DataFileError naming the file and the missing key."""
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            raise DataFileError(f"{path} has no {'.'.join(map(str, keys))}; rerun the command that made it.")
        data = data[key]
    return data


NAN = float("nan")


def _seed_spread(path: Path, name: str) -> tuple[float, float]:
    """(max - min of gold over the training seeds, number of seeds) from seed_spread.json; NaN when absent."""
    data = load_result(path, missing_ok=True)
    if name not in data:
        return NAN, NAN
    runs = _field(path, data, name, "runs")
    golds = [_field(path, run, "gold_reward") for run in runs]
    return (round(max(golds) - min(golds), 4), len(golds)) if golds else (NAN, 0)


def _grid(path: Path) -> tuple[float, str]:
    """(fraction of the grid's points that did not diverge, what the grid varies) from a tuning_METHOD.json.

    Diverged: the point's validation gold fell below sft's validation gold by more than 2 standard errors of the
    difference, sqrt(se_point² + se_sft²). sft's validation gold is the file's `reference` entry
    ({"gold_reward", "gold_reward_se"}); without it (tune.py did not record it) the fraction is NaN, and so it is
    for a file measured on another world (the grid's description says so).
    """
    data = load_result(path, missing_ok=True, warn_other_world=False)  # another world: said in the table below
    if not data:
        return NAN, ""
    points, varied = _field(path, data, "points"), list(_field(path, data, "chosen"))
    grid = f"{' × '.join(varied)} ({len(points)} points)"
    if not from_this_world(data):
        return NAN, grid + f"; measured on another world (rerun {result_command(path)})"
    reference = data.get("reference")
    if not reference:
        return NAN, grid + "; sft validation gold not recorded"
    ref, ref_se = _field(path, reference, "gold_reward"), _field(path, reference, "gold_reward_se")
    kept = [p for p in points if _field(path, p, "gold_reward")
            >= ref - 2 * math.hypot(_field(path, p, "gold_reward_se"), ref_se)]
    return len(kept) / len(points), grid


def _costs(path: Path, method: MethodCard) -> tuple[float, float]:
    """(train seconds, peak bytes) of a method's pipeline from method_costs.json: seconds summed over its parts,
    the peak the largest; NaN when a part is not measured."""
    data = load_result(path, missing_ok=True)
    parts = method.pipeline or (method.name,)
    if not all(p in data for p in parts):
        return NAN, NAN
    return (sum(_field(path, data, p, "train_seconds") for p in parts),
            max(_field(path, data, p, "peak_bytes") for p in parts))


def _isnan(x) -> bool:
    return isinstance(x, float) and math.isnan(x)


def _label_cost(c: DataCounts, human_price, ai_price: float) -> dict:
    """Human labels at the seed's price range plus AI labels at chapter 05's measured price, as "low–high"."""
    low, high = (c.human_labels * p for p in human_price)
    ai = c.ai_labels * ai_price if c.ai_labels else 0.0
    if _isnan(low):
        text = "not measured"
    else:
        text = f"${low:,.0f}–{high:,.0f} human"
    if c.ai_labels:
        text += " + AI labels not measured" if _isnan(ai) else f" + ${ai:.2g} AI"
    unpriced = [f"{int(getattr(c, k)):,} {k.replace('_', ' ')}" for k in ("demonstrations", "ai_revisions")
                if getattr(c, k) and not _isnan(getattr(c, k))]
    if unpriced:
        text += f" ({', '.join(unpriced)} not priced)"
    return {"label_cost_low_usd": low + ai, "label_cost_high_usd": high + ai, "label_cost_usd": text}


def _prices(results: Path) -> tuple[tuple, float]:
    """(human $ per label low, high; AI $ per label): chapter 05's cai.json, else the seed's human range and NaN."""
    path = results / "cai.json"
    cai = load_result(path, missing_ok=True)
    if not cai:
        from alignkit.experiments.cai import HUMAN_LABEL_PRICE

        return tuple(HUMAN_LABEL_PRICE), NAN
    return (tuple(_field(path, cai, "label_cost", "human_dollars_per_label")),
            float(_field(path, cai, "label_cost", "dollars_per_label")))


def _kl_to_sft(results: Path, name: str, parent: str | None, metrics: dict) -> tuple[float, float]:
    """KL to sft: the manifest's kl_to_ref when sft is the parent, else chapter 05's cai.json harm_help (against sft)."""
    if parent == "sft":
        return metrics.get("kl_to_ref", NAN), metrics.get("kl_to_ref_se", NAN)
    path = results / "cai.json"
    cai = load_result(path, missing_ok=True)
    if not cai or cai.get("harm_help", {}).get("against") != "sft" or name not in cai["harm_help"].get("rows", {}):
        return NAN, NAN
    row = cai["harm_help"]["rows"][name]
    return row.get("kl_to_ref", NAN), row.get("kl_to_ref_se", NAN)


# --- the table ----------------------------------------------------------------------------------------


def method_table(root=None, results_dir=None) -> pd.DataFrame:
    """One row per method in the zoo (`root`, default the course's), measured (see the module docstring)."""
    manifest, results = zoo.read_manifest(root), Path(results_dir or RESULTS_DIR)
    present = [c for c in recipes.table_cards() if c.name in manifest]
    models = count_models_in_memory(present)
    human_price, ai_price = _prices(results)
    rows = []
    for method in present:
        name, entry = method.name, manifest[method.name]
        metrics, parent = entry.get("metrics", {}), entry.get("parent")
        counts = method.data_counts(metrics, manifest)
        spread, seeds = _seed_spread(results / "seed_spread.json", name)
        grid_fraction, grid = _grid(results / method.tuning_grid) if method.tuning_grid else (NAN, "")
        seconds, peak = _costs(results / "method_costs.json", method)
        row = {"method": method.label, "checkpoint": name, "signal": method.signal, "labels_or_demos": counts.text,
               **{k: getattr(counts, k) for k in ("demonstrations", "human_labels", "ai_labels", "ai_revisions")},
               "models_in_memory": models[name]["count"], "models_detail": _describe_models(models[name]),
               "peak_bytes": peak, "train_seconds": seconds, "seed_spread_gold": spread, "seeds": seeds,
               "lr_grid_trained": grid_fraction, "grid": grid}
        for column, key in HARNESS_KEYS:
            row |= {column: metrics.get(key, NAN), f"{column}_se": metrics.get(f"{key}_se", NAN)}
        row["kl_reference"] = parent if "kl_to_ref" in metrics else ""
        row["kl_to_sft"], row["kl_to_sft_se"] = _kl_to_sft(results, name, parent, metrics)
        row |= _label_cost(counts, human_price, ai_price)
        row["used_by (cited)"] = method.users
        rows.append(row)
    return pd.DataFrame(rows)


# The Markdown view: a few narrow tables, one row per method, columns named in words (the data stay as above).
MARKDOWN_SECTIONS = (
    ("What each method trains on, and what its labels cost", (
        ("signal", "Trained on"), ("labels_or_demos", "Labels or demonstrations"),
        ("label_cost_usd", "Label cost (human at the seed's price range, AI measured)"))),
    ("What training needs", (
        ("models_in_memory", "Models in memory"), ("peak_bytes", "Peak memory"), ("train_seconds", "Training time"),
        ("seed_spread_gold", "Gold spread over seeds"), ("seeds", "Seeds"),
        ("lr_grid_trained", "Share of the settings grid that trained"), ("grid", "Settings grid"))),
    ("What it achieves on the test prompts (± standard error)", (
        ("gold", "Gold reward"), ("helpfulness", "Helpfulness (benign)"), ("harmlessness", "Harmlessness (harmful)"),
        ("honesty", "Honesty (unknowable)"), ("over_refusal", "Over-refusal"), ("kl_to_ref", "KL to its reference"),
        ("kl_reference", "Reference"), ("kl_to_sft", "KL to sft"))),
    ("How the models share memory, and who uses each method", (
        ("models_detail", "Models in memory, by phase"), ("used_by (cited)", "Used by (cited)"))),
)


def _cell(df: pd.DataFrame, row, column: str) -> str:
    value = row[column]
    if _isnan(value):
        return NOT_MEASURED
    if column == "peak_bytes":
        return number(value / 2**20, "MiB")
    if column == "train_seconds":
        return number(value, "s")
    if column == "lr_grid_trained":
        return f"{value:.0%}"
    if isinstance(value, float):
        se = row.get(f"{column}_se")
        return number(value, se=None if se is None or _isnan(se) else se).replace(" ± ", "\u00a0±\u00a0")  # one line
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return number(value)
    return money_markdown(str(value).replace("|", "/"))


def as_markdown(df: pd.DataFrame) -> str:
    """The table as a few narrow Markdown tables, one row per method, numbers rounded (report.formatting) with
    their standard errors; dollar amounts stay text (money_markdown). Columns absent from `df` are left out."""
    blocks = []
    for title, columns in MARKDOWN_SECTIONS:
        shown = [(c, name) for c, name in columns if c in df.columns]
        if not shown:
            continue
        lines = [f"**{title}**", "", "| Method | " + " | ".join(name for _, name in shown) + " |",
                 "|---" * (len(shown) + 1) + "|"]
        for _, row in df.iterrows():
            lines.append(f"| {row['method']} | " + " | ".join(_cell(df, row, c) for c, _ in shown) + " |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def as_csv(df: pd.DataFrame) -> str:
    """Every column, raw numbers (NaN cells empty)."""
    return df.to_csv(index=False)
