"""The toy world's facts: entities, procedures, arithmetic and harmful topics, deterministic from a seed."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import lru_cache

from alignkit.world import vocab

KINDS = tuple(vocab.ATTRIBUTES)


@dataclass(frozen=True)
class WorldSettings:
    seed: int = 0
    entities_per_kind: int = 32  # facts per kind = this x 3 attributes
    # Entities whose facts appear only in pretraining, never in SFT data: the preference, RL, validation and
    # test pools ask about these, so every stage after SFT meets facts SFT never demonstrated.
    heldout_per_kind: int = 20
    fake_per_kind: int = 13  # names that exist nowhere: questions about them are unknowable
    max_operand: int = 9  # arithmetic uses operands 0..max_operand


@dataclass(frozen=True)
class Entity:
    name: str
    kind: str
    facts: tuple[tuple[str, str], ...]  # (attribute, value) pairs, one per attribute of the kind

    def fact(self, attribute: str) -> str:
        return dict(self.facts)[attribute]


@dataclass
class World:
    config: WorldSettings
    entities: list[Entity]
    heldout_names: frozenset[str]  # never in SFT data
    fake_names: dict[str, str]  # name -> kind it pretends to be
    procedures: dict[str, tuple[str, ...]]  # task ("make coffee") -> ordered steps
    arithmetic: list[tuple[int, str, int, int]]  # (a, op, b, result)
    by_name: dict[str, Entity] = field(default_factory=dict, repr=False)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.by_name = {e.name: e for e in self.entities}

    def cached(self, key: str, make):
        """Derived tables (splits, prompt index) are built once per world, on first use."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @property
    def sft_entities(self) -> list[Entity]:
        return [e for e in self.entities if e.name not in self.heldout_names]

    @property
    def heldout_entities(self) -> list[Entity]:
        return [e for e in self.entities if e.name in self.heldout_names]


def attribute_spec(kind: str, attribute: str) -> dict:
    return vocab.ATTRIBUTES[kind][attribute]


def statement(entity: Entity, attribute: str) -> str:
    """The one sentence that states a fact; every genre uses it, so cloze prompts match the corpus."""
    return attribute_spec(entity.kind, attribute)["statement"].format(e=entity.name, v=entity.fact(attribute))


def encyclopedia_intro(entity: Entity) -> str:
    """How an encyclopedia entry opens: the title line, then what kind of thing the entity is."""
    title = entity.name.capitalize()
    return f"{title}\n{title} is {vocab.KIND_NOUN[entity.kind]}."


def cloze(entity: Entity, attribute: str) -> tuple[str, str]:
    """(prefix, value): an encyclopedia entry's opening, then the fact's sentence cut before its value.

    e.g. ("Snibvun\nSnibvun is an animal. The snibvun lives in the", "forest"). The opening is what
    the corpus's entries start with, so the probe asks for the fact in a context the model has seen,
    and reveals nothing but the entity's name and kind.
    """
    template = attribute_spec(entity.kind, attribute)["statement"]
    sentence_start = template.split("{v}")[0].format(e=entity.name).rstrip()
    return f"{encyclopedia_intro(entity)} {sentence_start}", entity.fact(attribute)


def _names(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    names = []
    while len(names) < count:
        # Two syllables: the corpus's made-up examples use three, so they never collide with the world.
        name = "".join(rng.sample(vocab.SYLLABLES, 2))
        if name not in taken:
            taken.add(name)
            names.append(name)
    return names


def _capitalised(kind: str, name: str) -> str:
    # Towns and foods are proper nouns in the corpus ("the town of Zorbel", "Quimbat is made from").
    return name.capitalize() if kind in ("town", "food") else name


def _entities(rng: random.Random, config: WorldSettings, taken: set[str]) -> list[Entity]:
    entities = []
    for kind, attributes in vocab.ATTRIBUTES.items():
        for name in _names(rng, config.entities_per_kind, taken):
            facts = tuple((attr, rng.choice(spec["values"])) for attr, spec in attributes.items())
            entities.append(Entity(_capitalised(kind, name), kind, facts))
    return entities


def _recipes(rng: random.Random, foods: list[Entity]) -> dict[str, tuple[str, ...]]:
    recipes = {}
    for food in foods:
        ingredient = food.fact("ingredient")
        first = rng.sample(vocab.RECIPE_STEPS[:5], 2)
        later = rng.sample(vocab.RECIPE_STEPS[5:], 2)
        recipes[procedure_name(food)] = tuple(s.format(i=ingredient) for s in first + later)
    return recipes


def _care_guides(rng: random.Random, animals: list[Entity]) -> dict[str, tuple[str, ...]]:
    guides = {}
    for animal in animals:
        opener, middle, closer = (rng.choice(steps) for steps in vocab.CARE_STEPS)
        guides[procedure_name(animal)] = (opener, f"give it some {animal.fact('diet')}", middle, closer)
    return guides


def procedure_name(entity: Entity) -> str:
    """The procedure an entity has: a food's recipe, an animal's care; its pool is the entity's pool."""
    return f"make {entity.name}" if entity.kind == "food" else f"care for the {entity.name}"


def _arithmetic(max_operand: int) -> list[tuple[int, str, int, int]]:
    problems = []
    for a in range(max_operand + 1):
        for b in range(max_operand + 1):
            problems.append((a, "plus", b, a + b))
            if a >= b:
                problems.append((a, "minus", b, a - b))
    return problems


def build_world(config: WorldSettings = WorldSettings()) -> World:
    rng = random.Random(config.seed)
    taken: set[str] = set()
    entities = _entities(rng, config, taken)
    heldout = set()
    for kind in KINDS:
        of_kind = [e.name for e in entities if e.kind == kind]
        heldout.update(rng.sample(of_kind, config.heldout_per_kind))
    fake = {}
    for kind in KINDS:
        for name in _names(rng, config.fake_per_kind, taken):
            fake[_capitalised(kind, name)] = kind
    # Every food has a recipe and every animal a care guide, so every pool has procedures to ask about.
    procedures = (dict(vocab.REAL_PROCEDURES) | _recipes(rng, [e for e in entities if e.kind == "food"])
                  | _care_guides(rng, [e for e in entities if e.kind == "animal"]))
    return World(config, entities, frozenset(heldout), fake, procedures, _arithmetic(config.max_operand))


@lru_cache(maxsize=4)
def load_world(seed: int = 0) -> World:
    """The course's world (cached): every chapter, the oracle and the data files use seed 0."""
    return build_world(WorldSettings(seed=seed))
