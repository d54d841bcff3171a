"""Instructor grading: a scripted learner graded end to end, and hostile submissions handled."""
from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

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
    # ada's first try at `pick` was wrong: the first attempt counts by default, the retry is for learning.
    assert rows["ada"]["90_demo/pick"] == "0" and rows["ada"]["90_demo/many"] == "2" and rows["ada"]["90_demo/num"] == "3"
    assert rows["ada"]["90_demo/pick attempts"] == "2" and rows["ada"]["90_demo/num attempts"] == "1"
    assert rows["ada"]["90_demo/essay"] == "" and rows["ada"]["needs_review"] == "90_demo/essay"
    assert rows["ada"]["total"] == "5" and rows["ada"]["max"] == str(MAX_POINTS)
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


# --- fair grading ------------------------------------------------------------------------------

@pytest.fixture
def course2(tmp_path, monkeypatch):
    """Two chapters (90_demo, 91_demo), their key, and no learner home yet."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("ALIGNKIT_LEARNER", raising=False)
    monkeypatch.setenv("ALIGNKIT_HOME", str(tmp_path / "home"))
    for chapter in ("90_demo", "91_demo"):
        write_demo_bank(tmp_path / "quizzes", chapter=chapter)
    assert cli.main(["quiz-key", str(tmp_path / "quizzes"), "-o", str(tmp_path / "instructor_key.json")]) == 0
    return tmp_path


def _runtime(course: Path, home: Path, monkeypatch, chapter: str, answers, export_as: str | None = None) -> Path | None:
    """One fresh runtime (its own ALIGNKIT_HOME): answer one chapter, optionally export just that chapter."""
    monkeypatch.setenv("ALIGNKIT_HOME", str(home))
    q = quiz.show(chapter, mode="widget", quizzes_dir=course / "quizzes")
    for qid, value in answers:
        q.answer(qid, value)
    if export_as is None:
        return None
    return quiz.export(course / "subs" / export_as, chapters=chapter, learner="ada", download=False)


def test_per_chapter_exports_of_one_learner_are_merged(course2, monkeypatch, capsys):
    # Regression: the newest file used to replace the others, scoring every earlier chapter 0.
    home = course2 / "home"
    first = _runtime(course2, home, monkeypatch, "90_demo", [("pick", "b")], "ada_90.json")
    second = _runtime(course2, home, monkeypatch, "91_demo", [("num", 0.25)], "ada_91.json")
    assert _grade(course2, first, second) == 0
    row = _rows(course2)["ada"]
    assert row["90_demo/pick"] == "1" and row["91_demo/num"] == "3" and row["total"] == "4"
    assert row["files"] == "2" and row["duplicates"] == ""
    assert "error" not in capsys.readouterr().err


def test_scripted_learner_on_three_runtimes_is_graded_to_the_expected_total(course2, monkeypatch):
    # Three Colab runtimes, each with a fresh ALIGNKIT_HOME; 90_demo is answered in two of them.
    subs = []
    subs.append(_runtime(course2, course2 / "rt1", monkeypatch, "90_demo",
                         [("pick", "b"), ("many", ["a"]), ("essay", "My text.")], "ada_rt1.json"))
    subs.append(_runtime(course2, course2 / "rt2", monkeypatch, "91_demo",
                         [("pick", "a"), ("pick", "b"), ("many", ["a", "c"]), ("num", 0.25)], "ada_rt2.json"))
    # Runtime 3 redoes 90_demo: its attempts are later, so the first attempts (runtime 1) still count.
    subs.append(_runtime(course2, course2 / "rt3", monkeypatch, "90_demo",
                         [("many", ["a", "c"]), ("num", 0.25)], "ada_rt3.json"))
    # ...and the learner also hands in a full export of runtime 2, which repeats its attempts exactly.
    monkeypatch.setenv("ALIGNKIT_HOME", str(course2 / "rt2"))
    subs.append(quiz.export(course2 / "subs" / "nested" / "ada_all.JSON", learner="ada", download=False))
    assert _grade(course2, course2 / "subs") == 0
    row = _rows(course2)["ada"]
    expected = {"90_demo/pick": "1", "90_demo/many": "0", "90_demo/num": "3", "90_demo/essay": "",
                "91_demo/pick": "0", "91_demo/many": "2", "91_demo/num": "3", "91_demo/essay": "0"}
    assert {k: row[k] for k in expected} == expected
    assert row["total"] == "9" and row["max"] == str(2 * MAX_POINTS) and row["needs_review"] == "90_demo/essay"
    assert row["files"] == "4" and row["duplicates"] == "90_demo/many"
    assert row["90_demo/many attempts"] == "2" and row["91_demo/pick attempts"] == "2"


def _log(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def test_export_renumbers_repeated_attempts_and_the_grader_still_grades(course, capsys):
    # Regression: two kernels answering at once, or a damaged line, repeat attempt numbers.
    rec = {"chapter": "90_demo", "question": "pick", "self_check": None, "bank_sha256": ""}
    log = course / "home" / "responses.jsonl"
    _log(log, [{**rec, "answer": "a", "attempt": 1, "time": "2026-01-01T00:00:01+00:00"},
               {**rec, "answer": "b", "attempt": 1, "time": "2026-01-01T00:00:02+00:00"}])
    with open(log, "a", encoding="utf-8") as f:
        f.write("{damaged\n" + json.dumps({**rec, "answer": "c", "attempt": 2, "time": "2026-01-01T00:00:03+00:00"}) + "\n")
    with pytest.warns(UserWarning):
        sub = quiz.export(course / "subs" / "ada.json", learner="ada", download=False)
    attempts = json.loads(sub.read_text())["attempts"]
    assert [(a["answer"], a["attempt"]) for a in attempts] == [("a", 1), ("b", 2), ("c", 3)]
    # A file written by an older alignkit still has the repeats: graded in file order, with a warning.
    data = json.loads(sub.read_text())
    for a in data["attempts"]:
        a["attempt"] = 1
    sub.write_text(json.dumps(data))
    assert _grade(course, sub, extra=["--policy", "last"]) == 0
    assert "repeat" in capsys.readouterr().err and _rows(course)["ada"]["90_demo/pick"] == "0"


def test_duplicate_files_are_merged_and_flagged_never_chosen_by_created(course, capsys):
    # Regression: a classmate's file claiming the same learner with created "~~~~" used to replace the real one.
    real = _learner_run(course, "ada", [("pick", "b")])
    forged = json.loads(real.read_text())
    forged["attempts"][0].update(answer="a", time="2999-01-01T00:00:00+00:00")
    for created in ("~~~~", "0000"):
        other = course / "subs" / "zz_classmate.json"
        other.write_text(json.dumps({**forged, "created": created}))
        assert _grade(course, real, other) == 0
        row = _rows(course)["ada"]
        assert row["90_demo/pick"] == "1" and row["duplicates"] == "90_demo/pick" and row["files"] == "2"
    assert "answered in more than one file" in capsys.readouterr().err


def test_submission_folders_are_searched_recursively_and_case_insensitively(course, capsys):
    # Regression: learner subfolders and .JSON files were skipped ("graded 0 learner(s)", exit 0).
    sub = _learner_run(course, "ada", [("pick", "b")])
    nested = course / "inbox" / "ada" / "SUBMISSION.JSON"
    nested.parent.mkdir(parents=True)
    shutil.copy(sub, nested)
    assert _grade(course, course / "inbox") == 0
    assert _rows(course)["ada"]["total"] == "1"
    (course / "empty").mkdir()
    assert _grade(course, course / "empty") == 2
    assert "error: no submission files" in capsys.readouterr().err


def test_first_attempt_counts_by_default_and_attempts_are_reported(course):
    # Regression: under the old default (best), listing every choice as attempts earned full marks.
    sub = _learner_run(course, "mallory", [("pick", c) for c in "abcd"] + [("num", 0.25)])
    assert _grade(course, sub) == 0
    row = _rows(course)["mallory"]
    assert row["90_demo/pick"] == "0" and row["90_demo/pick attempts"] == "4"
    assert row["90_demo/num"] == "3" and row["90_demo/num attempts"] == "1" and row["90_demo/many attempts"] == "0"


def test_a_question_whose_type_changed_is_scored_alone_with_a_warning(course, capsys):
    # Regression: the bank changed `num` from numeric to single after the learner answered.
    sub = _learner_run(course, "ada", [("pick", "b"), ("num", 0.25)])
    bank = course / "quizzes" / "90_demo.yaml"
    text = bank.read_text().replace("type: numeric", "type: single").replace("tolerance: 0.01",
                                                                         "choices: [{id: a, text: x}, {id: b, text: y}]")
    raw = yaml.safe_load(text)
    raw["questions"][2]["hashes"] = [quiz_bank.hash_answer(raw["salt"], "num", "a")]
    bank.write_text(yaml.safe_dump(raw))
    assert cli.main(["quiz-key", str(course / "quizzes"), "-o", str(course / "instructor_key.json")]) == 0
    assert _grade(course, sub) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "90_demo/num" in err and "changed" in err
    row = _rows(course)["ada"]
    assert row["90_demo/pick"] == "1" and row["90_demo/num"] == "0"


def test_outputs_never_overwrite_an_input(course, capsys):
    # Regression: -o or --review could overwrite the key or a submission.
    sub = _learner_run(course, "ada", [("pick", "b")])
    key = course / "instructor_key.json"
    before = {p: p.read_bytes() for p in (sub, key)}
    for extra in (["-o", str(key)], ["-o", str(sub)], ["-o", str(course / "g.csv"), "--review", str(key)],
                  ["-o", str(course / "g.csv"), "--review", str(sub)], ["-o", str(course / "g.csv"), "--review", str(course / "g.csv")]):
        assert cli.main(["grade", str(course / "subs"), "--key", str(key), *extra]) == 2
        assert "error:" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in (sub, key)} == before


@pytest.mark.parametrize("change, message", [
    (lambda q: q[0].update(points=float("nan")), "points"),
    (lambda q: q[0].update(points=-1), "points"),
    (lambda q: q[1].update(id=q[0]["id"]), "twice"),
    (lambda q: q[0].update(hashes=["not a hash"]), "hashes"),
    (lambda q: q[2].update(tolerance=float("inf")), "tolerance"),
])
def test_key_validation_is_strict(course, capsys, change, message):
    # Regression: NaN or negative points and duplicate ids were accepted.
    key = course / "instructor_key.json"
    data = json.loads(key.read_text())
    change(data["chapters"]["90_demo"]["questions"])
    key.write_text(json.dumps(data))
    sub = _learner_run(course, "ada", [("pick", "b")])
    assert _grade(course, sub) == 2
    err = capsys.readouterr().err
    assert "error:" in err and message in err and "Traceback" not in err


def test_a_blank_learner_id_is_refused(course, capsys):
    # Regression: a learner id of only spaces was graded as an empty name.
    base = _valid_submission(course)
    sub = course / "blank.json"
    sub.write_text(json.dumps({**base, "learner": "   "}))
    assert _grade(course, sub) == 1
    assert "learner id" in capsys.readouterr().err
    assert not (course / "grades.csv").exists()  # nothing was graded: no grades file


def test_a_list_given_to_a_text_question_is_refused_not_a_crash(course, capsys):
    base = _valid_submission(course)
    essay = {**base["attempts"][0], "question": "essay", "answer": ["a", "b"]}
    sub = course / "list_essay.json"
    sub.write_text(json.dumps({**base, "learner": "zed", "attempts": [essay]}))
    good = _learner_run(course, "ada", [("pick", "b")])
    assert _grade(course, sub, good) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "list_essay.json" in err and set(_rows(course)) == {"ada"}
