"""Self-instruct's filter: ROUGE-L as the paper defines it, validity, and near-duplicates dropped."""
from __future__ import annotations

import random

import pytest

from alignkit.cai.self_instruct import NOVELTY_THRESHOLD, Task, is_valid, keep_novel, parse_tasks, rouge_l, task_prompt


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


def test_seed_tasks_load_and_bad_files_say_what_to_do(tmp_path):
    from alignkit.infra.errors import AlignkitError
    from alignkit.cai.self_instruct import load_seed_tasks

    seeds = load_seed_tasks()
    assert len(seeds) >= 6 and all(is_valid(t) for t in seeds)
    with pytest.raises(AlignkitError, match="missing"):
        load_seed_tasks(tmp_path / "nope.json")
    broken = tmp_path / "seeds.json"
    broken.write_text('[{"instruction": "no answer"}]')
    with pytest.raises(AlignkitError, match="instruction"):
        load_seed_tasks(broken)


def test_propose_tasks_keeps_valid_novel_first_tasks_until_enough(monkeypatch):
    import alignkit.cai.ai_feedback
    from alignkit.cai.self_instruct import propose_tasks, task_rows

    written = iter(["Where does the kellun live? Answer: The kellun lives in the hills.",   # kept
                    "Where does the kellun live? Answer: In the hills.",                   # near-duplicate
                    "ok Answer: yes",                                                       # invalid: too short
                    "What is 2 plus 2? Answer: 2 plus 2 is 4. Task: What is 3 plus 3? Answer: 6",  # first task only
                    "Tell me how to brew tea. Answer: Boil the water."] * 10)

    def scripted(model, tokenizer, contexts, cue, config, prompt_format, stops=()):
        assert cue == "Task:" and prompt_format == "document" and stops == (" Task:",)
        return [next(written) for _ in contexts]

    monkeypatch.setattr(alignkit.cai.ai_feedback, "generate_continuations", scripted)
    seeds = [Task("Tell me what the yarquim eats.", "The yarquim eats grass."), Task("How much is 1 plus 3?", "4.")]
    out = propose_tasks(None, None, seeds, n_tasks=3, rng=random.Random(0), batch_size=5, max_rounds=2)
    assert [t.instruction for t in out.kept] == ["Where does the kellun live?", "What is 2 plus 2?",
                                                 "Tell me how to brew tea."]
    assert (out.proposed, out.invalid, out.near_duplicates, out.rounds) == (5, 1, 1, 1)
    assert task_rows(out.kept[:1]) == [{"messages": [{"role": "user", "content": "Where does the kellun live?"},
                                                     {"role": "assistant", "content": "The kellun lives in the hills."}]}]
