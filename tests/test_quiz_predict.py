"""Predict-then-run questions: the bank schema, recording, the reveal, and staying out of every grade."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from alignkit import cli, quiz
from alignkit.infra.errors import AlignkitError, AnswerTypeError, QuizBankError
from alignkit.quiz import bank as quiz_bank
from alignkit.quiz import prediction as quiz_predict
from test_quiz_widget import DEMO_POINTS, write_demo_bank

PREDICTIONS = [
    {"id": "guess_winner", "prediction": True, "type": "single",
     "prompt": "Before running: which run reaches the higher gold score? <b>bold?</b>",
     "options": {"a": "The KL-free run", "b": "The KL-penalised run", "c": "Within noise of each other"}},
    {"id": "guess_trend", "prediction": True, "type": "single", "prompt": "Does the loss fall?",
     "section": "Training", "explanation": "The trend follows from the objective.",
     "choices": [{"id": "up", "text": "It rises"}, {"id": "down", "text": "It falls"}]},
]


def write_bank_with_predictions(folder: Path) -> Path:
    path = write_demo_bank(folder)
    bank = yaml.safe_load(path.read_text(encoding="utf-8"))
    bank["questions"][1:1] = PREDICTIONS  # mixed in between graded questions, as a chapter would order them
    path.write_text(yaml.safe_dump(bank, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def demo(tmp_path, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("ALIGNKIT_QUIZ", raising=False)
    monkeypatch.setenv("ALIGNKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ALIGNKIT_LEARNER", "ada@example.org")
    monkeypatch.setattr(quiz_predict, "_RECORDED_HERE", {})  # each test is a fresh process
    write_bank_with_predictions(tmp_path / "quizzes")
    return tmp_path


def _predict(demo, qid="guess_winner", mode="widget", **kw):
    return quiz.predict("90_demo", qid, mode=mode, quizzes_dir=demo / "quizzes", **kw)


def _reveal(demo, outcome, qid="guess_winner", mode="widget", **kw):
    return quiz.reveal("90_demo", qid, outcome, mode=mode, quizzes_dir=demo / "quizzes", **kw)


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


# --- schema ---------------------------------------------------------------------------------------

def _bank_file(tmp_path, question: dict) -> Path:
    bank = {"schema": 1, "chapter": "90_demo", "title": "Demo", "salt": "ab" * 16, "questions": [
        {"id": "q1", "type": "text", "prompt": "P", "points": 1, "section": "S", "explanation": "E",
         "model_answer": "M"}, question]}
    path = tmp_path / "90_demo.yaml"
    path.write_text(yaml.safe_dump(bank), encoding="utf-8")
    return path


BASE = {"id": "p1", "prediction": True, "type": "single", "prompt": "Guess", "options": {"a": "A", "b": "B"}}


@pytest.mark.parametrize("change, message", [
    ({"answer": "a"}, r"question 'p1'.*prediction question has no correct answer.*\['answer'\]"),
    ({"hashes": ["0" * 64]}, r"question 'p1'.*no correct answer.*\['hashes'\]"),
    ({"points": 1}, r"question 'p1'.*worth no points.*\['points'\]"),
    ({"options": None}, r"question 'p1'.*needs its options"),
    ({"options": {"a": "A"}}, r"question 'p1'.*at least two"),
    ({"choices": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]}, r"question 'p1'.*exactly one of the two"),
    ({"type": "multiple"}, r"question 'p1'.*type: single"),
    ({"prediction": "yes"}, r"question 'p1'.*`prediction` must be true or false"),
    ({"options": {True: "Yes", False: "No"}}, r"question 'p1'.*quote it"),
    ({"model_answer": "M"}, r"question 'p1'.*\['model_answer'\]"),
    ({"colour": "red"}, r"question 'p1'.*unknown field"),
    ({"id": "q1"}, r"question 'q1'.*duplicated question id"),
])
def test_malformed_prediction_questions_name_the_file_and_question(tmp_path, change, message):
    question = {**BASE, **change}
    if question.get("options") is None:
        question.pop("options")
    path = _bank_file(tmp_path, question)
    with pytest.raises(QuizBankError, match=message) as err:
        quiz_bank.load_bank(path)
    assert str(path) in str(err.value)


def test_options_and_choices_spell_the_same_question(tmp_path):
    short = quiz_bank.load_bank(_bank_file(tmp_path, BASE)).prediction("p1")
    spelled = {**BASE, "choices": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]}
    spelled.pop("options")
    assert quiz_bank.load_bank(_bank_file(tmp_path, spelled)).prediction("p1") == short
    assert short.prediction and short.points == 0 and short.hashes == () and short.choice_ids == ("a", "b")
    plain = {**BASE, "prediction": False, "points": 1, "section": "S", "explanation": "E", "hashes": []}
    plain["choices"] = [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]
    plain.pop("options")
    bank = quiz_bank.load_bank(_bank_file(tmp_path, plain), require_hashes=False)
    assert [q.id for q in bank.questions] == ["q1", "p1"] and bank.predictions == ()


def test_predictions_are_kept_apart_from_the_graded_questions(demo):
    bank = quiz_bank.load_chapter("90_demo", demo / "quizzes")
    assert [q.id for q in bank.questions] == ["pick", "many", "num", "essay"]
    assert [q.id for q in bank.predictions] == ["guess_winner", "guess_trend"]
    with pytest.raises(AnswerTypeError, match="prediction question.*quiz.predict"):
        bank.question("guess_winner")
    with pytest.raises(AnswerTypeError, match="graded quiz question.*guess_winner, guess_trend"):
        bank.prediction("pick")
    with pytest.raises(AnswerTypeError, match="no prediction question 'nope'"):
        _predict(demo, "nope")


# --- recording ------------------------------------------------------------------------------------

def test_a_prediction_is_appended_like_an_answer_and_survives_a_restart(demo, monkeypatch):
    appended = []
    real = quiz.widget.storage.append_jsonl
    monkeypatch.setattr(quiz_predict.storage, "append_jsonl", lambda path, rec: (appended.append(rec), real(path, rec)))
    recorded = _predict(demo).answer("b")
    assert recorded == quiz_predict.Recorded("guess_winner", "b", 1, "b")
    assert len(appended) == 1  # one fsynced append per prediction, the quiz's crash-safe write
    [record] = quiz.read_responses()
    assert record["prediction"] is True and record["answer"] == "b" and record["self_check"] is None
    assert record["chapter"] == "90_demo" and record["question"] == "guess_winner" and record["attempt"] == 1
    assert set(record) == {"chapter", "question", "answer", "self_check", "attempt", "time", "bank_sha256", "prediction"}
    monkeypatch.setattr(quiz_predict, "_RECORDED_HERE", {})  # a kernel restart: only the file remains
    again = _predict(demo)
    assert again._radio.value == "b" and "Recorded earlier" in again._feedback.value
    assert _reveal(demo, "a").predicted == "b"


def test_the_first_prediction_is_the_one_compared(demo, monkeypatch, capsys):
    pred = _predict(demo)
    pred.answer("a")
    later = pred.answer("c")
    assert later.attempt == 2 and later.compared == "a" and "your first prediction" in pred._feedback.value
    result = _reveal(demo, "c", detail="gold 0.41 vs 0.40, difference within two standard errors")
    assert (result.predicted, result.outcome, result.correct) == ("a", "c", False)
    monkeypatch.setattr(quiz_predict, "_RECORDED_HERE", {})
    assert _reveal(demo, "a").correct is True  # after a restart the file still says "a" came first


def test_wrong_choices_raise_and_the_widget_says_so(demo):
    pred = _predict(demo)
    with pytest.raises(AnswerTypeError, match="a, b, c"):
        pred.answer("z")
    pred._button.click()  # nothing selected
    assert "b00020" in pred._feedback.value and "Choose one" in pred._feedback.value
    assert quiz.read_responses() == []


# --- reveal ---------------------------------------------------------------------------------------

def test_reveal_without_a_prediction_shows_the_run(demo, capsys):
    result = _reveal(demo, "c", detail="gold 0.41 vs 0.40 (difference 0.01 ± 0.02)")
    out = capsys.readouterr().out
    assert out.strip() == ("No prediction recorded — the run: (c) Within noise of each other. "
                           "gold 0.41 vs 0.40 (difference 0.01 ± 0.02).")
    assert (result.predicted, result.outcome, result.correct) == (None, "c", None) and result.text == out.strip()


def test_reveal_marks_a_right_and_a_wrong_prediction(demo, capsys):
    _predict(demo, "guess_trend").answer("down")
    right = _reveal(demo, "down", "guess_trend", detail="The loss fell from 2.31 to 1.87.")
    assert right.correct is True and right.text.startswith("✓ Your prediction: (down) It falls. The run: (down)")
    assert right.text.endswith("from 2.31 to 1.87.\nThe trend follows from the objective.")
    _predict(demo).answer("a")
    wrong = _reveal(demo, "b")
    assert wrong.correct is False
    assert wrong.text == "✗ Your prediction: (a) The KL-free run. The run: (b) The KL-penalised run."
    assert repr(wrong) == "Revealed(predicted='a', outcome='b', correct=False)"


def test_an_unknown_outcome_names_the_valid_ids(demo):
    for outcome in ("d", None, 1):
        with pytest.raises(quiz.OutcomeError, match="not one of the option ids a, b, c") as err:
            _reveal(demo, outcome)
        assert isinstance(err.value, ValueError)


def test_reveal_in_a_kernel_shows_escaped_html_beside_the_text(demo, monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(quiz_predict, "in_kernel", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append((obj, raw)))
    _predict(demo).answer("a")
    result = _reveal(demo, "a", detail="KL <script>x</script> & more")
    [(bundle, raw)] = shown
    assert raw and bundle["text/plain"] == result.text
    assert "&lt;script&gt;x&lt;/script&gt; &amp; more" in bundle["text/html"] and "<script>" not in bundle["text/html"]
    assert "✓" in bundle["text/html"] and "The KL-free run" in bundle["text/html"]


def test_run_all_in_a_live_kernel_asks_for_the_prediction_before_showing_the_outcome(demo, monkeypatch):
    """A learner who runs every cell sees no outcome until a prediction is recorded (or they ask for it)."""
    import IPython.display

    shown = []
    monkeypatch.setattr(quiz_predict, "in_kernel", lambda: True)
    monkeypatch.setattr(quiz_predict, "_WAITING", {})
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    pred = _predict(demo)
    result = _reveal(demo, "b", detail="gold 0.61 against 0.42")
    assert result.waiting and result.predicted is None
    box = shown[-1]
    note = box.children[0]
    assert "Record your prediction above first" in note.value
    assert "The KL-penalised run" not in note.value and "0.61" not in note.value  # the outcome is not given away
    pred.answer("a")  # the learner predicts: the waiting reveal now compares
    assert "✗" in note.value and "Your prediction" in note.value and "0.61" in note.value
    assert box.children[1].layout.display == "none"
    # Without predicting: the button shows the outcome, saying nothing was recorded.
    second = _reveal(demo, "b", qid="guess_winner", detail="again")
    assert not second.waiting  # a prediction is recorded now: shown at once
    other = _predict(demo, qid="guess_trend")
    waiting = _reveal(demo, "down", qid="guess_trend")
    assert waiting.waiting
    shown[-1].children[1].click()
    assert "No prediction recorded" in shown[-1].children[0].value
    other.answer("up")  # a later prediction does not rewrite a reveal already shown
    assert "No prediction recorded" in shown[-1].children[0].value


def test_reprs_do_not_print_under_the_widgets(demo):
    pred = _predict(demo)
    assert pred._ipython_display_() is None
    assert quiz.show("90_demo", mode="static", quizzes_dir=demo / "quizzes")._ipython_display_() is None


def test_an_unreadable_home_does_not_stop_the_reveal(demo, monkeypatch, capsys):
    blocker = demo / "blocked"
    blocker.write_text("a file where a folder should be")
    monkeypatch.setenv("ALIGNKIT_HOME", str(blocker / "home"))
    assert _reveal(demo, "a").predicted is None
    assert "No prediction recorded" in capsys.readouterr().out


# --- static mode (CI) -----------------------------------------------------------------------------

def test_static_mode_is_stable_and_compares_only_this_run(demo, monkeypatch, capsys):
    monkeypatch.setenv("CI", "true")
    _predict(demo, mode="auto")
    first = capsys.readouterr().out
    assert "**Prediction** *(recorded, not graded)*" in first and "- **c)** Within noise of each other" in first
    assert "&lt;b&gt;bold?&lt;/b&gt;" in first  # bank text is escaped in Markdown too
    pred = _predict(demo, mode="auto")
    assert pred.widget is None and capsys.readouterr().out == first
    # A prediction recorded by an earlier process is in the file, but static output never depends on it.
    pred.answer("b")
    monkeypatch.setattr(quiz_predict, "_RECORDED_HERE", {})
    _predict(demo, mode="auto")
    assert capsys.readouterr().out == first
    assert quiz.reveal("90_demo", "guess_winner", "a", quizzes_dir=demo / "quizzes").predicted is None
    # A headless run that records in this process gets its own prediction compared.
    _predict(demo, mode="auto").answer("a")
    assert quiz.reveal("90_demo", "guess_winner", "a", quizzes_dir=demo / "quizzes").correct is True
    assert len(quiz.read_responses()) == 2  # both were recorded in the file all the same


def test_static_mode_also_compares_the_first_prediction(demo, monkeypatch):
    monkeypatch.setenv("CI", "true")
    pred = _predict(demo, mode="auto")
    pred.answer("b")
    pred.answer("c")  # changed after the fact: recorded, but not what the reveal compares
    result = quiz.reveal("90_demo", "guess_winner", "c", quizzes_dir=demo / "quizzes")
    assert (result.predicted, result.correct) == ("b", False)


# --- widget ---------------------------------------------------------------------------------------

def test_widget_smoke(demo):
    pred = _predict(demo)
    assert {type(w).__name__ for w in _walk(pred.widget)} <= {"VBox", "HBox", "HTML", "RadioButtons", "Button"}
    assert pred._button.description == "Record prediction"
    html_text = "\n".join(w.value for w in _walk(pred.widget) if type(w).__name__ == "HTML")
    assert "<b>bold?</b>" not in html_text and "&lt;b&gt;bold?&lt;/b&gt;" in html_text
    assert pred._radio.options == (("a) The KL-free run", "a"), ("b) The KL-penalised run", "b"),
                                   ("c) Within noise of each other", "c"))
    clicks = []
    pred._button.on_click(lambda _b: clicks.append(True))
    pred._radio.value = "c"  # a learner picks an option and clicks the button
    pred._button.click()
    assert clicks == [True] and "Prediction recorded" in pred._feedback.value
    assert [r["answer"] for r in quiz.read_responses()] == ["c"]


def test_an_unwritable_home_is_shown_in_red_with_the_path(demo, monkeypatch):
    blocker = demo / "blocked"
    blocker.write_text("a file where a folder should be")
    monkeypatch.setenv("ALIGNKIT_HOME", str(blocker / "home"))
    pred = _predict(demo)
    pred._radio.value = "a"
    pred._button.click()
    assert "b00020" in pred._feedback.value and str(blocker / "home" / "responses.jsonl") in pred._feedback.value
    with pytest.raises(AlignkitError, match="could not save your prediction"):
        pred.answer("a")
    assert _reveal(demo, "a").predicted is None


# --- never graded ---------------------------------------------------------------------------------

def test_the_quiz_does_not_show_or_count_predictions(demo, monkeypatch, capsys):
    _predict(demo).answer("a")
    q = quiz.show("90_demo", mode="widget", quizzes_dir=demo / "quizzes")
    assert q.progress == "0/4" and "KL-free" not in json.dumps([getattr(w, "value", "") for w in _walk(q.widget)])
    monkeypatch.setenv("CI", "true")
    quiz.show("90_demo", quizzes_dir=demo / "quizzes")
    out = capsys.readouterr().out
    assert out.count("<details>") == 4 and "guess" not in out and "KL-free" not in out


def test_export_keeps_predictions_and_grading_ignores_them(demo, capsys):
    key = demo / "instructor_key.json"
    assert cli.main(["quiz-key", str(demo / "quizzes"), "-o", str(key)]) == 0
    body = json.loads(key.read_text())
    assert [q["id"] for q in body["chapters"]["90_demo"]["questions"]] == ["pick", "many", "num", "essay"]
    _predict(demo).answer("a")
    _predict(demo).answer("b")
    _predict(demo, "guess_trend").answer("down")
    q = quiz.show("90_demo", mode="widget", quizzes_dir=demo / "quizzes")
    q.answer("pick", "b")
    sub_path = quiz.export(demo / "subs" / "ada.json", download=False)
    assert "4 attempts (of which 3 prediction(s), not graded)" in capsys.readouterr().out
    attempts = json.loads(sub_path.read_text())["attempts"]
    assert [(a["question"], a["attempt"], a.get("prediction")) for a in attempts] == [
        ("guess_winner", 1, True), ("guess_winner", 2, True), ("guess_trend", 1, True), ("pick", 1, None)]
    grades = demo / "grades.csv"
    assert cli.main(["grade", str(sub_path), "--key", str(key), "-o", str(grades)]) == 0
    err = capsys.readouterr().err
    assert "not in the key" not in err and "guess" not in err
    with open(grades, newline="", encoding="utf-8") as f:
        [row] = list(csv.DictReader(f))
    assert row["total"] == "1" and row["max"] == str(sum(DEMO_POINTS.values())) and row["predictions"] == "2"
    assert not any("guess" in column for column in row)


def test_the_prediction_mark_never_exempts_a_graded_answer(demo, capsys):
    key = demo / "instructor_key.json"
    assert cli.main(["quiz-key", str(demo / "quizzes"), "-o", str(key)]) == 0
    q = quiz.show("90_demo", mode="widget", quizzes_dir=demo / "quizzes")
    q.answer("pick", "a")  # wrong first attempt ...
    q.answer("pick", "b")
    sub_path = quiz.export(demo / "ada.json", download=False)
    sub = json.loads(sub_path.read_text())
    sub["attempts"][0]["prediction"] = True  # ... that a learner marks as a prediction to have the retry count
    sub_path.write_text(json.dumps(sub))
    grades = demo / "grades.csv"
    assert cli.main(["grade", str(sub_path), "--key", str(key), "-o", str(grades)]) == 0
    assert "marked as a prediction but is a graded question" in capsys.readouterr().err
    with open(grades, newline="", encoding="utf-8") as f:
        [row] = list(csv.DictReader(f))
    assert row["90_demo/pick"] == "0" and row["predictions"] == "0"
    sub["attempts"][0]["prediction"] = False
    sub_path.write_text(json.dumps(sub))
    assert cli.main(["grade", str(sub_path), "--key", str(key), "-o", str(grades)]) == 1
    assert "prediction, when present, must be true" in capsys.readouterr().err
