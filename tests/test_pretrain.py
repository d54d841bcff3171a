"""Pretraining: the shifted loss, packing, and a loop that actually learns."""
import math

import pytest
import torch

from alignkit.methods.pretrain import PretrainSettings, next_token_loss, pack_documents, train_lm
from tiny_models import TINY


def test_next_token_loss_matches_transformers(tiny_lm, small_tokenizer, small_corpus):
    blocks = pack_documents(small_tokenizer, small_corpus[:20], 32)
    with torch.no_grad():
        ours = next_token_loss(tiny_lm(input_ids=blocks).logits, blocks)
        theirs = tiny_lm(input_ids=blocks, labels=blocks).loss
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_untrained_loss_is_near_uniform(tiny_lm, small_tokenizer, small_corpus):
    blocks = pack_documents(small_tokenizer, small_corpus[:20], 32)
    with torch.no_grad():
        loss = next_token_loss(tiny_lm(input_ids=blocks).logits, blocks)
    assert abs(loss.item() - math.log(len(small_tokenizer))) < 0.5


def test_unshifted_loss_differs():
    logits = torch.randn(2, 5, 7)
    ids = torch.randint(7, (2, 5))
    unshifted = torch.nn.functional.cross_entropy(logits.reshape(-1, 7), ids.reshape(-1))
    assert not torch.allclose(next_token_loss(logits, ids), unshifted)


def test_pack_documents_concatenates_with_bos_and_end(small_tokenizer, small_corpus):
    blocks = pack_documents(small_tokenizer, small_corpus[:30], 16)
    assert blocks.shape[1] == 16
    flat = blocks.flatten().tolist()
    assert flat[0] == small_tokenizer.bos_token_id
    assert flat.count(small_tokenizer.eos_token_id) >= len(blocks) * 16 // 200  # documents do end


@pytest.mark.slow
def test_train_lm_lowers_the_loss_and_logs_each_step(tiny_lm, small_tokenizer, small_corpus):
    blocks = pack_documents(small_tokenizer, small_corpus, 32)
    logged = []
    settings = PretrainSettings(model=TINY, batch_size=8, epochs=40 * 8 / len(blocks), warmup_steps=5)
    log = train_lm(tiny_lm, blocks, settings, on_step=logged.append)
    assert len(log) == len(logged) == 40 and [r["step"] for r in logged] == list(range(1, 41))
    assert sum(r["loss"] for r in log[-5:]) / 5 < log[0]["loss"] - 1.0
    assert not tiny_lm.training
