"""The package's floors, as folders: each floor imports only floors below it (or its own), with the rules the
course's layout rests on. Walks every import of the package's source with `ast`, function-local ones included.

    infra (1) < world (2) < core (3) < methods, cai (4) < measure, zoo (5)
    < report, experiments, course, quiz, viz (6) < cli (7)
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "alignkit"
FLOORS = {"infra": 1, "world": 2, "core": 3, "methods": 4, "cai": 4, "measure": 5, "zoo": 5, "report": 6,
          "experiments": 6, "course": 6, "quiz": 6, "viz": 6, "cli": 7}
TOP_LEVEL = {"alignkit": 0, "alignkit.__main__": 7}  # the package's docstring; `python -m alignkit`
# A method is one module, or a pure core plus its loop; `preferences` is the data every preference method shares.
METHOD_OF = {"pretrain": "pretrain", "sft": "sft", "reward": "reward", "ppo": "ppo", "ppo_train": "ppo", "dpo": "dpo",
             "kto": "kto"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(name: str) -> str | None:
    """The alignkit module `name` refers to (a module, a package, or an attribute of one); None if outside."""
    if not (name == "alignkit" or name.startswith("alignkit.")):
        return None
    parts = name.split(".")
    while parts:
        base = PACKAGE.parent.joinpath(*parts)
        if base.with_suffix(".py").is_file() or (base / "__init__.py").is_file():
            return ".".join(parts)
        parts = parts[:-1]
    return None


def imports_of(path: Path) -> set[str]:
    """The alignkit modules a source file imports, at module level or inside functions, in either form."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {m for m in map(_resolve, names) if m}
    return found


GRAPH = {module_name(p): imports_of(p) - {module_name(p)} for p in sorted(PACKAGE.rglob("*.py"))}


def floor(module: str) -> int:
    return TOP_LEVEL[module] if module in TOP_LEVEL else FLOORS[module.split(".")[1]]


def folder(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def test_every_module_sits_in_a_floor_folder():
    loose = [m for m in GRAPH if m not in TOP_LEVEL and folder(m) not in FLOORS]
    assert not loose, f"modules outside the floor folders: {loose}"


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_a_floor_imports_only_floors_below_it_or_its_own(module):
    above = sorted(m for m in GRAPH[module] if m != "alignkit" and floor(m) > floor(module))
    assert not above, f"{module} (floor {floor(module)}) imports {above} from a higher floor"


def test_the_world_imports_only_infra():
    for module, imported in GRAPH.items():
        if folder(module) == "world":
            assert {folder(m) for m in imported} <= {"world", "infra"}, f"{module} imports {sorted(imported)}"


def test_a_method_imports_no_other_method_nor_the_zoo_measurement_or_course():
    forbidden = {"zoo", "measure", "course", "quiz", "viz", "report", "experiments", "cli", "cai"}
    for module, imported in GRAPH.items():
        if folder(module) != "methods":
            continue
        own = METHOD_OF.get(module.split(".")[-1])
        others = {m for m in imported if folder(m) == "methods" and METHOD_OF.get(m.split(".")[-1], own) != own}
        assert not others, f"{module} imports the method module(s) {sorted(others)}; share through preferences"
        assert not {folder(m) for m in imported} & forbidden, f"{module} imports {sorted(imported)}"


def test_core_imports_no_method_and_no_plotting():
    for module, imported in GRAPH.items():
        if folder(module) == "core":
            assert not {folder(m) for m in imported} & {"methods", "cai", "viz"}, f"{module}: {sorted(imported)}"


def test_the_course_layer_imports_no_zoo():
    for module, imported in GRAPH.items():
        if folder(module) == "course":
            assert not {m for m in imported if folder(m) == "zoo"}, f"{module} imports {sorted(imported)}"


def test_the_zoo_store_knows_no_recipe_and_no_method():
    imported = GRAPH["alignkit.zoo.store"] | GRAPH["alignkit.zoo"]
    assert not {folder(m) for m in imported} & {"methods", "cai", "measure"}, sorted(imported)
    assert not {m for m in imported if m.startswith("alignkit.zoo.") and m != "alignkit.zoo.store"}


def test_no_import_cycles():
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(GRAPH.get(module, ())):
            if state.get(target) == 1:
                cycle = path[path.index(target):] + [target] if target in path else [module, target]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])


def test_the_walk_sees_both_import_forms_and_function_local_imports(tmp_path):
    source = tmp_path / "probe.py"
    source.write_text("from alignkit.methods import dpo\nimport alignkit.methods.kto\nfrom alignkit import zoo\n\n"
                      "def f():\n    from alignkit.methods.reward import bradley_terry_loss\n")
    assert imports_of(source) == {"alignkit.methods.dpo", "alignkit.methods.kto", "alignkit.zoo",
                                  "alignkit.methods.reward"}


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
