"""Pretraining: the next-token objective on the world's corpus, from random weights to `base`."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from alignkit.infra.errors import explain_out_of_memory
from alignkit.core.models import TinyLlamaConfig, build_causal_lm
from alignkit.core.tokenizer import encode_document, train_tokenizer
from alignkit.core.trl_driver import StepHook


@dataclass(frozen=True)
class PretrainSettings:
    model: TinyLlamaConfig = field(default_factory=TinyLlamaConfig)
    vocab_size: int = 2048  # BPE merges learned on the corpus; whole world words become single tokens
    block_size: int = 128  # tokens per training sequence (documents are packed end to end)
    batch_size: int = 32
    epochs: float = 16.0  # passes over the corpus; facts need many sightings to stick in a tiny model
    learning_rate: float = 5e-3  # peak; tiny models tolerate (and need) a high rate
    warmup_steps: int = 30
    min_lr_ratio: float = 0.1  # cosine decay ends at this fraction of the peak
    seed: int = 0


def next_token_loss(logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of predicting token t+1 from positions <= t.

    logits: [B, T, V], input_ids: [B, T] -> scalar. The logits at the last position predict nothing
    we have, and the first token is never predicted, hence the shift by one.
    """
    predictions = logits[:, :-1, :]  # [B, T-1, V]
    targets = input_ids[:, 1:]  # [B, T-1]
    return F.cross_entropy(predictions.reshape(-1, predictions.size(-1)), targets.reshape(-1))


def pack_documents(tokenizer, texts: list[str], block_size: int) -> torch.Tensor:
    """All documents, each as <|bos|> text <|end|>, concatenated and cut into [N, block_size] blocks."""
    ids = [i for text in texts for i in encode_document(tokenizer, text)]
    n_blocks = len(ids) // block_size
    return torch.tensor(ids[: n_blocks * block_size]).view(n_blocks, block_size)


def _learning_rate(step: int, total: int, settings: PretrainSettings) -> float:
    if step < settings.warmup_steps:
        return settings.learning_rate * (step + 1) / settings.warmup_steps
    progress = (step - settings.warmup_steps) / max(1, total - settings.warmup_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return settings.learning_rate * (settings.min_lr_ratio + (1 - settings.min_lr_ratio) * cosine)


def train_lm(model, blocks: torch.Tensor, settings: PretrainSettings, on_step: StepHook | None = None) -> list[dict]:
    """The training loop: sample a batch of blocks, next-token loss, AdamW step. Returns the log.

    on_step(row): called after every step with its logged dict ({"step", "loss", "lr"}), e.g. a live plot;
    without one, a progress bar shows how far training has come.
    """
    generator = torch.Generator().manual_seed(settings.seed)
    steps = max(1, int(settings.epochs * len(blocks) / settings.batch_size))
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, betas=(0.9, 0.95),
                                  weight_decay=0.0)
    model.train()
    device = next(model.parameters()).device
    log, started = [], time.perf_counter()
    # disable=None: a bar on a terminal or in a notebook, silence in logs and CI.
    for step in tqdm(range(steps), desc="pretraining", disable=True if on_step is not None else None):
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(step, steps, settings)
        batch = blocks[torch.randint(len(blocks), (settings.batch_size,), generator=generator)]
        with explain_out_of_memory("pretraining", f"Lower PretrainSettings.batch_size (now {settings.batch_size}) "
                                                  f"or block_size (now {settings.block_size})."):
            loss = next_token_loss(model(input_ids=batch.to(device)).logits, batch.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        row = {"step": step + 1, "loss": loss.item(), "lr": optimizer.param_groups[0]["lr"]}
        log.append(row)
        if on_step is not None:
            on_step(row)
    model.eval()
    log[-1]["seconds"] = time.perf_counter() - started
    return log


def pretrain(settings: PretrainSettings = PretrainSettings(), corpus: list[str] | None = None,
             on_step: StepHook | None = None):
    """Train a tokenizer and a tiny Llama on the corpus. Returns (model, tokenizer, log)."""
    from alignkit.world import load_world
    from alignkit.world.documents import build_corpus

    corpus = corpus if corpus is not None else build_corpus(load_world())
    tokenizer = train_tokenizer(corpus, vocab_size=settings.vocab_size)
    model = build_causal_lm(tokenizer, settings.model, seed=settings.seed)
    blocks = pack_documents(tokenizer, corpus, settings.block_size)
    log = train_lm(model, blocks, settings, on_step=on_step)
    return model, tokenizer, log
