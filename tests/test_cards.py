"""One card per method: a method registered with one card is in the recipes, the method table and the export."""
from __future__ import annotations

import json

import pytest
import yaml

from alignkit.course.check import EXERCISES
from alignkit.core.profiles import PROFILES
from alignkit.infra.errors import AlignkitError, CheckpointError
from alignkit.methods.dpo import DPOSettings, dpo_config
from alignkit.report.method_table import as_markdown, method_table
from alignkit.zoo import recipes
from alignkit.zoo.card import DataCounts, MethodCard, Phase, Recipe, Trained, TRLExport
from alignkit.zoo.export import export_recipe, exportable, recipe_rows

ROWS = [{"prompt": [{"role": "user", "content": "Hi?"}], "chosen": [{"role": "assistant", "content": "Hello."}],
         "rejected": [{"role": "assistant", "content": "Go away."}]}]


def train_dummy(seed=None, root=None, **kwargs) -> Trained:
    return Trained(model="the dummy's model", tokenizer=None, config={"seed": seed or 0}, metrics={"calls": 1})


def dummy_data(metrics: dict, manifest: dict) -> DataCounts:
    return DataCounts(human_labels=metrics.get("train_pairs", 0), text=f"{metrics.get('train_pairs', 0)} dummy pairs")


DUMMY = MethodCard(
    "dummy", Recipe("sft", "causal-lm", "chat", train_dummy, measured_against_parent=True), label="Dummy PO",
    signal="dummy preferences", users="nobody (a test)", phases=(Phase("dummy", (train_dummy,), ("model",)),),
    data_counts=dummy_data, export=TRLExport("dpo", DPOSettings, dpo_config, lambda n, seed: ROWS, "sft"))


@pytest.fixture
def registered():
    recipes.register(DUMMY)
    yield DUMMY
    del recipes.CARDS[DUMMY.name]


def test_a_registered_card_is_a_recipe(registered):
    assert "dummy" in recipes.CARDS and recipes.card("dummy") is DUMMY
    assert recipes.train("dummy", seed=3).config == {"seed": 3}


def test_a_registered_card_is_a_row_of_the_method_table(registered, tmp_path):
    zoo_root, results = tmp_path / "zoo", tmp_path / "results"
    zoo_root.mkdir()
    manifest = {"sft": {"parent": "base", "metrics": {"gold_reward": 0.5}},
                "dummy": {"parent": "sft", "metrics": {"gold_reward": 0.61, "gold_reward_se": 0.02, "train_pairs": 7}}}
    (zoo_root / "manifest.json").write_text(json.dumps(manifest))
    table = method_table(zoo_root, results).set_index("checkpoint")
    assert list(table.index) == ["sft", "dummy"]
    assert table.loc["dummy", "method"] == "Dummy PO" and table.loc["dummy", "gold"] == 0.61
    assert table.loc["dummy", "labels_or_demos"] == "7 dummy pairs" and table.loc["dummy", "models_in_memory"] == 1
    assert "Dummy PO" in as_markdown(method_table(zoo_root, results))


def test_a_registered_card_exports_for_trl(registered, tmp_path):
    assert "dummy" in exportable() and recipe_rows("dummy") == ROWS
    paths = export_recipe("dummy", tmp_path, ROWS, "some/model", PROFILES["a100"])
    assert yaml.safe_load(paths["config"].read_text())["beta"] == DPOSettings().beta
    assert "trl dpo --config dummy.yaml" in paths["readme"].read_text()


def test_a_card_without_its_parent_or_twice_is_refused(registered):
    with pytest.raises(CheckpointError, match="registered already"):
        recipes.register(DUMMY)
    orphan = MethodCard("orphan", Recipe("nowhere", "causal-lm", "chat", train_dummy))
    with pytest.raises(CheckpointError, match="has no card yet"):
        recipes.register(orphan)
    with pytest.raises(AlignkitError, match="no recipe export for 'base'"):
        recipe_rows("base")


def test_every_exercise_belongs_to_a_card():
    named = [e for c in recipes.CARDS.values() for e in c.exercises]
    assert sorted(named) == sorted(EXERCISES), "an exercise without a method card, or a card naming no exercise"


def test_the_method_table_rows_and_the_exports_come_from_the_cards():
    assert [c.name for c in recipes.table_cards()] == ["sft", "ppo", "dpo", "kto", "sl-cai", "rl-cai", "rlaif-dpo"]
    assert exportable() == ["sft", "rm", "dpo", "kto"]
    assert all(c.real_model is not None for c in recipes.CARDS.values() if c.name in ("sft", "dpo", "ppo"))
