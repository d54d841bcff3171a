"""One place for library version checks and the renames between library versions.

Chapters never branch on versions themselves: they ask this module which keyword a trainer takes,
which precision flags to pass, or whether the installed stack is supported at all. Heavy libraries
(torch, transformers, trl) are imported only inside the functions that need them.
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import inspect
import platform
import warnings
from collections.abc import Iterator
from typing import Any

from packaging.version import InvalidVersion, Version

from alignkit.infra.errors import UnsupportedVersionError

__all__ = [
    "SUPPORTED",
    "Requirement",
    "check_versions",
    "require",
    "versions_table",
    "trainer_tokenizer_kwarg",
    "sft_max_length_kwarg",
    "precision_kwargs",
    "library_renames_in_flight",
]


@dataclasses.dataclass(frozen=True)
class Requirement:
    package: str  # distribution name, as pip spells it
    minimum: str  # oldest supported version (inclusive)
    below: str | None = None  # first unsupported version (exclusive), None = no upper bound
    why: str = ""  # what alignkit relies on, shown in the error message

    def spec(self) -> str:
        """The pip requirement string, e.g. "ipywidgets>=7.7,<9"."""
        upper = f",<{self.below}" if self.below else ""
        return f"{self.package}>={self.minimum}{upper}"


SUPPORTED: dict[str, Requirement] = {
    r.package: r
    for r in (
        Requirement("torch", "2.2", why="scaled_dot_product_attention, torch.load(weights_only=True)"),
        Requirement("transformers", "4.56", why="processing_class, chat templates with generation tags"),
        Requirement("trl", "1.8", why="KTOTrainer, processing_class"),
        Requirement("peft", "0.13", why="LoRA adapters on Llama-family models"),
        Requirement("datasets", "3.0", why="TRL's conversational and preference formats"),
        Requirement("plotly", "5.24", why="live training plots; Colab ships 5.24"),
        # Colab ships 7.7.1 and stops rendering widgets when upgraded to 8; 9 is untested.
        Requirement("ipywidgets", "7.7", below="9", why="quiz and comparison widgets"),
    )
}


def _installed_version(package: str) -> str | None:
    # Looked up through the module attribute on purpose, so tests can monkeypatch it.
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _release(version: str) -> Version:
    # Compare release numbers only: "2.2.0a0+git" builds (NVIDIA containers) and rc's count as 2.2.
    return Version(Version(version).base_version)


def _problem(req: Requirement, installed: str | None) -> str | None:
    """The message for one requirement, or None when the installed version is supported."""
    needs = f"alignkit needs {req.package} >= {req.minimum}" + (f", < {req.below}" if req.below else "")
    reason = f" ({req.why})" if req.why else ""
    if installed is None:
        return f"{req.package} is not installed but {needs}{reason}. Install it with: pip install '{req.spec()}'"
    try:
        release = _release(installed)
    except InvalidVersion:
        return (f"{req.package} reports version {installed!r}, which alignkit cannot read; {needs}{reason}. "
                f"Reinstall it with: pip install -U '{req.spec()}'")
    too_old = release < Version(req.minimum)
    too_new = req.below is not None and release >= Version(req.below)
    if not (too_old or too_new):
        return None
    action = "Upgrade" if too_old else "Install a supported version"
    flag = "-U " if too_old else ""
    return (f"{req.package} {installed} is installed but {needs}{reason}. "
            f"{action} with: pip install {flag}'{req.spec()}'")


def require(package: str, minimum: str | None = None) -> str:
    """Raise UnsupportedVersionError unless `package` is installed at >= `minimum`; return its version.

    `minimum` defaults to the supported minimum in SUPPORTED; the message names the package, the
    installed and the required versions, and the pip command that fixes it.
    """
    known = SUPPORTED.get(package)
    if minimum is None and known is None:
        raise ValueError(f"no minimum given for {package!r} and it is not one of {sorted(SUPPORTED)}")
    req = Requirement(
        package,
        minimum or known.minimum,
        below=known.below if known else None,
        why=known.why if known else "",
    )
    installed = _installed_version(package)
    problem = _problem(req, installed)
    if problem:
        raise UnsupportedVersionError(problem)
    return installed


def check_versions(strict: bool = False) -> list[str]:
    """Compare the installed libraries with SUPPORTED; return one message per problem.

    With strict=True, raise UnsupportedVersionError listing every problem instead.
    """
    problems = [p for req in SUPPORTED.values() if (p := _problem(req, _installed_version(req.package)))]
    if strict and problems:
        raise UnsupportedVersionError("Unsupported library versions:\n- " + "\n- ".join(problems))
    return problems


def versions_table() -> dict[str, str]:
    """Python and each supported library's version, or "not installed" (for the setup chapter)."""
    table = {"python": platform.python_version()}
    for package in SUPPORTED:
        table[package] = _installed_version(package) or "not installed"
    return table


def _parameter_names(obj: Any) -> set[str]:
    """Field names of a dataclass, or parameter names of a callable's signature."""
    if dataclasses.is_dataclass(obj):
        return {f.name for f in dataclasses.fields(obj)}
    target = obj.__init__ if inspect.isclass(obj) else obj
    return set(inspect.signature(target).parameters)


def trainer_tokenizer_kwarg(trainer_cls: Any) -> str:
    """The keyword a trainer takes the tokenizer under: "processing_class" (new) or "tokenizer" (old)."""
    names = _parameter_names(trainer_cls)
    for name in ("processing_class", "tokenizer"):
        if name in names:
            return name
    raise UnsupportedVersionError(
        f"{getattr(trainer_cls, '__name__', trainer_cls)} accepts neither `processing_class` nor `tokenizer`; "
        f"alignkit does not know how to pass it a tokenizer. Install a supported trl: pip install -U '{SUPPORTED['trl'].spec()}'"
    )


def sft_max_length_kwarg(config_cls: Any = None) -> str:
    """The SFT config field for the sequence cap: "max_length" (new) or "max_seq_length" (old TRL)."""
    if config_cls is None:
        from trl import SFTConfig as config_cls
    names = _parameter_names(config_cls)
    for name in ("max_length", "max_seq_length"):
        if name in names:
            return name
    raise UnsupportedVersionError(
        f"{getattr(config_cls, '__name__', config_cls)} has neither `max_length` nor `max_seq_length`. "
        f"Install a supported trl: pip install -U '{SUPPORTED['trl'].spec()}'"
    )


_DTYPE_ALIASES = {
    "bfloat16": "bfloat16", "bf16": "bfloat16",
    "float16": "float16", "fp16": "float16", "half": "float16",
    "float32": "float32", "fp32": "float32", "float": "float32",
}


def precision_kwargs(dtype: Any, device: Any = None) -> dict[str, bool]:
    """Both mixed-precision flags for TrainingArguments / TRL configs, always set explicitly.

    TRL's configs default `bf16=True` unless `fp16` is set, which fails on T4-class GPUs; passing both
    avoids that. On CPU both are False (the CPU profile trains in float32).
    `dtype`: a torch dtype or one of "bf16", "fp16", "fp32" (or their long names).
    """
    name = _DTYPE_ALIASES.get(str(dtype).lower().removeprefix("torch."))
    if name is None:
        raise ValueError(f"unknown training dtype {dtype!r}; use torch.bfloat16, torch.float16, torch.float32 "
                         f"or one of {sorted(_DTYPE_ALIASES)}")
    if device is not None and str(device).split(":")[0] == "cpu":
        return {"bf16": False, "fp16": False}
    return {"bf16": name == "bfloat16", "fp16": name == "float16"}


# Deprecations that a supported library raises from inside another supported library, where alignkit
# passes nothing deprecated and the learner can change nothing: (category, message start, who reads it).
# transformers 5.x renamed `PreTrainedModel.is_gradient_checkpointing` to `is_activation_checkpointing`;
# peft (get_peft_model) and TRL (DPO/KTO's reference pass, `disable_gradient_checkpointing`) still read the
# old name, so every LoRA wrap and every DPO/KTO run printed a FutureWarning with a site-packages path.
_LIBRARY_INTERNAL_DEPRECATIONS = (
    (FutureWarning, r"`is_gradient_checkpointing` is deprecated", "peft and trl read transformers' old name"),
)


@contextlib.contextmanager
def library_renames_in_flight() -> Iterator[None]:
    """Run library code that still uses a name another library renamed, without that rename's warning.

    Only the warnings listed in `_LIBRARY_INTERNAL_DEPRECATIONS` are hidden, each by category and message;
    every other warning (alignkit's own, a deprecated argument alignkit passes) still shows.
    """
    with warnings.catch_warnings():
        for category, message, _why in _LIBRARY_INTERNAL_DEPRECATIONS:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield
