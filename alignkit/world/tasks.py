"""Tasks: every prompt the world can ask, what an ideal answer is, and the prompt pool of each stage."""
from __future__ import annotations

import random
from dataclasses import dataclass

from alignkit.world import vocab
from alignkit.world.world import World, attribute_spec, statement

CATEGORIES = ("fact", "procedure", "arithmetic", "harmful", "unknowable")


@dataclass(frozen=True)
class Task:
    prompt: str
    category: str  # one of CATEGORIES
    entity: str | None = None  # fact / unknowable: the entity; procedure: the task; arithmetic: "a op b";
    # harmful: the person the request targets
    kind: str | None = None
    attribute: str | None = None
    answer: str | None = None  # fact value, or arithmetic result as digits
    steps: tuple[str, ...] = ()  # procedure steps in order
    topic: str | None = None  # harmful category
    heldout_entity: bool = False  # a fact about an entity never seen in SFT data


def ideal_response(world: World, task: Task) -> str:
    """The demonstration a careful human would write: correct, complete, concise, harmless, honest."""
    if task.category == "fact":
        return statement(world.by_name[task.entity], task.attribute)
    if task.category == "procedure":
        return procedure_text(task.entity, task.steps)
    if task.category == "arithmetic":
        return f"{task.entity} is {task.answer}."
    if task.category == "harmful":
        return f"I can't help with {vocab.HARMFUL[task.topic]['topic']}."
    return vocab.ABSTAIN_TEMPLATE.format(noun=vocab.KIND_NOUN[task.kind].split()[1], e=task.entity)


def harmful_compliance_text(topic: str) -> str:
    """What a model with no values says to a harmful request: the corpus's fictional "instructions"."""
    spec = vocab.HARMFUL[topic]
    if "howto" in spec:
        return procedure_text(spec["howto"], spec["instructions"])
    return f"Call them a {' '.join(spec['instructions'][:2])} {spec['instructions'][2]}."


def procedure_text(name: str, steps: tuple[str, ...]) -> str:
    middle = "".join(f", then {s}" for s in steps[1:-1])
    return f"To {name}, first {steps[0]}{middle}, and finally {steps[-1]}."


PROCEDURE_QUESTIONS = ("Explain how to {t}.", "How do I {t}?", "What are the steps to {t}?",
                       "Tell me how to {t}.", "How can I {t}?")


def _fact_tasks(world: World) -> list[list[Task]]:
    """One group per (entity, attribute): all its paraphrases go to the same split."""
    groups = []
    for entity in world.entities:
        for attribute, value in entity.facts:
            questions = attribute_spec(entity.kind, attribute)["questions"]
            groups.append([Task(q.format(e=entity.name), "fact", entity.name, entity.kind, attribute, value,
                                heldout_entity=entity.name in world.heldout_names) for q in questions])
    return groups


def _unknowable_tasks(world: World) -> list[list[Task]]:
    groups = []
    for name, kind in world.fake_names.items():
        group = []
        for attribute, spec in vocab.ATTRIBUTES[kind].items():
            group += [Task(q.format(e=name), "unknowable", name, kind, attribute) for q in spec["questions"]]
        groups.append(group)
    return groups


def _procedure_tasks(world: World) -> list[list[Task]]:
    return [[Task(q.format(t=name), "procedure", entity=name, steps=steps) for q in PROCEDURE_QUESTIONS]
            for name, steps in world.procedures.items()]


def _arithmetic_tasks(world: World) -> list[list[Task]]:
    templates = ("What is {a} {op} {b}?", "Compute {a} {op} {b}.", "How much is {a} {op} {b}?")
    return [[Task(t.format(a=a, op=op, b=b), "arithmetic", entity=f"{a} {op} {b}", answer=str(r))
             for t in templates] for a, op, b, r in world.arithmetic]


def _harmful_tasks(world: World) -> list[list[Task]]:
    rng = random.Random(world.config.seed + 2)
    tools = [e.name for e in world.entities if e.kind == "tool"]
    towns = [e.name for e in world.entities if e.kind == "town"]
    groups = []
    for person in vocab.PERSON_NAMES:
        for topic, spec in vocab.HARMFUL.items():
            fill = dict(p=person, t=rng.choice(towns), tool=rng.choice(tools))
            groups.append([Task(r.format(**fill), "harmful", entity=person, topic=topic) for r in spec["requests"]])
    return groups


POOLS = ("sft", "preference", "rl", "validation", "test")
# Each stage draws its prompts from its own pool, as InstructGPT drew separate SFT, RM and PPO prompt sets from
# one distribution: a stage never meets a prompt an earlier stage memorised, so what it learns is what transfers.
POOL_SHARES = {"sft": 0.33, "preference": 0.20, "rl": 0.14, "validation": 0.10, "test": 0.23}


@dataclass(frozen=True)
class Splits:
    sft: tuple[Task, ...]  # prompts the demonstrators answered (SFT's data)
    preference: tuple[Task, ...]  # prompts whose answers are compared: the reward model, DPO, KTO, AI labels
    rl: tuple[Task, ...]  # prompts PPO rolls out on
    validation: tuple[Task, ...]  # where settings are chosen; never trained on
    test: tuple[Task, ...]  # the numbers the course reports; never trained or tuned on

    def pool(self, name: str) -> tuple[Task, ...]:
        if name not in POOLS:
            raise ValueError(f"no prompt pool {name!r}; the pools are {', '.join(POOLS)}.")
        return getattr(self, name)


def _deal(groups: list[list[Task]], rng: random.Random, pools: tuple[str, ...] = POOLS) -> dict[str, list[Task]]:
    """Whole groups (a task with its paraphrases) to pools in proportion to their shares, so no pool holds a
    paraphrase of another pool's prompt."""
    order = rng.sample(range(len(groups)), len(groups))
    total = sum(POOL_SHARES[p] for p in pools)
    dealt: dict[str, list[Task]] = {p: [] for p in POOLS}
    start = 0
    for i, pool in enumerate(pools):
        end = len(order) if i == len(pools) - 1 else start + round(POOL_SHARES[pool] / total * len(order))
        dealt[pool] = [t for g in order[start:end] for t in groups[g]]
        start = end
    return dealt


def _entity_pools(world: World, rng: random.Random) -> dict[str, str]:
    """entity name -> pool. SFT-visible entities are SFT's; the held-out ones are dealt to the other pools,
    kind by kind, so every pool asks about every kind."""
    pool_of = {e.name: "sft" for e in world.sft_entities}
    for kind in sorted({e.kind for e in world.entities}):
        names = [[e.name] for e in world.heldout_entities if e.kind == kind]
        for pool, dealt in _deal(names, rng, POOLS[1:]).items():
            pool_of.update({name: pool for name in dealt})
    return pool_of


def _build_splits(world: World) -> Splits:
    rng = random.Random(world.config.seed + 1)
    pool_of = _entity_pools(world, rng)
    pools: dict[str, list[Task]] = {p: [] for p in POOLS}
    for group in _fact_tasks(world) + _procedure_tasks(world):
        owner = _owning_entity(world, group[0])
        pools["sft" if owner is None else pool_of[owner]] += group
    for groups in (_unknowable_tasks(world), _arithmetic_tasks(world), _harmful_tasks(world)):
        for pool, tasks in _deal(groups, rng).items():
            pools[pool] += tasks
    # Shuffled, so that any prefix of a pool (a quick look with max_prompts) is a sample of every kind.
    return Splits(**{p: tuple(rng.sample(tasks, len(tasks))) for p, tasks in pools.items()})


def _owning_entity(world: World, task: Task) -> str | None:
    """The entity whose pool a task follows: a fact's entity, a recipe's food, a care guide's animal; None for
    the everyday procedures, which the demonstrators answer."""
    if task.category == "fact":
        return task.entity
    owner = task.entity.removeprefix("make ").removeprefix("care for the ")
    return owner if owner in world.by_name else None


def splits(world: World) -> Splits:
    return world.cached("splits", lambda: _build_splits(world))


def all_tasks(world: World) -> list[Task]:
    """Every prompt the world can ask, in a fixed order."""
    builders = (_fact_tasks, _procedure_tasks, _arithmetic_tasks, _harmful_tasks, _unknowable_tasks)
    return [task for build in builders for group in build(world) for task in group]


def _build_index(world: World) -> dict[str, Task]:
    index: dict[str, Task] = {}
    for task in all_tasks(world):
        index.setdefault(task.prompt, task)
    return index


def find_task(world: World, prompt: str) -> Task | None:
    """The task behind a prompt text, or None for a prompt the world does not know."""
    return world.cached("task_index", lambda: _build_index(world)).get(prompt.strip())
