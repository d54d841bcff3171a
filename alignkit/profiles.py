"""Hardware profiles and `setup()`, the one call a chapter's first code cell makes.

A profile says where the course runs (CPU or GPU, which precision, offline or not); this module is the
one place the device and the dtype are chosen. Nothing here is global until `setup()` is called.
"""
from __future__ import annotations

import os
import random
import sys
from dataclasses import dataclass, replace

import torch

from alignkit.errors import AlignkitError

__all__ = ["Profile", "PROFILES", "detect_profile", "choose_device", "choose_dtype", "setup", "describe",
           "default_threads", "precision_kwargs"]


@dataclass(frozen=True)
class Profile:
    """Where the course runs: which device, which precision, and whether hub downloads are allowed."""

    name: str  # "cpu-tiny", "gpu" or "gpu-real"
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
}


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
    from alignkit.compat import precision_kwargs as flags_for

    return flags_for(profile.dtype, profile.device)
