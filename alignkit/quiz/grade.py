"""`alignkit grade SUBMISSIONS... --key KEY -o grades.csv`: grade quiz submissions, never run them.

Each submission (written by `quiz.export()`) is read as data only: size-capped, strictly typed, and
re-scored from the learner's raw answers with the instructor key alone — a submission's own
`self_check` flags and the learner's bank are never trusted, and no path inside a submission is ever
opened. A bad file gets one `error:` line and a non-zero exit; the other files are still graded.

A learner may hand in several files (one export per chapter, one per Colab runtime): all of a
learner's files are merged, identical attempts counted once, and attempts ordered by the time each
was recorded. A question answered in more than one file, where neither file's attempts are the start of
the other's, is listed in the CSV's `duplicates` column; attempt sequences `quiz.export()` never writes
(numbering from above 1 or with gaps, times out of order or unreadable) are listed, with the file, in
`flags`. No file is ever preferred because of text the learner wrote (such as `created`). Nothing is
written when no file could be graded.

Per question the learner's first attempt counts (`--policy first`, the default: retries are for
learning), or their best or last (`--policy best|last`); the CSV reports the attempts per question.
Short-text answers score nothing automatically: they are listed in `needs_review` and in the review CSV.
Predictions (`quiz.predict`, attempts marked `"prediction": true`) are never graded: the CSV's last
column counts the prediction questions a learner answered. The mark is not trusted either: an attempt at a
question of the key is graded whatever it says.
Exit code: 0 all files graded, 1 some file had an error, 2 usage error (bad key, no submissions,
an output that would overwrite an input, an unwritable output).
"""
from __future__ import annotations

import argparse
import csv
import datetime
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
from alignkit.infra.errors import AlignkitError, AnswerTypeError
from alignkit.quiz.widget import SUBMISSION_FORMAT, SUBMISSION_VERSION
from alignkit.infra.storage import atomic_write_text

__all__ = ["MAX_SUBMISSION_BYTES", "POLICIES", "SubmissionError", "read_submission", "score_attempts", "grade_learner",
           "add_arguments", "run"]

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
    if not isinstance(raw, dict) or set(raw) - {"prediction"} != _ATTEMPT_KEYS:
        raise SubmissionError(f"{where}: must be an object with exactly the fields {sorted(_ATTEMPT_KEYS)} "
                              "(and optionally prediction: true)")
    if raw.get("prediction", True) is not True:
        raise SubmissionError(f"{where}: prediction, when present, must be true")
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
    if not obj["learner"].strip():
        raise SubmissionError("the learner id is blank; ask the learner to export again with quiz.export(learner=...)")
    shas = {k: v["bank_sha256"] for k, v in chapters.items()}
    return obj["learner"].strip(), obj["created"], shas, checked


def _repeated_attempt_numbers(attempts: list[dict]) -> list[str]:
    """Questions whose attempt numbers repeat: two kernels answering at once, or a damaged log line,
    in a file exported before export() renumbered attempts. Not an error: file order is the truth."""
    seen, repeated = set(), []
    for a in attempts:
        ident = (a["chapter"], a["question"], a["attempt"])
        if ident in seen:
            repeated.append(f"{_printable(a['chapter'])}/{_printable(a['question'])}")
        seen.add(ident)
    return sorted(set(repeated))


def _sequence_flags(attempts: list[dict]) -> list[str]:
    """Attempt sequences that `quiz.export()` cannot write: numbering that starts above 1 or skips (wrong
    attempts deleted by hand), times that go backwards while the numbers go up, or unreadable times.
    Repeated numbers are older exports' known quirk (see _repeated_attempt_numbers), not flagged here."""
    per_question: dict[tuple, list[dict]] = defaultdict(list)
    for a in attempts:
        per_question[(a["chapter"], a["question"])].append(a)
    flags = []
    for (chapter, question), seq in per_question.items():
        column = f"{_printable(chapter)}/{_printable(question)}"
        if seq[0]["attempt"] > 1:
            flags.append(f"{column}: attempts start at {seq[0]['attempt']}, not 1 (earlier attempts removed?)")
        for before, after in zip(seq, seq[1:]):
            if after["attempt"] not in (before["attempt"], before["attempt"] + 1):
                flags.append(f"{column}: attempt {before['attempt']} is followed by attempt {after['attempt']}")
                break
        times = [_when(a["time"]) for a in seq]
        if any(math.isinf(t) for t in times):
            bad = next(a["time"] for a, t in zip(seq, times) if math.isinf(t))
            flags.append(f"{column}: time {_printable(bad, 40)!r} is not a recorded time")
        elif any(later < earlier for earlier, later in zip(times, times[1:])):
            flags.append(f"{column}: a later attempt has an earlier time")
    return flags


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
    return {"learner": learner, "created": created, "bank_sha256": shas, "attempts": attempts,
            "repeated": _repeated_attempt_numbers(attempts), "flags": _sequence_flags(attempts)}


def _wrong_type(question: quiz_bank.Question, where: str, warn, bank_changed: bool) -> None:
    """An answer of the wrong JSON type: a warning when the bank changed the question since (only that
    question is affected), else a malformed file."""
    if not bank_changed:
        raise SubmissionError(f"{where}: a {question.type} question's answer must be {_JSON_TYPE[question.type][1]}")
    warn(f"{where}: scored 0: the question changed (now {question.type}) since this answer was given with "
         "another bank version; check it by hand")


def _score(question: quiz_bank.Question, salt: str, answer: Any, where: str, warn, bank_changed: bool) -> float:
    if not isinstance(answer, _JSON_TYPE[question.type][0]):
        _wrong_type(question, where, warn, bank_changed)
        return 0.0
    try:
        normalized = quiz_bank.normalize_answer(question, answer)
    except AnswerTypeError as err:  # e.g. a choice id the key does not know: wrong, not malformed
        warn(f"{where}: scored 0 ({err})")
        return 0.0
    return question.points if quiz_bank.is_correct(question, salt, normalized) else 0.0


def _changed_banks(sub: dict, key: dict[str, dict], warn) -> set[str]:
    changed = set()
    for chapter, sha in sub["bank_sha256"].items():
        if chapter in key and sha and key[chapter]["bank_sha256"] and sha != key[chapter]["bank_sha256"]:
            warn(f"answered a different version of the {chapter} bank than the key's; check its choice ids")
            changed.add(chapter)
    return changed


def score_attempts(sub: dict, key: dict[str, dict], warn) -> list[dict]:
    """Every attempt of one file that the key knows, scored on its own (None for short text), in file order.

    Scoring each attempt before merging files keeps a malformed file's error with that file."""
    questions = {(ch, q.id): q for ch, entry in key.items() for q in entry["questions"]}
    changed, ignored, flagged, scored = _changed_banks(sub, key, warn), set(), set(), []
    for position, a in enumerate(sub["attempts"]):
        column = f"{a['chapter']}/{a['question']}"
        question = questions.get((a["chapter"], a["question"]))
        if question is None and a.get("prediction") is True:  # a prediction question: never graded
            scored.append({"column": column, "type": "prediction", "score": None, "answer": a["answer"],
                           "attempt": a["attempt"], "time": a["time"], "position": position})
            continue
        if question is None:
            if column not in ignored:
                warn(f"ignored {_printable(column)}: not in the key")
            ignored.add(column)
            continue
        if a.get("prediction") is True and column not in flagged:  # the mark never exempts a graded answer
            warn(f"{_printable(column)} is marked as a prediction but is a graded question of the key; graded")
            flagged.add(column)
        if question.type == "text":
            if not isinstance(a["answer"], str):  # a list in the review CSV would break it for everyone
                _wrong_type(question, column, warn, a["chapter"] in changed)
                continue
            score = None
        else:
            score = _score(question, key[a["chapter"]]["salt"], a["answer"], column, warn, a["chapter"] in changed)
        scored.append({"column": column, "type": question.type, "score": score, "answer": a["answer"],
                       "attempt": a["attempt"], "time": a["time"], "position": position})
    return scored


def _when(text: str) -> float:
    """A recorded time as a UTC timestamp for ordering attempts; unreadable times sort last."""
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return math.inf
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def _merge(files: list[list[dict]]) -> dict[str, list[dict]]:
    """One learner's scored attempts from all their files, per column, oldest first; an attempt that
    appears in several files (a per-chapter export and a full one of the same runtime) counts once."""
    merged: dict[tuple, dict] = {}
    for index, attempts in enumerate(files):
        for a in attempts:
            ident = (a["column"], a["attempt"], a["time"], json.dumps(a["answer"], sort_keys=True))
            merged.setdefault(ident, {**a, "file": index})
    by_column: dict[str, list[dict]] = defaultdict(list)
    for a in sorted(merged.values(), key=lambda a: (_when(a["time"]), a["file"], a["position"])):
        by_column[a["column"]].append(a)
    return by_column


def _several_files(files: list[list[dict]]) -> set[str]:
    """Columns answered in more than one file where neither file's attempts are a prefix of the other's.

    One runtime's later export only extends its own sequence (a prefix); two fresh runtimes, or someone
    else's file under this learner's id, are independent sequences, whatever their attempt numbers."""
    sequences: dict[str, list[list]] = defaultdict(list)
    for attempts in files:
        per_column: dict[str, list] = defaultdict(list)
        for a in attempts:
            per_column[a["column"]].append((a["attempt"], a["time"], json.dumps(a["answer"], sort_keys=True)))
        for column, seq in per_column.items():
            sequences[column].append(seq)
    several = set()
    for column, seqs in sequences.items():
        for i, first in enumerate(seqs):
            for second in seqs[i + 1:]:
                shorter, longer = sorted((first, second), key=len)
                if longer[:len(shorter)] != shorter:
                    several.add(column)
    return several


def grade_learner(files: list[list[dict]], policy: str) -> dict:
    """Points, text answers to review, attempt counts, the columns answered in several files and the
    prediction questions answered (never graded)."""
    points, review, counts, duplicates, predictions = {}, {}, {}, [], []
    several = _several_files(files)
    for column, attempts in sorted(_merge(files).items()):
        if attempts[0]["type"] == "prediction":
            predictions.append(column)
            continue
        counts[column] = len(attempts)
        if column in several:
            duplicates.append(column)
        if attempts[0]["type"] == "text":
            review[column] = attempts[-1]["answer"]
            continue
        scores = [a["score"] for a in attempts]
        points[column] = {"best": max(scores), "first": scores[0], "last": scores[-1]}[policy]
    return {"points": points, "review": review, "attempts": counts, "duplicates": duplicates, "files": len(files),
            "predictions": predictions}


def _csv_cell(value: str) -> str:
    # A spreadsheet runs a cell starting with = + - @ as a formula: quote it so it stays text.
    value = value.replace("\r", " ")
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t") else value


def _grades_csv(rows: dict[str, dict], key: dict[str, dict]) -> tuple[str, str]:
    columns = [f"{ch}/{q.id}" for ch, entry in key.items() for q in entry["questions"]]
    max_points = sum(q.points for entry in key.values() for q in entry["questions"])
    grades, review = io.StringIO(), io.StringIO()
    g, r = csv.writer(grades), csv.writer(review)
    g.writerow(["learner", *(name for c in columns for name in (c, f"{c} attempts")), "total", "max",
                "needs_review", "files", "duplicates", "flags", "predictions"])
    r.writerow(["learner", "question", "text_answer"])
    for learner in sorted(rows):
        row = rows[learner]
        cells = []
        for c in columns:
            cells += ["" if c in row["review"] else f"{row['points'].get(c, 0.0):g}", str(row["attempts"].get(c, 0))]
        g.writerow([_csv_cell(learner), *cells, f"{sum(row['points'].values()):g}", f"{max_points:g}",
                    ";".join(sorted(row["review"])), str(row["files"]), ";".join(row["duplicates"]),
                    _csv_cell("; ".join(row.get("flags", []))), str(len(row["predictions"]))])
        for column, text in sorted(row["review"].items()):
            r.writerow([_csv_cell(learner), column, _csv_cell(text)])
    return grades.getvalue(), review.getvalue()


def _is_submission_name(path: Path) -> bool:
    return path.suffix.lower() == ".json" and not path.name.startswith(".")


def _expand(paths: list[str], skip: set[str]) -> list[Path]:
    """Files as given, and folders searched recursively for *.json in any case (learners' subfolders,
    .JSON from some systems); the key is skipped when it sits among the submissions."""
    files = []
    for p in map(Path, paths):
        found = sorted(f for f in p.rglob("*") if _is_submission_name(f) and not f.is_dir()) if p.is_dir() else [p]
        files.extend(f for f in found if os.path.realpath(f) not in skip)
    return files


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", nargs="+", help="submission files, or folders searched for *.json submissions")
    parser.add_argument("--key", required=True, help="the instructor key from `alignkit quiz-key`")
    parser.add_argument("-o", "--output", required=True, help="grades CSV to write")
    parser.add_argument("--review", help="CSV of short-text answers to review (default: OUTPUT with _review)")
    parser.add_argument("--policy", choices=POLICIES, default="first",
                        help="which attempt counts (default: first; retries in the widget are for learning)")
    parser.add_argument("--secret-env", metavar="VAR", help="verify the key's HMAC with the secret in this variable")
    parser.add_argument("--max-bytes", type=int, default=MAX_SUBMISSION_BYTES, help="size limit per submission")


def _load_key(args: argparse.Namespace) -> dict[str, dict]:
    secret = None
    if args.secret_env:
        secret = os.environ.get(args.secret_env)
        if not secret:
            raise AlignkitError(f"environment variable {args.secret_env} is empty; export the key's secret first.")
    return quiz_key.load_key(args.key, secret)


def _review_path(args: argparse.Namespace) -> Path:
    return Path(args.review) if args.review else Path(args.output).with_name(Path(args.output).stem + "_review.csv")


def _check_outputs(outputs: list[Path], inputs: list[Path]) -> None:
    """Refuse an output that is an input (the key, a submission) or the other output: grading must
    never destroy what it grades."""
    taken = {os.path.realpath(p): p for p in inputs}
    if os.path.realpath(outputs[0]) == os.path.realpath(outputs[1]):
        raise AlignkitError(f"-o and --review are the same file {outputs[0]}; give two different paths.")
    for out in outputs:
        if os.path.realpath(out) in taken:
            raise AlignkitError(f"refusing to overwrite {out}: it is an input (the key or a submission); "
                                "write the grades somewhere else.")


def _read_files(files: list[Path], key: dict, max_bytes: int) -> tuple[dict[str, list], int]:
    """Each readable file's scored attempts, grouped by learner (files in path order); errors printed."""
    by_learner: dict[str, list] = defaultdict(list)
    failed = 0
    for path in files:
        shown = _printable(str(path), 300)
        notes: list[str] = []
        try:
            sub = read_submission(path, max_bytes)
            scored = score_attempts(sub, key, notes.append)
        except SubmissionError as err:
            failed += 1
            print(f"error: {shown}: {_printable(str(err), 300)}", file=sys.stderr)
            continue
        except Exception as err:  # noqa: BLE001 - one hostile file must not stop the others
            failed += 1
            print(f"error: {shown}: cannot be graded ({type(err).__name__})", file=sys.stderr)
            continue
        if sub["repeated"]:
            notes.append(f"attempt numbers repeat for {', '.join(sub['repeated'][:5])}; graded in file order")
        notes += [f"flagged: {flag}; quiz.export() never writes this" for flag in sub["flags"]]
        _print_notes(shown, list(dict.fromkeys(notes)))
        by_learner[sub["learner"]].append((path, scored, sub["flags"]))
    return by_learner, failed


def _print_notes(shown: str, notes: list[str]) -> None:
    for note in notes[:20]:
        print(f"warning: {shown}: {_printable(note, 300)}", file=sys.stderr)
    if len(notes) > 20:
        print(f"warning: {shown}: ... and {len(notes) - 20} more warnings", file=sys.stderr)


def _grade_learners(by_learner: dict[str, list], policy: str) -> dict[str, dict]:
    rows = {}
    for learner, files in by_learner.items():
        rows[learner] = grade_learner([scored for _, scored, _ in files], policy)
        rows[learner]["flags"] = [f"{_printable(Path(p).name, 80)}: {flag}" for p, _, flags in files for flag in flags]
        if rows[learner]["duplicates"]:
            names = ", ".join(_printable(str(p), 120) for p, _, _ in files)
            print(f"warning: learner {_printable(learner)!r}: {', '.join(rows[learner]['duplicates'][:5])} answered in "
                  f"more than one file ({names}); attempts ordered by their recorded time, see the duplicates "
                  "column", file=sys.stderr)
    return rows


def run(args: argparse.Namespace) -> int:
    try:
        if args.max_bytes < 1:
            raise AlignkitError(f"--max-bytes must be a positive number of bytes, not {args.max_bytes}.")
        key = _load_key(args)
        missing = [p for p in args.submissions if not os.path.exists(p)]
        if len(missing) == len(args.submissions):  # a mistyped folder: a usage error, not "graded 0 learners"
            raise AlignkitError(f"no such file or folder: {', '.join(_printable(p, 200) for p in missing)}; check the "
                                "path of the submissions (nothing was graded, no output written).")
        files = _expand(args.submissions, {os.path.realpath(args.key)})
        if not files:
            raise AlignkitError(f"no submission files (*.json) found in {', '.join(args.submissions)}; "
                                "pass the files or the folder the learners' exports were collected in.")
        review_path = _review_path(args)
        _check_outputs([Path(args.output), review_path], [Path(args.key), *files, *map(Path, args.submissions)])
    except AlignkitError as err:
        print(f"alignkit grade: error: {err}", file=sys.stderr)
        return 2
    by_learner, failed = _read_files(files, key, args.max_bytes)
    rows = _grade_learners(by_learner, args.policy)
    if not rows:  # never replace an earlier grades file with an empty one
        print(f"alignkit grade: error: none of the {len(files)} file(s) could be graded (see the errors above); "
              f"{args.output} was not written.", file=sys.stderr)
        return 1
    grades_text, review_text = _grades_csv(rows, key)
    try:
        atomic_write_text(args.output, grades_text)
        atomic_write_text(review_path, review_text)
    except OSError as err:
        print(f"alignkit grade: error: cannot write {args.output}: {err.strerror or err}", file=sys.stderr)
        return 2
    print(f"graded {len(rows)} learner(s) from {len(files)} file(s) into {args.output} (policy {args.policy}; "
          f"text answers to review: {review_path}); {failed} file(s) with errors")
    flagged = sorted(learner for learner, row in rows.items() if row["duplicates"] or row["flags"])
    if flagged:
        print(f"flagged {len(flagged)} learner(s) for a look by hand ({', '.join(_printable(learner, 60) for learner in flagged[:10])}"
              f"{', ...' if len(flagged) > 10 else ''}): see the duplicates and flags columns of {args.output}")
    return 1 if failed else 0
