"""Choosing a method: each scenario's answer follows the measured table, not a typed-in key."""
from __future__ import annotations

import pandas as pd
import pytest

from alignkit.report import method_choice
from alignkit.infra.errors import AlignkitError, AnswerTypeError


def table(changes: dict | None = None) -> pd.DataFrame:
    rows = [
        dict(method="SFT", checkpoint="sft", signal="demonstrations", human_labels=0, ai_labels=0, ai_revisions=0,
             models_in_memory=1, label_cost_high_usd=0.0, gold=0.53, gold_se=0.01, harmlessness=0.33, harmlessness_se=0.05),
        dict(method="DPO", checkpoint="dpo", signal="human preference pairs", human_labels=1190, ai_labels=0,
             ai_revisions=0, models_in_memory=2, label_cost_high_usd=11900.0, gold=0.56, gold_se=0.01,
             harmlessness=0.54, harmlessness_se=0.05),
        dict(method="KTO", checkpoint="kto", signal="human binary labels", human_labels=2380, ai_labels=0,
             ai_revisions=0, models_in_memory=2, label_cost_high_usd=23800.0, gold=0.55, gold_se=0.01,
             harmlessness=0.98, harmlessness_se=0.01),
        dict(method="PPO-RLHF", checkpoint="ppo", signal="human preference pairs", human_labels=14343, ai_labels=0,
             ai_revisions=0, models_in_memory=4, label_cost_high_usd=143430.0, gold=0.60, gold_se=0.01,
             harmlessness=0.88, harmlessness_se=0.05),
        dict(method="Constitutional AI: SL-CAI", checkpoint="sl-cai", signal="AI revisions + demonstrations",
             human_labels=0, ai_labels=0, ai_revisions=324, models_in_memory=2, label_cost_high_usd=0.0, gold=0.54,
             gold_se=0.01, harmlessness=0.99, harmlessness_se=0.01),
    ]
    df = pd.DataFrame(rows)
    for (checkpoint, column), value in (changes or {}).items():
        df.loc[df.checkpoint == checkpoint, column] = value
    return df


def test_each_scenario_is_decided_by_the_tables_columns():
    t = table()
    assert method_choice.answers("demos_only", t) == ["SFT"]
    assert method_choice.answers("thumbs", t) == ["KTO"]
    assert method_choice.answers("two_copies", t) == ["DPO", "KTO"]
    assert method_choice.answers("cheap_harmless", t) == ["Constitutional AI: SL-CAI"]
    assert method_choice.answers("best_gold", t) == ["PPO-RLHF"]  # 0.04 ahead of DPO with SE 0.01 each


def test_a_changed_measurement_changes_the_answer():
    closer = table({("dpo", "gold"): 0.59})  # within 2 SE of PPO now: a tie is a tie
    assert method_choice.answers("best_gold", closer) == ["DPO", "PPO-RLHF"]
    unsafe = table({("sl-cai", "harmlessness"): 0.35})
    assert method_choice.answers("cheap_harmless", unsafe) == []


def test_check_prints_the_verdict_and_reason_and_accepts_checkpoint_names(capsys):
    t = table()
    assert method_choice.check("thumbs", "kto", t) is True
    assert method_choice.check("thumbs", "DPO", t) is False
    out = capsys.readouterr().out
    assert "✓ KTO" in out and "✗ DPO" in out and "binary label" in out


def test_bad_answers_get_clear_errors():
    t = table()
    with pytest.raises(AnswerTypeError, match="text"):
        method_choice.check("thumbs", 3, t)
    with pytest.raises(AlignkitError, match="not a method"):
        method_choice.check("thumbs", "RLHF-9000", t)
    with pytest.raises(AlignkitError, match="no scenario"):
        method_choice.answers("free_lunch", t)
    assert list(method_choice.show().index) == [s.id for s in method_choice.SCENARIOS]
