"""What every method trained through TRL shares in its settings, written once.

`TrainingSettings` holds the fields SFT, reward modeling, DPO and KTO all have (what `trl_driver.trainer_kwargs`
reads, plus the sequence length and LoRA); `PreferenceTrainingSettings` adds what DPO and KTO share, the KL leash
`beta` to their frozen reference. Each method's class subclasses one of them and sets its own defaults where they
differ, so `SFTSettings()`, `DPOSettings()`... are unchanged; a notebook varies them with `dataclasses.replace`.
The learning rate has no shared default: every method chooses its own.
"""
from __future__ import annotations

from dataclasses import dataclass

from alignkit.core.lora import LoraSettings

__all__ = ["TrainingSettings", "PreferenceTrainingSettings"]


@dataclass(frozen=True, kw_only=True)
class TrainingSettings:
    learning_rate: float  # peak of the cosine schedule; each method sets its own
    epochs: float = 1.0  # passes over the training rows
    batch_size: int = 32  # rows per optimiser step
    max_length: int = 128  # tokens of prompt + completion; the world's conversations are far shorter
    warmup_steps: int = 5  # linear warm-up before the cosine decay
    seed: int = 0  # the run's seed: TRL shuffles the rows with it, the recipes draw their data with it
    lora: LoraSettings | None = None  # LoRA adapters instead of full fine-tuning (alignkit.core.lora)
    gradient_checkpointing: bool = False  # TRL's default True only costs time on models this small


@dataclass(frozen=True, kw_only=True)
class PreferenceTrainingSettings(TrainingSettings):
    # The KL leash to the frozen reference, chosen for DPO and KTO on the validation prompts
    # (scripts/tune.py dpo|kto: data/results/tuning_dpo.json, data/results/tuning_kto.json); the DPO paper's
    # IMDb sweep tried 0.05 to 5.
    beta: float = 0.3
    batch_size: int = 16  # preference pairs (DPO) or labeled examples (KTO) per step
