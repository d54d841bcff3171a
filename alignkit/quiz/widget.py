"""Chapter quizzes: a widget that checks itself, a static fallback, a crash-safe log, and export.

    q = quiz.show("04_ppo_rlhf")        # widget in a live kernel, Markdown where widgets can't run
    q.answer("kl_penalty_role", "b")     # the same code path as clicking Submit
    q.progress                           # "1/8"
    quiz.export()                        # submission file for the instructor (downloads in Colab)

Every attempt is appended to $ALIGNKIT_HOME/responses.jsonl (default ~/.alignkit) with one fsynced
write, so answers survive kernel restarts and crashes. Only widgets present in both ipywidgets 7.7
(Colab) and 8.x (JupyterLab) are used, and every bank text put into an HTML widget is escaped.
"""
from __future__ import annotations

import dataclasses
import datetime
import html
import json
import os
import re
import secrets
import warnings
from pathlib import Path
from typing import Any, Callable

from alignkit.infra import storage
from alignkit.quiz import bank as quiz_bank
from alignkit.infra.errors import AlignkitError, AnswerTypeError
from alignkit.infra.runtime import in_ci

__all__ = ["show", "export", "Quiz", "Feedback", "AnswerTypeError", "alignkit_home", "responses_path",
           "learner_id", "read_responses", "render_static", "SUBMISSION_FORMAT"]

SUBMISSION_FORMAT = "alignkit-quiz-submission"
SUBMISSION_VERSION = 1
_LEARNER_ID = re.compile(r"[^\x00-\x1f\x7f]{1,100}")
_ATTEMPT_FIELDS = ("chapter", "question", "answer", "self_check", "attempt", "time")


def alignkit_home(home: str | os.PathLike | None = None) -> Path:
    """Where learner files live: the argument, else $ALIGNKIT_HOME, else ~/.alignkit."""
    return Path(home or os.environ.get("ALIGNKIT_HOME") or Path.home() / ".alignkit")


def responses_path(home: str | os.PathLike | None = None) -> Path:
    return alignkit_home(home) / "responses.jsonl"


def learner_id(learner: str | None = None, home: str | os.PathLike | None = None) -> str:
    """The argument, else $ALIGNKIT_LEARNER, else a random id created once and kept in ALIGNKIT_HOME."""
    value = learner if learner is not None else os.environ.get("ALIGNKIT_LEARNER")
    if learner is None and value is not None and not value.strip():
        raise AnswerTypeError("ALIGNKIT_LEARNER is set but empty; set it to the id your instructor asks for "
                              "(e.g. os.environ['ALIGNKIT_LEARNER'] = 'you@example.org'), or unset it.")
    if value is None:
        id_file = alignkit_home(home) / "learner_id"
        value = id_file.read_text(encoding="utf-8").strip() if id_file.is_file() else ""
        if not _LEARNER_ID.fullmatch(value):
            value = f"learner-{secrets.token_hex(6)}"
            try:
                storage.atomic_write_text(id_file, value + "\n")
            except OSError as err:  # a read-only home: the random id could not be kept for the next export
                raise AlignkitError(
                    f"could not save your learner id to {id_file}: {err.strerror or err}. Set ALIGNKIT_LEARNER to "
                    "the id your instructor asks for (e.g. os.environ['ALIGNKIT_LEARNER'] = 'you@example.org'), "
                    "or pass quiz.export(learner=...), or set ALIGNKIT_HOME to a folder you can write.") from err
    if not isinstance(value, str) or not _LEARNER_ID.fullmatch(value.strip()):
        raise AnswerTypeError(f"a learner id must be 1-100 printable characters, not only spaces, e.g. your course "
                              f"e-mail (got {str(value)[:40]!r}).")
    return value.strip()


def read_responses(path: str | os.PathLike | None = None, *, home: str | os.PathLike | None = None) -> list[dict]:
    """Every recorded attempt, oldest first (a torn last line is skipped with a warning).

    An unreadable file (permissions, a dropped mount) raises AlignkitError naming it and the fix."""
    path = Path(path if path is not None else responses_path(home))
    try:
        return storage.read_jsonl(path)
    except OSError as err:
        raise AlignkitError(
            f"could not read your answers file {path}: {err.strerror or err}. Make it readable and writable by "
            f"you (e.g. `chmod u+rw {path}`, or remount the drive), or set ALIGNKIT_HOME to a folder you can "
            "write and run quiz.show again. Nothing was recorded or lost by this attempt.") from err


@dataclasses.dataclass(frozen=True)
class Feedback:
    question_id: str
    correct: bool | None  # None: a short-text question, self-assessed against the model answer
    attempt: int  # 1 for the first attempt at this question, counted across kernel restarts
    explanation: str
    model_answer: str | None = None


def _esc(text: str) -> str:
    return html.escape(text, quote=True).replace("\n", "<br>")


def _now() -> str:
    # Milliseconds: the grader orders attempts from several runtimes by this time.
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


RETRY_NOTE = "Only your first attempt at each question is graded; retries are for learning."


def _save_error(path: Path, err: OSError) -> AlignkitError:
    return AlignkitError(
        f"could not save your answer to {path}: {err.strerror or err}. Set ALIGNKIT_HOME to a folder you can "
        "write (e.g. os.environ['ALIGNKIT_HOME'] = '/content/alignkit' in Colab) and run quiz.show again, "
        "or free some disk space; then submit again. This answer was not recorded.")


def _points(points: float) -> str:
    return f"{points:g} point" + ("" if points == 1 else "s")


@dataclasses.dataclass
class _Controls:
    """One question's widgets and how to read, write and clear its input."""
    input: Any
    submit: Any
    retry: Any
    feedback: Any
    read: Callable[[], Any]
    write: Callable[[Any], None]
    clear: Callable[[], None]
    error: AlignkitError | None = None
    last: Feedback | None = None


class Quiz:
    """One chapter's quiz. `answer()` works with or without widgets; `widget` is None in static mode."""

    def __init__(self, bank: quiz_bank.Bank, *, responses: Path, widgets: bool):
        self.bank, self.chapter, self.responses_path = bank, bank.chapter, Path(responses)
        self._attempted: set[str] = set()
        self._correct: set[str] = set()
        if widgets:  # static mode never reads learner files, so its output is the same on every run
            for record in read_responses(self.responses_path):
                if record.get("chapter") == self.chapter and isinstance(record.get("question"), str):
                    self._attempted.add(record.get("question"))
                    if record.get("self_check") is True:
                        self._correct.add(record.get("question"))
        self._controls: dict[str, _Controls] = {}
        self.widget = self._build() if widgets else None

    @property
    def progress(self) -> str:
        """Questions attempted so far, e.g. "3/8"."""
        ids = {q.id for q in self.bank.questions}
        return f"{len(self._attempted & ids)}/{len(ids)}"

    def __repr__(self) -> str:
        return f"<alignkit quiz {self.chapter}: {len(self.bank.questions)} questions>"

    def _ipython_display_(self) -> None:
        """Nothing more to show: show() already displayed the widget or its text (no repr under it)."""

    def answer(self, question_id: str, value: Any) -> Feedback:
        """Answer a question: a choice id, a list of choice ids, a number, or text.

        Raises AnswerTypeError for an unknown question or a value of the wrong type. With widgets, the
        value is put into the question's input and its Submit button is clicked.
        """
        question = self.bank.question(question_id)
        normalized = quiz_bank.normalize_answer(question, value)
        if self.widget is None:
            return self._submit(question_id, normalized)
        controls = self._controls[question_id]
        controls.write(normalized)
        controls.submit.click()
        if controls.error is not None:
            raise controls.error
        return controls.last

    def _submit(self, question_id: str, value: Any, from_text: bool = False) -> Feedback:
        question = self.bank.question(question_id)
        normalized = quiz_bank.normalize_answer(question, value, from_text=from_text)
        correct = quiz_bank.is_correct(question, self.bank.salt, normalized)
        earlier = [r for r in read_responses(self.responses_path)
                   if r.get("chapter") == self.chapter and r.get("question") == question_id]
        record = {"chapter": self.chapter, "question": question_id, "answer": normalized, "self_check": correct,
                  "attempt": len(earlier) + 1, "time": _now(), "bank_sha256": self.bank.sha256}
        try:
            storage.append_jsonl(self.responses_path, record)
        except OSError as err:  # unwritable ALIGNKIT_HOME, full disk: say so, never lose an answer silently
            raise _save_error(self.responses_path, err) from err
        self._attempted.add(question_id)
        if correct:
            self._correct.add(question_id)
        return Feedback(question_id, correct, record["attempt"], question.explanation, question.model_answer)

    # --- widget -------------------------------------------------------------------------------------

    def _build(self) -> Any:
        import ipywidgets as w

        self._progress_html = w.HTML()
        title = w.HTML(f"<h3>Quiz: {_esc(self.bank.title)}</h3><p><i>{_esc(RETRY_NOTE)}</i></p>")
        boxes = [self._question_box(w, n, q) for n, q in enumerate(self.bank.questions, 1)]
        self._refresh_progress()
        return w.VBox([choice_style(w), title, self._progress_html, *boxes])

    def _question_box(self, w: Any, number: int, q: quiz_bank.Question) -> Any:
        header = w.HTML(f"<p><b>Q{number}.</b> {_esc(q.prompt)}<br><i>{_points(q.points)} · {_esc(q.section)}</i></p>")
        input_box, read, write, clear = _input_widgets(w, q)
        submit = w.Button(description="Submit", button_style="primary")
        retry = w.Button(description="Retry")
        retry.layout.display = "none"
        self._controls[q.id] = _Controls(input_box, submit, retry, w.HTML(), read, write, clear)
        submit.on_click(lambda _button, qid=q.id: self._on_submit(qid))
        retry.on_click(lambda _button, qid=q.id: self._on_retry(qid))
        return w.VBox([header, input_box, w.HBox([submit, retry]), self._controls[q.id].feedback])

    def _on_submit(self, question_id: str) -> None:
        controls = self._controls[question_id]
        try:
            feedback = self._submit(question_id, controls.read(), from_text=True)
        except (AlignkitError, OSError) as err:  # a wrong type, or an answer that could not be read or saved
            if not isinstance(err, AlignkitError):
                err = _save_error(self.responses_path, err)
            controls.error = err
            controls.feedback.value = f'<span style="color:#b00020">{_esc(str(err))}</span>'
            return
        controls.error, controls.last = None, feedback
        controls.feedback.value = _feedback_html(feedback)
        controls.retry.layout.display = ""
        self._refresh_progress()

    def _on_retry(self, question_id: str) -> None:
        controls = self._controls[question_id]
        controls.clear()
        controls.feedback.value = ""
        controls.retry.layout.display = "none"

    def _refresh_progress(self) -> None:
        self._progress_html.value = (f"<b>Progress: {self.progress}</b> answered · "
                                     f"{len(self._correct)} checked correct")


# ipywidgets 7 and 8 give every radio option a fixed-height row, so an option that wraps prints over the next
# one. Radio groups of the quiz and of predictions carry CHOICE_CLASS, and this sheet (shipped inside each quiz
# or prediction widget, in an HTML widget: both versions set its value as innerHTML) lets their rows grow.
CHOICE_CLASS = "alignkit-choices"
CHOICE_CSS = f"""<style>
.{CHOICE_CLASS} .widget-radio-box label, .{CHOICE_CLASS} .jupyter-widget-radio-box label {{
  height: auto; min-height: var(--jp-widgets-radio-item-height, 24px); line-height: 1.4;
  white-space: normal; overflow-wrap: anywhere; display: flex; align-items: flex-start;
  padding: 2px 0; box-sizing: border-box; }}
.{CHOICE_CLASS} .widget-radio-box input, .{CHOICE_CLASS} .jupyter-widget-radio-box input {{
  height: 1.4em; line-height: 1.4; flex: 0 0 auto; float: none; margin-top: 0; order: -1; }}
.{CHOICE_CLASS}.widget-radio, .{CHOICE_CLASS}.jupyter-widget-radio {{ width: auto; max-width: 100%; height: auto; }}
.{CHOICE_CLASS}-row .widget-html-content, .{CHOICE_CLASS}-row .jupyter-widget-html-content {{
  white-space: normal; line-height: 1.4; height: auto; overflow-wrap: anywhere; }}
</style>"""


def choice_style(w: Any) -> Any:
    """The HTML widget holding CHOICE_CSS (put one in every widget tree that shows CHOICE_CLASS radios)."""
    return w.HTML(CHOICE_CSS, layout=w.Layout(height="0px", margin="0px"))


def choice_radio(w: Any, q: quiz_bank.Question) -> Any:
    """A RadioButtons of a question's options whose rows wrap without overlapping (with choice_style)."""
    radio = w.RadioButtons(options=[(f"{c.id}) {c.text}", c.id) for c in q.choices], value=None,
                           layout=w.Layout(width="auto", max_width="100%"))
    radio.add_class(CHOICE_CLASS)
    return radio


def _input_widgets(w: Any, q: quiz_bank.Question) -> tuple[Any, Callable, Callable, Callable]:
    """(input widget, read, write, clear) for a question; choice texts never go into a description,
    which ipywidgets 7 renders as HTML."""
    if q.type == "single":
        radio = choice_radio(w, q)
        return radio, lambda: radio.value, lambda v: setattr(radio, "value", v), lambda: setattr(radio, "value", None)
    if q.type == "multiple":
        boxes = {c.id: w.Checkbox(value=False, indent=False, layout=w.Layout(width="2.5em")) for c in q.choices}
        rows = [w.HBox([boxes[c.id], w.HTML(f"{_esc(c.id)}) {_esc(c.text)}", layout=w.Layout(flex="1 1 auto"))])
                for c in q.choices]
        for row in rows:
            row.add_class(f"{CHOICE_CLASS}-row")

        def write(value: list[str]) -> None:
            for cid, box in boxes.items():
                box.value = cid in value

        return (w.VBox(rows), lambda: [cid for cid, box in boxes.items() if box.value], write,
                lambda: write([]))
    if q.type == "numeric":
        field = w.Text(value="", placeholder="type a number")
        return field, lambda: field.value, lambda v: setattr(field, "value", repr(v)), lambda: setattr(field, "value", "")
    area = w.Textarea(value="", placeholder="your answer in a few sentences", layout=w.Layout(width="100%", height="6em"))
    return area, lambda: area.value, lambda v: setattr(area, "value", v), lambda: setattr(area, "value", "")


def _feedback_html(fb: Feedback) -> str:
    explanation = f"<div>{_esc(fb.explanation)}</div>"
    if fb.correct is None:
        return (f"<div><b>Submitted</b> (attempt {fb.attempt}). Compare with the model answer and judge "
                f"your own; your instructor reviews it too.</div><blockquote>{_esc(fb.model_answer or '')}"
                f"</blockquote>{explanation}")
    if fb.correct:
        return f'<div style="color:#1b5e20"><b>✓ Correct</b> (attempt {fb.attempt})</div>{explanation}'
    return (f'<div style="color:#b00020"><b>✗ Not quite</b> (attempt {fb.attempt}). Press Retry to try '
            f"again; your first attempt is the one graded, so a retry is for learning.</div>{explanation}")


# --- static fallback -------------------------------------------------------------------------------

def _static_question(number: int, q: quiz_bank.Question) -> list[str]:
    esc = lambda text: html.escape(text, quote=False)  # noqa: E731 - Markdown keeps quotes readable
    lines = [f"**Q{number}.** {esc(q.prompt)} *({_points(q.points)} · {esc(q.section)})*", ""]
    lines += [f"- **{c.id})** {esc(c.text)}" for c in q.choices]
    if q.type == "multiple":
        lines += ["", "*(select all that apply)*"]
    if q.type == "numeric":
        lines.append(f"*Answer with a number; answers within ±{q.tolerance:g} count.*")
    reveal = "Model answer and explanation" if q.type == "text" else "Explanation"
    body = [f"*Model answer:* {esc(q.model_answer)}", ""] if q.model_answer else []
    return lines + ["", f"<details><summary>{reveal} (click to reveal)</summary>", "", *body,
                    esc(q.explanation), "", "</details>", ""]


def render_static(bank: quiz_bank.Bank) -> str:
    """The quiz as Markdown with click-to-reveal explanations; depends only on the bank (nbval-stable)."""
    lines = [f"### Quiz: {html.escape(bank.title, quote=False)}", "",
             f"{len(bank.questions)} questions. Where widgets run, `quiz.show` checks your answers; "
             "here, decide on your answer before opening the explanation.", ""]
    for number, q in enumerate(bank.questions, 1):
        lines += _static_question(number, q)
    return "\n".join(lines)


def _resolve_mode(mode: str) -> str:
    if mode not in ("auto", "widget", "static"):
        raise AlignkitError(f"mode must be 'auto', 'widget' or 'static', not {mode!r}.")
    choice = os.environ.get("ALIGNKIT_QUIZ", "").strip().lower()
    if mode != "auto":
        return mode
    if in_ci() or choice == "static":
        return "static"
    try:
        import ipywidgets  # noqa: F401 - only asks whether ipywidgets is installed
        from IPython import get_ipython
    except ImportError:
        return "static"
    shell = get_ipython()
    return "widget" if choice == "widget" or getattr(shell, "kernel", None) is not None else "static"


def display_widget_or_text(widget: Any, static_text: str) -> None:
    """The widget in a kernel, else the static Markdown (rendered in a kernel, printed in a plain script)."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        print(static_text)
        return
    if get_ipython() is None:  # a plain script: there is nothing to render a widget in
        if widget is None:
            print(static_text)
    elif widget is not None:
        display(widget)
    else:
        display(Markdown(static_text))


def _display(quiz: Quiz) -> None:
    display_widget_or_text(quiz.widget, render_static(quiz.bank))


def show(chapter: str, *, mode: str = "auto", quizzes_dir: str | os.PathLike | None = None,
         home: str | os.PathLike | None = None, responses: str | os.PathLike | None = None) -> Quiz:
    """Display a chapter's quiz and return it (mode: "auto", "widget" or "static").

    "auto" is "static" when $CI is set, $ALIGNKIT_QUIZ=static, ipywidgets is missing or no kernel
    runs, and "widget" otherwise. `responses` overrides the responses file (default in `home`).
    """
    bank = quiz_bank.load_chapter(chapter, quizzes_dir)
    resolved = _resolve_mode(mode)
    if resolved == "widget":
        try:
            import ipywidgets  # noqa: F401 - only asks whether ipywidgets is installed
        except ImportError:
            raise AlignkitError("ipywidgets is not installed: `pip install 'ipywidgets>=7.7,<9'`, or use mode='static'.") from None
    path = Path(responses) if responses is not None else responses_path(home)
    quiz = Quiz(bank, responses=path, widgets=resolved == "widget")
    _display(quiz)
    return quiz


# --- export ----------------------------------------------------------------------------------------

def _exportable(record: dict) -> bool:
    return (all(k in record for k in _ATTEMPT_FIELDS) and isinstance(record["chapter"], str) and record["chapter"]
            and isinstance(record["question"], str) and record["question"] and isinstance(record["time"], str)
            and record["self_check"] in (True, False, None) and not isinstance(record["answer"], (dict, bool))
            and record["answer"] is not None)


def _renumbered(records: list[dict]) -> tuple[list[dict], int]:
    """Attempts numbered 1, 2, ... per question in the log's order, and how many numbers changed.

    The number stored at answering time comes from a tolerant read of the log, so two kernels
    answering at once, or a damaged line, can repeat one; the order of the appended lines is the truth."""
    counts: dict[tuple[str, str], int] = {}
    attempts, changed = [], 0
    for record in records:
        ident = (record["chapter"], record["question"])
        counts[ident] = counts.get(ident, 0) + 1
        changed += record["attempt"] != counts[ident]
        marker = {"prediction": True} if record.get("prediction") is True else {}  # quiz.predict: never graded
        attempts.append({**{k: record[k] for k in _ATTEMPT_FIELDS}, "attempt": counts[ident], **marker})
    return attempts, changed


def _colab_download(path: Path) -> bool:
    try:
        from google.colab import files  # only importable inside Colab
    except ImportError:
        return False
    files.download(str(path))
    return True


def export(path: str | os.PathLike | None = None, *, chapters: str | list[str] | None = None,
           learner: str | None = None, home: str | os.PathLike | None = None,
           responses: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Write the submission file (all attempts, or those of `chapters`) atomically and return its path.

    Default path: ./alignkit_submission_<learner>.json. In Colab the file is also offered for download.
    """
    wanted = {chapters} if isinstance(chapters, str) else set(chapters or []) if isinstance(chapters, (list, tuple, set)) \
        else {None} if chapters is not None else set()
    if not all(isinstance(c, str) and c for c in wanted):
        raise AlignkitError(f"chapters must be a chapter name or a list of them, e.g. chapters='02_sft', not {chapters!r}.")
    source = Path(responses) if responses is not None else responses_path(home)
    kept, banks = [], {}
    for record in read_responses(source):
        if not _exportable(record):
            warnings.warn(f"skipped a damaged response record: {str(record)[:80]}", stacklevel=2)
        elif not wanted or record["chapter"] in wanted:
            kept.append(record)
            banks[record["chapter"]] = {"bank_sha256": str(record.get("bank_sha256", ""))[:64]}
    attempts, changed = _renumbered(kept)
    if changed:
        warnings.warn(f"renumbered {changed} attempt(s) whose numbers repeated or skipped in {source} (two kernels "
                      "answering at once, or a damaged line); the order of your answers is kept.", stacklevel=2)
    who = learner_id(learner, home)
    submission = {"format": SUBMISSION_FORMAT, "version": SUBMISSION_VERSION, "learner": who,
                  "created": _now(), "chapters": banks, "attempts": attempts}
    if path is None:  # one file per chapter selection, so a per-chapter export never replaces another's
        part = "_" + "+".join(sorted(wanted)) if wanted else ""
        path = Path.cwd() / f"alignkit_submission_{_safe_name(who)[:60]}{_safe_name(part)[:120]}.json"
    if Path(path).is_dir():
        raise AlignkitError(f"{path} is a folder; pass a file name, e.g. quiz.export('{Path(path) / 'submission.json'}').")
    path, kept = _free_path(Path(path), attempts)
    try:
        path = storage.atomic_write_json(path, submission)
    except OSError as err:  # a full disk, a read-only folder: say so; the answers stay in the responses file
        raise AlignkitError(f"could not write {path}: {err.strerror or err}. Free some disk space or pass another "
                            f"path, e.g. quiz.export('/content/submission.json'); your answers are safe in {source}."
                            ) from err
    if kept is not None:
        print(f"Kept your earlier export {kept.name}: it holds answers this export does not; wrote {path.name} "
              "beside it. Hand in both files.")
    if not attempts:
        print(f"Wrote {path.name}, but it holds 0 attempts: no answers{_for(wanted)} were found in {source}. "
              "Answer the quiz first; if you did, your answers were not saved (the quiz showed a red message): "
              "set ALIGNKIT_HOME to a folder you can write, answer again, then export.")
        return path
    offered = _colab_download(path) if download else False
    predictions = sum(1 for a in attempts if a.get("prediction"))
    of_which = f" (of which {predictions} prediction(s), not graded)" if predictions else ""
    print(f"Wrote {path.name}: {len(attempts)} attempts{of_which} in {len(banks)} chapter(s) for learner {who!r}."
          + (" Download started." if offered else " Hand this file to your instructor."))
    return path


def _safe_name(text: str) -> str:
    return re.sub(r'[^A-Za-z0-9._+-]+', '_', text)


def _free_path(path: Path, attempts: list[dict]) -> tuple[Path, Path | None]:
    """`path`, unless it holds a submission with attempts the new one lacks (another runtime's, another
    chapter's): then a fresh name beside it, and the kept file. Nothing a learner exported is replaced."""
    if not path.exists():
        return path, None
    try:
        old = _read_json(path)
        old_attempts = old["attempts"] if isinstance(old, dict) and isinstance(old.get("attempts"), list) else None
    except (OSError, ValueError, RecursionError):
        old_attempts = None
    new = {_attempt_key(a) for a in attempts}
    if old_attempts is not None and all(isinstance(a, dict) and _attempt_key(a) in new for a in old_attempts):
        return path, None  # a later export of the same answers: nothing is lost by replacing it
    for n in range(2, 1000):
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        if not candidate.exists():
            return candidate, path
    raise AlignkitError(f"too many exports beside {path}; pass another path to quiz.export(PATH).")


def _read_json(path: Path) -> Any:
    return json.loads(path.read_bytes().decode("utf-8"))


def _attempt_key(attempt: dict) -> str:
    return json.dumps(attempt, sort_keys=True, default=str)


def _for(wanted: set[str]) -> str:
    return f" to {', '.join(sorted(wanted))}" if wanted else ""
