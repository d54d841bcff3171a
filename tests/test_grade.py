"""Instructor grading: a scripted learner graded end to end, and hostile submissions handled."""
from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest

from alignkit import cli, quiz
from alignkit.quiz import bank as quiz_bank
from test_quiz_widget import DEMO_POINTS, write_demo_bank

MAX_POINTS = sum(DEMO_POINTS.values())


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A pristine quizzes/ folder, its instructor key, and a learner home."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("ALIGNKIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ALIGNKIT_LEARNER", raising=False)
    write_demo_bank(tmp_path / "quizzes")
    assert cli.main(["quiz-key", str(tmp_path / "quizzes"), "-o", str(tmp_path / "instructor_key.json")]) == 0
    return tmp_path


def _learner_run(course: Path, learner: str, answers: list[tuple[str, object]]) -> Path:
    q = quiz.show("90_demo", mode="widget", quizzes_dir=course / "quizzes", responses=course / f"{learner}.jsonl")
    for qid, value in answers:
        q.answer(qid, value)
    return quiz.export(course / "subs" / f"{learner}.json", learner=learner, responses=course / f"{learner}.jsonl",
                       download=False)


def _grade(course: Path, *paths, extra=()) -> int:
    args = ["grade", *map(str, paths), "--key", str(course / "instructor_key.json"), "-o", str(course / "grades.csv")]
    return cli.main(args + list(extra))


def _rows(course: Path, name="grades.csv") -> dict[str, dict]:
    with open(course / name, newline="", encoding="utf-8") as f:
        return {row["learner"]: row for row in csv.DictReader(f)}


def test_scripted_learner_is_graded_to_the_expected_score(course, capsys):
    ada = _learner_run(course, "ada", [("pick", "a"), ("pick", "b"), ("many", ["a", "c"]), ("num", 0.251),
                                       ("essay", "Because the KL term anchors the policy.")])
    bob = _learner_run(course, "bob", [("pick", "c"), ("many", ["a"]), ("num", 0.3)])
    assert _grade(course, ada, bob) == 0
    rows = _rows(course)
    assert rows["ada"]["90_demo/pick"] == "1" and rows["ada"]["90_demo/many"] == "2" and rows["ada"]["90_demo/num"] == "3"
    assert rows["ada"]["90_demo/essay"] == "" and rows["ada"]["needs_review"] == "90_demo/essay"
    assert rows["ada"]["total"] == "6" and rows["ada"]["max"] == str(MAX_POINTS)
    assert rows["bob"]["total"] == "0" and rows["bob"]["needs_review"] == ""
    review = (course / "grades_review.csv").read_text()
    assert "Because the KL term anchors the policy." in review and "bob" not in review
    assert "graded 2 learner(s)" in capsys.readouterr().out


@pytest.mark.parametrize("policy, expected", [("best", "1"), ("first", "0"), ("last", "0")])
def test_attempt_policy(course, policy, expected):
    sub = _learner_run(course, "cy", [("pick", "a"), ("pick", "b"), ("pick", "d")])
    assert _grade(course, sub, extra=["--policy", policy]) == 0
    assert _rows(course)["cy"]["90_demo/pick"] == expected


def test_grader_ignores_self_check_flags_and_the_learners_bank(course):
    # The learner edits their own bank so that a wrong choice self-checks as correct...
    bank_path = course / "quizzes" / "90_demo.yaml"
    bank = quiz_bank.load_bank(bank_path)
    text = bank_path.read_text().replace(bank.question("pick").hashes[0], quiz_bank.hash_answer(bank.salt, "pick", "d"))
    bank_path.write_text(text)
    sub = _learner_run(course, "eve", [("pick", "d")])
    data = json.loads(sub.read_text())
    assert data["attempts"][0]["self_check"] is True
    data["attempts"].append({**data["attempts"][0], "attempt": 2, "self_check": True, "answer": "c"})
    sub.write_text(json.dumps(data))
    assert _grade(course, sub) == 0  # ...but the key made from the pristine checkout decides
    assert _rows(course)["eve"]["90_demo/pick"] == "0"


def _valid_submission(course: Path) -> dict:
    return json.loads(_learner_run(course, "template", [("pick", "b"), ("num", 0.25)]).read_text())


def _hostile_files(course: Path) -> dict[str, Path]:
    base = _valid_submission(course)
    folder = course / "hostile"
    folder.mkdir()
    files: dict[str, bytes] = {
        "huge.json": b'{"pad": "' + b"x" * (5_000_001) + b'"}',
        "truncated.json": json.dumps(base).encode()[:-40],
        "not_json.json": b"\x00\xffnot json at all",
        "attempts_string.json": json.dumps({**base, "attempts": "everything correct"}).encode(),
        "answer_object.json": json.dumps({**base, "attempts": [{**base["attempts"][0], "answer": {"$ne": None}}]}).encode(),
        "attempt_bool.json": json.dumps({**base, "attempts": [{**base["attempts"][0], "attempt": True}]}).encode(),
        "nan.json": json.dumps({**base, "attempts": [{**base["attempts"][1], "answer": float("nan")}]}).encode(),
        "wrong_type_for_question.json": json.dumps({**base, "attempts": [{**base["attempts"][1], "answer": "0.25"}]}).encode(),
        "deep.json": b"[" * 100_000 + b"]" * 100_000,
        "dup_keys.json": b'{"format": "alignkit-quiz-submission", "format": "x"}',
        "extra_field.json": json.dumps({**base, "run": "import os; os.system('rm -rf /')"}).encode(),
        "list_top.json": b"[1, 2, 3]",
        "huge_int.json": b'{"version": ' + b"9" * 5000 + b"}",
    }
    paths = {}
    for name, data in files.items():
        paths[name] = folder / name
        paths[name].write_bytes(data)
    return paths


def test_hostile_submissions_get_one_error_line_each_and_others_are_graded(course, capsys):
    good = _learner_run(course, "ada", [("pick", "b")])
    hostile = _hostile_files(course)
    missing = course / "does_not_exist.json"
    fifo = course / "pipe.json"
    os.mkfifo(fifo)  # opening a FIFO would hang the grader
    assert _grade(course, *hostile.values(), good, missing, fifo) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    error_lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == len(hostile) + 2
    for name in hostile:
        assert sum(name in line for line in error_lines) == 1, name
    assert any("over the 5000000-byte limit" in line for line in error_lines)
    assert any("not a regular file" in line for line in error_lines)
    assert set(_rows(course)) == {"ada"} and _rows(course)["ada"]["total"] == "1"


def test_path_tricks_inside_a_submission_are_never_opened(course, capsys, monkeypatch):
    base = _valid_submission(course)
    secret = course / "secret.txt"
    secret.write_text("do not read")
    tricks = [{**base["attempts"][0], "chapter": "../" * 8 + str(secret)},
              {**base["attempts"][0], "question": str(secret)},
              {**base["attempts"][0], "chapter": "90_demo/../../instructor_key"}]
    sub = course / "tricks.json"
    sub.write_text(json.dumps({**base, "learner": "../../../etc/passwd", "attempts": tricks}))
    opened = []
    real_open = open

    def spy(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy)
    assert _grade(course, sub) == 0
    assert not any("secret" in p or "passwd" in p for p in opened)
    err = capsys.readouterr().err
    assert err.count("warning: ") == 3 and "not in the key" in err
    monkeypatch.setattr("builtins.open", real_open)
    assert _rows(course)["../../../etc/passwd"]["total"] == "0"


def test_duplicate_learner_is_reported_and_the_newer_file_graded(course, capsys):
    old = _learner_run(course, "ada", [("pick", "a")])
    older = course / "subs" / "ada_old.json"
    shutil.copy(old, older)
    data = json.loads(old.read_text())
    data["created"] = "2999-01-01T00:00:00+00:00"
    data["attempts"][0]["answer"] = "b"
    newer = course / "subs" / "ada_new.json"
    newer.write_text(json.dumps(data))
    assert _grade(course, newer, older) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {older}: duplicate submission for learner 'ada'")
    assert _rows(course)["ada"]["90_demo/pick"] == "1"


def test_spreadsheet_formulas_in_learner_text_are_neutralised(course):
    base = _valid_submission(course)
    essay = {**base["attempts"][0], "question": "essay", "answer": "=HYPERLINK(\"http://x\")"}
    sub = course / "formula.json"
    sub.write_text(json.dumps({**base, "learner": "=cmd|' /C calc'!A0", "attempts": [essay]}))
    assert _grade(course, sub) == 0
    assert "'=cmd" in (course / "grades.csv").read_text()
    assert "'=HYPERLINK" in (course / "grades_review.csv").read_text()


def test_key_hmac_detects_tampering(course, monkeypatch, capsys):
    monkeypatch.setenv("KEY_SECRET", "correct horse battery staple")
    key = course / "instructor_key.json"
    assert cli.main(["quiz-key", str(course / "quizzes"), "-o", str(key), "--secret-env", "KEY_SECRET"]) == 0
    sub = _learner_run(course, "ada", [("pick", "b")])
    assert _grade(course, sub, extra=["--secret-env", "KEY_SECRET"]) == 0
    data = json.loads(key.read_text())
    data["chapters"]["90_demo"]["questions"][0]["hashes"] = ["0" * 64]
    key.write_text(json.dumps(data))
    assert _grade(course, sub, extra=["--secret-env", "KEY_SECRET"]) == 2
    assert "HMAC mismatch" in capsys.readouterr().err


def test_usage_errors_exit_2(course, capsys):
    sub = _learner_run(course, "ada", [("pick", "b")])
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["grade", str(sub), "-o", str(course / "g.csv")])  # no --key
    assert exit_info.value.code == 2
    (course / "bad_key.json").write_text("{}")
    assert cli.main(["grade", str(sub), "--key", str(course / "bad_key.json"), "-o", str(course / "g.csv")]) == 2
    assert "instructor key" in capsys.readouterr().err


def test_key_holds_hashes_not_plaintext(course):
    key = json.loads((course / "instructor_key.json").read_text())
    pick = key["chapters"]["90_demo"]["questions"][0]
    assert set(pick) == {"id", "type", "points", "hashes", "tolerance", "choices"}
    assert pick["hashes"] == list(quiz_bank.load_chapter("90_demo", course / "quizzes").question("pick").hashes)
