"""The zoo's policy preference set, stored once and read back only where it applies."""
import json

import pytest

from alignkit import zoo
from alignkit.methods.preferences import POLICY_SET
from alignkit.world.labelers import LabelerSettings
from alignkit.zoo import preference_data as preferences
from alignkit.zoo.preference_data import policy_preference_rows, stored_policy_preferences
from alignkit.world.files import world_fingerprint


def _store(tmp_path, monkeypatch, payload: dict) -> None:
    path = tmp_path / "policy_preferences.json"
    path.write_text(json.dumps({"command": "test", "world": world_fingerprint()} | payload))
    monkeypatch.setattr(preferences, "load_result", lambda name, **_: json.loads(path.read_text()))


def _drawn(monkeypatch) -> list:
    calls = []
    monkeypatch.setattr(preferences, "preference_rows", lambda *a, **k: calls.append(a) or {"train": ["drawn"]})
    return calls


def test_the_stored_pairs_are_read_back_for_the_model_they_were_drawn_from(tiny_lm, small_tokenizer, tmp_path,
                                                                            monkeypatch):
    stored = {"sampler_weights": preferences.weights_fingerprint(tiny_lm), "preference_set": preferences.asdict(POLICY_SET),
              "labeler": preferences.asdict(LabelerSettings()), "seed": 0,
              "train": [{"prompt": "p", "chosen": "a", "rejected": "b"}], "heldout": [], "heldout_pairs": [["p", "a", "b"]]}
    _store(tmp_path, monkeypatch, stored)
    calls = _drawn(monkeypatch)
    rows = policy_preference_rows(tiny_lm, small_tokenizer)
    assert not calls and rows["train"] == stored["train"] and rows["heldout_pairs"] == [("p", "a", "b")]


@pytest.mark.parametrize("stale", [{"sampler_weights": "another model"}, {"seed": 1}, {"world": "another world"},
                                   {"preference_set": {"n_prompts": 1}}])
def test_stored_pairs_that_do_not_apply_are_drawn_afresh(tiny_lm, small_tokenizer, tmp_path, monkeypatch, stale):
    stored = {"sampler_weights": preferences.weights_fingerprint(tiny_lm), "preference_set": preferences.asdict(POLICY_SET),
              "labeler": preferences.asdict(LabelerSettings()), "seed": 0, "train": [], "heldout": [],
              "heldout_pairs": []}
    _store(tmp_path, monkeypatch, stored | stale)
    calls = _drawn(monkeypatch)
    assert policy_preference_rows(tiny_lm, small_tokenizer) == {"train": ["drawn"]} and len(calls) == 1


def test_no_stored_file_draws_the_pairs(tiny_lm, small_tokenizer, monkeypatch):
    monkeypatch.setattr(preferences, "load_result", lambda name, **_: {})
    calls = _drawn(monkeypatch)
    assert policy_preference_rows(tiny_lm, small_tokenizer) == {"train": ["drawn"]} and len(calls) == 1


def test_the_shipped_file_is_what_drawing_from_the_zoos_sft_gives_now():
    """Guards the file against changes to sampling, labelers or prompts: it must equal a fresh draw (about 20 s)."""
    sft, tokenizer = zoo.load("sft")
    shipped = preferences.load_result(preferences.STORED_POLICY_SET)
    fresh = json.loads(json.dumps(stored_policy_preferences(sft, tokenizer)))
    assert {k: shipped[k] for k in fresh} == fresh, "rerun python scripts/preference_data.py"
    read = policy_preference_rows(sft, tokenizer)
    assert read["train"] == fresh["train"] and [list(p) for p in read["heldout_pairs"]] == fresh["heldout_pairs"]
