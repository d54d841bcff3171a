"""Token and sequence log-probs, exact KL, and Schulman's k1/k2/k3 estimators on known Gaussians."""
from __future__ import annotations

import math

import pytest
import torch

from alignkit.core.logprobs import (
    exact_kl_per_token,
    kl_k1,
    kl_k2,
    kl_k3,
    sampled_kl_estimates,
    sequence_logprobs,
    shifted_token_logprobs,
    temperature_scaled,
    token_logprobs,
)


def test_token_logprobs_gathers_log_softmax():
    logits = torch.tensor([[[0.0, 0.0, math.log(2.0)], [1.0, 2.0, 3.0]]])  # [1, 2, 3]
    labels = torch.tensor([[2, 0]])
    out = token_logprobs(logits, labels)
    assert out.shape == (1, 2)
    expected = torch.tensor([[math.log(2 / 4), 1.0 - math.log(math.e + math.e**2 + math.e**3)]])
    torch.testing.assert_close(out, expected)


def test_ignored_labels_contribute_nothing():
    logits = torch.randn(2, 4, 5, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([[1, 2, -100, -100], [0, -100, 3, 4]])
    out = token_logprobs(logits, labels)
    assert torch.equal(out[labels < 0], torch.zeros(3))
    assert (out[labels >= 0] < 0).all()


def test_shift_alignment_on_a_hand_example():
    # Vocabulary of 4; the "model" at position t puts almost all mass on token (t + 1) % 4.
    input_ids = torch.tensor([[3, 1, 2, 0]])
    logits = torch.full((1, 4, 4), -20.0)
    for t, predicted in enumerate([1, 2, 0, 3]):  # position t predicts input_ids[t + 1]; the last is unused
        logits[0, t, predicted] = 20.0
    out = shifted_token_logprobs(logits, input_ids)
    assert out.shape == (1, 3)
    assert (out > -1e-6).all()  # every next token was the predicted one: log-prob ~ 0
    unshifted = token_logprobs(logits, input_ids)
    assert (unshifted < -30).any()  # without the shift, logits and tokens are misaligned


def test_sequence_logprobs_is_a_masked_sum():
    token_logps = torch.tensor([[-1.0, -2.0, -4.0], [-0.5, -100.0, -0.25]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 1]])
    out = sequence_logprobs(token_logps, mask)
    torch.testing.assert_close(out, torch.tensor([-3.0, -0.75]))  # a sum, not a mean
    torch.testing.assert_close(sequence_logprobs(token_logps, mask.bool()), out)


def test_exact_kl_zero_for_equal_and_matches_torch_distributions():
    gen = torch.Generator().manual_seed(0)
    p = torch.randn(2, 3, 7, generator=gen)
    q = torch.randn(2, 3, 7, generator=gen)
    assert exact_kl_per_token(p, p).abs().max() < 1e-6
    assert exact_kl_per_token(p, p + 5.0).abs().max() < 1e-5  # a shift of all logits is the same distribution
    kl = exact_kl_per_token(p, q)
    assert kl.shape == (2, 3) and (kl > 0).all()
    reference = torch.distributions.kl_divergence(torch.distributions.Categorical(logits=p),
                                                  torch.distributions.Categorical(logits=q))
    torch.testing.assert_close(kl, reference, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(kl, exact_kl_per_token(q, p))  # KL(p||q) != KL(q||p): direction matters


def gaussian_samples(mu: float, n: int = 1_000_000):
    """Samples x ~ p = N(0, 1); logp, logq under p and q = N(mu, 1). True KL(p||q) = mu^2 / 2."""
    x = torch.randn(n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    p, q = torch.distributions.Normal(0.0, 1.0), torch.distributions.Normal(mu, 1.0)
    return p.log_prob(x), q.log_prob(x), mu**2 / 2


def test_estimators_small_kl_schulman_table():
    logp, logq, true_kl = gaussian_samples(0.1)
    k1, k2, k3 = kl_k1(logp, logq), kl_k2(logp, logq), kl_k3(logp, logq)
    assert k1.std().item() / true_kl == pytest.approx(20.0, rel=0.03)
    assert k3.std().item() / true_kl == pytest.approx(1.42, rel=0.03)
    assert k2.std().item() / true_kl == pytest.approx(1.42, rel=0.03)
    assert k3.mean().item() / true_kl == pytest.approx(1.0, abs=0.02)
    assert (k1 < 0).float().mean() > 0.4  # k1 is often negative on single samples
    assert (k3 >= 0).all() and (k2 >= 0).all()


def test_estimators_large_kl_bias():
    logp, logq, true_kl = gaussian_samples(1.0)
    k1, k2, k3 = kl_k1(logp, logq), kl_k2(logp, logq), kl_k3(logp, logq)
    assert k1.mean().item() / true_kl == pytest.approx(1.0, abs=0.01)  # unbiased (and positive, not -KL)
    assert k3.mean().item() / true_kl == pytest.approx(1.0, abs=0.02)  # unbiased
    assert (k2.mean().item() - true_kl) / true_kl == pytest.approx(0.25, abs=0.02)  # biased
    assert k1.std().item() / true_kl == pytest.approx(2.0, rel=0.03)
    assert k3.std().item() / true_kl == pytest.approx(1.7, rel=0.03)


def test_temperature_scaling():
    logits = torch.tensor([[1.0, 2.0, 4.0]])
    torch.testing.assert_close(temperature_scaled(logits, 0.5), logits * 2)
    flatter = torch.softmax(temperature_scaled(logits, 2.0), -1)
    assert flatter.max() < torch.softmax(logits, -1).max()
    with pytest.raises(ValueError, match="positive"):
        temperature_scaled(logits, 0.0)


def test_exact_kl_is_never_negative_where_the_two_distributions_nearly_agree():
    # Peaked, nearly equal distributions: the float32 sum of p (log p - log q) rounds to about -1e-7 here.
    generator = torch.Generator().manual_seed(0)
    logits_q = 8.0 * torch.randn(64, 48, 1885, generator=generator)
    logits_p = logits_q + 1e-4 * torch.randn(64, 48, 1885, generator=generator)
    logp, logq = torch.log_softmax(logits_p, -1), torch.log_softmax(logits_q, -1)
    assert ((logp.exp() * (logp - logq)).sum(-1) < 0).any()  # the rounding this test guards against
    assert (exact_kl_per_token(logits_p, logits_q) >= 0).all()


def test_k1_and_k3_on_fresh_draws_average_to_the_exact_kl():
    generator = torch.Generator().manual_seed(1)
    logits_p, logits_q = 2.0 * torch.randn(2, 3, 50, generator=generator), 2.0 * torch.randn(2, 3, 50, generator=generator)
    exact = exact_kl_per_token(logits_p, logits_q)  # [2, 3]
    draws = sampled_kl_estimates(logits_p, logits_q, n_draws=20_000, generator=generator)
    for name in ("k1", "k3"):
        mean, se = draws[name].mean(0), draws[name].std(0) / 20_000**0.5  # [2, 3] each
        assert draws[name].shape == (20_000, 2, 3)
        assert ((mean - exact).abs() < 4 * se).all(), name


def test_exact_kl_and_its_estimators_follow_the_temperature():
    # Sampling at temperature 0.7 means p = softmax(logits / 0.7): the KL that k1 and k3 estimate is the
    # one between the two scaled distributions, not between the unscaled ones.
    generator = torch.Generator().manual_seed(2)
    logits_p, logits_q = torch.randn(1, 4, 30, generator=generator), torch.randn(1, 4, 30, generator=generator)
    scaled_p, scaled_q = temperature_scaled(logits_p, 0.7), temperature_scaled(logits_q, 0.7)
    draws = sampled_kl_estimates(scaled_p, scaled_q, n_draws=20_000, generator=generator)["k1"]
    se = draws.std(0) / 20_000**0.5
    assert ((draws.mean(0) - exact_kl_per_token(scaled_p, scaled_q)).abs() < 4 * se).all()
    assert ((draws.mean(0) - exact_kl_per_token(logits_p, logits_q)).abs() > 4 * se).any()
