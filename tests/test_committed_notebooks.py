"""The committed chapters read without a kernel: on GitHub and nbviewer every figure
shows a static image and appears once, no saved widget state renders as nothing, and no output shows a
local path or a Python warning.

A figure's static image travels inside its text/html (an <img> the plotly loader replaces), not as an
image/png entry, which JupyterLab would show instead of the interactive plot. The checker itself is
tested on small synthetic notebooks below, so a failure means the committed outputs, not the checker.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((REPO / "chapters").glob("*.ipynb"))
PLOTLY_JSON = "application/vnd.plotly.v1+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
LOCAL_PATH = re.compile(r"/tmp/|/work/|/home/|site-packages|\.venv")
WARNING = re.compile(r"\w*Warning:")
STATIC_IMAGE = re.compile(r'<img class="alignkit-static" src="data:image/png;base64,[A-Za-z0-9+/=]{100,}"')
BASE64_RUN = re.compile(r"[A-Za-z0-9+/=]{200,}")  # images and plotly's typed arrays, where "/tmp/" can occur by chance


def _texts(output: dict) -> list[str]:
    """Every piece of text an output shows, base64 payloads removed."""
    texts = [output.get("text", ""), "\n".join(output.get("traceback", []))]
    for mime, value in (output.get("data") or {}).items():
        if not mime.startswith("image/"):
            texts.append(value if isinstance(value, str) else json.dumps(value))
    return [BASE64_RUN.sub("", "".join(t) if isinstance(t, list) else t) for t in texts]


def _figure_title(output: dict) -> str | None:
    title = ((output["data"][PLOTLY_JSON].get("layout") or {}).get("title")) or {}
    return title.get("text") if isinstance(title, dict) else title


def notebook_problems(notebook: dict) -> list[str]:
    """What keeps a notebook's committed outputs from reading well without a kernel (empty: nothing)."""
    problems = []
    if "widgets" in notebook.get("metadata", {}):
        problems.append("notebook metadata carries saved widget state ('widgets')")
    for number, cell in enumerate(notebook.get("cells", [])):
        where = f"cell {number} ({cell.get('id', 'no id')})"
        figures = []
        for output in cell.get("outputs", []):
            data = output.get("data") or {}
            if PLOTLY_JSON in data:
                figures.append(_figure_title(output))
                page = data.get("text/html", "")
                if not STATIC_IMAGE.search("".join(page) if isinstance(page, list) else page):
                    problems.append(f"{where}: a plotly figure without a static image in its HTML (shows nothing "
                                    "on GitHub); display it with alignkit.viz.show(fig)")
                if "image/png" in data:
                    problems.append(f"{where}: a plotly figure with an image/png entry (JupyterLab shows it instead "
                                    "of the interactive plot)")
            if WIDGET_VIEW in data:
                problems.append(f"{where}: a widget view output (renders nothing without a kernel)")
            for text in _texts(output):
                if LOCAL_PATH.search(text):
                    problems.append(f"{where}: a local path in the output: {LOCAL_PATH.search(text).group(0)!r}")
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                text = "".join(output.get("text", ""))
                if WARNING.search(text):
                    problems.append(f"{where}: a Python warning in the output: {text.strip().splitlines()[0][:120]}")
        repeated = sorted({title for title in figures if figures.count(title) > 1}, key=str)
        if repeated:
            problems.append(f"{where}: the same figure appears more than once ({repeated}); "
                            "a LivePlot shows itself, so drop the trailing plot.figure()")
    return problems


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_committed_notebook_reads_without_a_kernel(path):
    problems = notebook_problems(json.loads(path.read_text(encoding="utf-8")))
    assert not problems, (f"{path.name} (re-execute it with the current alignkit if these are old outputs):\n"
                          + "\n".join(problems))


# -- the checker on synthetic notebooks -------------------------------------------------------------------


def _notebook(*outputs, metadata=None):
    return {"metadata": metadata or {}, "cells": [{"id": "c0", "cell_type": "code", "outputs": list(outputs)}]}


def _figure(title="t", png=True, png_entry=False):
    data = {PLOTLY_JSON: {"data": [], "layout": {"title": {"text": title}}}, "text/plain": "<plotly figure>",
            "text/html": '<div class="alignkit-plot"></div>'}
    if png:
        data["text/html"] = ('<div class="alignkit-plot"><img class="alignkit-static" src="data:image/png;base64,'
                             + "iVBORw0KGgo" * 20 + '" alt="t"></div>')
    if png_entry:
        data["image/png"] = "iVBORw0KGgo="
    return {"output_type": "display_data", "data": data, "metadata": {}}


def _stream(text, name="stdout"):
    return {"output_type": "stream", "name": name, "text": text}


def test_checker_accepts_a_clean_notebook():
    png_with_path_by_chance = {"output_type": "display_data", "data": {"image/png": "A/tmp/B" * 100}}
    html_image = {"output_type": "display_data",
                  "data": {"text/html": '<img src="data:image/png;base64,' + "ab/tmp/cd" * 50 + '">'}}
    clean = _notebook(_figure("a"), _figure("b"), _stream("loss 0.5\n"), _stream("50%|##| 1/2\n", "stderr"),
                      png_with_path_by_chance, html_image)
    assert notebook_problems(clean) == []


@pytest.mark.parametrize("notebook, expected", [
    (_notebook(_figure(png=False)), "without a static image"),
    (_notebook(_figure(png_entry=True)), "with an image/png entry"),
    (_notebook(_figure("x"), _figure("x")), "more than once"),
    (_notebook(metadata={"widgets": {"application/vnd.jupyter.widget-state+json": {}}}), "widget state"),
    (_notebook({"output_type": "display_data", "data": {WIDGET_VIEW: {"model_id": "1"}, "text/plain": "w"}}),
     "widget view"),
    (_notebook(_stream("saved to /tmp/abc/model.pt\n")), "local path"),
    (_notebook(_stream("x/.venv/lib/python3.11/site-packages/y.py:3: FutureWarning: old\n  warnings.warn(\n",
                       "stderr")), "warning"),
    (_notebook(_stream("UserWarning: something\n", "stderr")), "warning"),
    (_notebook({"output_type": "execute_result", "data": {"text/plain": "'/home/me/x'"}}), "local path"),
])
def test_checker_finds_each_problem(notebook, expected):
    problems = notebook_problems(notebook)
    assert problems and all(p.startswith("cell 0 (c0)") or "metadata" in p for p in problems)
    assert any(expected in p for p in problems)
