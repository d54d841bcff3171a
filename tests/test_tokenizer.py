"""The tokenizer round-trips text, keeps special tokens whole, and masks exactly the assistant's tokens."""
from __future__ import annotations

import random

import pytest
import torch

from alignkit.infra.errors import CheckpointError
from alignkit.core.tokenizer import (
    ASSISTANT,
    BOS,
    CHAT_TEMPLATE,
    END,
    PAD,
    SPECIAL_TOKENS,
    SYSTEM,
    USER,
    encode_document,
    load_tokenizer,
    save_tokenizer,
    train_tokenizer,
)

WORDS = ("the owl lives in the forest . How do I make coffee ? Boil water , then pour it . "
         "12 + 7 = 19 Bob's tools are red and blue").split()

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Where does the owl live?"},
    {"role": "assistant", "content": "The owl lives in the forest."},
    {"role": "user", "content": "And 12 + 7?"},
    {"role": "assistant", "content": " 19\n"},
]


def toy_corpus(n: int = 300, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 25))) for _ in range(n)]


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(toy_corpus(), vocab_size=400)


@pytest.mark.parametrize("text", [
    "The owl lives in the forest.",
    "Hello, world! (really?) -- yes; 'quoted' \"double\" [1] {2} #3 @4 $5 %6 ^7 &8 *9",
    "0123456789 3.14159 -42 1e-3",
    "line one\nline two\n\n\tindented\r\nwindows",
    "café ✓ naïve 日本語 emoji 🙂",
    "   leading and trailing spaces   ",
    "",
])
def test_text_round_trips_exactly(tok, text):
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text


def test_plain_encoding_adds_no_special_tokens(tok):
    ids = tok("the owl")["input_ids"]
    specials = set(tok.convert_tokens_to_ids(list(SPECIAL_TOKENS)))
    assert ids and not specials & set(ids)


def test_special_tokens_are_single_distinct_ids(tok):
    ids = [tok(token, add_special_tokens=False)["input_ids"] for token in SPECIAL_TOKENS]
    assert all(len(i) == 1 for i in ids), ids
    assert len({i[0] for i in ids}) == len(SPECIAL_TOKENS)
    assert (tok.bos_token, tok.eos_token, tok.pad_token) == (BOS, END, PAD)
    assert tok.pad_token_id != tok.eos_token_id  # TRL masks pad: a pad equal to eos would never be learned
    assert tok.decode(ids[SPECIAL_TOKENS.index(USER)]) == USER


def test_document_is_bos_text_end(tok):
    text = "How do I make coffee?"
    ids = encode_document(tok, text)
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    assert tok.decode(ids[1:-1]) == text
    assert tok.decode(ids) == f"{BOS}{text}{END}"


def test_document_text_cannot_end_itself(tok):
    ids = encode_document(tok, "a <|end|> b")
    assert ids.count(tok.eos_token_id) == 1 and ids[-1] == tok.eos_token_id


def test_chat_renders_exactly(tok):
    rendered = tok.apply_chat_template(CONVERSATION, tokenize=False)
    assert rendered == (
        "<|bos|><|system|>Be brief.<|end|><|user|>Where does the owl live?<|end|>"
        "<|assistant|>The owl lives in the forest.<|end|><|user|>And 12 + 7?<|end|><|assistant|> 19\n<|end|>"
    )
    assert tok.apply_chat_template(CONVERSATION[1:3], tokenize=False).startswith("<|bos|><|user|>")


def _masked_spans(ids: list[int], mask: list[int], tok) -> list[str]:
    spans, current = [], []
    for token_id, masked in zip(ids, mask):
        if masked:
            current.append(token_id)
        elif current:
            spans.append(tok.decode(current))
            current = []
    if current:
        spans.append(tok.decode(current))
    return spans


def test_assistant_mask_covers_exactly_the_answers_and_their_end(tok):
    out = tok.apply_chat_template(CONVERSATION, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = out["input_ids"], out["assistant_masks"]
    assert len(ids) == len(mask)
    assert _masked_spans(ids, mask, tok) == ["The owl lives in the forest.<|end|>", " 19\n<|end|>"]
    role_ids = set(tok.convert_tokens_to_ids([BOS, SYSTEM, USER, ASSISTANT, PAD]))
    assert not any(m and i in role_ids for i, m in zip(ids, mask))
    # The unmasked tokens are exactly the prompt parts: system, user turns, role markers.
    unmasked = tok.decode([i for i, m in zip(ids, mask) if not m])
    assert unmasked == ("<|bos|><|system|>Be brief.<|end|><|user|>Where does the owl live?<|end|><|assistant|>"
                        "<|user|>And 12 + 7?<|end|><|assistant|>")


def test_trl_agrees_the_stop_token_is_trained(tok):
    from trl.chat_template_utils import has_generation_markers, is_chat_template_stop_token_trained

    assert has_generation_markers(tok.chat_template)
    assert is_chat_template_stop_token_trained(tok)


def test_generation_prompt_ends_with_assistant_and_prefixes_the_answer(tok):
    prompt = CONVERSATION[:2]
    text = tok.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    assert text.endswith(ASSISTANT) and text.count(ASSISTANT) == 1
    prompt_ids = tok.apply_chat_template(prompt, add_generation_prompt=True, return_dict=True)["input_ids"]
    full_ids = tok.apply_chat_template(CONVERSATION[:3], tokenize=True, return_dict=True)["input_ids"]
    assert prompt_ids[-1] == tok.convert_tokens_to_ids(ASSISTANT)
    assert full_ids[: len(prompt_ids)] == prompt_ids  # TRL's prompt/completion split relies on this


def test_unknown_role_is_refused(tok):
    with pytest.raises(Exception, match="unknown role tool"):
        tok.apply_chat_template([{"role": "tool", "content": "x"}], tokenize=False)


def test_save_and_load_round_trip(tok, tmp_path):
    save_tokenizer(tok, tmp_path / "tok")
    loaded = load_tokenizer(tmp_path / "tok")
    text = "café ✓ the owl\n"
    assert loaded(text)["input_ids"] == tok(text)["input_ids"]
    assert loaded.chat_template == CHAT_TEMPLATE
    rendered = tok.apply_chat_template(CONVERSATION, tokenize=False)
    assert loaded.apply_chat_template(CONVERSATION, tokenize=False) == rendered
    special_ids = ("bos_token_id", "eos_token_id", "pad_token_id")
    assert [getattr(loaded, a) for a in special_ids] == [getattr(tok, a) for a in special_ids]
    assert loaded.convert_tokens_to_ids(ASSISTANT) == tok.convert_tokens_to_ids(ASSISTANT)


def test_missing_tokenizer_says_what_to_run(tmp_path):
    with pytest.raises(CheckpointError, match="tokenizer.json is missing.*zoo build base"):
        load_tokenizer(tmp_path / "nowhere")


def test_trl_sft_trains_only_on_assistant_tokens(tok, tmp_path):
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from alignkit.core.models import TinyLlamaConfig, build_causal_lm

    rows = [{"messages": [{"role": "user", "content": f"What is {a} + {b}?"},
                          {"role": "assistant", "content": f"{a} + {b} = {a + b}."}]}
            for a, b in [(1, 2), (3, 4), (5, 6), (7, 8)]]
    model = build_causal_lm(tok, TinyLlamaConfig(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=2,
                                                 intermediate_size=64), seed=0)
    args = SFTConfig(output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=4, learning_rate=1e-2,
                     assistant_only_loss=True, bf16=False, fp16=False, use_cpu=True, report_to="none",
                     save_strategy="no", logging_steps=1, disable_tqdm=True, dataloader_num_workers=0)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tok)
    batch = next(iter(trainer.get_train_dataloader()))
    trained = batch["labels"] != -100
    decoded = sorted(tok.decode(ids[keep]) for ids, keep in zip(batch["input_ids"], trained))
    assert decoded == sorted(row["messages"][1]["content"] + END for row in rows)  # batches are shuffled
    before = model.lm_head.weight.detach().clone()
    result = trainer.train()
    assert torch.isfinite(torch.tensor(result.training_loss))
    assert not torch.equal(before, model.lm_head.weight.detach())
