"""A local stand-in for a hub model: a real family's architecture, its own tokenizer and chat template.

No hub is reachable from CI, so tests and the chapters' "On a real model" sections use this instead:
a small, randomly initialised `Qwen2ForCausalLM` (or `LlamaForCausalLM`) with a byte-level BPE tokenizer
trained here and a ChatML chat template of the usual kind, WITHOUT `{% generation %}` tags and without
any of the toy tokenizer's special tokens. Saved with `save_pretrained`, it loads through the same entry
points as a downloaded model (`zoo.load(PATH)`, `models.load_pretrained`), so code that works on it
meets the same surprises a real model brings: another vocabulary, another stop token, pad = bos.

    path = build_standin(tmp_dir)          # model + tokenizer, HF format, in about a second
    model, tokenizer = zoo.load(path)
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = ["CHATML_TEMPLATE", "IM_START", "IM_END", "ENDOFTEXT", "StandinConfig", "STANDIN_SIZES",
           "train_chatml_tokenizer", "standin_model", "build_standin"]

IM_START, IM_END, ENDOFTEXT = "<|im_start|>", "<|im_end|>", "<|endoftext|>"

# Qwen2.5's template without its default system prompt or tool calls: no generation tags, so TRL's
# assistant_only_loss cannot be used as is; `alignkit.methods.sft` masks by rendering the prompt instead.
CHATML_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


@dataclass(frozen=True)
class StandinConfig:
    """Shape of a stand-in; the default is a Qwen2-style model of about 0.4 M parameters.

    A `Config`, not `Settings`: a model architecture, mirroring the `transformers` config it is built into.
    """

    family: str = "qwen2"  # "qwen2" (Qwen2ForCausalLM) or "llama" (LlamaForCausalLM)
    vocab_size: int = 512  # byte-level BPE: 256 byte symbols + merges + 2 special tokens
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2  # grouped-query attention, as both families use at every size
    intermediate_size: int = 128
    tie_word_embeddings: bool = True  # as Qwen2.5's small models and SmolLM2


# Stand-ins of increasing size for the memory measurement (lora_memory); parameters ~ 0.1 M to 30 M.
STANDIN_SIZES = {
    "xs": StandinConfig(vocab_size=4096, hidden_size=128, num_layers=2, intermediate_size=384),
    "s": StandinConfig(vocab_size=4096, hidden_size=256, num_layers=4, intermediate_size=768),
    "m": StandinConfig(vocab_size=4096, hidden_size=512, num_layers=6, num_heads=8, intermediate_size=1536),
    "l": StandinConfig(vocab_size=4096, hidden_size=768, num_layers=8, num_heads=12, num_kv_heads=4,
                       intermediate_size=2304),
}


def train_chatml_tokenizer(texts: Iterable[str], vocab_size: int = 512):
    """A byte-level BPE tokenizer with ChatML special tokens: eos <|im_end|>; <|endoftext|> pads and, as the
    document separator Qwen's corpora use, starts documents (bos), which the harness's cloze test needs."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[ENDOFTEXT, IM_START, IM_END],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    core.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token=IM_END, pad_token=ENDOFTEXT, bos_token=ENDOFTEXT,
                                        additional_special_tokens=[IM_START], clean_up_tokenization_spaces=False,
                                        padding_side="right")
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def _hf_config(config: StandinConfig, tokenizer, vocab_size: int):
    from transformers import LlamaConfig, Qwen2Config

    families = {"qwen2": Qwen2Config, "llama": LlamaConfig}
    if config.family not in families:
        raise ValueError(f"unknown stand-in family {config.family!r}; use one of {sorted(families)}")
    return families[config.family](
        vocab_size=vocab_size, hidden_size=config.hidden_size, num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads, num_key_value_heads=config.num_kv_heads,
        intermediate_size=config.intermediate_size, max_position_embeddings=512,
        tie_word_embeddings=config.tie_word_embeddings, attention_dropout=0.0,
        eos_token_id=tokenizer.eos_token_id if tokenizer else None,
        pad_token_id=tokenizer.pad_token_id if tokenizer else None)


def standin_model(config: StandinConfig = StandinConfig(), tokenizer=None, seed: int = 0):
    """A randomly initialised causal LM of the stand-in's family; vocab from `tokenizer` if given."""
    from transformers import AutoModelForCausalLM

    vocab_size = len(tokenizer) if tokenizer is not None else config.vocab_size
    with torch.random.fork_rng(devices=[]):  # building a model must not shift later sampling
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(_hf_config(config, tokenizer, vocab_size))
    if tokenizer is not None:  # generate() reads the stop and pad ids from generation_config
        model.generation_config.eos_token_id = tokenizer.eos_token_id
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.eval()


def _default_texts() -> list[str]:
    # The world's documents and chats, so held-out prompts tokenize into sensible pieces.
    from alignkit.world import load_world
    from alignkit.world.documents import build_corpus

    return build_corpus(load_world())[:400]


def build_standin(directory: str | Path, config: StandinConfig = StandinConfig(), texts: Iterable[str] | None = None,
                  seed: int = 0) -> Path:
    """Train the tokenizer, build the model, save both (safetensors, chat template) into `directory`."""
    directory = Path(directory)
    tokenizer = train_chatml_tokenizer(texts if texts is not None else _default_texts(), config.vocab_size)
    model = standin_model(config, tokenizer, seed)
    model.save_pretrained(str(directory), safe_serialization=True)
    tokenizer.save_pretrained(str(directory))
    return directory
