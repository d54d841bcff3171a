"""Shared fixtures: a tokenizer and tiny models built in seconds, so tests never need the zoo."""
import pytest

from alignkit.models import TinyLlamaConfig, build_causal_lm
from alignkit.tokenizer import train_tokenizer
from alignkit.world import load_world
from alignkit.world.documents import build_corpus

TINY = TinyLlamaConfig(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=2, intermediate_size=64)


@pytest.fixture(scope="session")
def small_corpus():
    return build_corpus(load_world())[:300]


@pytest.fixture(scope="session")
def small_tokenizer(small_corpus):
    return train_tokenizer(small_corpus, vocab_size=600)


@pytest.fixture
def tiny_lm(small_tokenizer):
    return build_causal_lm(small_tokenizer, TINY, seed=0).eval()


@pytest.fixture
def other_tiny_lm(small_tokenizer):
    return build_causal_lm(small_tokenizer, TINY, seed=1).eval()
