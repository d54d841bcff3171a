"""Reward modeling: learn a scalar r(x, y) from pairwise preferences with the Bradley-Terry loss.

`bradley_terry_loss` is the whole idea in a few lines; `train_reward_model` drives TRL's
`RewardTrainer`, which computes the same loss on rewards read at each conversation's last token.
The data pipeline is InstructGPT's: sample responses from the SFT policy, have (simulated) labelers
compare them, train a reward model that starts from the SFT backbone with a fresh scalar head.
"""
from __future__ import annotations

import copy
import itertools
import warnings
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F

from alignkit.errors import AlignkitError
from alignkit.generation import SampleConfig, reward_scores, sample
from alignkit.world.labelers import LabelerConfig, agreement_ceiling, label_pairs

__all__ = [
    "bradley_terry_loss",
    "sample_pairs",
    "label_pairs",
    "to_trl_rows",
    "from_trl_rows",
    "RewardSettings",
    "reward_config",
    "reward_model_from_sft",
    "train_reward_model",
    "preference_accuracy",
    "oracle_accuracy",
    "preference_rows",
    "reward_metrics",
    "final_loss_and_steps",
    "build_rm",
]


def bradley_terry_loss(chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor) -> torch.Tensor:
    """Mean of −log σ(r(x, y_w) − r(x, y_l)) over the batch (InstructGPT Eq. 1).

    chosen_rewards [B], rejected_rewards [B] → scalar. Only the difference matters: adding the same
    constant to every reward leaves the loss unchanged. logsigmoid stays finite for large margins.
    """
    margins = chosen_rewards - rejected_rewards  # [B]
    return -F.logsigmoid(margins).mean()


# --- preference data -------------------------------------------------------------------------


def sample_pairs(model, tokenizer, prompts: list[str], *, samples_per_prompt: int = 2,
                 sampling: SampleConfig = SampleConfig(temperature=1.0), seed: int = 0) -> list[tuple[str, str, str]]:
    """(prompt, response_a, response_b) from the policy: every pair of its `samples_per_prompt` responses.

    Each round samples one response to every prompt, batched, with its own seed (seed, seed+1, ...;
    `sampling.seed` is ignored). Pairs of two identical responses are dropped: a labeler cannot
    prefer one of two identical texts, and such a row would teach the reward model nothing.
    """
    if samples_per_prompt < 2:
        raise AlignkitError(f"samples_per_prompt must be at least 2 to form a pair, not {samples_per_prompt}.")
    rounds = [sample(model, tokenizer, prompts, "chat", replace(sampling, seed=seed + i)).responses
              for i in range(samples_per_prompt)]
    pairs = []
    for index, prompt in enumerate(prompts):
        for first, second in itertools.combinations(range(samples_per_prompt), 2):
            a, b = rounds[first][index], rounds[second][index]
            if a != b:
                pairs.append((prompt, a, b))
    return pairs


def to_trl_rows(rows: list[dict]) -> list[dict]:
    """Labeled rows (prompt/chosen/rejected strings) → TRL's conversational implicit-prompt preference rows.

    The reward model then sees exactly what `generation.reward_scores` feeds it: the chat template
    applied to [user prompt, assistant response].
    """
    def conversation(prompt: str, response: str) -> list[dict]:
        return [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]

    return [{"chosen": conversation(r["prompt"], r["chosen"]), "rejected": conversation(r["prompt"], r["rejected"])}
            for r in rows]


def from_trl_rows(trl_rows: list[dict]) -> list[dict]:
    """The inverse of `to_trl_rows`: conversational preference rows → prompt/chosen/rejected strings."""
    return [{"prompt": r["chosen"][0]["content"], "chosen": r["chosen"][-1]["content"],
             "rejected": r["rejected"][-1]["content"]} for r in trl_rows]


# --- training --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RewardSettings:
    epochs: float = 1.0  # InstructGPT trains its RM for one epoch: a second pass over the same pairs overfits
    # Measured (scripts/device_check.py, 18k pairs at temperature 1.5 from an earlier sft): 5e-5 reached 0.586
    # held-out, 2e-4 0.572, and three epochs at 1e-4 0.558; higher rates memorise the training pairs
    # (0.92-0.95) without generalising.
    learning_rate: float = 5e-5
    batch_size: int = 32  # preference pairs per step (the model sees 2x as many sequences)
    max_length: int = 128  # tokens; longer pairs are dropped by TRL, the world's conversations are far shorter
    center_rewards_coefficient: float | None = None  # e.g. 0.01: pull mean rewards to 0 (Eisenstein et al.)
    warmup_steps: int = 5
    seed: int = 0


def reward_config(settings: RewardSettings, output_dir: str, profile=None):
    """TRL's RewardConfig for these settings, with precision flags absorbed (TRL defaults to bf16)."""
    from trl import RewardConfig

    from alignkit.sft import trainer_kwargs

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
                       plot=None) -> list[dict]:
    """Train `reward_model` in place on preference rows; returns TRL's log history.

    rows: labeled rows (prompt/chosen/rejected strings, as `label_pairs` returns them) or rows
    already in TRL's conversational format (`to_trl_rows`).
    """
    from trl import RewardTrainer

    from alignkit.sft import run_trainer

    if not rows:
        raise AlignkitError("train_reward_model got no preference rows; label some pairs first (label_pairs).")
    trl_rows = rows if isinstance(rows[0].get("chosen"), list) else to_trl_rows(rows)
    return run_trainer(RewardTrainer, reward_model, tokenizer, trl_rows, lambda out: reward_config(settings, out),
                       plot=plot)


# --- measuring -------------------------------------------------------------------------------


def _agreement(first: list[float], second: list[float], want_first: list[bool]) -> float:
    """Fraction of items where first > second iff want_first; a tie in the scores counts 0.5."""
    credit = [0.5 if a == b else float((a > b) == wanted) for a, b, wanted in zip(first, second, want_first)]
    return sum(credit) / len(credit)


def _scores_of_both(reward_model, tokenizer, prompts, first, second) -> tuple[list[float], list[float]]:
    scores = reward_scores(reward_model, tokenizer, prompts + prompts, first + second)  # one batched pass
    return scores[:len(prompts)], scores[len(prompts):]


def preference_accuracy(reward_model, tokenizer, rows: list[dict]) -> float:
    """Fraction of labeled rows (prompt/chosen/rejected strings) the RM scores chosen above rejected."""
    if not rows:
        raise AlignkitError("preference_accuracy needs at least one labeled row (prompt/chosen/rejected).")
    prompts = [r["prompt"] for r in rows]
    chosen, rejected = _scores_of_both(reward_model, tokenizer, prompts, [r["chosen"] for r in rows],
                                       [r["rejected"] for r in rows])
    return _agreement(chosen, rejected, [True] * len(rows))


def oracle_accuracy(reward_model, tokenizer, pairs: list[tuple[str, str, str]]) -> float:
    """How often the RM orders a pair as the oracle's gold reward does (pairs the oracle ties are skipped).

    Labelers are noisy and biased, so this measures the RM against the truth, not against the labels.
    """
    from alignkit.world.oracle import gold

    golds = [(gold(p, a), gold(p, b)) for p, a, b in pairs]
    decided = [(p, a, b, ga > gb) for (p, a, b), (ga, gb) in zip(pairs, golds) if ga != gb]
    if not decided:
        raise AlignkitError("oracle_accuracy needs pairs whose two responses the oracle scores differently.")
    prompts, first, second, gold_prefers_first = map(list, zip(*decided))
    scores_first, scores_second = _scores_of_both(reward_model, tokenizer, prompts, first, second)
    return _agreement(scores_first, scores_second, gold_prefers_first)


# --- the zoo checkpoint ----------------------------------------------------------------------


def _spread(items: list, n: int | None) -> list:
    """`n` items evenly spaced through `items` (the world's prompt files are grouped by category and entity)."""
    if n is None or n >= len(items):
        return list(items)
    return [items[i * len(items) // n] for i in range(n)]


def preference_rows(sft_model, tokenizer, *, n_prompts: int | None = None, n_heldout_prompts: int | None = None,
                    samples_per_prompt: int = 8, temperature: float = 1.0, seed: int = 0,
                    labeler: LabelerConfig = LabelerConfig()) -> dict:
    """The reward chapter's data: labeled pairs of `sft_model`'s responses (the RM, DPO and KTO all train on it).

    samples_per_prompt: responses sampled per prompt; every differing pair of them is labeled (InstructGPT
    had labelers rank K = 4 to 9). temperature: sampling temperature, 1.0 as in InstructGPT; pairs differ
    where `sft` is unsure or its demonstrators disagreed (refusing or complying, abstaining or guessing).
    n_prompts / n_heldout_prompts: how many of the world's training / held-out prompts, evenly spread over
    the files; None uses all.

    Returns {"train": rows, "heldout": rows, "heldout_pairs": unlabeled pairs}; rows are prompt/chosen/rejected
    strings. Held-out prompts get their own sampling seed and fresh labeler noise.
    """
    from alignkit.world.files import read_jsonl

    sampling = SampleConfig(temperature=temperature)
    train_prompts = _spread([r["prompt"] for r in read_jsonl("prompts_train.jsonl")], n_prompts)
    heldout_prompts = _spread([r["prompt"] for r in read_jsonl("prompts_heldout.jsonl")], n_heldout_prompts)
    train_pairs = sample_pairs(sft_model, tokenizer, train_prompts, samples_per_prompt=samples_per_prompt,
                               sampling=sampling, seed=seed)
    heldout_pairs = sample_pairs(sft_model, tokenizer, heldout_prompts, samples_per_prompt=samples_per_prompt,
                                 sampling=sampling, seed=seed + 1000)  # fewer prompts: more pairs each
    return {"train": label_pairs(train_pairs, labeler),
            "heldout": label_pairs(heldout_pairs, replace(labeler, seed=labeler.seed + 1)),
            "heldout_pairs": heldout_pairs}


def final_loss_and_steps(log: list[dict]) -> dict:
    """The last logged training loss (runs shorter than logging_steps log only train_loss) and the step count."""
    losses = [r["loss"] for r in log if "loss" in r] or [log[-1]["train_loss"]]
    return {"final_loss": round(losses[-1], 4), "steps": log[-1].get("step", len(losses))}


def build_rm(seed: int = 0, root=None, plot=None, n_prompts: int | None = None, samples_per_prompt: int = 8,
             n_heldout_prompts: int | None = None, settings: RewardSettings | None = None) -> dict:
    """Train a reward model on labeled pairs of `sft`'s responses (`preference_rows`) and save it as `rm`."""
    from alignkit import zoo

    sft_model, tokenizer = zoo.load("sft", root=root)
    settings = settings or RewardSettings(seed=seed)
    labeler = LabelerConfig()
    data = preference_rows(sft_model, tokenizer, n_prompts=n_prompts, n_heldout_prompts=n_heldout_prompts,
                           samples_per_prompt=samples_per_prompt, seed=seed, labeler=labeler)
    reward_model = reward_model_from_sft(sft_model, tokenizer, seed=seed)
    log = train_reward_model(reward_model, tokenizer, data["train"], settings, plot=plot)
    metrics = {"train_pairs": len(data["train"]), "heldout_pairs": len(data["heldout"])}
    metrics |= reward_metrics(reward_model, tokenizer, data, labeler) | final_loss_and_steps(log)
    zoo.save("rm", reward_model, tokenizer, kind="reward-model", format="chat", parent="sft",
             command=f"alignkit zoo build rm --seed {seed}", seed=seed,
             config=asdict(settings) | {"samples_per_prompt": samples_per_prompt, "n_prompts": n_prompts,
                                        "labeler": asdict(labeler)},
             metrics=metrics, root=root)
    return metrics


def reward_metrics(reward_model, tokenizer, data: dict, labeler: LabelerConfig = LabelerConfig()) -> dict:
    """Training and held-out accuracy against the labels, the labelers' ceiling, and accuracy against the oracle."""
    ceiling = agreement_ceiling(data["heldout_pairs"], labeler)
    return {"train_accuracy": round(preference_accuracy(reward_model, tokenizer, data["train"][:2000]), 4),
            "heldout_accuracy": round(preference_accuracy(reward_model, tokenizer, data["heldout"]), 4),
            "accuracy_ceiling": round(ceiling["accuracy_ceiling"], 4),
            "labeler_agreement": round(ceiling["agreement"], 4),
            "oracle_accuracy": round(oracle_accuracy(reward_model, tokenizer, data["heldout_pairs"]), 4)}
