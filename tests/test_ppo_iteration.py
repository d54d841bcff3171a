"""Chapter 04's written-out PPO iteration matches the package loop (rollout, advantages_and_returns, ppo_update).

The test runs the notebook's own cells, found by their marker comments, on tiny models built as tests/test_ppo.py
builds them: the hand-written iteration and the package loop, started from identical copies, must end with the same
losses and parameters to 1e-6. A variant of the hand-written cell without the KL term must not.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from alignkit.methods.reward import reward_model_from_sft
from test_ppo import one_thread  # noqa: F401  (the module-wide one-thread fixture, shared)

NOTEBOOK = Path(__file__).resolve().parents[1] / "chapters" / "04_ppo_rlhf.ipynb"
PROMPTS = ["Where does the snibvun live?", "What is 3 plus 4?", "How do I bake bread?", "Who is the zorbel?",
           "How much is 2 plus 5?", "Tell me about the river.", "Where does the lunkel live?", "What is 9 minus 4?"]
KL_ARGUMENT = "scores, mask, config.kl_coef,"  # the KL coefficient passed to kl_penalized_rewards in the cell


def cell_source(marker: str) -> str:
    cells = [c.source for c in nbformat.read(NOTEBOOK, 4).cells if c.cell_type == "code" and marker in c.source]
    assert len(cells) == 1, f"expected one code cell marked {marker!r} in {NOTEBOOK.name}, found {len(cells)}"
    return cells[0]


def run_cells(written_out: str, tiny_lm, small_tokenizer) -> dict:
    namespace = {"sft_model": tiny_lm, "reward_model": reward_model_from_sft(tiny_lm, small_tokenizer),
                 "tokenizer": small_tokenizer, "train_prompts": PROMPTS}
    exec(compile(written_out, "ppo-iteration-written-out", "exec"), namespace)
    exec(compile(cell_source("# ppo-iteration-check"), "ppo-iteration-check", "exec"), namespace)
    return namespace


def test_the_written_out_cell_is_short_and_uses_the_pure_functions():
    source = cell_source("# ppo-iteration-written-out")
    assert len(source.splitlines()) <= 45
    for name in ("kl_penalized_rewards(", "scores_with_eos_penalty(", "compute_gae(", "whiten(", "ppo_loss(",
                 "value_loss(", "rollout("):
        assert name in source
    assert source.count(KL_ARGUMENT) == 1


def test_written_out_iteration_matches_the_package_loop(tiny_lm, small_tokenizer, capsys):
    ns = run_cells(cell_source("# ppo-iteration-written-out"), tiny_lm, small_tokenizer)
    assert ns["hand_log"][0]["kl"] == pytest.approx(0.0, abs=1e-6)  # step 1: the policy is the reference
    assert abs(ns["hand_log"][1]["kl"]) > 1e-6  # step 2: it has moved, so the KL term is live
    assert ns["moved"] > 1e-6  # the update did something
    assert ns["loss_gap"] < 1e-6 and ns["param_gap"] < 1e-6
    printed = capsys.readouterr().out
    assert "✗" not in printed and printed.count("✓") == 3


def test_a_written_out_iteration_without_the_kl_term_does_not_match(tiny_lm, small_tokenizer, capsys):
    without_kl = cell_source("# ppo-iteration-written-out").replace(KL_ARGUMENT, "scores, mask, 0.0,")
    ns = run_cells(without_kl, tiny_lm, small_tokenizer)
    assert ns["param_gap"] > 1e-6
    assert "✗" in capsys.readouterr().out
