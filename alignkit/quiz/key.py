"""`alignkit quiz-key`: the instructor key, and the authoring helper that hashes one answer.

    alignkit quiz-key quizzes/ -o instructor_key.json [--secret-env VAR]
    alignkit quiz-key --hash quizzes/06_dpo.yaml loss_at_reference 0.25

The key snapshots, from a pristine checkout, each question's type, points, choice ids, tolerance and
accepted hashes, with each bank's salt. The grader trusts only this file: a learner who edits their
own bank cannot change what counts as correct. With --secret-env the key also carries an HMAC under
an instructor-chosen secret, so a key edited afterwards is detected at grading time. Keep the key
out of the repository and out of learners' hands.
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
from pathlib import Path
from typing import Any

from alignkit.quiz import bank as quiz_bank
from alignkit.infra.errors import AlignkitError
from alignkit.infra.storage import atomic_write_json

__all__ = ["KEY_FORMAT", "build_key", "sign_key", "load_key", "add_arguments", "run"]

KEY_FORMAT = "alignkit-instructor-key"
KEY_VERSION = 1
MAX_KEY_BYTES = 20_000_000


def build_key(banks: dict[str, quiz_bank.Bank]) -> dict:
    """The key's body for validated banks (no HMAC); draft banks are left out."""
    chapters = {}
    for chapter, bank in banks.items():
        if bank.draft:  # its chapter does not exist yet: nobody can answer it
            continue
        questions = [{"id": q.id, "type": q.type, "points": q.points, "hashes": list(q.hashes),
                      "tolerance": q.tolerance, "choices": list(q.choice_ids)} for q in bank.questions]
        chapters[chapter] = {"salt": bank.salt, "bank_sha256": bank.sha256, "questions": questions}
    return {"format": KEY_FORMAT, "version": KEY_VERSION, "chapters": chapters}


def _digest(body: dict, secret: str) -> str:
    canonical = json.dumps({k: body[k] for k in ("format", "version", "chapters")},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(secret.encode("utf-8"), canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_key(body: dict, secret: str) -> dict:
    """The key with an HMAC-SHA256 of its content under `secret`."""
    return {**body, "hmac_sha256": _digest(body, secret)}


def _bad(path: Path, problem: str) -> AlignkitError:
    return AlignkitError(f"instructor key {path}: {problem}; regenerate it with `alignkit quiz-key quizzes/ -o KEY`.")


def _key_question(raw: Any, path: Path, chapter: str) -> quiz_bank.Question:
    # As strict as the bank schema: a hand-edited key with NaN or negative points, or a garbled hash,
    # would otherwise grade silently wrong (NaN totals, negative scores, nobody ever correct).
    where = f"question {chapter}/{raw.get('id') if isinstance(raw, dict) else '?'}"
    if not (isinstance(raw, dict) and isinstance(raw.get("id"), str) and raw.get("type") in quiz_bank.QUESTION_TYPES):
        raise _bad(path, f"a question of {chapter} is malformed (needs an id and a type)")
    points = raw.get("points")
    if not quiz_bank._number(points) or not 0 < points <= 100:
        raise _bad(path, f"{where} has points {points!r}; points must be a number in (0, 100]")
    hashes, choices = raw.get("hashes"), raw.get("choices")
    if not isinstance(hashes, list) or not all(isinstance(h, str) and quiz_bank._HASH.fullmatch(h) for h in hashes):
        raise _bad(path, f"{where} has malformed hashes (each must be 64 lowercase hex characters)")
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices) or len(set(choices)) != len(choices):
        raise _bad(path, f"{where} has malformed choices (a list of distinct choice ids)")
    tolerance = raw.get("tolerance")
    if raw["type"] == "numeric" and (not quiz_bank._number(tolerance) or tolerance <= 0):
        raise _bad(path, f"{where} has tolerance {tolerance!r}; a numeric question needs a positive finite tolerance")
    return quiz_bank.Question(
        id=raw["id"], type=raw["type"], prompt="", points=float(points), section="", explanation="",
        choices=tuple(quiz_bank.Choice(c, "") for c in choices), hashes=tuple(hashes),
        tolerance=float(tolerance) if raw["type"] == "numeric" else None)


def _key_chapter(chapter: Any, entry: Any, path: Path) -> dict:
    if not isinstance(chapter, str) or not quiz_bank._ID.fullmatch(chapter):
        raise _bad(path, f"chapter name {str(chapter)[:60]!r} is malformed")
    if (not isinstance(entry, dict) or not isinstance(entry.get("salt"), str) or not isinstance(entry.get("questions"), list)
            or not isinstance(entry.get("bank_sha256", ""), str)):
        raise _bad(path, f"chapter {chapter} is malformed")
    questions = [_key_question(q, path, chapter) for q in entry["questions"]]
    ids = [q.id for q in questions]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise _bad(path, f"chapter {chapter} lists question(s) {', '.join(repeated)} twice; ids must be unique")
    for question in questions:
        if not _salt_fits(entry["salt"], question):
            raise _bad(path, f"chapter {chapter}: no answer to {question.id} matches its accepted hashes under the "
                             "chapter's salt, so nobody could score on it (the salt or the hashes were edited)")
    return {"salt": entry["salt"], "bank_sha256": entry.get("bank_sha256", ""), "questions": questions}


def _salt_fits(salt: str, question: quiz_bank.Question) -> bool:
    """Whether some answer of a choice question hashes to an accepted hash under `salt` (a wrong salt in an
    unsigned key would silently zero the chapter). Numeric and text questions cannot be checked this way."""
    ids = [c.id for c in question.choices]
    if not question.hashes or question.type not in ("single", "multiple") or len(ids) > 12:
        return True
    if question.type == "single":
        answers = ids
    else:
        answers = [",".join(sorted(c for bit, c in enumerate(ids) if mask >> bit & 1)) for mask in range(1, 1 << len(ids))]
    accepted = set(question.hashes)
    return any(quiz_bank.hash_answer(salt, question.id, answer) in accepted for answer in answers)


def load_key(path: str | os.PathLike, secret: str | None = None) -> dict[str, dict]:
    """The key as {chapter: {"salt", "bank_sha256", "questions": [Question, ...]}}.

    With `secret`, the HMAC must be present and match; AlignkitError says what is wrong.
    """
    path = Path(path)
    try:
        if path.stat().st_size > MAX_KEY_BYTES:
            raise _bad(path, "file is implausibly large")
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise _bad(path, f"cannot read it ({str(err)[:200]})") from None
    except RecursionError:
        raise _bad(path, "cannot read it (nested too deeply to be a key)") from None
    if not isinstance(body, dict) or body.get("format") != KEY_FORMAT or body.get("version") != KEY_VERSION:
        raise _bad(path, f"not an {KEY_FORMAT} file of version {KEY_VERSION}")
    if secret is not None:
        if not isinstance(body.get("hmac_sha256"), str):
            raise _bad(path, "it carries no HMAC but a secret was given")
        if not hmac.compare_digest(body["hmac_sha256"], _digest(body, secret)):
            raise _bad(path, "HMAC mismatch: the key was changed after it was made, or the secret is wrong")
    chapters = body.get("chapters")
    if not isinstance(chapters, dict) or not chapters:
        raise _bad(path, "it has no chapters")
    return {chapter: _key_chapter(chapter, entry, path) for chapter, entry in chapters.items()}


def _print_hashes(bank_path: str, question_id: str, answer: str) -> int:
    bank = quiz_bank.load_bank(bank_path, require_hashes=False)
    question = bank.question(question_id)
    if answer == "-":  # keeps the plaintext out of shell history
        answer = sys.stdin.readline().strip()
    hashes = quiz_bank.answer_hashes(bank.salt, question, answer)
    print(f"# {bank.path}, question {question.id}: paste under the question (the plaintext stays out of the repo)")
    print("    hashes:")
    for h in hashes:
        print(f"      - {h}")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("quizzes", nargs="?", help="folder with the *.yaml banks (a pristine checkout)")
    parser.add_argument("-o", "--output", help="where to write the instructor key (never commit it)")
    parser.add_argument("--secret-env", metavar="VAR",
                        help="name of an environment variable holding a secret; the key gets an HMAC under it")
    parser.add_argument("--hash", nargs=3, metavar=("BANK", "QUESTION_ID", "ANSWER"),
                        help="authoring: print the hashes for ANSWER (choice id, 'a,c', or a number; '-' reads stdin)")


def run(args: argparse.Namespace) -> int:
    try:
        if args.hash:
            return _print_hashes(*args.hash)
        if not args.quizzes or not args.output:
            print("alignkit quiz-key: give QUIZZES and -o KEY (or --hash BANK QUESTION_ID ANSWER)", file=sys.stderr)
            return 2
        every = quiz_bank.load_all(args.quizzes)
        # A draft bank's chapter does not exist yet: nobody can answer it, so it must not count in any maximum.
        banks = {chapter: bank for chapter, bank in every.items() if not bank.draft}
        if not banks:
            raise AlignkitError(f"no live *.yaml banks in {args.quizzes}; pass the course's quizzes/ folder.")
        body = build_key(banks)
        if args.secret_env:
            secret = os.environ.get(args.secret_env)
            if not secret:
                raise AlignkitError(f"environment variable {args.secret_env} is empty; export the secret first.")
            body = sign_key(body, secret)
        atomic_write_json(args.output, body)
    except AlignkitError as err:
        print(f"alignkit quiz-key: error: {err}", file=sys.stderr)
        return 2
    count = sum(len(b.questions) for b in banks.values())
    drafts = sorted(set(every) - set(banks))
    left_out = f" Left out draft bank(s): {', '.join(drafts)}." if drafts else ""
    print(f"wrote {args.output}: {len(banks)} chapters, {count} questions.{left_out} Do not commit it or share it "
          "with learners.")
    return 0
