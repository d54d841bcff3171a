"""Plots: live training plots (`live`), static result plots (`static`), their PNG (`png`), `show` to
display any plotly figure once with that PNG beside it, and the Trainer callback (`callback`).

    with LivePlot({"loss": "loss", "kl": "KL to reference (nats)"}, healthy={"kl": (0, 6)}) as plot:
        plot.log(step, loss=loss.item(), kl=kl.item())
"""
from typing import Any

from alignkit.viz.live import LivePlot, plotly_bundle, resolve_backend, show
from alignkit.viz.png import to_png
from alignkit.viz.static import (bar_plot, ema, labeled_scatter, line_plot, live_figure, place_labels,
                                 scatter_with_envelope, upper_envelope)

__all__ = ["LivePlot", "LivePlotCallback", "resolve_backend", "plotly_bundle", "show", "to_png", "ema", "line_plot",
           "scatter_with_envelope", "upper_envelope", "bar_plot", "live_figure", "labeled_scatter", "place_labels"]


def __getattr__(name: str) -> Any:
    # The transformers callback is imported on first use: importing transformers takes seconds.
    if name == "LivePlotCallback":
        from alignkit.viz.callback import LivePlotCallback

        return LivePlotCallback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
