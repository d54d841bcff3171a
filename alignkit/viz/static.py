"""Plot builders: the live-plot figure and static result plots. Each returns a plotly Figure and
displays nothing; `alignkit.viz` re-exports them.

Only plotly API present in both 5.24 (Colab) and 6+ is used, and trace data is passed as plain
Python lists so the figure's JSON is the same on every plotly version.
"""
from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import plotly.colors
import plotly.graph_objects as go

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ema", "live_figure", "line_plot", "upper_envelope", "scatter_with_envelope", "bar_plot", "points_with_errors"]

_PALETTE = plotly.colors.qualitative.Plotly
_HEALTHY_FILL = "rgba(46, 160, 67, 0.13)"
_PANEL_HEIGHT_PX = 260
_MAX_POINTS_WITH_MARKERS = 50  # beyond this, markers only clutter the line


def ema(values: Sequence[float], smoothing: float) -> list[float]:
    """Exponential moving average with TensorBoard's start-up debiasing; smoothing in [0, 1).
    A NaN or infinite value stays visible as a gap and does not poison the rest of the curve."""
    smoothed, average, weight = [], 0.0, 0.0
    for value in values:
        if not math.isfinite(value):
            smoothed.append(float("nan"))
            continue
        average = smoothing * average + (1 - smoothing) * value
        weight = smoothing * weight + (1 - smoothing)
        smoothed.append(average / weight)
    return smoothed


def _panel_title(panel: str, ys: Sequence[float], band: tuple[float, float] | None) -> str:
    text = html.escape(panel)
    if ys:
        text += f" — {ys[-1]:.4g}"
    if band is not None:
        lo, hi = band
        if ys and not lo <= ys[-1] <= hi:
            text += f" <span style='color:#c62828'>⚠ outside {lo:g}–{hi:g}</span>"
        else:
            text += f" <span style='color:#2e7d32'>(healthy {lo:g}–{hi:g})</span>"
    return text


def live_figure(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],  # name -> (steps, values)
    panels: Mapping[str, str],  # name -> panel title, in grid order
    healthy: Mapping[str, tuple[float, float]] | None = None,
    guidance: Mapping[str, str] | None = None,
    smoothing: float = 0.0,
    title: str | None = None,
) -> go.Figure:
    """One panel per metric in a 2-column grid, x = step, healthy bands shaded, guidance underneath."""
    from plotly.subplots import make_subplots

    healthy, guidance = healthy or {}, guidance or {}
    names = list(panels)
    cols = 1 if len(names) == 1 else 2
    rows = math.ceil(len(names) / cols)
    fig = make_subplots(
        rows=rows, cols=cols, horizontal_spacing=0.1, vertical_spacing=70 / (_PANEL_HEIGHT_PX * rows),
        subplot_titles=[_panel_title(panels[n], series[n][1], healthy.get(n)) for n in names],
    )
    for i, name in enumerate(names):
        row, col, color = i // cols + 1, i % cols + 1, _PALETTE[i % len(_PALETTE)]
        steps, ys = list(series[name][0]), list(series[name][1])
        hover = "step %{x}<br>%{y:.4g}<extra>" + html.escape(panels[name]) + "</extra>"
        fig.add_trace(go.Scatter(
            x=steps, y=ys, mode="lines+markers" if len(ys) <= _MAX_POINTS_WITH_MARKERS else "lines",
            name=panels[name], line={"color": color, "width": 1.5}, marker={"size": 4},
            opacity=0.35 if smoothing else 1.0, hovertemplate=hover, showlegend=False,
        ), row=row, col=col)
        if smoothing:
            fig.add_trace(go.Scatter(
                x=steps, y=ema(ys, smoothing), mode="lines", name=f"{panels[name]} (smoothed)",
                line={"color": color, "width": 2.5}, hovertemplate=hover, showlegend=False,
            ), row=row, col=col)
        if name in healthy:
            lo, hi = healthy[name]
            fig.add_hrect(y0=lo, y1=hi, row=row, col=col, fillcolor=_HEALTHY_FILL, line_width=0, layer="below")
        if i + cols >= len(names):  # no panel below this one
            fig.update_xaxes(title_text="step", row=row, col=col)
    notes = [f"<b>{html.escape(panels[n])}</b>: {html.escape(guidance[n])}" for n in names if n in guidance]
    bottom = 60 + 18 * len(notes)
    if notes:
        fig.add_annotation(text="<br>".join(notes), xref="paper", yref="paper", x=0, y=0, xanchor="left",
                           yanchor="top", yshift=-50, align="left", showarrow=False, font={"size": 12})
    fig.update_layout(
        title=title, template="plotly_white", showlegend=False,
        height=_PANEL_HEIGHT_PX * rows + bottom + 60, margin={"l": 60, "r": 30, "t": 80 if title else 50, "b": bottom},
    )
    return fig


def _check_columns(df: pd.DataFrame, *columns: str | None) -> None:
    missing = [c for c in columns if c is not None and c not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the DataFrame; it has {list(df.columns)}")


def _groups(df: pd.DataFrame, column: str | None) -> list[tuple[Any, pd.DataFrame]]:
    """(value, rows) per distinct value of `column` in first-seen order; one group when None."""
    if column is None:
        return [(None, df)]
    return [(value, df[df[column] == value]) for value in df[column].dropna().unique()]


def _finish(fig: go.Figure, title: str | None, x: str, y: str | None, legend: str | None) -> go.Figure:
    fig.update_layout(title=title, template="plotly_white", xaxis_title=x, yaxis_title=y, legend_title_text=legend)
    return fig


def line_plot(df: pd.DataFrame, x: str, y: str | Sequence[str], color: str | None = None, *,
              title: str | None = None) -> go.Figure:
    """Lines of column(s) `y` against `x` (sorted by x), one line per value of `color`."""
    ys = [y] if isinstance(y, str) else list(y)
    _check_columns(df, x, color, *ys)
    fig = go.Figure()
    for value, part in _groups(df, color):
        part = part.sort_values(x, kind="stable")
        for column in ys:
            if value is None:
                name = column
            else:
                name = f"{value} · {column}" if len(ys) > 1 else str(value)
            fig.add_trace(go.Scatter(x=part[x].tolist(), y=part[column].tolist(), mode="lines+markers", name=name))
    return _finish(fig, title, x, ys[0] if len(ys) == 1 else None, color)


def upper_envelope(df: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """The best `y` reached at or below each `x`: points sorted by x with y replaced by its running max.

    For reward (y) against KL (x) this is the reward–KL frontier: what a method achieves for a
    given KL budget.
    """
    _check_columns(df, x, y)
    points = df[[x, y]].dropna().sort_values(x, kind="stable").reset_index(drop=True)
    points[y] = points[y].cummax()
    return points


def scatter_with_envelope(df: pd.DataFrame, x: str, y: str, group: str | None = None, *,
                          title: str | None = None) -> go.Figure:
    """Points per group plus each group's upper envelope (e.g. DPO vs PPO on the reward–KL plane)."""
    _check_columns(df, x, y, group)
    fig = go.Figure()
    for i, (value, part) in enumerate(_groups(df, group)):
        name, color = (y if value is None else str(value)), _PALETTE[i % len(_PALETTE)]
        fig.add_trace(go.Scatter(x=part[x].tolist(), y=part[y].tolist(), mode="markers", name=name,
                                 legendgroup=name, marker={"color": color, "size": 7, "opacity": 0.6}))
        frontier = upper_envelope(part, x, y)
        fig.add_trace(go.Scatter(x=frontier[x].tolist(), y=frontier[y].tolist(), mode="lines", line_shape="hv",
                                 name=f"{name} frontier", legendgroup=name, line={"color": color, "width": 2}))
    return _finish(fig, title, x, y, group)


def points_with_errors(df: pd.DataFrame, x: str, y: str, label: str = "model", *, title: str | None = None,
                       x_title: str | None = None, y_title: str | None = None) -> go.Figure:
    """One labelled point per row with ± 1 SE bars from columns `x_se` and `y_se` (rows with a NaN skipped):
    e.g. `measure.stats.harm_help_points(...)` on helpfulness against harmlessness."""
    _check_columns(df, x, y, label, f"{x}_se", f"{y}_se")
    fig = go.Figure()
    for _, row in df.iterrows():
        if row[x] != row[x] or row[y] != row[y]:  # NaN: not measured
            continue
        fig.add_trace(go.Scatter(x=[float(row[x])], y=[float(row[y])], mode="markers+text", text=[str(row[label])],
                                 textposition="top center", name=str(row[label]),
                                 error_x={"type": "data", "array": [float(row[f"{x}_se"])]},
                                 error_y={"type": "data", "array": [float(row[f"{y}_se"])]}))
    fig.update_layout(title=title, xaxis_title=x_title or x, yaxis_title=y_title or y, showlegend=False, height=420)
    return fig


def bar_plot(df: pd.DataFrame, x: str, y: str, color: str | None = None, *, title: str | None = None) -> go.Figure:
    """Bars of `y` per `x`, grouped side by side by `color`, each labelled with its value."""
    _check_columns(df, x, y, color)
    fig = go.Figure()
    for value, part in _groups(df, color):
        fig.add_trace(go.Bar(x=part[x].tolist(), y=part[y].tolist(), name=y if value is None else str(value),
                             texttemplate="%{y:.3g}", textposition="outside"))
    fig.update_layout(barmode="group")
    return _finish(fig, title, x, y, color)
