"""The arena: every model answers the same prompts, pairs are shown blind, votes become win rates beside the truth.

    models = {name: zoo.load(name) for name in ("sft", "ppo", "dpo", "kto")}   # the caller loads the models
    arena = Arena(prompts, models)                          # every model answers every prompt once
    arena                                                   # the widget in a live kernel; text in CI
    arena.vote("A")                                         # what clicking "A better" does
    win_rates(arena.votes(), arena.names)                   # per model: wins / games, 95% Wilson interval
    gold_ranking(arena)                                     # the oracle's ranking of the same responses
    agreement_with_gold(arena.votes())                      # how often a preference picked the higher gold

Each prompt shows one pair of different models whose responses differ: two identical responses are never
paired, and a prompt every model answered alike is left out. Among the pairs that differ, one whose gold also
differs is preferred, and the least-shown pair of models wins ties, so every pair meets about equally often.
Pairs with different gold come first, then those with equal gold; `arena.counts` says how many of each (and
how many prompts were left out). Pairs and left/right are drawn up front from random.Random(seed), so a new
Arena with the same annotator, seed, models and prompts resumes where the last one stopped. An Arena is a
VotingSession over more than two models: votes go to the same file, one fsynced line each
(alignkit.infra.storage), in the same format, and the widget, feedback and errors are its.
"""
from __future__ import annotations

import html
import itertools
import math
import random
from pathlib import Path
from typing import Any

import pandas as pd

from alignkit import quiz
from alignkit.infra.errors import AlignkitError
from alignkit.measure.stats import mean_and_se, wilson_interval
from alignkit.core.generation import SampleSettings
from alignkit.course.widgets import VotingSession, is_preference, read_votes, response_table, session_id
from alignkit.world import load_world
from alignkit.world.labelers import Labeler, LabelerSettings
from alignkit.world.oracle import score

__all__ = ["Arena", "simulated_votes", "win_rates", "bradley_terry", "gold_ranking", "agreement_with_gold"]

NOT_PREFERENCES = {"ties": "tie", "both_bad": "both_bad", "skips": "skip"}  # win_rates column -> choice


def _named_models(models: Any) -> dict[str, Any]:
    if not isinstance(models, dict) or len(models) < 2 or not all(isinstance(n, str) for n in models):
        raise AlignkitError("models must be a dict of two or more models, name -> (model, tokenizer) or function "
                            "prompts -> responses, e.g. {name: zoo.load(name) for name in ['sft', 'ppo', 'dpo']}.")
    return dict(models)


def plan_pairs(names: tuple[str, ...], table: pd.DataFrame, rng: random.Random) -> tuple[list[tuple[int, str, str]], dict]:
    """([(prompt index, left model, right model)], counts) for a prompt-major score table (one row per model).

    Per prompt: only models whose responses differ are paired (a prompt where all agree is left out); a pair
    whose gold differs is preferred; among those the pair of models shown least so far, ties broken by `rng`.
    Pairs with different gold come first, then those with equal gold, each in prompt order.
    """
    everyone = list(itertools.combinations(names, 2))
    shown: dict[tuple[str, str], int] = dict.fromkeys(everyone, 0)
    decided, undecided, left_out = [], [], 0
    for i in range(len(table) // len(names)):
        rows = table.iloc[len(names) * i: len(names) * (i + 1)]
        response, gold = dict(zip(rows["model"], rows["response"])), dict(zip(rows["model"], rows["gold"]))
        differ = [p for p in everyone if response[p[0]] != response[p[1]]]
        if not differ:
            left_out += 1
            continue
        by_gold = [p for p in differ if gold[p[0]] != gold[p[1]]]
        pool = by_gold or differ
        rng.shuffle(pool)
        a, b = min(pool, key=lambda p: shown[p])
        shown[a, b] += 1
        side = (a, b) if rng.random() < 0.5 else (b, a)
        (decided if by_gold else undecided).append((i, *side))
    counts = {"pairs": len(decided) + len(undecided), "different_gold": len(decided),
              "equal_gold": len(undecided), "prompts_left_out": left_out}
    return decided + undecided, counts


class Arena(VotingSession):
    """Blind pairwise votes over many models; see the module docstring.

    models: a dict name -> (model, tokenizer), e.g. zoo.load(name), or function prompts -> responses.
    votes_path defaults to $ALIGNKIT_HOME/votes.jsonl (VotingSession's file) and annotator to quiz.learner_id().
    """

    # Not VotingSession.__init__ (it answers with two models): these are the attributes its methods read.
    def __init__(self, prompts, models: Any, *, votes_path=None, annotator: str | None = None, seed: int = 0,
                 sampling: SampleSettings | None = None, formats: dict[str, str] | None = None):
        models = _named_models(models)
        self.votes_path = quiz.alignkit_home() / "votes.jsonl" if votes_path is None else Path(votes_path)
        # Gold is revealed after each vote (VotingSession's feedback), never before: the arena is blind.
        self.annotator, self.seed, self.reveal_scores = quiz.learner_id(annotator), seed, "after"
        # Prompt-major, one row per model: row i * len(models) + k is prompt i answered by the k-th model.
        self.table = response_table(prompts, models, sampling=sampling, formats=formats)
        self.prompts, self.names = list(self.table.prompt[::len(models)]), tuple(models)
        self.session = session_id(self.annotator, seed, self.names, self.prompts)
        plan, self.counts = plan_pairs(self.names, self.table, random.Random(seed))
        self.pair_prompts = [i for i, _, _ in plan]  # pair k shows prompt pair_prompts[k]
        self.pairs = [(left, right) for _, left, right in plan]
        self._voted = {r["pair_index"] for r in self.votes() if type(r.get("pair_index")) is int}
        self._last, self._error, self._widget = None, "", None

    def __repr__(self) -> str:
        return f"<alignkit Arena of {len(self.names)} models ({', '.join(self.names)}): {self.progress} voted>"

    @property
    def pair_count(self) -> int:
        """The arena's pairs, drawn up front (plan_pairs), not one per prompt."""
        return len(self.pairs)

    def describe_pairs(self) -> str:
        """How many pairs there are, of which kind: printed with the arena."""
        c = self.counts
        left_out = (f"; {c['prompts_left_out']} of {len(self.prompts)} prompts left out, every model answered them "
                    "alike" if c["prompts_left_out"] else "")
        return (f"{c['pairs']} pairs, no two identical responses: {c['different_gold']} whose gold differs "
                f"(shown first), then {c['equal_gold']} with equal gold{left_out}.")

    def votes(self) -> list[dict]:
        """This arena's votes (this annotator, seed, models and prompts), in file order."""
        return read_votes(self.votes_path, session=self.session)

    def pair(self, index: int | None = None) -> dict:
        """Pair `index` (default: the current one) as shown: prompt, and each side's model, response and gold."""
        i = self.index if index is None else index
        if not 0 <= i < len(self.pairs):
            raise AlignkitError(f"there is no pair {i}: this arena's pairs are 0 to {len(self.pairs) - 1}.")
        p = self.pair_prompts[i]
        left, right = (self._side(p, self.names.index(model)) for model in self.pairs[i])
        return {"pair_index": i, "prompt": self.prompts[p], "left": left, "right": right}

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
            return (f"All {len(self.pairs)} pairs are voted on ({self.progress}). Votes are in "
                    f"{self.votes_path.name}; see win_rates(arena.votes(), arena.names).")
        pair = self.pair()
        lines = [f"Arena of {len(self.names)} models: {self.describe_pairs()}",
                 f"Pair {pair['pair_index'] + 1} of {len(self.pairs)} ({self.progress} voted)",
                 f"Prompt: {pair['prompt']}"]
        for side, label in (("left", "A (left)"), ("right", "B (right)")):
            lines += [f"--- {label} ---", pair[side]["response"] or "(empty response)"]
        lines.append('Vote with arena.vote("A"), "B", "tie", "both_bad" or "skip".')
        return "\n".join(lines)


    # --- widget: VotingSession's, with the vote's feedback kept apart from the next pair ----------------

    def widget(self) -> Any:
        """VotingSession's view, with the pair counts on top and the last vote's feedback above the next pair,
        boxed and naming the prompt it was about, so it is never read as being about the panes below it."""
        if self._widget is None:
            import ipywidgets as w

            view = super().widget()
            self._counts_html = w.HTML(f"<small>{html.escape(self.describe_pairs())}</small>")
            header, prompt, sides, buttons, feedback = view.children
            view.children = (header, self._counts_html, feedback, prompt, sides, buttons)
        return self._widget

    def _feedback(self) -> str:
        text = super()._feedback()
        if not text or self._error or self._last is None:
            return text
        pair, _choice = self._last
        prompt = pair["prompt"] if len(pair["prompt"]) <= 90 else pair["prompt"][:87] + "…"
        after = "" if self.finished else "<br><i>The next pair is below.</i>"
        return ('<div style="border-left:3px solid #999;padding:2px 8px;margin:4px 0;background:rgba(128,128,128,0.08)">'
                f"<b>Your last vote</b> (prompt: {html.escape(prompt)})<br>{text}{after}</div>")

    def _refresh(self) -> None:
        super()._refresh()
        if self.finished:
            self._prompt_html.value = f"<b>All {len(self.pairs)} pairs are voted on. Thank you!</b>"


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
        games = [r for r in shown if is_preference(r) and model in (r.get("chosen_model"), r.get("rejected_model"))]
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
        if all(isinstance(k, str) for k in key) and is_preference(r) and key in wins:  # a damaged row: skipped
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
    table = [{"model": model, **dict(zip(("gold", "gold_se"), mean_and_se(group.gold))), "n_prompts": len(group)}
             for model, group in arena.table.groupby("model", sort=False)]
    frame = pd.DataFrame(table, columns=["model", "gold", "gold_se", "n_prompts"])
    return frame.sort_values("gold", ascending=False, kind="stable").reset_index(drop=True)


def agreement_with_gold(rows: list[dict]) -> dict:
    """How often a preference picked the response with the higher gold (gold ties excluded), with its SE.

    The SE is the binomial one, 0 when every vote agreed; lo / hi, a 95% Wilson interval, stay honest there.
    """
    world = load_world()
    margins = [score(r["prompt"], r["chosen"], world).total - score(r["prompt"], r["rejected"], world).total
               for r in rows if is_preference(r)]
    decided = [m > 0 for m in margins if m != 0]
    n = len(decided)
    agreement = sum(decided) / n if n else None
    se = math.sqrt(agreement * (1 - agreement) / n) if n else None
    lo, hi = wilson_interval(sum(decided), n) if n else (None, None)
    rounded = lambda x: None if x is None else round(x, 4)  # noqa: E731 - printed as is in chapter 08
    return {"agreement": rounded(agreement), "se": rounded(se), "lo": rounded(lo), "hi": rounded(hi),
            "preferences": len(margins), "decided": n}
