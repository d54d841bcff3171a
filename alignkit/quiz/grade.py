"""`alignkit grade SUBMISSIONS... --key KEY -o grades.csv`: grade quiz submissions, never run them.

Each submission (written by `quiz.export()`) is read as data only: size-capped, strictly typed, and
re-scored from the learner's raw answers with the instructor key alone — a submission's own
`self_check` flags and the learner's bank are never trusted, and no path inside a submission is ever
opened. A bad file gets one `error:` line and a non-zero exit; the other files are still graded.

Per question the score is that of the learner's best attempt (`--policy best`, the default: the quiz
is formative and allows retries), or of their first or last (`--policy first|last`). Short-text
answers score nothing automatically: they are listed in `needs_review` and in the review CSV.
Exit code: 0 all files graded, 1 some file had an error, 2 usage error (bad key, unwritable output).
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import stat
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from alignkit.quiz import bank as quiz_bank
from alignkit.quiz import key as quiz_key
from alignkit.errors import AlignkitError, AnswerTypeError
from alignkit.quiz.widget import SUBMISSION_FORMAT, SUBMISSION_VERSION
from alignkit.storage import atomic_write_text

__all__ = ["MAX_SUBMISSION_BYTES", "POLICIES", "SubmissionError", "read_submission", "add_arguments", "run"]

MAX_SUBMISSION_BYTES = 5_000_000
MAX_ATTEMPTS = 20_000
POLICIES = ("best", "first", "last")
_TOP_KEYS = {"format", "version", "learner", "created", "chapters", "attempts"}
_ATTEMPT_KEYS = {"chapter", "question", "answer", "self_check", "attempt", "time"}
_JSON_TYPE = {"single": (str, "a string"), "text": (str, "a string"), "multiple": (list, "a list"),
              "numeric": ((int, float), "a number")}


class SubmissionError(Exception):
    """One submission file cannot be graded; the message says why (one line)."""


def _printable(text: str, limit: int = 120) -> str:
    return "".join(c if c.isprintable() else "?" for c in str(text))[:limit]


def _short_str(value: Any, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit and value.isprintable()


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise SubmissionError("a JSON object repeats a key")
    return dict(pairs)


def _refuse_constant(name: str) -> None:
    raise SubmissionError(f"JSON contains {name}, which is not a number")


def _check_answer_value(value: Any, where: str) -> None:
    if isinstance(value, bool) or value is None:
        raise SubmissionError(f"{where}: answer must be text, a list of choice ids or a number")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise SubmissionError(f"{where}: answer is not a finite number")
    elif isinstance(value, str):
        if len(value) > quiz_bank.MAX_TEXT_ANSWER:
            raise SubmissionError(f"{where}: answer text is longer than {quiz_bank.MAX_TEXT_ANSWER} characters")
    elif isinstance(value, list):
        if len(value) > 50 or not all(_short_str(v, 100) for v in value):
            raise SubmissionError(f"{where}: answer list must hold at most 50 short choice ids")
    else:
        raise SubmissionError(f"{where}: answer has JSON type {type(value).__name__}")


def _check_attempt(raw: Any, index: int) -> dict:
    where = f"attempts[{index}]"
    if not isinstance(raw, dict) or set(raw) != _ATTEMPT_KEYS:
        raise SubmissionError(f"{where}: must be an object with exactly the fields {sorted(_ATTEMPT_KEYS)}")
    if not _short_str(raw["chapter"], 100) or not _short_str(raw["question"], 100):
        raise SubmissionError(f"{where}: chapter and question must be short strings")
    if type(raw["attempt"]) is not int or not 1 <= raw["attempt"] <= 1_000_000:
        raise SubmissionError(f"{where}: attempt must be a whole number from 1")
    if not _short_str(raw["time"], 64) or raw["self_check"] not in (True, False, None):
        raise SubmissionError(f"{where}: time must be a short string and self_check true, false or null")
    _check_answer_value(raw["answer"], where)
    return raw


def _check_submission(obj: Any) -> tuple[str, str, dict[str, str], list[dict]]:
    if not isinstance(obj, dict) or obj.get("format") != SUBMISSION_FORMAT:
        raise SubmissionError(f"not an {SUBMISSION_FORMAT} file")
    if set(obj) != _TOP_KEYS or type(obj["version"]) is not int or obj["version"] != SUBMISSION_VERSION:
        raise SubmissionError(f"expected version {SUBMISSION_VERSION} with exactly the fields {sorted(_TOP_KEYS)}")
    if not _short_str(obj["learner"], 100) or not _short_str(obj["created"], 64):
        raise SubmissionError("learner and created must be short printable strings")
    chapters = obj["chapters"]
    if not isinstance(chapters, dict) or len(chapters) > 100 or not all(
            _short_str(k, 100) and isinstance(v, dict) and set(v) == {"bank_sha256"}
            and isinstance(v["bank_sha256"], str) and len(v["bank_sha256"]) <= 64 for k, v in chapters.items()):
        raise SubmissionError("chapters must map chapter names to {bank_sha256}")
    attempts = obj["attempts"]
    if not isinstance(attempts, list) or len(attempts) > MAX_ATTEMPTS:
        raise SubmissionError(f"attempts must be a list of at most {MAX_ATTEMPTS} entries")
    checked = [_check_attempt(a, i) for i, a in enumerate(attempts)]
    seen = set()
    for a in checked:
        ident = (a["chapter"], a["question"], a["attempt"])
        if ident in seen:
            raise SubmissionError(f"attempt {a['attempt']} of {_printable(a['chapter'])}/{_printable(a['question'])} appears twice")
        seen.add(ident)
    shas = {k: v["bank_sha256"] for k, v in chapters.items()}
    return obj["learner"].strip(), obj["created"], shas, checked


def read_submission(path: str | os.PathLike, max_bytes: int = MAX_SUBMISSION_BYTES) -> dict:
    """Read and validate one submission as data; SubmissionError (one line) if it cannot be graded."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise SubmissionError("not a regular file")
        if info.st_size > max_bytes:
            raise SubmissionError(f"file is {info.st_size} bytes, over the {max_bytes}-byte limit")
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as err:
        raise SubmissionError(f"cannot read the file ({err.strerror or err})") from None
    if len(data) > max_bytes:
        raise SubmissionError(f"file is over the {max_bytes}-byte limit")
    try:
        obj = json.loads(data.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise SubmissionError("not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise SubmissionError(f"not valid JSON (truncated or damaged?): {err.msg} (line {err.lineno}, column {err.colno})") from None
    except (ValueError, RecursionError) as err:  # e.g. a 100k-digit integer, or absurd nesting
        raise SubmissionError(f"not valid JSON ({type(err).__name__}: {str(err)[:80]})") from None
    learner, created, shas, attempts = _check_submission(obj)
    return {"learner": learner, "created": created, "bank_sha256": shas, "attempts": attempts}


def _score(question: quiz_bank.Question, salt: str, answer: Any, where: str, warn) -> float:
    wanted, described = _JSON_TYPE[question.type]
    if not isinstance(answer, wanted):
        raise SubmissionError(f"{where}: a {question.type} question's answer must be {described}")
    try:
        normalized = quiz_bank.normalize_answer(question, answer)
    except AnswerTypeError as err:  # e.g. a choice id the key does not know: wrong, not malformed
        warn(f"{where}: scored 0 ({err})")
        return 0.0
    return question.points if quiz_bank.is_correct(question, salt, normalized) else 0.0


def grade_submission(sub: dict, key: dict[str, dict], policy: str, warn) -> tuple[dict[str, float], dict[str, str]]:
    """(points per "chapter/question" column, text answers to review per column) for one learner."""
    grouped: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for attempt in sub["attempts"]:
        grouped[(attempt["chapter"], attempt["question"])].append(attempt)
    for chapter, sha in sub["bank_sha256"].items():
        if chapter in key and sha and key[chapter]["bank_sha256"] and sha != key[chapter]["bank_sha256"]:
            warn(f"answered a different version of the {chapter} bank than the key's; check its choice ids")
    points, review = {}, {}
    for (chapter, qid), attempts in sorted(grouped.items()):
        column = f"{chapter}/{qid}"
        question = next((q for q in key.get(chapter, {}).get("questions", []) if q.id == qid), None)
        if question is None:
            warn(f"ignored {_printable(column)}: not in the key")
            continue
        attempts.sort(key=lambda a: a["attempt"])
        if question.type == "text":
            review[column] = attempts[-1]["answer"]
            continue
        scores = [_score(question, key[chapter]["salt"], a["answer"], column, warn) for a in attempts]
        points[column] = {"best": max(scores), "first": scores[0], "last": scores[-1]}[policy]
    return points, review


def _csv_cell(value: str) -> str:
    # A spreadsheet runs a cell starting with = + - @ as a formula: quote it so it stays text.
    value = value.replace("\r", " ")
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t") else value


def _grades_csv(rows: dict[str, tuple], key: dict[str, dict]) -> tuple[str, str]:
    columns = [(ch, q) for ch, entry in key.items() for q in entry["questions"]]
    max_points = sum(q.points for _, q in columns)
    grades, review = io.StringIO(), io.StringIO()
    g, r = csv.writer(grades), csv.writer(review)
    g.writerow(["learner", *(f"{ch}/{q.id}" for ch, q in columns), "total", "max", "needs_review"])
    r.writerow(["learner", "question", "text_answer"])
    for learner in sorted(rows):
        points, texts = rows[learner]
        cells = ["" if f"{ch}/{q.id}" in texts else f"{points.get(f'{ch}/{q.id}', 0.0):g}" for ch, q in columns]
        g.writerow([_csv_cell(learner), *cells, f"{sum(points.values()):g}", f"{max_points:g}", ";".join(sorted(texts))])
        for column, text in sorted(texts.items()):
            r.writerow([_csv_cell(learner), column, _csv_cell(text)])
    return grades.getvalue(), review.getvalue()


def _expand(paths: list[str]) -> list[Path]:
    files = []
    for p in map(Path, paths):
        files.extend(sorted(p.glob("*.json")) if p.is_dir() else [p])
    return files


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", nargs="+", help="submission files, or folders of *.json submissions")
    parser.add_argument("--key", required=True, help="the instructor key from `alignkit quiz-key`")
    parser.add_argument("-o", "--output", required=True, help="grades CSV to write")
    parser.add_argument("--review", help="CSV of short-text answers to review (default: OUTPUT with _review)")
    parser.add_argument("--policy", choices=POLICIES, default="best", help="which attempt counts (default: best)")
    parser.add_argument("--secret-env", metavar="VAR", help="verify the key's HMAC with the secret in this variable")
    parser.add_argument("--max-bytes", type=int, default=MAX_SUBMISSION_BYTES, help="size limit per submission")


def _load_key(args: argparse.Namespace) -> dict[str, dict]:
    secret = None
    if args.secret_env:
        secret = os.environ.get(args.secret_env)
        if not secret:
            raise AlignkitError(f"environment variable {args.secret_env} is empty; export the key's secret first.")
    return quiz_key.load_key(args.key, secret)


def _grade_file(path: Path, key: dict, policy: str, max_bytes: int) -> tuple[dict, dict, dict, list[str]]:
    notes: list[str] = []
    sub = read_submission(path, max_bytes)
    points, texts = grade_submission(sub, key, policy, notes.append)
    return sub, points, texts, notes


def run(args: argparse.Namespace) -> int:
    try:
        key = _load_key(args)
    except AlignkitError as err:
        print(f"alignkit grade: error: {err}", file=sys.stderr)
        return 2
    rows: dict[str, tuple] = {}
    owner: dict[str, tuple[str, Path]] = {}  # learner -> (created, file graded for them)
    failed = 0
    for path in _expand(args.submissions):
        shown = _printable(str(path), 300)
        try:
            sub, points, texts, notes = _grade_file(path, key, args.policy, args.max_bytes)
        except SubmissionError as err:
            failed += 1
            print(f"error: {shown}: {_printable(str(err), 300)}", file=sys.stderr)
            continue
        except Exception as err:  # noqa: BLE001 - one hostile file must not stop the others
            failed += 1
            print(f"error: {shown}: cannot be graded ({type(err).__name__})", file=sys.stderr)
            continue
        for note in notes[:20]:
            print(f"warning: {shown}: {_printable(note, 300)}", file=sys.stderr)
        if len(notes) > 20:
            print(f"warning: {shown}: ... and {len(notes) - 20} more warnings", file=sys.stderr)
        learner = sub["learner"]
        if learner in owner:
            failed += 1
            older, newer = sorted([owner[learner], (sub["created"], path)], key=lambda t: t[0])
            print(f"error: {_printable(str(older[1]), 300)}: duplicate submission for learner "
                  f"{_printable(learner)!r}; graded the newer {_printable(str(newer[1]), 300)} instead", file=sys.stderr)
            if newer[1] != path:
                continue
        owner[learner] = (sub["created"], path)
        rows[learner] = (points, texts)
    grades_text, review_text = _grades_csv(rows, key)
    review_path = Path(args.review) if args.review else Path(args.output).with_name(Path(args.output).stem + "_review.csv")
    try:
        atomic_write_text(args.output, grades_text)
        atomic_write_text(review_path, review_text)
    except OSError as err:
        print(f"alignkit grade: error: cannot write {args.output}: {err.strerror or err}", file=sys.stderr)
        return 2
    print(f"graded {len(rows)} learner(s) into {args.output} (text answers to review: {review_path}); "
          f"{failed} file(s) with errors")
    return 1 if failed else 0
