"""Tests for alignkit.infra.compat: version checks against the installed stack and against faked versions,
and the rename helpers against the installed libraries and against fake old-style classes."""
from __future__ import annotations

import dataclasses
import importlib.metadata

import pytest
import torch

from alignkit.infra import compat
from alignkit.infra.errors import UnsupportedVersionError


def fake_versions(monkeypatch, **versions):
    """Make importlib.metadata.version report `versions` (None = not installed); others stay real."""
    real = importlib.metadata.version

    def version(name):
        if name in versions:
            if versions[name] is None:
                raise importlib.metadata.PackageNotFoundError(name)
            return versions[name]
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)


def test_installed_stack_is_supported():
    assert compat.check_versions() == []
    assert compat.check_versions(strict=True) == []
    assert compat.require("trl") == importlib.metadata.version("trl")


def test_old_trl_gives_a_clear_error(monkeypatch):
    fake_versions(monkeypatch, trl="0.9.6")
    with pytest.raises(UnsupportedVersionError) as info:
        compat.require("trl", "1.8")
    message = str(info.value)
    assert "trl 0.9.6 is installed" in message
    assert "trl >= 1.8" in message
    assert "KTOTrainer" in message
    assert "pip install -U 'trl>=1.8'" in message


def test_check_versions_lists_every_problem(monkeypatch):
    fake_versions(monkeypatch, torch="2.1.2", plotly=None, ipywidgets="9.0.1")
    problems = compat.check_versions()
    assert len(problems) == 3
    joined = "\n".join(problems)
    assert "torch 2.1.2 is installed" in joined and "pip install -U 'torch>=2.2'" in joined
    assert "plotly is not installed" in joined and "pip install 'plotly>=5.24'" in joined
    assert "ipywidgets 9.0.1 is installed" in joined and "'ipywidgets>=7.7,<9'" in joined
    with pytest.raises(UnsupportedVersionError, match="torch 2.1.2"):
        compat.check_versions(strict=True)


def test_prerelease_and_local_builds_count_as_their_release(monkeypatch):
    fake_versions(monkeypatch, torch="2.2.0a0+git81ea7a4", trl="1.8.0rc1")
    assert compat.check_versions() == []
    fake_versions(monkeypatch, transformers="not-a-version")
    assert any("cannot read" in p for p in compat.check_versions())


def test_require_unknown_package_needs_a_minimum():
    with pytest.raises(ValueError):
        compat.require("some-package-alignkit-does-not-track")
    with pytest.raises(UnsupportedVersionError, match="is not installed"):
        compat.require("some-package-alignkit-does-not-track", "1.0")


def test_versions_table_reports_missing_packages(monkeypatch):
    table = compat.versions_table()
    assert set(compat.SUPPORTED) <= set(table) and "python" in table
    assert table["plotly"] == importlib.metadata.version("plotly")
    fake_versions(monkeypatch, peft=None)
    assert compat.versions_table()["peft"] == "not installed"


class OldTrainer:
    def __init__(self, model=None, args=None, tokenizer=None):
        pass


class NewTrainer:
    def __init__(self, model=None, args=None, processing_class=None):
        pass


def test_trainer_tokenizer_kwarg():
    import trl

    for trainer_cls in (trl.SFTTrainer, trl.DPOTrainer, trl.KTOTrainer, trl.RewardTrainer):
        assert compat.trainer_tokenizer_kwarg(trainer_cls) == "processing_class"
    assert compat.trainer_tokenizer_kwarg(OldTrainer) == "tokenizer"
    assert compat.trainer_tokenizer_kwarg(NewTrainer) == "processing_class"
    with pytest.raises(UnsupportedVersionError, match="neither"):
        compat.trainer_tokenizer_kwarg(dict)


def test_sft_max_length_kwarg():
    import trl

    installed = compat.sft_max_length_kwarg()
    assert installed in {f.name for f in dataclasses.fields(trl.SFTConfig)}
    assert installed == "max_length"

    @dataclasses.dataclass
    class OldSFTConfig:
        output_dir: str = "out"
        max_seq_length: int = 1024

    assert compat.sft_max_length_kwarg(OldSFTConfig) == "max_seq_length"
    with pytest.raises(UnsupportedVersionError):
        compat.sft_max_length_kwarg(NewTrainer)


@pytest.mark.parametrize(
    ("dtype", "device", "expected"),
    [
        (torch.bfloat16, "cuda", {"bf16": True, "fp16": False}),
        (torch.float16, "cuda:0", {"bf16": False, "fp16": True}),
        (torch.float32, "cuda", {"bf16": False, "fp16": False}),
        ("fp16", None, {"bf16": False, "fp16": True}),
        ("bf16", torch.device("cpu"), {"bf16": False, "fp16": False}),
        (torch.float16, "cpu", {"bf16": False, "fp16": False}),
    ],
)
def test_precision_kwargs(dtype, device, expected):
    assert compat.precision_kwargs(dtype, device) == expected


def test_precision_kwargs_are_accepted_by_trl_configs(tmp_path):
    import trl

    # fp32 on GPU and everything on CPU: both flags False, overriding TRL's bf16=True default.
    config = trl.DPOConfig(output_dir=str(tmp_path), use_cpu=True, **compat.precision_kwargs("fp32"))
    assert config.bf16 is False and config.fp16 is False
    with pytest.raises(ValueError, match="unknown training dtype"):
        compat.precision_kwargs("int8")


def test_library_internal_renames_are_hidden_and_nothing_else(tiny_lm):
    import warnings

    from alignkit.infra.compat import library_renames_in_flight
    from alignkit.core.lora import LoraSettings, with_adapters

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning would fail the wrap
        with_adapters(tiny_lm, LoraSettings(r=2, alpha=4))
        with library_renames_in_flight():
            warnings.warn("`is_gradient_checkpointing` is deprecated, use `is_activation_checkpointing`", FutureWarning)
        with pytest.raises(FutureWarning, match="something else"), library_renames_in_flight():
            warnings.warn("something else is deprecated", FutureWarning)
