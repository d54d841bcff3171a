"""Live training plots that work in JupyterLab, Colab, VS Code and headless CI.

    with LivePlot({"loss": "loss", "kl": "KL to reference (nats)"}, healthy={"kl": (0, 6)}) as plot:
        for step in range(1, n + 1):
            ...
            plot.log(step, loss=loss.item(), kl=kl.item())

A LivePlot is also a training hook: every `train_*` in alignkit takes `on_step=plot` and calls it with each
step's logged dict (`plot(row)`), so the training code never knows it is being drawn.

Backends (Colab's plotly 5.24 drops display ids and FigureWidget is unreliable there): "display" publishes the figure's plotly mimebundle with
`display(raw=True, display_id=True)` and updates that handle, which works on Colab's plotly 5.24 and
JupyterLab alike; "final" publishes the same way but only once, the finished figure, when the plot
finishes; "figurewidget" (opt-in) uses plotly's FigureWidget, unreliable on Colab; "record" draws
nothing and only keeps `history`. "auto" picks "display" in a live kernel, "final" in a kernel under CI
(the committed notebook shows each plot once, finished) and "record" outside a kernel; the environment
variable ALIGNKIT_PLOTS=display|final|figurewidget|record overrides any choice, so an instructor can
silence every plot in a headless run.

Every figure LivePlot finishes, and every figure `show` displays, carries a static PNG (drawn by
`alignkit.viz.png` with matplotlib) beside its interactive form, so a notebook read without a kernel
(GitHub, nbviewer) still shows the plot. Live redraws skip the PNG: drawing it costs more than plotting.
"""
from __future__ import annotations

import base64
import functools
import html
import json
import math
import os
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from alignkit.infra.errors import AlignkitError
from alignkit.infra.runtime import in_ci, in_kernel
from alignkit.viz.static import bar_plot, ema, line_plot, live_figure, scatter_with_envelope, upper_envelope

__all__ = [
    "LivePlot",
    "resolve_backend",
    "plotly_bundle",
    "show",
    "ema",
    "line_plot",
    "scatter_with_envelope",
    "upper_envelope",
    "bar_plot",
]

BACKENDS = ("display", "final", "figurewidget", "record")
ENV_BACKEND = "ALIGNKIT_PLOTS"
_now = time.monotonic  # module attribute so tests can drive the wall-time throttle


def resolve_backend(backend: str = "auto") -> str:
    """The backend a LivePlot will use: ALIGNKIT_PLOTS if set, else `backend`, with "auto" resolved."""
    forced = os.environ.get(ENV_BACKEND, "").strip().lower()
    if forced:
        if forced not in BACKENDS:
            raise ValueError(f"{ENV_BACKEND}={forced!r} is not a plot backend; set it to one of "
                             f"{', '.join(BACKENDS)} or unset it")
        return forced
    if backend not in (*BACKENDS, "auto"):
        raise ValueError(f"backend={backend!r} is not a plot backend; use 'auto' or one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    if not in_kernel():
        return "record"
    return "final" if in_ci() else "display"


def _describe(fig: go.Figure) -> str:
    title = fig.layout.title.text if fig.layout.title is not None else None
    return f"<plotly figure: {title}>" if title else "<plotly figure>"


def plotly_bundle(fig: go.Figure, text: str | None = None, static: bool = True) -> dict[str, Any]:
    """The figure as a raw display bundle: plotly JSON (JupyterLab, VS Code), HTML (Colab, classic
    notebook), and with `static` a PNG inside the HTML, where the plot replaces it once plotly.js draws:
    a page that runs no scripts (GitHub, nbviewer) shows the picture instead.

    The PNG is not a bundle entry of its own: JupyterLab ranks image/png above the plotly renderer and
    would show the picture in place of the interactive plot (measured in tests/browser)."""
    import plotly.io as pio

    config = {"displaylogo": False}
    figure_json = json.loads(pio.to_json(fig, validate=False))
    figure_json["config"] = config
    text = _describe(fig) if text is None else text
    bundle = {"application/vnd.plotly.v1+json": figure_json}
    png = None
    if static:
        from alignkit.viz.png import to_png

        png = base64.b64encode(to_png(fig)).decode("ascii")
    bundle["text/html"] = _figure_html(figure_json, int(fig.layout.height or 450), png, text)
    bundle["text/plain"] = text
    return bundle


def show(fig: go.Figure, text: str | None = None) -> None:
    """Display a plotly figure once, interactive with its static PNG beside it (the same under CI)."""
    from IPython.display import display

    display(plotly_bundle(fig, text), raw=True)


# Loads plotly.js once per page, from its CDN, then draws: by RequireJS where the page has it (the classic
# notebook, where plotly.js 2.x registers as an AMD module, not `window.Plotly`), else by a script tag whose
# load the drawing waits for (the classic notebook inserts output scripts without waiting for them either).
_LOADER = """window._alignkitPlotly = window._alignkitPlotly || function (src, draw) {
  if (window.Plotly) { draw(window.Plotly); return; }
  if (typeof window.define === "function" && window.define.amd && typeof window.require === "function") {
    window.require.config({paths: {alignkit_plotly: src.replace(/\\.js$/, "")}});
    window.require(["alignkit_plotly"], function (P) { draw(P || window.Plotly); });
    return;
  }
  var tag = document.querySelector("script[data-alignkit-plotly]");
  if (!tag) {
    tag = document.createElement("script");
    tag.src = src;
    tag.setAttribute("data-alignkit-plotly", "");
    document.head.appendChild(tag);
  }
  tag.addEventListener("load", function () { draw(window.Plotly); });
};"""


@functools.lru_cache(maxsize=1)
def _cdn_url() -> str:
    import plotly.io as pio

    page = pio.to_html(go.Figure(), full_html=False, include_plotlyjs="cdn")
    return re.search(r'src="(https://cdn\.plot\.ly/[^"]+)"', page).group(1)


def _figure_html(figure_json: dict[str, Any], height: int, png: str | None = None, text: str = "") -> str:
    """The figure as HTML that draws once plotly.js is loaded, in Colab and the classic notebook alike.

    With `png` (base64), the div holds that picture until plotly.js draws in its place."""
    div_id = f"alignkit-plot-{uuid.uuid4().hex}"
    spec = json.dumps(figure_json).replace("</", "<\\/")  # no "</script>" inside the script
    picture = (f'<img class="alignkit-static" src="data:image/png;base64,{png}" alt="{html.escape(text)}"'
               ' style="max-width:100%; max-height:100%;">' if png else "")
    return (f'<div id="{div_id}" class="plotly-graph-div" style="height:{height}px; width:100%;">{picture}</div>'
            f"<script>{_LOADER}\nwindow._alignkitPlotly({json.dumps(_cdn_url())}, function (Plotly) {{ var f = {spec};"
            f" var el = document.getElementById({json.dumps(div_id)});"  # gone when a later update replaced it
            f' if (el) {{ el.innerHTML = ""; Plotly.newPlot(el, f.data, f.layout, f.config); }} }});</script>')


class _RecordBackend:
    draws = live = False

    def draw(self, fig: go.Figure, final: bool = False) -> None:
        pass


class _DisplayBackend:
    """Publish once with a display id, then update that same output in place; the final draw adds the PNG."""

    draws = live = True

    def __init__(self, text: str):
        self._text, self._handle, self._shown = text, None, False

    def draw(self, fig: go.Figure, final: bool = False) -> None:
        from IPython.display import display

        bundle = plotly_bundle(fig, self._text, static=final)
        if not self._shown:
            self._handle, self._shown = display(bundle, raw=True, display_id=True), True
        elif self._handle is not None:
            _blank(self._handle, fig)
            self._handle.update(bundle, raw=True)


class _FinalBackend(_DisplayBackend):
    """Draw nothing while training; publish the finished figure, with its PNG, when the plot finishes."""

    live = False


def _blank(handle: Any, fig: go.Figure) -> None:
    """Turn the output into a blank of the figure's height, so that the update after it draws afresh.

    JupyterLab reuses an output's renderer while the mime type stays the same, and its plotly renderer
    ignores a figure once one is drawn (plotly.py#3053): without this, the plot never moves past step 1.
    """
    from IPython.display import update_display

    display_id = getattr(handle, "display_id", None)
    if display_id:
        blank = {"text/html": f'<div style="height:{int(fig.layout.height or 450)}px"></div>', "text/plain": ""}
        update_display(blank, display_id=display_id, raw=True)


class _FigureWidgetBackend:
    """plotly FigureWidget, updated in one batch per redraw (opt-in: unreliable on Colab)."""

    draws = live = True

    def __init__(self):
        try:
            self._widget = go.FigureWidget()
        except ImportError as err:
            raise AlignkitError(f"backend='figurewidget' cannot start: {err}. Install what it asks for "
                                "(plotly >= 6 needs `pip install anywidget`) or use backend='display'.") from err
        self._shown = False

    def draw(self, fig: go.Figure, final: bool = False) -> None:
        widget = self._widget
        if not self._shown or len(widget.data) != len(fig.data):
            widget.data = ()
            widget.add_traces(list(fig.data))
            widget.update_layout(fig.layout)
        else:
            with widget.batch_update():
                for shown, new in zip(widget.data, fig.data):
                    shown.x, shown.y, shown.mode = new.x, new.y, new.mode
                widget.layout.annotations = fig.layout.annotations
        if not self._shown:
            from IPython.display import display

            display(widget)
            self._shown = True


def _make_backend(name: str, text: str):
    if name == "display":
        return _DisplayBackend(text)
    if name == "final":
        return _FinalBackend(text)
    if name == "figurewidget":
        return _FigureWidgetBackend()
    return _RecordBackend()


def _as_number(name: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):  # RuntimeError: a tensor with several elements
        raise TypeError(f"LivePlot.log got {name}={value!r}; log plain numbers "
                        "(a float, an int or a one-element tensor via .item())") from None


def _panels(metrics: Sequence[str] | Mapping[str, str]) -> dict[str, str]:
    if isinstance(metrics, str):
        metrics = [metrics]
    panels = dict(metrics) if isinstance(metrics, Mapping) else {name: name for name in metrics}
    if not panels:
        raise ValueError("LivePlot needs at least one metric to plot, e.g. LivePlot(['loss'])")
    return panels


def _check_names(what: str, names: Mapping[str, Any], panels: Mapping[str, str]) -> None:
    unknown = [name for name in names if name not in panels]
    if unknown:
        raise ValueError(f"{what} names {unknown} but the plotted metrics are {list(panels)}; "
                         "add them to `metrics` or fix the spelling")


def _healthy_bands(healthy: Mapping[str, tuple[float, float]], panels: Mapping[str, str]) -> dict:
    _check_names("healthy", healthy, panels)
    bands = {name: (float(lo), float(hi)) for name, (lo, hi) in healthy.items()}
    bad = [name for name, (lo, hi) in bands.items() if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi)]
    if bad:
        raise ValueError(f"healthy ranges for {bad} must be finite (low, high) pairs with low <= high")
    return bands


class LivePlot:
    """A grid of live line plots (one panel per metric, x = step) with healthy-range bands.

    `log` records every row in `history` and redraws at most once per `every` steps and once per
    `min_interval_s` seconds, so plotting never dominates a training loop. `finish()` (or leaving a
    `with` block) draws the last points. `total_steps` adds a tqdm progress bar; pass steps counted
    from 1, like Trainer's `global_step`, for the bar to reach 100%. Called with a row (`plot(row)`),
    it is a training hook: `train_sft(..., on_step=plot)`.
    """

    def __init__(
        self,
        metrics: Sequence[str] | Mapping[str, str],  # names, or name -> panel title
        *,
        title: str | None = None,
        healthy: Mapping[str, tuple[float, float]] | None = None,  # name -> (low, high) shaded band
        guidance: Mapping[str, str] | None = None,  # name -> how to read the curve, shown under the plot
        backend: str = "auto",  # "auto", "display", "figurewidget" or "record"
        every: int = 1,  # redraw at most once per this many steps
        smoothing: float = 0.0,  # EMA weight in [0, 1); > 0 adds a smoothed line over the faint raw one
        total_steps: int | None = None,  # show a tqdm progress bar up to this step
        min_interval_s: float = 0.5,  # and at most once per this many seconds (0 = no time throttle)
    ):
        self.panels = _panels(metrics)
        self.healthy = _healthy_bands(healthy or {}, self.panels)
        self.guidance = dict(guidance or {})
        _check_names("guidance", self.guidance, self.panels)
        if every < 1 or not 0.0 <= smoothing < 1.0:
            raise ValueError(f"need every >= 1 and 0 <= smoothing < 1, got every={every}, smoothing={smoothing}")
        self.title, self.every, self.smoothing = title, int(every), float(smoothing)
        self.min_interval_s = float(min_interval_s)
        self.backend = resolve_backend(backend)
        text = f"<LivePlot {title + ': ' if title else ''}{', '.join(self.panels)}>"
        self._backend = _make_backend(self.backend, text)
        self._rows: list[dict[str, float]] = []
        self._series: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in self.panels}
        self._last_draw: tuple[float, float] | None = None  # (step, wall time) of the last redraw
        self._pending = False
        self._static_drawn = False  # whether the output on show is a finished draw, with its PNG
        self._draw_cost_s = 0.0
        self.redraws = 0  # how many times the figure was (re)published; tests and curious learners read it
        self._bar = self._progress_bar(total_steps)

    # -- recording -----------------------------------------------------------------------------

    def log(self, step: int | float, **values: Any) -> None:
        """Record one row (any subset of metrics; other numeric keys are kept in `history` too)."""
        step = _as_number("step", step)
        step = int(step) if step.is_integer() else step
        row = {"step": step}
        row.update({name: _as_number(name, value) for name, value in values.items() if value is not None})
        self._rows.append(row)
        for name, (steps, ys) in self._series.items():
            if name in row:
                steps.append(step)
                ys.append(row[name])
        self._advance_bar(row)
        self._pending = True
        if self._redraw_due(step):
            self._redraw()

    def __call__(self, row: Mapping[str, Any]) -> None:
        """The training hook: log one step's row ({"step": n, metric: value, ...}); a row with nothing but its
        step (a step the trainer did not log) records nothing."""
        values = {name: value for name, value in row.items() if name != "step"}
        if values:
            self.log(row["step"], **values)

    @property
    def history(self):
        """Every logged row as a pandas DataFrame: `step`, the plotted metrics, then any other keys."""
        import pandas as pd

        columns = dict.fromkeys(["step", *self.panels])  # an ordered set: plotted first, then first-seen
        for row in self._rows:
            columns.update(dict.fromkeys(row))
        return pd.DataFrame(self._rows, columns=list(columns))

    def out_of_range(self) -> dict[str, float]:
        """Metrics whose latest value lies outside their healthy band, with that value."""
        latest = {name: ys[-1] for name, (_, ys) in self._series.items() if ys}
        return {name: latest[name] for name, (lo, hi) in self.healthy.items()
                if name in latest and not lo <= latest[name] <= hi}

    # -- drawing -------------------------------------------------------------------------------

    def _redraw_due(self, step: float) -> bool:
        if not self._backend.live:
            return False
        if self._last_draw is None:
            return True
        last_step, last_time = self._last_draw
        # Wait at least 4x what the last redraw cost, so drawing stays under ~20% of the loop's time
        # even on a slow machine; min_interval_s=0 turns the time throttle off altogether.
        wait = max(self.min_interval_s, 4 * self._draw_cost_s) if self.min_interval_s > 0 else 0.0
        return abs(step - last_step) >= self.every and _now() - last_time >= wait

    def _redraw(self, final: bool = False) -> None:
        started = _now()
        self._backend.draw(self.figure(), final=final)
        finished = _now()
        if not final:  # the PNG of a final draw says nothing about what a live redraw costs
            self._draw_cost_s = finished - started
        self._last_draw = (self._rows[-1]["step"] if self._rows else 0, finished)
        self._pending, self._static_drawn = False, final
        self.redraws += 1

    def figure(self) -> go.Figure:
        """A plotly Figure of everything logged so far (in record mode, display it with `alignkit.viz.show`;
        in the other modes the plot is already on show, and displaying this would show it twice)."""
        return live_figure(self._series, self.panels, self.healthy, self.guidance, self.smoothing, self.title)

    def finish(self) -> None:
        """Draw the final state (every point, with the static PNG) in the plot's one output and close the
        progress bar; logging may go on, and a later finish updates that same output."""
        if self._backend.draws and self._rows and (self._pending or not self._static_drawn):
            self._redraw(final=True)
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    close = finish

    def __enter__(self) -> LivePlot:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.finish()

    # -- progress bar --------------------------------------------------------------------------

    def _progress_bar(self, total_steps: int | None):
        if total_steps is None:
            return None
        from tqdm.auto import tqdm

        quiet = self.backend in ("record", "final") and in_ci()  # keep CI logs readable
        return tqdm(total=total_steps, desc=self.title or "training", disable=quiet)

    def _advance_bar(self, row: Mapping[str, float]) -> None:
        if self._bar is None:
            return
        if row["step"] > self._bar.n:
            self._bar.update(row["step"] - self._bar.n)
        shown = {name: f"{row[name]:.4g}" for name in self.panels if name in row}
        if shown:
            self._bar.set_postfix(shown, refresh=False)
