"""Shared fixtures: a tokenizer and tiny models built in seconds, so tests never need the zoo."""
import pytest

from alignkit.core.models import TinyLlamaConfig, build_causal_lm
from alignkit.core.tokenizer import train_tokenizer
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


@pytest.fixture
def home(tmp_path, monkeypatch):
    """tmp_path, with ALIGNKIT_HOME (votes, answers) under it and no CI or learner id from the environment."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("ALIGNKIT_LEARNER", raising=False)
    monkeypatch.setenv("ALIGNKIT_HOME", str(tmp_path / "home"))
    return tmp_path


@pytest.fixture(scope="session")
def standin_dir(tmp_path_factory, small_corpus):
    """A Qwen2-architecture stand-in for a hub model, saved in HF format: ChatML template, no generation tags."""
    from alignkit.core.standin import build_standin

    return build_standin(tmp_path_factory.mktemp("standin") / "lm", texts=small_corpus)


@pytest.fixture(scope="session")
def standin_rm_dir(standin_dir, tmp_path_factory):
    """A reward model made from the stand-in (its body, a fresh scalar head), saved next to it."""
    from alignkit.core.standin import build_standin_reward_model

    return build_standin_reward_model(standin_dir, tmp_path_factory.mktemp("standin") / "rm")
