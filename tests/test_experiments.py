"""The experiments' shared pieces: the per-step hook in the PPO loop and TRL trainers alike, and the frontier table."""
from __future__ import annotations

import copy
import json

from alignkit.methods.dpo import DPOSettings, train_dpo
from alignkit.experiments.common import earlier_runs, every, write_result
from alignkit.experiments.frontier import best_gold_within
from alignkit.methods.ppo import PPOSettings
from alignkit.methods.ppo_train import ppo_models, train_ppo
from alignkit.methods.reward import reward_model_from_sft

ROWS = [{"prompt": f"What is {i} plus 2?", "chosen": f"It is {i + 2}.", "rejected": "No idea, sorry."} for i in range(8)]


def test_every_runs_the_action_on_every_nth_step():
    seen = []
    hook = every(3, seen.append)
    for step in range(1, 10):
        hook({"step": step, "loss": 1.0})
    assert seen == [3, 6, 9]


def test_the_same_hook_runs_in_the_ppo_loop_and_in_a_trl_trainer(tiny_lm, small_tokenizer):
    ppo_rows, dpo_rows = [], []
    models = ppo_models(tiny_lm, reward_model_from_sft(tiny_lm, small_tokenizer))
    settings = PPOSettings(batch_size=4, minibatch_size=2, max_new_tokens=4, steps=2)
    ppo_log = train_ppo(*models, small_tokenizer, [r["prompt"] for r in ROWS], settings, on_step=ppo_rows.append)
    train_dpo(copy.deepcopy(tiny_lm), copy.deepcopy(tiny_lm), small_tokenizer, ROWS, DPOSettings(batch_size=4),
              on_step=dpo_rows.append)
    assert ppo_rows == ppo_log and [r["step"] for r in ppo_rows] == [1, 2]  # the loop's logged rows
    assert dpo_rows == [{"step": 1}, {"step": 2}]  # logging_steps=5: neither step was logged


def test_best_gold_within_counts_only_points_inside_each_budget():
    points = [{"method": "dpo", "gold_reward": 0.70, "kl_to_ref": 0.0},
              {"method": "dpo", "gold_reward": 0.90, "kl_to_ref": 3.0},  # outside budgets 0.5 and 1
              {"method": "dpo", "gold_reward": 0.75, "kl_to_ref": 0.4},
              {"method": "ppo", "gold_reward": 0.80, "kl_to_ref": 0.9}]
    table = best_gold_within(points, budgets=(0.5, 1.0, 4.0))
    assert table["dpo"] == {"0.5": 0.75, "1.0": 0.75, "4.0": 0.90}
    assert table["ppo"] == {"0.5": None, "1.0": 0.80, "4.0": 0.80}  # no PPO point within 0.5 nats


def test_a_merged_results_file_keeps_only_this_worlds_runs(tmp_path, capsys):
    path = write_result(tmp_path / "seed_spread.json", "python scripts/seed_spread.py --names dpo", {"dpo": {"runs": [1]}})
    assert earlier_runs(path) == {"dpo": {"runs": [1]}}  # no command, no world: the merge writes its own
    path.write_text(json.dumps({"command": "c", "world": "0" * 16, "dpo": {"runs": [2]}}))
    assert earlier_runs(path) == {}
    assert "another world" in capsys.readouterr().out
    assert earlier_runs(tmp_path / "missing.json") == {}
