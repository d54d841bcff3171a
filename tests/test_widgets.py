"""The comparison table and the voting widget, driven headlessly: clicks, the votes file, escaping, restarts."""
from __future__ import annotations

import json

import pytest
from tiny_models import TINY, build_reward_model

from alignkit.course import widgets

from alignkit.infra.errors import AlignkitError, AnswerTypeError
from alignkit.measure.evaluate import heldout_prompts
from alignkit.core.generation import SampleSettings, reward_scores, sample
from alignkit.world import find_task, ideal_response, load_world
from alignkit.world.labelers import Labeler
from alignkit.world.oracle import score

GREEDY = SampleSettings(max_new_tokens=6, temperature=0.0)
XSS = "<script>alert(1)</script>"
PREFERENCE_KEYS = {"prompt", "chosen", "rejected", "chosen_position", "chosen_model", "rejected_model",
                   "annotator", "session", "pair_index", "time", "choice", "left_model", "right_model"}


def ideal(prompts):
    world = load_world()
    tasks = [find_task(world, p) for p in prompts]
    return [ideal_response(world, t) if t else "I do not know what you mean." for t in tasks]


def rambling(prompts):
    return [f"{p}\nReply: I have the same question. Does anyone know?" for p in prompts]


def hostile(prompts):
    return [f"{XSS}\nline two <b>bold</b> & \"quoted\"" for _ in prompts]


def session(home, n=4, **kw):
    args = {"votes_path": home / "votes.jsonl", "annotator": "ada", "seed": 0, "names": ("ideal", "rambling")}
    return widgets.VotingSession(heldout_prompts()[:n], kw.pop("model_a", ideal), kw.pop("model_b", rambling),
                                 **{**args, **kw})


def lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def html_values(widget):
    """Every HTML value in the widget tree."""
    found = [widget.value] if type(widget).__name__ == "HTML" else []
    for child in getattr(widget, "children", ()):
        found += html_values(child)
    return found


# --- compare -----------------------------------------------------------------------------------------

def test_compare_with_functions_scores_every_response_with_the_oracle(home, capsys):
    prompts = heldout_prompts()[:5]
    table = widgets.compare(prompts, {"ideal": ideal, "rambling": rambling}, show=False)
    assert capsys.readouterr().out == ""
    assert list(table.columns) == ["prompt_index", "prompt", "model", "response", "gold"]
    assert list(table.model) == ["ideal", "rambling"] * 5 and list(table.prompt_index) == [i for i in range(5) for _ in "ab"]
    assert list(table.response[::2]) == ideal(prompts)
    for row in table.to_dict("records"):
        assert row["gold"] == score(row["prompt"], row["response"]).total
    means = table.groupby("model").gold.mean()
    assert means["ideal"] > means["rambling"]


def test_compare_generates_with_each_models_format_and_scores_with_the_rm(home, tiny_lm, small_tokenizer):
    prompts = heldout_prompts()[:3]
    rm = build_reward_model(small_tokenizer, TINY, seed=0).eval()
    table = widgets.compare(prompts, {"chat": (tiny_lm, small_tokenizer), "doc": (tiny_lm, small_tokenizer)},
                            formats={"doc": "document"}, reward_model=(rm, small_tokenizer), sampling=GREEDY, show=False)
    chat = sample(tiny_lm, small_tokenizer, prompts, "chat", GREEDY).responses
    doc = sample(tiny_lm, small_tokenizer, prompts, "document", GREEDY).responses
    assert list(table.response[::2]) == chat and list(table.response[1::2]) == doc and chat != doc
    expected = reward_scores(rm, small_tokenizer, list(table.prompt), list(table.response))
    assert list(table.rm_score) == pytest.approx(expected)


def test_zoo_names_are_refused_with_how_to_load_them(home):
    # The course layer loads no checkpoint: the caller passes zoo.load(name) (and formats for a document model).
    prompts = heldout_prompts()[:2]
    with pytest.raises(AlignkitError, match=r"zoo\.load\('sft'\)"):
        widgets.compare(prompts, {"sft": "sft"}, show=False)
    with pytest.raises(AlignkitError, match=r"zoo\.load\('rm'\)"):
        widgets.compare(prompts, {"ideal": ideal}, reward_model="rm", show=False)
    with pytest.raises(AlignkitError, match=r"zoo\.load"):
        widgets.VotingSession(prompts, "sft", "ppo", votes_path=home / "v.jsonl", annotator="ada")


def test_response_table_is_what_compare_shows_and_is_preference_reads_votes(home):
    prompts = heldout_prompts()[:3]
    models = {"ideal": ideal, "rambling": rambling}
    table = widgets.response_table(prompts, models)
    assert table.equals(widgets.compare(prompts, models, show=False))
    assert list(table.model) == ["ideal", "rambling"] * 3 and list(table.prompt[::2]) == prompts
    assert widgets.is_preference({"prompt": "p", "chosen": "a", "rejected": "b"})
    assert not widgets.is_preference({"prompt": "p", "choice": "tie", "left_response": "a", "right_response": "b"})


def test_compare_prints_text_in_ci_and_escaped_html_in_a_kernel(home, monkeypatch, capsys):
    prompts = heldout_prompts()[:2]
    monkeypatch.setenv("CI", "true")
    widgets.compare(prompts, {"hostile": hostile}, reward_model=lambda ps, rs: [0.5] * len(rs))
    out = capsys.readouterr().out
    gold = score(prompts[0], hostile(prompts)[0]).total
    assert f"Prompt 1: {prompts[0]}" in out and XSS in out and f"gold {gold:.2f} · RM 0.50" in out

    monkeypatch.delenv("CI")
    monkeypatch.setattr(widgets, "in_kernel", lambda: True)
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj.data))
    widgets.compare(prompts, {"hostile": hostile})
    assert capsys.readouterr().out == "" and len(shown) == 1
    assert "<script" not in shown[0] and "<b>bold" not in shown[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown[0] and "white-space:pre-wrap" in shown[0]


def test_bad_models_are_refused_with_what_to_pass(home, tiny_lm):
    prompts = heldout_prompts()[:2]
    with pytest.raises(AlignkitError, match="one string per prompt"):
        widgets.compare(prompts, {"short": lambda ps: ["only one"]}, show=False)
    with pytest.raises(AlignkitError, match=r"\(model, tokenizer\) pair"):
        widgets.compare(prompts, {"bare": tiny_lm}, show=False)
    with pytest.raises(AlignkitError, match="formats"):
        widgets.compare(prompts, {"x": ideal}, formats={"x": "poem"}, show=False)


# --- voting ------------------------------------------------------------------------------------------

def test_clicking_a_button_records_the_response_shown_on_that_side(home):
    s = session(home, n=6)
    view = s.widget()
    for i in range(6):
        side = "left" if i % 2 == 0 else "right"
        shown = s._side_html[side].value
        pair = s.pair()
        s.buttons[side].click()
        row = lines(s.votes_path)[-1]
        assert row["pair_index"] == i and row["chosen_position"] == side and row["choice"] == side
        assert row["chosen"] == pair[side]["response"] and row["chosen_model"] == pair[side]["model"]
        other = "right" if side == "left" else "left"
        assert row["rejected"] == pair[other]["response"] and row["rejected_model"] == pair[other]["model"]
        assert widgets._esc(row["chosen"]) in shown  # what the learner saw on that side is what was chosen
    assert s.finished and all(b.disabled for b in s.buttons.values()) and s._progress.value == "6/6"
    assert len(lines(s.votes_path)) == 6 and view is s.widget()


def test_positions_vary_across_pairs_and_every_row_records_them(home):
    s = session(home, n=12)
    assert len(set(s.a_on_left)) == 2
    assert s.a_on_left == session(home, n=12).a_on_left  # the seed fixes them
    assert s.a_on_left != session(home, n=12, seed=1).a_on_left
    for i in range(12):
        s.vote("tie" if i % 3 == 0 else "A")
    for i, row in enumerate(lines(s.votes_path)):
        left, right = ("ideal", "rambling") if s.a_on_left[i] else ("rambling", "ideal")
        assert (row["left_model"], row["right_model"]) == (left, right)
        if row["choice"] == "left":
            assert row["chosen_model"] == left and row["chosen_position"] == "left"


def test_votes_file_holds_trl_preference_rows_and_every_choice(home):
    s = session(home, n=5)
    for choice in ("left", "B", "tie", "both bad", "skip"):
        s.vote(choice)
    rows = widgets.read_votes(s.votes_path)
    assert [r["choice"] for r in rows] == ["left", "right", "tie", "both_bad", "skip"]
    prefs = widgets.read_votes(s.votes_path, preferences_only=True)
    assert [r["pair_index"] for r in prefs] == [0, 1]
    for row in prefs:
        assert set(row) == PREFERENCE_KEYS and row["chosen"] != row["rejected"] and row["annotator"] == "ada"
    for row in rows[2:]:
        assert "chosen" not in row and "rejected" not in row
        assert {row["left_response"], row["right_response"]} == {r["response"] for r in s.pair(row["pair_index"]).values()
                                                                  if isinstance(r, dict)}
    labeler_row = Labeler().compare(prefs[0]["prompt"], prefs[0]["chosen"], prefs[0]["rejected"])
    assert set(labeler_row) - {"p_chosen"} <= set(prefs[0])  # learners' votes extend the labelers' data
    from datasets import Dataset

    dataset = Dataset.from_list([labeler_row, *prefs])
    assert {"prompt", "chosen", "rejected"} <= set(dataset.column_names) and len(dataset) == 3


def test_scores_are_revealed_only_when_asked(home):
    def after_one_vote(reveal):
        s = session(home, reveal_scores=reveal, annotator=f"ada-{reveal}")
        before = " ".join(html_values(s.widget()))
        s.vote("tie")
        return before, s._feedback_html.value

    before, feedback = after_one_vote("after")
    assert "gold" not in before and "gold" in feedback and "ideal" not in before and "ideal" in feedback
    before, feedback = after_one_vote("before")
    assert "gold" in before and "ideal" not in before
    before, feedback = after_one_vote("never")
    assert "gold" not in before + feedback and "ideal" in feedback
    with pytest.raises(AlignkitError, match="reveal_scores"):
        session(home, reveal_scores="sometimes")


def test_model_text_is_escaped_in_every_html_widget(home):
    prompts = ["<img src=x onerror=alert(2)>\nsecond line"] + heldout_prompts()[:2]
    s = widgets.VotingSession(prompts, hostile, ideal, votes_path=home / "v.jsonl", annotator="ada",
                              names=("<i>evil</i>", "ideal"), reveal_scores="before")
    views = [html_values(s.widget())]
    while not s.finished:
        s.buttons["left"].click()
        views.append(html_values(s.widget()))
    s.buttons["tie"].click()  # after the end: an error message, escaped too
    views.append(html_values(s.widget()))
    everything = "\n".join(v for view in views for v in view)
    for raw in (XSS, "<b>bold", "<img", "<i>evil"):
        assert raw not in everything
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in everything and "&lt;img src=x" in everything
    assert "&lt;i&gt;evil&lt;/i&gt;" in everything and "pre-wrap" in everything and "voted on" in everything


def test_a_new_session_resumes_after_the_last_vote_and_loses_nothing(home):
    first = session(home)
    first.vote("A")
    first.vote("skip")
    del first  # the kernel restarts
    second = session(home)
    assert second.index == 2 and second.progress == "2/4" and second.pair()["pair_index"] == 2
    second.vote("B")
    second.vote("tie")
    assert second.finished
    rows = lines(home / "votes.jsonl")
    assert [r["pair_index"] for r in rows] == [0, 1, 2, 3] and len({r["session"] for r in rows}) == 1
    with pytest.raises(AlignkitError, match="all 4 pairs"):
        second.vote("A")
    assert len(lines(home / "votes.jsonl")) == 4
    assert session(home, annotator="grace").index == 0  # another learner's session starts afresh
    assert session(home, seed=1).index == 0


def test_a_torn_last_line_does_not_lose_earlier_votes(home):
    s = session(home)
    s.vote("A")
    s.vote("B")
    with open(s.votes_path, "ab") as f:  # a crash in the middle of writing the third vote
        f.write(b'{"prompt": "Where does the lunkel live?", "cho')
    with pytest.warns(UserWarning, match="incomplete last line"):
        resumed = session(home)
    assert resumed.index == 2
    resumed.vote("left")
    with pytest.warns(UserWarning, match="damaged line"):
        rows = widgets.read_votes(s.votes_path)
    assert [r["pair_index"] for r in rows] == [0, 1, 2]


def test_unknown_choice_raises_and_records_nothing(home):
    s = session(home)
    for bad in ("C", "maybe", 1, None):
        with pytest.raises(AnswerTypeError, match="'both_bad'"):
            s.vote(bad)
    assert not s.votes_path.exists() and s.index == 0


def test_static_fallback_in_ci_still_votes(home, monkeypatch, capsys):
    monkeypatch.setenv("CI", "1")
    s = session(home)
    s._ipython_display_()
    out = capsys.readouterr().out
    pair = s.pair()
    assert f"Prompt: {pair['prompt']}" in out and pair["left"]["response"] in out and "1 of 4" in out
    assert "gold" not in out and s._widget is None
    s.vote("A")
    assert s.progress == "1/4" and "2 of 4" in s.render_text()


def test_summary_counts_votes_and_agreement_with_gold(home):
    s = session(home)
    for i in range(3):
        pair = s.pair()
        s.vote("left" if pair["left"]["model"] == "ideal" else "right")
    s.vote("skip")
    summary = s.summary()
    assert summary["votes"] == {"left": sum(s.a_on_left[:3]), "right": 3 - sum(s.a_on_left[:3]), "tie": 0,
                                "both_bad": 0, "skip": 1}
    assert summary["preferences"] == 3 and summary["agrees_with_gold"] == 1.0


def test_defaults_use_the_learner_id_and_alignkit_home(home, monkeypatch):
    monkeypatch.setenv("ALIGNKIT_LEARNER", "ada@example.org")
    s = widgets.VotingSession(heldout_prompts()[:2], ideal, rambling)
    assert s.names == ("model_a", "model_b") and s.annotator == "ada@example.org"
    s.vote("tie")
    assert lines(home / "home" / "votes.jsonl")[0]["annotator"] == "ada@example.org"
    assert s.session == widgets.session_id("ada@example.org", 0, ("model_a", "model_b"), heldout_prompts()[:2])
    with pytest.raises(AlignkitError, match="names"):
        widgets.VotingSession(heldout_prompts()[:2], ideal, rambling, names=("x", "x"))


def test_an_unwritable_votes_file_shows_an_error_naming_the_path(home):
    # With an unwritable ALIGNKIT_HOME the Vote buttons once silently did nothing.
    blocker = home / "not_a_folder"
    blocker.write_text("a file where a folder should be")
    s = session(home, votes_path=blocker / "votes.jsonl")
    s.widget()
    s.buttons["left"].click()
    feedback = s._feedback_html.value
    assert "b00020" in feedback and str(blocker / "votes.jsonl") in feedback and "ALIGNKIT_HOME" in feedback
    assert s.progress == "0/4"  # nothing was recorded, so the pair is still shown
    with pytest.raises(AlignkitError, match="could not save"):
        s.vote("left")
