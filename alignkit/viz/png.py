"""A static PNG of a plotly figure, drawn by matplotlib without a browser (no kaleido, no Chrome).

It covers what alignkit's builders and the chapters draw: scatter lines and markers (with error bars,
step shapes and fills), bars (grouped, with error bars and value labels), subplots placed by their axis
domains, an overlaying right-hand y axis, log axes, rectangles and lines from `layout.shapes`, annotations,
titles and a legend. A trace of any other type draws a labelled placeholder. The learner's pyplot state
is never touched (a `matplotlib.figure.Figure` on the Agg canvas), and the same figure gives the same bytes.
"""
from __future__ import annotations

import html
import io
import math
import re
import warnings
from typing import Any

import plotly.colors

__all__ = ["to_png"]

DPI = 100  # 1 plotly px = 1 PNG pixel
PT = 72 / DPI  # plotly sizes are in px, matplotlib's in points
_MARKERS = {"circle": "o", "x": "x", "cross": "P", "square": "s", "diamond": "D", "triangle-up": "^",
            "triangle-down": "v", "star": "*", "line-ns": "|", "line-ew": "_"}
_STEPS = {"hv": "steps-post", "vh": "steps-pre", "hvh": "steps-mid"}
_DASHES = {"dash": "--", "dot": ":", "dashdot": "-."}


def _text(value: Any) -> str:
    """Plotly's text (a str or {"text": ...}, with <br> and tags) as plain text matplotlib shows verbatim."""
    if isinstance(value, dict):
        value = value.get("text")
    if value is None:
        return ""
    plain = html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"<br\s*/?>", "\n", str(value), flags=re.I)))
    return plain.replace("$", r"\$")  # a "$" would otherwise start matplotlib's mathtext


def _color(value: Any, default: str = "#444444") -> Any:
    """A matplotlib color for a plotly color string ("#hex", "rgb(...)", "rgba(...)", a name)."""
    if not isinstance(value, str):
        return default
    found = re.fullmatch(r"\s*rgba?\(([^)]*)\)\s*", value)
    if not found:
        return value
    parts = [float(p) for p in found.group(1).split(",")]
    return (*(p / 255 for p in parts[:3]), parts[3] if len(parts) > 3 else 1.0)


def _values(values: Any) -> list:
    """Trace data as a list with None (a gap in plotly) as NaN for numbers."""
    if values is None:
        return []
    if isinstance(values, dict) and "bdata" in values:  # plotly >= 6 stores numpy arrays as typed arrays
        import base64

        import numpy as np

        values = np.frombuffer(base64.b64decode(values["bdata"]), dtype=values.get("dtype", "f8")).tolist()
    return [math.nan if v is None else v for v in list(values)]


def _axis_key(axis_id: str) -> str:  # "x2" -> "xaxis2", "y" -> "yaxis"
    return f"{axis_id[0]}axis{axis_id[1:]}"


class _Canvas:
    """The matplotlib figure and its axes, placed the way plotly lays the figure out."""

    def __init__(self, layout: dict, legend_px: int):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.layout = layout
        self.width, self.height = int(layout.get("width") or 700), int(layout.get("height") or 450)
        margin = {"l": 80, "r": 80, "t": 100, "b": 80, **(layout.get("margin") or {})}
        self.fig = Figure(figsize=(self.width / DPI, self.height / DPI), dpi=DPI, facecolor="white")
        FigureCanvasAgg(self.fig)
        # The plot area in figure fractions (plotly grows the right margin to fit the legend).
        self.left, self.bottom = margin["l"] / self.width, margin["b"] / self.height
        self.plot_w = max(0.1, 1 - (margin["l"] + margin["r"] + legend_px) / self.width)
        self.plot_h = max(0.1, 1 - (margin["t"] + margin["b"]) / self.height)
        self.axes: dict[tuple[str, str], Any] = {}

    def paper(self, x: float, y: float) -> tuple[float, float]:
        """Plotly paper coordinates (0-1 over the plot area) as figure fractions."""
        return self.left + x * self.plot_w, self.bottom + y * self.plot_h

    def get(self, x_id: str, y_id: str):
        if (x_id, y_id) in self.axes:
            return self.axes[(x_id, y_id)]
        x_axis, y_axis = self.layout.get(_axis_key(x_id)) or {}, self.layout.get(_axis_key(y_id)) or {}
        over = y_axis.get("overlaying")
        if over and over != "free":
            ax = self.get(x_id, over).twinx()
        else:
            (x0, x1), (y0, y1) = x_axis.get("domain") or (0, 1), y_axis.get("domain") or (0, 1)
            left, bottom = self.paper(x0, y0)
            ax = self.fig.add_axes((left, bottom, (x1 - x0) * self.plot_w, (y1 - y0) * self.plot_h))
            ax.grid(True, color="#e5ecf6", linewidth=0.8)
            ax.set_axisbelow(True)
            for spine in ax.spines.values():
                spine.set_color("#b0b0b0")
            _style_axis(ax, "x", x_axis)
        _style_axis(ax, "y", y_axis)
        self.axes[(x_id, y_id)] = ax
        return ax


def _style_axis(ax, which: str, axis: dict) -> None:
    if axis.get("type") == "log":
        (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    label = _text(axis.get("title"))
    if label:
        (ax.set_xlabel if which == "x" else ax.set_ylabel)(label, fontsize=10)
    bounds = axis.get("range")
    if bounds and None not in bounds:
        bounds = [10 ** b for b in bounds] if axis.get("type") == "log" else bounds
        (ax.set_xlim if which == "x" else ax.set_ylim)(*bounds)
    ax.tick_params(axis=which, labelsize=9, color="#b0b0b0")


def _errors(error: dict | None, values: list) -> Any:
    """An error_x / error_y dict as matplotlib's xerr / yerr (None when absent or invisible)."""
    if not error or error.get("visible") is False:
        return None
    kind = error.get("type") or ("data" if error.get("array") is not None else "percent")
    if kind == "data":
        upper = _values(error.get("array"))
        lower = _values(error.get("arrayminus")) if error.get("symmetric") is False else upper
    elif kind == "constant":
        upper = lower = [float(error.get("value", 0))] * len(values)
    else:  # percent (plotly's default is 10 %) or sqrt
        upper = lower = [abs(v) * float(error.get("value", 10)) / 100 if kind == "percent" else math.sqrt(abs(v))
                         for v in values]
    return [lower, upper] if upper else None


def _scatter(ax, trace: dict, color: Any, previous_y: list | None) -> tuple[list, Any]:
    """Lines and/or markers, a fill, error bars; returns the y values (for the next "tonexty") and the line."""
    x, y = _values(trace.get("x")), _values(trace.get("y"))
    if not x and y:
        x = list(range(len(y)))
    mode = trace.get("mode") or ("lines+markers" if len(y) < 20 else "lines")
    line, marker = trace.get("line") or {}, trace.get("marker") or {}
    alpha = float(trace.get("opacity", 1.0))
    label = _text(trace.get("name")) if trace.get("showlegend", True) is not False else None
    style = dict(color=_color(line.get("color") or marker.get("color"), color), alpha=alpha, label=label)
    if "lines" in mode:
        style.update(linewidth=float(line.get("width", 2)), linestyle=_DASHES.get(line.get("dash"), "-"),
                     drawstyle=_STEPS.get(line.get("shape"), "default"))
    else:
        style.update(linestyle="none")
    if "markers" in mode:
        style.update(marker=_MARKERS.get(str(marker.get("symbol", "circle")), "o"),
                     markersize=float(marker.get("size", 6)) * PT, alpha=alpha * float(marker.get("opacity", 1)))
    (artist,) = ax.plot(x, y, **style)
    fill = trace.get("fill")
    if fill in ("tozeroy", "tonexty", "toself") and y:
        fill_color = _color(trace.get("fillcolor"), style["color"])
        face = dict(color=fill_color, alpha=None if trace.get("fillcolor") else 0.3, linewidth=0)
        if fill == "toself":
            ax.fill(x, y, **face)
        else:
            base = previous_y if fill == "tonexty" and previous_y and len(previous_y) == len(y) else 0
            ax.fill_between(x, base, y, **face)
    xerr, yerr = _errors(trace.get("error_x"), x), _errors(trace.get("error_y"), y)
    if xerr is not None or yerr is not None:
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="none", ecolor=style["color"], elinewidth=1, capsize=3)
    if "text" in mode:
        _point_labels(ax, x, y, trace)
    return y, artist


def _point_labels(ax, x: list, y: list, trace: dict) -> None:
    """A "markers+text" trace's labels, at its textposition ("top center", "middle right", ...)."""
    texts = trace.get("text")
    texts = [texts] * len(x) if isinstance(texts, str) else _values(texts)
    positions = trace.get("textposition") or "middle center"
    positions = [positions] * len(x) if isinstance(positions, str) else _values(positions)
    for i, (xi, yi) in enumerate(zip(x, y)):
        if i >= len(texts) or texts[i] is None:
            continue
        where = str(positions[i] if i < len(positions) else "middle center").split()
        vertical, horizontal = (where + ["center"])[:2] if len(where) == 2 else ("middle", where[0])
        dx = {"left": -6, "right": 6}.get(horizontal, 0)
        dy = {"top": 6, "bottom": -6}.get(vertical, 0)
        ax.annotate(_text(texts[i]), (xi, yi), xytext=(dx, dy), textcoords="offset points", fontsize=10 * PT,
                    ha={"left": "right", "right": "left"}.get(horizontal, "center"),
                    va={"top": "bottom", "bottom": "top"}.get(vertical, "center"))


def _bars(ax, bars: list[tuple[dict, Any]], layout: dict) -> list:
    """Every bar trace of one axes: side by side per category (barmode "group", plotly's default here),
    stacked ("stack", "relative") or overlaid; returns the bar sets."""
    drawn_sets = []
    categories: dict[Any, int] = {}
    for trace, _ in bars:
        for key in _values(trace.get("y" if trace.get("orientation") == "h" else "x")):
            categories.setdefault(key, len(categories))
    grouped = layout.get("barmode", "group") == "group"
    stacked = layout.get("barmode") in ("stack", "relative")
    width = 0.8 / (len(bars) if grouped else 1)
    heights = [0.0] * len(categories)  # where the next stacked bar starts, per category
    for i, (trace, color) in enumerate(bars):
        horizontal = trace.get("orientation") == "h"
        keys, values = (_values(trace.get("y")), _values(trace.get("x"))) if horizontal else \
            (_values(trace.get("x")), _values(trace.get("y")))
        offset = (i - (len(bars) - 1) / 2) * width if grouped else 0
        where = [categories[k] + offset for k in keys]
        color = _color((trace.get("marker") or {}).get("color"), color)
        label = _text(trace.get("name")) if trace.get("showlegend", True) is not False else None
        error = _errors(trace.get("error_x" if horizontal else "error_y"), values)
        draw = ax.barh if horizontal else ax.bar
        base = [heights[categories[k]] for k in keys] if stacked else 0
        if stacked:
            for k, v in zip(keys, values):
                heights[categories[k]] += v if isinstance(v, (int, float)) and math.isfinite(v) else 0
        drawn = draw(where, values, width, base, color=color, label=label, alpha=float(trace.get("opacity", 1.0)),
                     **{("xerr" if horizontal else "yerr"): error}, error_kw={"elinewidth": 1, "capsize": 3})
        drawn_sets.append(drawn)
        template, texts = trace.get("texttemplate"), trace.get("text")
        if template or texts is not None:
            labels = [_bar_label(template, texts, j, v) for j, v in enumerate(values)]
            ax.bar_label(drawn, labels=labels, fontsize=8, padding=2)
    ticks = (ax.set_yticks if any(t.get("orientation") == "h" for t, _ in bars) else ax.set_xticks)
    ticks(list(categories.values()), [_text(c) for c in categories], fontsize=9)
    ax.margins(**{("x" if horizontal else "y"): 0.12})  # room for the value labels
    return drawn_sets


def _bar_label(template: str | None, texts: Any, index: int, value: float) -> str:
    if template:
        def fill(found: re.Match) -> str:
            spec = found.group(2) or ""
            try:
                return format(value, spec.lstrip(":")) if spec else f"{value:g}"
            except (TypeError, ValueError):
                return str(value)

        return _text(re.sub(r"%\{(x|y|value)(:[^}]*)?\}", fill, template))
    if isinstance(texts, (list, tuple)):
        return _text(texts[index]) if index < len(texts) else ""
    return _text(texts)


def _shape(canvas: _Canvas, shape: dict) -> None:
    from matplotlib.patches import Rectangle
    from matplotlib.transforms import blended_transform_factory

    xref, yref = str(shape.get("xref", "x")), str(shape.get("yref", "y"))
    if "paper" in (xref, yref):
        return  # shapes over the whole paper are decoration alignkit does not use
    ax = canvas.get(xref.split()[0], yref.split()[0])
    transform = blended_transform_factory(ax.transAxes if xref.endswith("domain") else ax.transData,
                                          ax.transAxes if yref.endswith("domain") else ax.transData)
    x0, x1, y0, y1 = (float(shape.get(k, 0)) for k in ("x0", "x1", "y0", "y1"))
    line = shape.get("line") or {}
    zorder = 0.5 if shape.get("layer") == "below" else 3
    if shape.get("type", "rect") == "rect":
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, transform=transform, zorder=zorder, linewidth=0,
                               facecolor=_color(shape.get("fillcolor"), (0, 0, 0, 0)),
                               alpha=float(shape["opacity"]) if "opacity" in shape else None))
    elif shape.get("type") == "line":
        ax.plot([x0, x1], [y0, y1], transform=transform, color=_color(line.get("color")), zorder=zorder,
                linewidth=float(line.get("width", 2)), linestyle=_DASHES.get(line.get("dash"), "-"))


def _annotation(canvas: _Canvas, note: dict) -> None:
    text = _text(note.get("text"))
    xref, yref = str(note.get("xref", "x")), str(note.get("yref", "y"))
    ha = {"left": "left", "right": "right"}.get(note.get("xanchor"), "center")
    va = {"top": "top", "bottom": "bottom"}.get(note.get("yanchor"), "center")
    size = float((note.get("font") or {}).get("size", 12)) * PT
    if xref == "paper" and yref == "paper":
        fx, fy = canvas.paper(float(note.get("x", 0.5)), float(note.get("y", 0.5)))
        fy += float(note.get("yshift", 0)) / canvas.height
        canvas.fig.text(fx, fy, text, ha=ha, va=va, fontsize=size, multialignment=note.get("align", "center"))
    elif "paper" not in (xref, yref):
        ax = canvas.get(xref.split()[0], yref.split()[0])
        ax.annotate(text, (note.get("x", 0), note.get("y", 0)), ha=ha, va=va, fontsize=size,
                    xycoords=("axes fraction" if xref.endswith("domain") else "data",
                              "axes fraction" if yref.endswith("domain") else "data"))


def to_png(fig: Any) -> bytes:
    """PNG bytes of a plotly figure (or its dict), drawn with matplotlib."""
    spec = fig if isinstance(fig, dict) else fig.to_plotly_json()
    layout, traces = dict(spec.get("layout") or {}), list(spec.get("data") or [])
    template = (layout.get("template") or {}).get("layout") or {}
    palette = layout.get("colorway") or template.get("colorway") or plotly.colors.qualitative.Plotly
    named = [t for t in traces if t.get("name") and t.get("showlegend", True) is not False]
    legend = bool(named) and layout.get("showlegend", len(traces) > 1) is not False
    legend_px = min(260, 40 + 7 * max(len(_text(t["name"])) for t in named)) if legend else 0
    right_axis = any((v or {}).get("side") == "right" for k, v in layout.items() if k.startswith("yaxis"))
    legend_px += 50 if legend and right_axis else 0
    canvas = _Canvas(layout, legend_px)
    previous: dict[tuple[str, str], list] = {}
    bars: dict[tuple[str, str], list] = {}
    artists: dict[int, Any] = {}  # trace index -> its legend handle
    for i, trace in enumerate(traces):
        key = (trace.get("xaxis") or "x", trace.get("yaxis") or "y")
        ax, color = canvas.get(*key), palette[i % len(palette)]
        kind = trace.get("type") or "scatter"
        if kind in ("scatter", "scattergl"):
            previous[key], artists[i] = _scatter(ax, trace, color, previous.get(key))
        elif kind == "bar":
            bars.setdefault(key, []).append((i, trace, color))
        else:
            ax.text(0.5, 0.5, f"({kind} trace: no static preview)", transform=ax.transAxes, ha="center",
                    va="center", fontsize=10, color="#777777")
    for key, group in bars.items():
        drawn = _bars(canvas.get(*key), [(trace, color) for _, trace, color in group], layout)
        artists.update(zip([i for i, _, _ in group], drawn))
    if not canvas.axes:
        canvas.get("x", "y")
    for shape in layout.get("shapes") or []:
        _shape(canvas, shape)
    for note in layout.get("annotations") or []:
        _annotation(canvas, note)
    title = _text(layout.get("title"))
    if title:
        canvas.fig.text(canvas.left, 1 - 12 / canvas.height, title, ha="left", va="top", fontsize=17 * PT)
    if legend:
        shown = [(artists[i], _text(traces[i]["name"])) for i in sorted(artists)
                 if traces[i].get("name") and traces[i].get("showlegend", True) is not False]
        beside = 50 / canvas.width / canvas.plot_w if right_axis else 0.02  # clear of a right-hand axis
        canvas.fig.legend([h for h, _ in shown], [label for _, label in shown], loc="upper left", fontsize=9,
                          frameon=False, title=_text((layout.get("legend") or {}).get("title")) or None,
                          bbox_to_anchor=canvas.paper(1 + beside, 1), bbox_transform=canvas.fig.transFigure,
                          borderaxespad=0, borderpad=0.3)
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # a glyph the font lacks draws as a box, not a warning in the output
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        canvas.fig.savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return _palette_png(buffer.getvalue())


def _palette_png(png: bytes) -> bytes:
    """The same picture with at most 128 colours, about a third of the bytes (committed notebooks carry it)."""
    from PIL import Image  # matplotlib depends on Pillow

    image = Image.open(io.BytesIO(png)).convert("RGB")
    small = io.BytesIO()
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        small, format="PNG", optimize=True)
    return small.getvalue()
