"""PPO-RLHF: KL estimators, rewards, GAE, clipped losses, KL control, and PPO steps on tiny models."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from alignkit.course.check import cases_for
from alignkit.core.logprobs import exact_kl_per_token, kl_k1, kl_k3
from alignkit.methods.ppo import (AdaptiveKLController, FixedKLController, PPOSettings, compute_gae, gae_advantages,
                          kl_controller, kl_penalized_rewards, per_token_kl, ppo_loss, scores_with_eos_penalty,
                          value_loss, whiten)
from alignkit.methods.ppo_train import (RewardProbe, ValueModel, compare_memory, lora_policy, ppo_models, response_logits,
                                rollout, train_ppo)
from alignkit.methods.reward import reward_model_from_sft

PROMPTS = ["Where does the snibvun live?", "What is 3 plus 4?", "How do I bake bread?", "Who is the zorbel?"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models gain nothing from threads, and on a busy 2-core machine two threads run 50x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY_PPO = PPOSettings(batch_size=4, minibatch_size=2, ppo_epochs=2, learning_rate=1e-3, max_new_tokens=5)

# --- KL estimators on Gaussians (Schulman, "Approximating KL Divergence") ----------------------
# Schulman samples x ~ q and estimates KL(q || p) with r = p(x) / q(x). In alignkit's terms q is the
# policy (the sampled distribution, `logprobs`) and p the reference (`ref_logprobs`).


def gaussian_logprobs(mu: float, n: int = 1_000_000):
    x = torch.randn(n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)  # x ~ q = N(0, 1)
    log_q = -0.5 * x**2  # the shared constant -log sqrt(2 pi) cancels in every estimator
    log_p = -0.5 * (x - mu) ** 2  # p = N(mu, 1)
    return log_q, log_p, mu**2 / 2  # true KL(q || p) = mu^2 / 2


def test_k1_and_k3_are_unbiased_and_k3_has_far_lower_variance_at_small_kl():
    log_q, log_p, true_kl = gaussian_logprobs(0.1)
    k1, k3 = per_token_kl(log_q, log_p, "k1"), per_token_kl(log_q, log_p, "k3")
    assert k1.std().item() / true_kl == pytest.approx(20.0, rel=0.02)
    assert k3.std().item() / true_kl == pytest.approx(1.42, rel=0.03)
    assert k1.mean().item() == pytest.approx(true_kl, rel=0.1)
    assert k3.mean().item() == pytest.approx(true_kl, rel=0.01)
    assert (k3 >= 0).all() and (k1 < 0).any()


def test_k2_is_biased_by_a_quarter_of_the_kl_at_mu_1():
    log_q, log_p, true_kl = gaussian_logprobs(1.0)
    k2 = per_token_kl(log_q, log_p, "k2")
    assert (k2.mean().item() - true_kl) / true_kl == pytest.approx(0.25, abs=0.01)


def test_exact_estimator_needs_the_exact_tensor():
    logprobs = torch.zeros(1, 3)
    with pytest.raises(ValueError, match="exact_kl"):
        per_token_kl(logprobs, logprobs, "exact")
    with pytest.raises(ValueError, match="estimator"):
        per_token_kl(logprobs, logprobs, "k4")


# --- rewards ---------------------------------------------------------------------------------


def test_rewards_are_minus_beta_kl_per_token_plus_the_score_at_the_last_token():
    logprobs = torch.tensor([[-1.0, -2.0, -0.5], [-1.0, -1.0, -9.0]])
    ref_logprobs = torch.tensor([[-1.5, -1.0, -0.5], [-2.0, -1.0, -9.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    rewards = kl_penalized_rewards(logprobs, ref_logprobs, torch.tensor([2.0, 3.0]), mask, kl_coef=0.1)
    # k1 = logp - logref: row 0 = [0.5, -1.0, 0.0]; row 1 = [1.0, 0.0, (padding)]
    expected = torch.tensor([[-0.05, 0.1, 2.0], [-0.1, 3.0, 0.0]])
    assert torch.allclose(rewards, expected)


def test_no_kl_penalty_when_the_policy_is_the_reference():
    logits = torch.randn(2, 4, 7)
    logprobs = torch.log_softmax(logits, -1)[..., 0]
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
    scores = torch.tensor([0.7, -0.3])
    for estimator in ("k1", "k2", "k3", "exact"):
        rewards = kl_penalized_rewards(logprobs, logprobs.clone(), scores, mask, 0.5, estimator,
                                       exact_kl=exact_kl_per_token(logits, logits.clone()))
        assert torch.allclose(rewards, torch.tensor([[0, 0, 0.7, 0], [0, 0, 0, -0.3]]), atol=1e-6), estimator


def test_missing_eos_penalty_lowers_only_unfinished_responses():
    scores = torch.tensor([1.0, 1.0, 0.5])
    finished = torch.tensor([True, False, False])
    assert torch.equal(scores_with_eos_penalty(scores, finished, -1.0), torch.tensor([1.0, 0.0, -0.5]))
    assert torch.equal(scores_with_eos_penalty(scores, finished, None), scores)


# --- GAE and whitening -----------------------------------------------------------------------


def test_gae_matches_a_hand_computed_example():
    rewards = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 9.0]])
    values = torch.tensor([[0.5, 0.2, 0.4], [0.5, 0.2, 7.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])  # row 1's third token is padding: its 9 and 7 must not count
    advantages, returns = compute_gae(rewards, values, mask, gamma=1.0, lam=0.5)
    # row 0: t=2: delta = 1 + 0 - 0.4 = 0.6, A = 0.6
    #        t=1: delta = 0 + 0.4 - 0.2 = 0.2, A = 0.2 + 0.5 * 0.6 = 0.5
    #        t=0: delta = 0 + 0.2 - 0.5 = -0.3, A = -0.3 + 0.5 * 0.5 = -0.05
    # row 1: t=1 is the last token (value after it is 0): delta = 1 - 0.2 = 0.8, A = 0.8
    #        t=0: delta = 0 + 0.2 - 0.5 = -0.3, A = -0.3 + 0.5 * 0.8 = 0.1
    assert torch.allclose(advantages, torch.tensor([[-0.05, 0.5, 0.6], [0.1, 0.8, 0.0]]))
    assert torch.allclose(returns, torch.tensor([[0.45, 0.7, 1.0], [0.6, 1.0, 0.0]]))


def test_gae_discounts_with_gamma():
    # lam = 1 and V = 0: the advantage is the discounted return 1 + 0.5 * 2 = 2 at t = 0
    advantages = gae_advantages(torch.tensor([[1.0, 2.0]]), torch.zeros(1, 2), gamma=0.5, lam=1.0)
    assert torch.allclose(advantages, torch.tensor([[2.0, 2.0]]))


def test_compute_gae_without_a_mask_is_the_checkers_reference():
    for case in cases_for("gae_advantages"):
        advantages, _ = compute_gae(case["rewards"], case["values"], None, case["gamma"], case["lam"])
        assert torch.allclose(advantages, gae_advantages(**case))


def test_whiten_over_the_mask():
    x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 100.0, 100.0]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    out = whiten(x, mask)
    real = out[mask.bool()]
    assert real.mean().abs() < 1e-6 and real.std().item() == pytest.approx(1.0, rel=1e-4)
    assert (out[~mask.bool()] == 0).all()
    assert whiten(x, mask, shift_mean=False)[mask.bool()].mean().item() == pytest.approx(2.5, rel=1e-5)


# --- clipped objectives ----------------------------------------------------------------------


def test_policy_loss_at_ratio_one_is_minus_the_mean_advantage():
    logprobs = torch.randn(3, 4, requires_grad=True)
    advantages = torch.randn(3, 4)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]])
    loss, stats = ppo_loss(logprobs, logprobs.detach().clone(), advantages, mask)
    assert loss.item() == pytest.approx(-advantages[mask.bool()].mean().item(), rel=1e-5)
    assert stats["clipfrac"].item() == 0 and stats["approx_kl"].item() == 0
    loss.backward()  # d loss / d logprob = -A / (masked tokens) at ratio 1
    assert torch.allclose(logprobs.grad, -advantages * mask / mask.sum())


def test_policy_loss_clips_the_ratio():
    old, mask = torch.zeros(1, 2), torch.ones(1, 2)
    logprobs = torch.tensor([[math.log(2.0), math.log(0.5)]], requires_grad=True)  # ratios 2 and 0.5
    loss, stats = ppo_loss(logprobs, old, torch.tensor([[1.0, -1.0]]), mask, clip_range=0.2)
    # token 0: A = 1, r = 2 -> max(-2, -1.2) = -1.2; token 1: A = -1, r = 0.5 -> max(0.5, 0.8) = 0.8
    assert loss.item() == pytest.approx((-1.2 + 0.8) / 2)
    assert stats["clipfrac"].item() == 1.0
    loss.backward()
    assert torch.all(logprobs.grad == 0)  # clipped tokens give no gradient


def test_value_loss_clips_around_the_old_values():
    old, returns, mask = torch.zeros(1, 2), torch.ones(1, 2), torch.ones(1, 2)
    values = torch.tensor([[1.0, 0.1]], requires_grad=True)
    loss, stats = value_loss(values, old, returns, mask, clip_range_value=0.2)
    # token 0: V = 1 jumped past the clip: max(0, (0.2 - 1)^2) = 0.64; token 1: inside, (0.1 - 1)^2 = 0.81
    assert loss.item() == pytest.approx(0.5 * (0.64 + 0.81) / 2)
    assert stats["vf_clipfrac"].item() == 0.5
    loss.backward()
    assert values.grad[0, 0] == 0 and values.grad[0, 1] < 0


# --- KL control ------------------------------------------------------------------------------


def test_adaptive_kl_controller_moves_beta_toward_the_target():
    above, below = AdaptiveKLController(0.1, target=6.0, horizon=1000), AdaptiveKLController(0.1, 6.0, 1000)
    above.update(current_kl=600.0, n_steps=100)  # error clipped at +0.2
    below.update(current_kl=3.0, n_steps=100)  # error -0.5, clipped at -0.2
    assert above.value == pytest.approx(0.1 * 1.02) and below.value == pytest.approx(0.1 * 0.98)
    fixed = FixedKLController(0.1)
    fixed.update(600.0, 100)
    assert fixed.value == 0.1
    assert isinstance(kl_controller(replace(PPOSettings(), target_kl=6.0)), AdaptiveKLController)


def test_config_refuses_bad_settings():
    with pytest.raises(ValueError, match="kl_estimator"):
        PPOSettings(kl_estimator="k4")
    with pytest.raises(ValueError, match="multiple"):
        PPOSettings(batch_size=10, minibatch_size=4)


# --- the models and the loop on tiny models --------------------------------------------------


@pytest.fixture
def four_models(tiny_lm, small_tokenizer):
    return ppo_models(tiny_lm, reward_model_from_sft(tiny_lm, small_tokenizer))


def params(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_value_model_reads_the_reward_models_head_at_every_position(four_models, small_tokenizer):
    _, _, reward_model, value_model = four_models
    enc = small_tokenizer(["<|user|>hi<|end|><|assistant|>the zorbel<|end|>"], return_tensors="pt",
                          add_special_tokens=False)
    values = value_model(enc.input_ids, enc.attention_mask)
    assert values.shape == enc.input_ids.shape
    assert values[0, -1].item() == pytest.approx(reward_model(**enc).logits[0, 0].item(), abs=1e-5)
    assert isinstance(value_model, ValueModel)


def test_rollout_logprobs_match_each_sequence_alone(four_models, small_tokenizer):
    policy, ref_model, reward_model, value_model = four_models
    batch = rollout(policy, ref_model, reward_model, value_model, small_tokenizer, PROMPTS, TINY_PPO, seed=3)
    assert batch.logprobs.shape == batch.completion_mask.shape == batch.values.shape
    # the reference is a copy of the policy: no KL, so rewards are the score alone
    assert torch.allclose(batch.logprobs, batch.ref_logprobs) and batch.exact_kl.abs().max() < 1e-5
    assert torch.allclose(batch.scores, batch.rm_scores - (~batch.finished).float())  # EOS trick, penalty -1
    assert batch.finished.any() and not batch.finished.all()  # (seed 3 gives both kinds)
    i = int(batch.completion_mask.sum(-1).argmin())  # the shortest row carries the most padding
    row = batch.attention_mask[i].bool()
    ids = batch.input_ids[i][row].unsqueeze(0)
    n_prompt = int(batch.attention_mask[i, :batch.prompt_width].sum())
    alone = torch.log_softmax(response_logits(policy, ids, torch.ones_like(ids), n_prompt, 0.7), -1)
    picked = alone[0].gather(-1, ids[0, n_prompt:, None]).squeeze(-1)
    n = int(batch.completion_mask[i].sum())
    assert torch.allclose(batch.logprobs[i, :n], picked, atol=1e-5)


def _pooled_rollouts(policy, ref_model, reward_model, value_model, tokenizer, settings, seeds=range(6)):
    """Rollouts of 4 prompts x 8 over `seeds`: each kept response token's entries, flattened."""
    batches = [rollout(policy, ref_model, reward_model, value_model, tokenizer, PROMPTS * 8, settings, seed=s)
               for s in seeds]
    keys = ("logprobs", "ref_logprobs", "exact_kl", "entropy")
    return {k: torch.cat([getattr(b, k)[b.completion_mask.bool()] for b in batches]) for k in keys}


def within(values: torch.Tensor, sigmas: float = 4.0) -> bool:
    """The mean of per-token terms is within `sigmas` standard errors of 0. Each term has mean 0 given the
    tokens before it, so the terms are uncorrelated and the plain SE applies."""
    return values.mean().abs().item() < sigmas * values.std().item() / len(values) ** 0.5


def sharpened(model, factor: float = 4.0):
    """The model with its output logits scaled up: an untrained tiny model is so near uniform over its
    vocabulary that log-probs at the wrong temperature would pass the checks below unnoticed."""
    with torch.no_grad():
        model.lm_head.weight.mul_(factor)
    return model


def test_rollout_tokens_are_drawn_from_the_distribution_its_logprobs_describe(tiny_lm, small_tokenizer):
    # E[log p(y)] = -H(p) when y ~ p: true at the sampling temperature, false at any other.
    policy = sharpened(tiny_lm)
    models = ppo_models(policy, reward_model_from_sft(policy, small_tokenizer))
    for temperature in (0.7, 1.5):
        tokens = _pooled_rollouts(*models, small_tokenizer, replace(TINY_PPO, temperature=temperature))
        assert within(tokens["logprobs"] + tokens["entropy"]), temperature


def test_k1_and_k3_on_rollouts_estimate_the_rollouts_exact_kl(tiny_lm, other_tiny_lm, small_tokenizer):
    policy, reference = sharpened(other_tiny_lm), sharpened(tiny_lm)
    _, _, reward_model, value_model = ppo_models(reference, reward_model_from_sft(reference, small_tokenizer))
    tokens = _pooled_rollouts(policy, reference, reward_model, value_model, small_tokenizer, TINY_PPO)
    assert (tokens["exact_kl"] >= 0).all() and tokens["exact_kl"].mean() > 0.01  # the two models differ
    for estimator in (kl_k1, kl_k3):
        assert within(estimator(tokens["logprobs"], tokens["ref_logprobs"]) - tokens["exact_kl"]), estimator.__name__


def test_one_ppo_step_changes_the_policy_and_value_model_only(four_models, small_tokenizer):
    policy, ref_model, reward_model, value_model = four_models
    before = [params(m) for m in four_models]
    log = train_ppo(policy, ref_model, reward_model, value_model, small_tokenizer, PROMPTS, replace(TINY_PPO, steps=1))
    after = [params(m) for m in four_models]
    assert not same(before[0], after[0]) and not same(before[3], after[3])  # policy, value model trained
    assert same(before[1], after[1]) and same(before[2], after[2])  # reference, reward model frozen
    expected = {"gold", "rm_score", "kl", "kl_exact", "entropy", "clipfrac", "approx_kl", "response_length",
                "value_loss", "policy_loss", "kl_coef", "rollout_s", "update_s"}
    assert expected <= set(log[0]) and log[0]["kl"] == pytest.approx(0.0, abs=1e-5)


def test_gold_reward_never_influences_the_update(tiny_lm, small_tokenizer):
    rm = reward_model_from_sft(tiny_lm, small_tokenizer)
    results = []
    for gold_fn in (lambda p, r: 0.0, lambda p, r: float(len(r))):
        models = ppo_models(tiny_lm, rm)
        log = train_ppo(*models, small_tokenizer, PROMPTS, replace(TINY_PPO, steps=2), gold_fn=gold_fn)
        results.append((params(models[0]), log))
    assert same(results[0][0], results[1][0])
    assert [r["rm_score"] for r in results[0][1]] == [r["rm_score"] for r in results[1][1]]
    assert results[0][1][-1]["gold"] != results[1][1][-1]["gold"]  # it was measured, differently


def test_lora_policy_uses_its_adapter_free_backbone_as_reference(tiny_lm, small_tokenizer):
    rm = reward_model_from_sft(tiny_lm, small_tokenizer)
    _, _, reward_model, value_model = ppo_models(tiny_lm, rm)
    policy = lora_policy(tiny_lm, r=4)
    base = {k: v for k, v in params(policy).items() if "lora_" not in k}
    config = replace(TINY_PPO, learning_rate=5e-2, steps=2)
    log = train_ppo(policy, None, reward_model, value_model, small_tokenizer, PROMPTS, config)
    after = params(policy)
    assert same(base, after) and not same(params(lora_policy(tiny_lm, r=4)), after)  # only adapters moved
    assert log[1]["kl_exact"] > 0  # adapters on vs off now differ
    memory = compare_memory(tiny_lm, rm)
    assert memory["LoRA"]["total"] < memory["four models"]["total"]


def test_the_reward_probe_scores_the_same_prompts_and_never_changes_training(tiny_lm, small_tokenizer):
    rm = reward_model_from_sft(tiny_lm, small_tokenizer)
    config = replace(TINY_PPO, steps=3)
    plain = ppo_models(tiny_lm, rm)
    train_ppo(*plain, small_tokenizer, PROMPTS, config)
    probed, probe, rows = ppo_models(tiny_lm, rm), RewardProbe(PROMPTS[:3], every=2, max_new_tokens=5), []
    log = train_ppo(*probed, small_tokenizer, PROMPTS, config, on_step=rows.append, probe=probe)
    assert same(params(plain[0]), params(probed[0]))  # greedy, without gradients: measured only
    assert sorted(probe.scores) == [0, 2, 3] and all(len(v) == 3 for v in probe.scores.values())  # start, every 2, last
    assert rows[0] == {"step": 0, "probe_rm_score": pytest.approx(sum(probe.scores[0]) / 3)}
    assert [("probe_rm_score" in row) for row in log] == [False, True, True]
    again = RewardProbe(PROMPTS[:3], every=2, max_new_tokens=5)
    assert again.measure(0, tiny_lm, rm, small_tokenizer) == pytest.approx(rows[0]["probe_rm_score"])  # greedy: repeatable
