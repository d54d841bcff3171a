"""Profiles and setup(): reproducible seeds, offline environment, the right profile for the machine."""
from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
import torch

from alignkit.core import profiles
from alignkit.infra.errors import AlignkitError
from alignkit.core.profiles import PROFILES, default_threads, describe, detect_profile, precision_kwargs, setup


@pytest.fixture(autouse=True)
def restore_global_state(monkeypatch):
    """setup() changes process-wide state; put it back so other tests see what they expect."""
    import datasets.config
    import huggingface_hub.constants

    for name in ("HF_HUB_OFFLINE", "TOKENIZERS_PARALLELISM", "HF_HUB_DISABLE_PROGRESS_BARS"):
        monkeypatch.delenv(name, raising=False)
    for module in (huggingface_hub.constants, datasets.config):
        monkeypatch.setattr(module, "HF_HUB_OFFLINE", module.HF_HUB_OFFLINE)
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_setup_makes_random_numbers_reproducible():
    setup(seed=7)
    first = (torch.rand(4), np.random.rand(2), random.random())
    setup(seed=7)
    second = (torch.rand(4), np.random.rand(2), random.random())
    assert torch.equal(first[0], second[0]) and np.array_equal(first[1], second[1]) and first[2] == second[2]
    setup(seed=8)
    assert not torch.equal(torch.rand(4), first[0])


def test_setup_sets_environment_and_threads(monkeypatch):
    import os

    profile = setup(seed=0, threads=1)
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["TOKENIZERS_PARALLELISM"] == "false"
    assert torch.get_num_threads() == 1
    assert not torch.are_deterministic_algorithms_enabled()
    import huggingface_hub.constants

    assert huggingface_hub.constants.HF_HUB_OFFLINE  # already-imported libraries see offline mode too
    assert profile.offline


def test_setup_quiets_transformers_logging():
    import transformers

    transformers.utils.logging.set_verbosity_warning()
    setup(quiet=True)
    assert transformers.utils.logging.get_verbosity() == transformers.utils.logging.ERROR


def test_setup_prints_nothing(capsys):
    setup()
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_default_threads_are_bounded():
    assert 1 <= default_threads() <= 4
    assert default_threads(limit=1) == 1


def test_cpu_machine_gets_cpu_tiny(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert detect_profile().name == "cpu-tiny"
    assert setup().name == "cpu-tiny"
    with pytest.raises(AlignkitError, match="needs a GPU"):
        setup(profile="gpu")
    with pytest.raises(AlignkitError, match="cpu-tiny, gpu, gpu-real"):
        setup(profile="tpu")


def test_gpu_profile_falls_back_to_float16_without_bfloat16(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    profile = detect_profile()
    assert (profile.name, profile.device, profile.dtype) == ("gpu", "cuda", "float16")
    assert profile.torch_dtype == torch.float16
    assert precision_kwargs(profile) == {"bf16": False, "fp16": True}
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert precision_kwargs(detect_profile()) == {"bf16": True, "fp16": False}


def test_profiles_are_frozen_and_cpu_trains_in_full_precision():
    cpu = PROFILES["cpu-tiny"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cpu.dtype = "float16"
    assert precision_kwargs(cpu) == {"bf16": False, "fp16": False}
    assert not PROFILES["gpu-real"].offline and PROFILES["cpu-tiny"].offline


def test_every_profile_field_is_read_outside_the_dataclass():
    """A field nothing reads would promise what the code does not do."""
    import inspect

    source = inspect.getsource(profiles).split("class Profile:")[1].split("PROFILES: dict")[1]
    for field in dataclasses.fields(profiles.Profile):
        assert f".{field.name}" in source, f"Profile.{field.name} drives nothing"


def test_describe_is_one_stable_line():
    line = describe(PROFILES["cpu-tiny"])
    assert "cpu-tiny" in line and "CPU" in line and "float32" in line
    assert "\n" not in line and "/" not in line and torch.__version__ not in line
    assert describe(PROFILES["gpu"]) != line
    assert profiles.__all__  # an explicit public API


@pytest.mark.parametrize("gpu, expected, dtype", [("Tesla T4", "t4", "float16"), ("NVIDIA L4", "l4", "bfloat16"),
                                                   ("NVIDIA A100-SXM4-80GB", "a100", "bfloat16"),
                                                   ("NVIDIA H100 80GB HBM3", "h100", "bfloat16"),
                                                   ("NVIDIA GeForce RTX 4090", "gpu-real", "bfloat16")])
def test_real_model_profile_is_chosen_by_gpu(monkeypatch, gpu, expected, dtype):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: gpu)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: "T4" not in gpu)
    chosen = profiles.real_model_profile()
    assert (chosen.name, chosen.dtype) == (expected, dtype)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert profiles.real_model_profile().name == "cpu-tiny"


def test_method_settings_take_the_profiles_batch_length_lora_and_checkpointing():
    from alignkit.methods.dpo import DPOSettings
    from alignkit.methods.sft import SFTSettings

    t4 = PROFILES["t4"]
    sizes = profiles.profile_settings(t4)
    dpo = profiles.method_settings(DPOSettings(), t4)
    assert (dpo.batch_size, dpo.max_length, dpo.lora, dpo.gradient_checkpointing) == \
        (sizes.batch_size, sizes.max_length, sizes.lora, True)
    assert profiles.method_settings(SFTSettings(), PROFILES["h100"]).lora is None  # full fine-tuning on 80 GB
    assert precision_kwargs(t4) == {"bf16": False, "fp16": True}
    # a profile of its own (or a renamed one) trains with the defaults; a fitted profile keeps its sizes
    assert profiles.profile_settings(dataclasses.replace(t4, name="mine")) == profiles.ProfileSettings()
    assert profiles.profile_settings(dataclasses.replace(t4, dtype="bfloat16")) == sizes


def test_a_profile_holds_hardware_only_and_every_profile_has_its_sizes():
    assert {f.name for f in dataclasses.fields(profiles.Profile)} == {"name", "device", "dtype", "offline"}
    assert set(profiles.PROFILE_SETTINGS) == set(PROFILES)
