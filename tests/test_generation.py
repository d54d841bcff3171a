"""Batched generation with the KV cache, exact sequence KL, reward scores."""
import pytest
import torch

from alignkit.core.generation import (SampleSettings, completion_logprobs, reward_scores, render_prompt, sample,
                                      sequence_kl)
from tiny_models import TINY, build_reward_model

PROMPTS = ["Where does the snibvun live?", "How do I make coffee?", "What is 3 plus 4?", "Hi"]


def test_render_prompt_formats(small_tokenizer):
    assert render_prompt(small_tokenizer, "Hi", "document") == "<|bos|>Hi\n"
    assert render_prompt(small_tokenizer, "Hi", "chat").endswith("<|assistant|>")
    with pytest.raises(ValueError, match="prompt_format"):
        render_prompt(small_tokenizer, "Hi", "markdown")


def test_batched_greedy_equals_one_at_a_time(tiny_lm, small_tokenizer):
    config = SampleSettings(temperature=0, max_new_tokens=12, batch_size=4)
    batched = sample(tiny_lm, small_tokenizer, PROMPTS, "chat", config)
    single = [sample(tiny_lm, small_tokenizer, [p], "chat", SampleSettings(temperature=0, max_new_tokens=12)).responses[0]
              for p in PROMPTS]
    assert batched.responses == single  # left padding and the KV cache change nothing


def test_length_sorted_batches_return_each_score_in_its_own_place(tiny_lm, small_tokenizer):
    prompts = PROMPTS * 3
    responses = ["It lives in the river and eats fish all day long.", "No.", "7", "Hello there, friend."] * 3
    one_by_one = torch.cat([completion_logprobs(tiny_lm, small_tokenizer, [p], [r]) for p, r in zip(prompts, responses)])
    batched = completion_logprobs(tiny_lm, small_tokenizer, prompts, responses, batch_size=5)  # batches mix lengths
    assert torch.allclose(batched, one_by_one, atol=1e-5)
    assert len(set(batched.tolist())) == 4  # four different pairs, each scored where it was given


def test_kv_cache_matches_full_recompute(tiny_lm, small_tokenizer):
    enc = small_tokenizer(["<|bos|>Where does the"], return_tensors="pt")
    cached = tiny_lm.generate(**enc, max_new_tokens=8, do_sample=False, use_cache=True,
                              pad_token_id=small_tokenizer.pad_token_id)
    uncached = tiny_lm.generate(**enc, max_new_tokens=8, do_sample=False, use_cache=False,
                                pad_token_id=small_tokenizer.pad_token_id)
    assert torch.equal(cached, uncached)


def test_samples_record_lengths_and_stop_token(tiny_lm, small_tokenizer):
    out = sample(tiny_lm, small_tokenizer, PROMPTS, "document", SampleSettings(max_new_tokens=6, seed=3))
    for seq, p_len, c_len, done in zip(out.sequences, out.prompt_lengths, out.completion_lengths, out.finished):
        assert len(seq) == p_len + c_len and 1 <= c_len <= 6
        assert done == (seq[-1].item() == small_tokenizer.eos_token_id)


def test_sampling_is_seeded(tiny_lm, small_tokenizer):
    one = sample(tiny_lm, small_tokenizer, PROMPTS, "chat", SampleSettings(seed=5, max_new_tokens=8)).responses
    two = sample(tiny_lm, small_tokenizer, PROMPTS, "chat", SampleSettings(seed=5, max_new_tokens=8)).responses
    assert one == two


def test_sequence_kl_zero_against_itself_positive_against_another(tiny_lm, other_tiny_lm, small_tokenizer):
    out = sample(tiny_lm, small_tokenizer, PROMPTS, "chat", SampleSettings(max_new_tokens=8))
    same = sequence_kl(tiny_lm, tiny_lm, out, small_tokenizer)
    assert max(abs(k) for k in same) < 1e-5
    different = sequence_kl(tiny_lm, other_tiny_lm, out, small_tokenizer)
    assert min(different) > 0


def test_sequence_kl_sums_exactly_the_response_tokens(tiny_lm, other_tiny_lm, small_tokenizer):
    from alignkit.core.logprobs import exact_kl_per_token

    out = sample(tiny_lm, small_tokenizer, PROMPTS[:1], "chat", SampleSettings(max_new_tokens=5))
    seq, p_len = out.sequences[0][None], out.prompt_lengths[0]
    with torch.no_grad():
        per_token = exact_kl_per_token(tiny_lm(input_ids=seq).logits, other_tiny_lm(input_ids=seq).logits)
    expected = per_token[0, p_len - 1:-1].sum().item()
    assert sequence_kl(tiny_lm, other_tiny_lm, out, small_tokenizer)[0] == pytest.approx(expected, rel=1e-4)


def test_per_token_log_probability_is_the_sum_over_the_scored_tokens_divided_by_their_count(tiny_lm, small_tokenizer):
    prompts, responses = ["What is 1 plus 2?"] * 2, ["3", "It is 3 and then 3 and then 3."]
    summed = completion_logprobs(tiny_lm, small_tokenizer, prompts, responses)
    per_token = completion_logprobs(tiny_lm, small_tokenizer, prompts, responses, per_token=True)
    counts = summed / per_token  # the response's tokens and its end token
    assert torch.allclose(counts, counts.round(), atol=1e-3) and 2 <= counts[0] < counts[1]


def test_reward_scores_ignore_padding(small_tokenizer):
    rm = build_reward_model(small_tokenizer, TINY, seed=0).eval()
    responses = ["The snibvun lives in the forest.", "No."]
    together = reward_scores(rm, small_tokenizer, PROMPTS[:2], responses)
    alone = [reward_scores(rm, small_tokenizer, [p], [r])[0] for p, r in zip(PROMPTS[:2], responses)]
    assert together == pytest.approx(alone, abs=1e-5)


def test_out_of_memory_says_which_setting_to_lower(tiny_lm, small_tokenizer, monkeypatch):
    from alignkit.infra.errors import OutOfMemory

    def explode(*args, **kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(tiny_lm, "generate", explode)
    with pytest.raises(OutOfMemory, match="batch_size"):
        sample(tiny_lm, small_tokenizer, PROMPTS, "chat", SampleSettings(batch_size=64))


def test_other_errors_pass_through(tiny_lm, small_tokenizer, monkeypatch):
    monkeypatch.setattr(tiny_lm, "generate", lambda *a, **k: (_ for _ in ()).throw(ValueError("bad")))
    with pytest.raises(ValueError, match="bad"):
        sample(tiny_lm, small_tokenizer, PROMPTS, "chat")
