"""The install paths (pip, conda, CI) describe the same project."""
import re
from pathlib import Path

import pytest
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

from alignkit.infra.errors import DataFileError
from alignkit.world.files import read_jsonl

REPO = Path(__file__).resolve().parents[1]


def test_environment_yml_installs_this_package_with_the_ci_pins():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e .[notebook,test]" in pip and "-c constraints/ci.txt" in pip
    assert any(line.startswith("torch==") for line in pip)


def test_ci_installs_the_same_torch_as_setup_and_conda():
    setup = (REPO / "scripts" / "setup.sh").read_text()
    pinned = re.search(r"torch==[\d.]+", setup).group(0)
    assert pinned in (REPO / "environment.yml").read_text()
    assert "scripts/setup.sh" in (REPO / ".ci" / "run").read_text()


def test_constraints_pin_every_declared_dependency():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=\[ ]", d)[0].lower() for d in project["dependencies"]} - {"torch"}
    pinned = {line.split("==")[0].lower() for line in (REPO / "constraints" / "ci.txt").read_text().splitlines()
              if "==" in line}
    assert declared <= pinned, declared - pinned


def test_ipywidgets_range_keeps_colab_working():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    widgets = next(d for d in project["dependencies"] if d.startswith("ipywidgets"))
    assert "7.7" in widgets and ">=8" not in widgets


def test_missing_data_file_says_how_to_regenerate(tmp_path):
    with pytest.raises(DataFileError, match="alignkit world build"):
        read_jsonl("corpus.jsonl", data_dir=tmp_path)
    (tmp_path / "sft.jsonl").write_text('{"messages": []}\n{"messa')
    with pytest.raises(DataFileError, match="line 2"):
        read_jsonl("sft.jsonl", data_dir=tmp_path)
