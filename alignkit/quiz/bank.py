"""Question banks: loading, validation, and the salted hashes that let a quiz check itself.

A bank is one YAML file per chapter in `quizzes/` (schema in quizzes/README.md). It never holds a
plaintext key: a choice or numeric question stores `hashes`, sha256(salt | question id | canonical
answer), and a learner's answer is correct when its hash is among them. This is obfuscation against
peeking, not security (a handful of choices is brute-forced in microseconds); authoritative grading
uses the instructor key made by `alignkit quiz-key` (see alignkit.quiz.grade).

Canonical answers: single choice → the choice id; multiple choice → the sorted choice ids joined by
","; numeric → "cell:K" with K = floor(value / tolerance). A numeric question stores the hashes of
every cell that intersects [answer − tolerance, answer + tolerance], so every answer within the
tolerance is accepted (and some up to twice the tolerance away, at the edge cells).

A prediction question (`prediction: true`) asks the learner to predict what a run will show before it
runs: a single choice with no answer, no hashes and no points. It is kept apart from the graded
questions (`Bank.predictions`, never in `Bank.questions`), so it is never in the quiz, the key or any
maximum; `alignkit.quiz.predict` shows it and compares the prediction with the run's outcome.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import re
from pathlib import Path
from typing import Any

import yaml

from alignkit.infra.errors import AnswerTypeError, QuizBankError
from alignkit.infra.paths import quizzes_dir
from alignkit.infra.yaml_files import UniqueKeyLoader

__all__ = [
    "CHAPTERS", "QUESTION_TYPES", "STATUSES", "Choice", "Question", "Bank", "find_quizzes_dir", "load_bank",
    "load_chapter", "load_all", "normalize_answer", "canonical_answer", "hash_answer", "is_correct",
    "answer_hashes",
]

SCHEMA_VERSION = 1
CHAPTERS = ("00_setup", "01_pretraining", "02_sft", "03_reward_modeling", "04_ppo_rlhf",
            "05_constitutional_ai", "06_dpo", "07_kto", "08_capstone")
QUESTION_TYPES = ("single", "multiple", "numeric", "text")
MAX_TEXT_ANSWER = 5000  # characters; a short-text answer longer than this is refused
_ID = re.compile(r"[a-z0-9][a-z0-9_]{0,47}")
_CHOICE_ID = re.compile(r"[a-z0-9_]{1,16}")
_HASH = re.compile(r"[0-9a-f]{64}")
_BANK_KEYS = {"schema", "chapter", "title", "salt", "questions"}
_OPTIONAL_BANK_KEYS = {"status"}
STATUSES = ("live", "draft")  # draft: its chapter's notebook does not exist yet, so it is left out of the key
_QUESTION_KEYS = {"id", "type", "prompt", "points", "section", "explanation", "choices", "hashes",
                  "tolerance", "model_answer", "prediction"}
# A prediction question: a single choice the run decides. `options` ({id: text}) is shorthand for `choices`.
_PREDICTION_KEYS = {"id", "type", "prompt", "prediction", "section", "explanation", "choices", "options"}
_LEAKY_KEYS = {"answer", "answers", "correct", "correct_answer", "is_correct", "solution", "key"}
FIX_HASHES = "compute them with `alignkit quiz-key --hash BANK QUESTION_ID ANSWER` and paste the output"


@dataclasses.dataclass(frozen=True)
class Choice:
    id: str  # short id the answer is given by, e.g. "a"
    text: str  # what the learner reads


@dataclasses.dataclass(frozen=True)
class Question:
    id: str  # unique within its bank; responses and grades are keyed by it
    type: str  # one of QUESTION_TYPES
    prompt: str
    points: float
    section: str  # the chapter section that teaches it
    explanation: str  # shown after an attempt, right or wrong
    choices: tuple[Choice, ...] = ()  # single / multiple only
    hashes: tuple[str, ...] = ()  # salted hashes of the accepted canonical answers (not for text)
    tolerance: float | None = None  # numeric only: also the grid step of the hashed cells
    model_answer: str | None = None  # text only: shown after submitting, for self-assessment
    prediction: bool = False  # a prediction question: no answer, no hashes, 0 points; the run decides

    @property
    def choice_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.choices)


@dataclasses.dataclass(frozen=True)
class Bank:
    chapter: str  # equals the file's stem, e.g. "04_ppo_rlhf"
    title: str
    salt: str  # public, random per bank: keeps hashes from matching across questions and banks
    questions: tuple[Question, ...]
    path: Path | None = None
    sha256: str = ""  # of the file's bytes: tells the grader which bank version a learner had
    status: str = "live"  # "draft": kept in the repo, left out of the instructor key and every maximum
    predictions: tuple[Question, ...] = ()  # `prediction: true` questions: never graded, never in the quiz

    @property
    def draft(self) -> bool:
        return self.status == "draft"

    def question(self, question_id: str) -> Question:
        for q in self.questions:
            if q.id == question_id:
                return q
        if any(p.id == question_id for p in self.predictions):
            raise AnswerTypeError(f"{question_id!r} in {self.chapter} is a prediction question, not a quiz question: "
                                  f"record it with quiz.predict({self.chapter!r}, {question_id!r}).answer(choice_id).")
        raise AnswerTypeError(f"{self.chapter} has no question {question_id!r}; its questions are "
                              f"{', '.join(q.id for q in self.questions)}.")

    def prediction(self, question_id: str) -> Question:
        """The prediction question `question_id`; AnswerTypeError lists the bank's prediction ids."""
        for q in self.predictions:
            if q.id == question_id:
                return q
        known = ", ".join(q.id for q in self.predictions) or "none"
        hint = " (it is a graded quiz question)" if any(q.id == question_id for q in self.questions) else ""
        raise AnswerTypeError(f"{self.chapter} has no prediction question {question_id!r}{hint}; its prediction "
                              f"questions (prediction: true in {self.chapter}.yaml): {known}.")


def find_quizzes_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The quizzes folder: the argument, else $ALIGNKIT_QUIZZES, else ./quizzes or one in a parent
    folder (notebooks run in chapters/), else the one next to the alignkit package."""
    if explicit is not None or os.environ.get("ALIGNKIT_QUIZZES"):
        folder = Path(explicit if explicit is not None else os.environ["ALIGNKIT_QUIZZES"])
        if not folder.is_dir():
            raise QuizBankError(f"quizzes folder {folder} does not exist; pass the folder that holds the *.yaml banks.")
        return folder
    cwd = Path.cwd()
    candidates = [p / "quizzes" for p in (cwd, *cwd.parents[:3])] + [quizzes_dir()]
    for folder in candidates:
        if folder.is_dir() and any(folder.glob("*.yaml")):
            return folder
    raise QuizBankError("no quizzes/ folder found; run from the course checkout or set ALIGNKIT_QUIZZES to it.")


def _fail(path: Path, where: str, problem: str) -> QuizBankError:
    return QuizBankError(f"{path}: {where}: {problem} (schema: quizzes/README.md)")


def _text(raw: dict, key: str, path: Path, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, where, f"`{key}` must be a non-empty string")
    return value.strip()


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse_choices(raw: Any, path: Path, where: str) -> tuple[Choice, ...]:
    if not isinstance(raw, list) or len(raw) < 2:
        raise _fail(path, where, "`choices` must be a list of at least two {id, text} entries")
    choices = []
    for item in raw:
        if not isinstance(item, dict) or set(item) != {"id", "text"}:
            raise _fail(path, where, "each choice must have exactly the keys `id` and `text`")
        if not isinstance(item["id"], str) or not _CHOICE_ID.fullmatch(item["id"]):
            raise _fail(path, where, f"choice id {item['id']!r} must be 1-16 characters of a-z, 0-9, _")
        choices.append(Choice(item["id"], _text(item, "text", path, f"{where}, choice {item['id']!r}")))
    if len({c.id for c in choices}) != len(choices):
        raise _fail(path, where, "choice ids must be unique")
    return tuple(choices)


def _parse_hashes(raw: dict, qtype: str, path: Path, where: str, require: bool) -> tuple[str, ...]:
    hashes = raw.get("hashes", [])
    if not isinstance(hashes, list) or not all(isinstance(h, str) and _HASH.fullmatch(h) for h in hashes):
        raise _fail(path, where, f"`hashes` must be a list of 64-character lowercase hex strings; {FIX_HASHES}")
    wanted = {"single": (1, 1), "multiple": (1, 1), "numeric": (1, 8)}[qtype]
    if (hashes or require) and not wanted[0] <= len(hashes) <= wanted[1]:
        raise _fail(path, where, f"a {qtype} question needs {wanted[0]}-{wanted[1]} `hashes`, found {len(hashes)}; {FIX_HASHES}")
    return tuple(hashes)


def _parse_options(raw: Any, path: Path, where: str) -> tuple[Choice, ...]:
    """`options: {a: text, b: text}`, the shorthand a prediction question may use instead of `choices`."""
    if not isinstance(raw, dict) or len(raw) < 2:
        raise _fail(path, where, "`options` must map at least two choice ids to their texts, e.g. {a: \"...\", b: \"...\"}")
    if any(isinstance(k, bool) for k in raw):  # YAML 1.1 reads a bare yes/no/on/off/y/n key as a boolean
        raise _fail(path, where, "an `options` key was read as true/false: quote it, e.g. \"y\": \"...\"")
    return _parse_choices([{"id": str(k) if isinstance(k, int) else k, "text": v} for k, v in raw.items()], path, where)


def _parse_prediction(raw: dict, path: Path, where: str) -> Question:
    """A `prediction: true` question: single choice, no answer, no hashes, no points."""
    graded = sorted((_LEAKY_KEYS | {"hashes", "points", "tolerance", "model_answer"}) & set(raw))
    if graded:
        raise _fail(path, where, f"a prediction question has no correct answer and is worth no points, so it cannot "
                                 f"have {graded}; the run computes the outcome and quiz.reveal compares it")
    unknown = set(raw) - _PREDICTION_KEYS
    if unknown:
        raise _fail(path, where, f"unknown field(s) {sorted(unknown)}; a prediction question allows {sorted(_PREDICTION_KEYS)}")
    qid = raw.get("id")
    if not isinstance(qid, str) or not _ID.fullmatch(qid):
        raise _fail(path, where, "`id` must be 1-48 characters of a-z, 0-9, _ starting with a letter or digit")
    if raw.get("type") != "single":
        raise _fail(path, where, f"a prediction question must have `type: single`, not {raw.get('type')!r}")
    if ("choices" in raw) == ("options" in raw):
        raise _fail(path, where, "a prediction question needs its options: `choices` (a list of {id, text}) or "
                                 "`options` (a mapping {id: text}), exactly one of the two")
    choices = (_parse_choices(raw["choices"], path, where) if "choices" in raw
               else _parse_options(raw["options"], path, where))
    optional = {key: _text(raw, key, path, where) if key in raw else "" for key in ("section", "explanation")}
    return Question(id=qid, type="single", prompt=_text(raw, "prompt", path, where), points=0.0,
                    choices=choices, prediction=True, **optional)


def _parse_question(raw: Any, index: int, path: Path, require_hashes: bool) -> Question:
    where = f"question #{index}"
    if not isinstance(raw, dict):
        raise _fail(path, where, "each question must be a mapping")
    if isinstance(raw.get("id"), str):
        where = f"question {raw['id']!r}"
    if "prediction" in raw and not isinstance(raw["prediction"], bool):
        raise _fail(path, where, f"`prediction` must be true or false, not {raw['prediction']!r}")
    if raw.get("prediction"):
        return _parse_prediction(raw, path, where)
    raw = {k: v for k, v in raw.items() if k != "prediction"}  # `prediction: false` is an ordinary question
    leaked = _LEAKY_KEYS & set(raw)
    if leaked:
        raise _fail(path, where, f"plaintext key field {sorted(leaked)} is not allowed in a learner-facing bank; "
                                 f"store `hashes` instead: {FIX_HASHES}")
    unknown = set(raw) - _QUESTION_KEYS
    if unknown:
        raise _fail(path, where, f"unknown field(s) {sorted(unknown)}; allowed: {sorted(_QUESTION_KEYS)}")
    qid = raw.get("id")
    if not isinstance(qid, str) or not _ID.fullmatch(qid):
        raise _fail(path, where, "`id` must be 1-48 characters of a-z, 0-9, _ starting with a letter or digit")
    qtype = raw.get("type")
    if qtype not in QUESTION_TYPES:
        raise _fail(path, where, f"`type` must be one of {', '.join(QUESTION_TYPES)}, not {qtype!r}")
    points = raw.get("points")
    if not _number(points) or not 0 < points <= 100:
        raise _fail(path, where, "`points` must be a number in (0, 100]")
    fields: dict[str, Any] = dict(
        id=qid, type=qtype, points=float(points), prompt=_text(raw, "prompt", path, where),
        section=_text(raw, "section", path, where), explanation=_text(raw, "explanation", path, where))
    allowed = {"single": {"choices", "hashes"}, "multiple": {"choices", "hashes"},
               "numeric": {"tolerance", "hashes"}, "text": {"model_answer"}}[qtype]
    misplaced = ({"choices", "hashes", "tolerance", "model_answer"} - allowed) & set(raw)
    if misplaced:
        raise _fail(path, where, f"a {qtype} question cannot have {sorted(misplaced)}")
    if qtype in ("single", "multiple"):
        fields["choices"] = _parse_choices(raw.get("choices"), path, where)
    if qtype == "numeric":
        if not _number(raw.get("tolerance")) or raw["tolerance"] <= 0:
            raise _fail(path, where, "`tolerance` must be a positive number")
        fields["tolerance"] = float(raw["tolerance"])
    if qtype == "text":
        fields["model_answer"] = _text(raw, "model_answer", path, where)
    else:
        fields["hashes"] = _parse_hashes(raw, qtype, path, where, require_hashes)
    return Question(**fields)


def load_bank(path: str | os.PathLike, *, require_hashes: bool = True) -> Bank:
    """Load and validate one bank; a QuizBankError names the file and the question at fault.

    `require_hashes=False` is for authoring a question whose hashes are not computed yet.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
        raw = yaml.load(data.decode("utf-8"), Loader=UniqueKeyLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise QuizBankError(f"{path}: cannot read the bank: {err}".replace("\n", " ")) from None
    except RecursionError:
        raise QuizBankError(f"{path}: cannot read the bank: nested too deeply (schema: quizzes/README.md)") from None
    if not isinstance(raw, dict):
        raise _fail(path, "top level", "a bank must be a mapping with schema, chapter, title, salt, questions")
    if not _BANK_KEYS <= set(raw) <= _BANK_KEYS | _OPTIONAL_BANK_KEYS:
        raise _fail(path, "top level", f"expected the keys {sorted(_BANK_KEYS)} (and optionally "
                                       f"{sorted(_OPTIONAL_BANK_KEYS)}), found {sorted(map(str, raw))}")
    if raw.get("status", "live") not in STATUSES:
        raise _fail(path, "top level", f"`status` must be one of {', '.join(STATUSES)}, not {raw['status']!r}")
    if raw["schema"] != SCHEMA_VERSION:
        raise _fail(path, "top level", f"`schema` must be {SCHEMA_VERSION}")
    if raw["chapter"] != path.stem:
        raise _fail(path, "top level", f"`chapter` {raw['chapter']!r} must equal the file name {path.stem!r}")
    if not isinstance(raw["salt"], str) or not re.fullmatch(r"[0-9a-f]{16,64}", raw["salt"]):
        raise _fail(path, "top level", "`salt` must be 16-64 lowercase hex characters (python -c 'import secrets; print(secrets.token_hex(16))')")
    if not isinstance(raw["questions"], list) or not raw["questions"]:
        raise _fail(path, "top level", "`questions` must be a non-empty list")
    parsed = tuple(_parse_question(q, i, path, require_hashes) for i, q in enumerate(raw["questions"], 1))
    seen: set[str] = set()
    for q in parsed:
        if q.id in seen:
            raise _fail(path, f"question {q.id!r}", "duplicated question id; ids must be unique in a bank")
        seen.add(q.id)
    questions = tuple(q for q in parsed if not q.prediction)
    predictions = tuple(q for q in parsed if q.prediction)
    return Bank(raw["chapter"], _text(raw, "title", path, "top level"), raw["salt"], questions, path,
                hashlib.sha256(data).hexdigest(), raw.get("status", "live"), predictions)


def load_chapter(chapter: str, quizzes_dir: str | os.PathLike | None = None) -> Bank:
    """The bank of one chapter, e.g. load_chapter("04_ppo_rlhf")."""
    if not isinstance(chapter, str) or not _ID.fullmatch(chapter):
        raise QuizBankError(f"{chapter!r} is not a chapter name; use one of {', '.join(CHAPTERS)}.")
    path = find_quizzes_dir(quizzes_dir) / f"{chapter}.yaml"
    if not path.is_file():
        raise QuizBankError(f"no quiz bank {path}; chapters with banks: {', '.join(CHAPTERS)}.")
    return load_bank(path)


def load_all(quizzes_dir: str | os.PathLike | None = None, *, drafts: bool = True) -> dict[str, Bank]:
    """Every bank in the quizzes folder, by chapter, in file-name order (`drafts=False`: live banks only)."""
    folder = find_quizzes_dir(quizzes_dir)
    banks = {p.stem: load_bank(p) for p in sorted(folder.glob("*.yaml"))}
    return {chapter: bank for chapter, bank in banks.items() if drafts or not bank.draft}


def normalize_answer(question: Question, value: Any, *, from_text: bool = False) -> Any:
    """The JSON-safe form of a learner's answer, or AnswerTypeError saying what to give instead.

    single → choice id (str); multiple → sorted list of choice ids; numeric → float; text → str.
    `from_text=True` (the widget's text box) also accepts a number typed as a string.
    """
    qtype, ids = question.type, question.choice_ids
    if qtype == "single":
        if not isinstance(value, str) or value not in ids:
            raise AnswerTypeError(f"question {question.id!r}: choose one of the choice ids {', '.join(ids)} (got {value!r}).")
        return value
    if qtype == "multiple":
        if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)):
            raise AnswerTypeError(f"question {question.id!r}: give a list of choice ids, e.g. [{ids[0]!r}] (got {value!r}).")
        picked = sorted(set(value), key=str)
        if not picked or not all(isinstance(v, str) and v in ids for v in picked):
            raise AnswerTypeError(f"question {question.id!r}: select one or more of {', '.join(ids)} (got {sorted(map(str, picked))}).")
        return picked
    if qtype == "numeric":
        if from_text and isinstance(value, str):
            try:
                value = float(value.strip().replace(",", "."))
            except ValueError:
                raise AnswerTypeError(f"question {question.id!r}: type a number, like 12 or 0.25 (got {value!r}).") from None
        if not _number(value):
            raise AnswerTypeError(f"question {question.id!r}: the answer must be a finite number (got {value!r}).")
        return float(value)
    if not isinstance(value, str) or not value.strip():
        raise AnswerTypeError(f"question {question.id!r}: write your answer as non-empty text.")
    if len(value) > MAX_TEXT_ANSWER:
        raise AnswerTypeError(f"question {question.id!r}: keep the answer under {MAX_TEXT_ANSWER} characters.")
    return value.strip()


def _cell(value: float, step: float) -> int | None:
    ratio = value / step
    return math.floor(ratio) if math.isfinite(ratio) else None


def canonical_answer(question: Question, normalized: Any) -> str | None:
    """The string that is hashed for a normalized answer (None: cannot match, e.g. text)."""
    if question.type == "single":
        return normalized
    if question.type == "multiple":
        return ",".join(sorted(normalized))
    if question.type == "numeric":
        cell = _cell(normalized, question.tolerance)
        return None if cell is None else f"cell:{cell}"
    return None


def hash_answer(salt: str, question_id: str, canonical: str) -> str:
    return hashlib.sha256(f"{salt}|{question_id}|{canonical}".encode("utf-8")).hexdigest()


def is_correct(question: Question, salt: str, normalized: Any) -> bool | None:
    """Whether a normalized answer's hash is accepted; None for self-assessed text questions."""
    if question.type == "text":
        return None
    canonical = canonical_answer(question, normalized)
    return canonical is not None and hash_answer(salt, question.id, canonical) in question.hashes


def answer_hashes(salt: str, question: Question, answer: Any) -> list[str]:
    """Authoring: the `hashes` entry for the plaintext `answer` (a choice id, a list of ids or
    "a,c", or a number). Never commit the plaintext; paste only the hashes into the bank."""
    if question.type == "multiple" and isinstance(answer, str):
        answer = [a.strip() for a in answer.split(",")]
    value = normalize_answer(question, answer, from_text=True)
    if question.type in ("single", "multiple"):
        return [hash_answer(salt, question.id, canonical_answer(question, value))]
    if question.type == "numeric":
        step = question.tolerance
        reach = step * (1 + 1e-9)  # a hair wider so float rounding never drops an edge cell
        first, last = _cell(value - reach, step), _cell(value + reach, step)
        if first is None or last is None:
            raise AnswerTypeError(f"question {question.id!r}: {value} is too large for its tolerance {step}.")
        return [hash_answer(salt, question.id, f"cell:{k}") for k in range(first, last + 1)]
    raise AnswerTypeError(f"question {question.id!r} is a text question: it has a model_answer, not hashes.")
