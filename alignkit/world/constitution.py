"""The constitution: principles a feedback model reads to critique, revise and compare responses (chapter 05).

    constitution = load_constitution()                  # data/constitution.yaml
    principle = constitution.draw(random.Random(0))     # SL-CAI draws one per critique
    edited = constitution.reworded("harmless", comparison="Which of these responses is more harmful?")

The schema is documented at the top of data/constitution.yaml. Principles are plain text on purpose:
the feedback model reads the words, so an edit changes its labels; nothing here interprets them.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from alignkit.infra.errors import ConstitutionError
from alignkit.infra.paths import NO_COURSE_DATA, constitution_path, has_course_data
from alignkit.infra.yaml_files import UniqueKeyLoader

__all__ = ["CONSTITUTION_PATH", "FIELDS", "comparison_text", "Principle", "Constitution", "load_constitution", "parse_constitution"]

CONSTITUTION_PATH = constitution_path()
FIELDS = ("critique", "revision", "comparison")
SCHEMA_VERSION = 1
_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_FIX = "Fix it following the schema at the top of data/constitution.yaml."


def comparison_text(question: str, prompt: str, option_a: str, option_b: str) -> str:
    """A multiple-choice comparison as the feedback model reads it, and as the corpus's reviews are written
    (the layout of the CAI paper's appendix): the conversation, the question, the two options."""
    return f"Consider this conversation. Human: {prompt} {question} Options: (A) {option_a} (B) {option_b}"


@dataclass(frozen=True)
class Principle:
    id: str
    critique: str  # asks the model to criticise its last response
    revision: str  # asks it to rewrite that response
    comparison: str  # the (A)/(B) question the feedback model answers


@dataclass(frozen=True)
class Constitution:
    principles: tuple[Principle, ...]
    source: str = "<memory>"

    def __getitem__(self, principle_id: str) -> Principle:
        for principle in self.principles:
            if principle.id == principle_id:
                return principle
        raise KeyError(f"no principle {principle_id!r} in {self.source}; there are {self.ids}")

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.principles]

    def draw(self, rng: random.Random) -> Principle:
        """One principle at random, as SL-CAI and RL-CAI draw one per example."""
        return rng.choice(self.principles)

    def without(self, principle_id: str) -> "Constitution":
        """The constitution with one principle removed (chapter 05's edit experiment)."""
        self[principle_id]  # a clear KeyError for a typo
        kept = tuple(p for p in self.principles if p.id != principle_id)
        if not kept:
            raise ConstitutionError(f"removing {principle_id!r} would leave {self.source} with no principles.")
        return replace(self, principles=kept)

    def subset(self, principle_ids) -> "Constitution":
        """Only the named principles, in the file's order (e.g. those about harm, for red-team prompts)."""
        for principle_id in principle_ids:
            self[principle_id]  # a clear KeyError for a typo
        if not principle_ids:
            raise ConstitutionError(f"a subset of {self.source} needs at least one principle.")
        return replace(self, principles=tuple(p for p in self.principles if p.id in set(principle_ids)))

    def reworded(self, principle_id: str, **texts: str) -> "Constitution":
        """The constitution with some of one principle's texts replaced, e.g. its comparison reversed."""
        unknown = set(texts) - set(FIELDS)
        if unknown:
            raise ConstitutionError(f"a principle has no field {sorted(unknown)}; its fields are {list(FIELDS)}.")
        changed = replace(self[principle_id], **{k: _text(v, f"principle {principle_id!r} {k}", self.source)
                                                 for k, v in texts.items()})
        return replace(self, principles=tuple(changed if p.id == principle_id else p for p in self.principles))


def _text(value, where: str, source: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConstitutionError(f"{source}: {where} must be a non-empty text, not {value!r}. {_FIX}")
    return " ".join(value.split())


def _principle(entry, index: int, source: str) -> Principle:
    where = f"principle {index + 1}"
    if not isinstance(entry, dict):
        raise ConstitutionError(f"{source}: {where} must be a mapping with id, {', '.join(FIELDS)}; "
                                f"got {type(entry).__name__}. {_FIX}")
    principle_id = entry.get("id")
    if not isinstance(principle_id, str) or not _ID.fullmatch(principle_id):
        raise ConstitutionError(f"{source}: {where} needs an id of letters, digits, _ or -; got {principle_id!r}. {_FIX}")
    where = f"principle {index + 1} ({principle_id!r})"
    missing = [f for f in FIELDS if f not in entry]
    extra = sorted(set(entry) - {"id", *FIELDS})
    if missing or extra:
        problem = f"lacks {missing}" if missing else f"has unknown keys {extra}"
        raise ConstitutionError(f"{source}: {where} {problem}; each principle has id, {', '.join(FIELDS)}. {_FIX}")
    return Principle(principle_id, *(_text(entry[f], f"{where} {f}", source) for f in FIELDS))


def parse_constitution(data, source: str = "<memory>") -> Constitution:
    """Validate parsed YAML; every error names the source and the principle."""
    if not isinstance(data, dict) or data.get("version") != SCHEMA_VERSION:
        raise ConstitutionError(f"{source}: the file must be a mapping with 'version: {SCHEMA_VERSION}' and "
                                f"'principles:'. {_FIX}")
    entries = data.get("principles")
    if not isinstance(entries, list) or not entries:
        raise ConstitutionError(f"{source}: 'principles' must be a non-empty list. {_FIX}")
    principles = tuple(_principle(entry, i, source) for i, entry in enumerate(entries))
    seen: set[str] = set()
    for principle in principles:
        if principle.id in seen:
            raise ConstitutionError(f"{source}: principle id {principle.id!r} appears twice; ids must be unique.")
        seen.add(principle.id)
    return Constitution(principles, source)


def load_constitution(path: str | Path | None = None) -> Constitution:
    """Read and check a constitution file (default: data/constitution.yaml)."""
    default = path is None
    path = Path(path) if path is not None else CONSTITUTION_PATH
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        if default and not has_course_data():
            raise ConstitutionError(NO_COURSE_DATA.format(missing=path.parent)) from None
        raise ConstitutionError(f"no constitution at {path}: pass the path of a file following the schema in "
                                f"{CONSTITUTION_PATH.name}, or restore it with `git checkout data/constitution.yaml`.") from None
    except UnicodeDecodeError as err:
        raise ConstitutionError(f"{path} is not UTF-8 text (byte {err.start}); save it as UTF-8. {_FIX}") from None
    except OSError as err:  # a directory, no permission
        raise ConstitutionError(f"cannot read {path}: {err.strerror or err}; pass the path of the constitution file.") from None
    try:
        data = yaml.load(text, Loader=UniqueKeyLoader)  # a safe loader: a constitution cannot construct Python objects
    except yaml.YAMLError as err:
        raise ConstitutionError(f"{path} is not valid YAML: {' '.join(str(err).split())[:300]}. {_FIX}") from None
    except RecursionError:
        raise ConstitutionError(f"{path} is nested too deeply to be a constitution. {_FIX}") from None
    return parse_constitution(data, str(path))
