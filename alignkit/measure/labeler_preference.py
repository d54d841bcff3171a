"""Would a labeler prefer this model to that one? AlpacaFarm's win rate, from the simulated labelers.

Each test prompt's i-th sample of model A is shown beside model B's i-th sample to a labeler drawn afresh
(a seed no training label used), in a random order. Pairs whose two responses are the same text are not decided.
The win rate is over decided pairs, with its 95% Wilson interval (pairs as independent, as AlpacaFarm reports
it) and the standard error clustered by prompt (the samples of one prompt are not independent).
"""
from __future__ import annotations

import pandas as pd

from alignkit.infra.errors import AlignkitError
from alignkit.measure.stats import clustered_mean_and_se, wilson_interval
from alignkit.world.labelers import Labeler, LabelerSettings

FRESH_LABELER = LabelerSettings(seed=7001)  # not a seed the preference data was labelled with


def labeler_preference(frame_a: pd.DataFrame, frame_b: pd.DataFrame,
                       labeler: LabelerSettings = FRESH_LABELER) -> dict:
    """A's win rate over B among decided pairs (same prompt, same sample number), with Wilson and clustered SE."""
    both = frame_a[["prompt", "sample", "response"]].merge(frame_b[["prompt", "sample", "response"]],
                                                            on=["prompt", "sample"], suffixes=("_a", "_b"))
    if both.empty:
        raise AlignkitError("labeler_preference: the two evaluations share no (prompt, sample); evaluate both on the "
                            "same prompts with the same samples_per_prompt.")
    decided = both[both.response_a.str.strip() != both.response_b.str.strip()]
    judge = Labeler(labeler)
    a_wins = [float(judge.compare(row.prompt, row.response_a, row.response_b)["chosen"] == row.response_a)
              for row in decided.itertuples()]
    wins, games = int(sum(a_wins)), len(a_wins)
    if not games:  # every pair the same text: nothing to prefer
        return {"pairs": len(both), "decided": 0, "wins": 0, "win_rate": None, "wilson_lo": None, "wilson_hi": None,
                "se_by_prompt": None}
    lo, hi = wilson_interval(wins, games)
    se = clustered_mean_and_se(a_wins, list(decided.prompt))[1]
    return {"pairs": len(both), "decided": games, "wins": wins, "win_rate": round(wins / games, 4),
            "wilson_lo": round(lo, 4), "wilson_hi": round(hi, 4), "se_by_prompt": round(se, 4)}
