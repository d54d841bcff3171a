"""The chapters' "On a real model" sections: off by default, on a directory or hub id when asked, stand-in in CI."""
from __future__ import annotations

import pytest

from alignkit.zoo import real_model, real_runs


def test_section_is_off_by_default_and_says_how_to_turn_it_on(monkeypatch, capsys):
    monkeypatch.delenv(real_model.ENV, raising=False)
    monkeypatch.setenv("CI", "false")
    assert real_model.source() is None and real_model.section("dpo") is None
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and real_model.ENV in printed[0]


def test_ci_runs_on_a_fresh_local_standin(monkeypatch):
    monkeypatch.delenv(real_model.ENV, raising=False)
    monkeypatch.setenv("CI", "true")
    chosen = real_model.source()
    assert chosen and (__import__("pathlib").Path(chosen) / "model.safetensors").exists()


@pytest.mark.slow
@pytest.mark.parametrize("method", ["sft", "dpo", "ppo"])
def test_section_trains_the_model_named_by_the_variable(method, monkeypatch, standin_dir):
    monkeypatch.setenv(real_model.ENV, str(standin_dir))
    table = real_model.section(method, real_runs.CI_RUN)
    assert list(table.index) == ["before", f"after {method.upper()}"]
    assert {"gold_reward", "answer_rate"} <= set(table.columns)


@pytest.mark.slow
def test_device_timing_times_each_section_and_restores_the_variable(monkeypatch):
    from alignkit.experiments import benchmark

    monkeypatch.delenv(real_model.ENV, raising=False)
    rows = benchmark.measure_real_model_sections(methods=("sft",), standin_size="xs", run=real_runs.CI_RUN)
    assert [r["what"] for r in rows] == ["real-model sft section"]
    assert rows[0]["passed"] and rows[0]["seconds"] > 0
    assert rows[0]["note"].startswith(benchmark.device_name())
    assert real_model.ENV not in __import__("os").environ  # a learner's setting is not left changed
