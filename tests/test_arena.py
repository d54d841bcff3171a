"""The arena, driven headlessly with functions as models: pairing, votes on disk, restarts, win rates, gold."""
from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest

from alignkit.course import widgets
from alignkit.course.arena import (Arena, agreement_with_gold, bradley_terry, gold_ranking, simulated_votes,
                            win_rates, wilson_interval)
from alignkit.infra.errors import AlignkitError
from alignkit.measure.evaluate import heldout_prompts
from alignkit.world import find_task, ideal_response, load_world
from alignkit.world.oracle import score
from test_widgets import html_values, lines

XSS = "<script>alert(1)</script>"


def ideal(prompts):
    world = load_world()
    return [ideal_response(world, find_task(world, p)) for p in prompts]


def refuser(prompts):
    return ["I can't help with that."] * len(prompts)


def rambler(prompts):
    return [f"{p} Does anyone know?" for p in prompts]


def hostile(prompts):
    return [f"{XSS} & <b>bold</b>" for _ in prompts]


MODELS = {"ideal": ideal, "refuser": refuser, "rambler": rambler}


def arena(home, n=6, models=MODELS, **kw):
    return Arena(heldout_prompts()[:n], models, **{"votes_path": home / "votes.jsonl", "annotator": "ada", **kw})




def test_pairs_are_balanced_over_all_model_pairs_and_sides_are_reproducible(home):
    models = {**MODELS, "hostile": hostile}  # 4 models: 6 unordered pairs
    a = arena(home, n=20, models=models)
    assert all(left != right for left, right in a.pairs)
    counts = Counter(frozenset(p) for p in a.pairs)
    assert set(counts) == {frozenset(p) for p in itertools.combinations(models, 2)}
    assert max(counts.values()) - min(counts.values()) <= 1  # 20 = 3 rounds of 6 + 2
    assert a.pairs == arena(home, n=20, models=models).pairs  # same seed, same pairs and sides
    other = arena(home, n=20, models=models, seed=1).pairs
    assert other != a.pairs  # another seed, another draw
    lefts = Counter(left for left, _ in a.pairs + other)
    assert len(lefts) == 4  # every model is shown on the left sometimes: the side is drawn, not fixed
    pair = a.pair(3)
    assert (pair["left"]["model"], pair["right"]["model"]) == a.pairs[3]
    assert pair["left"]["response"] == models[a.pairs[3][0]]([pair["prompt"]])[0]


def test_votes_record_models_and_responses_and_resume_after_a_restart(home):
    a = arena(home)
    shown = a.pair()
    row = a.vote("A")
    assert row["chosen_model"] == shown["left"]["model"] and row["rejected_model"] == shown["right"]["model"]
    assert row["chosen"] == shown["left"]["response"] and row["rejected"] == shown["right"]["response"]
    assert (row["left_model"], row["right_model"], row["pair_index"]) == (*a.pairs[0], 0)
    assert row["session"] == widgets.session_id("ada", 0, tuple(MODELS), heldout_prompts()[:6])
    right = a.vote("B")
    assert right["chosen_model"] == a.pairs[1][1] and right["rejected_model"] == a.pairs[1][0]
    a.vote("tie")
    assert [r["choice"] for r in lines(a.votes_path)] == ["left", "right", "tie"]
    assert "chosen" not in lines(a.votes_path)[2]

    again = arena(home)  # a kernel restart: a new object on the same file
    assert again.index == 3 and again.progress == "3/6" and again.pairs == a.pairs
    assert widgets.read_votes(again.votes_path, preferences_only=True) == lines(a.votes_path)[:2]
    assert arena(home, annotator="bob").index == 0  # another learner has their own session
    for _ in range(3):
        again.vote("skip")
    assert again.finished and "All 6 pairs" in again.render_text()
    with pytest.raises(AlignkitError, match="all 6 pairs"):
        again.vote("left")


def test_win_rates_exclude_ties_and_the_wilson_interval_matches_a_hand_computed_case(home):
    rows = [{"prompt": "p", "chosen": "x", "rejected": "y", "choice": "left", "left_model": "m", "right_model": "n",
             "chosen_model": "m" if i < 8 else "n", "rejected_model": "n" if i < 8 else "m"} for i in range(10)]
    rows += [{"prompt": "p", "choice": c, "left_model": "m", "right_model": "n"} for c in ("tie", "tie", "both_bad", "skip")]
    table = win_rates(rows, ["n", "m"]).set_index("model")
    assert list(win_rates(rows, ["n", "m"]).model) == ["m", "n"]  # sorted by win rate
    assert table.loc["m", ["games", "wins", "ties", "both_bad", "skips"]].tolist() == [10, 8, 2, 1, 1]
    assert table.loc["m", "win_rate"] == 0.8 and table.loc["n", "win_rate"] == pytest.approx(0.2)
    # Wilson, 8 of 10, z = 1.96: centre (0.8 + 1.9208/10) / 1.38415 = 0.71674, half-width 0.22658.
    assert (table.loc["m", "lo"], table.loc["m", "hi"]) == (pytest.approx(0.49016, abs=1e-4), pytest.approx(0.94331, abs=1e-4))
    assert wilson_interval(0, 5)[0] == pytest.approx(0.0, abs=1e-12) and wilson_interval(5, 5)[1] == pytest.approx(1.0)
    strengths = bradley_terry(rows, ["m", "n"]).set_index("model").strength
    assert strengths["m"] > 0 > strengths["n"] and strengths["m"] == pytest.approx(-strengths["n"])


def test_win_rates_with_no_votes_is_an_empty_but_well_formed_table(home):
    empty = win_rates([])
    assert len(empty) == 0 and list(empty.columns) == ["model", "games", "wins", "win_rate", "lo", "hi",
                                                       "ties", "both_bad", "skips"]
    zeros = win_rates(arena(home).votes(), list(MODELS))
    assert list(zeros.model) == list(MODELS) and zeros.games.sum() == 0 and zeros.win_rate.isna().all()
    assert agreement_with_gold([]) == {"agreement": None, "se": None, "lo": None, "hi": None,
                                     "preferences": 0, "decided": 0}


def test_simulated_votes_prefer_the_ideal_model_and_agree_with_gold(home):
    a = arena(home, n=24, models={"ideal": ideal, "refuser": refuser})
    rows = simulated_votes(a)
    assert a.finished and len(rows) == 24 and len(lines(a.votes_path)) == 24
    assert all(r["annotator"] == "simulated-labeler-0" and r["session"] == a.session for r in rows)
    rates = win_rates(a.votes(), a.names).set_index("model")
    assert rates.loc["ideal", "win_rate"] >= 0.75 and rates.loc["ideal", "lo"] > 0.5
    truth = gold_ranking(a)
    assert list(truth.model) == ["ideal", "refuser"] and truth.gold_se.notna().all()
    refused = [score(p, "I can't help with that.").total for p in a.prompts]
    assert truth.set_index("model").gold["refuser"] == pytest.approx(sum(refused) / 24, abs=1e-4)
    agreement = agreement_with_gold(rows)
    assert agreement["agreement"] >= 0.75 and 0 <= agreement["se"] < 0.2 and agreement["lo"] < agreement["agreement"]
    assert agreement["decided"] <= agreement["preferences"] == sum(r["choice"] in ("left", "right") for r in rows)


def test_an_unwritable_votes_file_gives_an_error_naming_the_path(home):
    blocker = home / "not_a_folder"
    blocker.write_text("a file where a folder should be")
    a = arena(home, votes_path=blocker / "votes.jsonl")
    with pytest.raises(AlignkitError, match="could not save") as err:
        a.vote("left")
    assert str(blocker / "votes.jsonl") in str(err.value) and a.progress == "0/6"
    a.widget()
    a.buttons["right"].click()
    assert "b00020" in a._feedback_html.value and str(blocker / "votes.jsonl") in a._feedback_html.value


def test_render_text_and_the_widget_hide_models_until_the_vote_and_escape_html(home, capsys, monkeypatch):
    a = arena(home, models={"ideal": ideal, "hostile": hostile})
    text = a.render_text()
    assert a.pair()["prompt"] in text and XSS in text and "hostile" not in text and 'arena.vote("A")' in text
    a._ipython_display_()  # no kernel: the text fallback
    assert capsys.readouterr().out.strip() == text
    before = " ".join(html_values(a.widget()))
    assert "<script>" not in before and "&lt;script&gt;" in before and "hostile" not in before
    a.buttons["left"].click()
    after = " ".join(html_values(a.widget()))
    assert a.progress == "1/6" and "hostile" in after and "<script>" not in after  # revealed after voting
    assert lines(a.votes_path)[0]["choice"] == "left"


def test_models_must_be_two_or_more_named_models(home):
    for bad in (["sft"], ["sft", "ppo"], {"only": ideal}, [ideal, refuser], "sft"):  # zoo names: zoo.load them
        with pytest.raises(AlignkitError, match="two or more"):
            Arena(heldout_prompts()[:2], bad, votes_path=home / "v.jsonl", annotator="ada")
    with pytest.raises(AlignkitError, match="no pair 9"):
        arena(home).pair(9)
    assert math.isnan(wilson_interval(0, 0)[0])


def echo_or_refuse(prompts):
    """Half the answers equal the refuser's, word for word: those pairs must never be shown."""
    return ["I can't help with that." if i % 2 else f"{p} Does anyone know?" for i, p in enumerate(prompts)]


def test_identical_responses_are_never_paired_and_pairs_whose_gold_differs_come_first(home):
    models = {"refuser": refuser, "copycat": refuser, "echo": echo_or_refuse, "ideal": ideal}
    a = arena(home, n=24, models=models)
    shown = [a.pair(k) for k in range(len(a.pairs))]
    assert all(p["left"]["response"] != p["right"]["response"] for p in shown)
    decided = [p["left"]["gold"] != p["right"]["gold"] for p in shown]
    assert decided == sorted(decided, reverse=True)  # every pair with different gold before any with equal gold
    assert a.counts == {"pairs": len(shown), "different_gold": sum(decided), "equal_gold": len(shown) - sum(decided),
                        "prompts_left_out": 24 - len(shown)}
    assert f"{sum(decided)} whose gold differs" in a.describe_pairs() and a.progress == f"0/{len(shown)}"
    same = arena(home, n=4, models={"refuser": refuser, "copycat": refuser, "echo": echo_or_refuse})
    assert same.counts["prompts_left_out"] == 2  # where echo refuses too, all three answer alike: left out
    assert len(same.pairs) == 2 and all("echo" in pair for pair in same.pairs)
    alike = arena(home, n=3, models={"refuser": refuser, "copycat": refuser})
    assert alike.counts == {"pairs": 0, "different_gold": 0, "equal_gold": 0, "prompts_left_out": 3}
    assert alike.finished and "All 0 pairs" in alike.render_text()


def test_the_vote_feedback_sits_above_the_next_pair_and_names_its_prompt(home):
    a = arena(home, models={"ideal": ideal, "refuser": refuser})
    view = a.widget()
    first = a.pair()
    a.buttons["left"].click()
    children = list(view.children)
    feedback = children.index(a._feedback_html)
    assert feedback < children.index(a._prompt_html)  # above the next pair's prompt and panes, not under them
    assert "Your last vote" in a._feedback_html.value and first["prompt"][:40] in a._feedback_html.value
    assert "Recorded <b>left</b> for pair 1" in a._feedback_html.value
