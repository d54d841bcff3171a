"""Reward modeling: the Bradley-Terry loss, preference data in TRL's format, TRL's RewardTrainer, accuracies."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from tiny_models import TINY, build_reward_model

from alignkit.course.check import cases_for, check
from alignkit.infra.errors import AlignkitError
from alignkit.core.generation import SampleSettings, reward_scores
from alignkit.methods.preferences import sample_pairs
from alignkit.methods.reward import (RewardSettings, bradley_terry_loss, oracle_accuracy,
                             preference_accuracy, reward_config, reward_model_from_sft, to_trl_rows,
                             train_reward_model)
from alignkit.world import load_world
from alignkit.world.oracle import gold
from alignkit.world.tasks import ideal_response, splits

NO_IDEA = "Reply: Same here, no idea."


def fact_rows(tasks) -> list[dict]:
    """An easy preference set: a correct short fact statement always beats the same evasive reply."""
    world = load_world()
    return [{"prompt": t.prompt, "chosen": ideal_response(world, t), "rejected": NO_IDEA}
            for t in tasks if t.category == "fact"]


# --- the loss --------------------------------------------------------------------------------


def test_equal_rewards_give_ln2():
    rewards = torch.randn(5)
    assert torch.isclose(bradley_terry_loss(rewards, rewards.clone()), torch.tensor(math.log(2)))


def test_matches_a_hand_computed_value():
    chosen, rejected = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 1.0])
    # −log σ(2) = log(1 + e^−2); −log σ(−1) = log(1 + e^1)
    expected = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(1))) / 2
    assert bradley_terry_loss(chosen, rejected).item() == pytest.approx(expected, rel=1e-6)


def test_swapping_chosen_and_rejected_changes_the_loss():
    chosen, rejected = torch.tensor([1.5, 0.3, 2.0]), torch.tensor([0.0, -0.2, 1.0])
    assert bradley_terry_loss(chosen, rejected) < math.log(2) < bradley_terry_loss(rejected, chosen)


def test_gradient_pushes_chosen_up_and_rejected_down():
    chosen, rejected = torch.zeros(4, requires_grad=True), torch.zeros(4, requires_grad=True)
    bradley_terry_loss(chosen, rejected).backward()
    assert (chosen.grad < 0).all() and (rejected.grad > 0).all()  # descent: chosen rises, rejected falls


def test_checker_accepts_the_loss_and_rejects_known_wrong_versions():
    def sign_flipped(chosen_rewards, rejected_rewards):
        return -F.logsigmoid(rejected_rewards - chosen_rewards).mean()

    def summed(chosen_rewards, rejected_rewards):
        return -F.logsigmoid(chosen_rewards - rejected_rewards).sum()

    def sigmoid_not_logsigmoid(chosen_rewards, rejected_rewards):
        return -torch.sigmoid(chosen_rewards - rejected_rewards).mean()

    cases = cases_for("bradley_terry_loss")
    assert check(bradley_terry_loss, bradley_terry_loss, cases)
    for wrong in (sign_flipped, summed, sigmoid_not_logsigmoid):
        assert not check(wrong, bradley_terry_loss, cases), wrong.__name__


# --- preference data -------------------------------------------------------------------------


def test_trl_rows_are_conversations_that_keep_every_text():
    rows = fact_rows(splits(load_world()).preference[:20])
    trl_rows = to_trl_rows(rows)
    assert [m["role"] for m in trl_rows[0]["chosen"]] == ["user", "assistant"]
    assert trl_rows[0]["chosen"][0] == trl_rows[0]["rejected"][0]  # implicit prompt: the same user turn
    assert trl_rows[0]["rejected"][1]["content"] == NO_IDEA
    assert [(t["chosen"][0]["content"], t["chosen"][-1]["content"], t["rejected"][-1]["content"]) for t in trl_rows] \
        == [(r["prompt"], r["chosen"], r["rejected"]) for r in rows]


def test_sample_pairs_drops_identical_responses(tiny_lm, small_tokenizer):
    prompts = ["Where does the lunkel live?", "What is 3 plus 4?", "How do I make tea?"]
    greedy = SampleSettings(max_new_tokens=6, temperature=0)  # every round gives the same response
    assert sample_pairs(tiny_lm, small_tokenizer, prompts, sampling=greedy) == []
    sampled = SampleSettings(max_new_tokens=6, temperature=1.0)
    pairs = sample_pairs(tiny_lm, small_tokenizer, prompts, samples_per_prompt=3, sampling=sampled)
    assert 0 < len(pairs) <= 3 * len(prompts)  # at most C(3, 2) pairs per prompt
    assert all(a != b and p in prompts for p, a, b in pairs)
    with pytest.raises(AlignkitError):
        sample_pairs(tiny_lm, small_tokenizer, prompts, samples_per_prompt=1)


# --- the model and the trainer ---------------------------------------------------------------


def test_reward_model_from_sft_reuses_the_body_with_a_new_head(other_tiny_lm, small_tokenizer):
    tiny_lm = other_tiny_lm  # seed 1: a body a freshly built seed-0 model would not have by chance
    rm = reward_model_from_sft(tiny_lm, small_tokenizer)
    assert rm.config.num_labels == 1 and rm.config.pad_token_id == small_tokenizer.pad_token_id
    sft_body = tiny_lm.model.state_dict()
    assert all(torch.equal(v, sft_body[k]) for k, v in rm.model.state_dict().items())
    assert not rm.training and rm.config is not tiny_lm.config and rm.score.out_features == 1
    assert len(reward_scores(rm, small_tokenizer, ["Hi?", "What is 3 plus 4?"], ["Hello.", "7."])) == 2


def test_config_keeps_dropout_off_and_precision_explicit():
    config = reward_config(RewardSettings(center_rewards_coefficient=0.01), "/tmp/unused")
    assert config.disable_dropout and config.bf16 is False and config.fp16 is False
    assert config.center_rewards_coefficient == 0.01 and config.save_strategy == "no"


def test_trl_tokenizes_rows_as_reward_scores_does(small_tokenizer):
    """The RM must be trained on the same tokens it is later scored on."""
    from datasets import Dataset
    from trl import RewardTrainer

    rows = fact_rows(splits(load_world()).preference)[:4]
    rm = build_reward_model(small_tokenizer, TINY)
    trainer = RewardTrainer(model=rm, args=reward_config(RewardSettings(), "/tmp/unused"),
                            train_dataset=Dataset.from_list(to_trl_rows(rows)), processing_class=small_tokenizer)
    text = small_tokenizer.apply_chat_template([{"role": "user", "content": rows[0]["prompt"]},
                                                {"role": "assistant", "content": rows[0]["chosen"]}], tokenize=False)
    assert trainer.train_dataset[0]["chosen_ids"] == small_tokenizer(text, add_special_tokens=False)["input_ids"]


def test_reward_trainer_changes_the_parameters(small_tokenizer):
    rm = build_reward_model(small_tokenizer, TINY)
    before = [p.detach().clone() for p in rm.parameters()]
    rows = fact_rows(splits(load_world()).preference)[:16]
    log = train_reward_model(rm, small_tokenizer, rows, RewardSettings(epochs=1, batch_size=8, warmup_steps=0))
    assert log[-1]["step"] == 2
    assert any(not torch.equal(a, b) for a, b in zip(before, rm.parameters()))
    assert not rm.training


def test_learns_an_easy_preference_and_generalises(small_tokenizer):
    world = load_world()
    train, heldout = fact_rows(splits(world).preference)[:96], fact_rows(splits(world).validation)[:32]
    # Seed 2: an initialisation that does not already separate them (seed 0 happens to, 0.91 on these rows).
    rm = build_reward_model(small_tokenizer, TINY, seed=2)
    assert preference_accuracy(rm, small_tokenizer, heldout) < 0.9  # not already solved by the random init
    log = train_reward_model(rm, small_tokenizer, train, RewardSettings(epochs=3, batch_size=16, learning_rate=3e-3))
    assert preference_accuracy(rm, small_tokenizer, heldout) > 0.9
    accuracies = [r["accuracy"] for r in log if "accuracy" in r]
    assert accuracies[-1] > accuracies[0]


# --- measuring -------------------------------------------------------------------------------


class LengthRewardModel(torch.nn.Module):
    """A stand-in reward model whose score is the number of tokens: ties are easy to make."""

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))  # reward_scores reads the device from a parameter

    def forward(self, input_ids, attention_mask, **kwargs):
        return SimpleNamespace(logits=attention_mask.sum(-1, keepdim=True).float())


def test_preference_accuracy_counts_ties_as_half(small_tokenizer):
    long, short = "The lunkel lives on the coast, by the sea.", "Coast."
    rows = [{"prompt": "Where does the lunkel live?", "chosen": long, "rejected": short},
            {"prompt": "Where?", "chosen": long, "rejected": short},
            {"prompt": "Where?", "chosen": short, "rejected": long},
            {"prompt": "Where?", "chosen": short, "rejected": short}]  # a tie
    assert preference_accuracy(LengthRewardModel(), small_tokenizer, rows) == pytest.approx((1 + 1 + 0 + 0.5) / 4)
    with pytest.raises(AlignkitError):
        preference_accuracy(LengthRewardModel(), small_tokenizer, [])


def test_oracle_accuracy_skips_gold_ties(small_tokenizer):
    world = load_world()
    task = next(t for t in splits(world).preference if t.category == "fact")
    right = ideal_response(world, task)
    wrong_and_long = "I really could not say, but let me tell you a long story about something else entirely."
    pairs = [(task.prompt, right, wrong_and_long),  # the longer (wrong) one wins on length: disagrees with gold
             (task.prompt, wrong_and_long, right + " " + wrong_and_long),  # longer and right: agrees
             (task.prompt, right, right)]  # a gold tie: skipped
    assert gold(task.prompt, right) > gold(task.prompt, wrong_and_long)
    assert gold(task.prompt, right + " " + wrong_and_long) > gold(task.prompt, wrong_and_long)
    assert oracle_accuracy(LengthRewardModel(), small_tokenizer, pairs) == pytest.approx(0.5)
    with pytest.raises(AlignkitError):
        oracle_accuracy(LengthRewardModel(), small_tokenizer, [pairs[2]])



def test_accuracy_by_kind_splits_facts_and_sums_by_what_the_backbone_knows(tiny_lm, small_tokenizer):
    from alignkit.methods.reward import accuracy_by_kind
    from alignkit.world.labelers import label_pairs

    world = load_world()
    tasks = [t for kind in ("fact", "arithmetic", "harmful") for t in
             [t for t in splits(world).test if t.category == kind][:8]]
    pairs = [(t.prompt, ideal_response(world, t), "No idea, sorry.") for t in tasks]
    data = {"heldout": label_pairs(pairs), "heldout_pairs": pairs}
    table = accuracy_by_kind(reward_model_from_sft(tiny_lm, small_tokenizer), small_tokenizer, data, tiny_lm)
    assert table.pairs.sum() == len(pairs)
    assert {"fact, backbone wrong", "arithmetic, backbone wrong", "harmful"} <= set(table.index)  # it knows nothing
    assert ((table.ceiling >= 0.5) & (table.ceiling <= 1)).all() and ((table.rm_accuracy >= 0) & (table.rm_accuracy <= 1)).all()
