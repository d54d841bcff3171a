"""KTO: the loss and its reference point z0, parity with TRL's KTOTrainer, unpaired data, training, the builder."""
from __future__ import annotations

import pytest
import torch
from datasets import Dataset
from trl import KTOTrainer

from alignkit.methods import kto
from alignkit.course.check import cases_for, check
from alignkit.infra.errors import AlignkitError
from alignkit.core.generation import Samples
from alignkit.methods.kto import (KTOBatchSizeError, KTOSettings, drop_desirable, kto_config, kto_loss, one_output_rows,
                          recommended_desirable_weight, to_unpaired_conversational, train_kto, unpaired_rows)
from alignkit.core.logprobs import sequence_logprobs, shifted_token_logprobs
from alignkit.world.labelers import LabelerSettings

PAIRS = [{"prompt": f"What is {i} plus 2?", "chosen": f"It is {i + 2}.", "rejected": "No idea, sorry."}
         for i in range(4)]


def random_logps(n: int = 6, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [-torch.rand(n, generator=g) * 30 for _ in range(4)]


def batch_logps(model, batch: dict, prefix: str = "") -> torch.Tensor:
    """Summed completion log-probs of a TRL-collated batch, computed with alignkit's own functions."""
    ids = batch[f"{prefix}input_ids"]
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=batch[f"{prefix}attention_mask"]).logits
    return sequence_logprobs(shifted_token_logprobs(logits, ids), batch[f"{prefix}completion_mask"][:, 1:])


# --- the loss --------------------------------------------------------------------------------


@pytest.mark.parametrize("desirable_weight", [1.0, 1.33])
def test_loss_is_half_per_weighted_example_at_the_reference(desirable_weight):
    logps, _, kl_logps, _ = random_logps()
    labels = torch.tensor([True, True, False, True, False, False])
    loss = kto_loss(logps, logps.clone(), labels, kl_logps, kl_logps.clone(), beta=0.1,
                    desirable_weight=desirable_weight, undesirable_weight=1.0)
    # TRL's reduction: the mean over examples of λ_y (1 − v), so 0.5 λ_y each, divided by B (not by Σ λ)
    assert loss.item() == pytest.approx(0.5 * (3 * desirable_weight + 3 * 1.0) / 6)


def test_z0_is_clamped_at_zero_and_carries_no_gradient():
    logps, ref, kl_policy, kl_reference = random_logps()
    labels = torch.arange(6) % 2 == 0
    for t in (logps, kl_policy, kl_reference):
        t.requires_grad_(True)
    kto_loss(logps, ref, labels, kl_policy, kl_reference, beta=0.5).backward()
    assert logps.grad is not None and logps.grad.abs().sum() > 0
    assert kl_policy.grad is None and kl_reference.grad is None  # z0 is detached: nothing flows back
    # A negative mean KL log-ratio counts as 0: the loss equals the one with matched KL inputs (z0 = 0)
    kl_reference = kl_reference.detach()
    below = kl_reference - 1.0
    z0_zero = kto_loss(logps, ref, labels, kl_reference, kl_reference, beta=0.5)
    assert kto_loss(logps, ref, labels, below, kl_reference, beta=0.5).item() == pytest.approx(z0_zero.item())
    assert kto_loss(logps, ref, labels, kl_reference + 2.0, kl_reference, beta=0.5) != z0_zero


def test_desirable_examples_are_pushed_up_and_undesirable_down():
    logps, ref, kl_policy, kl_reference = random_logps()
    logps.requires_grad_(True)
    labels = torch.arange(6) % 2 == 0
    kto_loss(logps, ref, labels, kl_policy, kl_reference, beta=0.5).backward()
    assert (logps.grad[labels] < 0).all() and (logps.grad[~labels] > 0).all()


def test_refuses_a_batch_of_one():
    one = [torch.tensor([-3.0])] * 4
    with pytest.raises(KTOBatchSizeError, match="at least 2 examples per batch"):
        kto_loss(one[0], one[1], torch.tensor([True]), one[2], one[3], beta=0.1)
    with pytest.raises(KTOBatchSizeError, match="per_device_train_batch_size"):
        kto_config(KTOSettings(batch_size=1), "/tmp/unused")


def test_checker_accepts_the_loss_and_rejects_known_wrong_versions():
    def loss_with(z0_fn, weights="right"):
        def learner(policy_logps, reference_logps, labels, kl_policy_logps, kl_reference_logps, beta,
                    desirable_weight, undesirable_weight):
            z0 = z0_fn(policy_logps, reference_logps, kl_policy_logps, kl_reference_logps).detach()
            logratios = policy_logps - reference_logps
            lam_d, lam_u = (desirable_weight, undesirable_weight) if weights != "swapped" else (undesirable_weight,
                                                                                                  desirable_weight)
            losses = torch.where(labels, lam_d * (1 - torch.sigmoid(beta * (logratios - z0))),
                                 lam_u * (1 - torch.sigmoid(beta * (z0 - logratios))))
            if weights == "normalised":  # divided by the sum of the weights instead of the batch size
                return losses.sum() / torch.where(labels, lam_d, lam_u).sum()
            return losses.mean()
        return learner

    mismatched = lambda p, r, kp, kr: (kp - kr).mean().clamp(min=0)  # noqa: E731 - z0 from the mismatched pairs
    matched = lambda p, r, kp, kr: (p - r).mean().clamp(min=0)  # noqa: E731 - z0 from the examples themselves
    unclamped = lambda p, r, kp, kr: (kp - kr).mean()  # noqa: E731 - z0 without the clamp at 0
    cases = cases_for("kto_loss")
    assert check(loss_with(mismatched), kto_loss, cases)
    assert check(kto_loss, kto_loss, cases)
    for name, wrong in [("matched z0", loss_with(matched)), ("swapped weights", loss_with(mismatched, "swapped")),
                        ("normalised by the weights", loss_with(mismatched, "normalised"))]:
        assert not check(wrong, kto_loss, cases), name
    # The course's last case has a negative mean KL log-ratio, so a missing clamp is caught there
    assert check(loss_with(unclamped), kto_loss, cases[:-1])  # the other cases cannot tell
    assert not check(loss_with(unclamped), kto_loss, cases[-1:])


# --- TRL -------------------------------------------------------------------------------------


@pytest.mark.parametrize("swap", [False, True], ids=["z0-clamped", "z0-positive"])
def test_parity_with_trl_kto_trainer(tiny_lm, other_tiny_lm, small_tokenizer, swap):
    """TRL's loss on a collated batch (with its rotated KL pairs) equals kto_loss on alignkit's log-probs."""
    policy, ref = (other_tiny_lm, tiny_lm) if swap else (tiny_lm, other_tiny_lm)
    settings = KTOSettings(beta=0.5, desirable_weight=1.33, batch_size=4)
    trainer = KTOTrainer(model=policy, ref_model=ref, args=kto_config(settings, "/tmp/unused"),
                         train_dataset=Dataset.from_list(to_unpaired_conversational(unpaired_rows(PAIRS))),
                         processing_class=small_tokenizer)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    trl_loss = trainer.compute_loss(trainer.model, batch).detach()
    kl_policy, kl_ref = batch_logps(policy, batch, "KL_"), batch_logps(ref, batch, "KL_")
    assert ((kl_policy - kl_ref).mean() > 0) == swap  # both branches of the clamp are exercised
    ours = kto_loss(batch_logps(policy, batch), batch_logps(ref, batch), batch["label"], kl_policy, kl_ref,
                    settings.beta, settings.desirable_weight, settings.undesirable_weight)
    assert abs(ours.item() - trl_loss.item()) < 1e-5


# --- data ------------------------------------------------------------------------------------


def test_unpaired_rows_split_each_pair():
    rows = unpaired_rows(PAIRS)
    assert len(rows) == 2 * len(PAIRS) and sum(r["label"] for r in rows) == len(PAIRS)
    assert rows[0] == {"prompt": PAIRS[0]["prompt"], "completion": PAIRS[0]["chosen"], "label": True}
    assert rows[1] == {"prompt": PAIRS[0]["prompt"], "completion": PAIRS[0]["rejected"], "label": False}
    trl = to_unpaired_conversational(rows)[0]
    assert trl["prompt"][0]["role"] == "user" and trl["completion"][0]["role"] == "assistant" and trl["label"] is True


def test_drop_desirable_keeps_every_undesirable_example():
    rows = unpaired_rows(PAIRS * 5)  # 20 desirable, 20 undesirable
    kept = drop_desirable(rows, 0.9, seed=3)
    assert sum(r["label"] for r in kept) == 2 and sum(not r["label"] for r in kept) == 20
    assert drop_desirable(rows, 0.9, seed=3) == kept and drop_desirable(rows, 0.0) == rows
    with pytest.raises(AlignkitError):
        drop_desirable(rows, 1.5)


def test_recommended_desirable_weight():
    assert recommended_desirable_weight(100, 100) == pytest.approx(1.0)
    assert recommended_desirable_weight(10, 100, ratio=4 / 3) == pytest.approx(13.33, abs=0.01)  # the paper's 90% drop
    with pytest.raises(AlignkitError):
        recommended_desirable_weight(0, 10)


def test_one_output_rows_labels_one_response_per_prompt(tiny_lm, small_tokenizer, monkeypatch):
    def scripted(model, tokenizer, prompts, prompt_format="chat", config=None):
        return Samples(list(prompts), ["It is four."] * len(prompts), [], [], [], [])

    monkeypatch.setattr(kto, "sample", scripted)
    prompts = [p["prompt"] for p in PAIRS]
    rows = one_output_rows(tiny_lm, small_tokenizer, prompts, LabelerSettings(seed=2), seed=1)
    assert [r["prompt"] for r in rows] == prompts and all(r["completion"] == "It is four." for r in rows)
    assert all(isinstance(r["label"], bool) for r in rows)


# --- training --------------------------------------------------------------------------------


def test_train_kto_changes_the_policy_not_the_reference(tiny_lm, other_tiny_lm, small_tokenizer):
    policy, ref = tiny_lm, other_tiny_lm
    policy_before = [p.detach().clone() for p in policy.parameters()]
    ref_before = [p.detach().clone() for p in ref.parameters()]
    log = train_kto(policy, ref, small_tokenizer, unpaired_rows(PAIRS),
                    KTOSettings(batch_size=8, warmup_steps=0, learning_rate=1e-2))
    assert log[-1]["step"] == 1
    assert any(not torch.equal(a, b) for a, b in zip(policy_before, policy.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(ref_before, ref.parameters()))
    assert not policy.training


def test_train_kto_refuses_a_batch_of_one_before_building_a_trainer(tiny_lm, other_tiny_lm, small_tokenizer,
                                                                   monkeypatch):
    monkeypatch.setattr("trl.KTOTrainer", None)  # the check must come first, not from TRL
    with pytest.raises(KTOBatchSizeError, match="raise per_device_train_batch_size"):
        train_kto(tiny_lm, other_tiny_lm, small_tokenizer, unpaired_rows(PAIRS), KTOSettings(batch_size=1))
