"""Kahneman-Tversky Optimization: alignment from thumbs up / thumbs down (Ethayarajh et al. 2024).

KTO needs no pairs: each example is one response labeled desirable or undesirable. Its implicit reward
r = beta log(pi/pi_ref) is judged against a reference point z0, an estimate of KL(pi || pi_ref) from
mismatched (prompt, response) pairs of the same batch, so a batch needs at least 2 examples.
`kto_loss` is the loss in a few lines; `train_kto` drives TRL's `KTOTrainer`, which computes the same
loss with the same reduction.
"""
from __future__ import annotations

import random
import warnings
from dataclasses import dataclass, replace

import torch

from alignkit.infra.errors import AlignkitError
from alignkit.core.generation import SampleSettings, sample
from alignkit.methods.settings import PreferenceTrainingSettings
from alignkit.core.trl_driver import StepHook, run_trainer, trainer_kwargs
from alignkit.world.labelers import Labeler, LabelerSettings

__all__ = [
    "KTOBatchSizeError",
    "kto_loss",
    "unpaired_rows",
    "one_output_rows",
    "drop_desirable",
    "recommended_desirable_weight",
    "to_unpaired_conversational",
    "KTOSettings",
    "kto_config",
    "train_kto",
]


class KTOBatchSizeError(AlignkitError, ValueError):
    """A KTO batch of one example: z0 cannot be estimated from mismatched pairs."""


def _require_pairs(batch_size: int, where: str) -> None:
    if batch_size < 2:
        raise KTOBatchSizeError(
            f"{where}: KTO needs at least 2 examples per batch to estimate z0 from mismatched pairs "
            f"(each response paired with another example's prompt), got {batch_size}; raise "
            f"per_device_train_batch_size (KTOSettings.batch_size).")


def kto_loss(policy_logps: torch.Tensor, reference_logps: torch.Tensor, labels: torch.Tensor,
             kl_policy_logps: torch.Tensor, kl_reference_logps: torch.Tensor, beta: float,
             desirable_weight: float = 1.0, undesirable_weight: float = 1.0) -> torch.Tensor:
    """The KTO loss (KTO Eq. 7-8), reduced as TRL reduces it: the mean over the batch of λ_y (1 − v).

    policy_logps, reference_logps [B]: log-probs summed over each completion; labels [B] bool, True =
    desirable. kl_policy_logps, kl_reference_logps [B]: the same, on mismatched (x_i, y_j) pairs.
    z0 = max(0, mean KL log-ratio), detached (it only sets the reference point); v = σ(beta (log-ratio − z0))
    for desirable, σ(beta (z0 − log-ratio)) for undesirable examples. Divided by B, not by the sum of the
    weights: at pi = pi_ref every example contributes λ_y / 2, so the loss is 0.5 × the mean weight.
    """
    _require_pairs(policy_logps.shape[0], "kto_loss")
    z0 = (kl_policy_logps - kl_reference_logps).mean().clamp(min=0).detach()  # scalar, in log-ratio units
    logratios = policy_logps - reference_logps  # [B]; the implicit reward is beta * logratios
    desirable_losses = desirable_weight * (1 - torch.sigmoid(beta * (logratios - z0)))  # [B]
    undesirable_losses = undesirable_weight * (1 - torch.sigmoid(beta * (z0 - logratios)))  # [B]
    return torch.where(labels.bool(), desirable_losses, undesirable_losses).mean()


# --- data: TRL's unpaired format (prompt / completion / label) -------------------------------


def unpaired_rows(pref_rows: list[dict]) -> list[dict]:
    """Preference rows → 2n unpaired rows: each chosen response desirable, each rejected one not.

    Row i's chosen row is followed by its rejected row; `train_kto` shuffles before batching.
    """
    out = []
    for r in pref_rows:
        out.append({"prompt": r["prompt"], "completion": r["chosen"], "label": True})
        out.append({"prompt": r["prompt"], "completion": r["rejected"], "label": False})
    return out


def one_output_rows(model, tokenizer, prompts: list[str], labeler: LabelerSettings = LabelerSettings(), seed: int = 0,
                    sampling: SampleSettings = SampleSettings(temperature=1.0)) -> list[dict]:
    """One sampled response per prompt, thumbs up or down from a simulated labeler: no pairs ever formed.

    Rows are prompt/completion/label (plus the annotator), as `Labeler.thumbs` returns them.
    """
    responses = sample(model, tokenizer, prompts, "chat", replace(sampling, seed=seed)).responses
    judge = Labeler(labeler)
    return [judge.thumbs(p, r) for p, r in zip(prompts, responses)]


def drop_desirable(rows: list[dict], fraction: float, seed: int = 0) -> list[dict]:
    """`rows` without a random `fraction` of the desirable examples (KTO's imbalance experiment); order kept."""
    if not 0 <= fraction <= 1:
        raise AlignkitError(f"fraction must be between 0 and 1, not {fraction}.")
    desirable = [i for i, r in enumerate(rows) if r["label"]]
    dropped = set(random.Random(seed).sample(desirable, round(fraction * len(desirable))))
    return [r for i, r in enumerate(rows) if i not in dropped]


def recommended_desirable_weight(n_desirable: int, n_undesirable: int, ratio: float = 1.0,
                                 undesirable_weight: float = 1.0) -> float:
    """λ_D such that λ_D n_D / (λ_U n_U) = ratio; the paper (and TRL) recommend ratio in [1, 4/3].

    With 90% of the desirable examples dropped from a balanced set, n_D = n_U / 10 and ratio 4/3 give
    λ_D = 13.33, the paper's setting.
    """
    if n_desirable <= 0 or n_undesirable <= 0:
        raise AlignkitError(f"need desirable and undesirable examples, got {n_desirable} and {n_undesirable}.")
    if not 1 <= ratio <= 1.5:
        warnings.warn(f"ratio {ratio} is outside the recommended [1, 4/3] (later versions of the paper: [1, 3/2]).",
                      stacklevel=2)
    return ratio * undesirable_weight * n_undesirable / n_desirable


def to_unpaired_conversational(rows: list[dict]) -> list[dict]:
    """prompt/completion/label strings → TRL's conversational unpaired rows ([user], [assistant], bool)."""
    return [{"prompt": [{"role": "user", "content": r["prompt"]}],
             "completion": [{"role": "assistant", "content": r["completion"]}], "label": bool(r["label"])}
            for r in rows]


# --- training --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class KTOSettings(PreferenceTrainingSettings):
    # beta (PreferenceTrainingSettings) and learning_rate: chosen on the validation prompts
    # (scripts/tune.py kto, data/results/tuning_kto.json). batch_size: at least 2, since z0 comes from
    # mismatched pairs in the batch.
    learning_rate: float = 1e-4
    desirable_weight: float = 1.0  # λ_D; raise it when desirable examples are scarce (recommended_desirable_weight)
    undesirable_weight: float = 1.0  # λ_U


def kto_config(settings: KTOSettings, output_dir: str, profile=None):
    """TRL's KTOConfig for these settings: the "kto" loss, no dropout, precision flags explicit."""
    from trl import KTOConfig

    _require_pairs(settings.batch_size, "kto_config")
    with warnings.catch_warnings():  # TRL's own defaults trip transformers' deprecation notices
        warnings.simplefilter("ignore", FutureWarning)
        return KTOConfig(beta=settings.beta, desirable_weight=settings.desirable_weight,
                         undesirable_weight=settings.undesirable_weight, loss_type="kto",
                         max_length=settings.max_length, disable_dropout=True, precompute_ref_log_probs=False,
                         **trainer_kwargs(settings, output_dir, profile))


def train_kto(model, ref_model, tokenizer, rows: list[dict], settings: KTOSettings = KTOSettings(),
              on_step: StepHook | None = None) -> list[dict]:
    """Train `model` in place with KTO against the frozen `ref_model`; returns TRL's log history.

    rows: prompt/completion/label strings (`unpaired_rows`, `one_output_rows`) or TRL conversational rows.
    TRL batches the rows in order (it builds each batch's mismatched pairs ahead of time), so they are
    shuffled here with `settings.seed`; a last batch of a single row, whose only "mismatched" pair would
    be itself, is dropped.
    """
    from trl import KTOTrainer

    _require_pairs(settings.batch_size, "train_kto")
    if len(rows) < 2:
        raise AlignkitError(f"train_kto needs at least 2 labeled rows, got {len(rows)}.")
    if ref_model is model or (ref_model is None and settings.lora is None):
        raise AlignkitError("train_kto needs a separate frozen reference model: pass copy.deepcopy(model) "
                            "(or zoo.load of the same checkpoint) as ref_model, or train LoRA adapters "
                            "(KTOSettings(lora=LoraSettings())) with ref_model=None.")
    rows = list(rows)
    random.Random(settings.seed).shuffle(rows)
    if len(rows) % settings.batch_size == 1:
        rows = rows[:-1]
    trl_rows = rows if isinstance(rows[0]["prompt"], list) else to_unpaired_conversational(rows)
    trl_rows = [{k: r[k] for k in ("prompt", "completion", "label")} for r in trl_rows]
    if ref_model is not None:
        ref_model.eval().requires_grad_(False)
    return run_trainer(KTOTrainer, model, tokenizer, trl_rows, lambda out: kto_config(settings, out),
                       on_step=on_step, lora=settings.lora, ref_model=ref_model)
