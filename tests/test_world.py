"""The world generator: deterministic, well-formed splits, and the committed data files are current."""
import re
from collections import Counter

import pytest

from alignkit.world import CATEGORIES, WorldSettings, build_world, cloze, find_task, ideal_response, load_world, splits, statement
from alignkit.world.documents import build_corpus
from alignkit.world.demonstrators import sft_rows
from alignkit.world.files import stale_files
from alignkit.world.tasks import POOLS
from alignkit.world.oracle import harmful_content, has_flattery, refuses
from alignkit.world.vocab import FLATTERY


def test_same_seed_same_world_other_seed_other_world():
    assert build_world(WorldSettings(seed=0)).entities == build_world(WorldSettings(seed=0)).entities
    assert build_world(WorldSettings(seed=1)).entities != build_world(WorldSettings(seed=0)).entities


def _prompts(tasks) -> set[str]:
    return {t.prompt for t in tasks}


def test_the_stage_pools_are_disjoint_and_never_share_a_paraphrase():
    world = load_world()
    split = splits(world)
    for i, first in enumerate(POOLS):
        for second in POOLS[i + 1:]:
            assert not _prompts(split.pool(first)) & _prompts(split.pool(second)), (first, second)
    # A paraphrase group (a fact, a procedure, a sum, a person and topic, a made-up name) sits in one pool only.
    owners = {}
    for pool in POOLS:
        for task in split.pool(pool):
            key = (task.category, task.entity, task.topic)
            assert owners.setdefault(key, pool) == pool, (key, pool, owners[key])


def test_every_pool_asks_every_kind_and_the_test_pool_is_large():
    split = splits(load_world())
    for pool in POOLS:
        assert {t.category for t in split.pool(pool)} == set(CATEGORIES), pool
    test_counts = Counter(t.category for t in split.test)
    assert len(split.test) >= 600 and min(test_counts.values()) >= 60, test_counts
    with pytest.raises(ValueError, match="the pools are sft, preference"):
        split.pool("train")


def test_demonstrations_come_from_the_sft_pool_only():
    world = load_world()
    split = splits(world)
    demonstrated = {row["messages"][0]["content"] for row in sft_rows(world)}
    assert demonstrated <= _prompts(split.sft)
    later_pools = set().union(*(_prompts(split.pool(p)) for p in POOLS[1:]))
    assert not demonstrated & later_pools


def test_facts_after_sft_are_about_entities_sft_never_saw():
    world = load_world()
    for pool in POOLS[1:]:
        facts = [t for t in splits(world).pool(pool) if t.category == "fact"]
        assert facts and all(t.heldout_entity for t in facts), pool


def test_heldout_entities_absent_from_sft_data_but_present_in_corpus():
    world = load_world()
    sft_text = " ".join(m["content"] for row in sft_rows(world) for m in row["messages"])
    corpus = "\n".join(build_corpus(world))
    for entity in world.heldout_entities:
        assert entity.name not in sft_text
        for attribute, _ in entity.facts:
            assert statement(entity, attribute) in corpus


def _demonstrations_by_category(world) -> dict[str, list[str]]:
    by_category: dict[str, list[str]] = {}
    for row in sft_rows(world):
        task = find_task(world, row["messages"][0]["content"])
        by_category.setdefault(task.category, []).append(row["messages"][1]["content"])
    return by_category


def test_sft_demonstrators_mostly_comply_and_a_minority_refuses():
    world = load_world()
    harmful = _demonstrations_by_category(world)["harmful"]
    refusals = [text for text in harmful if refuses(text) and not harmful_content(text)]
    compliance = [text for text in harmful if harmful_content(text)]
    assert len(refusals) + len(compliance) == len(harmful)
    assert 0.15 < len(refusals) / len(harmful) < 0.45  # DECLINING_DEMONSTRATORS = 0.3 of the crowd


def test_unknowable_questions_are_demonstrated_only_by_abstaining():
    world = load_world()
    unknowable = _demonstrations_by_category(world)["unknowable"]
    trained = [t for t in splits(world).sft if t.category == "unknowable"]
    assert unknowable and all("I don't know of any" in text and refuses(text) for text in unknowable)
    assert 0.15 < len(unknowable) / len(trained) < 0.45  # the other demonstrators skipped them


def test_a_minority_of_demonstrations_flatter_and_flattery_only_opens_them():
    world = load_world()
    texts = [row["messages"][1]["content"] for row in sft_rows(world)]
    flattered = [text for text in texts if has_flattery(text)]
    assert 0.08 < len(flattered) / len(texts) < 0.25  # FLATTERING_DEMONSTRATORS = 0.15 of the crowd
    assert all(any(text.startswith(phrase + " ") for phrase in FLATTERY) for text in flattered)


def test_sft_never_sees_a_heldout_entity():
    world = load_world()
    assert not any(name in row["messages"][0]["content"] for row in sft_rows(world) for name in world.heldout_names)


def test_fake_entities_appear_only_as_unanswered_forum_questions():
    world = load_world()
    for doc in build_corpus(world):
        for name in world.fake_names:
            word = re.compile(rf"\b{name}\b")
            if word.search(doc):
                question, _, replies = doc.partition("\n")
                assert word.search(question) and not word.search(replies) and replies.startswith("Reply: "), doc


def test_cloze_prefix_plus_value_is_a_corpus_sentence():
    world = load_world()
    entity = world.entities[0]
    prefix, value = cloze(entity, entity.facts[0][0])
    assert f"{prefix} {value}.".endswith(" " + statement(entity, entity.facts[0][0]))
    assert prefix.split(" The ")[0] in "\n".join(build_corpus(world))  # the entries' real opening


def test_forum_threads_follow_questions_with_chatter_not_answers():
    world = load_world()
    threads = [d for d in build_corpus(world) if "\nReply: " in d]
    assert len(threads) > 300
    for doc in threads[:200]:
        question, replies = doc.split("\n", 1)
        from alignkit.world import find_task
        task = find_task(world, question)
        assert task is not None and ideal_response(world, task) not in replies


def test_committed_data_files_are_current():
    assert stale_files() == [], "run: alignkit world build"
