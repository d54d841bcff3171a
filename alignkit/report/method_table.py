"""The course's method table, measured: the seed's SFT / PPO-RLHF / DPO / KTO / CAI / RLAIF table rebuilt from the
zoo's manifest and data/results/, never from typed-in numbers.

    df = method_table()            # one row per method in the zoo
    print(as_markdown(df))         # or as_csv(df); `alignkit methods` on the command line

Where a number has no source yet (a results file not made), its cell is NaN ("not measured"), never a guess.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from alignkit import zoo
from alignkit.infra.errors import DataFileError
from alignkit.experiments.common import RESULTS_DIR, read_result
from alignkit.report.formatting import NOT_MEASURED, money_markdown, number

__all__ = ["METHODS", "USED_BY", "Phase", "method_phases", "model_arguments", "count_models_in_memory", "method_table",
           "as_markdown", "as_csv"]

# (zoo name, the method's name in the seed's table), in the seed's order.
METHODS = (("sft", "SFT"), ("ppo", "PPO-RLHF"), ("dpo", "DPO"), ("kto", "KTO"), ("sl-cai", "Constitutional AI: SL-CAI"),
           ("rl-cai", "Constitutional AI: RL-CAI"), ("rlaif-dpo", "RLAIF with DPO"))
# Cited from the seed, not measured: who uses each method.
USED_BY = {"sft": "every assistant (InstructGPT, Llama 2-Chat)", "ppo": "InstructGPT, ChatGPT, Llama 2-Chat",
           "dpo": "Zephyr, Tulu 2, Llama 3", "kto": "Archangel (Contextual AI)", "sl-cai": "Claude (Anthropic)",
           "rl-cai": "Claude (Anthropic)", "rlaif-dpo": "Google (Lee et al. 2023)"}
SIGNAL = {"sft": "demonstrations", "ppo": "human preference pairs (to train the reward model)",
          "dpo": "human preference pairs", "kto": "human binary labels (here: the DPO pairs unpaired, each chosen "
                                                  "response desirable, each rejected one undesirable)",
          "sl-cai": "AI revisions + demonstrations",
          "rl-cai": "AI preference labels on red-team pairs + human on the rest",
          "rlaif-dpo": "AI preference labels on red-team pairs + human on the rest"}
# A method's pipeline in data/results/method_costs.json: PPO-RLHF needs its reward model trained first.
COST_PARTS = {"ppo": ("rm", "ppo")}
HARNESS_KEYS = (("gold", "gold_reward"), ("helpfulness", "helpfulness_benign"),
                ("harmlessness", "harmlessness_harmful"), ("honesty", "honesty_unknowable"),
                ("over_refusal", "over_refusal"), ("kl_to_ref", "kl_to_ref"))


# --- models in memory, counted from the training code ----------------------------------------------


@dataclass(frozen=True)
class Phase:
    """One stage of a method's training: the functions it calls, whose model arguments are in memory together."""

    name: str
    calls: tuple
    trains: bool = True  # alignkit's train_* functions train their first model argument in place


def method_phases() -> dict[str, tuple[Phase, ...]]:
    # Which functions each recipe calls (alignkit.zoo.recipes, alignkit.zoo.recipes_cai); tests check each is called there.
    from alignkit.methods.dpo import train_dpo
    from alignkit.methods.kto import train_kto
    from alignkit.methods.ppo_train import train_ppo
    from alignkit.methods.preferences import sample_pairs
    from alignkit.methods.reward import train_reward_model
    from alignkit.cai.rl_cai import mixed_preference_rows
    from alignkit.methods.sft import train_sft
    from alignkit.cai.sl_cai import red_team_revisions

    labels = Phase("AI labels", (sample_pairs, mixed_preference_rows), trains=False)
    return {"sft": (Phase("SFT", (train_sft,)),),
            "ppo": (Phase("reward model", (train_reward_model,)), Phase("PPO", (train_ppo,))),
            "dpo": (Phase("DPO", (train_dpo,)),), "kto": (Phase("KTO", (train_kto,)),),
            "sl-cai": (Phase("critique and revision", (red_team_revisions,), trains=False), Phase("SFT", (train_sft,))),
            "rl-cai": (labels, Phase("preference model", (train_reward_model,)), Phase("PPO", (train_ppo,))),
            "rlaif-dpo": (labels, Phase("DPO", (train_dpo,)))}


def model_arguments(fn) -> list[str]:
    """The parameters of `fn` that take a model: `model`, `policy`, `sampler` or any `*_model`."""
    return [p for p in inspect.signature(fn).parameters if p in ("model", "policy", "sampler") or p.endswith("_model")]


def _ppo_roles() -> tuple[list[str], list[str]]:
    """(trained, frozen) roles of PPO's models: `ppo_models` called on tiny stand-ins, its distinct modules counted
    and named by `train_ppo`'s arguments (the order ppo_models returns them in)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaForSequenceClassification

    from alignkit.methods.ppo_train import ppo_models, train_ppo

    config = LlamaConfig(vocab_size=16, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                         num_attention_heads=1, num_key_value_heads=1, num_labels=1, pad_token_id=0)
    with torch.random.fork_rng(devices=[]):
        models = ppo_models(LlamaForCausalLM(config), LlamaForSequenceClassification(config))
    distinct = list({id(m): m for m in models if isinstance(m, torch.nn.Module)}.values())
    roles = model_arguments(train_ppo)
    if len(distinct) != len(roles):
        raise AssertionError(f"ppo_models returned {len(distinct)} models; train_ppo takes {roles}")
    trained = [r for r, m in zip(roles, distinct) if any(p.requires_grad for p in m.parameters())]
    return trained, [r for r in roles if r not in trained]


def _phase_count(phase: Phase, ppo_roles) -> dict:
    from alignkit.methods.ppo_train import train_ppo

    if any(fn is train_ppo for fn in phase.calls):
        trained, frozen = ppo_roles()
        return {"phase": phase.name, "models": len(trained) + len(frozen), "trained": trained, "frozen": frozen}
    roles = list(dict.fromkeys(r for fn in phase.calls for r in model_arguments(fn)))
    trained = roles[:1] if phase.trains else []
    return {"phase": phase.name, "models": len(roles), "trained": trained, "frozen": roles[len(trained):]}


def count_models_in_memory(phases: dict | None = None) -> dict[str, dict]:
    """{method: {"count": the most models any phase holds, "phases": [{phase, models, trained, frozen}]}}.

    How each count is obtained: a phase's models are the model parameters (`model`, `policy`, `sampler`,
    `*_model`) of the functions it calls, read from their signatures; the first is trained, the rest frozen
    (the train_* convention). PPO's phase calls `ppo_models` on tiny stand-ins and counts the distinct modules
    it returns, trained = those with parameters that require gradients. So SFT and RM training hold 1 model,
    DPO/KTO 2 (policy + the reference the recipe's `dpo_setup` loads), PPO 4 (policy and value trained;
    reference and reward model frozen), the CAI labeling phases 2 (the sampling policy + the feedback model).
    This counts what the training step needs; models a recipe also keeps referenced (its parent, say) are not
    counted here, but are in the measured peak bytes.
    """
    phases = phases if phases is not None else method_phases()
    cache: list = []

    def ppo_roles():
        if not cache:
            cache.append(_ppo_roles())
        return cache[0]

    out = {}
    for method, stages in phases.items():
        counted = [_phase_count(p, ppo_roles) for p in stages]
        out[method] = {"count": max(c["models"] for c in counted), "phases": counted}
    return out


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
    data = read_result(path)
    if name not in data:
        return NAN, NAN
    runs = _field(path, data, name, "runs")
    golds = [_field(path, run, "gold_reward") for run in runs]
    return (round(max(golds) - min(golds), 4), len(golds)) if golds else (NAN, 0)


def _grid(path: Path) -> tuple[float, str]:
    """(fraction of the grid's points that did not diverge, what the grid varies) from a tuning_METHOD.json.

    Diverged: the point's validation gold fell below sft's validation gold by more than 2 standard errors of the
    difference, sqrt(se_point² + se_sft²). sft's validation gold is the file's `reference` entry
    ({"gold_reward", "gold_reward_se"}); without it (tune.py did not record it) the fraction is NaN.
    """
    data = read_result(path)
    if not data:
        return NAN, ""
    points, varied = _field(path, data, "points"), list(_field(path, data, "chosen"))
    grid = f"{' × '.join(varied)} ({len(points)} points)"
    reference = data.get("reference")
    if not reference:
        return NAN, grid + "; sft validation gold not recorded"
    ref, ref_se = _field(path, reference, "gold_reward"), _field(path, reference, "gold_reward_se")
    kept = [p for p in points if _field(path, p, "gold_reward")
            >= ref - 2 * math.hypot(_field(path, p, "gold_reward_se"), ref_se)]
    return len(kept) / len(points), grid


def _costs(path: Path, name: str) -> tuple[float, float]:
    """(train seconds, peak bytes) of a method's pipeline from method_costs.json: seconds summed over its parts,
    the peak the largest; NaN when a part is not measured."""
    data = read_result(path)
    parts = COST_PARTS.get(name, (name,))
    if not all(p in data for p in parts):
        return NAN, NAN
    return (sum(_field(path, data, p, "train_seconds") for p in parts),
            max(_field(path, data, p, "peak_bytes") for p in parts))


def _data_counts(name: str, metrics: dict, manifest: dict) -> dict:
    """What each zoo build trained on: demonstrations, human and AI labels, AI revisions (NaN when unrecorded)."""
    from alignkit.cai.sl_cai import helpful_demonstrations, red_team_prompts
    from alignkit.world.files import read_jsonl

    get = lambda key, entry=metrics: entry.get(key, NAN)  # noqa: E731
    counts = {"demonstrations": 0, "human_labels": 0, "ai_labels": 0, "ai_revisions": 0}
    if name == "sft":
        counts["demonstrations"] = len(read_jsonl("sft.jsonl"))
    elif name == "ppo":
        counts["human_labels"] = get("train_pairs", manifest.get("rm", {}).get("metrics", {}))
    elif name == "dpo":
        counts["human_labels"] = get("train_pairs")
    elif name == "kto":
        counts["human_labels"] = get("train_desirable") + get("train_undesirable")
    elif name == "sl-cai":
        red_team = red_team_prompts(read_jsonl("prompts_train.jsonl"))
        counts["demonstrations"] = len(helpful_demonstrations(read_jsonl("sft.jsonl"), red_team))
        counts["ai_revisions"] = get("revised_answers")
    else:
        counts["human_labels"], counts["ai_labels"] = get("human_labels"), get("ai_labels")
    return counts


def _labels_text(name: str, c: dict, metrics: dict) -> str:
    n = lambda x: "not measured" if _isnan(x) else f"{int(x):,}"  # noqa: E731
    if name == "sft":
        return f"{n(c['demonstrations'])} demonstrations"
    if name == "ppo":
        return f"{n(c['human_labels'])} human preference pairs (rm's training set)"
    if name == "kto":
        return (f"{n(metrics.get('train_desirable', NAN))} desirable + {n(metrics.get('train_undesirable', NAN))} "
                f"undesirable rows")
    if name == "sl-cai":
        return (f"{n(c['ai_revisions'])} AI revisions + {n(c['demonstrations'])} demonstrations "
                f"({n(metrics.get('training_rows', NAN))} training rows)")
    if name == "dpo":
        return f"{n(c['human_labels'])} human preference pairs"
    return f"{n(c['ai_labels'])} AI labels + {n(c['human_labels'])} human labels"


def _isnan(x) -> bool:
    return isinstance(x, float) and math.isnan(x)


def _label_cost(c: dict, human_price, ai_price: float) -> dict:
    """Human labels at the seed's price range plus AI labels at chapter 05's measured price, as "low–high"."""
    low, high = (c["human_labels"] * p for p in human_price)
    ai = c["ai_labels"] * ai_price if c["ai_labels"] else 0.0
    if _isnan(low):
        text = "not measured"
    else:
        text = f"${low:,.0f}–{high:,.0f} human"
    if c["ai_labels"]:
        text += " + AI labels not measured" if _isnan(ai) else f" + ${ai:.2g} AI"
    unpriced = [f"{int(c[k]):,} {k.replace('_', ' ')}" for k in ("demonstrations", "ai_revisions")
                if c[k] and not _isnan(c[k])]
    if unpriced:
        text += f" ({', '.join(unpriced)} not priced)"
    return {"label_cost_low_usd": low + ai, "label_cost_high_usd": high + ai, "label_cost_usd": text}


def _prices(results: Path) -> tuple[tuple, float]:
    """(human $ per label low, high; AI $ per label): chapter 05's cai.json, else the seed's human range and NaN."""
    path = results / "cai.json"
    cai = read_result(path)
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
    cai = read_result(path)
    if not cai or cai.get("harm_help", {}).get("against") != "sft" or name not in cai["harm_help"].get("rows", {}):
        return NAN, NAN
    row = cai["harm_help"]["rows"][name]
    return row.get("kl_to_ref", NAN), row.get("kl_to_ref_se", NAN)


# --- the table ----------------------------------------------------------------------------------------


def method_table(root=None, results_dir=None) -> pd.DataFrame:
    """One row per method in the zoo (`root`, default the course's), measured (see the module docstring)."""
    manifest, results = zoo.read_manifest(root), Path(results_dir or RESULTS_DIR)
    present = [(name, label) for name, label in METHODS if name in manifest]
    models = count_models_in_memory({k: v for k, v in method_phases().items() if k in dict(present)}) if present else {}
    human_price, ai_price = _prices(results)
    rows = []
    for name, label in present:
        entry = manifest[name]
        metrics, parent = entry.get("metrics", {}), entry.get("parent")
        counts = _data_counts(name, metrics, manifest)
        spread, seeds = _seed_spread(results / "seed_spread.json", name)
        grid_fraction, grid = _grid(results / f"tuning_{name}.json") if name in ("ppo", "dpo", "kto") else (NAN, "")
        seconds, peak = _costs(results / "method_costs.json", name)
        row = {"method": label, "checkpoint": name, "signal": SIGNAL[name],
               "labels_or_demos": _labels_text(name, counts, metrics), **counts,
               "models_in_memory": models[name]["count"], "models_detail": _describe_models(models[name]),
               "peak_bytes": peak, "train_seconds": seconds, "seed_spread_gold": spread, "seeds": seeds,
               "lr_grid_trained": grid_fraction, "grid": grid}
        for column, key in HARNESS_KEYS:
            row |= {column: metrics.get(key, NAN), f"{column}_se": metrics.get(f"{key}_se", NAN)}
        row["kl_reference"] = parent if "kl_to_ref" in metrics else ""
        row["kl_to_sft"], row["kl_to_sft_se"] = _kl_to_sft(results, name, parent, metrics)
        row |= _label_cost(counts, human_price, ai_price)
        row["used_by (cited)"] = USED_BY[name]
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
