"""Every chapter notebook follows the conventions nbval and learners rely on."""
from pathlib import Path

import nbformat
import pytest

CHAPTERS = sorted((Path(__file__).resolve().parents[1] / "chapters").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_first_code_cell_calls_setup(path):
    first = next(c for c in nbformat.read(path, 4).cells if c.cell_type == "code")
    assert "setup(" in first.source


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_ends_with_its_quiz(path):
    last = [c for c in nbformat.read(path, 4).cells if c.cell_type == "code"][-1]
    assert f'quiz.show("{path.stem}")' in last.source


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_committed_outputs_have_no_errors_and_no_half_executed_state(path):
    cells = [c for c in nbformat.read(path, 4).cells if c.cell_type == "code"]
    executed = [c for c in cells if c.get("execution_count") is not None]
    assert len(executed) in (0, len(cells)), "commit outputs from one full run, or strip them all"
    assert not [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_exercise_cells_ship_the_learners_stub(path):
    sources = [c.source for c in nbformat.read(path, 4).cells if c.cell_type == "code"]
    stubs = [s for s in sources if "YOUR CODE HERE" in s]
    assert all("raise NotImplementedError" in s for s in stubs)
