"""DPO: the loss (Eq. 7), its gradient, parity with TRL's DPOTrainer, the checker, training and the zoo builder."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from datasets import Dataset
from trl import DPOTrainer


from alignkit.course.check import cases_for, check
from alignkit.methods.dpo import DPOSettings, dpo_config, dpo_loss, implicit_rewards, to_conversational, train_dpo
from alignkit.core.generation import completion_logprobs
from alignkit.methods.preferences import implicit_reward_accuracy
from alignkit.infra.errors import AlignkitError

from alignkit.core.logprobs import sequence_logprobs, shifted_token_logprobs

ROWS = [{"prompt": f"What is {i} plus 2?", "chosen": f"It is {i + 2}.", "rejected": "No idea, sorry."}
        for i in range(8)]


def random_logps(n: int = 5, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [-torch.rand(n, generator=g) * 30 for _ in range(4)]


def batch_logps(model, batch: dict) -> torch.Tensor:
    """Summed completion log-probs of a TRL-collated batch, computed with alignkit's own functions."""
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    return sequence_logprobs(shifted_token_logprobs(logits, batch["input_ids"]), batch["completion_mask"][:, 1:])


# --- the loss --------------------------------------------------------------------------------


def test_loss_is_ln2_when_policy_equals_reference():
    chosen, rejected, _, _ = random_logps()
    for beta in (0.1, 1.0):
        assert dpo_loss(chosen, rejected, chosen.clone(), rejected.clone(), beta).item() == pytest.approx(math.log(2))


def test_loss_matches_a_hand_computed_value_and_implicit_rewards():
    # r_w = 0.5 (−10 − −12) = 1, r_l = 0.5 (−9 − −8) = −0.5: loss = −log σ(1.5)
    args = [torch.tensor([-10.0]), torch.tensor([-9.0]), torch.tensor([-12.0]), torch.tensor([-8.0])]
    assert dpo_loss(*args, beta=0.5).item() == pytest.approx(math.log(1 + math.exp(-1.5)), rel=1e-6)
    assert implicit_rewards(args[0], args[2], 0.5).item() == pytest.approx(1.0)


def test_gradient_weights_each_pair_by_sigma_of_the_wrong_margin():
    pc, pr, rc, rr = random_logps(6, seed=1)
    pc.requires_grad_(True)
    pr.requires_grad_(True)
    beta = 0.3
    dpo_loss(pc, pr, rc, rr, beta).backward()
    r_w, r_l = beta * (pc.detach() - rc), beta * (pr.detach() - rr)
    expected = -beta * torch.sigmoid(r_l - r_w) / len(pc)
    assert torch.allclose(pc.grad, expected, atol=1e-7)
    assert torch.allclose(pr.grad, -expected, atol=1e-7)  # the rejected response is pushed down as hard


def test_checker_accepts_the_loss_and_rejects_known_wrong_versions():
    def token_averaged(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
                       reference_rejected_logps, beta):
        n_tokens = 8  # a learner who turned the summed log-probs into per-token means
        margin = (policy_chosen_logps - reference_chosen_logps - policy_rejected_logps + reference_rejected_logps)
        return -F.logsigmoid(beta * margin / n_tokens).mean()

    def batch_averaged(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
                       reference_rejected_logps, beta):
        chosen = (policy_chosen_logps - reference_chosen_logps).mean()  # averaged over the batch, not per pair
        rejected = (policy_rejected_logps - reference_rejected_logps).mean()
        return -F.logsigmoid(beta * (chosen - rejected))

    def sign_flipped(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
                     reference_rejected_logps, beta):
        margin = (policy_chosen_logps - reference_chosen_logps - policy_rejected_logps + reference_rejected_logps)
        return -F.logsigmoid(-beta * margin).mean()

    def no_reference(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
                     reference_rejected_logps, beta):
        return -F.logsigmoid(beta * (policy_chosen_logps - policy_rejected_logps)).mean()

    cases = cases_for("dpo_loss")
    assert check(dpo_loss, dpo_loss, cases)
    for wrong in (token_averaged, batch_averaged, sign_flipped, no_reference):
        assert not check(wrong, dpo_loss, cases), wrong.__name__


# --- TRL -------------------------------------------------------------------------------------


def test_parity_with_trl_dpo_trainer(tiny_lm, other_tiny_lm, small_tokenizer):
    """TRL's loss on a collated batch equals dpo_loss on log-probs alignkit computes for the same tokens."""
    settings = DPOSettings(beta=0.5, batch_size=4)
    trainer = DPOTrainer(model=tiny_lm, ref_model=other_tiny_lm, args=dpo_config(settings, "/tmp/unused"),
                         train_dataset=Dataset.from_list(to_conversational(ROWS)), processing_class=small_tokenizer)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])  # rows: 4 chosen, then 4 rejected
    trl_loss = trainer.compute_loss(trainer.model, batch).detach()
    policy, reference = batch_logps(tiny_lm, batch), batch_logps(other_tiny_lm, batch)
    ours = dpo_loss(policy[:4], policy[4:], reference[:4], reference[4:], settings.beta)
    assert abs(trl_loss.item() - math.log(2)) > 1e-3  # two different models: not the trivial value
    assert abs(ours.item() - trl_loss.item()) < 1e-5
    # completion_logprobs tokenizes the strings into the very completion tokens TRL scores
    prompts = [r["prompt"] for r in ROWS[:4]] * 2
    responses = [r["chosen"] for r in ROWS[:4]] + [r["rejected"] for r in ROWS[:4]]
    assert torch.allclose(completion_logprobs(tiny_lm, small_tokenizer, prompts, responses), policy, atol=1e-4)


def test_config_is_sigmoid_dpo_with_explicit_precision():
    config = dpo_config(DPOSettings(beta=0.25), "/tmp/unused")
    assert config.loss_type == ["sigmoid"] and config.beta == 0.25 and config.disable_dropout
    assert config.bf16 is False and config.fp16 is False and config.save_strategy == "no"
    assert not config.precompute_ref_log_probs and not config.gradient_checkpointing


def test_train_dpo_changes_the_policy_not_the_reference(tiny_lm, other_tiny_lm, small_tokenizer):
    policy, ref = tiny_lm, other_tiny_lm
    policy_before = [p.detach().clone() for p in policy.parameters()]
    ref_before = [p.detach().clone() for p in ref.parameters()]
    log = train_dpo(policy, ref, small_tokenizer, ROWS, DPOSettings(batch_size=8, warmup_steps=0, learning_rate=1e-2))
    assert log[-1]["step"] == 1
    assert any(not torch.equal(a, b) for a, b in zip(policy_before, policy.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(ref_before, ref.parameters()))
    assert not policy.training
    with pytest.raises(AlignkitError):
        train_dpo(policy, None, small_tokenizer, ROWS)
    with pytest.raises(AlignkitError):
        train_dpo(policy, ref, small_tokenizer, [])


def test_implicit_reward_accuracy_reads_the_policy_as_a_reward_model(tiny_lm, other_tiny_lm, small_tokenizer):
    assert implicit_reward_accuracy(tiny_lm, tiny_lm, small_tokenizer, ROWS, 0.1) == 0.5  # pi = pi_ref: every pair ties
    accuracy = implicit_reward_accuracy(tiny_lm, other_tiny_lm, small_tokenizer, ROWS, 0.1)
    swapped = [{**r, "chosen": r["rejected"], "rejected": r["chosen"]} for r in ROWS]
    assert implicit_reward_accuracy(tiny_lm, other_tiny_lm, small_tokenizer, swapped, 0.1) == pytest.approx(1 - accuracy)
    with pytest.raises(AlignkitError):
        implicit_reward_accuracy(tiny_lm, other_tiny_lm, small_tokenizer, [], 0.1)
