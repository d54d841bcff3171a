"""`alignkit eval` refuses bad input with one `alignkit eval: error:` line, never a traceback."""
from __future__ import annotations

import pytest
from tiny_models import TINY

from alignkit.cli import evaluate as evaluate_cli
from alignkit.cli import main
from alignkit.core.models import build_causal_lm
from alignkit.core.tokenizer import save_tokenizer, train_tokenizer


def _save(model, tokenizer, directory):
    model.save_pretrained(directory)
    save_tokenizer(tokenizer, directory)
    return directory


@pytest.fixture
def model_dir(tmp_path, tiny_lm, small_tokenizer):
    return _save(tiny_lm, small_tokenizer, tmp_path / "policy")


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("alignkit eval: error: "), err
    return lines[0]


@pytest.mark.parametrize("config", ["not json {", "[1, 2]", '{"architectures": 5}', "{}",
                                    '{"model_type": "no-such-architecture"}'])
def test_a_garbage_config_is_a_one_line_error(model_dir, capsys, config):
    (model_dir / "config.json").write_text(config, encoding="utf-8")
    assert main(["eval", str(model_dir), "--max-prompts", "2"]) == 2
    line = _one_error_line(capsys)
    assert "config.json" in line or str(model_dir) in line


def test_a_reference_with_another_vocabulary_is_refused_before_sampling(model_dir, tmp_path, small_corpus,
                                                                        monkeypatch, capsys):
    other_tokenizer = train_tokenizer(small_corpus, vocab_size=500)
    other = _save(build_causal_lm(other_tokenizer, TINY, seed=0), other_tokenizer, tmp_path / "other")

    def no_sampling(*_args, **_kwargs):
        raise AssertionError("sampled before checking the vocabularies")

    monkeypatch.setattr(evaluate_cli, "evaluate", no_sampling)
    for flag in ("--ref", "--rm"):
        assert main(["eval", str(model_dir), flag, str(other), "--max-prompts", "2"]) == 2
        line = _one_error_line(capsys)
        assert "vocabular" in line and str(other) in line


@pytest.mark.parametrize("count", ["0", "-3"])
def test_max_prompts_must_be_positive(model_dir, capsys, count):
    assert main(["eval", str(model_dir), "--max-prompts", count]) == 2
    assert "--max-prompts" in _one_error_line(capsys)


@pytest.mark.parametrize("flags", [["--best-of", "4"], ["--best-of", "0", "--rm", "rm"]])
def test_best_of_needs_a_reward_model_and_a_positive_n(model_dir, capsys, flags):
    assert main(["eval", str(model_dir), *flags, "--max-prompts", "2"]) == 2
    assert "--best-of N needs" in _one_error_line(capsys)


@pytest.mark.slow
def test_best_of_n_under_the_zoo_rm_measures_one_pick_per_prompt(capsys):
    import json

    assert main(["eval", "sft", "--rm", "rm", "--best-of", "2", "--max-prompts", "6", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["best_of"] == 2 and summary["samples_per_prompt"] == 1 and summary["n_prompts"] == 6
    assert summary["kl_best_of_n"] == pytest.approx(0.1931, abs=1e-4) and "gold_reward_se" in summary
