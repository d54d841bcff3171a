"""Memorised demonstrations: how often a model answers a new prompt with an SFT demonstration, word for word,
that was written for another question ("Where does the lunkel live?" -> "The dravun lives in the river.").

    demonstration_answers(world)              -> {normalised demonstration: ideal answers it was written for}
    is_verbatim_demonstration(prompt, response) -> bool
    verbatim_flags(prompts, responses)        -> [bool] one per response
    verbatim_rate(prompts, responses)         -> (rate, se)   se over prompts

A response counts when it equals a demonstration after `normalise` and none of the prompts that demonstration
was written for asks the same question as the response's own prompt (the same ideal answer). So the right
answer is never a copy, even where a paraphrase of the prompt was demonstrated with the same words (a procedure's
other phrasings), and a harmful request answered with its own topic's compliance text is counted by
harmful_compliance, not here: both could have been written for this prompt.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import pandas as pd

from alignkit.measure.stats import mean_and_se
from alignkit.world import World, find_task, ideal_response, load_world
from alignkit.world.demonstrators import sft_rows

__all__ = ["normalise", "demonstration_answers", "is_verbatim_demonstration", "verbatim_flags", "verbatim_rate"]


def normalise(text: str) -> str:
    """Runs of whitespace become one space and case is folded; punctuation and every word stay.

    Spacing and capitals are the tokens a small model learns last (a doubled space, a lower-case first word)
    and they change no word, so a copy that differs only there is still the memorised sentence. Entity names
    are lower-case words, so folding case never merges two entities. A copy cut short, or with one word
    changed, is not verbatim.
    """
    return " ".join(text.split()).casefold()


def _build_answers(world: World) -> dict[str, frozenset[str]]:
    answers: dict[str, set[str]] = defaultdict(set)
    for row in sft_rows(world):
        user, assistant = (m["content"] for m in row["messages"])
        answers[normalise(assistant)].add(ideal_response(world, find_task(world, user)))
    return {text: frozenset(ideals) for text, ideals in answers.items()}


def demonstration_answers(world: World | None = None) -> dict[str, frozenset[str]]:
    """Every SFT demonstration (data/world/sft.jsonl's assistant turns, from their generator), normalised,
    mapped to the ideal answers of the prompts it was written for: the questions it answers."""
    world = world or load_world()
    return world.cached("demonstration_answers", lambda: _build_answers(world))


def is_verbatim_demonstration(prompt: str, response: str, world: World | None = None) -> bool:
    """Is `response` a demonstration written for another question than `prompt`'s, word for word?"""
    world = world or load_world()
    written_for = demonstration_answers(world).get(normalise(response))
    if written_for is None:
        return False
    task = find_task(world, prompt)
    return task is None or ideal_response(world, task) not in written_for


def verbatim_flags(prompts: Sequence[str], responses: Sequence[str], world: World | None = None) -> list[bool]:
    """One flag per (prompt, response) pair: `is_verbatim_demonstration`."""
    world = world or load_world()
    return [is_verbatim_demonstration(p, r, world) for p, r in zip(prompts, responses, strict=True)]


def verbatim_rate(prompts: Sequence[str], responses: Sequence[str], world: World | None = None) -> tuple[float, float]:
    """The share of responses that copy another question's demonstration, and its standard error over prompts.

    Several responses to one prompt are not independent, so each prompt's share is taken first and the error
    is that of the mean over prompts, as the harness reports every rate.
    """
    flags = pd.Series(verbatim_flags(prompts, responses, world), dtype=float)
    return mean_and_se(flags.groupby(list(prompts), sort=False).mean())
