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

__all__ = ["ema", "live_figure", "line_plot", "upper_envelope", "scatter_with_envelope", "bar_plot", "labeled_scatter",
           "place_labels"]

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


GUIDANCE_CHARS = 95  # a guidance line wraps here: 12 px text fits a 700 px figure (the static PNG) and the output area


def _guidance_lines(panel: str, text: str) -> list[str]:
    """'<b>panel</b>: guidance', wrapped into lines short enough to stay inside the figure."""
    import textwrap

    lines = textwrap.wrap(f"{panel}: {text}", GUIDANCE_CHARS) or [f"{panel}:"]
    first = lines[0]
    head = f"<b>{html.escape(panel)}</b>{html.escape(first[len(panel):])}" if first.startswith(panel) else html.escape(first)
    return [head] + [f"&nbsp;&nbsp;{html.escape(line)}" for line in lines[1:]]


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
    notes = [line for n in names if n in guidance for line in _guidance_lines(panels[n], guidance[n])]
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


def bar_plot(df: pd.DataFrame, x: str, y: str, color: str | None = None, *, title: str | None = None) -> go.Figure:
    """Bars of `y` per `x`, grouped side by side by `color`, each labelled with its value."""
    _check_columns(df, x, y, color)
    fig = go.Figure()
    for value, part in _groups(df, color):
        fig.add_trace(go.Bar(x=part[x].tolist(), y=part[y].tolist(), name=y if value is None else str(value),
                             texttemplate="%{y:.3g}", textposition="outside"))
    fig.update_layout(barmode="group")
    return _finish(fig, title, x, y, color)


# Where a point's label may go, in order of preference: (plotly textposition, x offset, y offset) in label units.
_LABEL_SLOTS = (("top center", 0.0, 1.0), ("bottom center", 0.0, -1.0), ("middle right", 0.6, 0.0),
                ("middle left", -0.6, 0.0), ("top right", 0.6, 1.0), ("bottom right", 0.6, -1.0),
                ("top left", -0.6, 1.0), ("bottom left", -0.6, -1.0))


def _padded(values: Sequence[float], errors: Sequence[float], share: float) -> tuple[float, float]:
    lo = min(v - e for v, e in zip(values, errors))
    hi = max(v + e for v, e in zip(values, errors))
    pad = (hi - lo or abs(hi) or 1.0) * share
    return lo - pad, hi + pad


def place_labels(xs: Sequence[float], ys: Sequence[float], labels: Sequence[str], x_range: tuple[float, float],
                 y_range: tuple[float, float], width_px: float, height_px: float) -> list[str]:
    """A plotly textposition per point so that no two labels (about 7 px a character, 16 px high) overlap
    each other or a point, and none leaves the plot: greedy, points from the top of the plot down."""
    px_x = width_px / (x_range[1] - x_range[0])
    px_y = height_px / (y_range[1] - y_range[0])
    points = [((x - x_range[0]) * px_x, (y - y_range[0]) * px_y) for x, y in zip(xs, ys)]
    boxes: list[tuple[float, float, float, float]] = [(px - 5, py - 5, px + 5, py + 5) for px, py in points]
    chosen = [""] * len(points)
    for i in sorted(range(len(points)), key=lambda k: -points[k][1]):
        px, py = points[i]
        w, h = 7 * len(str(labels[i])) + 4, 16
        best = None
        for slot, dx, dy in _LABEL_SLOTS:
            cx = px + dx * (w / 2 + 8) / 0.6 if dx else px
            cy = py + dy * (h / 2 + 8)
            box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            inside = box[0] >= 0 and box[2] <= width_px and box[1] >= 0 and box[3] <= height_px
            clashes = sum(1 for b in boxes if box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3])
            score = clashes * 10 + (0 if inside else 5)
            if best is None or score < best[0]:
                best = (score, slot, box)
            if score == 0:
                break
        chosen[i] = best[1]
        boxes.append(best[2])
    return chosen


def labeled_scatter(df: pd.DataFrame, x: str, y: str, label: str, *, x_se: str | None = None, y_se: str | None = None,
                    title: str | None = None, x_title: str | None = None, y_title: str | None = None,
                    height: int = 460, width: int = 760) -> go.Figure:
    """One labeled point per row (± its standard errors), labels placed so they neither overlap nor leave the
    plot (place_labels), axes padded to hold them. Rows with NaN in x or y are left out."""
    rows = df[(df[x] == df[x]) & (df[y] == df[y])]
    xs, ys = [float(v) for v in rows[x]], [float(v) for v in rows[y]]
    ex = [float(v) if v == v else 0.0 for v in rows[x_se]] if x_se else [0.0] * len(xs)
    ey = [float(v) if v == v else 0.0 for v in rows[y_se]] if y_se else [0.0] * len(ys)
    names = [str(v) for v in rows[label]]
    x_range, y_range = _padded(xs, ex, 0.18), _padded(ys, ey, 0.15)
    margin = {"l": 70, "r": 30, "t": 60 if title else 30, "b": 60}
    slots = place_labels(xs, ys, names, x_range, y_range, width - margin["l"] - margin["r"],
                         height - margin["t"] - margin["b"])
    fig = go.Figure()
    for i, name in enumerate(names):
        fig.add_trace(go.Scatter(x=[xs[i]], y=[ys[i]], mode="markers+text", text=[name], textposition=slots[i],
                                 name=name, marker={"size": 9, "color": _PALETTE[i % len(_PALETTE)]},
                                 error_x={"type": "data", "array": [ex[i]], "thickness": 1},
                                 error_y={"type": "data", "array": [ey[i]], "thickness": 1}))
    fig.update_layout(title=title, template="plotly_white", showlegend=False, height=height, width=width,
                      margin=margin, xaxis={"title": x_title or x, "range": list(x_range)},
                      yaxis={"title": y_title or y, "range": list(y_range)})
    return fig
