"""Tiny Llama configs, building and loading models, device and precision choice."""
from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from alignkit.infra.errors import AlignkitError, CheckpointError
from alignkit.core.profiles import choose_device, choose_dtype
from alignkit.core.models import (
    TinyLlamaConfig,
    build_causal_lm,
    count_parameters,
    largest_weight_difference,
    load_pretrained,
)
from alignkit.core.tokenizer import train_tokenizer
from alignkit.methods.reward import reward_model_from_sft

SMALL = TinyLlamaConfig(hidden_size=32, num_layers=2, num_heads=2, num_kv_heads=2, intermediate_size=64)


@pytest.fixture(scope="module")
def tok():
    texts = [f"the owl number {i} lives in the forest of town {i % 7}." for i in range(200)]
    return train_tokenizer(texts, vocab_size=300)


def test_config_is_frozen_and_has_no_dropout():
    cfg = TinyLlamaConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.hidden_size = 7
    assert (cfg.hidden_size, cfg.num_layers, cfg.num_heads, cfg.num_kv_heads) == (128, 4, 4, 4)
    assert (cfg.intermediate_size, cfg.max_position_embeddings, cfg.tie_word_embeddings) == (384, 512, False)
    assert cfg.attention_dropout == 0.0


def test_hf_config_takes_vocab_and_special_ids_from_tokenizer(tok):
    hf = SMALL.to_hf_config(tok)
    assert hf.vocab_size == len(tok)
    assert (hf.bos_token_id, hf.eos_token_id, hf.pad_token_id) == (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id)
    assert (hf.hidden_size, hf.num_hidden_layers, hf.num_attention_heads) == (32, 2, 2)
    assert hf.attention_dropout == 0.0 and hf.tie_word_embeddings is False


def test_causal_lm_is_seeded_and_leaves_global_rng_alone(tok):
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    a = build_causal_lm(tok, SMALL, seed=0)
    assert torch.equal(torch.rand(3), expected_next)  # building did not consume the global RNG
    b = build_causal_lm(tok, SMALL, seed=0)
    c = build_causal_lm(tok, SMALL, seed=1)
    wa, wb, wc = (m.model.embed_tokens.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    ids = torch.tensor([tok("the owl lives")["input_ids"]])
    assert a(input_ids=ids).logits.shape == (1, ids.shape[1], len(tok))
    assert a.generation_config.eos_token_id == tok.eos_token_id
    assert a.generation_config.pad_token_id == tok.pad_token_id


def test_reward_model_reads_the_last_non_pad_token(tok):
    rm = reward_model_from_sft(build_causal_lm(tok, SMALL, seed=0), tok)
    assert rm.config.num_labels == 1 and rm.config.pad_token_id == tok.pad_token_id
    ids = tok("the owl lives in the forest")["input_ids"]
    padded = ids + [tok.pad_token_id] * 3
    with torch.no_grad():
        alone = rm(input_ids=torch.tensor([ids])).logits
        batch = rm(input_ids=torch.tensor([padded]), attention_mask=torch.tensor([[1] * len(ids) + [0] * 3])).logits
    assert alone.shape == (1, 1)
    torch.testing.assert_close(alone, batch)


def _logits(model, tok):
    ids = torch.tensor([tok("the owl number 3 lives")["input_ids"]])
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_load_pretrained_round_trips_a_local_checkpoint(tok, tmp_path):
    model = build_causal_lm(tok, SMALL, seed=3).eval()
    model.save_pretrained(tmp_path / "lm")
    loaded = load_pretrained(tmp_path / "lm", device="cpu")
    assert not loaded.training and loaded.dtype == torch.float32
    torch.testing.assert_close(_logits(loaded, tok), _logits(model, tok), rtol=0, atol=0)
    half = load_pretrained(str(tmp_path / "lm"), device="cpu", dtype=torch.bfloat16)
    assert half.dtype == torch.bfloat16


def test_reward_model_can_start_from_a_language_model(tok, tmp_path):
    model = build_causal_lm(tok, SMALL, seed=3)
    model.save_pretrained(tmp_path / "lm")
    rm = load_pretrained(tmp_path / "lm", kind="reward-model", device="cpu")
    assert type(rm).__name__ == "LlamaForSequenceClassification" and rm.config.num_labels == 1
    assert torch.equal(rm.model.embed_tokens.weight, model.model.embed_tokens.weight)


def test_load_pretrained_refuses_pickled_weights(tok, tmp_path):
    model = build_causal_lm(tok, SMALL)
    model.config.save_pretrained(tmp_path)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="safetensors"):
        load_pretrained(tmp_path, device="cpu")


def test_load_pretrained_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not a checkpoint directory"):
        load_pretrained(tmp_path / "missing")
    with pytest.raises(AlignkitError, match="causal-lm, reward-model"):
        load_pretrained(tmp_path, kind="policy")


def test_choose_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert choose_device() == torch.device("cpu")
    with pytest.raises(AlignkitError, match="CUDA was requested"):
        choose_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert choose_device() == torch.device("cuda")
    assert choose_device("cpu") == torch.device("cpu")


def test_choose_dtype(monkeypatch):
    assert choose_dtype("cpu") == torch.float32
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert choose_dtype(torch.device("cuda")) == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert choose_dtype("cuda:0") == torch.float16  # a T4


def test_count_parameters():
    layer = torch.nn.Linear(10, 5)  # 10*5 weights + 5 biases
    assert count_parameters(layer) == 55
    layer.bias.requires_grad_(False)
    assert count_parameters(layer, trainable_only=True) == 50


def test_default_tiny_model_size(tok):
    model = build_causal_lm(tok)
    v, h = len(tok), 128
    per_layer = 4 * h * h + 3 * h * 384 + 2 * h  # attention, SwiGLU MLP, two RMSNorms
    assert count_parameters(model) == 2 * v * h + 4 * per_layer + h



def test_largest_weight_difference_is_zero_for_a_copy_and_names_a_mismatch(tiny_lm, small_tokenizer):
    twin = copy.deepcopy(tiny_lm)
    assert largest_weight_difference(tiny_lm, twin) == 0.0
    with torch.no_grad():
        next(twin.parameters())[0, 0] += 0.25
    assert largest_weight_difference(tiny_lm, twin) == pytest.approx(0.25)
    other = build_causal_lm(small_tokenizer, SMALL)
    with pytest.raises(AlignkitError, match="different parameters"):
        largest_weight_difference(tiny_lm, other)
