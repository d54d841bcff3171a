"""Hostile and clumsy inputs, each case named by its id in the list of cases tried (F, G, S, C, E, M, R, N: high and
medium; L: low; X: a second pass).

F02, G36, F10, S08, C08, E03, M01, R03, N02, N03: the high and medium cases; L01-L30: the low ones
(one error line instead of a traceback); X..: a second pass of our own.
"""
from __future__ import annotations

import datetime
import errno
import json
import math
import os
from pathlib import Path

import pytest

from alignkit import cli, quiz
from alignkit.cli import evaluate as evaluate_cli
from alignkit.infra import paths, storage
from alignkit.infra.errors import AlignkitError, ConstitutionError, QuizBankError
from alignkit.quiz import bank as quiz_bank
from alignkit.world import constitution as constitution_module
from alignkit.zoo import store
from test_grade import _grade, _learner_run, _rows, course  # noqa: F401 - course is a fixture

REPO = Path(__file__).resolve().parents[1]
BOMB = "[" * 200_000 + "]" * 200_000
CORRECT = [("pick", "b"), ("many", ["a", "c"]), ("num", 0.25)]


def _error_line(capsys, exit_code: int, expected: int = 2) -> str:
    out, err = capsys.readouterr()
    assert exit_code == expected, (out, err)
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    return lines[0]


def _submission(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# --- F02: forged attempts in a second file -------------------------------------------------------


def test_F02_forged_attempts_in_a_second_file_are_flagged(course, capsys):
    alice = _learner_run(course, "alice@x.org", CORRECT)
    honest = _submission(alice)
    wrong = {"pick": "a", "many": ["b"], "num": 9.0}
    forged = [{**a, "answer": wrong[a["question"]], "self_check": False, "attempt": 2,
               "time": (datetime.datetime.fromisoformat(a["time"]) - datetime.timedelta(hours=1))
               .isoformat(timespec="milliseconds")} for a in honest["attempts"]]
    forgery = _write(course / "subs" / "forged.json", {**honest, "attempts": forged})
    _grade(course, alice, forgery)
    row = _rows(course)["alice@x.org"]
    assert set(row["duplicates"].split(";")) == {"90_demo/pick", "90_demo/many", "90_demo/num"}
    assert "forged.json" in row["flags"] and "start at 2" in row["flags"]
    out, err = capsys.readouterr()
    assert "flagged 1 learner(s)" in out and "alice@x.org" in out
    assert "warning:" in err and "forged.json" in err


def test_F02_a_later_export_of_the_same_runtime_is_not_flagged(course):
    responses = course / "ada.jsonl"
    q = quiz.show("90_demo", mode="widget", quizzes_dir=course / "quizzes", responses=responses)
    q.answer("pick", "a")
    early = quiz.export(course / "subs" / "early.json", learner="ada", responses=responses, download=False)
    q.answer("pick", "b")
    q.answer("num", 0.25)
    late = quiz.export(course / "subs" / "late.json", learner="ada", responses=responses, download=False)
    assert _grade(course, early, late) == 0
    row = _rows(course)["ada"]
    assert row["duplicates"] == "" and row["flags"] == "" and row["90_demo/pick attempts"] == "2"


def test_F02_the_same_trick_raising_a_friends_grade_is_flagged(course):
    friend = _learner_run(course, "bob", [("pick", "a")])
    helper = _learner_run(course, "carol", [("pick", "b")])
    lent = _submission(helper)
    earlier = (datetime.datetime.fromisoformat(lent["attempts"][0]["time"]) - datetime.timedelta(days=1))
    lent["attempts"][0].update(time=earlier.isoformat(timespec="milliseconds"), attempt=2)
    lent_path = _write(course / "subs" / "for_bob.json", {**lent, "learner": "bob"})
    _grade(course, friend, lent_path)
    assert _rows(course)["bob"]["duplicates"] == "90_demo/pick" and "for_bob.json" in _rows(course)["bob"]["flags"]


# --- G36: a mistyped folder ------------------------------------------------------------------------


def test_G36_a_mistyped_folder_is_an_error_and_keeps_the_grades_file(course, capsys):
    (course / "grades.csv").write_text("learner,total\nada,5\n", encoding="utf-8")
    line = _error_line(capsys, _grade(course, course / "submisions"))
    assert "submisions" in line and "graded 0" not in line
    assert (course / "grades.csv").read_text(encoding="utf-8") == "learner,total\nada,5\n"


def test_G36_nothing_graded_never_replaces_the_grades_file(course, capsys):
    (course / "grades.csv").write_text("old\n", encoding="utf-8")
    bad = course / "bad.json"
    bad.write_text("{", encoding="utf-8")
    assert _grade(course, bad) != 0
    out, err = capsys.readouterr()
    assert "graded 0" not in out and "was not written" in err
    assert (course / "grades.csv").read_text(encoding="utf-8") == "old\n"


# --- F10: per-chapter exports --------------------------------------------------------------------


def _record(chapter: str, question: str = "q1", attempt: int = 1, answer="a") -> dict:
    return {"chapter": chapter, "question": question, "answer": answer, "self_check": True, "attempt": attempt,
            "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
            "bank_sha256": "0" * 64}


def test_F10_per_chapter_exports_from_fresh_runtimes_keep_their_own_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALIGNKIT_LEARNER", "ada")
    first, second = tmp_path / "runtime1.jsonl", tmp_path / "runtime2.jsonl"
    storage.append_jsonl(first, _record("00_setup"))
    storage.append_jsonl(second, _record("01_pretraining"))
    quiz.export(chapters="00_setup", responses=first, download=False)
    quiz.export(chapters="01_pretraining", responses=second, download=False)
    exported = [set(_submission(p)["chapters"]) for p in tmp_path.glob("alignkit_submission_*.json")]
    assert sorted(map(sorted, exported)) == [["00_setup"], ["01_pretraining"]]


def test_F10_an_export_never_replaces_one_with_other_answers(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALIGNKIT_LEARNER", "ada")
    first, second = tmp_path / "runtime1.jsonl", tmp_path / "runtime2.jsonl"
    storage.append_jsonl(first, _record("02_sft", "a"))
    storage.append_jsonl(second, _record("02_sft", "b"))
    one = quiz.export(chapters="02_sft", responses=first, download=False)
    two = quiz.export(chapters="02_sft", responses=second, download=False)
    assert one != two and _submission(one)["attempts"][0]["question"] == "a"
    assert _submission(two)["attempts"][0]["question"] == "b"
    assert "Kept your earlier export" in capsys.readouterr().out
    # A later export of the same runtime holds everything the earlier one did: it replaces it.
    storage.append_jsonl(first, _record("02_sft", "c"))
    assert quiz.export(chapters="02_sft", responses=first, download=False) == one
    assert len(_submission(one)["attempts"]) == 2


# --- S08: an unreadable responses file behind Submit -------------------------------------------------


def _deny(path, *args, **kwargs):
    raise PermissionError(errno.EACCES, "Permission denied", str(path))


def test_S08_an_unreadable_responses_file_shows_a_red_message_in_the_widget(course, monkeypatch):
    responses = course / "r.jsonl"
    q = quiz.show("90_demo", mode="widget", quizzes_dir=course / "quizzes", responses=responses)
    monkeypatch.setattr(storage, "read_jsonl", _deny)
    controls = q._controls["pick"]
    controls.write("b")
    controls.submit.click()
    assert "#b00020" in controls.feedback.value
    assert str(responses) in controls.feedback.value and "ALIGNKIT_HOME" in controls.feedback.value


def test_S08_a_failed_save_behind_submit_shows_a_red_message(course, monkeypatch):
    # A guard beside S08: a failed append was already shown in red, and must stay so.
    responses = course / "r.jsonl"
    q = quiz.show("90_demo", mode="widget", quizzes_dir=course / "quizzes", responses=responses)

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage, "append_jsonl", full)
    controls = q._controls["num"]
    controls.write(0.25)
    controls.submit.click()
    assert "#b00020" in controls.feedback.value and str(responses) in controls.feedback.value


# --- C08 and the constitution loader (L03-L07) -------------------------------------------------------


def test_C08_a_second_principles_block_is_refused(tmp_path):
    text = (REPO / "data" / "constitution.yaml").read_text(encoding="utf-8")
    text += ("\nprinciples:\n  - id: mine\n    critique: Is it kind?\n    revision: Make it kind.\n"
             "    comparison: Which is kinder?\n")
    path = tmp_path / "constitution.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConstitutionError, match="principles.*twice"):
        constitution_module.load_constitution(path)


def test_L03_a_nesting_bomb_constitution_is_refused(tmp_path):
    path = tmp_path / "constitution.yaml"
    path.write_text(BOMB, encoding="utf-8")
    with pytest.raises(ConstitutionError, match="nested too deeply"):
        constitution_module.load_constitution(path)


def test_L04_a_latin1_constitution_is_refused_with_the_file_named(tmp_path):
    path = tmp_path / "constitution.yaml"
    path.write_bytes("version: 1\nprinciples:\n  - id: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConstitutionError, match="not UTF-8") as info:
        constitution_module.load_constitution(path)
    assert str(path) in str(info.value)


def test_L05_a_directory_as_constitution_is_refused(tmp_path):
    with pytest.raises(ConstitutionError, match="cannot read"):
        constitution_module.load_constitution(tmp_path)


def _principle(**changes) -> dict:
    return {"id": "kind", "critique": "Is it kind?", "revision": "Make it kind.", "comparison": "Which is kinder?",
            **changes}


def test_L06_a_principle_id_with_a_newline_is_refused():
    with pytest.raises(ConstitutionError, match="id of letters"):
        constitution_module.parse_constitution({"version": 1, "principles": [_principle(id="kind\n")]})


def test_L07_a_repeated_key_inside_a_principle_is_refused(tmp_path):
    path = tmp_path / "constitution.yaml"
    path.write_text("version: 1\nprinciples:\n  - id: kind\n    critique: Is it kind?\n    critique: Is it rude?\n"
                    "    revision: Make it kind.\n    comparison: Which is kinder?\n", encoding="utf-8")
    with pytest.raises(ConstitutionError, match="critique.*twice"):
        constitution_module.load_constitution(path)


# --- nesting bombs in the key and the bank (L01, L02) -------------------------------------------------


def test_L01_a_nesting_bomb_key_is_one_error_line(course, capsys):
    key = course / "instructor_key.json"
    sub = _learner_run(course, "ada", [("pick", "b")])
    key.write_text(BOMB, encoding="utf-8")
    line = _error_line(capsys, _grade(course, sub))
    assert "instructor_key.json" in line and "nested too deeply" in line


def test_L02_a_nesting_bomb_bank_is_refused(tmp_path):
    path = tmp_path / "90_demo.yaml"
    path.write_text(BOMB, encoding="utf-8")
    with pytest.raises(QuizBankError, match="nested too deeply"):
        quiz_bank.load_bank(path)


# --- E03 and eval misuse (L08, L13-L17) -------------------------------------------------------------


class _Embeddings:
    num_embeddings = 10


class GPT2LMHeadModel:  # stands in for a language model: the CLI checks roles by class and `generate`
    def generate(self, *args, **kwargs):
        raise AssertionError("sampled")

    def get_input_embeddings(self):
        return _Embeddings()


class GPT2ForSequenceClassification:  # stands in for a reward model
    def get_input_embeddings(self):
        return _Embeddings()


class _Tokenizer:
    template = "{% for m in messages %}{{ m.content }}{% endfor %}"

    def get_vocab(self):
        return {"a": 0}

    def __len__(self):
        return 1

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=False):
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        return ImmutableSandboxedEnvironment().from_string(self.template).render(messages=messages)


class _HostileTokenizer(_Tokenizer):
    template = "{{ messages.__class__.__init__.__globals__ }}"


@pytest.fixture
def stub_models(monkeypatch):
    """`alignkit eval` with stand-in models: sft, ref and base are language models, rm a reward model."""
    tokenizers = {}

    def load(name, flag):
        model = GPT2ForSequenceClassification() if name == "rm" else GPT2LMHeadModel()
        return model, tokenizers.get(name, _Tokenizer())

    def no_sampling(*_args, **_kwargs):
        raise AssertionError("sampled before the arguments were checked")

    monkeypatch.setattr(evaluate_cli, "_load", load)
    monkeypatch.setattr(evaluate_cli, "evaluate", no_sampling)
    monkeypatch.setattr(evaluate_cli, "prompt_format", lambda name, requested: "chat")
    return tokenizers


def test_E03_a_reward_model_as_the_kl_reference_is_refused(stub_models, capsys):
    line = _error_line(capsys, cli.main(["eval", "sft", "--ref", "rm"]))
    assert "--ref rm is a reward model" in line


def test_L13_evaluating_a_reward_model_is_refused(stub_models, capsys):
    line = _error_line(capsys, cli.main(["eval", "rm"]))
    assert "reward model" in line and "--rm rm" in line


def test_L14_a_language_model_as_rm_is_refused(stub_models, capsys):
    line = _error_line(capsys, cli.main(["eval", "base", "--rm", "sft"]))
    assert "--rm sft is a language model" in line


@pytest.mark.parametrize("temperature", ["-1", "nan", "inf"])
def test_L15_a_negative_or_nan_temperature_is_refused_first(stub_models, capsys, temperature):
    line = _error_line(capsys, cli.main(["eval", "sft", "--temperature", temperature]))
    assert "--temperature" in line


def test_L08_a_hostile_chat_template_is_one_error_line(stub_models, capsys):
    stub_models["evil"] = _HostileTokenizer()
    line = _error_line(capsys, cli.main(["eval", "evil"]))
    assert "chat template" in line and "SecurityError" in line


def _fake_evaluate(monkeypatch, summary: dict):
    import pandas as pd

    monkeypatch.setattr(evaluate_cli, "evaluate", lambda *a, **k: (dict(summary), pd.DataFrame()))

    def paired(df_a, df_b, key):
        if key == "fact_accuracy":
            raise AlignkitError(f"paired_difference: the two evaluations share no prompt with a {key!r} value.")
        return {"key": key, "a": 1.0, "b": 0.5, "difference": 0.5, "se": 0.1, "n_prompts": 3, "verdict": "A higher"}

    monkeypatch.setattr(evaluate_cli, "paired_difference", paired)


def test_L16_compare_keeps_the_other_metrics_when_one_is_empty(stub_models, monkeypatch, capsys):
    _fake_evaluate(monkeypatch, {"gold_reward": 1.0, "gold_reward_se": 0.1, "fact_accuracy": math.nan})
    assert cli.main(["eval", "sft", "--compare", "base"]) == 0
    out = capsys.readouterr().out
    assert "+0.5000" in out and "not compared" in out


def test_L17_json_output_is_valid_json_without_nan(stub_models, monkeypatch, capsys):
    _fake_evaluate(monkeypatch, {"gold_reward": 1.0, "gold_reward_se": 0.1, "fact_accuracy": math.nan})
    assert cli.main(["eval", "sft", "--json", "--compare", "base"]) == 0

    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    summary = json.loads(capsys.readouterr().out, parse_constant=refuse)
    assert summary["fact_accuracy"] is None and "error" in summary["compare"]["differences"]["fact_accuracy"]


# --- M01, L18: methods with missing inputs --------------------------------------------------------------


def test_M01_methods_with_a_missing_results_folder_is_an_error(capsys):
    line = _error_line(capsys, cli.main(["methods", "--results", "/nonexistent"]))
    assert "/nonexistent" in line


def test_L18_methods_with_a_missing_zoo_root_is_an_error(capsys):
    line = _error_line(capsys, cli.main(["methods", "--root", "/nonexistent"]))
    assert "/nonexistent" in line


# --- malformed manifest (L09-L12) -----------------------------------------------------------------


@pytest.fixture
def bad_manifest(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"sft": 5}), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("command", [["zoo", "list"], ["zoo", "verify"]], ids=["L09_list", "L10_verify"])
def test_L09_L10_a_manifest_entry_that_is_not_an_object_is_one_error_line(bad_manifest, capsys, command):
    line = _error_line(capsys, cli.main([*command, "--root", str(bad_manifest)]))
    assert "'sft'" in line and "manifest.json" in line


def test_L11_methods_with_a_malformed_manifest_is_one_error_line(bad_manifest, capsys):
    line = _error_line(capsys, cli.main(["methods", "--root", str(bad_manifest)]))
    assert "'sft'" in line


def test_L12_a_missing_alignkit_zoo_folder_is_not_an_empty_zoo(monkeypatch, capsys):
    monkeypatch.setenv("ALIGNKIT_ZOO", "/nonexistent")
    line = _error_line(capsys, cli.main(["zoo", "list"]))
    assert "ALIGNKIT_ZOO=/nonexistent is not a directory" in line


# --- R03 and recipe export misuse (L19-L22) -------------------------------------------------------------


def test_R03_recipe_export_never_replaces_a_readme_it_did_not_write(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# my project\n", encoding="utf-8")
    line = _error_line(capsys, cli.main(["recipe", "export", "sft", "--out", str(tmp_path)]))
    assert "README.md" in line
    assert readme.read_text(encoding="utf-8") == "# my project\n"


def test_L19_recipe_export_into_a_file_is_one_error_line(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("x", encoding="utf-8")
    line = _error_line(capsys, cli.main(["recipe", "export", "sft", "--out", str(target)]))
    assert "is a file" in line


def test_L20_recipe_export_into_an_unwritable_place_is_one_error_line(capsys):
    line = _error_line(capsys, cli.main(["recipe", "export", "sft", "--out", "/proc/alignkit_x"]))
    assert "/proc/alignkit_x" in line


@pytest.mark.parametrize("processes", ["0", "-3"])
def test_L21_recipe_export_refuses_no_or_negative_processes(tmp_path, capsys, processes):
    line = _error_line(capsys, cli.main(["recipe", "export", "sft", "--out", str(tmp_path / "o"),
                                         "--processes", processes]))
    assert "--processes" in line
    assert not (tmp_path / "o").exists()


def test_L22_recipe_export_help_shows_the_export_options(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["recipe", "export", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "--processes" in out and "--out" in out


# --- N02, N03: after a non-editable install -------------------------------------------------------------


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """The package as `pip install .` leaves it: in site-packages, no data/ beside it."""
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.setattr(paths, "_PACKAGE_PARENT", site)
    monkeypatch.delenv("ALIGNKIT_REPO", raising=False)
    monkeypatch.delenv("ALIGNKIT_ZOO", raising=False)
    monkeypatch.setattr(store, "DEFAULT_ROOT", site / "data" / "zoo")
    return site


def _says_installed_without_data(line: str) -> None:
    assert "installed without the course's data" in line and "pip install -e ." in line and "ALIGNKIT_REPO" in line
    assert "zoo build" not in line


@pytest.mark.parametrize("command", [["zoo", "list"], ["zoo", "verify"]], ids=["list", "verify"])
def test_N02_zoo_after_a_non_editable_install_names_the_fix(installed, capsys, command):
    _says_installed_without_data(_error_line(capsys, cli.main(command)))


def test_N03_methods_after_a_non_editable_install_names_the_fix(installed, capsys):
    _says_installed_without_data(_error_line(capsys, cli.main(["methods"])))


def test_N03_world_check_after_a_non_editable_install_names_the_fix(installed, monkeypatch, capsys):
    from alignkit.cli import world as world_cli

    monkeypatch.setattr(world_cli, "DATA_DIR", installed / "data" / "world")
    _says_installed_without_data(_error_line(capsys, cli.main(["world", "check"])))


def test_N03_recipe_export_after_a_non_editable_install_names_the_fix(installed, tmp_path, capsys):
    _says_installed_without_data(_error_line(capsys, cli.main(["recipe", "export", "sft", "--out", str(tmp_path / "o")])))


def test_N03_the_constitution_after_a_non_editable_install_names_the_fix(installed, monkeypatch):
    monkeypatch.setattr(constitution_module, "CONSTITUTION_PATH", installed / "data" / "constitution.yaml")
    with pytest.raises(ConstitutionError) as info:
        constitution_module.load_constitution()
    _says_installed_without_data(str(info.value))


# --- learner files (L23-L27) -----------------------------------------------------------------------------


def test_L23_a_read_only_home_for_the_learner_id_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("ALIGNKIT_LEARNER", raising=False)
    monkeypatch.setattr(storage, "atomic_write_text", _deny)
    with pytest.raises(AlignkitError, match="learner_id.*ALIGNKIT_LEARNER"):
        quiz.learner_id(home=tmp_path)


def test_L24_a_responses_file_owned_by_another_user_names_the_fix(course, monkeypatch):
    responses = course / "r.jsonl"
    storage.append_jsonl(responses, _record("90_demo", "pick", answer="b"))
    monkeypatch.setattr(storage, "read_jsonl", _deny)
    with pytest.raises(AlignkitError, match="could not read your answers file") as info:
        quiz.show("90_demo", mode="widget", quizzes_dir=course / "quizzes", responses=responses)
    assert str(responses) in str(info.value)
    with pytest.raises(AlignkitError, match="could not read your answers file"):
        quiz.export(course / "out.json", learner="ada", responses=responses, download=False)


def test_L25_export_on_a_full_disk_names_the_file_and_keeps_the_answers(course, monkeypatch):
    responses = course / "r.jsonl"
    storage.append_jsonl(responses, _record("90_demo", "pick", answer="b"))

    def full(path, *_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage, "atomic_write_json", full)
    with pytest.raises(AlignkitError, match="No space left") as info:
        quiz.export(course / "out.json", learner="ada", responses=responses, download=False)
    assert "out.json" in str(info.value) and str(responses) in str(info.value)


def test_L26_a_failed_append_leaves_no_partial_line(course, monkeypatch):
    responses = course / "r.jsonl"
    q = quiz.show("90_demo", mode="widget", quizzes_dir=course / "quizzes", responses=responses)
    q.answer("many", ["a"])
    size = responses.stat().st_size
    real_write, calls = os.write, []

    def only_the_newline_does_not_fit(fd, data):
        if b'"chapter"' not in bytes(data) and not calls:
            return real_write(fd, data)
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data)[:-1])  # everything but the final newline fits
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", only_the_newline_does_not_fit)
    with pytest.raises(AlignkitError, match="not recorded"):
        q.answer("pick", "a")
    monkeypatch.setattr(os, "write", real_write)
    assert responses.stat().st_size == size
    assert [r["question"] for r in quiz.read_responses(responses)] == ["many"]
    assert q.answer("pick", "b").attempt == 1


def test_L27_a_response_line_with_a_list_question_is_skipped(course):
    from alignkit.course.arena import bradley_terry

    responses = course / "r.jsonl"
    storage.append_jsonl(responses, {**_record("90_demo"), "question": ["pick"]})
    q = quiz.show("90_demo", mode="widget", quizzes_dir=course / "quizzes", responses=responses)
    assert q.progress == "0/4"
    rows = [{"prompt": "p", "chosen": "x", "rejected": "y", "chosen_model": ["a"], "rejected_model": "b",
             "left_model": "a", "right_model": "b"},
            {"prompt": "p", "chosen": "x", "rejected": "y", "chosen_model": "a", "rejected_model": "b",
             "left_model": "a", "right_model": "b"}]
    table = bradley_terry(rows)
    assert set(table.model) == {"a", "b"}


# --- grading edge cases (L28-L30) ------------------------------------------------------------------------


def test_L28_a_wrong_salt_in_an_unsigned_key_is_refused(course, capsys):
    key = course / "instructor_key.json"
    data = json.loads(key.read_text(encoding="utf-8"))
    data["chapters"]["90_demo"]["salt"] = "0123456789abcdef"
    key.write_text(json.dumps(data), encoding="utf-8")
    sub = _learner_run(course, "ada", [("pick", "b")])
    line = _error_line(capsys, _grade(course, sub))
    assert "salt" in line and "90_demo" in line


def _edited(course: Path, edit) -> Path:
    sub = _learner_run(course, "ada", [("pick", "a"), ("pick", "c"), ("pick", "b")])
    data = _submission(sub)
    data["attempts"] = edit(data["attempts"])
    return _write(sub, data)


def test_L29_deleted_wrong_attempts_are_flagged(course, capsys):
    sub = _edited(course, lambda attempts: attempts[2:])  # keep only the third (right) attempt
    assert _grade(course, sub) == 0
    row = _rows(course)["ada"]
    assert "start at 3" in row["flags"] and "ada.json" in row["flags"]
    assert "flagged 1 learner(s)" in capsys.readouterr().out


def test_L29_a_gap_in_the_attempt_numbers_is_flagged(course):
    sub = _edited(course, lambda attempts: [attempts[0], attempts[2]])
    assert _grade(course, sub) == 0
    assert "attempt 1 is followed by attempt 3" in _rows(course)["ada"]["flags"]


def test_L30_times_out_of_order_with_attempt_numbers_are_flagged(course):
    def swap_times(attempts):
        attempts[0]["time"], attempts[2]["time"] = attempts[2]["time"], attempts[0]["time"]
        return attempts

    assert _grade(course, _edited(course, swap_times)) == 0
    assert "a later attempt has an earlier time" in _rows(course)["ada"]["flags"]


def test_L30_unparseable_times_are_flagged(course):
    def garble(attempts):
        attempts[1]["time"] = "yesterday"
        return attempts

    assert _grade(course, _edited(course, garble)) == 0
    assert "'yesterday' is not a recorded time" in _rows(course)["ada"]["flags"]


# --- second pass (our own hostile inputs) ----------------------------------------------------------------


def test_X03_grade_with_a_max_bytes_below_one_is_a_usage_error(course, capsys):
    sub = _learner_run(course, "ada", [("pick", "b")])
    line = _error_line(capsys, _grade(course, sub, extra=["--max-bytes", "0"]))
    assert "--max-bytes" in line


@pytest.mark.parametrize("chapters", [5, {"02_sft": 1}.keys()])
def test_X20_export_with_chapters_that_are_not_names_says_so(tmp_path, chapters):
    with pytest.raises(AlignkitError, match="chapters must be"):
        quiz.export(tmp_path / "e.json", chapters=chapters, learner="a", responses=tmp_path / "r.jsonl", download=False)


def test_X22_export_to_a_folder_is_refused(tmp_path):
    storage.append_jsonl(tmp_path / "r.jsonl", _record("02_sft"))
    with pytest.raises(AlignkitError, match="is a folder"):
        quiz.export(tmp_path, learner="a", responses=tmp_path / "r.jsonl", download=False)
    assert [p.name for p in tmp_path.iterdir()] == ["r.jsonl"]


def test_X34_world_check_of_a_missing_folder_is_an_error(tmp_path, capsys):
    line = _error_line(capsys, cli.main(["world", "check", "--out", str(tmp_path / "missing")]))
    assert "does not exist" in line and "--out" in line


def test_X37_a_closed_pipe_stops_quietly(monkeypatch, capfd):
    from alignkit.cli import zoo as zoo_cli

    def closed(*_args):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(zoo_cli, "_list", closed)
    real_dup2 = os.dup2
    monkeypatch.setattr(os, "dup2", lambda *args: None)  # keep pytest's stdout usable
    assert cli.main(["zoo", "list"]) == 1
    monkeypatch.setattr(os, "dup2", real_dup2)
    assert "Traceback" not in capfd.readouterr().err


def test_S08_an_unreadable_responses_file_behind_record_prediction_shows_red(tmp_path, monkeypatch):
    from test_quiz_predict import write_bank_with_predictions

    monkeypatch.delenv("CI", raising=False)
    write_bank_with_predictions(tmp_path / "quizzes")
    responses = tmp_path / "r.jsonl"
    monkeypatch.setattr(storage, "read_jsonl", _deny)
    p = quiz.predict("90_demo", "guess_winner", mode="widget", quizzes_dir=tmp_path / "quizzes", responses=responses)
    p._radio.value = p.question.choices[0].id
    p._button.click()
    assert "#b00020" in p._feedback.value and str(responses) in p._feedback.value
