"""Choosing a method (chapter 08): scenarios whose answer the measured method table decides.

    table = methods.method_table()
    method_choice.show(table)                         # the scenarios
    method_choice.check("thumbs", "KTO", table)       # ✓ or ✗, with the table's reason

No answer is typed in: each scenario is a rule over the table's columns (data needed, models in memory,
label cost, gold and harmlessness with their standard errors), so a rebuilt zoo can change the answer.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from alignkit.infra.errors import AlignkitError, AnswerTypeError

__all__ = ["Scenario", "SCENARIOS", "answers", "check", "show"]


@dataclass(frozen=True)
class Scenario:
    id: str
    text: str
    fits: Callable[[pd.Series, pd.DataFrame], bool]  # (a method's row, the whole table) -> allowed
    reason: str  # which measured columns decide, shown with the verdict


def _sft(table: pd.DataFrame) -> pd.Series:
    return table[table.checkpoint == "sft"].iloc[0]


def _safer_than_sft(row: pd.Series, table: pd.DataFrame) -> bool:
    sft = _sft(table)
    return row.harmlessness - sft.harmlessness > 2 * (row.harmlessness_se ** 2 + sft.harmlessness_se ** 2) ** 0.5


def _near_best_gold(row: pd.Series, table: pd.DataFrame) -> bool:
    best = table.loc[table.gold.idxmax()]
    return best.gold - row.gold <= 2 * (row.gold_se ** 2 + best.gold_se ** 2) ** 0.5


SCENARIOS = [
    Scenario("demos_only", "You have a thousand demonstrations and nothing else: no comparisons, no labelers, "
             "no model to give feedback.",
             lambda r, t: r.human_labels == 0 and r.ai_labels == 0 and r.ai_revisions == 0,
             "the methods that use no human labels, no AI labels and no AI revisions"),
    Scenario("thumbs", "Your users click thumbs up or down on single answers; nobody ever compares two answers.",
             lambda r, t: "binary" in r.signal, "the methods whose signal is one binary label per answer"),
    Scenario("two_copies", "You have labeled pairs, and memory for at most two copies of the model while training.",
             lambda r, t: r.models_in_memory <= 2 and r.human_labels > 0 and r.ai_labels == 0,
             "human-label methods with at most 2 models in memory (counted from the training code); a pair "
             "unpaired is two binary labels"),
    Scenario("cheap_harmless", "You must make the model refuse harmful requests more often than sft, and may spend "
             "at most 500 US dollars on labels at the seed's top price of 10 US dollars per human label.",
             lambda r, t: r.label_cost_high_usd <= 500 and _safer_than_sft(r, t),
             "label cost at 10 US dollars per human label ≤ 500 US dollars, and harmlessness above sft's by more than 2 SE"),
    Scenario("best_gold", "Labels and compute are no object: you want the highest gold reward on the test prompts.",
             _near_best_gold, "gold within 2 standard errors of the best method's (a tie is a tie)"),
]
_BY_ID = {s.id: s for s in SCENARIOS}


def _scenario(scenario_id: str) -> Scenario:
    if scenario_id not in _BY_ID:
        raise AlignkitError(f"no scenario {scenario_id!r}; the scenarios are {', '.join(_BY_ID)}.")
    return _BY_ID[scenario_id]


def answers(scenario_id: str, table: pd.DataFrame) -> list[str]:
    """The methods (their table labels) the measured table allows in the scenario."""
    scenario = _scenario(scenario_id)
    return [row.method for _, row in table.iterrows() if bool(scenario.fits(row, table))]


def check(scenario_id: str, choice: str, table: pd.DataFrame) -> bool:
    """Print whether `choice` (a method's label or its checkpoint name) fits the scenario, and why."""
    if not isinstance(choice, str):
        raise AnswerTypeError(f"answer with a method's name as text, e.g. \"DPO\" or \"dpo\", not {choice!r}.")
    names = {m.lower(): m for m in table.method} | {c.lower(): m for c, m in zip(table.checkpoint, table.method)}
    if choice.strip().lower() not in names:
        raise AlignkitError(f"{choice!r} is not a method in the table; choose from {', '.join(table.method)}.")
    chosen, allowed = names[choice.strip().lower()], answers(scenario_id, table)
    right = chosen in allowed
    print(f"{'✓' if right else '✗'} {chosen}: the table allows {', '.join(allowed) or 'none of the methods'} "
          f"({_scenario(scenario_id).reason}).")
    return right


def show(table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The scenarios as a table, to answer with `check(id, "method", table)`."""
    return pd.DataFrame([{"id": s.id, "scenario": s.text} for s in SCENARIOS]).set_index("id")
