"""The course's tokenizer: byte-level BPE trained on the toy world, plus the chat format.

Byte-level means every string (any unicode, any whitespace) maps to tokens and back exactly, so
no response the oracle scores is ever mangled by the tokenizer.

Two renderings share one stop token, `<|end|>`:

    document (pretraining):  <|bos|>{text}<|end|>
    chat (SFT and later):    <|bos|><|system|>{system}<|end|><|user|>{user}<|end|><|assistant|>{answer}<|end|>...

The chat template wraps each assistant answer *and its closing* `<|end|>` in
`{% generation %}...{% endgeneration %}`: TRL's `assistant_only_loss=True` trains on exactly those
tokens, so the model learns both to answer and to stop.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from alignkit.infra.errors import CheckpointError

__all__ = [
    "BOS",
    "END",
    "PAD",
    "SYSTEM",
    "USER",
    "ASSISTANT",
    "SPECIAL_TOKENS",
    "CHAT_TEMPLATE",
    "train_tokenizer",
    "encode_document",
    "save_tokenizer",
    "load_tokenizer",
]

BOS = "<|bos|>"  # starts every document and every conversation
END = "<|end|>"  # eos: ends a document AND an assistant turn — the one stop token for generation
PAD = "<|pad|>"  # padding only; distinct from END because TRL masks pad tokens out of the loss
SYSTEM = "<|system|>"
USER = "<|user|>"
ASSISTANT = "<|assistant|>"

# Order fixes the ids: <|pad|> = 0, <|bos|> = 1, <|end|> = 2, then the role markers.
SPECIAL_TOKENS = (PAD, BOS, END, SYSTEM, USER, ASSISTANT)

# Whitespace control (`{%-`, `-%}`, `{{-`) keeps the template's own indentation out of the output:
# the rendered string contains only the tokens and the message contents.
CHAT_TEMPLATE = (
    "{{- bos_token -}}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' -%}"
    "{{- '" + SYSTEM + "' + message['content'] + eos_token -}}"
    "{%- elif message['role'] == 'user' -%}"
    "{{- '" + USER + "' + message['content'] + eos_token -}}"
    "{%- elif message['role'] == 'assistant' -%}"
    "{{- '" + ASSISTANT + "' -}}"
    "{%- generation -%}"
    "{{- message['content'] + eos_token -}}"
    "{%- endgeneration -%}"
    "{%- else -%}"
    "{{- raise_exception('alignkit chat format: unknown role ' ~ message['role']"
    " ~ '; use system, user or assistant') -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '" + ASSISTANT + "' -}}"
    "{%- endif -%}"
)


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2048):
    """Train a byte-level BPE tokenizer on `texts`; returns a `transformers.PreTrainedTokenizerFast`.

    The result has the special tokens above (each a single id), the chat template, and no
    post-processor: plain `tok(text)` adds nothing, so documents and chats add BOS/END explicitly.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    core = Tokenizer(models.BPE())
    # add_prefix_space=False: a text's first word is not silently given a leading space,
    # so decode(encode(text)) == text exactly.
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        # All 256 byte symbols, so text never seen in training still encodes.
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    return _wrap(core)


def _wrap(core):
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=END,
        pad_token=PAD,
        additional_special_tokens=[SYSTEM, USER, ASSISTANT],
        # The default would rewrite " ." as "." on decode; byte-level text must round-trip.
        clean_up_tokenization_spaces=False,
        padding_side="right",
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok


def encode_document(tok, text: str) -> list[int]:
    """Token ids of a pretraining document: BOS, the text's tokens, END.

    The text is encoded without special-token parsing of its own, so a document that happens to
    contain the characters "<|end|>" cannot end itself early.
    """
    ids = tok(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]
    return [tok.bos_token_id, *ids, tok.eos_token_id]


def save_tokenizer(tok, directory: str | Path) -> Path:
    """Write tokenizer.json and its config files (chat template included) into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(str(directory))
    return directory


def load_tokenizer(directory: str | Path, rebuild_command: str = "python -m alignkit zoo build base"):
    """Load a tokenizer saved by `save_tokenizer` (local files only, never the hub)."""
    from transformers import PreTrainedTokenizerFast

    directory = Path(directory)
    if not (directory / "tokenizer.json").is_file():
        raise CheckpointError(
            f"No tokenizer at {directory} (tokenizer.json is missing). Rebuild it with: {rebuild_command}"
        )
    try:
        tok = PreTrainedTokenizerFast.from_pretrained(str(directory), local_files_only=True)
    except (OSError, ValueError) as err:
        raise CheckpointError(
            f"The tokenizer in {directory} could not be read ({err}). Rebuild it with: {rebuild_command}"
        ) from err
    if not tok.chat_template:  # older saves kept the template elsewhere; the format is fixed anyway
        tok.chat_template = CHAT_TEMPLATE
    return tok
