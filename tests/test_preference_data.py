"""Stored preference sets: read back only where they apply, drawn afresh everywhere else."""
import json

import pytest

from alignkit import zoo
from alignkit.methods.preferences import CHAPTER_REWARD_MODEL_SET, POLICY_SET, REWARD_MODEL_SET
from alignkit.world.labelers import LabelerSettings
from alignkit.zoo import preference_data as preferences
from alignkit.zoo.preference_data import (STORED_SETS, policy_preference_rows, stored_preference_rows,
                                          stored_preferences)
from alignkit.world.files import world_fingerprint


def _store(tmp_path, monkeypatch, payload: dict) -> list:
    """Every stored set's file reads as `payload`; returns the names read."""
    path, read = tmp_path / "stored.json", []
    path.write_text(json.dumps({"command": "test", "world": world_fingerprint()} | payload))
    monkeypatch.setattr(preferences, "load_result", lambda name, **_: read.append(name) or json.loads(path.read_text()))
    return read


def _drawn(monkeypatch) -> list:
    calls = []
    monkeypatch.setattr(preferences, "preference_rows", lambda *a, **k: calls.append((a, k)) or {"train": ["drawn"]})
    return calls


def _provenance(model, size) -> dict:
    return {"sampler_weights": preferences.weights_fingerprint(model), "preference_set": preferences.asdict(size),
            "labeler": preferences.asdict(LabelerSettings()), "seed": 0}


ROWS = {"train": [{"prompt": "p", "chosen": "a", "rejected": "b"}], "heldout": [], "heldout_pairs": [["p", "a", "b"]]}


def test_the_policy_set_is_read_back_for_the_model_it_was_drawn_from(tiny_lm, small_tokenizer, tmp_path,
                                                                     monkeypatch):
    _store(tmp_path, monkeypatch, _provenance(tiny_lm, POLICY_SET) | ROWS)
    calls = _drawn(monkeypatch)
    rows = policy_preference_rows(tiny_lm, small_tokenizer)
    assert not calls and rows["train"] == ROWS["train"] and rows["heldout_pairs"] == [("p", "a", "b")]


def test_chapter_03s_set_is_read_back_whether_named_or_spelled_out(tiny_lm, small_tokenizer, tmp_path, monkeypatch):
    read = _store(tmp_path, monkeypatch, _provenance(tiny_lm, CHAPTER_REWARD_MODEL_SET) | ROWS)
    calls = _drawn(monkeypatch)
    named = stored_preference_rows(tiny_lm, small_tokenizer, CHAPTER_REWARD_MODEL_SET)
    spelled_out = stored_preference_rows(tiny_lm, small_tokenizer, n_prompts=300, samples_per_prompt=4)
    assert not calls and named == spelled_out and named["train"] == ROWS["train"]
    assert read == ["reward_model_chapter_preferences"] * 2  # only the file stored for that set is opened


@pytest.mark.parametrize("stale", [{"sampler_weights": "another model"}, {"seed": 1}, {"world": "another world"},
                                   {"preference_set": {"n_prompts": 1}}, {"labeler": {"temperature": 1.0}}])
def test_stored_pairs_that_do_not_apply_are_drawn_afresh(tiny_lm, small_tokenizer, tmp_path, monkeypatch, stale):
    _store(tmp_path, monkeypatch, _provenance(tiny_lm, POLICY_SET) | ROWS | stale)
    calls = _drawn(monkeypatch)
    assert policy_preference_rows(tiny_lm, small_tokenizer) == {"train": ["drawn"]} and len(calls) == 1


def test_other_seeds_labelers_and_sets_are_drawn_with_what_was_asked(tiny_lm, small_tokenizer, tmp_path,
                                                                     monkeypatch):
    read = _store(tmp_path, monkeypatch, _provenance(tiny_lm, POLICY_SET) | ROWS)
    calls = _drawn(monkeypatch)
    noisy = LabelerSettings(temperature=1.0)
    stored_preference_rows(tiny_lm, small_tokenizer, POLICY_SET, seed=3, labeler=noisy)
    stored_preference_rows(tiny_lm, small_tokenizer, REWARD_MODEL_SET)
    assert [(args[2], kwargs) for args, kwargs in calls] == [(POLICY_SET, {"seed": 3, "labeler": noisy}),
                                                            (REWARD_MODEL_SET, {"seed": 0, "labeler": LabelerSettings()})]
    assert read == ["policy_preferences"]  # no file is stored for REWARD_MODEL_SET, so none is opened


def test_no_stored_file_draws_the_pairs(tiny_lm, small_tokenizer, monkeypatch):
    monkeypatch.setattr(preferences, "load_result", lambda name, **_: {})
    calls = _drawn(monkeypatch)
    assert policy_preference_rows(tiny_lm, small_tokenizer) == {"train": ["drawn"]} and len(calls) == 1


@pytest.mark.parametrize("name", list(STORED_SETS))
def test_each_shipped_set_is_what_drawing_from_the_zoos_sft_gives_now(name):
    """Guards the files against changes to sampling, labelers or prompts: each must equal a fresh draw (about 20 s)."""
    sft, tokenizer = zoo.load("sft")
    shipped = preferences.load_result(name)
    fresh = json.loads(json.dumps(stored_preferences(sft, tokenizer, STORED_SETS[name])))
    assert {k: shipped[k] for k in fresh} == fresh, "rerun python scripts/preference_data.py"
    read = stored_preference_rows(sft, tokenizer, STORED_SETS[name])
    assert read["train"] == fresh["train"] and [list(p) for p in read["heldout_pairs"]] == fresh["heldout_pairs"]
