"""Plots: live training plots (`live`), static result plots (`static`), their PNG (`png`), and `show` to
display any plotly figure once with that PNG beside it.

    with LivePlot({"loss": "loss", "kl": "KL to reference (nats)"}, healthy={"kl": (0, 6)}) as plot:
        train_dpo(policy, reference, tokenizer, rows, on_step=plot)   # a LivePlot is a training hook
        # or, in a loop of your own: plot.log(step, loss=loss.item(), kl=kl.item())
"""
from alignkit.viz.live import LivePlot, plotly_bundle, resolve_backend, show
from alignkit.viz.png import to_png
from alignkit.viz.static import (bar_plot, ema, labeled_scatter, line_plot, live_figure, place_labels,
                                 scatter_with_envelope, upper_envelope)

__all__ = ["LivePlot", "resolve_backend", "plotly_bundle", "show", "to_png", "ema", "line_plot",
           "scatter_with_envelope", "upper_envelope", "bar_plot", "live_figure", "labeled_scatter", "place_labels"]
