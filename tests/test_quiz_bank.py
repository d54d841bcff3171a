"""The question banks: schema of every bank, integrity of the hashes, no plaintext key anywhere."""
from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest
import yaml

from alignkit import cli
from alignkit.quiz import bank as quiz_bank
from alignkit.infra.errors import AnswerTypeError, QuizBankError

ROOT = Path(__file__).resolve().parents[1]
QUIZZES = ROOT / "quizzes"
BANKS = quiz_bank.load_all(QUIZZES)
KEY_QUESTIONS = {  # the course's key questions, one per chapter
    "04_ppo_rlhf": "kl_penalty_role",  # why the KL penalty is essential
    "05_constitutional_ai": "replaces_labelers",  # what replaces human preference labelers
    "06_dpo": "no_reward_model",  # the insight that removes the reward model
    "07_kto": "kto_needs",  # what KTO needs (and, with dpo_needs_kto_not, what it does not)
}
LEAK_MARKERS = [
    re.compile(r"(?im)^[\s\-#>*]*[\"']?(answer|answers|correct|correct_answer|correct_choice|is_correct|solution|key)[\"']?\s*[:=]"),
    re.compile(r"(?i)is_correct|\"correct\"\s*:|\(correct\)|\[correct\]|<-+\s*correct"),
]


def test_a_bank_for_every_chapter_and_nothing_else():
    assert tuple(BANKS) == quiz_bank.CHAPTERS


@pytest.mark.parametrize("chapter", quiz_bank.CHAPTERS)
def test_bank_schema(chapter):
    bank = BANKS[chapter]
    ids = [q.id for q in bank.questions]
    assert len(ids) == len(set(ids))
    assert 6 <= len(ids) <= 10
    assert bank.chapter == chapter and bank.title
    for q in bank.questions:
        assert q.points > 0 and q.section and q.explanation and q.prompt
        if q.type == "text":
            assert q.model_answer and not q.hashes
        else:
            assert q.hashes and q.model_answer is None


def test_key_questions_are_present():
    for chapter, qid in KEY_QUESTIONS.items():
        assert BANKS[chapter].question(qid).points >= 2
    assert BANKS["07_kto"].question("dpo_needs_kto_not").type == "single"


@pytest.mark.parametrize("chapter", quiz_bank.CHAPTERS)
def test_each_choice_question_has_exactly_one_accepted_answer(chapter):
    """The hashes are real: exactly one choice (or one set of choices) matches, by brute force."""
    bank = BANKS[chapter]
    for q in bank.questions:
        if q.type == "single":
            candidates = [c for c in q.choice_ids]
        elif q.type == "multiple":
            candidates = [list(s) for n in range(1, len(q.choices) + 1) for s in itertools.combinations(q.choice_ids, n)]
        else:
            continue
        matches = [c for c in candidates if quiz_bank.is_correct(q, bank.salt, quiz_bank.normalize_answer(q, c))]
        assert len(matches) == 1, (chapter, q.id, len(matches))


def _numbers(text: str) -> set[float]:
    found = set()
    for match in re.finditer(r"(?<![\w.])(\d+(?:\.\d+)?)(?:\s*/\s*(\d+(?:\.\d+)?))?", text):
        value = float(match.group(1))
        found |= {value, -value}
        if match.group(2) and float(match.group(2)):
            found |= {value / float(match.group(2)), -value / float(match.group(2))}
    return found


@pytest.mark.parametrize("chapter", quiz_bank.CHAPTERS)
def test_no_number_in_a_bank_is_an_accepted_numeric_answer(chapter):
    bank = BANKS[chapter]
    text = (QUIZZES / f"{chapter}.yaml").read_text(encoding="utf-8")
    text = re.sub(r"[0-9a-f]{32,64}", "", text)  # salts and hashes are not statements
    numbers = _numbers(text)
    for q in bank.questions:
        if q.type == "numeric":
            assert 1 <= len(q.hashes) <= 4
            stated = [x for x in numbers if quiz_bank.is_correct(q, bank.salt, x)]
            assert not stated, (chapter, q.id)


def _leaks(text: str) -> list[str]:
    return [m.group(0) for pattern in LEAK_MARKERS for m in pattern.finditer(text)]


def test_no_plaintext_key_markers_in_quizzes_or_notebooks():
    files = sorted(QUIZZES.iterdir()) + sorted((ROOT / "chapters").glob("*.ipynb"))
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":
            cells = json.loads(text).get("cells", [])
            text = "\n".join("".join(c.get("source", "")) + json.dumps(c.get("outputs", [])) for c in cells)
        assert not _leaks(text), (path.name, _leaks(text))


def test_leak_scan_catches_markers():
    assert _leaks("questions:\n  - id: q\n    answer: b\n")
    assert _leaks('{"is_correct": true}')
    assert _leaks("- id: b\n  text: \"Paris (correct)\"")
    assert not _leaks("    model_answer: >-\n      The answer is in the text.")


# --- malformed banks: the error names the file and the question ---------------------------------

GOOD = {"schema": 1, "chapter": "90_demo", "title": "Demo", "salt": "ab" * 16, "questions": [
    {"id": "q1", "type": "single", "prompt": "P", "points": 1, "section": "S", "explanation": "E",
     "choices": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}], "hashes": ["0" * 64]},
    {"id": "q2", "type": "text", "prompt": "P", "points": 1, "section": "S", "explanation": "E", "model_answer": "M"},
]}


def _write(tmp_path, bank, name="90_demo.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(bank), encoding="utf-8")
    return path


def _broken(change) -> dict:
    bank = json.loads(json.dumps(GOOD))
    change(bank)
    return bank


@pytest.mark.parametrize("change, message", [
    (lambda b: b["questions"][0].pop("hashes"), "question 'q1'.*hashes"),
    (lambda b: b["questions"][0].update(answer="b"), "question 'q1'.*plaintext key"),
    (lambda b: b["questions"][1].update(id="q1"), "question 'q1'.*duplicated question id"),
    (lambda b: b["questions"][0].update(type="essay"), "question 'q1'.*type"),
    (lambda b: b["questions"][0].update(points=0), "question 'q1'.*points"),
    (lambda b: b["questions"][0]["choices"].pop(), "question 'q1'.*choices"),
    (lambda b: b["questions"][1].pop("model_answer"), "question 'q2'.*model_answer"),
    (lambda b: b["questions"][1].update(hashes=["0" * 64]), "question 'q2'.*cannot have"),
    (lambda b: b["questions"][0].update(explnation="typo"), "question 'q1'.*unknown field"),
    (lambda b: b.update(salt="not hex"), "top level.*salt"),
    (lambda b: b.update(chapter="91_other"), "top level.*file name"),
])
def test_malformed_bank_error_names_file_and_question(tmp_path, change, message):
    path = _write(tmp_path, _broken(change))
    with pytest.raises(QuizBankError, match=message) as err:
        quiz_bank.load_bank(path)
    assert str(path) in str(err.value)


def test_yaml_syntax_error_and_duplicated_key_name_the_file(tmp_path):
    bad = tmp_path / "90_demo.yaml"
    bad.write_text("schema: 1\nquestions: [\n", encoding="utf-8")
    with pytest.raises(QuizBankError, match="90_demo.yaml"):
        quiz_bank.load_bank(bad)
    bad.write_text(yaml.safe_dump(GOOD) + "salt: " + "cd" * 16 + "\n", encoding="utf-8")
    with pytest.raises(QuizBankError, match="duplicated key 'salt'"):
        quiz_bank.load_bank(bad)


def test_good_bank_loads(tmp_path):
    bank = quiz_bank.load_bank(_write(tmp_path, GOOD))
    assert [q.id for q in bank.questions] == ["q1", "q2"] and len(bank.sha256) == 64


# --- hashing ---------------------------------------------------------------------------------

def _numeric(tolerance=0.01) -> quiz_bank.Question:
    return quiz_bank.Question("n", "numeric", "P", 1, "S", "E", tolerance=tolerance)


@pytest.mark.parametrize("answer", [0.693, -2.5, 0.0, 1234.5, 0.03])
def test_numeric_hashes_accept_within_tolerance_only(answer):
    tol = 0.01
    q = _numeric(tol)
    q = quiz_bank.Question(**{**q.__dict__, "hashes": tuple(quiz_bank.answer_hashes("ff" * 8, q, answer))})
    assert 2 <= len(q.hashes) <= 4
    for offset in (-tol, -tol / 2, 0, tol / 3, tol):
        assert quiz_bank.is_correct(q, "ff" * 8, answer + offset), offset
    for offset in (-2.01 * tol, 2.01 * tol, 1.0):
        assert not quiz_bank.is_correct(q, "ff" * 8, answer + offset), offset
    assert not quiz_bank.is_correct(q, "00" * 8, answer)  # another bank's salt does not match


def test_multiple_choice_canonical_form_ignores_order():
    q = quiz_bank.Question("m", "multiple", "P", 1, "S", "E", choices=tuple(quiz_bank.Choice(c, c) for c in "abc"))
    hashes = quiz_bank.answer_hashes("ab" * 8, q, "c, a")
    q = quiz_bank.Question(**{**q.__dict__, "hashes": tuple(hashes)})
    assert quiz_bank.is_correct(q, "ab" * 8, quiz_bank.normalize_answer(q, ["a", "c"]))
    assert not quiz_bank.is_correct(q, "ab" * 8, quiz_bank.normalize_answer(q, ["a"]))


@pytest.mark.parametrize("qtype, value", [
    ("single", "z"), ("single", ["a"]), ("multiple", "a"), ("multiple", []), ("multiple", ["a", "zz"]),
    ("numeric", "0.5"), ("numeric", True), ("numeric", float("nan")), ("text", ""), ("text", 3),
])
def test_wrong_answer_types_raise_answer_type_error(qtype, value):
    choices = tuple(quiz_bank.Choice(c, c) for c in "ab")
    q = quiz_bank.Question("q", qtype, "P", 1, "S", "E", choices=choices if qtype in ("single", "multiple") else (),
                           tolerance=0.1 if qtype == "numeric" else None)
    with pytest.raises(AnswerTypeError, match="question 'q'"):
        quiz_bank.normalize_answer(q, value)


def test_hash_helper_command_prints_the_hashes_to_paste(tmp_path, capsys):
    bank = _broken(lambda b: b["questions"][0].update(hashes=[]))
    path = _write(tmp_path, bank)
    assert cli.main(["quiz-key", "--hash", str(path), "q1", "b"]) == 0
    printed = capsys.readouterr().out
    expected = quiz_bank.hash_answer(bank["salt"], "q1", "b")
    assert f"      - {expected}" in printed and "hashes:" in printed


def test_find_quizzes_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ALIGNKIT_QUIZZES", str(tmp_path))
    assert quiz_bank.find_quizzes_dir() == tmp_path
    with pytest.raises(QuizBankError, match="no quiz bank"):
        quiz_bank.load_chapter("04_ppo_rlhf")


# --- questions that test the idea, not the form ------------------------------------------------

# A "joke" option is one no learner who worked through the chapter would consider: a claim that a model or
# method is perfect or useless ("always right", "does nothing"), a dismissal ("it does not matter"), an
# off-topic remark about tooling ("cannot be written in Python"), or a single-choice throwaway of one or
# two words.
# quizzes/README.md states the same criterion; these patterns catch its usual forms.
JOKE_PATTERNS = [re.compile(p, re.I) for p in (
    r"\balways (right|wrong|correct|better|worse)\b", r"\b(does not|doesn't|do not|don't) matter\b",
    r"\bnothing at all\b", r"^nothing\b", r"\bis broken\b", r"\bin python\b", r"\bnot legitimate\b",
    r"\bmagic\b", r"\bfor fun\b", r"\bjust because\b", r"\bno reason\b", r"\bsaves? memory\b",
    r"\bmakes? generation faster\b", r"\bat random\b.*\bpretraining\b")]
_FORMULA = re.compile(r"[=()σπβ−+²|·→]")


def _correct_choice(bank, q) -> str:
    return next(c for c in q.choice_ids if quiz_bank.is_correct(q, bank.salt, c))


def _jokes(text: str, single: bool = True) -> list[str]:
    found = [p.pattern for p in JOKE_PATTERNS if p.search(text)]
    # In "select all that apply" a short item ("A value model") is a fair entry, not a throwaway answer.
    if single and not _FORMULA.search(text) and len(text.split()) < 3:
        found.append("fewer than three words")
    return found


@pytest.mark.parametrize("chapter", quiz_bank.CHAPTERS)
def test_the_correct_option_is_rarely_the_longest_and_lengths_are_balanced(chapter):
    bank = BANKS[chapter]
    singles = [q for q in bank.questions if q.type == "single"]
    giveaways = []
    for q in singles:
        lengths = {c.id: len(c.text) for c in q.choices}
        correct = _correct_choice(bank, q)
        if lengths[correct] > max(n for cid, n in lengths.items() if cid != correct):
            giveaways.append(q.id)
        assert min(lengths.values()) >= 0.5 * max(lengths.values()), (chapter, q.id, lengths)
    assert len(giveaways) <= len(singles) / 3, (chapter, giveaways)


@pytest.mark.parametrize("chapter", quiz_bank.CHAPTERS)
def test_no_option_is_a_joke(chapter):
    for q in BANKS[chapter].questions:
        for c in q.choices:
            assert not _jokes(c.text, q.type == "single"), (chapter, q.id, c.id, c.text)


def test_joke_scan_catches_jokes():
    assert _jokes("Language models are always right") and _jokes("Rules cannot be written in Python")
    assert _jokes("It does not matter") and _jokes("Nothing at all") and _jokes("A refusal")
    assert not _jokes("−log σ(r_w − r_l)") and not _jokes("Token t + 1")


def test_a_bank_is_a_draft_exactly_when_its_chapter_does_not_exist():
    for chapter, bank in BANKS.items():
        exists = (ROOT / "chapters" / f"{chapter}.ipynb").is_file()
        assert bank.draft is not exists, (chapter, bank.status)


def test_draft_banks_stay_out_of_the_key_and_the_maximum(tmp_path, capsys):
    # Every chapter has its notebook now, so make a draft in a copy of the banks.
    import shutil

    banks = tmp_path / "quizzes"
    shutil.copytree(QUIZZES, banks)
    draft = sorted(BANKS)[-1]
    text = (banks / f"{draft}.yaml").read_text()
    (banks / f"{draft}.yaml").write_text(text.replace("\nquestions:", "\nstatus: draft\nquestions:", 1))
    key = tmp_path / "key.json"
    assert cli.main(["quiz-key", str(banks), "-o", str(key)]) == 0
    assert sorted(json.loads(key.read_text())["chapters"]) == sorted(c for c in BANKS if c != draft)
    assert draft in capsys.readouterr().out


def test_status_must_be_live_or_draft(tmp_path):
    path = _write(tmp_path, {**GOOD, "status": "published"})
    with pytest.raises(QuizBankError, match="status"):
        quiz_bank.load_bank(path)
    assert quiz_bank.load_bank(_write(tmp_path, {**GOOD, "status": "draft"})).draft


# --- predict-then-run questions ----------------------------------------------------------------

# quiz.predict / quiz.reveal calls in a notebook's code: (function, question id, outcome argument).
_PREDICTION_CALL = re.compile(r"\b(?:quiz\.)?(predict|reveal)\(\s*[^,()]+,\s*[\"'](\w+)[\"']\s*(?:,\s*([^,()]+))?")


def _prediction_calls(chapter: str) -> list[tuple[str, str, str]]:
    """(function, question id, outcome argument) of each call, in the notebook's order."""
    path = ROOT / "chapters" / f"{chapter}.ipynb"
    if not path.is_file():
        return []
    cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    code = "\n".join("".join(c["source"]) for c in cells)
    return [(m.group(1), m.group(2), (m.group(3) or "").strip()) for m in _PREDICTION_CALL.finditer(code)]


def test_prediction_call_scan_finds_calls():
    code = 'p = quiz.predict(CHAPTER, "guess")\nquiz.reveal("04_ppo_rlhf", \'guess\', outcome, detail=s)\nmodel.predict(x)'
    found = [(m.group(1), m.group(2), (m.group(3) or "").strip()) for m in _PREDICTION_CALL.finditer(code)]
    assert found == [("predict", "guess", ""), ("reveal", "guess", "outcome")]


@pytest.mark.parametrize("chapter", quiz_bank.CHAPTERS)
def test_prediction_questions_are_well_formed_and_stay_out_of_the_graded_list(chapter):
    bank = BANKS[chapter]
    graded = {q.id for q in bank.questions}
    for q in bank.predictions:
        assert q.prediction and q.type == "single" and q.points == 0 and not q.hashes, (chapter, q.id)
        assert len(q.choices) >= 2 and q.prompt and q.id not in graded, (chapter, q.id)
    assert not any(q.prediction for q in bank.questions)


@pytest.mark.parametrize("chapter", quiz_bank.CHAPTERS)
def test_each_prediction_is_asked_then_revealed_in_its_chapter_with_a_computed_outcome(chapter):
    """Every prediction question of a bank is shown by quiz.predict and later compared by quiz.reveal in
    its chapter's notebook, every id the notebook uses exists in the bank, and the outcome passed to
    quiz.reveal is computed (an expression), never a typed option id."""
    calls = _prediction_calls(chapter)
    bank_ids = {q.id for q in BANKS[chapter].predictions}
    if not (ROOT / "chapters" / f"{chapter}.ipynb").is_file():
        return  # a draft bank: its questions are checked when its chapter lands
    asked = {qid for kind, qid, _ in calls if kind == "predict"}
    revealed = {qid for kind, qid, _ in calls if kind == "reveal"}
    assert asked == revealed == bank_ids, (chapter, sorted(asked), sorted(revealed), sorted(bank_ids))
    for qid in bank_ids:
        order = [kind for kind, q, _ in calls if q == qid]
        assert order.index("predict") < order.index("reveal"), (chapter, qid, "revealed before it is asked")
    typed = [(qid, outcome) for kind, qid, outcome in calls if kind == "reveal" and re.fullmatch(r"[\"']\w+[\"']", outcome)]
    assert not typed, (chapter, typed, "compute the outcome from the run's numbers")


def test_every_live_chapter_asks_for_a_prediction():
    # At least one cell per chapter asks the learner to predict an outcome before a run.
    missing = [chapter for chapter, bank in BANKS.items() if not bank.draft and not bank.predictions]
    assert not missing, missing
