"""Supervised fine-tuning: maximise log P(response | prompt) on demonstrations, loss on the response only.

`completion_only_loss` is the whole idea in a few lines; `train_sft` drives TRL's `SFTTrainer` with
`assistant_only_loss=True`, which computes the same loss from the chat template's generation tags.
A hub model's template usually has no such tags: then each conversation is split into prompt (every
message before the last assistant turn) and completion (that turn), and TRL masks the prompt by rendering
it alone vs with the completion (`completion_rows`), so the loss still covers exactly the assistant tokens.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from alignkit.infra.compat import sft_max_length_kwarg
from alignkit.infra.errors import AlignkitError
from alignkit.core.trl_driver import StepHook, run_trainer, trainer_kwargs
from alignkit.methods.settings import TrainingSettings


def completion_only_loss(logits: torch.Tensor, input_ids: torch.Tensor,
                         completion_mask: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over the response tokens only.

    logits [B, T, V]; input_ids [B, T]; completion_mask [B, T], 1 on response tokens.
    Token t+1 is predicted from position t, so the mask is read at the predicted token.
    """
    token_nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), input_ids[:, 1:], reduction="none")  # [B, T-1]
    mask = completion_mask[:, 1:].to(token_nll.dtype)  # [B, T-1]
    return (token_nll * mask).sum() / mask.sum()


@dataclass(frozen=True, kw_only=True)
class SFTSettings(TrainingSettings):
    # epochs and learning_rate: chosen on the validation prompts (scripts/tune.py sft, data/results/tuning_sft.json)
    epochs: float = 6.0  # passes over the demonstrations
    learning_rate: float = 1e-3  # tiny models fine-tune at rates a 7B model would not survive
    assistant_only_loss: bool = True  # False: train on prompt tokens too (the chapter's variant)


_GENERATION_TAG = re.compile(r"{%-?\s*generation\s*-?%}")


def has_generation_tags(tokenizer) -> bool:
    """Whether the tokenizer's chat template marks assistant turns with `{% generation %}` (the toy's does)."""
    return bool(_GENERATION_TAG.search(tokenizer.chat_template or ""))


def completion_rows(rows: list[dict]) -> list[dict]:
    """`{"messages": [...]}` → TRL's conversational prompt/completion rows: the last assistant turn is the
    completion, everything before it the prompt. Earlier assistant turns are context, not trained on."""
    out = []
    for row in rows:
        messages = row["messages"]
        if not messages or messages[-1]["role"] != "assistant":
            raise AlignkitError("SFT on a chat template without {% generation %} tags trains on the last assistant "
                                f"turn, but a conversation ends with {messages[-1]['role'] if messages else 'nothing'!r}; "
                                "end every conversation with the assistant's answer.")
        out.append({"prompt": messages[:-1], "completion": messages[-1:]})
    return out


def sft_config(settings: SFTSettings, output_dir: str, profile=None, generation_tags: bool = True):
    """TRL's SFTConfig for these settings, with library renames and precision flags absorbed.

    generation_tags=False: the rows are prompt/completion (`completion_rows`), and TRL's completion-only
    loss (on by default for that format) replaces the assistant-only loss the template cannot support.
    """
    from trl import SFTConfig

    with warnings.catch_warnings():  # TRL's own defaults trip transformers' deprecation notices
        warnings.simplefilter("ignore", FutureWarning)
        return SFTConfig(assistant_only_loss=settings.assistant_only_loss and generation_tags, packing=False,
                         **{sft_max_length_kwarg(): settings.max_length},
                         **trainer_kwargs(settings, output_dir, profile))


def train_sft(model, tokenizer, rows: list[dict], settings: SFTSettings = SFTSettings(),
              on_step: StepHook | None = None) -> list[dict]:
    """Fine-tune `model` in place on conversational rows (`{"messages": [...]}`). Returns the log.

    Any chat template works: without generation tags the loss is masked by rendering (`completion_rows`).
    """
    from trl import SFTTrainer

    tags = has_generation_tags(tokenizer)
    if settings.assistant_only_loss and not tags:
        rows = completion_rows(rows)
    return run_trainer(SFTTrainer, model, tokenizer, rows, lambda out: sft_config(settings, out, generation_tags=tags),
                       on_step=on_step, lora=settings.lora)
