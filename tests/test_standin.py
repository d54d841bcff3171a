"""A hub-style model (the local stand-in) through the zoo's entry points, `alignkit eval`, and SFT's mask."""
from __future__ import annotations

import json
import tempfile

import pytest

from alignkit import zoo
from alignkit.infra.errors import AlignkitError
from alignkit.core.models import load_pretrained
from alignkit.methods.sft import SFTSettings, completion_rows, has_generation_tags, sft_config
from alignkit.core.standin import IM_END, build_standin
from alignkit.core.tokenizer import SPECIAL_TOKENS

CHAT = [{"role": "user", "content": "Where does the snibvun live?"},
        {"role": "assistant", "content": "In the forest."},
        {"role": "user", "content": "What colour is it?"},
        {"role": "assistant", "content": "The snibvun is orange."}]


def test_standin_is_a_real_family_saved_in_hf_format(standin_dir):
    files = {p.name for p in standin_dir.iterdir()}
    assert "model.safetensors" in files and "config.json" in files and not any(f.endswith(".bin") for f in files)
    assert json.loads((standin_dir / "config.json").read_text())["architectures"] == ["Qwen2ForCausalLM"]


def test_standin_loads_through_the_zoo_entry_points(standin_dir, standin_rm_dir):
    model, tokenizer = zoo.load(standin_dir)
    assert type(model).__name__ == "Qwen2ForCausalLM" and not model.training
    assert tokenizer.eos_token == IM_END and not set(SPECIAL_TOKENS) & set(tokenizer.get_vocab())
    assert not has_generation_tags(tokenizer)  # a template of the usual kind
    assert type(load_pretrained(standin_dir)).__name__ == "Qwen2ForCausalLM"
    reward_model, _ = zoo.load(standin_rm_dir)  # the kind is read from config.json
    assert type(reward_model).__name__ == "Qwen2ForSequenceClassification"
    assert reward_model.config.pad_token_id == tokenizer.pad_token_id


def test_a_llama_family_standin_builds_too(small_corpus):
    from alignkit.core.standin import StandinConfig

    with tempfile.TemporaryDirectory() as directory:
        model, _ = zoo.load(build_standin(directory, StandinConfig(family="llama"), texts=small_corpus[:50]))
        assert type(model).__name__ == "LlamaForCausalLM"


@pytest.mark.slow
def test_alignkit_eval_runs_on_the_standin_with_ref_and_rm(standin_dir, standin_rm_dir, capsys):
    from alignkit.cli import main

    args = ["eval", str(standin_dir), "--ref", str(standin_dir), "--rm", str(standin_rm_dir), "--json",
            "--max-prompts", "3"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["kl_to_ref"] == 0.0  # the model against itself
    assert isinstance(summary["rm_score"], float) and summary["prompt_format"] == "chat"
    assert 0.0 <= summary["gold_reward"] <= 1.0 and summary["n_prompts"] == 3


def _tokenized_row(tokenizer, rows, generation_tags: bool):
    from datasets import Dataset
    from trl import SFTTrainer

    with tempfile.TemporaryDirectory() as out:
        model = _tiny_model(tokenizer)
        trainer = SFTTrainer(model=model, args=sft_config(SFTSettings(batch_size=1), out, generation_tags=generation_tags),
                             train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
        batch = trainer.data_collator([trainer.train_dataset[0]])
    return batch["input_ids"][0].tolist(), batch["labels"][0].tolist()


def _tiny_model(tokenizer):
    from alignkit.core.standin import StandinConfig, standin_model

    return standin_model(StandinConfig(hidden_size=16, num_layers=1, num_heads=2, num_kv_heads=1,
                                       intermediate_size=32), tokenizer)


def test_sft_mask_covers_exactly_the_last_assistant_turn_without_generation_tags(standin_dir):
    _, tokenizer = zoo.load(standin_dir)
    ids, labels = _tokenized_row(tokenizer, completion_rows([{"messages": CHAT}]), generation_tags=False)
    # What the assistant says in its last turn, as the template renders it: content, <|im_end|>, newline.
    answer = tokenizer(CHAT[-1]["content"] + IM_END + "\n", add_special_tokens=False)["input_ids"]
    prompt = tokenizer(tokenizer.apply_chat_template(CHAT[:-1], tokenize=False, add_generation_prompt=True),
                       add_special_tokens=False)["input_ids"]
    assert ids == prompt + answer
    assert labels == [-100] * len(prompt) + answer  # the first answer is context here, never trained on


def test_toy_template_keeps_trls_assistant_only_loss(small_tokenizer):
    assert has_generation_tags(small_tokenizer)
    with tempfile.TemporaryDirectory() as out:
        assert sft_config(SFTSettings(), out, generation_tags=True).assistant_only_loss
        assert not sft_config(SFTSettings(), out, generation_tags=False).assistant_only_loss


def test_completion_rows_need_an_assistant_turn_last():
    assert completion_rows([{"messages": CHAT}]) == [{"prompt": CHAT[:-1], "completion": CHAT[-1:]}]
    with pytest.raises(AlignkitError, match="end every conversation"):
        completion_rows([{"messages": CHAT[:-1]}])
