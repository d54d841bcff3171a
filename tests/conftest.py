"""Shared fixtures: a tokenizer and tiny models built in seconds, so tests never need the zoo."""
import pytest
import torch

from alignkit.core.models import build_causal_lm
from alignkit.core.tokenizer import train_tokenizer
from alignkit.world import load_world
from alignkit.world.documents import build_corpus
from tiny_models import TINY


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
    """A reward model made from the stand-in (its body, a fresh scalar head), saved with its tokenizer."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    directory = tmp_path_factory.mktemp("standin") / "rm"
    tokenizer = AutoTokenizer.from_pretrained(str(standin_dir), local_files_only=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = AutoModelForSequenceClassification.from_pretrained(
            str(standin_dir), num_labels=1, use_safetensors=True, trust_remote_code=False, local_files_only=True)
    model.config.pad_token_id = tokenizer.pad_token_id  # the score is read at the last non-pad token
    model.save_pretrained(str(directory), safe_serialization=True)
    tokenizer.save_pretrained(str(directory))
    return directory
