"""Tiny Llama-family models, loading local or hub checkpoints, and device/precision choice.

The toy models are ordinary `transformers` Llama models, so every TRL trainer and every line of
course code that runs on them also runs on a real hub model of the same family.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from alignkit.infra.errors import AlignkitError, CheckpointError
from alignkit.core.profiles import choose_device

__all__ = [
    "TinyLlamaConfig",
    "MODEL_KINDS",
    "build_causal_lm",
    "load_pretrained",
    "count_parameters",
    "weights_fingerprint",
    "largest_weight_difference",
]

MODEL_KINDS = ("causal-lm", "reward-model")


@dataclass(frozen=True)
class TinyLlamaConfig:
    """Shape of the toy models: about 1.4 M parameters with a 2k vocabulary, trainable on a CPU in minutes.

    A `Config`, not `Settings` (alignkit's suffix for how to train, sample or measure): it is a model
    architecture and mirrors `transformers.LlamaConfig`, into which `to_hf_config` turns it.
    """

    hidden_size: int = 128  # width of the residual stream
    num_layers: int = 4  # transformer blocks
    num_heads: int = 4  # attention heads (head_dim = hidden_size / num_heads = 32)
    num_kv_heads: int = 4  # = num_heads: plain multi-head attention (fewer would be grouped-query)
    intermediate_size: int = 384  # SwiGLU hidden width, 3x hidden_size
    max_position_embeddings: int = 512  # longest sequence (prompt + response) the course ever feeds
    rope_theta: float = 10000.0  # rotary embedding base, Llama's default
    rms_norm_eps: float = 1e-5  # RMSNorm epsilon
    initializer_range: float = 0.02  # std of the normal init of every weight matrix
    tie_word_embeddings: bool = False  # separate input and output embeddings, as in Llama
    # No dropout anywhere: RLHF compares log-probs of the same tokens under policy and reference,
    # and dropout would make those differ at random.
    attention_dropout: float = 0.0

    def to_hf_config(self, tokenizer):
        """A `transformers.LlamaConfig` with this shape and the tokenizer's vocabulary and special ids."""
        from transformers import LlamaConfig

        return LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_layers,
            num_attention_heads=self.num_heads,
            num_key_value_heads=self.num_kv_heads,
            intermediate_size=self.intermediate_size,
            max_position_embeddings=self.max_position_embeddings,
            rope_theta=self.rope_theta,
            rms_norm_eps=self.rms_norm_eps,
            initializer_range=self.initializer_range,
            tie_word_embeddings=self.tie_word_embeddings,
            attention_dropout=self.attention_dropout,
            hidden_act="silu",
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )


def _set_generation_ids(model, tokenizer) -> None:
    # generate() reads these from generation_config, not from config: keep both in step.
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id


def build_causal_lm(tokenizer, cfg: TinyLlamaConfig = TinyLlamaConfig(), seed: int = 0):
    """A freshly initialised `LlamaForCausalLM`; the same seed gives the same weights.

    The global torch RNG is left as it was, so building a model does not shift later sampling.
    """
    from transformers import LlamaForCausalLM

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(cfg.to_hf_config(tokenizer))
    _set_generation_ids(model, tokenizer)
    return model


def _auto_class(kind: str):
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    if kind == "causal-lm":
        return AutoModelForCausalLM, {}
    if kind == "reward-model":
        return AutoModelForSequenceClassification, {"num_labels": 1}
    raise AlignkitError(f"Unknown model kind {kind!r}; use one of {', '.join(MODEL_KINDS)}.")


def load_pretrained(path_or_hub_name: str | Path, kind: str = "causal-lm", device=None, dtype=None):
    """Load a model from a local directory or a hub name (safetensors only, no remote code).

    device: None picks `choose_device()`; a directory that does not exist or holds no safetensors
    weights raises CheckpointError. dtype: None keeps the dtype the checkpoint was saved in
    (float32 for the toy zoo); pass `alignkit.core.profiles.choose_dtype(device)` for half precision on a GPU.
    The hub is only reached if the files are not cached and HF_HUB_OFFLINE is not set.
    """
    auto_class, extra = _auto_class(kind)
    source = str(path_or_hub_name)
    local = Path(source).expanduser()
    is_local = local.exists() or local.is_absolute() or source.startswith((".", "~"))
    if is_local and not local.is_dir():
        raise CheckpointError(f"{source} is not a checkpoint directory (it does not exist or is a file).")
    try:
        model = auto_class.from_pretrained(
            str(local) if is_local else source,
            dtype=dtype if dtype is not None else "auto",
            use_safetensors=True,  # never unpickle weights
            trust_remote_code=False,  # never run code shipped with a checkpoint
            **extra,
        )
    except OSError as err:
        reason = str(err).strip().rstrip(".")
        if is_local:
            raise CheckpointError(
                f"Could not load a {kind} from {source}: {reason}. The course reads only config.json + "
                "model.safetensors; re-save the model with model.save_pretrained(directory)."
            ) from err
        raise CheckpointError(
            f"Could not load the hub model {source!r}: {reason}. If it is not cached yet, download it once with "
            f"`hf download {source}` (HF_HUB_OFFLINE must be unset; setup(profile='gpu-real') leaves it unset)."
        ) from err
    model.to(choose_device(device))
    model.eval()
    return model


def count_parameters(model, trainable_only: bool = False) -> int:
    """Number of parameters (tied weights counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def weights_fingerprint(model) -> str:
    """A hash of a model's class and every parameter and buffer, bit for bit: equal only for identical weights."""
    digest = hashlib.sha256(type(model).__name__.encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


@torch.no_grad()
def largest_weight_difference(model_a, model_b) -> float:
    """The largest absolute difference between two models' matching parameters: tiny when one recipe trained both
    (float rounding differs from run to run), far larger when they learned different things."""
    a, b = model_a.state_dict(), model_b.state_dict()
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        raise AlignkitError("largest_weight_difference: the two models have different parameters; compare models of "
                            "one architecture (a checkpoint and a run of its recipe).")
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
