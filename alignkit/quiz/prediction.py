"""Predict-then-run: the learner predicts what a run will show, the run decides, the reveal compares.

    from alignkit import quiz
    quiz.predict("04_ppo_rlhf", "predict_kl_free_gold")      # before the run: a widget, static text in CI
    ...                                                       # the run
    outcome = "a" if diff["verdict"] == "A beats B" else "b"  # computed from the run's numbers, never typed
    quiz.reveal("04_ppo_rlhf", "predict_kl_free_gold", outcome, detail=f"gold {gold:.2f} vs {base:.2f}.")

A prediction question is a `prediction: true` question of the chapter's bank (quizzes/README.md): a
single choice with no answer and no points, never part of the graded quiz, the key or a maximum.
Recording a prediction appends a line to the responses file like a quiz answer, marked
`"prediction": true` (one fsynced write, so it survives a kernel restart); `quiz.export()` hands it in
and `alignkit grade` ignores it. The learner may record again; the first prediction recorded is the
one the reveal compares, so a prediction made after seeing the run cannot replace it.

Like the quiz, static mode ($CI, ALIGNKIT_QUIZ=static, mode="static") never reads the learner's
files: there the reveal compares only predictions recorded by this process, so a notebook's output
is the same on every run.
"""
from __future__ import annotations

import dataclasses
import html
import os
from pathlib import Path
from typing import Any

from alignkit.infra import storage
from alignkit.infra.errors import AlignkitError, AnswerTypeError
from alignkit.quiz import bank as quiz_bank
from alignkit.quiz.widget import (_esc, _now, _resolve_mode, choice_radio, choice_style, display_widget_or_text,
                                  read_responses, responses_path)
from alignkit.infra.runtime import in_ci, in_kernel

__all__ = ["predict", "reveal", "Prediction", "Recorded", "Revealed", "OutcomeError", "render_prediction_static",
           "first_prediction"]

# The first prediction per (responses file, chapter, question) recorded by this process: what a static-mode
# reveal compares, since static mode never reads the learner's files.
_RECORDED_HERE: dict[tuple[str, str, str], str] = {}
# Reveals waiting for a prediction, per (responses file, chapter, question): a live learner who ran every cell
# is asked to predict first; recording the prediction (or "Show the outcome") fills them in.
_WAITING: dict[tuple[str, str, str], list] = {}


class OutcomeError(AlignkitError, ValueError):
    """The outcome given to quiz.reveal is not one of the prediction question's option ids."""


@dataclasses.dataclass(frozen=True)
class Recorded:
    question_id: str
    choice: str  # the option id just recorded
    attempt: int  # 1 for the first prediction of this question, counted across kernel restarts
    compared: str  # the option id the reveal compares: the first one recorded


@dataclasses.dataclass(frozen=True)
class Revealed:
    question_id: str
    predicted: str | None  # the learner's first recorded prediction (None: nothing recorded)
    outcome: str  # the option id the run computed
    correct: bool | None  # None when nothing was recorded
    text: str  # the sentence that was printed
    waiting: bool = False  # a live kernel with no prediction yet: the outcome waits behind the prediction widget

    def __repr__(self) -> str:
        return f"Revealed(predicted={self.predicted!r}, outcome={self.outcome!r}, correct={self.correct})"

    def _ipython_display_(self) -> None:
        """Nothing more to show: reveal() already displayed it (no repr under the output)."""


def _key(path: Path, chapter: str, question_id: str) -> tuple[str, str, str]:
    return (os.path.abspath(path), chapter, question_id)


def _predictions(path: Path, chapter: str, question_id: str) -> list[dict]:
    return [r for r in read_responses(path) if r.get("prediction") is True and r.get("chapter") == chapter
            and r.get("question") == question_id and isinstance(r.get("answer"), str)]


def first_prediction(path: str | os.PathLike, chapter: str, question_id: str) -> str | None:
    """The first prediction recorded in the responses file `path` for this question (None: none)."""
    found = _predictions(Path(path), chapter, question_id)
    return found[0]["answer"] if found else None


def _save_error(path: Path, err: OSError) -> AlignkitError:
    return AlignkitError(
        f"could not save your prediction to {path}: {err.strerror or err}. Set ALIGNKIT_HOME to a folder you can "
        "write (e.g. os.environ['ALIGNKIT_HOME'] = '/content/alignkit' in Colab) and run quiz.predict again, "
        "or free some disk space; then record it again. This prediction was not recorded.")


def _option(q: quiz_bank.Question, choice_id: str) -> str:
    text = next((c.text for c in q.choices if c.id == choice_id), "[no longer an option of this question]")
    return f"({choice_id}) {text}"


class Prediction:
    """One prediction question. `answer()` records with or without widgets; `widget` is None in static mode."""

    def __init__(self, bank: quiz_bank.Bank, question: quiz_bank.Question, *, responses: Path, widgets: bool):
        self.bank, self.chapter, self.question = bank, bank.chapter, question
        self.responses_path = Path(responses)
        self.error: AlignkitError | None = None
        self.last: Recorded | None = None
        self.widget = self._build() if widgets else None

    def __repr__(self) -> str:
        return f"<alignkit prediction {self.chapter}/{self.question.id}>"

    def _ipython_display_(self) -> None:
        """Nothing more to show: predict() already displayed the widget or its text (no repr under it)."""

    def answer(self, choice: str) -> Recorded:
        """Record a prediction (an option id) as the "Record prediction" button does; AnswerTypeError for
        an unknown option, AlignkitError naming the file when it cannot be saved."""
        choice = quiz_bank.normalize_answer(self.question, choice)
        if self.widget is None:
            return self._record(choice)
        self._radio.value = choice
        self._button.click()
        if self.error is not None:
            raise self.error
        return self.last

    def _record(self, choice: str) -> Recorded:
        choice = quiz_bank.normalize_answer(self.question, choice)
        earlier = _predictions(self.responses_path, self.chapter, self.question.id)
        record = {"chapter": self.chapter, "question": self.question.id, "answer": choice, "self_check": None,
                  "attempt": len(earlier) + 1, "time": _now(), "bank_sha256": self.bank.sha256, "prediction": True}
        try:
            storage.append_jsonl(self.responses_path, record)
        except OSError as err:  # unwritable ALIGNKIT_HOME, full disk: say so, never lose a prediction silently
            raise _save_error(self.responses_path, err) from err
        key = _key(self.responses_path, self.chapter, self.question.id)
        first = _RECORDED_HERE.setdefault(key, choice)
        compared = earlier[0]["answer"] if earlier else first
        for fill in _WAITING.pop(key, []):  # reveals run before the learner predicted
            fill(compared)
        return Recorded(self.question.id, choice, record["attempt"], compared)

    # --- widget -------------------------------------------------------------------------------------

    def _build(self) -> Any:
        import ipywidgets as w

        q = self.question
        header = w.HTML(f"<p><b>Prediction</b> <i>(recorded, not graded)</i>. {_esc(q.prompt)}</p>")
        # Option texts never go into a description, which ipywidgets 7 renders as HTML.
        self._radio = choice_radio(w, q)
        self._button = w.Button(description="Record prediction", button_style="primary")
        self._feedback = w.HTML()
        self._button.on_click(lambda _button: self._on_record())
        try:
            earlier = first_prediction(self.responses_path, self.chapter, q.id)
        except (OSError, AlignkitError):  # an unreadable responses file: the button says so when clicked
            earlier = None
        if earlier in q.choice_ids:  # a restarted kernel shows the prediction already recorded
            self._radio.value = earlier
            self._feedback.value = (f"<div>Recorded earlier: <b>{_esc(_option(q, earlier))}</b>. The reveal after "
                                    "the run compares this first prediction.</div>")
        return w.VBox([choice_style(w), header, self._radio, self._button, self._feedback])

    def _on_record(self) -> None:
        if self._radio.value is None:
            self.error = AnswerTypeError(f"question {self.question.id!r}: choose one of the options first.")
            self._feedback.value = '<span style="color:#b00020">Choose one of the options first.</span>'
            return
        try:
            recorded = self._record(self._radio.value)
        except AlignkitError as err:
            self.error = err
            self._feedback.value = f'<span style="color:#b00020">{_esc(str(err))}</span>'
            return
        self.error, self.last = None, recorded
        self._feedback.value = _recorded_html(self.question, recorded)


def _recorded_html(q: quiz_bank.Question, rec: Recorded) -> str:
    if rec.compared == rec.choice and rec.attempt == 1:
        return (f'<div style="color:#1b5e20"><b>Prediction recorded:</b> {_esc(_option(q, rec.choice))}.</div>'
                "<div>Now run the next cells; the reveal compares your prediction with what the run shows.</div>")
    return (f"<div><b>Recorded</b> {_esc(_option(q, rec.choice))} (prediction {rec.attempt}). The reveal compares "
            f"your first prediction, {_esc(_option(q, rec.compared))}.</div>")


# --- static fallback -------------------------------------------------------------------------------

def render_prediction_static(q: quiz_bank.Question) -> str:
    """The question as Markdown; depends only on the bank (nbval-stable)."""
    esc = lambda text: html.escape(text, quote=False)  # noqa: E731 - Markdown keeps quotes readable
    lines = [f"**Prediction** *(recorded, not graded)*. {esc(q.prompt)}", ""]
    lines += [f"- **{c.id})** {esc(c.text)}" for c in q.choices]
    return "\n".join(lines + ["", "*Pick one before running the next cells. Where widgets run, the Record "
                                  "prediction button saves it, and the reveal after the run compares it with "
                                  "what the run shows.*", ""])


def _display(pred: Prediction) -> None:
    display_widget_or_text(pred.widget, render_prediction_static(pred.question))


def _path(home: str | os.PathLike | None, responses: str | os.PathLike | None) -> Path:
    return Path(responses) if responses is not None else responses_path(home)


def predict(chapter: str, question_id: str, *, mode: str = "auto", quizzes_dir: str | os.PathLike | None = None,
            home: str | os.PathLike | None = None, responses: str | os.PathLike | None = None) -> Prediction:
    """Show a prediction question of the chapter's bank and return it (record from code with `.answer("b")`).

    mode: "auto" (a widget in a live kernel, static text under $CI, ALIGNKIT_QUIZ=static, without
    ipywidgets or a kernel), "widget" or "static", as in quiz.show.
    """
    bank = quiz_bank.load_chapter(chapter, quizzes_dir)
    question = bank.prediction(question_id)
    resolved = _resolve_mode(mode)
    if resolved == "widget":
        try:
            import ipywidgets  # noqa: F401 - only asks whether ipywidgets is installed
        except ImportError:
            raise AlignkitError("ipywidgets is not installed: `pip install 'ipywidgets>=7.7,<9'`, or use mode='static'.") from None
    pred = Prediction(bank, question, responses=_path(home, responses), widgets=resolved == "widget")
    _display(pred)
    return pred


# --- reveal ----------------------------------------------------------------------------------------

def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?…" else text + "."


def _reads_learner_files(mode: str) -> bool:
    if mode not in ("auto", "widget", "static"):
        raise AlignkitError(f"mode must be 'auto', 'widget' or 'static', not {mode!r}.")
    if mode != "auto":
        return mode == "widget"
    return not (in_ci() or os.environ.get("ALIGNKIT_QUIZ", "").strip().lower() == "static")


def _reveal_text(q: quiz_bank.Question, predicted: str | None, outcome: str, detail: str) -> tuple[str, str]:
    """(text/plain, text/html) of the reveal."""
    run = _sentence(_option(q, outcome))
    tail = [_sentence(detail)] if detail.strip() else []
    tail_html = "".join(f" {_esc(t)}" for t in tail)
    note = f"\n{q.explanation}" if q.explanation else ""
    note_html = f"<div>{_esc(q.explanation)}</div>" if q.explanation else ""
    if predicted is None:
        text = " ".join([f"No prediction recorded — the run: {run}", *tail]) + note
        return text, f'<div style="color:#555"><b>No prediction recorded</b> — the run: {_esc(run)}{tail_html}</div>{note_html}'
    mark, color = ("✓", "#1b5e20") if predicted == outcome else ("✗", "#b00020")
    mine = _sentence(_option(q, predicted))
    text = " ".join([f"{mark} Your prediction: {mine} The run: {run}", *tail]) + note
    return text, (f'<div><span style="color:{color}"><b>{mark}</b></span> <b>Your prediction:</b> {_esc(mine)} '
                  f"<b>The run:</b> {_esc(run)}{tail_html}</div>{note_html}")


def reveal(chapter: str, question_id: str, outcome: str, detail: str = "", *, mode: str = "auto",
           quizzes_dir: str | os.PathLike | None = None, home: str | os.PathLike | None = None,
           responses: str | os.PathLike | None = None) -> Revealed:
    """Print how the learner's first recorded prediction fared against `outcome`, the option id the run
    computed, followed by `detail` (a sentence with the measured numbers). Never raises for a missing
    prediction; OutcomeError when `outcome` is not an option id of the question."""
    bank = quiz_bank.load_chapter(chapter, quizzes_dir)
    q = bank.prediction(question_id)
    if not isinstance(outcome, str) or outcome not in q.choice_ids:
        raise OutcomeError(f"{chapter}/{question_id}: outcome {outcome!r} is not one of the option ids "
                           f"{', '.join(q.choice_ids)}; compute it from the run's numbers.")
    if not isinstance(detail, str):
        raise AnswerTypeError(f"detail must be a sentence (str), not {type(detail).__name__}.")
    path = _path(home, responses)
    predicted = _RECORDED_HERE.get(_key(path, chapter, question_id))
    if _reads_learner_files(mode):
        try:
            predicted = first_prediction(path, chapter, question_id) or predicted
        except (OSError, AlignkitError):  # an unreadable ALIGNKIT_HOME: the reveal still shows the run
            pass
    if predicted is None and _live_widgets(mode):
        return _wait_for_prediction(q, _key(path, chapter, question_id), outcome, detail)
    text, markup = _reveal_text(q, predicted, outcome, detail)
    if in_kernel():
        from IPython.display import display
        display({"text/plain": text, "text/html": markup}, raw=True)
    else:
        print(text)
    return Revealed(question_id, predicted, outcome, None if predicted is None else predicted == outcome, text)


WAITING_TEXT = ("Record your prediction above first; the run's outcome appears here as soon as you do. "
                "(Or show the outcome without predicting.)")


def _live_widgets(mode: str) -> bool:
    """A learner's live kernel with widgets: where a reveal can wait for the prediction."""
    if not in_kernel() or _resolve_mode(mode) != "widget":
        return False
    try:
        import ipywidgets  # noqa: F401 - imported only to learn whether it is installed
    except ImportError:
        return False
    return True


def _wait_for_prediction(q: quiz_bank.Question, key: tuple[str, str, str], outcome: str, detail: str) -> Revealed:
    """Show a waiting note instead of the outcome; recording the prediction (or the button) fills it in."""
    import ipywidgets as w
    from IPython.display import display

    note = w.HTML(f'<div style="color:#555"><b>Prediction first.</b> {_esc(WAITING_TEXT)}</div>')
    button = w.Button(description="Show the outcome without predicting", layout=w.Layout(width="auto"))
    box = w.VBox([note, button])

    def fill(predicted: str | None) -> None:
        note.value = _reveal_text(q, predicted, outcome, detail)[1]
        button.layout.display = "none"
        if fill in _WAITING.get(key, []):
            _WAITING[key].remove(fill)

    button.on_click(lambda _button: fill(None))
    _WAITING.setdefault(key, []).append(fill)
    display(box)
    return Revealed(q.id, None, outcome, None, WAITING_TEXT, waiting=True)
