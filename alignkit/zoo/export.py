"""`alignkit recipe export sft|rm|dpo|kto --out DIR`: the same recipe, run by TRL's command line on more GPUs.

Writes into DIR:
    <method>.yaml      a `trl <method> --config` file: the TRL config alignkit's own `*_config` builds from the
                       method's settings dataclass (only what differs from TRL's defaults, precision explicit),
                       plus the model, the local dataset and, with --lora, peft's LoRA flags;
    accelerate.yaml    an `accelerate` config: multi-GPU data parallel, or DeepSpeed ZeRO with --zero 1|2|3;
    <method>.jsonl     the rows the recipe trains on, in TRL's conversational format;
    README.md          the two commands that run it.

Nothing is retyped: the settings come from SFTSettings/RewardSettings/DPOSettings/KTOSettings through the
same config builders `train_*` use, so a changed default changes the export too.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import MISSING, fields, replace
from pathlib import Path

from alignkit.infra.errors import AlignkitError
from alignkit.core.lora import LoraSettings
from alignkit.core.profiles import PROFILES, Profile, method_settings, precision_kwargs
from alignkit.zoo import recipes
from alignkit.zoo.card import TRLExport

__all__ = ["exportable", "trl_config_dict", "accelerate_config", "export_recipe", "recipe_rows"]

# Written even where they equal TRL's current defaults: the recipe must not change when a default does.
_ALWAYS = {"learning_rate", "num_train_epochs", "per_device_train_batch_size", "max_length", "beta",
           "gradient_checkpointing", "seed", "loss_type"}


def exportable() -> list[str]:
    """The checkpoints whose card says how TRL's command line trains them."""
    return [name for name, method in recipes.CARDS.items() if method.export is not None]


def _export_of(method: str) -> TRLExport:
    """The method card's export: its settings, the builder of its TRL config, its rows."""
    found = recipes.CARDS.get(method)
    if found is None or found.export is None:
        raise AlignkitError(f"no recipe export for {method!r}; choose one of {', '.join(exportable())} (PPO: see "
                            "README, 'Beyond the toy').")
    return found.export


def _plain(value):
    """A config value as YAML can hold it (enums to their values, tuples to lists)."""
    value = getattr(value, "value", value)
    return list(value) if isinstance(value, tuple) else value


def trl_config_dict(method: str, settings, profile: Profile) -> dict:
    """The fields of the method's TRL config that alignkit sets (those differing from TRL's defaults)."""
    builder = _export_of(method).config_builder
    with tempfile.TemporaryDirectory() as out:
        # Built for the CPU profile: transformers refuses bf16 configs on a machine without a GPU; the
        # target profile's flags are set below, always both (TRL defaults to bf16, which fails on a T4).
        config = builder(settings, out, PROFILES["cpu-tiny"])
    defaults = {f.name: f.default_factory() if f.default_factory is not MISSING else f.default
                for f in fields(config) if f.init}
    skip = {"output_dir", "logging_dir", "disable_tqdm", "dataloader_pin_memory", "report_to", "bf16", "fp16",
            "accelerator_config", "debug"}
    shown = {k: v for k, v in config.to_dict().items() if v != f"<{k.upper()}>"}  # to_dict masks *_token fields
    chosen = {k: _plain(v) for k, v in shown.items()
              if k not in skip and (k in _ALWAYS or _plain(v) != _plain(defaults.get(k)))}
    return chosen | precision_kwargs(profile)


def _lora_flags(lora: LoraSettings | None, profile: Profile) -> dict:
    if lora is None:
        return {"dtype": "float32"}  # full fine-tuning: float32 master weights, mixed precision from bf16/fp16
    return {"use_peft": True, "lora_r": lora.r, "lora_alpha": lora.alpha, "lora_dropout": lora.dropout,
            "lora_target_modules": list(lora.target_modules), "dtype": profile.dtype}


def accelerate_config(profile: Profile, processes: int, zero: int | None) -> dict:
    """An accelerate config: data parallel over `processes` GPUs, or DeepSpeed ZeRO stage `zero`."""
    precision = {"bfloat16": "bf16", "float16": "fp16"}.get(profile.dtype, "no")
    config = {"compute_environment": "LOCAL_MACHINE", "distributed_type": "MULTI_GPU", "num_machines": 1,
              "num_processes": processes, "machine_rank": 0, "gpu_ids": "all", "mixed_precision": precision,
              "main_training_function": "main", "rdzv_backend": "static", "same_network": True, "use_cpu": False,
              "downcast_bf16": "no"}
    if zero is not None:
        if zero not in (1, 2, 3):
            raise AlignkitError(f"--zero must be 1, 2 or 3 (DeepSpeed ZeRO stages), not {zero}.")
        config |= {"distributed_type": "DEEPSPEED", "deepspeed_config": {
            "zero_stage": zero, "offload_optimizer_device": "none", "offload_param_device": "none",
            "zero3_init_flag": zero == 3, "deepspeed_multinode_launcher": "standard"}}
        config.pop("gpu_ids")
    return config


def _write_yaml(path: Path, data: dict) -> None:
    import yaml

    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def export_recipe(method: str, out: str | Path, rows: list[dict], model: str, profile: Profile = PROFILES["gpu"],
                  lora: LoraSettings | None = None, processes: int = 8, zero: int | None = None,
                  profile_settings: bool = False) -> dict[str, Path]:
    """Write the TRL config, the accelerate config, the dataset (TRL-format `rows`) and a README into `out`.

    profile_settings: batch size, max length, LoRA and checkpointing from `profile` (`method_settings`);
    `lora`, if given, wins over both.
    """
    settings = _export_of(method).settings()
    settings = method_settings(settings, profile) if profile_settings else settings
    settings = replace(settings, lora=lora) if lora is not None else settings
    lora = settings.lora
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    paths = {"config": out / f"{method}.yaml", "accelerate": out / "accelerate.yaml", "data": out / f"{method}.jsonl",
             "readme": out / "README.md"}
    paths["data"].write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    trl = {"model_name_or_path": model, "datasets": [{"path": "json", "data_files": str(paths["data"]),
                                                       "split": "train"}],
           "output_dir": str(out / "output")} | trl_config_dict(method, settings, profile) | _lora_flags(lora, profile)
    _write_yaml(paths["config"], trl)
    _write_yaml(paths["accelerate"], accelerate_config(profile, processes, zero))
    command = _export_of(method).command
    paths["readme"].write_text(
        f"# alignkit recipe `{method}`, for TRL's command line\n\n"
        f"    trl {command} --config {paths['config'].name} --accelerate_config {paths['accelerate'].name}\n\n"
        f"or, with accelerate directly:\n\n"
        f"    accelerate launch --config_file {paths['accelerate'].name} -m trl.scripts.{command} "
        f"--config {paths['config'].name}\n\n"
        f"Edit `model_name_or_path` for another model; `num_processes` in {paths['accelerate'].name} is the GPU "
        "count. The batch size in the config is per GPU.\n", encoding="utf-8")
    return paths


def recipe_rows(method: str, max_prompts: int | None = None, seed: int = 0) -> list[dict]:
    """The rows the zoo recipe trains on, in TRL's conversational format (RM/DPO/KTO sample the zoo's `sft`)."""
    return _export_of(method).rows(max_prompts, seed)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("export",), help="export: write TRL + accelerate configs and the data")
    parser.add_argument("method", choices=exportable(), help="which recipe")
    parser.add_argument("--out", required=True, help="directory to write into")
    parser.add_argument("--model", help="model to train (hub id or directory); default: the recipe's zoo parent")
    parser.add_argument("--profile", default="gpu", choices=sorted(PROFILES), help="precision (and, with "
                        "--profile-settings, batch size, length and LoRA) of this hardware profile")
    parser.add_argument("--profile-settings", action="store_true", help="take batch size, max length and LoRA "
                        "from the profile instead of the recipe")
    parser.add_argument("--lora", action="store_true", help="train LoRA adapters (lora.LoraSettings defaults)")
    parser.add_argument("--processes", type=int, default=8, help="GPUs (accelerate num_processes)")
    parser.add_argument("--zero", type=int, choices=(1, 2, 3), help="DeepSpeed ZeRO stage (default: plain DDP)")
    parser.add_argument("--max-prompts", type=int, help="RM/DPO/KTO: sample pairs for only this many prompts")


def _check_run(args: argparse.Namespace) -> None:
    """Refuse what export_recipe would crash on or silently overwrite, before the rows are sampled."""
    from alignkit.infra.paths import NO_COURSE_DATA, has_course_data

    if args.processes < 1:
        raise AlignkitError(f"--processes is the number of GPUs and must be at least 1, not {args.processes}.")
    if args.max_prompts is not None and args.max_prompts < 1:
        raise AlignkitError(f"--max-prompts must be at least 1, not {args.max_prompts}.")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise AlignkitError(f"--out {out} is a file; pass a directory to write the recipe into.")
    readme = out / "README.md"
    ours = readme.is_file() and readme.read_bytes().startswith(b"# alignkit recipe `")
    taken = [n for n in ("README.md", f"{args.method}.yaml", "accelerate.yaml", f"{args.method}.jsonl")
             if (out / n).exists()]
    if taken and not ours:  # e.g. --out . in a project: never replace files the export did not write
        raise AlignkitError(f"{out} already holds {', '.join(taken)}, not written by `alignkit recipe export`; "
                            "pass a new or empty --out directory.")
    if not has_course_data():
        raise AlignkitError(NO_COURSE_DATA.format(missing="its data/ folder"))


def run(args: argparse.Namespace) -> int:
    from alignkit import zoo

    _check_run(args)
    model = args.model or str(zoo.zoo_root() / _export_of(args.method).model_parent)
    rows = recipe_rows(args.method, args.max_prompts)
    try:
        paths = export_recipe(args.method, args.out, rows, model,
                              PROFILES[args.profile], LoraSettings() if args.lora else None, args.processes, args.zero,
                              profile_settings=args.profile_settings)
    except OSError as err:  # an unwritable --out (/proc/x, read-only, full disk)
        raise AlignkitError(f"cannot write the recipe into {args.out}: {err.strerror or err}; pass a directory "
                            "you can write.") from None
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    print((Path(args.out) / "README.md").read_text(encoding="utf-8").splitlines()[2].strip())
    return 0
