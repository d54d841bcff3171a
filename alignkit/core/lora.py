"""LoRA (Hu et al. 2021) as an option for every method, written once.

A frozen backbone W plus a trainable low-rank update (alpha / r) B A on chosen linear layers: only the
adapters get gradients and Adam's moments, and for DPO, KTO and PPO the backbone with its adapters
switched off IS the frozen reference, so no second copy of the model is kept (see `alignkit.experiments.lora_memory`).

    settings = DPOSettings(lora=LoraSettings(r=16))     # any method's settings take `lora=`
    train_dpo(model, None, tokenizer, rows, settings)   # ref_model=None: the adapter-free backbone

TRL's trainers apply the adapters themselves (their `peft_config` argument); PPO's loop applies them
with `with_adapters`. After training the adapters are merged into the weights by default, so the model
that comes back is the same plain `transformers` model the toy track hands around.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LoraSettings", "ATTENTION", "ATTENTION_AND_MLP", "task_type", "peft_config", "with_adapters",
           "finish", "inject_adapters"]

ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
ATTENTION_AND_MLP = ATTENTION + ("gate_proj", "up_proj", "down_proj")  # the QLoRA paper's choice: every linear layer


@dataclass(frozen=True)
class LoraSettings:
    r: int = 16  # rank of the update B A; 8-64 is usual, the toy models need less
    alpha: int = 32  # the update is scaled by alpha / r, so changing r keeps the step size comparable
    dropout: float = 0.0  # 0: policy and reference log-probs must differ only by the adapters, never by noise
    target_modules: tuple[str, ...] = ATTENTION_AND_MLP  # Llama/Qwen/Mistral names of the linear layers
    merge: bool = True  # fold the adapters into the weights after training (False: keep them separate)


def task_type(model) -> str:
    """peft's task for `model`: a sequence classifier (reward or value model) keeps its `score` head trainable."""
    names = [type(model).__name__, *(getattr(model.config, "architectures", None) or [])]
    return "SEQ_CLS" if any(n.endswith("ForSequenceClassification") for n in names) else "CAUSAL_LM"


def peft_config(settings: LoraSettings, model):
    """The `peft.LoraConfig` for these settings and this kind of model (TRL trainers take it as `peft_config`)."""
    from peft import LoraConfig

    return LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                      target_modules=list(settings.target_modules), bias="none", task_type=task_type(model))


def with_adapters(model, settings: LoraSettings):
    """`model` wrapped as a peft model with fresh adapters (B = 0, so it starts equal to `model`).

    peft injects the adapter layers into `model` itself: the wrapper and `model` share every weight.
    """
    from peft import get_peft_model

    from alignkit.infra.compat import library_renames_in_flight

    with library_renames_in_flight():  # peft reads transformers' deprecated `is_gradient_checkpointing`
        return get_peft_model(model, peft_config(settings, model))


def inject_adapters(module, settings: LoraSettings, trainable: tuple[str, ...] = ()):
    """Adapters injected into `module` in place (no wrapper); only they and the `trainable` submodules train.

    For models used through their inner parts (PPO's value model reads `base_model` and `score`).
    """
    from peft import LoraConfig, inject_adapter_in_model

    config = LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                        target_modules=list(settings.target_modules), bias="none")
    module = inject_adapter_in_model(config, module)
    for name, parameter in module.named_parameters():
        parameter.requires_grad_("lora_" in name or any(part in name.split(".") for part in trainable))
    return module


def finish(model, settings: LoraSettings | None):
    """After training: merge the adapters into the weights (settings.merge) and make every weight trainable
    again, as it was before; the merged model is the object the caller passed in."""
    from accelerate.utils import is_peft_model

    if settings is None or not settings.merge or not is_peft_model(model):
        return model
    merged = model.merge_and_unload()
    return merged.requires_grad_(True).eval()
