"""The memory accounting behind "LoRA + DPO fits a single consumer GPU", and the measurement it is fitted to."""
from __future__ import annotations

import pytest

from alignkit.measure.stats import load_result
from alignkit.experiments.lora_memory import (REFERENCE_MODELS, bytes_per_parameter, fit_line, measure_run,
                                              parameter_counts, predict)


def test_parameter_counts_match_the_published_models():
    # The public parameter counts of these checkpoints, from their shapes alone.
    assert parameter_counts(REFERENCE_MODELS["1B (Llama-3.2-1B)"])["total"] == 1_235_814_400
    assert parameter_counts(REFERENCE_MODELS["7B (Mistral-7B)"])["total"] == 7_241_732_096
    assert parameter_counts(REFERENCE_MODELS["8B (Llama-3.1-8B)"])["total"] == 8_030_261_248


def test_accounting_per_parameter():
    fp32, half = bytes_per_parameter("fp32"), bytes_per_parameter("bf16")
    assert sum(fp32["full"].values()) == 20  # policy 4 + reference 4 + gradients 4 + two Adam moments 8
    assert sum(half["full"].values()) == 18  # float32 master weights; the frozen reference in half precision
    assert half["lora"]["backbone"] == 2 and bytes_per_parameter("qlora")["lora"]["backbone"] < 0.52


def test_predictions_put_7b_lora_dpo_on_a_24_gb_card_and_full_dpo_far_off():
    seven = predict(REFERENCE_MODELS["7B (Mistral-7B)"], "bf16")
    assert seven["lora_dpo_gb"] <= 24 < seven["full_dpo_gb"] / 4
    assert predict(REFERENCE_MODELS["7B (Mistral-7B)"], "qlora")["lora_dpo_gb"] <= 8


def test_fit_line_recovers_a_line():
    assert fit_line([1, 2, 3], [5, 7, 9]) == pytest.approx((3, 2))


def test_committed_result_shows_the_claim():
    result = load_result("lora_memory")
    assert result["command"].startswith("python scripts/lora_memory.py")
    assert result["largest_lora_over_full"] <= 0.5  # LoRA DPO's peak at most half full DPO's on the largest stand-in
    sizes = [row["parameters_m"] for row in result["table"]]
    assert sizes == sorted(sizes) and len(sizes) >= 3
    assert 15 < result["fitted_fp32"]["full"]["bytes_per_parameter"] < 25  # the accounting says 20
    assert "7B (Mistral-7B)" in result["predictions_gb"]


@pytest.mark.slow
def test_lora_dpo_peak_is_at_most_half_of_full_dpo_on_the_largest_standin():
    full, lora = measure_run("l", "full"), measure_run("l", "lora")
    assert full["parameters"] == lora["parameters"] > 50e6
    assert lora["peak_delta_bytes"] <= 0.5 * full["peak_delta_bytes"]
