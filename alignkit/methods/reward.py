"""Reward modeling: learn a scalar r(x, y) from pairwise preferences with the Bradley-Terry loss.

`bradley_terry_loss` is the whole idea in a few lines; `train_reward_model` drives TRL's
`RewardTrainer`, which computes the same loss on rewards read at each conversation's last token.
The data pipeline is InstructGPT's (alignkit.methods.preferences): sample responses from the SFT policy, have
(simulated) labelers compare them; here a reward model that starts from the SFT backbone with a fresh
scalar head learns them.
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from alignkit.infra.errors import AlignkitError
from alignkit.core.generation import SampleSettings, reward_scores, sample
from alignkit.core.trl_driver import StepHook, run_trainer, trainer_kwargs
from alignkit.methods.settings import TrainingSettings
from alignkit.world import find_task, load_world
from alignkit.world.labelers import LabelerSettings, agreement_ceiling, order_free_probability
from alignkit.world.oracle import gold, score

__all__ = [
    "bradley_terry_loss",
    "to_trl_rows",
    "RewardSettings",
    "reward_config",
    "reward_model_from_sft",
    "train_reward_model",
    "pair_correctness",
    "preference_accuracy",
    "oracle_accuracy",
    "reward_metrics",
    "accuracy_by_kind",
]


def bradley_terry_loss(chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor) -> torch.Tensor:
    """Mean of −log σ(r(x, y_w) − r(x, y_l)) over the batch (InstructGPT Eq. 1).

    chosen_rewards [B], rejected_rewards [B] → scalar. Only the difference matters: adding the same
    constant to every reward leaves the loss unchanged. logsigmoid stays finite for large margins.
    """
    margins = chosen_rewards - rejected_rewards  # [B]
    return -F.logsigmoid(margins).mean()


# --- data: TRL's conversational preference rows ----------------------------------------------


def to_trl_rows(rows: list[dict]) -> list[dict]:
    """Labeled rows (prompt/chosen/rejected strings) → TRL's conversational implicit-prompt preference rows.

    The reward model then sees exactly what `generation.reward_scores` feeds it: the chat template
    applied to [user prompt, assistant response].
    """
    def conversation(prompt: str, response: str) -> list[dict]:
        return [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]

    return [{"chosen": conversation(r["prompt"], r["chosen"]), "rejected": conversation(r["prompt"], r["rejected"])}
            for r in rows]


# --- training --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RewardSettings(TrainingSettings):
    # epochs: one, as InstructGPT trains its RM; chapter 03 measures a second pass.
    # learning_rate: chosen on labeled pairs of sft's answers to the validation prompts
    # (scripts/tune.py rm, data/results/tuning_rm.json).
    learning_rate: float = 2e-4
    # batch_size: preference pairs per step (the model sees 2x as many sequences); pairs longer than max_length
    # are dropped by TRL. lora: the score head still trains fully.
    center_rewards_coefficient: float | None = None  # e.g. 0.01: pull mean rewards to 0 (Eisenstein et al.)


def reward_config(settings: RewardSettings, output_dir: str, profile=None):
    """TRL's RewardConfig for these settings, with precision flags absorbed (TRL defaults to bf16)."""
    from trl import RewardConfig

    with warnings.catch_warnings():  # TRL's own defaults trip transformers' deprecation notices
        warnings.simplefilter("ignore", FutureWarning)
        return RewardConfig(
            max_length=settings.max_length, center_rewards_coefficient=settings.center_rewards_coefficient,
            disable_dropout=True,  # PPO later compares rewards of the same text: no randomness in r(x, y)
            **trainer_kwargs(settings, output_dir, profile))


def reward_model_from_sft(sft_model, tokenizer, seed: int = 0):
    """A reward model with the SFT model's transformer body and a fresh scalar head (InstructGPT).

    The language-model head is dropped; the new `score` head reads the hidden state of the last
    non-pad token, so `pad_token_id` is set from the tokenizer. `sft_model` is left untouched.
    """
    from transformers import AutoModelForSequenceClassification

    config = copy.deepcopy(sft_model.config)
    config.num_labels, config.pad_token_id, config.architectures = 1, tokenizer.pad_token_id, None
    with torch.random.fork_rng(devices=[]):  # building a model must not shift later sampling
        torch.manual_seed(seed)
        reward_model = AutoModelForSequenceClassification.from_config(config)
    body = getattr(reward_model, reward_model.base_model_prefix)
    body.load_state_dict(sft_model.base_model.state_dict())  # strict: same architecture, every weight
    parameter = next(sft_model.parameters())
    return reward_model.to(device=parameter.device, dtype=parameter.dtype).eval()


def train_reward_model(reward_model, tokenizer, rows: list[dict], settings: RewardSettings = RewardSettings(),
                       on_step: StepHook | None = None) -> list[dict]:
    """Train `reward_model` in place on preference rows; returns TRL's log history.

    rows: labeled rows (prompt/chosen/rejected strings, as `label_pairs` returns them) or rows
    already in TRL's conversational format (`to_trl_rows`).
    """
    from trl import RewardTrainer

    if not rows:
        raise AlignkitError("train_reward_model got no preference rows; label some pairs first (label_pairs).")
    trl_rows = rows if isinstance(rows[0].get("chosen"), list) else to_trl_rows(rows)
    return run_trainer(RewardTrainer, reward_model, tokenizer, trl_rows, lambda out: reward_config(settings, out),
                       on_step=on_step, lora=settings.lora)


# --- measuring -------------------------------------------------------------------------------


def _credit(first: list[float], second: list[float], want_first: list[bool]) -> list[float]:
    """Per item: 1 where first > second iff want_first, 0.5 on a tie in the scores, else 0."""
    return [0.5 if a == b else float((a > b) == wanted) for a, b, wanted in zip(first, second, want_first)]


def _agreement(first: list[float], second: list[float], want_first: list[bool]) -> float:
    """Fraction of items where first > second iff want_first; a tie in the scores counts 0.5."""
    credit = _credit(first, second, want_first)
    return sum(credit) / len(credit)


def _scores_of_both(reward_model, tokenizer, prompts, first, second) -> tuple[list[float], list[float]]:
    scores = reward_scores(reward_model, tokenizer, prompts + prompts, first + second)  # one batched pass
    return scores[:len(prompts)], scores[len(prompts):]


def pair_correctness(reward_model, tokenizer, rows: list[dict]) -> list[float]:
    """Per labeled row (prompt/chosen/rejected strings): 1 if the RM scores chosen above rejected, 0.5 on a tie,
    else 0 (per row, so two reward models can be compared paired on the same rows)."""
    if not rows:
        raise AlignkitError("Measuring a reward model on labels needs at least one labeled row "
                            "(prompt/chosen/rejected).")
    chosen, rejected = _scores_of_both(reward_model, tokenizer, [r["prompt"] for r in rows],
                                       [r["chosen"] for r in rows], [r["rejected"] for r in rows])
    return _credit(chosen, rejected, [True] * len(rows))


def preference_accuracy(reward_model, tokenizer, rows: list[dict]) -> float:
    """Fraction of labeled rows (prompt/chosen/rejected strings) the RM scores chosen above rejected."""
    correct = pair_correctness(reward_model, tokenizer, rows)
    return sum(correct) / len(correct)


def oracle_accuracy(reward_model, tokenizer, pairs: list[tuple[str, str, str]]) -> float:
    """How often the RM orders a pair as the oracle's gold reward does (pairs the oracle ties are skipped).

    Labelers are noisy and biased, so this measures the RM against the truth, not against the labels.
    """
    golds = [(gold(p, a), gold(p, b)) for p, a, b in pairs]
    decided = [(p, a, b, ga > gb) for (p, a, b), (ga, gb) in zip(pairs, golds) if ga != gb]
    if not decided:
        raise AlignkitError("oracle_accuracy needs pairs whose two responses the oracle scores differently.")
    prompts, first, second, gold_prefers_first = map(list, zip(*decided))
    scores_first, scores_second = _scores_of_both(reward_model, tokenizer, prompts, first, second)
    return _agreement(scores_first, scores_second, gold_prefers_first)


def reward_metrics(reward_model, tokenizer, data: dict, labeler: LabelerSettings = LabelerSettings()) -> dict:
    """Training and held-out accuracy against the labels, the labelers' ceiling, and accuracy against the oracle."""
    ceiling = agreement_ceiling(data["heldout_pairs"], labeler)
    return {"train_accuracy": round(preference_accuracy(reward_model, tokenizer, data["train"][:2000]), 4),
            "heldout_accuracy": round(preference_accuracy(reward_model, tokenizer, data["heldout"]), 4),
            "accuracy_ceiling": round(ceiling["accuracy_ceiling"], 4),
            "labeler_agreement": round(ceiling["agreement"], 4),
            "oracle_accuracy": round(oracle_accuracy(reward_model, tokenizer, data["heldout_pairs"]), 4)}


def _pair_group(prompt: str, backbone_correct: dict[str, bool]) -> str:
    task = find_task(load_world(), prompt)
    kind = task.category if task else "other"
    if kind in ("fact", "arithmetic"):  # can the backbone itself answer it? then the RM can learn to check it
        return f"{kind}, backbone {'right' if backbone_correct[prompt] else 'wrong'}"
    return kind


def accuracy_by_kind(reward_model, tokenizer, data: dict, backbone, labeler: LabelerSettings = LabelerSettings()):
    """Per kind of prompt, the RM's held-out accuracy against the labels next to the labelers' ceiling.

    data: `preferences.preference_rows`' result (its "heldout" rows label its "heldout_pairs", in order).
    Fact and sum pairs are split by whether `backbone` (the sft the RM starts from, greedy) answers that
    question correctly: a reward model can only check what its backbone knows. A DataFrame, one row a group.
    """
    import pandas as pd

    rows, pairs = data["heldout"], data["heldout_pairs"]
    prompts = sorted({prompt for prompt, _, _ in pairs})
    greedy = sample(backbone, tokenizer, prompts, "chat", SampleSettings(temperature=0)).responses
    backbone_correct = {p: bool(score(p, r).correct) for p, r in zip(prompts, greedy)}
    table = pd.DataFrame({
        "group": [_pair_group(p, backbone_correct) for p, _, _ in pairs],
        "rm_correct": pair_correctness(reward_model, tokenizer, rows),
        "ceiling": [max(q, 1 - q) for q in (order_free_probability(p, a, b, labeler) for p, a, b in pairs)]})
    grouped = table.groupby("group").agg(pairs=("rm_correct", "size"), rm_accuracy=("rm_correct", "mean"),
                                         ceiling=("ceiling", "mean"))
    grouped["rm_accuracy_se"] = (grouped.rm_accuracy * (1 - grouped.rm_accuracy) / grouped.pairs) ** 0.5
    grouped["gap"] = grouped.ceiling - grouped.rm_accuracy
    return grouped.round(4)
