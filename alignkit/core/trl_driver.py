"""The one shell around TRL's trainers: shared arguments, the run itself, and a per-step hook.

SFT, reward modeling, DPO and KTO each build their own TRL config and call `run_trainer`; none of them
repeats the callback, temporary-directory or printer plumbing, and none imports another method.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable

from alignkit.infra.compat import library_renames_in_flight, trainer_tokenizer_kwarg
from alignkit.core.lora import LoraSettings, finish, peft_config
from alignkit.core.profiles import detect_profile, precision_kwargs

__all__ = ["trainer_kwargs", "run_trainer", "final_loss_and_steps", "StepHook"]

StepHook = Callable[[int], None]  # on_step(step): called after every optimiser step, e.g. to evaluate mid-run


def trainer_kwargs(settings, output_dir: str, profile=None) -> dict:
    """The TrainingArguments every alignkit TRL config shares: no checkpoints, no reporting, quiet
    logs, cosine schedule, and bf16/fp16 set explicitly for the profile (TRL defaults to bf16)."""
    return dict(output_dir=output_dir, num_train_epochs=settings.epochs, learning_rate=settings.learning_rate,
                per_device_train_batch_size=settings.batch_size, lr_scheduler_type="cosine",
                warmup_steps=settings.warmup_steps, logging_steps=5, save_strategy="no", report_to=[],
                seed=settings.seed, dataloader_num_workers=0, dataloader_pin_memory=False, disable_tqdm=True,
                **precision_kwargs(profile or detect_profile()))


def _step_hook_callback(on_step: StepHook):
    from transformers import TrainerCallback

    class StepHookCallback(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            on_step(state.global_step)

    return StepHookCallback()


def run_trainer(trainer_cls, model, tokenizer, rows: list[dict], make_args, plot=None,
                on_step: StepHook | None = None, lora: LoraSettings | None = None, **trainer_extra) -> list[dict]:
    """Train `model` in place with a TRL trainer on `rows`; returns the log history.

    make_args(output_dir) builds the trainer's config; checkpoints go to a temporary directory that
    is deleted afterwards. The live plot, if any, reports progress instead of the Trainer's printer.
    on_step(step) runs after every optimiser step (the same hook `ppo_train.train_ppo` takes).
    lora: train LoRA adapters instead of every weight (TRL applies them; with no ref_model, the reference
    is the backbone with adapters off); they are merged into `model` afterwards unless lora.merge is False.
    """
    from datasets import Dataset
    from transformers import PrinterCallback

    callbacks = []
    if plot is not None:
        from alignkit.viz import LivePlotCallback  # plotly loads only when a plot is drawn

        callbacks.append(LivePlotCallback(plot))
    if on_step is not None:
        callbacks.append(_step_hook_callback(on_step))
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
