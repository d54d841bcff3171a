"""The zoo saves, verifies and loads named checkpoints, and refuses anything that does not match its manifest."""
from __future__ import annotations

import json

import pytest
import torch
from tiny_models import build_reward_model

from alignkit import zoo
from alignkit.zoo import store

from alignkit.cli import zoo as zoo_cli
from alignkit.cli import main as alignkit_main
from alignkit.infra.errors import CheckpointError
from alignkit.core.models import TinyLlamaConfig, build_causal_lm
from alignkit.core.tokenizer import train_tokenizer

SMALL = TinyLlamaConfig(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=2, intermediate_size=64)
COMMAND = "python -m alignkit zoo build base"


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer([f"the owl {i} lives in the forest." for i in range(100)], vocab_size=300)


@pytest.fixture(scope="module")
def model(tok):
    return build_causal_lm(tok, SMALL, seed=0).eval()


def save_base(model, tok, root, **overrides):
    kwargs = dict(kind="causal-lm", format="document", parent=None, command=COMMAND, seed=0,
                  config=SMALL, metrics={"loss": 2.5}, root=root)
    return zoo.save("base", model, tok, **{**kwargs, **overrides})


def logits(model, tok):
    ids = torch.tensor([tok("the owl 7 lives")["input_ids"]])
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_round_trip_gives_identical_logits(model, tok, tmp_path):
    directory = save_base(model, tok, tmp_path)
    assert (directory / "model.safetensors").is_file() and (directory / "tokenizer.json").is_file()
    loaded, loaded_tok = zoo.load("base", root=tmp_path, device="cpu")
    assert not loaded.training
    assert torch.equal(logits(loaded, loaded_tok), logits(model, tok))
    assert loaded_tok.chat_template == tok.chat_template


def test_manifest_records_everything_with_stable_formatting(model, tok, tmp_path):
    save_base(model, tok, tmp_path)
    text = (tmp_path / "manifest.json").read_text()
    entry = json.loads(text)["base"]
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert entry["kind"] == "causal-lm" and entry["format"] == "document" and entry["parent"] is None
    assert entry["command"] == COMMAND and entry["seed"] == 0 and entry["metrics"] == {"loss": 2.5}
    assert entry["config"]["hidden_size"] == 32 and entry["params"] == sum(p.numel() for p in model.parameters())
    assert "model.safetensors" in entry["files"] and "tokenizer.json" in entry["files"]
    assert all(len(h) == 64 for h in entry["files"].values())
    assert zoo.names(tmp_path) == ["base"] and zoo.info("base", tmp_path) == entry
    assert zoo.verify("base", tmp_path) == []


def test_no_temp_files_are_left(model, tok, tmp_path):
    save_base(model, tok, tmp_path)
    save_base(model, tok, tmp_path)  # overwriting swaps the directory in whole
    zoo.update_metrics("base", {"kl": 0.1}, root=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base", "manifest.json"]
    assert zoo.info("base", tmp_path)["metrics"] == {"loss": 2.5, "kl": 0.1}


def test_corrupted_weights_are_refused(model, tok, tmp_path):
    directory = save_base(model, tok, tmp_path)
    weights = directory / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10:] = bytes(b ^ 0xFF for b in data[-10:])
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as err:
        zoo.load("base", root=tmp_path)
    message = str(err.value)
    assert "base/model.safetensors is corrupt or was modified" in message
    assert "sha256" in message and f"Rebuild it with: {COMMAND}" in message


def test_missing_file_is_refused(model, tok, tmp_path):
    directory = save_base(model, tok, tmp_path)
    (directory / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=rf"base/model.safetensors is missing. Rebuild it with: {COMMAND}"):
        zoo.load("base", root=tmp_path)


def test_missing_directory_and_unknown_name(model, tok, tmp_path):
    directory = save_base(model, tok, tmp_path)
    with pytest.raises(CheckpointError, match=r"Unknown checkpoint 'sft' \(known: base\)"):
        zoo.load("sft", root=tmp_path)
    for path in directory.iterdir():
        path.unlink()
    directory.rmdir()
    with pytest.raises(CheckpointError, match=r"base is missing\. Rebuild it with"):
        zoo.load("base", root=tmp_path)


def test_unlisted_file_is_reported(model, tok, tmp_path):
    directory = save_base(model, tok, tmp_path)
    (directory / "adapter_config.json").write_text("{}")
    problems = zoo.verify("base", tmp_path)
    assert len(problems) == 1 and "adapter_config.json is not in the manifest" in problems[0]


def test_unreadable_manifest_says_what_to_do(model, tok, tmp_path):
    save_base(model, tok, tmp_path)
    (tmp_path / "manifest.json").write_text('{"base": {')
    with pytest.raises(CheckpointError, match="manifest.json is not valid JSON.*git checkout"):
        zoo.load("base", root=tmp_path)


def test_corrupt_safetensors_header_in_a_directory(model, tok, tmp_path):
    directory = save_base(model, tok, tmp_path)
    weights = directory / "model.safetensors"
    weights.write_bytes(b"\xff" * 8 + weights.read_bytes()[8:])  # header length now absurd
    with pytest.raises(CheckpointError, match="safetensors header is unreadable"):
        zoo.load(directory)


def test_load_a_directory_infers_the_kind(tok, tmp_path):
    rm = build_reward_model(tok, SMALL, seed=1)
    directory = zoo.save("rm", rm, tok, kind="reward-model", format="chat", parent="base", command="x",
                         seed=1, config={}, root=tmp_path)
    loaded, _ = zoo.load(str(directory), device="cpu")
    assert type(loaded).__name__ == "LlamaForSequenceClassification"
    assert loaded.config.pad_token_id == tok.pad_token_id


def test_save_refuses_bad_entries_before_writing(model, tok, tmp_path):
    with pytest.raises(CheckpointError, match="kind must be"):
        save_base(model, tok, tmp_path, kind="policy")
    with pytest.raises(CheckpointError, match="no NaN"):
        save_base(model, tok, tmp_path, metrics={"loss": float("inf")})
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


def test_a_rate_over_no_responses_is_recorded_as_not_measured(model, tok, tmp_path):
    save_base(model, tok, tmp_path, metrics={"fact_accuracy": float("nan"), "gold_reward": 0.5})
    metrics = json.loads((tmp_path / "manifest.json").read_text())["base"]["metrics"]
    assert metrics == {"fact_accuracy": None, "gold_reward": 0.5}


def test_root_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ALIGNKIT_ZOO", str(tmp_path))
    assert zoo.zoo_root() == tmp_path
    monkeypatch.delenv("ALIGNKIT_ZOO")
    assert zoo.zoo_root() == zoo.DEFAULT_ROOT and zoo.DEFAULT_ROOT.parts[-2:] == ("data", "zoo")


def test_cli_list_and_verify(model, tok, tmp_path, capsys):
    assert alignkit_main(["zoo", "list", "--root", str(tmp_path)]) == 0
    assert "empty" in capsys.readouterr().out
    directory = save_base(model, tok, tmp_path)
    assert alignkit_main(["zoo", "list", "--root", str(tmp_path)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["NAME", "KIND", "FORMAT", "PARENT", "PARAMS", "CREATED"]
    assert table[1].split()[:4] == ["base", "causal-lm", "document", "-"]
    assert alignkit_main(["zoo", "verify", "--root", str(tmp_path)]) == 0
    assert capsys.readouterr().out.split() == ["ok", "base"]
    (directory / "tokenizer.json").write_text("{}")
    assert alignkit_main(["zoo", "verify", "base", "--root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAILED  base") and "tokenizer.json is corrupt or was modified" in out
    assert zoo_cli.__all__ == ["add_arguments", "run"]


def test_messages_use_repository_paths_for_the_default_zoo(model, tok, tmp_path, monkeypatch):
    monkeypatch.delenv("ALIGNKIT_ZOO", raising=False)
    monkeypatch.setattr(store, "DEFAULT_ROOT", tmp_path / "data" / "zoo")
    directory = save_base(model, tok, None)
    (directory / "model.safetensors").unlink()
    assert zoo.verify("base") == [f"data/zoo/base/model.safetensors is missing. Rebuild it with: {COMMAND}"]


def test_a_missing_zoo_names_the_path_and_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("ALIGNKIT_ZOO", str(tmp_path / "typo"))
    with pytest.raises(CheckpointError, match=r"ALIGNKIT_ZOO=.*typo is not a directory.*unset ALIGNKIT_ZOO"):
        zoo.load("sft")
    monkeypatch.delenv("ALIGNKIT_ZOO")
    installed = tmp_path / "lib" / "python3.11" / "site-packages" / "data" / "zoo"
    monkeypatch.setattr(store, "DEFAULT_ROOT", installed)
    with pytest.raises(CheckpointError, match=r"installed without the course's data.*pip install -e \."):
        zoo.load("sft")
    with pytest.raises(CheckpointError, match="does not exist. Check the path"):
        zoo.info("sft", root=tmp_path / "nowhere")
