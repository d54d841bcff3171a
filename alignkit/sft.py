"""Supervised fine-tuning: maximise log P(response | prompt) on demonstrations, loss on the response only.

`completion_only_loss` is the whole idea in a few lines; `train_sft` drives TRL's `SFTTrainer` with
`assistant_only_loss=True`, which computes the same loss from the chat template's generation tags.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from alignkit.compat import sft_max_length_kwarg
from alignkit.trl_driver import StepHook, run_trainer, trainer_kwargs


def completion_only_loss(logits: torch.Tensor, input_ids: torch.Tensor,
                         completion_mask: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over the response tokens only.

    logits [B, T, V]; input_ids [B, T]; completion_mask [B, T], 1 on response tokens.
    Token t+1 is predicted from position t, so the mask is read at the predicted token.
    """
    token_nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), input_ids[:, 1:], reduction="none")  # [B, T-1]
    mask = completion_mask[:, 1:].to(token_nll.dtype)  # [B, T-1]
    return (token_nll * mask).sum() / mask.sum()


@dataclass(frozen=True)
class SFTSettings:
    epochs: float = 6.0  # passes over the demonstrations; measured: 3 → answer_rate 0.90, 6 → 0.955
    learning_rate: float = 1e-3  # tiny models fine-tune at rates a 7B model would not survive
    batch_size: int = 32
    max_length: int = 128  # tokens; the world's conversations are far shorter
    assistant_only_loss: bool = True  # False: train on prompt tokens too (the chapter's variant)
    warmup_steps: int = 5
    seed: int = 0


def sft_config(settings: SFTSettings, output_dir: str, profile=None):
    """TRL's SFTConfig for these settings, with library renames and precision flags absorbed."""
    from trl import SFTConfig

    with warnings.catch_warnings():  # TRL's own defaults trip transformers' deprecation notices
        warnings.simplefilter("ignore", FutureWarning)
        return SFTConfig(assistant_only_loss=settings.assistant_only_loss, packing=False,
                         **{sft_max_length_kwarg(): settings.max_length},
                         **trainer_kwargs(settings, output_dir, profile))


def train_sft(model, tokenizer, rows: list[dict], settings: SFTSettings = SFTSettings(), plot=None,
              on_step: StepHook | None = None) -> list[dict]:
    """Fine-tune `model` in place on conversational rows (`{"messages": [...]}`). Returns the log."""
    from trl import SFTTrainer

    return run_trainer(SFTTrainer, model, tokenizer, rows, lambda out: sft_config(settings, out), plot=plot,
                       on_step=on_step)
