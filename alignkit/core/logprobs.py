"""Log-probabilities of tokens and sequences, and KL divergences: pure tensor functions.

Shapes: B = batch, T = sequence length, V = vocabulary size.

Every RLHF method compares how likely a response is under two models. These are the pieces:
the log-prob of each response token, their masked *sum* (the sequence log-prob that DPO's Eq. 7
and PPO's ratio use — a sum, not a mean), and the KL between policy and reference, both exactly
(the toy vocabulary is small enough to sum over) and with Schulman's sampled estimators k1, k2, k3.
"""
from __future__ import annotations

import torch

__all__ = [
    "token_logprobs",
    "shifted_token_logprobs",
    "sequence_logprobs",
    "exact_kl_per_token",
    "kl_k1",
    "kl_k2",
    "kl_k3",
    "sampled_kl_estimates",
    "temperature_scaled",
]


def token_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """log p(labels[b, t]) under softmax(logits[b, t]); the caller aligns logits and labels.

    logits [B, T, V], labels [B, T] -> [B, T]. Positions with a negative label (TRL's -100 =
    "ignore") get 0.0, so a sum over them adds nothing; still mask them with `sequence_logprobs`.
    """
    logps = torch.log_softmax(logits.float(), dim=-1)  # float32: bf16 log-probs are too coarse to compare
    ignored = labels < 0
    picked = torch.gather(logps, -1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)  # [B, T]
    return picked.masked_fill(ignored, 0.0)


def shifted_token_logprobs(logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """Log-prob of each token given the tokens before it: logits at t predict token t+1.

    logits [B, T, V], input_ids [B, T] -> [B, T-1]; entry t is log p(input_ids[:, t+1] | input_ids[:, :t+1]).
    """
    return token_logprobs(logits[:, :-1, :], input_ids[:, 1:])


def sequence_logprobs(token_logps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log p(sequence) = sum of the token log-probs where mask is 1 (DPO Eq. 7 uses this sum).

    token_logps [B, T], mask [B, T] (bool or 0/1) -> [B].
    """
    return (token_logps * mask.to(token_logps.dtype)).sum(dim=-1)


def exact_kl_per_token(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """KL(p || q) = sum_v p(v) [log p(v) - log q(v)] at every position, summed over the vocabulary.

    logits_p, logits_q [B, T, V] -> [B, T] float32. p is the policy, q the reference; pass the logits of the
    distributions tokens are sampled from (`temperature_scaled`), so that k1 and k3 estimate this KL.
    """
    # float64: where p and q nearly agree the float32 sum rounds to about -1e-7 at many positions. A KL of two
    # distributions is never negative, so the clamp removes only the rounding left over.
    logp = torch.log_softmax(logits_p.double(), dim=-1)
    logq = torch.log_softmax(logits_q.double(), dim=-1)
    return (logp.exp() * (logp - logq)).sum(dim=-1).clamp(min=0.0).float()


# Sampled KL estimators (Schulman, "Approximating KL Divergence", 2020). Tokens are sampled from
# p (the policy); logp, logq are their log-probs under p and q (the reference); r = q / p.
# Each returns a per-sample estimate with the input's shape; its mean estimates KL(p || q).


def kl_k1(logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
    """k1 = -log r: unbiased, high variance, often negative on single samples."""
    return logp - logq


def kl_k2(logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
    """k2 = (log r)^2 / 2: biased, low variance, never negative."""
    return 0.5 * (logq - logp) ** 2


def kl_k3(logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
    """k3 = (r - 1) - log r: unbiased, low variance, never negative (r - 1 >= log r)."""
    log_r = logq - logp
    return torch.expm1(log_r) - log_r


def sampled_kl_estimates(logits_p: torch.Tensor, logits_q: torch.Tensor, n_draws: int,
                         generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """k1 and k3 on `n_draws` fresh tokens drawn from p at every position: {"k1": [D, B, T], "k3": [D, B, T]}.

    logits_p, logits_q [B, T, V]. Each draw d is an independent one-token-per-position sample, so the mean
    over draws estimates `exact_kl_per_token(logits_p, logits_q)` with a standard error over the D draws.
    """
    logp = torch.log_softmax(logits_p.double(), dim=-1)  # [B, T, V]
    logq = torch.log_softmax(logits_q.double(), dim=-1)
    flat = logp.exp().reshape(-1, logp.shape[-1]).cpu()  # [B*T, V]
    tokens = torch.multinomial(flat, n_draws, replacement=True, generator=generator).T  # [D, B*T]
    tokens = tokens.reshape(n_draws, *logp.shape[:-1]).to(logp.device)  # [D, B, T]
    picked_p = logp.expand(n_draws, *logp.shape).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)  # [D, B, T]
    picked_q = logq.expand(n_draws, *logq.shape).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    return {"k1": kl_k1(picked_p, picked_q).float(), "k3": kl_k3(picked_p, picked_q).float()}


def temperature_scaled(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """logits / temperature: the distribution tokens were actually sampled from.

    Log-probs used for PPO's ratio and KL must come from the same temperature as sampling.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}; use greedy decoding for 0")
    return logits / temperature
