"""Tiny models for tests, built in seconds. A module of its own, not conftest.py: chapters/ has a conftest.py too,
and two modules named `conftest` cannot both be imported by that name."""
import torch

from alignkit.core.models import TinyLlamaConfig

TINY = TinyLlamaConfig(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=2, intermediate_size=64)


def build_reward_model(tokenizer, cfg: TinyLlamaConfig = TinyLlamaConfig(), seed: int = 0):
    """A freshly initialised `LlamaForSequenceClassification` with one output: the scalar reward.

    Tests only: the course starts its reward model from the SFT model (reward.reward_model_from_sft).
    """
    from transformers import LlamaForSequenceClassification

    config = cfg.to_hf_config(tokenizer)
    config.num_labels = 1
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForSequenceClassification(config)
    return model
