"""nbval's markers are cell tags, not comments in the code a learner reads; nbval honours them the same way."""
from __future__ import annotations

import copy
import json
from collections import defaultdict
from pathlib import Path

import pytest
from nbval.plugin import find_comment_markers, find_metadata_tags

from notebook_markers import MARKERS, convert_file, convert_notebook, marker_comments

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "chapters").glob("[0-9][0-9]_*.ipynb")) + sorted((REPO / "tests").rglob("*.ipynb"))


def nbval_options(cell: dict) -> dict:
    """What nbval decides for a code cell (plugin.IPyNbFile.collect's rule): tags, then comments over them."""
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    options = defaultdict(bool, find_metadata_tags(cell.get("metadata", {})))
    options.update(dict(find_comment_markers(source)))
    return {k: v for k, v in options.items() if v or k == "check"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO)))
def test_no_code_cell_carries_an_nbval_comment(path):
    left = marker_comments(json.loads(path.read_text(encoding="utf-8")))
    assert not left, (f"{path.name}: nbval comments in cells {sorted({i for i, _ in left})}; convert them to tags "
                      f"with: python tests/notebook_markers.py {path.relative_to(REPO)}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO)))
def test_converting_keeps_what_nbval_checks(path):
    """Cell by cell, nbval's options (check, skip, check_exception) are the same before and after conversion."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    converted = copy.deepcopy(notebook)
    convert_notebook(converted)
    for before, after in zip(notebook["cells"], converted["cells"]):
        if before["cell_type"] == "code":
            assert nbval_options(before) == nbval_options(after), "".join(before["source"])[:200]
            assert before.get("outputs") == after.get("outputs")
    assert not marker_comments(converted)


def test_the_converter_moves_every_marker_and_keeps_the_rest(tmp_path):
    cells = [{"cell_type": "code", "metadata": {}, "execution_count": 3, "outputs": [{"output_type": "stream",
              "name": "stdout", "text": ["42\n"]}], "source": ["# NBVAL_CHECK_OUTPUT\n", "print(42)"]},
             {"cell_type": "code", "metadata": {"tags": ["keep"]}, "execution_count": 4, "outputs": [],
              "source": ["# NBVAL_IGNORE_OUTPUT\n", "x = 1  # a comment that stays\n", "x"]},
             {"cell_type": "code", "metadata": {}, "execution_count": 5, "outputs": [], "source": "#  NBVAL_SKIP\ninput()"},
             {"cell_type": "code", "metadata": {}, "execution_count": 6, "outputs": [], "source": ["1 + 1"]},
             {"cell_type": "markdown", "metadata": {}, "source": ["# NBVAL_SKIP is only a word in prose"]}]
    path = tmp_path / "demo.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1))
    original = json.loads(path.read_text())
    assert convert_file(path) == 3
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n") and convert_file(path) == 0  # idempotent
    out = json.loads(text)["cells"]
    assert out[0]["source"] == ["print(42)"] and out[0]["metadata"]["tags"] == ["nbval-check-output"]
    assert out[0]["outputs"] == cells[0]["outputs"] and out[0]["execution_count"] == 3
    assert out[1]["source"] == ["x = 1  # a comment that stays\n", "x"]
    assert out[1]["metadata"]["tags"] == ["keep", "nbval-ignore-output"]
    assert out[2]["source"] == "input()" and out[2]["metadata"]["tags"] == ["nbval-skip"]
    assert out[3] == cells[3] and out[4] == cells[4]
    for before, after in zip(original["cells"][:4], out[:4]):
        assert nbval_options(before) == nbval_options(after)
    assert nbval_options(out[0]) == {"check": True} and nbval_options(out[1]) == {"check": False}
    assert nbval_options(out[2])["skip"] is True


def test_every_marker_maps_to_a_tag_nbval_knows():
    from nbval.plugin import metadata_tags

    assert set(MARKERS.values()) <= set(metadata_tags)
