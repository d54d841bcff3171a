"""Best-of-n on scored samples: the pick, the curve against KL_bon, the within-prompt correlation, Gao's fit."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from alignkit.infra.errors import AlignkitError
from alignkit.measure.best_of_n import (best_of, best_of_groups, best_of_n_curve, fit_over_optimisation,
                                        kl_best_of_n, within_prompt_correlation)


def frame(rows: dict[str, list[tuple[float, float]]], kind: str = "fact") -> pd.DataFrame:
    """{prompt: [(gold, rm_score) per sample]} as the harness's per-response frame."""
    return pd.DataFrame([{"prompt": p, "category": kind, "sample": i, "gold": g, "rm_score": r}
                         for p, samples in rows.items() for i, (g, r) in enumerate(samples)])


def test_each_group_of_n_samples_is_one_draw_of_best_of_n_numbered_like_a_policy_sample():
    f = frame({"a": [(0.1, 1.0), (0.9, 3.0), (0.5, 2.0), (1.0, 0.0)], "b": [(0.2, 2.0), (0.3, 2.0), (0.0, 1.0),
                                                                            (0.4, 5.0)]})
    picked = best_of_groups(f, 2).set_index(["prompt", "sample"]).gold
    assert picked.to_dict() == {("a", 0): 0.9, ("a", 1): 0.5, ("b", 0): 0.2, ("b", 1): 0.4}  # ties: the earlier
    with pytest.raises(AlignkitError, match="no 'kl'"):
        best_of_groups(f, 2, by="kl")


def test_kl_of_best_of_n_is_gaos_closed_form():
    assert kl_best_of_n(1) == 0.0
    assert kl_best_of_n(4) == pytest.approx(math.log(4) - 0.75)
    with pytest.raises(AlignkitError):
        kl_best_of_n(0)


def test_the_pick_is_the_highest_score_among_the_first_n_and_ties_go_to_the_earlier():
    f = frame({"a": [(0.1, 1.0), (0.9, 3.0), (0.5, 3.0), (1.0, 9.0)], "b": [(0.2, 2.0), (0.3, 2.0), (0.0, 1.0),
                                                                            (0.4, 0.0)]})
    picked = best_of(f, 3).set_index("prompt")
    assert picked.loc["a", "sample"] == 1 and picked.loc["b", "sample"] == 0  # sample 3 (score 9) is not drawn
    assert list(best_of(f, 4, by="gold").set_index("prompt")["gold"]) == [1.0, 0.4]
    with pytest.raises(AlignkitError, match="fewer than 8"):
        best_of(f, 8)


def test_a_judge_that_tracks_gold_climbs_and_one_that_does_not_falls():
    good = frame({f"p{i}": [(g, g) for g in (0.2, 0.8, 0.4, 0.6)] for i in range(5)})
    bad = frame({f"p{i}": [(g, -g) for g in (0.8, 0.2, 0.6, 0.4)] for i in range(5)})
    up, down = best_of_n_curve(good), best_of_n_curve(bad)
    assert list(up.n) == [1, 2, 4] and list(up.gold) == pytest.approx([0.2, 0.8, 0.8])
    assert list(down.gold) == pytest.approx([0.8, 0.2, 0.2]) and list(down.gold_ceiling) == pytest.approx([0.8] * 3)
    assert down.gain_over_one.iloc[-1] == pytest.approx(-0.6)


def test_within_prompt_correlation_per_kind_skips_prompts_without_an_order():
    tracked = frame({"a": [(0.0, 1.0), (1.0, 2.0), (0.5, 1.5)], "flat": [(0.5, 1.0), (0.5, 2.0)]})
    reversed_ = frame({"c": [(0.0, 2.0), (1.0, 1.0)]}, kind="harmful")
    table = within_prompt_correlation(pd.concat([tracked, reversed_])).set_index("kind")
    assert table.loc["fact", "correlation"] == pytest.approx(1.0) and table.loc["fact", "prompts"] == 1
    assert table.loc["fact", "prompts_of_kind"] == 2 and table.loc["harmful", "correlation"] == pytest.approx(-1.0)


def test_gaos_form_is_recovered_from_a_curve_that_follows_it():
    d = pd.Series([0.0, 0.5, 1.0, 1.5, 2.0])
    curve = pd.DataFrame({"sqrt_kl": d, "gain_over_one": d * (0.3 - 0.1 * d)})
    fit = fit_over_optimisation(curve)
    assert fit["alpha"] == pytest.approx(0.3) and fit["beta"] == pytest.approx(0.1)
    assert fit["peak_sqrt_kl"] == pytest.approx(1.5)
