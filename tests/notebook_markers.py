"""nbval markers as cell tags: convert `# NBVAL_*` comment lines into nbval's own tags, and find any left.

nbval (plugin.find_metadata_tags) reads the tags `nbval-ignore-output`, `nbval-check-output`, `nbval-skip` and
`nbval-raises-exception` exactly as it reads the comments `# NBVAL_IGNORE_OUTPUT` and so on, in --nbval and
--nbval-lax alike: a cell tagged `nbval-check-output` is compared under --nbval-lax as the commented cell was. Tags
keep test machinery out of the code a learner reads.

    python tests/notebook_markers.py chapters/*.ipynb     # convert in place (sources and metadata only)

Only the comment lines and the cells' `metadata.tags` change: outputs, execution counts and everything else
are written back as they were (json, indent=1, ensure_ascii=False, trailing newline).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

MARKERS = {"NBVAL_IGNORE_OUTPUT": "nbval-ignore-output", "NBVAL_CHECK_OUTPUT": "nbval-check-output",
           "NBVAL_SKIP": "nbval-skip", "NBVAL_RAISES_EXCEPTION": "nbval-raises-exception",
           "PYTEST_VALIDATE_IGNORE_OUTPUT": "nbval-ignore-output"}


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _marker(line: str) -> str | None:
    stripped = line.strip()
    return stripped.lstrip("#").strip() if stripped.startswith("#") and stripped.lstrip("#").strip() in MARKERS else None


def marker_comments(notebook: dict) -> list[tuple[int, str]]:
    """(cell index, marker) for every nbval comment line left in a code cell."""
    return [(i, m) for i, cell in enumerate(notebook.get("cells", [])) if cell.get("cell_type") == "code"
            for m in map(_marker, _source(cell).splitlines()) if m]


def convert_cell(cell: dict) -> bool:
    """Move the cell's nbval comment lines into metadata.tags; True if the cell changed."""
    if cell.get("cell_type") != "code":
        return False
    lines = _source(cell).splitlines(keepends=True)
    found = [_marker(line) for line in lines]
    if not any(found):
        return False
    kept = [line for line, marker in zip(lines, found) if not marker]
    text = "".join(kept)
    if text.endswith("\n") and not _source(cell).endswith("\n"):
        text = text[:-1]
    cell["source"] = text.splitlines(keepends=True) if isinstance(cell.get("source"), list) else text
    tags = list(cell.setdefault("metadata", {}).get("tags", []))
    for marker in found:
        if marker and MARKERS[marker] not in tags:
            tags.append(MARKERS[marker])
    cell["metadata"]["tags"] = tags
    return True


def convert_notebook(notebook: dict) -> int:
    """Convert every code cell in place; the number of cells changed."""
    return sum(convert_cell(cell) for cell in notebook.get("cells", []))


def convert_file(path: str | Path) -> int:
    path = Path(path)
    notebook = json.loads(path.read_text(encoding="utf-8"))
    changed = convert_notebook(notebook)
    if changed:
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    paths = argv if argv is not None else sys.argv[1:]
    if not paths:
        print(__doc__)
        return 2
    for path in paths:
        print(f"{path}: {convert_file(path)} cell(s) converted")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
