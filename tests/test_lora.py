"""LoRA as an option for every method: one training step on the stand-in with and without adapters.

Without LoRA every weight may move; with LoRA (adapters kept separate, merge=False) only the adapters
(and a reward or value model's fresh score head) move; merged, the model comes back a plain model.
"""
from __future__ import annotations

import copy

import pytest
import torch

from alignkit import zoo
from alignkit.methods.dpo import DPOSettings, train_dpo
from alignkit.methods.kto import KTOSettings, train_kto
from alignkit.core.lora import LoraSettings
from alignkit.methods.ppo import PPOSettings
from alignkit.methods.ppo_train import ppo_models, train_ppo
from alignkit.methods.reward import RewardSettings, train_reward_model
from alignkit.methods.sft import SFTSettings, train_sft

LORA = LoraSettings(r=4, alpha=8, merge=False)
PAIRS = [{"prompt": f"What is {a} plus {a}?", "chosen": f"{a} plus {a} is {2 * a}.", "rejected": "I like turtles."}
         for a in range(4)]
STEP = dict(batch_size=4, epochs=1.0, warmup_steps=0, learning_rate=1e-2)  # one optimiser step over 4 rows


def _snapshot(model) -> dict[str, torch.Tensor]:
    # peft renames a wrapped layer's weight "...q_proj.base_layer.weight" (a fully trained head's original
    # "score.original_module.weight"): compare under the original name.
    return {name.replace("base_layer.", "").replace("original_module.", ""): p.detach().clone()
            for name, p in model.named_parameters()}


def _moved(before: dict, model) -> set[str]:
    after = _snapshot(model)
    return {name for name, value in after.items() if name not in before or not torch.equal(value, before[name])}


def adapter_parameter_names(model) -> set[str]:
    """Names of the adapters' parameters (`lora_A`, `lora_B`) in a model with adapters."""
    return {name for name, _ in model.named_parameters() if "lora_" in name}


def _train(method: str, model, tokenizer, lora):
    if method == "sft":
        rows = [{"messages": [{"role": "user", "content": r["prompt"]}, {"role": "assistant", "content": r["chosen"]}]}
                for r in PAIRS]
        return train_sft(model, tokenizer, rows, SFTSettings(lora=lora, **STEP))
    if method == "rm":
        return train_reward_model(model, tokenizer, PAIRS, RewardSettings(lora=lora, **STEP))
    ref_model = None if lora else copy.deepcopy(model)  # LoRA: the backbone with adapters off is the reference
    if method == "dpo":
        return train_dpo(model, ref_model, tokenizer, PAIRS, DPOSettings(lora=lora, **STEP))
    rows = [{"prompt": r["prompt"], "completion": r[key], "label": key == "chosen"} for r in PAIRS
            for key in ("chosen", "rejected")]
    return train_kto(model, ref_model, tokenizer, rows, KTOSettings(lora=lora, **(STEP | {"batch_size": 8})))


@pytest.mark.parametrize("lora", [None, LORA], ids=["full", "lora"])
@pytest.mark.parametrize("method", ["sft", "rm", "dpo", "kto"])
def test_one_step_moves_the_backbone_or_only_the_adapters(method, lora, standin_dir, standin_rm_dir):
    model, tokenizer = zoo.load(standin_rm_dir if method == "rm" else standin_dir)
    before = _snapshot(model)
    _train(method, model, tokenizer, lora)
    moved, adapters = _moved(before, model), adapter_parameter_names(model)
    if lora is None:
        assert any(".layers." in name for name in moved) and not adapters
        return
    assert {n.replace("base_layer.", "") for n in adapters} & moved, "no adapter was trained"
    # The reward model's fresh score head trains in full (peft's modules_to_save copy); nothing else moves.
    assert all("lora_" in name or "modules_to_save" in name for name in moved), sorted(moved)[:5]


def test_merged_lora_returns_a_plain_model_with_new_weights(standin_dir):
    model, tokenizer = zoo.load(standin_dir)
    before = _snapshot(model)
    _train("dpo", model, tokenizer, LoraSettings(r=4, alpha=8))
    assert not adapter_parameter_names(model) and set(_snapshot(model)) == set(before)
    assert _moved(before, model) and all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("lora", [None, LORA], ids=["full", "lora"])
def test_one_ppo_step_with_and_without_lora(lora, standin_dir, standin_rm_dir):
    sft_model, tokenizer = zoo.load(standin_dir)
    reward_model, _ = zoo.load(standin_rm_dir)
    policy, ref_model, frozen_rm, value_model = ppo_models(sft_model, reward_model, lora=lora)
    assert (ref_model is None) == (lora is not None)  # LoRA: one backbone serves policy and reference
    policy_before, value_before = _snapshot(policy), _snapshot(value_model)
    config = PPOSettings(batch_size=2, minibatch_size=2, ppo_epochs=1, learning_rate=1e-2, max_new_tokens=4, steps=1)
    train_ppo(policy, ref_model, frozen_rm, value_model, tokenizer, [r["prompt"] for r in PAIRS], config,
              gold_fn=lambda prompt, response: 0.0)
    policy_moved, value_moved = _moved(policy_before, policy), _moved(value_before, value_model)
    assert policy_moved and value_moved
    if lora is not None:
        assert all("lora_" in name for name in policy_moved)
        assert all("lora_" in name or ".score." in name for name in value_moved)
