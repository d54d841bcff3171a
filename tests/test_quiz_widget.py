"""The quiz widget driven headlessly, the static fallback, the responses file and export."""
from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
import yaml

from alignkit import quiz
from alignkit.quiz import bank as quiz_bank
from alignkit.infra.errors import AlignkitError, AnswerTypeError

SALT = "00112233445566778899aabbccddeeff"
DEMO_ANSWERS = {"pick": "b", "many": ["a", "c"], "num": 0.25}  # plaintext of a test-only bank
DEMO_POINTS = {"pick": 1, "many": 2, "num": 3, "essay": 2}


def write_demo_bank(folder: Path, chapter: str = "90_demo", prompt_extra: str = "") -> Path:
    """A small bank with one question of each type, hashed from DEMO_ANSWERS."""
    choices = [{"id": c, "text": f"choice {c}"} for c in "abcd"]
    extra = {"pick": {"choices": choices}, "many": {"choices": choices}, "num": {"tolerance": 0.01},
             "essay": {"model_answer": "A model answer."}}
    kinds = {"pick": "single", "many": "multiple", "num": "numeric", "essay": "text"}
    questions = [{"id": qid, "type": kinds[qid], "prompt": f"Question {qid}{prompt_extra}", "points": DEMO_POINTS[qid],
                  "section": "Demo section", "explanation": f"Why {qid}.", **extra[qid]} for qid in kinds]
    bank = {"schema": 1, "chapter": chapter, "title": "Demo quiz", "salt": SALT, "questions": questions}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{chapter}.yaml"
    path.write_text(yaml.safe_dump(bank, sort_keys=False, allow_unicode=True), encoding="utf-8")
    draft = quiz_bank.load_bank(path, require_hashes=False)
    for raw in questions:
        if raw["id"] in DEMO_ANSWERS:
            raw["hashes"] = quiz_bank.answer_hashes(SALT, draft.question(raw["id"]), DEMO_ANSWERS[raw["id"]])
    path.write_text(yaml.safe_dump(bank, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def demo(tmp_path, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("ALIGNKIT_QUIZ", raising=False)
    monkeypatch.setenv("ALIGNKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ALIGNKIT_LEARNER", "ada@example.org")
    write_demo_bank(tmp_path / "quizzes")
    return tmp_path


def _show(demo, **kw):
    return quiz.show("90_demo", mode=kw.pop("mode", "widget"), quizzes_dir=demo / "quizzes", **kw)


def test_scripted_learner_through_the_widget(demo):
    q = _show(demo)
    assert q.widget is not None and q.progress == "0/4"
    wrong = q.answer("pick", "a")
    assert wrong.correct is False and wrong.attempt == 1 and wrong.explanation == "Why pick."
    right = q.answer("pick", "b")
    assert right.correct is True and right.attempt == 2
    assert q.answer("many", ["c", "a"]).correct is True
    assert q.answer("num", 0.2549).correct is True
    essay = q.answer("essay", "My own words.")
    assert essay.correct is None and essay.model_answer == "A model answer."
    assert q.progress == "4/4"
    records = quiz.read_responses()
    assert [(r["question"], r["attempt"], r["self_check"]) for r in records] == [
        ("pick", 1, False), ("pick", 2, True), ("many", 1, True), ("num", 1, True), ("essay", 1, None)]
    assert all(r["chapter"] == "90_demo" and r["time"].endswith("+00:00") for r in records)
    assert records[2]["answer"] == ["a", "c"] and records[3]["answer"] == 0.2549


def test_answer_goes_through_the_submit_button(demo):
    q = _show(demo)
    controls = q._controls["pick"]
    clicks = []
    controls.submit.on_click(lambda _b: clicks.append(True))
    q.answer("pick", "c")
    assert clicks == [True]  # the API clicked the very button a learner clicks
    assert "Not quite" in controls.feedback.value and "Why pick." in controls.feedback.value
    assert controls.retry.layout.display == ""
    controls.retry.click()
    assert controls.read() is None and controls.feedback.value == "" and controls.retry.layout.display == "none"
    # A learner using the widget directly: pick a radio button and click Submit.
    controls.input.value = "b"
    controls.submit.click()
    assert "✓ Correct" in controls.feedback.value and "1/4" in q._progress_html.value


def test_wrong_types_raise_in_the_api_and_show_red_text_in_the_widget(demo):
    q = _show(demo)
    for qid, value in [("num", "0.25"), ("pick", "z"), ("many", "a"), ("essay", ""), ("nope", "a")]:
        with pytest.raises(AnswerTypeError):
            q.answer(qid, value)
    numeric = q._controls["num"]
    numeric.input.value = "abc"  # what a learner can type into the text box
    numeric.submit.click()
    assert "b00020" in numeric.feedback.value and "type a number" in numeric.feedback.value
    assert quiz.read_responses() == [] and q.progress == "0/4"
    numeric.input.value = " 0,25 "  # a decimal comma typed in the box is accepted
    numeric.submit.click()
    assert "✓ Correct" in numeric.feedback.value and q.progress == "1/4"


def test_responses_survive_a_kernel_restart(demo):
    q = _show(demo)
    q.answer("pick", "a")
    q.answer("num", 0.25)
    restarted = _show(demo)  # a new kernel reading the same file
    assert restarted.progress == "2/4"
    assert restarted.answer("pick", "b").attempt == 2
    assert "2 checked correct" in _show(demo)._progress_html.value


def test_widget_escapes_bank_text(tmp_path, monkeypatch):
    monkeypatch.setenv("ALIGNKIT_HOME", str(tmp_path / "home"))
    write_demo_bank(tmp_path / "quizzes", prompt_extra=" <script>alert(1)</script> & more")
    q = quiz.show("90_demo", mode="widget", quizzes_dir=tmp_path / "quizzes")
    html_values = [w.value for w in _walk(q.widget) if type(w).__name__ == "HTML"]
    joined = "\n".join(html_values)
    assert "<script>" not in joined and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in joined


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def test_only_widgets_present_in_ipywidgets_7_and_8(demo):
    q = _show(demo)
    used = {type(w).__name__ for w in _walk(q.widget)}
    assert used <= {"VBox", "HBox", "HTML", "RadioButtons", "Checkbox", "Text", "Textarea", "Button"}
    assert not any(getattr(w, "tooltip", None) for w in _walk(q.widget))


def test_static_fallback_is_stable_and_reveals_no_key(demo, monkeypatch, capsys):
    monkeypatch.setenv("CI", "true")
    q = quiz.show("90_demo", quizzes_dir=demo / "quizzes")
    first = capsys.readouterr().out
    q.answer("pick", "b")  # answering must not change what static mode shows
    quiz.show("90_demo", quizzes_dir=demo / "quizzes")
    assert q.widget is None and capsys.readouterr().out == first
    assert first.count("<details>") == 4 and "Why many." in first and "A model answer." in first
    bank = quiz_bank.load_chapter("90_demo", demo / "quizzes")
    assert not any(h in first for qq in bank.questions for h in qq.hashes)
    assert repr(q) == "<alignkit quiz 90_demo: 4 questions>"


@pytest.mark.parametrize("env, blocked, expected", [
    ({"CI": "1"}, False, "static"), ({"ALIGNKIT_QUIZ": "static"}, False, "static"),
    ({}, True, "static"), ({"ALIGNKIT_QUIZ": "widget"}, False, "widget"), ({}, False, "static"),
])
def test_auto_mode(monkeypatch, env, blocked, expected):
    for name in ("CI", "ALIGNKIT_QUIZ"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if blocked:
        monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import fails: as if not installed
    assert quiz.widget._resolve_mode("auto") == expected  # no kernel runs under pytest: static unless forced


def test_export_writes_submission_and_downloads_in_colab(demo, monkeypatch, capsys):
    q = _show(demo)
    q.answer("pick", "b")
    q.answer("essay", "text")
    downloaded = []
    colab = types.ModuleType("google.colab")
    colab.files = types.SimpleNamespace(download=downloaded.append)
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    path = quiz.export(demo / "out" / "submission.json")
    submission = json.loads(path.read_text())
    assert downloaded == [str(path)] and "Download started" in capsys.readouterr().out
    assert submission["learner"] == "ada@example.org" and submission["format"] == quiz.SUBMISSION_FORMAT
    assert [a["question"] for a in submission["attempts"]] == ["pick", "essay"]
    assert set(submission["chapters"]) == {"90_demo"} and len(submission["chapters"]["90_demo"]["bank_sha256"]) == 64
    assert quiz.export(demo / "none.json", chapters="00_setup", download=False).exists()
    assert json.loads((demo / "none.json").read_text())["attempts"] == []


def test_default_learner_id_is_stable(tmp_path, monkeypatch):
    monkeypatch.delenv("ALIGNKIT_LEARNER", raising=False)
    first = quiz.learner_id(home=tmp_path)
    assert first.startswith("learner-") and quiz.learner_id(home=tmp_path) == first
    assert quiz.learner_id("  bob  ", home=tmp_path) == "bob"
    with pytest.raises(AnswerTypeError):
        quiz.learner_id("bad\nid", home=tmp_path)


# --- errors a learner can act on, and retries ---------------------------------------------------

def test_an_unwritable_home_shows_an_error_in_the_widget_and_export_says_nothing_was_saved(demo, monkeypatch, capsys):
    # Regression: Submit did nothing visible, and export() then said "0 attempts ... hand this file in".
    blocker = demo / "blocked"
    blocker.write_text("a file where a folder should be")
    monkeypatch.setenv("ALIGNKIT_HOME", str(blocker / "home"))
    q = _show(demo)
    controls = q._controls["pick"]
    controls.input.value = "b"
    controls.submit.click()
    assert "b00020" in controls.feedback.value and str(blocker / "home" / "responses.jsonl") in controls.feedback.value
    assert "ALIGNKIT_HOME" in controls.feedback.value and q.progress == "0/4"
    with pytest.raises(AlignkitError, match="could not save"):
        q.answer("pick", "b")
    path = quiz.export(demo / "out.json", download=False)
    out = capsys.readouterr().out
    assert "0 attempts" in out and "Hand this file" not in out and "responses.jsonl" in out
    assert path.exists()


def test_a_full_disk_is_reported_too(demo, monkeypatch):
    import errno

    def full(*_args, **_kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(quiz.widget.storage, "append_jsonl", full)
    q = _show(demo)
    q._controls["num"].input.value = "0.25"
    q._controls["num"].submit.click()
    assert "No space left on device" in q._controls["num"].feedback.value


def test_the_widget_says_retries_do_not_change_the_grade(demo):
    # Grading counts first attempts; retrying stays possible, for learning.
    q = _show(demo)
    q.answer("pick", "a")
    feedback = q._controls["pick"].feedback.value
    assert "Retry" in feedback and "first attempt" in feedback
    assert any("first attempt" in w.value for w in _walk(q.widget) if type(w).__name__ == "HTML" and "Progress" not in w.value)


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_learner_variable_is_named_in_the_error(tmp_path, monkeypatch, value):
    # Regression: `ALIGNKIT_LEARNER=` gave an error that did not name the variable.
    monkeypatch.setenv("ALIGNKIT_LEARNER", value)
    with pytest.raises(AnswerTypeError, match="ALIGNKIT_LEARNER"):
        quiz.learner_id(home=tmp_path)
    with pytest.raises(AnswerTypeError, match="learner id"):
        quiz.learner_id("   ", home=tmp_path)
