"""The package's layout: method modules are siblings, and the zoo stores checkpoints without knowing a recipe.

Walks every import statement (module level and inside functions) of the package's source with `ast`.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "alignkit"
# Each method is one module, or a pure core plus its shell; "cai" joins when Constitutional AI lands.
METHODS = {"sft": {"sft"}, "reward": {"reward"}, "ppo": {"ppo", "ppo_train"}, "dpo": {"dpo"}, "kto": {"kto"},
           "cai": {"cai"}}
METHOD_OF = {module: method for method, modules in METHODS.items() for module in modules}
RECIPE_MODULES = {"recipes", "experiments"}


def imported_alignkit_modules(path: Path) -> set[str]:
    """Top-level alignkit module names a source file imports ("alignkit.methods.dpo" and "from alignkit import dpo" alike)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + ([f"{node.module}.{a.name}" for a in node.names] if node.module == "alignkit" else [])
        else:
            continue
        found |= {name.split(".")[1] for name in names if name.startswith("alignkit.")}
    return found


def module_name(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


@pytest.mark.parametrize("path", sorted(p for p in PACKAGE.glob("*.py") if module_name(p) in METHOD_OF),
                         ids=lambda p: p.stem)
def test_no_method_module_imports_another_method(path):
    own = METHOD_OF[module_name(path)]
    others = {m for m in imported_alignkit_modules(path) if METHOD_OF.get(m, own) != own}
    assert not others, f"{path.name} imports the method module(s) {sorted(others)}; shared code belongs in " \
                       "trl_driver, preferences, generation or logprobs"
    assert not imported_alignkit_modules(path) & RECIPE_MODULES, f"{path.name} imports a recipe"


def test_the_zoo_knows_no_recipe_and_no_method():
    for path in (PACKAGE / "zoo.py", PACKAGE / "zoo_cli.py"):
        imported = imported_alignkit_modules(path) - {"recipes"} if path.name == "zoo_cli.py" else \
            imported_alignkit_modules(path)
        assert not imported & (set(METHOD_OF) | RECIPE_MODULES), f"{path.name} imports {sorted(imported)}"


def test_the_walk_sees_both_import_forms(tmp_path):
    source = tmp_path / "probe.py"
    source.write_text("from alignkit import dpo, zoo\nimport alignkit.methods.kto\n\ndef f():\n    from alignkit.methods.reward import x\n")
    assert imported_alignkit_modules(source) == {"dpo", "zoo", "kto", "reward"}


def test_scripts_only_parse_arguments_and_call_the_package():
    for script in sorted((PACKAGE.parent / "scripts").glob("*.py")):
        tree = ast.parse(script.read_text(encoding="utf-8"))
        loops = [n for n in ast.walk(tree) if isinstance(n, (ast.For, ast.While)) and not _only_prints(n)]
        assert not loops, f"{script.name} has a loop at line {loops[0].lineno}: move it into the package"
        assert "inspect" not in {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}, script.name
        functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
        assert functions == ["main"], f"{script.name} defines {functions}; only main() belongs in a script"


def _only_prints(loop) -> bool:
    """A loop whose body only prints what a package function returned is reporting, not work."""
    return all(isinstance(s, ast.Expr) and isinstance(s.value, ast.Call) and getattr(s.value.func, "id", "") == "print"
               for s in loop.body)


@pytest.mark.parametrize("floor", ["core", "methods"])
def test_training_code_knows_no_plotting_layer(floor):
    """Training takes one hook, on_step(row); a live plot subscribes to it, so core and methods never import viz."""
    for path in sorted((PACKAGE / floor).rglob("*.py")):
        assert "viz" not in imported_alignkit_modules(path), f"{path.relative_to(PACKAGE)} imports alignkit.viz"
