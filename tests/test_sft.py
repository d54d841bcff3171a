"""SFT: the completion-only loss, and TRL's SFTTrainer driven by alignkit's settings."""
import pytest
import torch

from alignkit.course.check import cases_for, check
from alignkit.methods.sft import SFTSettings, completion_only_loss, sft_config, train_sft


def test_completion_only_loss_ignores_prompt_tokens():
    logits = torch.randn(1, 6, 11)
    ids = torch.randint(11, (1, 6))
    mask = torch.tensor([[0, 0, 0, 1, 1, 1]])
    changed = logits.clone()
    changed[0, :2] = torch.randn(2, 11)  # positions 0-1 predict prompt tokens 1-2: outside the loss
    assert torch.allclose(completion_only_loss(logits, ids, mask), completion_only_loss(changed, ids, mask))
    changed[0, 3, 0] += 5  # position 3 predicts response token 4
    assert not torch.allclose(completion_only_loss(logits, ids, mask), completion_only_loss(changed, ids, mask))


def test_completion_only_loss_with_full_mask_is_the_next_token_loss():
    from alignkit.methods.pretrain import next_token_loss

    logits, ids = torch.randn(2, 5, 7), torch.randint(7, (2, 5))
    assert torch.allclose(completion_only_loss(logits, ids, torch.ones(2, 5)), next_token_loss(logits, ids))


def test_checker_rejects_loss_on_prompt_tokens_too():
    from alignkit.methods.pretrain import next_token_loss

    def all_tokens(logits, input_ids, completion_mask):
        return next_token_loss(logits, input_ids)

    assert check(completion_only_loss, completion_only_loss, cases_for("completion_only_loss"))
    assert not check(all_tokens, completion_only_loss, cases_for("completion_only_loss"))


def test_config_sets_precision_and_assistant_only_loss():
    config = sft_config(SFTSettings(), "/tmp/unused")
    assert config.assistant_only_loss and config.bf16 is False and config.fp16 is False


@pytest.mark.slow
def test_train_sft_changes_parameters_and_lowers_loss(tiny_lm, small_tokenizer):
    rows = [{"messages": [{"role": "user", "content": f"What is {a} plus 1?"},
                          {"role": "assistant", "content": f"{a} plus 1 is {a + 1}."}]} for a in range(16)]
    before = [p.detach().clone() for p in tiny_lm.parameters()]
    log = train_sft(tiny_lm, small_tokenizer, rows, SFTSettings(epochs=6, batch_size=8, learning_rate=5e-3))
    losses = [r["loss"] for r in log if "loss" in r]
    assert losses[-1] < losses[0]
    assert any(not torch.equal(a, b) for a, b in zip(before, tiny_lm.parameters()))
    assert not tiny_lm.training


def test_training_without_a_hook_shows_a_bar_and_prints_no_log_dicts(tiny_lm, small_tokenizer, monkeypatch):
    from alignkit.core import trl_driver

    bars, real = [], trl_driver.progress_bar_callback
    monkeypatch.setattr(trl_driver, "progress_bar_callback", lambda: bars.append(real()) or bars[-1])
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    rows = [{"messages": [{"role": "user", "content": f"What is {a} plus 1?"},
                          {"role": "assistant", "content": f"{a} plus 1 is {a + 1}."}]} for a in range(8)]
    train_sft(tiny_lm, small_tokenizer, rows, SFTSettings(epochs=1, batch_size=4))
    assert len(bars) == 1  # no hook: a bar shows how far training has come
    train_sft(tiny_lm, small_tokenizer, rows, SFTSettings(epochs=1, batch_size=4), on_step=lambda row: None)
    assert len(bars) == 1  # a hook shows progress its own way: no bar
    monkeypatch.setenv("TQDM_DISABLE", "1")
    train_sft(tiny_lm, small_tokenizer, rows, SFTSettings(epochs=1, batch_size=4))
    assert len(bars) == 1  # TQDM_DISABLE=1 (CI, logs): no bar, not even an empty notebook widget

    written = []
    bar = bars[0]
    bar.training_bar = type("Bar", (), {"write": lambda self, text: written.append(text)})()
    bar.on_log(None, type("State", (), {"is_world_process_zero": True})(), None, logs={"loss": 1.0})
    assert written == []  # the Trainer's log dicts are not printed under the bar
