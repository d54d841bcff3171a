"""PPO-RLHF, the pure core: per-token KL-penalised rewards, GAE, whitening, the clipped losses, KL control.

Shapes: B = rollouts (one response per prompt), T = response tokens, right-padded. Every per-token
tensor is read at the *response* tokens: entry [b, t] belongs to response token t of rollout b, and
`completion_mask[b, t]` is 1 for real tokens, 0 for padding after the response.

The recipe is InstructGPT's (Ouyang et al. 2022) as written down in "The N Implementation Details of
RLHF with PPO" (Huang et al. 2022) and its N+ follow-up (Huang et al. 2024): reward = −β·KL at every
response token plus the reward model's score at the last one; advantages by GAE (Schulman et al. 2016);
PPO's clipped surrogate and clipped value loss (Schulman et al. 2017); adaptive β (Ziegler et al. 2019).
Names follow TRL's former `PPOTrainer` (`kl_coef`, `vf_coef`, `cliprange`, `whiten_rewards`).
The models, the rollout and the training loop live in `alignkit.methods.ppo_train`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from alignkit.core.logprobs import kl_k1, kl_k2, kl_k3

__all__ = [
    "PPOSettings",
    "KL_ESTIMATORS",
    "masked_mean",
    "whiten",
    "per_token_kl",
    "last_token_index",
    "kl_penalized_rewards",
    "scores_with_eos_penalty",
    "gae_advantages",
    "compute_gae",
    "ppo_loss",
    "value_loss",
    "FixedKLController",
    "AdaptiveKLController",
    "kl_controller",
]

KL_ESTIMATORS = ("k1", "k2", "k3", "exact")


@dataclass(frozen=True)
class PPOSettings:
    """PPO-RLHF settings; the defaults run on a CPU with the toy zoo (vary them with dataclasses.replace).

    kl_coef, learning_rate and steps were chosen on the validation prompts against the zoo's `rm`
    (scripts/tune.py ppo and ppo-schedule: data/results/tuning_ppo.json, data/results/tuning_ppo-schedule.json);
    data/results/ppo_sweep.json shows the runs over kl_coef and seeds.
    """

    steps: int = 30  # PPO steps (rollout + update) in a run
    batch_size: int = 32  # prompts per PPO step: one response each, generated in one batch
    ppo_epochs: int = 2  # passes over each batch of rollouts (InstructGPT and N+ use 4; 2 halves the CPU time)
    minibatch_size: int = 16  # rollouts per gradient step: 2 epochs x 32/16 = 4 updates per PPO step
    learning_rate: float = 2e-4  # AdamW, shared by policy and value model
    max_grad_norm: float = 1.0  # gradient clipping over policy and value parameters together
    kl_coef: float = 0.2  # beta of the per-token KL penalty (N+ 0.05; InstructGPT 0.02); 0 = none
    kl_estimator: str = "k1"  # per-token KL in the reward: "k1" (InstructGPT), "k3", "k2" or "exact"
    target_kl: float | None = None  # summed KL per response the adaptive controller steers to; None = fixed beta
    kl_horizon: int = 10000  # adaptive controller: rollouts over which beta may change by a factor e^(+-0.2)
    gamma: float = 1.0  # discount; 1 because the episode is one short response
    lam: float = 0.95  # GAE lambda
    clip_range: float = 0.2  # PPO ratio clip epsilon
    clip_range_value: float = 0.2  # value clip around the rollout-time values
    vf_coef: float = 0.1  # weight of the value loss in the total loss
    whiten_rewards: bool = False  # scale (not shift) per-token rewards to unit variance before GAE
    temperature: float = 0.7  # sampling temperature; log-probs are computed at the same temperature
    max_new_tokens: int = 48  # rollout length cap, below the harness's 64: good answers are far shorter, and every
    # token costs a forward pass of four models
    missing_eos_penalty: float | None = -1.0  # added to the score of responses cut off before EOS ("EOS trick")
    seed: int = 0  # prompt order, sampling and minibatch shuffling

    def __post_init__(self):
        if self.kl_estimator not in KL_ESTIMATORS:
            raise ValueError(f"kl_estimator must be one of {KL_ESTIMATORS}, not {self.kl_estimator!r}")
        if self.batch_size % self.minibatch_size:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of minibatch_size "
                             f"({self.minibatch_size})")


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of x over the positions where mask is 1. x, mask [B, T] -> scalar."""
    mask = mask.to(x.dtype)
    return (x * mask).sum() / mask.sum().clamp(min=1)


def whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    """(x - mean) / std over the masked entries; shift_mean=False keeps the mean (only scales).

    x, mask [B, T] -> [B, T]; padding comes back as 0. Unbiased variance, as TRL's `masked_whiten`.
    """
    mask = mask.to(x.dtype)
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask) * mask.sum() / (mask.sum() - 1).clamp(min=1)
    whitened = (x - mean) * torch.rsqrt(var + 1e-8)
    return (whitened if shift_mean else whitened + mean) * mask


def per_token_kl(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, estimator: str = "k1",
                 exact_kl: torch.Tensor | None = None) -> torch.Tensor:
    """Per-token estimate of KL(policy || reference) on the policy's own tokens (Schulman 2020).

    logprobs, ref_logprobs [B, T]: log-probs of the sampled tokens. estimator "exact" returns
    `exact_kl` [B, T] (`logprobs.exact_kl_per_token`, summed over the vocabulary) -> [B, T].
    """
    if estimator == "exact":
        if exact_kl is None:
            raise ValueError('estimator="exact" needs exact_kl, from logprobs.exact_kl_per_token')
        return exact_kl
    estimators = {"k1": kl_k1, "k2": kl_k2, "k3": kl_k3}
    if estimator not in estimators:
        raise ValueError(f"estimator must be one of {KL_ESTIMATORS}, not {estimator!r}")
    return estimators[estimator](logprobs, ref_logprobs)


def last_token_index(completion_mask: torch.Tensor) -> torch.Tensor:
    """Index of each row's last response token. completion_mask [B, T] -> [B] (long)."""
    positions = torch.arange(completion_mask.shape[1], device=completion_mask.device)
    return (positions * completion_mask.long()).argmax(dim=-1)


def kl_penalized_rewards(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, scores: torch.Tensor,
                         completion_mask: torch.Tensor, kl_coef: float, estimator: str = "k1",
                         exact_kl: torch.Tensor | None = None) -> torch.Tensor:
    """r_t = -beta * KL_t at every response token, plus the RM score at the last one (InstructGPT Eq. 2).

    logprobs, ref_logprobs [B, T]; scores [B]; completion_mask [B, T] -> rewards [B, T], 0 on padding.
    """
    mask = completion_mask.to(logprobs.dtype)
    rewards = -kl_coef * per_token_kl(logprobs, ref_logprobs, estimator, exact_kl) * mask  # [B, T]
    rows = torch.arange(rewards.shape[0], device=rewards.device)
    rewards[rows, last_token_index(completion_mask)] += scores.to(rewards.dtype)
    return rewards


def scores_with_eos_penalty(scores: torch.Tensor, finished: torch.Tensor,
                            missing_eos_penalty: float | None) -> torch.Tensor:
    """The "EOS trick" (N+ paper): add a (negative) penalty to the score of responses cut off before EOS.

    scores [B], finished [B] bool -> [B]. None leaves the scores as they are.
    """
    if missing_eos_penalty is None:
        return scores
    return scores + missing_eos_penalty * (~finished.bool()).to(scores.dtype)


def gae_advantages(rewards: torch.Tensor, values: torch.Tensor, gamma: float = 1.0,
                   lam: float = 0.95) -> torch.Tensor:
    """Generalised advantage estimation (Schulman et al. 2016, Eq. 16); the value after the last token is 0.

    delta_t = r_t + gamma V_{t+1} - V_t;  A_t = delta_t + gamma lam A_{t+1}.
    rewards, values [B, T] -> advantages [B, T].
    """
    advantages = torch.zeros_like(rewards)
    next_value = torch.zeros_like(rewards[:, 0])  # [B]
    next_advantage = torch.zeros_like(rewards[:, 0])  # [B]
    for t in reversed(range(rewards.shape[1])):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        next_advantage = delta + gamma * lam * next_advantage
        advantages[:, t] = next_advantage
        next_value = values[:, t]
    return advantages


def compute_gae(rewards: torch.Tensor, values: torch.Tensor, completion_mask: torch.Tensor | None = None,
                gamma: float = 1.0, lam: float = 0.95) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantages, returns = advantages + values) on right-padded rollouts.

    rewards, values, completion_mask [B, T] -> two [B, T], 0 on padding. Zeroing rewards and values
    on the padding makes the value after each row's last real token 0, as in `gae_advantages`.
    """
    mask = torch.ones_like(rewards) if completion_mask is None else completion_mask.to(rewards.dtype)
    advantages = gae_advantages(rewards * mask, values * mask, gamma, lam) * mask
    return advantages, (advantages + values) * mask


def ppo_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
             completion_mask: torch.Tensor, clip_range: float = 0.2) -> tuple[torch.Tensor, dict]:
    """PPO's clipped surrogate (Schulman et al. 2017, Eq. 7), as a loss: mean of max(-A r, -A clip(r)).

    logprobs (with grad), old_logprobs, advantages, completion_mask [B, T] -> (scalar loss, stats).
    At ratio r = 1 the loss is -mean(advantages) over the response tokens.
    """
    log_ratio = logprobs - old_logprobs  # [B, T]
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    loss = masked_mean(torch.max(unclipped, clipped), completion_mask)
    stats = {"clipfrac": masked_mean((clipped > unclipped).float(), completion_mask).detach(),
             "approx_kl": masked_mean(0.5 * log_ratio.detach() ** 2, completion_mask)}  # TRL's approxkl
    return loss, stats


def value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
               completion_mask: torch.Tensor, clip_range_value: float = 0.2) -> tuple[torch.Tensor, dict]:
    """Clipped value loss 0.5 * max((V - R)^2, (V_clip - R)^2), V_clip = V_old + clip(V - V_old, +-eps).

    values (with grad), old_values, returns, completion_mask [B, T] -> (scalar loss, stats).
    """
    clipped = old_values + torch.clamp(values - old_values, -clip_range_value, clip_range_value)
    unclipped_error = (values - returns) ** 2
    clipped_error = (clipped - returns) ** 2
    loss = 0.5 * masked_mean(torch.max(unclipped_error, clipped_error), completion_mask)
    stats = {"vf_clipfrac": masked_mean((clipped_error > unclipped_error).float(), completion_mask).detach()}
    return loss, stats


class FixedKLController:
    """beta stays at its initial value."""

    def __init__(self, kl_coef: float):
        self.value = kl_coef

    def update(self, current_kl: float, n_steps: int) -> None:
        pass


class AdaptiveKLController:
    """Steer the KL to a target (Ziegler et al. 2019, Sec. 2.2): beta *= 1 + e * n_steps / horizon.

    e = clip(KL / target - 1, -0.2, 0.2): beta grows while the policy is further than `target` from
    the reference and shrinks while it is closer. n_steps = rollouts since the last update.
    """

    def __init__(self, kl_coef: float, target: float, horizon: int):
        self.value, self.target, self.horizon = kl_coef, target, horizon

    def update(self, current_kl: float, n_steps: int) -> None:
        proportional_error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + proportional_error * n_steps / self.horizon


def kl_controller(settings: PPOSettings) -> FixedKLController | AdaptiveKLController:
    """Adaptive when `settings.target_kl` is set, else fixed at `settings.kl_coef`."""
    if settings.target_kl is None:
        return FixedKLController(settings.kl_coef)
    return AdaptiveKLController(settings.kl_coef, settings.target_kl, settings.kl_horizon)
