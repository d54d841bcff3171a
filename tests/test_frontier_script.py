"""scripts/frontier.py's table: the best gold reward each method reached within each KL budget."""
import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "frontier.py"


def _frontier_module():
    spec = importlib.util.spec_from_file_location("frontier_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_best_gold_within_counts_only_points_inside_each_budget():
    points = [{"method": "dpo", "gold_reward": 0.70, "kl_to_ref": 0.0},
              {"method": "dpo", "gold_reward": 0.90, "kl_to_ref": 3.0},  # outside budgets 0.5 and 1
              {"method": "dpo", "gold_reward": 0.75, "kl_to_ref": 0.4},
              {"method": "ppo", "gold_reward": 0.80, "kl_to_ref": 0.9}]
    table = _frontier_module().best_gold_within(points, budgets=(0.5, 1.0, 4.0))
    assert table["dpo"] == {"0.5": 0.75, "1.0": 0.75, "4.0": 0.90}
    assert table["ppo"] == {"0.5": None, "1.0": 0.80, "4.0": 0.80}  # no PPO point within 0.5 nats
