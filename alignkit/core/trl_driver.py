"""The one shell around TRL's trainers: shared arguments, the run itself, and the per-step hook.

SFT, reward modeling, DPO and KTO each build their own TRL config and call `run_trainer`; none of them
repeats the callback, temporary-directory or printer plumbing, and none imports another method.

Every `train_*` in alignkit takes one hook, `on_step(row)`: called once per optimiser step with that step's
logged dict (`{"step": n, ...}`, the metrics of the steps the trainer logs). A LivePlot is such a hook, and so
is `experiments.common.every(n, measure)`; training code never knows which.
"""
from __future__ import annotations

import math
import numbers
import os
import tempfile
from collections.abc import Callable, Mapping
from typing import Any

from alignkit.infra.compat import library_renames_in_flight, trainer_tokenizer_kwarg
from alignkit.core.lora import LoraSettings, finish, peft_config
from alignkit.core.profiles import detect_profile, precision_kwargs

__all__ = ["trainer_kwargs", "run_trainer", "final_loss_and_steps", "StepHook", "step_hook_callback", "progress_bar_callback",
           "numeric_logs"]

StepHook = Callable[[dict], None]  # on_step(row): after every optimiser step, with the step's logged dict


def trainer_kwargs(settings, output_dir: str, profile=None) -> dict:
    """The TrainingArguments every alignkit TRL config shares: no checkpoints, no reporting, quiet
    logs, cosine schedule, gradient checkpointing as the settings say (TRL defaults to on), and bf16/fp16
    set explicitly for the profile (TRL defaults to bf16).

    settings: a `methods.settings.TrainingSettings` (epochs, learning_rate, batch_size, warmup_steps, seed)."""
    return dict(output_dir=output_dir, num_train_epochs=settings.epochs, learning_rate=settings.learning_rate,
                per_device_train_batch_size=settings.batch_size, lr_scheduler_type="cosine",
                warmup_steps=settings.warmup_steps, logging_steps=5, save_strategy="no", report_to=[],
                seed=settings.seed, dataloader_num_workers=0, dataloader_pin_memory=False, disable_tqdm=True,
                gradient_checkpointing=settings.gradient_checkpointing,
                **precision_kwargs(profile or detect_profile()))


def numeric_logs(logs: Mapping[str, Any] | None) -> dict[str, float]:
    """The finite numeric entries of a Trainer log dict (0-d tensors and numpy scalars as floats)."""
    values = {}
    for key, value in (logs or {}).items():
        if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
            value = value.item()
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
            values[key] = float(value)
    return values


def step_hook_callback(on_step: StepHook):
    """A transformers TrainerCallback that calls on_step(row) once per optimiser step.

    A step the Trainer logs (every `logging_steps`) comes with its numeric logs: the Trainer logs right after
    `on_step_end`, before the next step changes the model, so the row waits for them. Other steps come as
    {"step": n}. The Trainer's end-of-training summary belongs to no step and is not passed on.
    """
    from transformers import TrainerCallback

    class StepHookCallback(TrainerCallback):
        waiting: int | None = None  # a logged step whose row waits for the Trainer's log

        def _flush(self) -> None:
            if self.waiting is not None:
                step, self.waiting = self.waiting, None
                on_step({"step": step})

        def on_step_end(self, args, state, control, **kwargs):
            self._flush()
            if control.should_log:
                self.waiting = state.global_step
            else:
                on_step({"step": state.global_step})

        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.waiting == state.global_step:
                self.waiting = None
                on_step({"step": state.global_step, **numeric_logs(logs)})

        def on_train_end(self, args, state, control, **kwargs):
            self._flush()

    return StepHookCallback()


def progress_bar_callback():
    """transformers' progress bar without its printed log dicts (the bar only: losses belong to a hook or a plot)."""
    from transformers.trainer_callback import ProgressCallback

    class ProgressBarOnly(ProgressCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            pass

    return ProgressBarOnly()


def run_trainer(trainer_cls, model, tokenizer, rows: list[dict], make_args, on_step: StepHook | None = None,
                lora: LoraSettings | None = None, **trainer_extra) -> list[dict]:
    """Train `model` in place with a TRL trainer on `rows`; returns the log history.

    make_args(output_dir) builds the trainer's config; checkpoints go to a temporary directory that
    is deleted afterwards; the Trainer's printer is removed.
    on_step(row) runs after every optimiser step (the same hook `ppo_train.train_ppo` takes).
    lora: train LoRA adapters instead of every weight (TRL applies them; with no ref_model, the reference
    is the backbone with adapters off); they are merged into `model` afterwards unless lora.merge is False.
    """
    from datasets import Dataset
    from transformers import PrinterCallback

    # Without a hook nothing shows how far training has come, so a bar does. TQDM_DISABLE=1 silences it here:
    # tqdm's notebook bar passes disable=False itself, so the variable alone would still leave an empty widget.
    quiet = bool(os.environ.get("TQDM_DISABLE"))
    callbacks = [step_hook_callback(on_step)] if on_step is not None else [] if quiet else [progress_bar_callback()]
    if lora is not None:
        trainer_extra["peft_config"] = peft_config(lora, model)
    # TRL (DPO/KTO reference pass) and peft read transformers' deprecated `is_gradient_checkpointing`.
    with tempfile.TemporaryDirectory() as output_dir, library_renames_in_flight():
        trainer = trainer_cls(model=model, args=make_args(output_dir), train_dataset=Dataset.from_list(rows),
                              callbacks=callbacks, **{trainer_tokenizer_kwarg(trainer_cls): tokenizer},
                              **trainer_extra)
        trainer.remove_callback(PrinterCallback)
        trainer.train()
    finish(trainer.model, lora)  # peft changed `model` in place: merging leaves it a plain model again
    model.eval()
    return trainer.state.log_history


def final_loss_and_steps(log: list[dict]) -> dict:
    """The last logged training loss (runs shorter than logging_steps log only train_loss) and the step count."""
    losses = [r["loss"] for r in log if "loss" in r] or [log[-1]["train_loss"]]
    return {"final_loss": round(losses[-1], 4), "steps": log[-1].get("step", len(losses))}
