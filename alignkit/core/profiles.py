"""Hardware profiles and `setup()`, the one call a chapter's first code cell makes.

A profile says where the course runs (CPU or GPU, which precision, offline or not); this module is the
one place the device and the dtype are chosen. What a method trains with on that hardware (batch size,
sequence length, LoRA, checkpointing) is a profile's `ProfileSettings`, which `method_settings` applies to
a method's settings. Nothing here is global until `setup()` is called.
"""
from __future__ import annotations

import os
import random
import sys
from dataclasses import dataclass, fields, replace

import torch

from alignkit.infra.errors import AlignkitError
from alignkit.core.lora import LoraSettings

__all__ = ["Profile", "PROFILES", "ProfileSettings", "PROFILE_SETTINGS", "profile_settings", "detect_profile",
           "choose_device", "choose_dtype", "setup", "describe", "default_threads", "precision_kwargs",
           "real_model_profile", "method_settings"]


@dataclass(frozen=True)
class Profile:
    """Where the course runs: which device, which precision, and whether hub downloads are allowed."""

    name: str  # "cpu-tiny", "gpu", "gpu-real", or a GPU's real-model profile ("t4", "l4", "a100", "h100")
    device: str  # "cpu" or "cuda"
    dtype: str  # weights' dtype for generation and frozen models: "float32", "bfloat16", "float16"
    offline: bool  # set HF_HUB_OFFLINE=1: the toy track never downloads anything at run time

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)


PROFILES: dict[str, Profile] = {
    "cpu-tiny": Profile("cpu-tiny", "cpu", "float32", offline=True),  # a 2-core laptop: the course's default
    "gpu": Profile("gpu", "cuda", "bfloat16", offline=True),  # the same toy models on a GPU
    "gpu-real": Profile("gpu-real", "cuda", "bfloat16", offline=False),  # a hub model, downloaded once
    # Real models (135M-1.7B instruct models; 7-8B with LoRA from L4 up), by GPU.
    "t4": Profile("t4", "cuda", "float16", offline=False),  # 16 GB, no bfloat16
    "l4": Profile("l4", "cuda", "bfloat16", offline=False),  # 24 GB
    "a100": Profile("a100", "cuda", "bfloat16", offline=False),  # 40-80 GB
    "h100": Profile("h100", "cuda", "bfloat16", offline=False),  # 80 GB
}


@dataclass(frozen=True)
class ProfileSettings:
    """What a method trains a real model with on a profile's hardware (`method_settings` applies it)."""

    batch_size: int = 4  # sequences (or pairs) per device step
    max_length: int = 512  # tokens of prompt + completion; activations grow with it
    lora: LoraSettings | None = LoraSettings()  # None: full fine-tuning (every weight, 2 copies for DPO/KTO)
    gradient_checkpointing: bool = False  # recompute activations in the backward pass: less memory, slower


# By profile name; a profile not listed gets ProfileSettings(). Sized for each GPU's memory: see
# data/results/lora_memory.json (scripts/lora_memory.py).
PROFILE_SETTINGS: dict[str, ProfileSettings] = {
    "cpu-tiny": ProfileSettings(),
    "gpu": ProfileSettings(batch_size=32, max_length=128, lora=None),  # the toy models, trained fully
    "gpu-real": ProfileSettings(),
    "t4": ProfileSettings(batch_size=2, max_length=512, lora=LoraSettings(r=16, alpha=32),
                          gradient_checkpointing=True),
    "l4": ProfileSettings(batch_size=4, max_length=1024, lora=LoraSettings(r=16, alpha=32),
                          gradient_checkpointing=True),
    "a100": ProfileSettings(batch_size=8, max_length=2048, lora=LoraSettings(r=32, alpha=64),
                            gradient_checkpointing=True),
    # 80 GB: a model up to ~2B fine-tunes fully (about 18 bytes per parameter for DPO, frozen reference included).
    "h100": ProfileSettings(batch_size=16, max_length=2048, lora=None),
}

# Substrings of torch.cuda.get_device_name() → the real-model profile for that GPU.
_GPU_PROFILES = (("T4", "t4"), ("L4", "l4"), ("A100", "a100"), ("H100", "h100"), ("H200", "h100"))


def choose_device(prefer: str | torch.device | None = None) -> torch.device:
    """The device to run on: `prefer` if given and usable, else CUDA if available, else CPU."""
    if prefer is not None:
        device = torch.device(prefer)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise AlignkitError(
                "CUDA was requested but torch.cuda.is_available() is False. Use device='cpu', "
                "or install a CUDA build of torch and check that a GPU is visible (nvidia-smi)."
            )
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def choose_dtype(device: str | torch.device) -> torch.dtype:
    """Weights' dtype for a device: float32 on CPU; bfloat16 on GPUs that support it, else float16.

    T4-class GPUs have no bfloat16; half precision there must be float16.
    """
    if torch.device(device).type != "cuda":
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _fit_to_machine(profile: Profile) -> Profile:
    if profile.device == "cuda" and not torch.cuda.is_available():
        raise AlignkitError(
            f"Profile {profile.name!r} needs a GPU, but torch.cuda.is_available() is False. "
            "Use setup(profile='cpu-tiny'), or in Colab choose Runtime > Change runtime type > GPU."
        )
    if profile.dtype != "float32":  # half precision: the kind this device supports
        return replace(profile, dtype=str(choose_dtype(profile.device)).removeprefix("torch."))
    return profile


def detect_profile() -> Profile:
    """"gpu" when CUDA is available (float16 where bfloat16 is unsupported), else "cpu-tiny"."""
    return _fit_to_machine(PROFILES["gpu" if torch.cuda.is_available() else "cpu-tiny"])


def default_threads(limit: int = 4) -> int:
    """Physical cores this process may use, at most `limit`: more threads than cores only adds contention."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        import psutil

        usable = min(usable, psutil.cpu_count(logical=False) or usable)
    except ImportError:
        pass
    return max(1, min(usable, limit))


def _seed_everything(seed: int) -> None:
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds every CUDA device too
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def _go_offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    # These libraries read the variable once, at import; if a cell imported them before setup(),
    # update the flags they already read so "offline" means offline.
    hub_constants = sys.modules.get("huggingface_hub.constants")
    if hub_constants is not None and hasattr(hub_constants, "HF_HUB_OFFLINE"):
        hub_constants.HF_HUB_OFFLINE = True
    datasets_config = sys.modules.get("datasets.config")
    if datasets_config is not None and hasattr(datasets_config, "HF_HUB_OFFLINE"):
        datasets_config.HF_HUB_OFFLINE = True


def _quiet_libraries() -> None:
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    import datasets
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.utils.logging.set_verbosity_error()
    datasets.disable_progress_bars()  # "Map: 100%" bars from dataset.map in TRL trainers


def setup(seed: int = 0, threads: int | None = None, quiet: bool = True, profile: str | None = None) -> Profile:
    """Seed everything, set threads, quiet the libraries, pick the profile; prints nothing.

    threads: None = physical cores, at most 4. profile: a name from PROFILES, None = detect.
    """
    chosen = detect_profile() if profile is None else _fit_to_machine(_lookup(profile))
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # avoids the fork warning once a DataLoader starts
    if chosen.offline:
        _go_offline()
    _seed_everything(seed)
    torch.set_num_threads(threads if threads is not None else default_threads())
    torch.use_deterministic_algorithms(False)  # deterministic kernels are slower and some are missing
    if quiet:
        _quiet_libraries()
    return chosen


def _lookup(name: str) -> Profile:
    if name not in PROFILES:
        raise AlignkitError(f"Unknown profile {name!r}; choose one of {', '.join(PROFILES)}.")
    return PROFILES[name]


def describe(profile: Profile) -> str:
    """One line for a notebook: what runs where, with no versions, paths or timings."""
    hub = "no downloads" if profile.offline else "hub models may be downloaded"
    return f"profile {profile.name}: {profile.device.upper()}, {profile.dtype} weights, {hub}"


def precision_kwargs(profile: Profile) -> dict[str, bool]:
    """`bf16`/`fp16` flags for a TRL/transformers config that match the profile (see compat)."""
    from alignkit.infra.compat import precision_kwargs as flags_for

    return flags_for(profile.dtype, profile.device)


def real_model_profile() -> Profile:
    """The profile for a real model on this machine: by GPU name (T4, L4, A100, H100), "gpu-real" for another
    GPU, "cpu-tiny" without one (the local stand-in's track)."""
    if not torch.cuda.is_available():
        return _fit_to_machine(PROFILES["cpu-tiny"])
    name = torch.cuda.get_device_name()
    chosen = next((profile for part, profile in _GPU_PROFILES if part in name), "gpu-real")
    return _fit_to_machine(PROFILES[chosen])


def profile_settings(profile: Profile) -> ProfileSettings:
    """The batch size, sequence length, LoRA and checkpointing a method trains with on `profile`'s hardware."""
    return PROFILE_SETTINGS.get(profile.name, ProfileSettings())


def method_settings(settings, profile: Profile):
    """`settings` (SFTSettings, RewardSettings, DPOSettings, KTOSettings...) with the profile's batch size,
    sequence length, LoRA and checkpointing (`profile_settings`), where the settings class has such a field."""
    sizes = profile_settings(profile)
    wanted = {f.name: getattr(sizes, f.name) for f in fields(sizes)}
    names = {f.name for f in fields(settings)}
    return replace(settings, **{key: value for key, value in wanted.items() if key in names})
