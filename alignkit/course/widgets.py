"""Responses side by side, and a voting widget whose votes are preference data.

    sft, ppo = zoo.load("sft"), zoo.load("ppo")                       # the caller loads the models
    table = widgets.compare(prompts, {"sft": sft, "ppo": ppo})         # one row per (prompt, model)
    session = widgets.VotingSession(prompts, sft, ppo, names=("sft", "ppo"))   # "Be the labeler"
    session                    # the widget in a live kernel; text in CI or without ipywidgets
    session.vote("left")       # what clicking "A better" does
    rows = widgets.read_votes(session.votes_path, preferences_only=True)   # prompt/chosen/rejected for TRL

A model is a (model, tokenizer) pair, or a function prompts -> list of responses (canned answers, another
generator); the caller loads checkpoints (zoo.load). Models see the chat template unless
`formats={name: "document"}` says otherwise (a pretrained-only model such as the zoo's base, whose manifest
format is "document").

Votes are appended one fsynced line at a time (alignkit.infra.storage), so a kernel restart loses nothing, and a
new session with the same annotator, seed, model names and prompts resumes at the first pair not voted on.
Left and right are drawn per pair from random.Random(seed) and every row records what was shown where.
Scores are revealed after the vote by default: a gold score shown first would tell the learner the answer.
Only widgets present in ipywidgets 7.7 (Colab) and 8.x are used; every prompt and response is escaped.
"""
from __future__ import annotations

import datetime
import hashlib
import html
import json
import os
import random
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from alignkit import quiz
from alignkit.infra import storage
from alignkit.infra.errors import AlignkitError, AnswerTypeError
from alignkit.infra.runtime import in_ci, in_kernel
from alignkit.core.generation import PROMPT_FORMATS, SampleSettings, reward_scores, sample
from alignkit.world import load_world
from alignkit.world.oracle import score

__all__ = ["compare", "response_table", "VotingSession", "read_votes", "is_preference", "session_id", "CHOICES",
           "REVEAL_SCORES"]

CHOICES = ("left", "right", "tie", "both_bad", "skip")
REVEAL_SCORES = ("after", "before", "never")
_ALIASES = {"a": "left", "b": "right", "both bad": "both_bad", "both-bad": "both_bad"}
_BUTTONS = (("A better", "left"), ("B better", "right"), ("Tie", "tie"), ("Both bad", "both_bad"), ("Skip", "skip"))
_SIDE_LABELS = {"left": "A (left)", "right": "B (right)"}


# --- responses and their scores ----------------------------------------------------------------------

def _check_prompts(prompts) -> list[str]:
    prompts = [prompts] if isinstance(prompts, str) else list(prompts)
    if not prompts or not all(isinstance(p, str) for p in prompts):
        raise AlignkitError("prompts must be a non-empty list of strings, e.g. evaluate.heldout_prompts()[:10].")
    return prompts


def _prompt_format(name: str, formats: dict | None) -> str:
    fmt = (formats or {}).get(name, "chat")
    if fmt not in PROMPT_FORMATS:
        raise AlignkitError(f"formats[{name!r}] is {fmt!r}; use one of {', '.join(PROMPT_FORMATS)}.")
    return fmt


def _responses(name: str, spec: Any, prompts: list[str], prompt_format: str, sampling: SampleSettings | None) -> list[str]:
    if isinstance(spec, tuple) and len(spec) == 2:
        model, tokenizer = spec
        return sample(model, tokenizer, prompts, prompt_format, sampling or SampleSettings()).responses
    if callable(spec) and not isinstance(spec, torch.nn.Module):
        responses = list(spec(list(prompts)))
        if len(responses) != len(prompts) or not all(isinstance(r, str) for r in responses):
            raise AlignkitError(f"model {name!r}: the function must return one string per prompt "
                                f"({len(prompts)}); it returned {len(responses)} items.")
        return responses
    raise AlignkitError(f"model {name!r} is a {type(spec).__name__}; pass a (model, tokenizer) pair such as "
                        "zoo.load('sft'), or a function that maps a list of prompts to a list of responses.")


def _rm_scores(reward_model: Any, prompts: list[str], responses: list[str]) -> list[float]:
    if isinstance(reward_model, tuple) and len(reward_model) == 2:
        return reward_scores(reward_model[0], reward_model[1], prompts, responses)
    if callable(reward_model) and not isinstance(reward_model, torch.nn.Module):
        return [float(s) for s in reward_model(prompts, responses)]
    raise AlignkitError(f"reward_model is a {type(reward_model).__name__}; pass a (model, tokenizer) pair such as "
                        "zoo.load('rm'), or a function (prompts, responses) -> scores.")


def response_table(prompts, models: dict, *, reward_model: Any = None, sampling: SampleSettings | None = None,
                   formats: dict[str, str] | None = None) -> pd.DataFrame:
    """Every model's response to every prompt, scored: what `compare` shows, and the pairs a vote is cast on.

    models: name -> (model, tokenizer) or function prompts -> responses. One row per (prompt, model) in
    prompt-major order (row i * len(models) + k is prompt i answered by the k-th model): prompt_index,
    prompt, model, response, gold [, rm_score when a reward model is given].
    """
    prompts = _check_prompts(prompts)
    if not isinstance(models, dict) or not models or not all(isinstance(n, str) for n in models):
        raise AlignkitError("models must be a dict: name -> (model, tokenizer) or a function prompts -> responses, "
                            'e.g. {"sft": zoo.load("sft"), "ppo": zoo.load("ppo")}.')
    responses = {name: _responses(name, spec, prompts, _prompt_format(name, formats), sampling)
                 for name, spec in models.items()}
    world = load_world()
    rows = [{"prompt_index": i, "prompt": prompt, "model": name, "response": answers[i],
             "gold": score(prompt, answers[i], world).total}
            for i, prompt in enumerate(prompts) for name, answers in responses.items()]
    table = pd.DataFrame(rows)
    if reward_model is not None:
        table["rm_score"] = _rm_scores(reward_model, list(table.prompt), list(table.response))
    return table


# --- where output goes ------------------------------------------------------------------------------

def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _scores_text(row: Any) -> str:
    rm = f" · RM {row['rm_score']:.2f}" if row.get("rm_score") is not None else ""
    return f"gold {row['gold']:.2f}{rm}"


def _response_html(text: str) -> str:
    body = _esc(text) if text.strip() else "<i>(empty response)</i>"
    return f'<div style="white-space:pre-wrap">{body}</div>'


def _table_text(table: pd.DataFrame) -> str:
    lines = []
    for index, group in table.groupby("prompt_index", sort=True):
        lines.append(f"Prompt {index + 1}: {group.prompt.iloc[0]}")
        for row in group.to_dict("records"):
            lines.append(f"  [{row['model']}] {_scores_text(row)}")
            lines += [f"    {line}" for line in (row["response"] or "(empty response)").split("\n")]
    return "\n".join(lines)


def _table_html(table: pd.DataFrame) -> str:
    cell = 'style="text-align:left;vertical-align:top;padding:4px 8px"'
    names = list(dict.fromkeys(table.model))
    head = "".join(f"<th {cell}>{_esc(n)}</th>" for n in ["prompt", *names])
    body = []
    for _, group in table.groupby("prompt_index", sort=True):
        cells = [f"<td {cell}>{_response_html(group.prompt.iloc[0])}</td>"]
        cells += [f"<td {cell}>{_response_html(r['response'])}<small>{_scores_text(r)}</small></td>"
                  for r in group.to_dict("records")]
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def compare(prompts, models: dict, *, reward_model: Any = None, sampling: SampleSettings | None = None,
            formats: dict[str, str] | None = None, show: bool = True) -> pd.DataFrame:
    """Every model's response to every prompt, with its gold score (and RM score when an RM is given).

    models: name -> (model, tokenizer) or function prompts -> responses. Returns `response_table`'s long
    table, one row per (prompt, model): prompt_index, prompt, model, response, gold [, rm_score];
    `table.pivot(index="prompt_index", columns="model", values="gold")` makes it wide.
    With show=True it is also displayed: an escaped HTML table in a live kernel, plain text in CI or a script.
    """
    table = response_table(prompts, models, reward_model=reward_model, sampling=sampling, formats=formats)
    if show:
        if in_ci() or not in_kernel():
            print(_table_text(table))
        else:
            from IPython.display import HTML, display
            display(HTML(_table_html(table)))
    return table


# --- votes ------------------------------------------------------------------------------------------

def session_id(annotator: str, seed: int, names, prompts) -> str:
    """Deterministic id of a voting session: the same learner, seed, models and prompts give the same id."""
    key = json.dumps({"annotator": annotator, "seed": seed, "models": list(names), "prompts": list(prompts)},
                     sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def is_preference(row: dict) -> bool:
    """True for a vote row in TRL's preference format (string prompt, chosen and rejected): not a tie or a skip."""
    return all(isinstance(row.get(k), str) for k in ("prompt", "chosen", "rejected"))


def read_votes(path: str | os.PathLike, preferences_only: bool = False, *, session: str | None = None) -> list[dict]:
    """Votes in file order (a torn last line is skipped with a warning).

    preferences_only keeps the rows with prompt/chosen/rejected (TRL's preference format), dropping
    tie, both_bad and skip; `session` keeps one session's rows.
    """
    rows = storage.read_jsonl(path)
    if session is not None:
        rows = [r for r in rows if r.get("session") == session]
    return [r for r in rows if is_preference(r)] if preferences_only else rows


def _normalize_choice(choice: Any) -> str:
    if isinstance(choice, str):
        key = choice.strip().lower()
        key = _ALIASES.get(key, key)
        if key in CHOICES:
            return key
    raise AnswerTypeError(f"unknown vote {choice!r}: use 'left' (or 'A'), 'right' (or 'B'), 'tie', "
                          "'both_bad' or 'skip'.")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class VotingSession:
    """Pairs of responses shown one at a time; each vote is appended to `votes_path` as one JSON line.

    model_a / model_b: (model, tokenizer), e.g. zoo.load("sft"), or function prompts -> responses; `names`
    names them in the votes file and the session id (default: "model_a" / "model_b").
    votes_path defaults to $ALIGNKIT_HOME/votes.jsonl and annotator to quiz.learner_id().
    """

    def __init__(self, prompts, model_a: Any, model_b: Any, *, votes_path: str | os.PathLike | None = None,
                 annotator: str | None = None, seed: int = 0, names: tuple[str, str] | None = None,
                 reward_model: Any = None, sampling: SampleSettings | None = None,
                 formats: dict[str, str] | None = None, reveal_scores: str = "after"):
        if reveal_scores not in REVEAL_SCORES:
            raise AlignkitError(f"reveal_scores must be one of {', '.join(REVEAL_SCORES)}, not {reveal_scores!r}.")
        self.prompts = _check_prompts(prompts)
        self.names = tuple(names) if names is not None else ("model_a", "model_b")
        if len(self.names) != 2 or self.names[0] == self.names[1] or not all(isinstance(n, str) for n in self.names):
            raise AlignkitError(f"names must be two different strings, not {self.names!r}, e.g. names=('sft', 'ppo').")
        self.votes_path = Path(votes_path) if votes_path is not None else quiz.alignkit_home() / "votes.jsonl"
        self.annotator, self.seed, self.reveal_scores = quiz.learner_id(annotator), seed, reveal_scores
        self.session = session_id(self.annotator, seed, self.names, self.prompts)
        self.table = response_table(self.prompts, dict(zip(self.names, (model_a, model_b))), reward_model=reward_model,
                                    sampling=sampling, formats=formats)
        rng = random.Random(seed)
        self.a_on_left = [rng.random() < 0.5 for _ in self.prompts]  # drawn up front: a resumed session agrees
        self._voted = {r["pair_index"] for r in read_votes(self.votes_path, session=self.session)
                       if type(r.get("pair_index")) is int}
        self._last: tuple[dict, str] | None = None
        self._error = ""
        self._widget = None

    def __repr__(self) -> str:
        return f"<alignkit VotingSession {self.names[0]} vs {self.names[1]}: {self.progress} voted>"

    @property
    def pair_count(self) -> int:
        """How many pairs there are to vote on: one per prompt here (the arena draws its own)."""
        return len(self.prompts)

    @property
    def index(self) -> int:
        """The pair shown now: the first one not voted on (pair_count when all are)."""
        return next((i for i in range(self.pair_count) if i not in self._voted), self.pair_count)

    @property
    def finished(self) -> bool:
        return self.index == self.pair_count

    @property
    def progress(self) -> str:
        """Pairs voted on so far, e.g. "3/10"."""
        return f"{len(self._voted)}/{self.pair_count}"

    def pair(self, index: int | None = None) -> dict:
        """Pair `index` (default: the current one) as shown: prompt, and each side's model, response and scores."""
        i = self.index if index is None else index
        a, b = (self._side(i, k) for k in (0, 1))
        left, right = (a, b) if self.a_on_left[i] else (b, a)
        return {"pair_index": i, "prompt": self.prompts[i], "left": left, "right": right}

    def _side(self, i: int, k: int) -> dict:
        row = self.table.iloc[2 * i + k]
        rm = float(row["rm_score"]) if "rm_score" in row else None
        return {"model": row["model"], "response": row["response"], "gold": float(row["gold"]), "rm_score": rm}

    def vote(self, choice: str) -> dict:
        """Record a vote on the current pair and move on; returns the row appended to the votes file.

        choice: "left" / "A", "right" / "B", "tie", "both_bad" or "skip".
        """
        choice = _normalize_choice(choice)
        if self.finished:
            raise AlignkitError(f"all {len(self.prompts)} pairs of this session are voted on; start a new "
                                "session with other prompts or another seed to vote on more.")
        pair = self.pair()
        row = {"prompt": pair["prompt"], "choice": choice, "left_model": pair["left"]["model"],
               "right_model": pair["right"]["model"], "annotator": self.annotator, "session": self.session,
               "pair_index": pair["pair_index"], "time": _now()}
        if choice in ("left", "right"):
            chosen, rejected = pair[choice], pair["right" if choice == "left" else "left"]
            row.update(chosen=chosen["response"], rejected=rejected["response"], chosen_position=choice,
                       chosen_model=chosen["model"], rejected_model=rejected["model"])
        else:  # not a preference, but kept: nothing a learner did is lost
            row.update(left_response=pair["left"]["response"], right_response=pair["right"]["response"])
        try:
            storage.append_jsonl(self.votes_path, row)
        except OSError as err:  # unwritable ALIGNKIT_HOME or a full disk: the widget shows this in red
            raise AlignkitError(f"could not save your vote to {self.votes_path}: {err.strerror or err}. Set "
                                "ALIGNKIT_HOME (or votes_path) to a folder you can write, or free some disk "
                                "space, then vote again; this vote was not recorded.") from err
        self._voted.add(pair["pair_index"])
        self._last, self._error = (pair, choice), ""
        if self._widget is not None:
            self._refresh()
        return row

    def summary(self) -> dict:
        """This session's votes per choice, and how often a preference agreed with the gold score."""
        rows = read_votes(self.votes_path, session=self.session)
        counts = {c: sum(r.get("choice") == c for r in rows) for c in CHOICES}
        world = load_world()
        margins = [score(r["prompt"], r["chosen"], world).total - score(r["prompt"], r["rejected"], world).total
                   for r in rows if is_preference(r)]
        decided = [m for m in margins if m != 0]
        agreement = round(sum(m > 0 for m in decided) / len(decided), 4) if decided else None
        return {"votes": counts, "preferences": len(margins), "agrees_with_gold": agreement}

    # --- display ---------------------------------------------------------------------------------

    def render_text(self) -> str:
        """The current pair as plain text (the static fallback)."""
        if self.finished:
            return f"All {len(self.prompts)} pairs are voted on ({self.progress}). Votes are in {self.votes_path.name}."
        pair, lines = self.pair(), []
        lines += [f"Pair {pair['pair_index'] + 1} of {len(self.prompts)} ({self.progress} voted)",
                  f"Prompt: {pair['prompt']}"]
        for side in ("left", "right"):
            scores = f"  [{_scores_text(pair[side])}]" if self.reveal_scores == "before" else ""
            lines += [f"--- {_SIDE_LABELS[side]}{scores} ---", pair[side]["response"] or "(empty response)"]
        lines.append('Vote with session.vote("A"), "B", "tie", "both_bad" or "skip".')
        return "\n".join(lines)

    def widget(self) -> Any:
        """The ipywidgets view, built on first use; its buttons call `vote`."""
        if self._widget is None:
            import ipywidgets as w

            self._prompt_html, self._feedback_html, self._progress = w.HTML(), w.HTML(), w.Label()
            self._side_html = {side: w.HTML(layout=w.Layout(width="50%")) for side in ("left", "right")}
            self.buttons = {choice: w.Button(description=label) for label, choice in _BUTTONS}
            for choice, button in self.buttons.items():
                button.on_click(lambda _button, c=choice: self._on_click(c))
            self._refresh()
            self._widget = w.VBox([w.HBox([w.HTML("<b>Which response is better?</b>&nbsp;"), self._progress]),
                                   self._prompt_html, w.HBox(list(self._side_html.values())),
                                   w.HBox(list(self.buttons.values())), self._feedback_html])
        return self._widget

    def _on_click(self, choice: str) -> None:
        try:
            self.vote(choice)
        except (AlignkitError, OSError) as err:  # a storage failure behind a button is shown, never only logged
            self._error = str(err)
            self._refresh()

    def _refresh(self) -> None:
        self._progress.value = self.progress
        for button in self.buttons.values():
            button.disabled = self.finished
        if self.finished:
            self._prompt_html.value = f"<b>All {len(self.prompts)} pairs are voted on. Thank you!</b>"
            for view in self._side_html.values():
                view.value = ""
        else:
            pair = self.pair()
            self._prompt_html.value = f"<b>Prompt</b>{_response_html(pair['prompt'])}"
            for side, view in self._side_html.items():
                scores = f"<small>{_scores_text(pair[side])}</small>" if self.reveal_scores == "before" else ""
                view.value = f"<b>{_SIDE_LABELS[side]}</b>{_response_html(pair[side]['response'])}{scores}"
        self._feedback_html.value = self._feedback()

    def _feedback(self) -> str:
        if self._error:
            return f'<span style="color:#b00020">{_esc(self._error)}</span>'
        if self._last is None:
            return ""
        pair, choice = self._last
        shown = [f"{_SIDE_LABELS[s]} was <b>{_esc(pair[s]['model'])}</b>"
                 + (f" ({_scores_text(pair[s])})" if self.reveal_scores != "never" else "") for s in ("left", "right")]
        return f"Recorded <b>{_esc(choice)}</b> for pair {pair['pair_index'] + 1}: {'; '.join(shown)}."

    def _ipython_display_(self) -> None:
        try:
            import ipywidgets  # noqa: F401 - only asks whether ipywidgets is installed
            from IPython.display import display
        except ImportError:
            print(self.render_text())
            return
        if in_ci() or not in_kernel():
            print(self.render_text())
        else:
            display(self.widget())
