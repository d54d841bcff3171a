"""Rules of the house that no linter checks: every `# noqa` says why, and nothing points outside the repository."""
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CODE = sorted(  # this file excepted: it spells out what it looks for
    p for folder in ("alignkit", "tests", "scripts") for p in (REPO / folder).rglob("*")
    if p.suffix in (".py", ".sh") and "__pycache__" not in p.parts and p.name != "test_house_rules.py")
NOQA = re.compile(r"#\s*noqa\b(?P<rest>.*)", re.IGNORECASE)
# After "noqa": one or more codes, then a reason of two words or more (": E731 - why it is fine", "— ...", "(...)").
NOQA_WITH_REASON = re.compile(r":\s*[A-Z]+\d+\b(\s*,\s*[A-Z]+\d+\b)*\s*[-—–(:]?\s*\w+\W+\w+")
# Documents that live outside the repository (design notes, issue threads); learners never see them.
OUTSIDE = re.compile(r"DESIGN\.md|DESIGN §|\bREFERENCE\b|DEVELOPERS|\b[Ii]ssue #?\d+")


def _lines(paths):
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            yield f"{path.relative_to(REPO)}:{number}", line


def _notebook_sources():
    for path in sorted((REPO / "chapters").glob("*.ipynb")):
        for index, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            for number, line in enumerate("".join(cell["source"]).splitlines(), 1):
                yield f"{path.relative_to(REPO)} cell {index} line {number}", line


def test_every_noqa_names_a_code_and_a_reason():
    bare = [f"{where}: {line.strip()}" for where, line in _lines(CODE)
            if (m := NOQA.search(line)) and not NOQA_WITH_REASON.match(m.group("rest"))]
    assert not bare, "a # noqa needs its code(s) and a reason, e.g. `# noqa: F401 - re-exported`:\n" + "\n".join(bare)


def test_the_noqa_rule_itself():
    assert NOQA_WITH_REASON.match(": E731 - a one-line accessor")
    assert NOQA_WITH_REASON.match(": F401, F811 — re-exported for the chapters")
    assert NOQA_WITH_REASON.match(": F401  (the shared fixture)")
    for bare in ("", ": E731", ": E731 -", ": BLE001 - why", " - because"):
        assert not NOQA_WITH_REASON.match(bare), bare


def test_nothing_refers_to_documents_outside_the_repository():
    texts = [REPO / "README.md", REPO / "data" / "README.md", *sorted((REPO / "quizzes").glob("*"))]
    found = [f"{where}: {line.strip()}" for where, line in [*_lines(CODE), *_lines(texts), *_notebook_sources()]
             if OUTSIDE.search(line)]
    assert not found, ("state the rule itself, or point to a file in the repository (README.md, "
                       "data/README.md, quizzes/README.md):\n" + "\n".join(found))


@pytest.mark.parametrize("text", ["see DESIGN §2.2", "REFERENCE §5 says why", "(issue 14, defect 3)",
                                  "DEVELOPERS \"Versions\"", "DESIGN.md"])
def test_the_outside_reference_pattern_catches(text):
    assert OUTSIDE.search(text)
