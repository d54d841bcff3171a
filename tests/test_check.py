"""Exercise checkers: each course exercise accepts a correct solution and rejects known-wrong ones."""
from __future__ import annotations

import torch
import torch.nn.functional as F
import pytest

from alignkit.course.check import EXERCISES, cases_for, check


# --- references written from the papers' equations (the course's modules must agree with these) ---

def next_token_loss(logits, input_ids):
    vocab = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, vocab), input_ids[:, 1:].reshape(-1))


def completion_only_loss(logits, input_ids, completion_mask):
    per_token = F.cross_entropy(logits[:, :-1].transpose(1, 2), input_ids[:, 1:], reduction="none")
    mask = completion_mask[:, 1:].float()
    return (per_token * mask).sum() / mask.sum()


def bradley_terry_loss(chosen_rewards, rejected_rewards):
    return -F.logsigmoid(chosen_rewards - rejected_rewards).mean()


def gae_advantages(rewards, values, gamma, lam):
    advantages = torch.zeros_like(rewards)
    running = torch.zeros(rewards.shape[0])
    for t in reversed(range(rewards.shape[1])):
        next_value = values[:, t + 1] if t + 1 < rewards.shape[1] else torch.zeros(rewards.shape[0])
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = delta + gamma * lam * running
        advantages[:, t] = running
    return advantages


def k3_kl(logprobs, ref_logprobs):
    log_ratio = ref_logprobs - logprobs
    return log_ratio.exp() - 1 - log_ratio


def dpo_loss(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps, reference_rejected_logps, beta):
    margin = (policy_chosen_logps - reference_chosen_logps) - (policy_rejected_logps - reference_rejected_logps)
    return -F.logsigmoid(beta * margin).mean()


def kto_loss(policy_logps, reference_logps, labels, kl_policy_logps, kl_reference_logps, beta,
             desirable_weight, undesirable_weight):
    z0 = (kl_policy_logps - kl_reference_logps).mean().clamp(min=0).detach()
    log_ratio = policy_logps - reference_logps
    desirable = desirable_weight * (1 - torch.sigmoid(beta * (log_ratio - z0)))
    undesirable = undesirable_weight * (1 - torch.sigmoid(beta * (z0 - log_ratio)))
    return torch.where(labels, desirable, undesirable)


def kto_loss_without_clamp(policy_logps, reference_logps, labels, kl_policy_logps, kl_reference_logps, beta,
                           desirable_weight, undesirable_weight):
    z0 = (kl_policy_logps - kl_reference_logps).mean().detach()  # forgot .clamp(min=0)
    log_ratio = policy_logps - reference_logps
    desirable = desirable_weight * (1 - torch.sigmoid(beta * (log_ratio - z0)))
    undesirable = undesirable_weight * (1 - torch.sigmoid(beta * (z0 - log_ratio)))
    return torch.where(labels, desirable, undesirable)


def two_order_preference(first_as_a, first_as_b):
    # Bai et al.: P(A) = p(A) / (p(A) + p(B)) per order; the first response is (A) in one order, (B) in the other
    p_a, p_b = first_as_a.exp(), first_as_b.exp()
    return (p_a[:, 0] / p_a.sum(1) + p_b[:, 1] / p_b.sum(1)) / 2


REFERENCES = {"next_token_loss": next_token_loss, "completion_only_loss": completion_only_loss,
              "bradley_terry_loss": bradley_terry_loss, "gae_advantages": gae_advantages, "k3_kl": k3_kl,
              "dpo_loss": dpo_loss, "kto_loss": kto_loss, "two_order_preference": two_order_preference}

# Known-wrong solutions and the hint each must produce.
WRONG = {
    "next_token_loss": [
        (lambda logits, input_ids: F.cross_entropy(logits.reshape(-1, logits.shape[-1]), input_ids.reshape(-1)), "values differ"),
        (lambda logits, input_ids: F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), input_ids[:, 1:].reshape(-1), reduction="sum"), "mean vs sum"),
        (lambda logits, input_ids: F.cross_entropy(logits[:, 1:].reshape(-1, logits.shape[-1]), input_ids[:, :-1].reshape(-1)), "values differ"),
        (lambda logits, input_ids: F.cross_entropy(logits[:, :-1].transpose(1, 2), input_ids[:, 1:], reduction="none"), "shape mismatch"),
    ],
    "completion_only_loss": [
        (lambda logits, input_ids, completion_mask: next_token_loss(logits, input_ids), "values differ"),
        (lambda logits, input_ids, completion_mask: completion_only_loss(logits, input_ids, completion_mask) * completion_mask[:, 1:].sum(), "mean vs sum"),
        (lambda logits, input_ids, completion_mask: completion_only_loss(logits, input_ids, completion_mask * 0), "NaN"),
    ],
    "bradley_terry_loss": [
        (lambda chosen_rewards, rejected_rewards: F.logsigmoid(chosen_rewards - rejected_rewards).mean(), "sign error"),
        (lambda chosen_rewards, rejected_rewards: -F.logsigmoid(chosen_rewards - rejected_rewards).sum(), "mean vs sum"),
        (lambda chosen_rewards, rejected_rewards: -F.logsigmoid(rejected_rewards - chosen_rewards).mean(), "values differ"),
        (lambda chosen_rewards, rejected_rewards: -F.logsigmoid(chosen_rewards - rejected_rewards), "shape mismatch"),
    ],
    "gae_advantages": [
        (lambda rewards, values, gamma, lam: gae_advantages(rewards, values, gamma, 1.0), "values differ"),
        (lambda rewards, values, gamma, lam: rewards - values, "values differ"),
        (lambda rewards, values, gamma, lam: gae_advantages(rewards, values, gamma, lam).sum(-1), "shape mismatch"),
    ],
    "k3_kl": [
        (lambda logprobs, ref_logprobs: logprobs - ref_logprobs, "values differ"),
        (lambda logprobs, ref_logprobs: -k3_kl(logprobs, ref_logprobs), "sign error"),
        (lambda logprobs, ref_logprobs: k3_kl(logprobs, ref_logprobs).mean(), "shape mismatch"),
        (lambda logprobs, ref_logprobs: k3_kl(logprobs, ref_logprobs).tolist(), "wrong type"),
    ],
    "dpo_loss": [
        (lambda beta, **logps: dpo_loss(beta=1.0, **logps), "values differ"),
        (lambda beta, **logps: -F.logsigmoid(beta * (logps["policy_chosen_logps"] - logps["policy_rejected_logps"])).mean(), "values differ"),
        (lambda beta, **logps: dpo_loss(beta=beta, **logps) * len(logps["policy_chosen_logps"]), "mean vs sum"),
        (lambda beta, **logps: -dpo_loss(beta=beta, **logps), "sign error"),
        (lambda beta, **logps: dpo_loss(beta=beta, **logps).item(), "wrong type"),
        (lambda beta, **logps: None, "returned None"),
    ],
    "two_order_preference": [
        # one order only: the position the model prefers no longer cancels (the last case catches it)
        (lambda first_as_a, first_as_b: torch.softmax(first_as_a, dim=1)[:, 0], "values differ"),
        # unnormalised: exp(log p(A)) is not P(A) among the two options
        (lambda first_as_a, first_as_b: (first_as_a[:, 0].exp() + first_as_b[:, 1].exp()) / 2, "values differ"),
        # the second order read the wrong way round
        (lambda first_as_a, first_as_b: (torch.softmax(first_as_a, 1)[:, 0] + torch.softmax(first_as_b, 1)[:, 0]) / 2,
         "values differ"),
        (lambda first_as_a, first_as_b: two_order_preference(first_as_a, first_as_b).mean(), "shape mismatch"),
    ],
    "kto_loss": [
        (lambda **kw: kto_loss(**{**kw, "kl_policy_logps": kw["kl_reference_logps"]}), "values differ"),
        (lambda **kw: kto_loss(**{**kw, "desirable_weight": 1.0, "undesirable_weight": 1.0}), "values differ"),
        (lambda **kw: kto_loss(**kw).mean(), "shape mismatch"),
        (lambda **kw: torch.log(kto_loss(**kw) - 1), "NaN"),
        (lambda **kw: kto_loss_without_clamp(**kw), "values differ"),  # caught by the case with a negative z0
    ],
}


def test_every_exercise_has_a_reference_and_known_wrong_solutions():
    assert set(EXERCISES) == set(REFERENCES) == set(WRONG)


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_reference_passes_its_own_cases(exercise, capsys):
    assert check(REFERENCES[exercise], REFERENCES[exercise], cases_for(exercise), name=exercise) is True
    out = capsys.readouterr().out
    assert out.count("✓ case") == len(cases_for(exercise)) and "✗" not in out


@pytest.mark.parametrize("exercise, index", [(e, i) for e in sorted(WRONG) for i in range(len(WRONG[e]))])
def test_known_wrong_solution_is_rejected_with_its_hint(exercise, index, capsys):
    wrong, hint = WRONG[exercise][index]
    assert check(wrong, REFERENCES[exercise], cases_for(exercise)) is False
    out = capsys.readouterr().out
    assert hint in out, out
    assert "not yet ✗" in out


def test_cases_are_deterministic():
    first, second = cases_for("dpo_loss"), cases_for("dpo_loss")
    assert all(torch.equal(a[k], b[k]) for a, b in zip(first, second) for k in a if isinstance(a[k], torch.Tensor))


def test_never_raises_on_broken_student_code(capsys):
    def raises(x):
        raise ValueError("bad shape\nsecond line")

    def stub(x):
        raise NotImplementedError

    def exits(x):
        raise SystemExit(3)

    cases = [{"x": torch.ones(3)}]
    identity = lambda x: x  # noqa: E731 - a one-line reference function
    assert check(raises, identity, cases) is False
    assert check(stub, identity, cases) is False
    assert check(exits, identity, cases) is False
    assert check(lambda x: "text", identity, cases) is False
    assert check(lambda x: (x, x), identity, cases) is False
    assert check(identity, lambda x: 1 / 0, cases) is False  # a broken reference is reported, not raised
    assert check(identity, identity, [["not", "a", "dict"]]) is False
    assert check(identity, identity, 42) is False
    out = capsys.readouterr().out
    assert "raised ValueError: bad shape" in out and "second line" not in out
    assert "not implemented yet" in out and "raised SystemExit" in out and "a course bug" in out


def test_keyboard_interrupt_still_stops_the_check():
    def interrupted(x):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        check(interrupted, lambda x: x, [{"x": 1.0}])


def test_plain_floats_and_scale_hints(capsys):
    assert check(lambda a, beta: a * beta, lambda a, beta: a * beta, [{"a": 2.0, "beta": 0.1}]) is True
    assert check(lambda a, beta: a, lambda a, beta: a * beta, [{"a": 2.0, "beta": 0.1}]) is False
    assert "is a `beta` factor missing?" in capsys.readouterr().out
    assert check(lambda a: torch.tensor(a * 2), lambda a: a * 2, [{"a": 1.5}]) is True  # 0-d tensor for a number


def test_student_editing_inputs_in_place_does_not_change_the_cases():
    def in_place(x):
        x.mul_(0)
        return x.sum()

    cases = [{"x": torch.ones(4)}]
    assert check(in_place, lambda x: x.sum(), cases) is False
    assert torch.equal(cases[0]["x"], torch.ones(4))
    assert check(lambda x: x.sum(), lambda x: x.sum(), cases) is True


def test_the_feedback_models_two_order_preference_matches_the_reference():
    from alignkit.cai.ai_feedback import two_order_preference as course_version

    for case in cases_for("two_order_preference"):
        torch.testing.assert_close(course_version(**case), two_order_preference(**case))
