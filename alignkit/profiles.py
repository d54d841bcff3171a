"""Hardware profiles and `setup()`, the one call a chapter's first code cell makes.

A profile says where the course runs (CPU or GPU, which precision) and how big the chapters'
experiments are. Chapters read its fields and vary them with `dataclasses.replace`; nothing here
is global until `setup()` is called.
"""
from __future__ import annotations

import os
import random
import sys
from dataclasses import dataclass, replace

import torch

from alignkit.errors import AlignkitError

__all__ = ["Profile", "PROFILES", "detect_profile", "setup", "describe", "default_threads", "precision_kwargs"]


@dataclass(frozen=True)
class Profile:
    """Where the course runs and how big its experiments are."""

    name: str  # "cpu-tiny", "gpu" or "gpu-real"
    device: str  # "cpu" or "cuda"
    dtype: str  # weights' dtype for generation and frozen models: "float32", "bfloat16", "float16"
    batch_size: int  # per-device training batch size chapters start from
    steps_multiplier: float  # chapters multiply their default number of training steps by this
    max_new_tokens: int  # longest response generated in rollouts and evaluation
    eval_prompts: int  # held-out prompts per evaluation table (more = smaller error bars, slower)
    model: str  # "zoo": the course's tiny models; otherwise the hub model of the real-model track
    offline: bool  # set HF_HUB_OFFLINE=1: the toy track never downloads anything at run time

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)


PROFILES: dict[str, Profile] = {
    # Default: a 2-core laptop CPU; every chapter finishes in a few minutes.
    "cpu-tiny": Profile("cpu-tiny", "cpu", "float32", batch_size=16, steps_multiplier=1.0,
                        max_new_tokens=48, eval_prompts=64, model="zoo", offline=True),
    # Same toy models on a GPU: longer training and bigger evaluations in about the same time.
    # dtype becomes float16 on GPUs without bfloat16 (T4), see detect_profile.
    "gpu": Profile("gpu", "cuda", "bfloat16", batch_size=64, steps_multiplier=4.0,
                   max_new_tokens=64, eval_prompts=256, model="zoo", offline=True),
    # The real-model track: the same code on a small hub model, which must be downloaded once.
    "gpu-real": Profile("gpu-real", "cuda", "bfloat16", batch_size=8, steps_multiplier=1.0,
                        max_new_tokens=128, eval_prompts=128, model="HuggingFaceTB/SmolLM2-135M",
                        offline=False),
}


def _fit_to_machine(profile: Profile) -> Profile:
    if profile.device == "cuda" and not torch.cuda.is_available():
        raise AlignkitError(
            f"Profile {profile.name!r} needs a GPU, but torch.cuda.is_available() is False. "
            "Use setup(profile='cpu-tiny'), or in Colab choose Runtime > Change runtime type > GPU."
        )
    if profile.device == "cuda" and profile.dtype == "bfloat16" and not torch.cuda.is_bf16_supported():
        return replace(profile, dtype="float16")  # T4-class GPUs have no bfloat16
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
    models = "the course's tiny models" if profile.model == "zoo" else profile.model
    return (
        f"profile {profile.name}: {profile.device.upper()}, {profile.dtype} weights, "
        f"batch size {profile.batch_size}, {profile.steps_multiplier:g}x training steps, "
        f"up to {profile.max_new_tokens} new tokens, {models}"
    )


def precision_kwargs(profile: Profile) -> dict[str, bool]:
    """`bf16`/`fp16` flags for a TRL/transformers config that match the profile (see compat)."""
    from alignkit.compat import precision_kwargs as flags_for

    return flags_for(profile.dtype, profile.device)
