"""`alignkit recipe export`: TRL CLI and accelerate configs from the settings dataclasses, and a real TRL run."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from alignkit.methods.dpo import DPOSettings, to_conversational
from alignkit.core.lora import LoraSettings
from alignkit.core.profiles import PROFILES, profile_settings
from alignkit.zoo.export import accelerate_config, export_recipe, trl_config_dict

PAIRS = [{"prompt": f"What is {a} plus {a}?", "chosen": f"{a} plus {a} is {2 * a}.", "rejected": "I like turtles."}
         for a in range(4)]


def test_trl_config_comes_from_the_settings_with_precision_explicit():
    settings = DPOSettings()
    config = trl_config_dict("dpo", settings, PROFILES["a100"])
    assert (config["beta"], config["learning_rate"], config["per_device_train_batch_size"], config["max_length"]) == \
        (settings.beta, settings.learning_rate, settings.batch_size, settings.max_length)
    assert (config["bf16"], config["fp16"]) == (True, False)
    assert (trl_config_dict("dpo", settings, PROFILES["t4"])["fp16"], trl_config_dict("dpo", settings,
                                                                                       PROFILES["t4"])["bf16"]) == (True, False)
    assert trl_config_dict("dpo", replace(settings, beta=0.3), PROFILES["a100"])["beta"] == 0.3  # nothing retyped


def test_accelerate_config_for_ddp_and_deepspeed_zero(tmp_path):
    from accelerate.commands.config.config_args import ClusterConfig

    assert accelerate_config(PROFILES["a100"], 4, None)["distributed_type"] == "MULTI_GPU"
    paths = export_recipe("dpo", tmp_path, to_conversational(PAIRS), "some/model", PROFILES["a100"], processes=4,
                          zero=3)
    parsed = ClusterConfig.from_yaml_file(str(paths["accelerate"]))  # accelerate itself reads it
    assert parsed.num_processes == 4 and parsed.deepspeed_config["zero_stage"] == 3
    assert str(parsed.mixed_precision).endswith("bf16")


def test_export_writes_the_dataset_in_trl_format_and_lora_flags(tmp_path):
    rows = to_conversational(PAIRS)
    paths = export_recipe("dpo", tmp_path, rows, "some/model", PROFILES["l4"], lora=LoraSettings(r=8))
    written = [json.loads(line) for line in paths["data"].read_text().splitlines()]
    assert written == rows
    config = yaml.safe_load(paths["config"].read_text())
    assert config["use_peft"] and config["lora_r"] == 8 and config["dtype"] == "bfloat16"
    assert config["datasets"][0]["data_files"] == str(paths["data"])
    assert "trl dpo --config dpo.yaml --accelerate_config accelerate.yaml" in paths["readme"].read_text()


def test_profile_settings_drive_the_export(tmp_path):
    paths = export_recipe("dpo", tmp_path, to_conversational(PAIRS), "m", PROFILES["t4"], profile_settings=True)
    config = yaml.safe_load(paths["config"].read_text())
    t4 = profile_settings(PROFILES["t4"])
    assert config["per_device_train_batch_size"] == t4.batch_size and config["max_length"] == t4.max_length
    assert config["lora_r"] == t4.lora.r and config["gradient_checkpointing"] is True


def test_cli_exports_the_sft_recipe(tmp_path, capsys):
    from alignkit.cli import main

    assert main(["recipe", "export", "sft", "--out", str(tmp_path), "--model", "some/model", "--zero", "2"]) == 0
    assert (tmp_path / "sft.yaml").exists() and (tmp_path / "sft.jsonl").read_text().count("\n") > 100
    assert "trl sft --config sft.yaml" in capsys.readouterr().out


@pytest.mark.slow
def test_exported_dpo_recipe_runs_two_steps_through_the_trl_command_line(tmp_path, small_tokenizer):
    from alignkit.core.models import TinyLlamaConfig, build_causal_lm

    model_dir = tmp_path / "toy"
    model = build_causal_lm(small_tokenizer, TinyLlamaConfig(hidden_size=32, num_layers=1, num_heads=2,
                                                             num_kv_heads=2, intermediate_size=64))
    model.save_pretrained(model_dir)
    small_tokenizer.save_pretrained(model_dir)
    paths = export_recipe("dpo", tmp_path / "recipe", to_conversational(PAIRS), str(model_dir), PROFILES["cpu-tiny"])
    trl = Path(sys.executable).with_name("trl")
    done = subprocess.run([str(trl), "dpo", "--config", str(paths["config"]), "--max_steps", "2",
                           "--per_device_train_batch_size", "2", "--logging_steps", "1"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env=os.environ | {"HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": "", "TQDM_DISABLE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("'loss'") == 2  # one log line per step
    assert (tmp_path / "recipe" / "output" / "model.safetensors").exists()
