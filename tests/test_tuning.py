"""Choosing settings on validation: the rule, the grids, and that the zoo's settings are the ones validation chose."""
import json

import pytest

from alignkit.methods import reward
from alignkit.experiments import tuning
from alignkit.experiments.common import RESULTS_DIR
from alignkit.experiments.tuning import GRIDS, Grid, choose


def _grid() -> Grid:
    return Grid("dpo", "settings", GRIDS["dpo"].default, GRIDS["dpo"].changes)


def _point(beta, learning_rate, values):
    return {"beta": beta, "learning_rate": learning_rate, "gold_reward": sum(values) / len(values),
            "_values": dict(enumerate(values))}


def test_choose_keeps_the_current_setting_when_the_best_is_within_noise():
    current = _point(0.3, 1e-4, [0.5, 0.6, 0.4, 0.5])
    best = _point(0.1, 1e-4, [0.6, 0.5, 0.5, 0.5])  # +0.025 on average, paired SE 0.048
    choice = choose([best, current], _grid())
    assert choice["chosen"] == {"beta": 0.3, "learning_rate": 1e-4}
    assert choice["best"] == {"beta": 0.1, "learning_rate": 1e-4}
    assert choice["best_minus_current"] == pytest.approx(0.025)
    assert choice["verdict"].startswith("current kept")


def test_choose_takes_the_best_when_it_clears_two_paired_standard_errors():
    current = _point(0.3, 1e-4, [0.5, 0.6, 0.4, 0.5])
    best = _point(0.1, 3e-4, [0.7, 0.8, 0.6, 0.8])  # +0.225, every prompt better
    choice = choose([current, best], _grid())
    assert choice["chosen"] == {"beta": 0.1, "learning_rate": 3e-4}
    assert choice["verdict"].startswith("best chosen")


def test_choose_pairs_on_shared_items_only():
    current = _point(0.3, 1e-4, [0.5, 0.5, 0.5])
    best = {"beta": 0.1, "learning_rate": 1e-4, "gold_reward": 0.9, "_values": {0: 0.9, 1: 0.9, 7: 0.9}}
    choice = choose([current, best], _grid())
    assert choice["best_minus_current"] == pytest.approx(0.4)  # prompts 0 and 1; prompt 7 has no partner


def test_choose_refuses_a_grid_without_the_current_setting():
    with pytest.raises(ValueError, match="current setting"):
        choose([_point(0.1, 3e-4, [0.5, 0.6])], _grid())


@pytest.mark.parametrize("name", sorted(GRIDS))
def test_every_grid_tries_the_zoo_setting(name):
    grid = GRIDS[name]
    settings = [{k: change[k] for k in change} for change in grid.changes]
    current = {k: v for k, v in grid.current().items() if k != "steps"}
    assert current in settings
    if grid.steps:
        assert grid.current()["steps"] in grid.steps


@pytest.mark.parametrize("name", sorted(GRIDS))
def test_the_zoo_uses_what_validation_chose(name):
    """A committed tuning file's choice is the default the recipes train with: change one, rerun the other."""
    path = RESULTS_DIR / f"tuning_{name}.json"
    if not path.exists():
        pytest.skip(f"{path.name} not made yet (python scripts/tune.py {name})")
    chosen = json.loads(path.read_text())["chosen"]
    assert chosen == GRIDS[name].current(), f"{path.name} chose {chosen}; the recipes use {GRIDS[name].current()}"


def test_grid_product_spans_every_combination():
    assert tuning._product(a=(1, 2), b=(3, 4)) == ({"a": 1, "b": 3}, {"a": 1, "b": 4}, {"a": 2, "b": 3},
                                                   {"a": 2, "b": 4})


def test_pair_correctness_counts_ties_as_half(monkeypatch):
    monkeypatch.setattr(reward, "_scores_of_both", lambda model, tok, prompts, a, b: ([1.0, 0.0, 2.0], [0.0, 1.0, 2.0]))
    rows = [{"prompt": "p", "chosen": "a", "rejected": "b"}] * 3
    assert reward.pair_correctness(None, None, rows) == [1.0, 0.0, 0.5]
    assert reward.preference_accuracy(None, None, rows) == pytest.approx(0.5)
    with pytest.raises(reward.AlignkitError, match="at least one labeled row"):
        reward.pair_correctness(None, None, [])


def test_sft_reference_is_added_only_to_files_measured_on_this_world(tmp_path, monkeypatch):
    from alignkit.experiments.common import write_result

    monkeypatch.setattr(tuning, "sft_reference", lambda: {"gold_reward": 0.4})
    write_result(tmp_path / "tuning_dpo.json", "python scripts/tune.py dpo", {"points": []})
    (tmp_path / "tuning_kto.json").write_text(json.dumps({"command": "python scripts/tune.py kto", "world": "0" * 16}))
    tuning.add_sft_reference(tmp_path)
    assert json.loads((tmp_path / "tuning_dpo.json").read_text())["reference"] == {"gold_reward": 0.4}
    other = json.loads((tmp_path / "tuning_kto.json").read_text())
    assert "reference" not in other and other["world"] == "0" * 16
