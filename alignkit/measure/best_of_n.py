"""Best-of-n: draw n responses per prompt and keep the one a reward model scores highest.

    summary, frame = evaluate(sft, tok, reward_model=rm, config=EvalSettings(samples_per_prompt=16, ...))
    curve = best_of_n_curve(frame)                 # n = 1, 2, 4, ..., 16: gold under the RM and under gold
    within_prompt_correlation(frame)               # per kind: does the RM order a prompt's samples like gold?

Best-of-n is the baseline every method is compared with (AlpacaFarm): no training, only the judge. Its KL to
the sampling policy is known in closed form, KL_bon = log n - (n - 1)/n (Gao et al. 2022), so gold can be read
against d = sqrt(KL) beside the RL runs; picking by gold instead of the RM is the ceiling the samples allow.
A reward model that helps a policy must first find the better of that policy's own samples on new prompts.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from alignkit.infra.errors import AlignkitError
from alignkit.measure.stats import mean_and_se

__all__ = ["kl_best_of_n", "best_of", "best_of_groups", "best_of_n_curve", "within_prompt_correlation",
           "fit_over_optimisation"]


def kl_best_of_n(n: int) -> float:
    """KL(best-of-n || the sampling policy) in nats: log n - (n - 1)/n (Gao et al. 2022, Appendix)."""
    if n < 1:
        raise AlignkitError(f"best-of-n needs n >= 1, not {n}.")
    return math.log(n) - (n - 1) / n


def best_of(frame: pd.DataFrame, n: int, by: str = "rm_score") -> pd.DataFrame:
    """Per prompt, the row among its first n samples (sample < n) with the highest `by`; ties go to the earlier."""
    if by not in frame:
        raise AlignkitError(f"best_of: the frame has no {by!r} column; evaluate with reward_model=... to score it.")
    drawn = frame[frame["sample"] < n]
    if drawn.groupby("prompt", sort=False)["sample"].nunique().min() < n:
        raise AlignkitError(f"best_of: some prompts have fewer than {n} samples; evaluate with samples_per_prompt "
                            f">= {n}.")
    ordered = drawn.sort_values(["prompt", by, "sample"], ascending=[True, False, True], kind="stable")
    return ordered.drop_duplicates("prompt").set_index("prompt").loc[drawn.prompt.unique()].reset_index()


def best_of_groups(frame: pd.DataFrame, n: int, by: str = "rm_score") -> pd.DataFrame:
    """Samples 0..n-1 of each prompt are one draw of best-of-n, n..2n-1 the next, and so on: per prompt, the row
    `by` picks in each group, renumbered 0, 1, ... so the result pairs with a policy's frame sample by sample."""
    if by not in frame:
        raise AlignkitError(f"best_of_groups: the frame has no {by!r} column; evaluate with reward_model=... to score it.")
    grouped = frame.assign(sample=frame["sample"] // n, _order=frame["sample"])
    ordered = grouped.sort_values(["prompt", "sample", by, "_order"], ascending=[True, True, False, True], kind="stable")
    return ordered.drop_duplicates(["prompt", "sample"]).drop(columns="_order").reset_index(drop=True)


def best_of_n_curve(frame: pd.DataFrame, ns: tuple[int, ...] | None = None, by: str = "rm_score",
                    kind: str | None = None) -> pd.DataFrame:
    """One row per n: the gold of the response `by` picks and of the one gold picks (the ceiling), each mean ± SE
    over prompts, and the gain of `by`'s pick over one sample, paired on the prompts; KL_bon and d = sqrt(KL).

    ns: default 1, 2, 4, ... up to the samples per prompt. kind: only the prompts of one kind ("fact", ...)."""
    frame = frame if kind is None else frame[frame.category == kind]
    most = int(frame.groupby("prompt")["sample"].nunique().min())
    ns = ns or tuple(2 ** i for i in range(int(math.log2(most)) + 1))
    first = best_of(frame, 1, by).set_index("prompt").gold
    rows = []
    for n in ns:
        picked, ceiling = best_of(frame, n, by).set_index("prompt").gold, best_of(frame, n, "gold").gold
        gain, gain_se = mean_and_se(picked - first.loc[picked.index], digits=None)
        (gold, gold_se), (best, best_se) = mean_and_se(picked, None), mean_and_se(ceiling, None)
        rows.append({"n": n, "kl_bon": kl_best_of_n(n), "sqrt_kl": math.sqrt(kl_best_of_n(n)), "gold": gold,
                     "gold_se": gold_se, "gain_over_one": gain, "gain_se": gain_se, "gold_ceiling": best,
                     "gold_ceiling_se": best_se, "prompts": len(picked)})
    return pd.DataFrame(rows)


def within_prompt_correlation(frame: pd.DataFrame, by: str = "rm_score") -> pd.DataFrame:
    """Per kind: the mean over prompts of the Pearson correlation between `by` and gold across a prompt's samples,
    with its SE over prompts. Prompts whose samples all share one gold or one score are left out (no order to
    find); `prompts` counts those kept."""
    rows = []
    for kind, of_kind in frame.groupby("category", sort=True):
        correlations = []
        for _, samples in of_kind.groupby("prompt", sort=False):
            if samples.gold.nunique() > 1 and samples[by].nunique() > 1:
                correlations.append(float(np.corrcoef(samples[by].astype(float), samples.gold.astype(float))[0, 1]))
        mean, se = mean_and_se(correlations, None) if correlations else (float("nan"), float("nan"))
        rows.append({"kind": kind, "correlation": mean, "correlation_se": se, "prompts": len(correlations),
                     "prompts_of_kind": of_kind.prompt.nunique()})
    return pd.DataFrame(rows)


def fit_over_optimisation(curve: pd.DataFrame) -> dict:
    """Gao et al.'s best-of-n form, gain(d) = d (alpha - beta d), fitted by least squares to the curve's gains.

    beta > 0 means over-optimisation: the gain peaks at d* = alpha / (2 beta) and falls after."""
    d, gain = curve.sqrt_kl.to_numpy(float), curve.gain_over_one.to_numpy(float)
    design = np.stack([d, -d ** 2], axis=1)  # gain = alpha d - beta d^2
    (alpha, beta), *_ = np.linalg.lstsq(design, gain, rcond=None)
    peak = alpha / (2 * beta) if beta > 0 else float("inf")
    return {"alpha": float(alpha), "beta": float(beta), "peak_sqrt_kl": float(peak)}
