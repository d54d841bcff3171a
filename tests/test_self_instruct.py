"""Self-instruct's filter: ROUGE-L as the paper defines it, validity, and near-duplicates dropped."""
from __future__ import annotations

import random

import pytest

from alignkit.self_instruct import NOVELTY_THRESHOLD, Task, is_valid, keep_novel, parse_tasks, rouge_l, task_prompt


def test_rouge_l_is_the_lcs_f_measure():
    assert rouge_l("What colour is the lunkel?", "what colour is the LUNKEL") == 1.0
    assert rouge_l("a b c d", "e f g") == 0.0
    # LCS("a b c d", "a x c y d") = a c d = 3; P = 3/4, R = 3/5, F = 2PR/(P+R) = 2/3
    assert rouge_l("a b c d", "a x c y d") == pytest.approx(2 / 3)
    assert rouge_l("", "anything") == 0.0
    assert rouge_l("d c b a", "a b c d") == pytest.approx(0.25)  # order matters, unlike word overlap


def test_near_duplicates_are_dropped_including_two_proposed_together():
    pool = ["What colour is the lunkel?"]
    proposed = [Task("What colour is the lunkel today?", "Red."),  # 0.91 to the pool: dropped
                Task("Where does the brask live?", "In the hills."),
                Task("Where does the brask live now?", "In the hills."),  # near the one just kept
                Task("How many legs does a morv have?", "Six.")]
    kept, grown = keep_novel(proposed, pool)
    assert [t.instruction for t in kept] == ["Where does the brask live?", "How many legs does a morv have?"]
    assert grown == pool + [t.instruction for t in kept]
    assert all(rouge_l(a, b) < NOVELTY_THRESHOLD for i, a in enumerate(grown) for b in grown[:i])


@pytest.mark.parametrize("task, valid", [
    (Task("Where does the brask live?", "In the hills."), True),
    (Task("Hi?", "Yes."), False),  # too short
    (Task("Where does the brask live?", ""), False),  # no answer
    (Task("? Where does the brask live", "In the hills."), False),  # does not start like a request
    (Task(" ".join(["word"] * 60), "Yes."), False),  # too long
    (Task("Where does the brask live?", "In the hills. Task: more"), False),  # ran into the next task
])
def test_validity(task, valid):
    assert is_valid(task) is valid


def test_prompts_mix_seed_and_generated_tasks_and_parsing_reads_them_back():
    seeds = [Task(f"Seed question number {i}?", f"Answer {i}.") for i in range(10)]
    generated = [Task(f"Generated question number {i}?", f"Reply {i}.") for i in range(5)]
    prompt = task_prompt(seeds, generated, random.Random(0))
    assert prompt.endswith(" Task:") and prompt.count("Seed question") == 6 and prompt.count("Generated question") == 2
    parsed = parse_tasks(prompt[:-len(" Task:")])
    assert len(parsed) == 8 and all(t.answer for t in parsed)
    assert parse_tasks(" What is 2 plus 3? Answer: 5.") == [Task("What is 2 plus 3?", "5.")]
    assert parse_tasks("no tasks here") == []
