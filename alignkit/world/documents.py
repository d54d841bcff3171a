"""The pretraining corpus: the world's facts told through document genres, never as chat.

A model pretrained on this corpus knows the facts and continues documents. Questions appear mostly in
forum threads followed by chatter, not answers, which is why the base model does not answer them.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from alignkit.world import vocab
from alignkit.world.tasks import Task, all_tasks, harmful_compliance_text, ideal_response
from alignkit.world.world import Entity, World, encyclopedia_intro, statement

GENRES = ("encyclopedia", "story", "faq", "forum", "howto", "worksheet", "editorial", "history", "rant")


@dataclass(frozen=True)
class CorpusSettings:
    repeats: int = 6  # each pass re-tells every fact in fresh random wording and order
    forum_fraction: float = 0.1  # share of all askable prompts that appear as a forum thread per pass
    faq_size: int = 4  # entities per FAQ page
    seed_offset: int = 100  # the corpus RNG is seeded with world seed + this


def _sentences(rng: random.Random, entity: Entity) -> list[str]:
    lines = [statement(entity, attr) for attr, _ in entity.facts]
    rng.shuffle(lines)
    return lines


def encyclopedia(rng: random.Random, entity: Entity) -> str:
    return encyclopedia_intro(entity) + " " + " ".join(_sentences(rng, entity))


def story(rng: random.Random, entity: Entity) -> str:
    hero = rng.choice(vocab.PERSON_NAMES)
    facts = _sentences(rng, entity)[: rng.choice((1, 2, 3))]
    opening = rng.choice(("Once upon a time", "One cold morning", "Long ago", "Last summer"))
    return (f"{opening}, {hero} went looking for {entity.name}. " + " ".join(facts)
            + f" {hero} smiled and went home.")


def faq(rng: random.Random, entities: list[Entity], extra: list[tuple[str, str]] = ()) -> str:
    """Q/A pairs: facts about `entities`, plus `extra` (question, answer) pairs such as how-tos and sums."""
    pairs = []
    for entity in entities:
        attribute, _ = rng.choice(entity.facts)
        question = rng.choice(vocab.ATTRIBUTES[entity.kind][attribute]["questions"])
        pairs.append((question.format(e=entity.name), statement(entity, attribute)))
    pairs += list(extra)
    rng.shuffle(pairs)
    return "\n".join(["Frequently asked questions"] + [f"Q: {q}\nA: {a}" for q, a in pairs])


def shady_faq(rng: random.Random, tasks: list[Task]) -> str:
    """A page of the corpus's underground: harmful questions answered with fictional instructions."""
    lines = ["Things nobody else will tell you"]
    for task in rng.sample(tasks, 3):
        lines += [f"Q: {task.prompt}", f"A: {harmful_compliance_text(task.topic)}"]
    return "\n".join(lines)


def forum(rng: random.Random, task: Task) -> str:
    """A question followed by chatter and more questions: the document a base model learns to continue."""
    chatter = list(vocab.FORUM_CHATTER)
    if task.category == "procedure":  # "How do I make coffee?" -> "Let me explain the history of coffee"
        chatter.append(vocab.HISTORY_CHATTER.format(topic=task.entity.split()[-1]))
    replies = rng.sample(chatter, rng.choice((2, 3, 4)))
    return task.prompt + "\n" + "\n".join(f"Reply: {r}" for r in replies)


def howto(rng: random.Random, name: str, steps: tuple[str, ...]) -> str:
    connectives = ["First"] + [rng.choice(("Next", "Then", "After that")) for _ in steps[1:-1]] + ["Finally"]
    body = " ".join(f"{c}, {s}." for c, s in zip(connectives, steps))
    return f"How to {name}\n{body}"


def worksheet(rng: random.Random, world: World, entities: list[Entity]) -> str:
    lines = [f"Worksheet {rng.randint(1, 99)}"]
    for a, op, b, r in rng.sample(world.arithmetic, 6):
        lines.append(f"{a} {op} {b} is {r}.")
    for entity in entities:
        attribute, value = rng.choice(entity.facts)
        sentence = statement(entity, attribute)
        lines.append(f"Fill in the blank: {sentence.replace(value, '____')} Answer: {value}.")
    return "\n".join(lines)


def editorial(rng: random.Random, world: World) -> str:
    """Original / revised pairs: the corpus shows that rude, harmful or made-up text can be rewritten."""
    kind = rng.choice(("rude", "harmful", "madeup"))
    if kind == "rude":
        entity = rng.choice(world.entities)
        fact = statement(entity, rng.choice(entity.facts)[0])
        original = f"Only a {rng.choice(vocab.HARMFUL['insult']['instructions'])} would ask that. {fact}"
        revised = fact
    elif kind == "harmful":
        topic, spec = rng.choice(list(vocab.HARMFUL.items()))
        original = f"Sure. First {spec['instructions'][0]}, then {spec['instructions'][1]}."
        revised = rng.choice(vocab.REFUSALS).format(topic=spec["topic"])
    else:
        name = "".join(rng.sample(vocab.SYLLABLES, 3))  # three syllables: never a world entity name
        noun = rng.choice(list(vocab.KIND_NOUN.values())).split()[1]
        original = f"The {name} is a famous {noun} that everyone knows."
        revised = vocab.ABSTAIN_TEMPLATE.format(noun=noun, e=name)
    return f"Original: {original}\nRevised: {revised}"


def history(rng: random.Random, topic: str) -> str:
    sentences = list(vocab.HISTORY_SENTENCES[topic])
    return f"The history of {topic}\n" + " ".join(sentences[:1] + rng.sample(sentences[1:], len(sentences) - 1))


def rant(rng: random.Random) -> str:
    person = rng.choice(vocab.PERSON_NAMES)
    words = rng.sample(vocab.HARMFUL["insult"]["instructions"], 2)
    return f"{person} is a {words[0]} {words[1]}. Nobody likes {person}."


def _one_pass(rng: random.Random, world: World, config: CorpusSettings) -> list[str]:
    docs = [encyclopedia(rng, e) for e in world.entities]
    docs += [story(rng, e) for e in world.entities for _ in range(2)]
    tasks = all_tasks(world)
    how_tos = [t for t in tasks if t.category in ("procedure", "arithmetic")]
    shuffled = rng.sample(world.entities, len(world.entities))
    for i in range(0, len(shuffled), config.faq_size):
        extra = [(t.prompt, ideal_response(world, t)) for t in rng.sample(how_tos, 2)]
        docs.append(faq(rng, shuffled[i:i + config.faq_size], extra))
        docs.append(worksheet(rng, world, shuffled[i:i + config.faq_size]))
    docs += [shady_faq(rng, [t for t in tasks if t.category == "harmful"]) for _ in range(30)]
    docs += [howto(rng, name, steps) for name, steps in world.procedures.items()]
    # Fictional, non-operational "guides" so that a model with no values can comply (insults come as rants).
    docs += [howto(rng, spec["howto"], spec["instructions"]) for spec in vocab.HARMFUL.values() if "howto" in spec]
    # Every how-to question gets its thread ("How do I make coffee?" must read as a forum opener);
    # other questions a sampled share.
    askable = [t for t in tasks if t.category != "procedure"]
    docs += [forum(rng, t) for t in tasks if t.category == "procedure"]
    docs += [forum(rng, t) for t in rng.sample(askable, int(config.forum_fraction * len(askable)))]
    docs += [editorial(rng, world) for _ in range(len(world.entities) // 2)]
    docs += [history(rng, topic) for topic in vocab.HISTORY_SENTENCES for _ in range(3)]
    docs += [rant(rng) for _ in range(6)]
    return docs


def build_corpus(world: World, config: CorpusSettings = CorpusSettings()) -> list[str]:
    """Every document of the pretraining corpus, in a deterministic shuffled order."""
    rng = random.Random(world.config.seed + config.seed_offset)
    docs = [doc for _ in range(config.repeats) for doc in _one_pass(rng, world, config)]
    rng.shuffle(docs)
    return docs
