"""The arena: every model answers the same prompts, pairs are shown blind, votes become win rates beside the truth.

    arena = Arena(prompts, ["sft", "ppo", "dpo", "kto"])    # every model answers every prompt once
    arena                                                   # the widget in a live kernel; text in CI
    arena.vote("A")                                         # what clicking "A better" does
    win_rates(arena.votes(), arena.names)                   # per model: wins / games, 95% Wilson interval
    gold_ranking(arena)                                     # the oracle's ranking of the same responses
    agreement_with_gold(arena.votes())                      # how often a preference picked the higher gold

Each prompt shows one pair of different models. Pairs cycle through all unordered pairs, reshuffled every
round, so every pair meets about equally often; pairs and left/right are drawn up front from
random.Random(seed), so a new Arena with the same annotator, seed, models and prompts resumes where the
last one stopped. An Arena is a VotingSession over more than two models: votes go to the same file, one
fsynced line each (alignkit.infra.storage), in the same format, and the widget, feedback and errors are its.
"""
from __future__ import annotations

import itertools
import math
import random
from pathlib import Path
from typing import Any

import pandas as pd

from alignkit import quiz
from alignkit.infra.errors import AlignkitError
from alignkit.measure.evaluate import _mean_and_se
from alignkit.core.generation import SampleSettings
from alignkit.course.widgets import (VotingSession, _check_prompts, _is_preference, _prompt_format, _responses,
                              _score_table, read_votes, session_id)
from alignkit.world import load_world
from alignkit.world.labelers import Labeler, LabelerSettings
from alignkit.world.oracle import score

__all__ = ["Arena", "simulated_votes", "win_rates", "bradley_terry", "gold_ranking", "agreement_with_gold"]

Z95 = 1.959964  # the normal quantile of a two-sided 95% interval
NOT_PREFERENCES = {"ties": "tie", "both_bad": "both_bad", "skips": "skip"}  # win_rates column -> choice


def _named_models(models: Any) -> dict[str, Any]:
    if isinstance(models, (list, tuple)) and all(isinstance(m, str) for m in models):
        models = {m: m for m in models} if len(set(models)) == len(models) else None
    if not isinstance(models, dict) or len(models) < 2 or not all(isinstance(n, str) for n in models):
        raise AlignkitError("models must be two or more different zoo names, e.g. ['sft', 'ppo', 'dpo'], or a dict "
                            "name -> zoo name, (model, tokenizer) or function prompts -> responses.")
    return dict(models)


def draw_pairs(names: tuple[str, ...], n: int, rng: random.Random) -> list[tuple[str, str]]:
    """n (left, right) pairs of different models: rounds of all unordered pairs, each round shuffled."""
    everyone = list(itertools.combinations(names, 2))
    schedule: list[tuple[str, str]] = []
    while len(schedule) < n:
        round_ = everyone[:]
        rng.shuffle(round_)
        schedule += round_
    return [(a, b) if rng.random() < 0.5 else (b, a) for a, b in schedule[:n]]


class Arena(VotingSession):
    """Blind pairwise votes over many models; see the module docstring.

    models: a list of zoo names, or a dict name -> zoo name, (model, tokenizer) or function prompts -> responses.
    votes_path defaults to $ALIGNKIT_HOME/votes.jsonl (VotingSession's file) and annotator to quiz.learner_id().
    """

    # Not VotingSession.__init__ (it answers with two models): these are the attributes its methods read.
    def __init__(self, prompts, models: Any, *, votes_path=None, annotator: str | None = None, seed: int = 0,
                 sampling: SampleSettings | None = None, formats: dict[str, str] | None = None):
        models = _named_models(models)
        self.prompts, self.names = _check_prompts(prompts), tuple(models)
        self.votes_path = quiz.alignkit_home() / "votes.jsonl" if votes_path is None else Path(votes_path)
        # Gold is revealed after each vote (VotingSession's feedback), never before: the arena is blind.
        self.annotator, self.seed, self.reveal_scores = quiz.learner_id(annotator), seed, "after"
        self.session = session_id(self.annotator, seed, self.names, self.prompts)
        self.responses = {n: _responses(n, m, self.prompts, _prompt_format(n, m, formats), sampling)
                          for n, m in models.items()}
        self.table = _score_table(self.prompts, self.responses, None)  # prompt-major, one row per model
        self.pairs = draw_pairs(self.names, len(self.prompts), random.Random(seed))
        self._voted = {r["pair_index"] for r in self.votes() if type(r.get("pair_index")) is int}
        self._last, self._error, self._widget = None, "", None

    def __repr__(self) -> str:
        return f"<alignkit Arena of {len(self.names)} models ({', '.join(self.names)}): {self.progress} voted>"

    def votes(self) -> list[dict]:
        """This arena's votes (this annotator, seed, models and prompts), in file order."""
        return read_votes(self.votes_path, session=self.session)

    def pair(self, index: int | None = None) -> dict:
        """Pair `index` (default: the current one) as shown: prompt, and each side's model, response and gold."""
        i = self.index if index is None else index
        if not 0 <= i < len(self.prompts):
            raise AlignkitError(f"there is no pair {i}: this arena's pairs are 0 to {len(self.prompts) - 1}.")
        left, right = (self._side(i, self.names.index(model)) for model in self.pairs[i])
        return {"pair_index": i, "prompt": self.prompts[i], "left": left, "right": right}

    def _side(self, i: int, k: int) -> dict:
        row = self.table.iloc[len(self.names) * i + k]
        return {"model": row["model"], "response": row["response"], "gold": float(row["gold"]), "rm_score": None}

    def vote(self, choice: str, *, annotator: str | None = None) -> dict:
        """Record a vote on the current pair and move on; returns the row appended to the votes file.

        choice: "left" / "A", "right" / "B", "tie", "both_bad" or "skip". annotator: who cast this one vote
        when it is not the learner (simulated_votes names its labeler); the session stays this arena's.
        """
        learner, self.annotator = self.annotator, annotator or self.annotator
        try:
            return super().vote(choice)
        finally:
            self.annotator = learner

    def render_text(self) -> str:
        """The current pair as plain text (the static fallback); the models stay hidden until the vote."""
        if self.finished:
            return (f"All {len(self.prompts)} pairs are voted on ({self.progress}). Votes are in "
                    f"{self.votes_path.name}; see win_rates(arena.votes(), arena.names).")
        pair = self.pair()
        lines = [f"Arena of {len(self.names)} models: pair {pair['pair_index'] + 1} of {len(self.prompts)} "
                 f"({self.progress} voted)", f"Prompt: {pair['prompt']}"]
        for side, label in (("left", "A (left)"), ("right", "B (right)")):
            lines += [f"--- {label} ---", pair[side]["response"] or "(empty response)"]
        lines.append('Vote with arena.vote("A"), "B", "tie", "both_bad" or "skip".')
        return "\n".join(lines)


def simulated_votes(arena: Arena, labeler: LabelerSettings = LabelerSettings()) -> list[dict]:
    """Cast every remaining vote of `arena` with a simulated labeler (not a person): Labeler.compare on the pair.

    The rows name the labeler as annotator ("simulated-labeler-SEED"). Identical responses are a tie.
    """
    judge, rows = Labeler(labeler), []
    while not arena.finished:
        pair = arena.pair()
        left, right = pair["left"]["response"], pair["right"]["response"]
        label = judge.compare(pair["prompt"], left, right)
        choice = "tie" if left == right else "left" if label["chosen"] == left else "right"
        rows.append(arena.vote(choice, annotator=f"simulated-{label['annotator']}"))
    return rows


def wilson_interval(wins: int, games: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (NaN, NaN with no games)."""
    if games == 0:
        return float("nan"), float("nan")
    p, z2 = wins / games, z * z
    center = (p + z2 / (2 * games)) / (1 + z2 / games)
    half = z / (1 + z2 / games) * math.sqrt(p * (1 - p) / games + z2 / (4 * games * games))
    return max(0.0, center - half), min(1.0, center + half)


def _models_of(rows: list[dict], models) -> list[str]:
    if models is not None:
        return list(models)
    found = [r.get(k) for r in rows for k in ("left_model", "right_model")]
    return list(dict.fromkeys(m for m in found if isinstance(m, str)))


def win_rates(rows: list[dict], models=None) -> pd.DataFrame:
    """Per model: games (preferences only), wins, win_rate, 95% Wilson lo / hi, and ties, both_bad, skips apart.

    rows: vote rows (arena.votes() or read_votes(path)); models: the names to report (default: those in rows).
    Sorted by win_rate, highest first; a model with no games has NaN rate and interval.
    """
    table = []
    for model in _models_of(rows, models):
        shown = [r for r in rows if model in (r.get("left_model"), r.get("right_model"))]
        games = [r for r in shown if _is_preference(r) and model in (r.get("chosen_model"), r.get("rejected_model"))]
        wins = sum(r.get("chosen_model") == model for r in games)
        lo, hi = wilson_interval(wins, len(games))
        table.append({"model": model, "games": len(games), "wins": wins,
                      "win_rate": wins / len(games) if games else float("nan"), "lo": lo, "hi": hi,
                      **{column: sum(r.get("choice") == c for r in shown) for column, c in NOT_PREFERENCES.items()}})
    columns = ["model", "games", "wins", "win_rate", "lo", "hi", *NOT_PREFERENCES]
    dtypes = {"games": int, "wins": int, "win_rate": float, "lo": float, "hi": float, **dict.fromkeys(NOT_PREFERENCES, int)}
    frame = pd.DataFrame(table, columns=columns).astype(dtypes)  # typed even with no votes
    return frame.sort_values("win_rate", ascending=False, na_position="last", kind="stable").reset_index(drop=True)


def bradley_terry(rows: list[dict], models=None, prior: float = 0.5, iterations: int = 200) -> pd.DataFrame:
    """Bradley-Terry strengths from the preferences (ties and the like excluded), by Hunter's MM updates.

    `prior` adds that many pseudo-wins each way to every pair, so a model that never lost stays finite.
    strength is log-scale with mean 0: P(i beats j) = sigmoid(strength_i - strength_j).
    """
    names = _models_of(rows, models)
    wins = {(a, b): prior for a in names for b in names if a != b}
    for r in rows:
        key = (r.get("chosen_model"), r.get("rejected_model"))
        if _is_preference(r) and key in wins:
            wins[key] += 1
    p = {m: 1.0 for m in names}
    for _ in range(iterations):
        p = {i: sum(wins[i, j] for j in names if j != i)
             / sum((wins[i, j] + wins[j, i]) / (p[i] + p[j]) for j in names if j != i) for i in names}
    logs = {m: math.log(v) for m, v in p.items()}
    mean = sum(logs.values()) / max(1, len(logs))
    frame = pd.DataFrame({"model": names, "strength": [logs[m] - mean for m in names]})
    return frame.sort_values("strength", ascending=False, kind="stable").reset_index(drop=True)


def gold_ranking(arena: Arena) -> pd.DataFrame:
    """Per model the mean gold of its responses on the arena's prompts, with its standard error: the truth."""
    table = [{"model": model, **dict(zip(("gold", "gold_se"), _mean_and_se(group.gold))), "n_prompts": len(group)}
             for model, group in arena.table.groupby("model", sort=False)]
    frame = pd.DataFrame(table, columns=["model", "gold", "gold_se", "n_prompts"])
    return frame.sort_values("gold", ascending=False, kind="stable").reset_index(drop=True)


def agreement_with_gold(rows: list[dict]) -> dict:
    """How often a preference picked the response with the higher gold (gold ties excluded), with its SE.

    The SE is the binomial one, 0 when every vote agreed; lo / hi, a 95% Wilson interval, stay honest there.
    """
    world = load_world()
    margins = [score(r["prompt"], r["chosen"], world).total - score(r["prompt"], r["rejected"], world).total
               for r in rows if _is_preference(r)]
    decided = [m > 0 for m in margins if m != 0]
    n = len(decided)
    agreement = sum(decided) / n if n else None
    se = math.sqrt(agreement * (1 - agreement) / n) if n else None
    lo, hi = wilson_interval(sum(decided), n) if n else (None, None)
    return {"agreement": agreement, "se": se, "lo": lo, "hi": hi, "preferences": len(margins), "decided": n}
