"""The zoo: the checkpoint store (`store`), the recipes that build each checkpoint (`recipes`), their export to
TRL + accelerate (`export`) and the real-model track (`real_model`).

    from alignkit import zoo
    model, tokenizer = zoo.load("sft")     # the store's API is the package's

Only the store is imported here: `alignkit zoo list` reads JSON without importing torch or a recipe.
"""
from alignkit.zoo.store import (DEFAULT_ROOT, FORMATS, info, load, names, read_manifest, rebuild_command, save,
                                update_metrics, verify, zoo_root)

__all__ = ["FORMATS", "DEFAULT_ROOT", "zoo_root", "rebuild_command", "read_manifest", "names", "info", "save", "load",
           "verify", "update_metrics"]
