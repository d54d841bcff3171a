"""Direct Preference Optimization: the reward model folded into the policy (Rafailov et al. 2023).

`dpo_loss` is the whole idea in a few lines: with the implicit reward r(x, y) = beta log(pi(y|x) / pi_ref(y|x)),
the Bradley-Terry loss of the reward model becomes a loss on the policy itself (DPO Eq. 7). `train_dpo`
drives TRL's `DPOTrainer`, which computes the same loss (its default "sigmoid" loss type) from log-probs
summed over each completion's tokens. The preference data is the reward chapter's: pairs of the SFT
policy's responses, labeled by the simulated labelers.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from alignkit.infra.errors import AlignkitError
from alignkit.methods.preferences import implicit_rewards
from alignkit.methods.settings import PreferenceTrainingSettings
from alignkit.core.trl_driver import StepHook, run_trainer, trainer_kwargs

__all__ = [
    "dpo_loss",
    "implicit_rewards",
    "to_conversational",
    "DPOSettings",
    "dpo_config",
    "train_dpo",
]


def dpo_loss(policy_chosen_logps: torch.Tensor, policy_rejected_logps: torch.Tensor,
             reference_chosen_logps: torch.Tensor, reference_rejected_logps: torch.Tensor,
             beta: float) -> torch.Tensor:
    """Mean of −log σ(r(x, y_w) − r(x, y_l)) over the batch, r the implicit reward (DPO Eq. 7).

    All four inputs [B]: log-probs SUMMED over the completion tokens (a mean would change the loss:
    it shrinks every log-ratio by its response's length). Returns a scalar; ln 2 when pi = pi_ref.
    The gradient weights each pair by σ(r_l − r_w): pairs the policy still orders wrongly count most.
    """
    chosen_rewards = implicit_rewards(policy_chosen_logps, reference_chosen_logps, beta)  # [B]
    rejected_rewards = implicit_rewards(policy_rejected_logps, reference_rejected_logps, beta)  # [B]
    return -F.logsigmoid(chosen_rewards - rejected_rewards).mean()


# --- data ------------------------------------------------------------------------------------


def to_conversational(rows: list[dict]) -> list[dict]:
    """prompt/chosen/rejected strings → TRL's conversational explicit-prompt preference rows.

    prompt = [user message], chosen = [assistant message], rejected = [assistant message]; TRL applies
    the chat template, so the policy is trained on the very tokens `generation.sample` produces.
    """
    return [{"prompt": [{"role": "user", "content": r["prompt"]}],
             "chosen": [{"role": "assistant", "content": r["chosen"]}],
             "rejected": [{"role": "assistant", "content": r["rejected"]}]} for r in rows]


# --- training --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DPOSettings(PreferenceTrainingSettings):
    # beta (PreferenceTrainingSettings) and learning_rate: chosen on the validation prompts
    # (scripts/tune.py dpo, data/results/tuning_dpo.json). One epoch over the pairs, as the paper.
    learning_rate: float = 1e-4


def dpo_config(settings: DPOSettings, output_dir: str, profile=None):
    """TRL's DPOConfig for these settings: sigmoid loss, no dropout, precision flags explicit."""
    from trl import DPOConfig

    with warnings.catch_warnings():  # TRL's own defaults trip transformers' deprecation notices
        warnings.simplefilter("ignore", FutureWarning)
        return DPOConfig(beta=settings.beta, loss_type=["sigmoid"], max_length=settings.max_length,
                         disable_dropout=True, precompute_ref_log_probs=False,
                         **trainer_kwargs(settings, output_dir, profile))


def train_dpo(model, ref_model, tokenizer, rows: list[dict], settings: DPOSettings = DPOSettings(),
              on_step: StepHook | None = None) -> list[dict]:
    """Train `model` in place with DPO against the frozen `ref_model`; returns TRL's log history.

    rows: prompt/chosen/rejected strings (as `label_pairs` returns them) or TRL conversational rows.
    ref_model must be given: TRL would otherwise reload the reference by the model's name. With
    settings.lora, ref_model=None: the backbone with its adapters off is the reference (one copy in memory).
    on_step(row): called after every optimiser step with its logged dict (a LivePlot; or measure gold reward and
    KL every N steps, `experiments.common.every`).
    """
    from trl import DPOTrainer

    if not rows:
        raise AlignkitError("train_dpo got no preference rows; label some pairs first (label_pairs).")
    if ref_model is model or (ref_model is None and settings.lora is None):
        raise AlignkitError("train_dpo needs a separate frozen reference model: pass copy.deepcopy(model) "
                            "(or zoo.load of the same checkpoint) as ref_model, or train LoRA adapters "
                            "(DPOSettings(lora=LoraSettings())) with ref_model=None.")
    trl_rows = rows if isinstance(rows[0].get("prompt"), list) else to_conversational(rows)
    trl_rows = [{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in trl_rows]
    if ref_model is not None:
        ref_model.eval().requires_grad_(False)
    return run_trainer(DPOTrainer, model, tokenizer, trl_rows, lambda out: dpo_config(settings, out),
                       on_step=on_step, lora=settings.lora, ref_model=ref_model)
