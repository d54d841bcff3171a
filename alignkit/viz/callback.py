"""LivePlotCallback: feeds a transformers / TRL Trainer's logs into a LivePlot.

Its own module because importing transformers takes seconds; `alignkit.viz.LivePlotCallback`
imports it on first use.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

from transformers import TrainerCallback

__all__ = ["LivePlotCallback", "numeric_logs"]


def numeric_logs(logs: Mapping[str, Any] | None, keep: Iterable[str] | None = None) -> dict[str, float]:
    """The finite numeric entries of a Trainer log dict (optionally only the `keep` keys)."""
    wanted = None if keep is None else set(keep)
    values = {}
    for key, value in (logs or {}).items():
        if wanted is not None and key not in wanted:
            continue
        if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
            value = value.item()  # 0-d tensors and numpy scalars
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
            values[key] = float(value)
    return values


class LivePlotCallback(TrainerCallback):
    """Log every Trainer log event (train and eval) into `plot` at `state.global_step`.

        plot = LivePlot({"loss": "train loss", "rewards/margins": "reward margin"})
        trainer = DPOTrainer(..., callbacks=[LivePlotCallback(plot)])

    `metrics` limits which log keys are recorded; by default every numeric key is (the plot draws
    only its own metrics, the rest lands in `plot.history`). The plot is finished when training ends.
    """

    def __init__(self, plot: Any, metrics: Iterable[str] | None = None):
        self.plot = plot
        self.metrics = None if metrics is None else tuple(metrics)

    def on_log(self, args, state, control, logs=None, **kwargs):
        values = numeric_logs(logs, self.metrics)
        if values:
            self.plot.log(state.global_step, **values)

    def on_train_end(self, args, state, control, **kwargs):
        self.plot.finish()
