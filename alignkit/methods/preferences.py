"""Preference data, the one place the reward model, DPO and KTO get their labels from.

InstructGPT's pipeline: sample several responses of the SFT policy per prompt, let the (simulated)
labelers compare every differing pair, keep training and held-out prompts apart. Also here, because
DPO and KTO both use it: reading a policy as a reward model through its implicit reward.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import torch

from alignkit.infra.errors import AlignkitError
from alignkit.core.generation import SampleSettings, completion_logprobs, sample
from alignkit.world.files import read_jsonl
from alignkit.world.labelers import LabelerSettings, label_pairs

__all__ = ["PreferenceSet", "REWARD_MODEL_SET", "CHAPTER_REWARD_MODEL_SET", "POLICY_SET", "spread", "sample_pairs",
           "preference_rows", "implicit_rewards", "implicit_reward_accuracy"]

@dataclass(frozen=True)
class PreferenceSet:
    """How many of the sampler's responses are drawn and labeled."""

    n_prompts: int | None = None  # training prompts, evenly spread over the world's file; None = all 1,200
    samples_per_prompt: int = 8  # every differing pair of them is labeled (InstructGPT ranked K = 4 to 9)
    n_heldout_prompts: int | None = None  # held-out prompts for measuring; None = all
    temperature: float = 1.0  # as InstructGPT: pairs differ where sft is unsure or its demonstrators disagreed


REWARD_MODEL_SET = PreferenceSet()  # the RM needs many comparisons: every training prompt, 8 samples each
# Chapter 03 trains its own reward model live on an eighth as many, beside the zoo's rm.
CHAPTER_REWARD_MODEL_SET = PreferenceSet(n_prompts=300, samples_per_prompt=4)
# DPO and KTO: a set small enough to sample and train on in a chapter, the same for both so they compare fairly.
POLICY_SET = PreferenceSet(n_prompts=400, samples_per_prompt=4, n_heldout_prompts=100)


def spread(items: list, n: int | None) -> list:
    """`n` items evenly spaced through `items` (the world's prompt files are grouped by category and entity)."""
    if n is None or n >= len(items):
        return list(items)
    return [items[i * len(items) // n] for i in range(n)]


def sample_pairs(model, tokenizer, prompts: list[str], *, samples_per_prompt: int = 2,
                 sampling: SampleSettings = SampleSettings(temperature=1.0), seed: int = 0) -> list[tuple[str, str, str]]:
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


def preference_rows(sampler, tokenizer, size: PreferenceSet = REWARD_MODEL_SET, *, seed: int = 0,
                    labeler: LabelerSettings = LabelerSettings(), **size_fields) -> dict:
    """Labeled pairs of `sampler`'s responses (the sft model's, in the course): what the RM, DPO and KTO train on.

    size: a PreferenceSet; keyword fields (n_prompts=..., samples_per_prompt=...) override single fields.
    Returns {"train": rows, "heldout": rows, "heldout_pairs": unlabeled pairs}; rows are prompt/chosen/rejected
    strings. Held-out prompts get their own sampling seed and fresh labeler noise.
    """
    size = replace(size, **size_fields)
    sampling = SampleSettings(temperature=size.temperature)
    train_prompts = spread([r["prompt"] for r in read_jsonl("prompts_preference.jsonl")], size.n_prompts)
    heldout_prompts = spread([r["prompt"] for r in read_jsonl("prompts_validation.jsonl")], size.n_heldout_prompts)
    train_pairs = sample_pairs(sampler, tokenizer, train_prompts, samples_per_prompt=size.samples_per_prompt,
                               sampling=sampling, seed=seed)
    heldout_pairs = sample_pairs(sampler, tokenizer, heldout_prompts, samples_per_prompt=size.samples_per_prompt,
                                 sampling=sampling, seed=seed + 1000)  # fewer prompts: more pairs each
    return {"train": label_pairs(train_pairs, labeler),
            "heldout": label_pairs(heldout_pairs, replace(labeler, seed=labeler.seed + 1)),
            "heldout_pairs": heldout_pairs}


def implicit_rewards(policy_logps: torch.Tensor, reference_logps: torch.Tensor, beta: float) -> torch.Tensor:
    """The implicit reward beta * log(pi(y|x) / pi_ref(y|x)) of DPO (Eq. 5 without beta log Z(x)) and KTO.

    policy_logps [B], reference_logps [B]: log-probs summed over each completion's tokens → [B].
    """
    return beta * (policy_logps - reference_logps)


def implicit_reward_credit(model, ref_model, tokenizer, rows: list[dict], beta: float) -> list[float]:
    """Per labeled row (prompt/chosen/rejected strings): 1 where the chosen response gets the higher implicit reward
    beta log(pi/pi_ref), 0.5 for a tie, else 0. A DPO or KTO policy read as a reward model."""
    if not rows:
        raise AlignkitError("implicit_reward_accuracy needs at least one labeled row (prompt/chosen/rejected).")
    prompts = [r["prompt"] for r in rows] * 2
    responses = [r["chosen"] for r in rows] + [r["rejected"] for r in rows]
    rewards = implicit_rewards(completion_logprobs(model, tokenizer, prompts, responses),
                               completion_logprobs(ref_model, tokenizer, prompts, responses), beta)  # [2N]
    margins = rewards[:len(rows)] - rewards[len(rows):]  # [N]
    return ((margins > 0).double() + 0.5 * (margins == 0).double()).tolist()


def implicit_reward_accuracy(model, ref_model, tokenizer, rows: list[dict], beta: float) -> float:
    """Fraction of labeled rows whose chosen response gets the higher implicit reward (`implicit_reward_credit`)."""
    credit = implicit_reward_credit(model, ref_model, tokenizer, rows, beta)
    return sum(credit) / len(credit)
