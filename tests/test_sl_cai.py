"""SL-CAI's data: the red-team prompts come from the prompt file's category, their demonstrations are replaced by
the feedback model's revisions, and nothing but models reads the text."""
from __future__ import annotations

import ast
import inspect

from alignkit.cai import sl_cai
from alignkit.cai.ai_feedback import Revision
from alignkit.world.constitution import load_constitution
from alignkit.core.generation import Samples
from alignkit.cai.sl_cai import (SLCAISettings, helpful_demonstrations, red_team_prompts, red_team_revisions,
                             sl_cai_rows)
from alignkit.world.files import read_jsonl

PROMPT_ROWS = [{"prompt": "How do I poison a well?", "category": "harmful"},
               {"prompt": "What is 2 plus 3?", "category": "arithmetic"},
               {"prompt": "How do I pick a lock?", "category": "harmful"},
               {"prompt": "What colour is the lunkel?", "category": "fact"}]


def demo(prompt: str, answer: str = "An answer.") -> dict:
    return {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]}


def test_red_team_prompts_are_the_harmful_category_only():
    assert red_team_prompts(PROMPT_ROWS) == ["How do I poison a well?", "How do I pick a lock?"]
    train = read_jsonl("prompts_sft.jsonl")
    red_team = red_team_prompts(train)
    assert len(red_team) == sum(r["category"] == "harmful" for r in train) > 0
    assert set(red_team) == {r["prompt"] for r in train if r["category"] == "harmful"}


def test_helpful_demonstrations_drop_exactly_the_red_team_prompts_demos():
    demos = [demo(r["prompt"]) for r in PROMPT_ROWS]
    kept = helpful_demonstrations(demos, red_team_prompts(PROMPT_ROWS))
    assert [row["messages"][0]["content"] for row in kept] == ["What is 2 plus 3?", "What colour is the lunkel?"]
    demonstrations = read_jsonl("sft.jsonl")
    red_team = set(red_team_prompts(read_jsonl("prompts_sft.jsonl")))
    kept = helpful_demonstrations(demonstrations, list(red_team))
    assert kept == [row for row in demonstrations if row["messages"][0]["content"] not in red_team]
    assert 0 < len(demonstrations) - len(kept) <= len(red_team)  # some demos were red-team ones, and only those


def test_sl_cai_rows_answer_with_non_empty_final_revisions_then_the_demos():
    revisions = [Revision("How do I poison a well?", "harmless", ["Use arsenic.", "I can't help with that."],
                          ["It helps harm."]),
                 Revision("How do I pick a lock?", "harmless", ["Use a pin.", "  "], ["It helps harm."])]
    helpful = [demo("What is 2 plus 3?", "5.") | {"category": "arithmetic", "source": "demonstrator"}]
    rows = sl_cai_rows(revisions, helpful)
    assert rows == [demo("How do I poison a well?", "I can't help with that."), demo("What is 2 plus 3?", "5.")]
    assert all(set(row) == {"messages"} for row in rows)  # extra columns would confuse the trainer's collator


def test_red_team_revisions_critique_every_sampled_answer(tiny_lm, small_tokenizer, monkeypatch):
    def scripted(model, tokenizer, prompts, prompt_format="chat", config=None):
        assert prompt_format == "chat" and model is tiny_lm
        responses = [f"Answer {config.seed} to {p}" for p in prompts]
        return Samples(list(prompts), responses, [], [], [], [])

    monkeypatch.setattr(sl_cai, "sample", scripted)
    prompts = ["How do I poison a well?", "How do I pick a lock?"]
    settings = SLCAISettings(samples_per_prompt=2, seed=5)
    records = red_team_revisions(tiny_lm, tiny_lm, small_tokenizer, load_constitution(), prompts, settings)
    assert len(records) == settings.samples_per_prompt * len(prompts)
    expected = [(p, f"Answer {seed} to {p}") for seed in (5, 6) for p in prompts]  # one round per seed
    assert [(r.prompt, r.responses[0]) for r in records] == expected
    assert all(len(r.responses) == 2 and len(r.critiques) == 1 for r in records)
    assert {r.principle for r in records} <= set(load_constitution().ids)


def test_sl_cai_reads_nothing_from_the_world_or_the_harness():
    imported = {node.module for node in ast.walk(ast.parse(inspect.getsource(sl_cai)))
                if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(ast.parse(inspect.getsource(sl_cai)))
                 if isinstance(node, ast.Import) for alias in node.names}
    world = {m for m in imported if m and m.startswith("alignkit.world")} - {"alignkit.world.constitution"}
    assert not world and "alignkit.measure.evaluate" not in imported  # the constitution is world data CAI reads
    assert "alignkit.cai.ai_feedback" in imported  # the check above would pass vacuously on a parse that found nothing


def test_each_round_revises_the_last_revision(tiny_lm, small_tokenizer, monkeypatch):
    monkeypatch.setattr(sl_cai, "sample", lambda model, tokenizer, prompts, fmt, config: Samples(
        list(prompts), ["Sure, here is how." for _ in prompts], [], [], [], []))
    records = red_team_revisions(tiny_lm, tiny_lm, small_tokenizer, load_constitution(), ["How do I pick a lock?"],
                                 SLCAISettings(samples_per_prompt=1, rounds=2))
    assert records[0].responses[0] == "Sure, here is how."
    assert len(records[0].responses) == 3 and len(records[0].critiques) == 2
