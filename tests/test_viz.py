"""Headless tests for alignkit.viz: recording, throttling, the display-handle, final and FigureWidget
backends (with IPython's display faked), healthy bands, the plot as a training hook, static plots, their PNG
(alignkit.viz.png), the display bundle with its no-script fallback, and `show`."""
from __future__ import annotations

import base64
import io
import re
import subprocess
import sys

import IPython
import IPython.display
import pandas as pd
import plotly.graph_objects as go
import pytest
import torch

from alignkit import viz
from alignkit.infra.errors import AlignkitError
from alignkit.viz import LivePlot

PLOTLY_JSON = "application/vnd.plotly.v1+json"
PNG_HEADER = b"\x89PNG\r\n\x1a\n"


def static_png(bundle: dict) -> bytes | None:
    """The PNG a bundle's HTML carries for pages that run no scripts (None: none)."""
    page = bundle.get("text/html", "")
    page = "".join(page) if isinstance(page, list) else page
    found = re.search(r'<img class="alignkit-static" src="data:image/png;base64,([^"]+)"', page)
    return base64.b64decode(found.group(1)) if found else None


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    # CI itself sets CI=true; each test states the environment it needs.
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("ALIGNKIT_PLOTS", raising=False)


class FakeHandle:
    def __init__(self, calls):
        self.calls = calls

    def update(self, obj, **kwargs):
        self.calls.append(("update", obj, kwargs))


@pytest.fixture
def fake_display(monkeypatch):
    """Replace IPython's display; returns the list of ("display" | "update", obj, kwargs) calls."""
    calls = []

    def display(obj, **kwargs):
        calls.append(("display", obj, kwargs))
        return FakeHandle(calls) if kwargs.get("display_id") else None

    monkeypatch.setattr(IPython.display, "display", display)
    return calls


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def trace_ys(bundle, name):
    return [t["y"] for t in bundle[PLOTLY_JSON]["data"] if t["name"] == name]


def test_record_backend_keeps_history_and_draws_nothing(fake_display):
    plot = LivePlot({"loss": "train loss", "kl": "KL"}, backend="record")
    plot.log(1, loss=2.0)
    plot.log(2, loss=1.5, kl=torch.tensor(0.25), lr=1e-3)
    plot.log(3, kl=0.5, reward=None)
    plot.finish()
    history = plot.history
    assert list(history.columns) == ["step", "loss", "kl", "lr"]
    assert history["step"].tolist() == [1, 2, 3]
    assert history["loss"].tolist()[:2] == [2.0, 1.5] and pd.isna(history["loss"].iloc[2])
    assert history["kl"].tolist()[1:] == [0.25, 0.5]
    assert fake_display == [] and plot.redraws == 0
    # The final figure is still available to show explicitly.
    assert plot.figure().data[1].y == (0.25, 0.5)


def test_empty_history_has_the_metric_columns():
    assert list(LivePlot(["a", "b"], backend="record").history.columns) == ["step", "a", "b"]


def test_display_backend_publishes_once_then_updates_the_same_handle(fake_display):
    plot = LivePlot(["loss", "kl"], backend="display", min_interval_s=0)
    for step, loss in enumerate([3.0, 2.0, 1.0], start=1):
        plot.log(step, loss=loss, kl=0.1 * step)
    kinds = [kind for kind, _, _ in fake_display]
    assert kinds == ["display", "update", "update"]
    assert fake_display[0][2] == {"raw": True, "display_id": True}
    assert all(kwargs == {"raw": True} for _, _, kwargs in fake_display[1:])
    first, last = fake_display[0][1], fake_display[-1][1]
    assert {PLOTLY_JSON, "text/html"} <= set(first)
    assert trace_ys(first, "loss") == [[3.0]]
    assert trace_ys(last, "loss") == [[3.0, 2.0, 1.0]]
    assert trace_ys(last, "kl") == [pytest.approx([0.1, 0.2, 0.3])]
    assert "<div" in last["text/html"]


def test_every_limits_redraws_and_finish_draws_the_rest(fake_display):
    plot = LivePlot(["loss"], backend="display", every=10, min_interval_s=0)
    for step in range(1, 101):
        plot.log(step, loss=1.0 / step)
    assert plot.redraws == len(fake_display) == 10  # steps 1, 11, ..., 91
    plot.finish()
    assert plot.redraws == 11
    assert len(trace_ys(fake_display[-1][1], "loss")[0]) == 100
    plot.finish()  # nothing new to draw
    assert plot.redraws == 11


def test_wall_time_throttle(fake_display, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(viz.live, "_now", clock)
    plot = LivePlot(["loss"], backend="display", min_interval_s=5)
    for step in range(1, 51):
        clock.t = float(step)
        plot.log(step, loss=1.0)
    assert plot.redraws == 10  # t = 1, 6, 11, ..., 46


def test_slow_redraws_are_spaced_further_apart(fake_display, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(viz.live, "_now", clock)
    starts = []

    def slow_figure(self):
        starts.append(clock.t)
        clock.t += 2.0  # each redraw costs 2 s
        return go.Figure()

    monkeypatch.setattr(LivePlot, "figure", slow_figure)
    plot = LivePlot(["loss"], backend="display", min_interval_s=1)
    for step in range(1, 60):
        clock.t += 1.0
        plot.log(step, loss=1.0)
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert len(starts) > 2 and min(gaps) >= 2.0 + 4 * 2.0  # cost + 4x cost of waiting


def test_many_fast_logs_redraw_rarely(fake_display):
    plot = LivePlot(["loss"], backend="display")  # default: at most one redraw per 0.5 s
    for step in range(1, 3001):
        plot.log(step, loss=1.0)
    assert 1 <= plot.redraws <= 3
    plot.finish()
    assert len(trace_ys(fake_display[-1][1], "loss")[0]) == 3000


def test_context_manager_draws_final_state(fake_display):
    with LivePlot(["reward"], backend="display", min_interval_s=3600) as plot:
        for step in range(1, 6):
            plot.log(step, reward=float(step))
    assert [kind for kind, _, _ in fake_display] == ["display", "update"]
    assert trace_ys(fake_display[-1][1], "reward") == [[1.0, 2.0, 3.0, 4.0, 5.0]]


def test_healthy_band_guidance_and_out_of_range():
    guidance = "KL 0–6 nats: healthy; rising past 10 means the policy is drifting"
    plot = LivePlot({"loss": "loss", "kl": "KL (nats)"}, backend="record",
                    healthy={"kl": (0, 6)}, guidance={"kl": guidance})
    plot.log(1, loss=1.0, kl=2.0)
    assert plot.out_of_range() == {}
    fig = plot.figure()
    (band,) = fig.layout.shapes
    assert (band.type, band.y0, band.y1) == ("rect", 0, 6)
    assert band.yref == fig.data[1].yaxis == "y2"  # the KL panel, not the loss panel
    texts = [a.text for a in fig.layout.annotations]
    assert any("healthy 0–6" in t for t in texts)
    assert any("rising past 10" in t for t in texts)
    plot.log(2, kl=12.5)
    assert plot.out_of_range() == {"kl": 12.5}
    assert any("outside 0–6" in a.text for a in plot.figure().layout.annotations)


def test_smoothing_adds_a_debiased_ema_line():
    assert viz.ema([2.0, 2.0, 2.0], 0.9) == pytest.approx([2.0, 2.0, 2.0])
    assert viz.ema([0.0, 10.0], 0.5) == pytest.approx([0.0, 10.0 * 0.5 / 0.75])
    with_nan = viz.ema([1.0, float("nan"), 1.0], 0.5)
    assert with_nan[0] == with_nan[2] == pytest.approx(1.0) and with_nan[1] != with_nan[1]
    plot = LivePlot(["loss"], backend="record", smoothing=0.5)
    plot.log(1, loss=0.0)
    plot.log(2, loss=10.0)
    raw, smoothed = plot.figure().data
    assert raw.y == (0.0, 10.0) and smoothed.y == pytest.approx((0.0, 10.0 * 0.5 / 0.75))


def test_bad_arguments_are_reported():
    with pytest.raises(ValueError, match="plotted metrics"):
        LivePlot(["loss"], healthy={"kl": (0, 6)}, backend="record")
    with pytest.raises(ValueError, match="low <= high"):
        LivePlot(["kl"], healthy={"kl": (6, 0)}, backend="record")
    with pytest.raises(ValueError, match="backend"):
        LivePlot(["kl"], backend="tensorboard")
    plot = LivePlot(["loss"], backend="record")
    with pytest.raises(TypeError, match="loss='high'"):
        plot.log(1, loss="high")
    with pytest.raises(TypeError, match="one-element tensor"):
        plot.log(1, loss=torch.ones(3))


def test_backend_resolution_and_env_override(monkeypatch, fake_display):
    assert viz.resolve_backend("auto") == "record"  # pytest is not an IPython kernel

    class FakeKernelShell:
        kernel = object()

    monkeypatch.setattr(IPython, "get_ipython", lambda: FakeKernelShell())
    assert viz.resolve_backend("auto") == "display"
    monkeypatch.setenv("CI", "true")
    assert viz.resolve_backend("auto") == "final"  # a kernel under CI: the finished figure, once
    assert viz.resolve_backend("display") == "display"
    monkeypatch.setenv("ALIGNKIT_PLOTS", "record")
    plot = LivePlot(["loss"], backend="display", min_interval_s=0)
    plot.log(1, loss=1.0)
    plot.finish()
    assert plot.backend == "record" and fake_display == []
    monkeypatch.setenv("ALIGNKIT_PLOTS", "figurewidget")
    assert viz.resolve_backend("record") == "figurewidget"
    monkeypatch.setenv("ALIGNKIT_PLOTS", "bokeh")
    with pytest.raises(ValueError, match="ALIGNKIT_PLOTS='bokeh'"):
        viz.resolve_backend("auto")


def test_figurewidget_backend_updates_the_widget_in_place(fake_display, monkeypatch):
    # go.Figure shares FigureWidget's update API (batch_update, trace setters) without a frontend.
    monkeypatch.setattr(go, "FigureWidget", go.Figure)
    plot = LivePlot(["loss", "kl"], backend="figurewidget", healthy={"kl": (0, 1)}, min_interval_s=0)
    for step in range(1, 4):
        plot.log(step, loss=1.0 / step, kl=0.5 * step)
    assert [kind for kind, _, _ in fake_display] == ["display"]  # shown once, then updated in place
    widget = fake_display[0][1]
    assert widget.data[0].y == pytest.approx((1.0, 0.5, 1 / 3))
    assert widget.data[1].y == (0.5, 1.0, 1.5)
    assert any("outside 0–1" in a.text for a in widget.layout.annotations)
    assert len(widget.layout.shapes) == 1


def test_figurewidget_that_cannot_start_says_what_to_do(monkeypatch):
    def missing_anywidget(*args, **kwargs):
        raise ImportError("Please install anywidget to use the FigureWidget class")  # plotly >= 6 says this

    monkeypatch.setattr(go, "FigureWidget", missing_anywidget)
    with pytest.raises(AlignkitError, match="anywidget.*backend='display'"):
        LivePlot(["loss"], backend="figurewidget")


def test_progress_bar(capsys):
    with LivePlot(["loss"], backend="record", total_steps=4, title="sft") as plot:
        for step in range(1, 5):
            plot.log(step, loss=0.5)
    err = capsys.readouterr().err
    assert "sft" in err and "4/4" in err and "loss=0.5" in err


def test_progress_bar_is_quiet_in_ci(capsys, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with LivePlot(["loss"], total_steps=4) as plot:
        for step in range(1, 5):
            plot.log(step, loss=0.5)
    assert capsys.readouterr().err == ""


def test_import_does_not_load_transformers():
    code = "import sys, alignkit.viz; print('transformers' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_a_live_plot_is_a_training_hook():
    plot = LivePlot(["loss"], backend="record", total_steps=10)
    for row in [{"step": 1}, {"step": 2, "loss": 1.5, "learning_rate": 1e-3}, {"step": 3},
                {"step": 4, "loss": 1.25, "learning_rate": 1e-3}]:
        plot(row)  # what every train_* calls its on_step hook with
    history = plot.history
    assert history["step"].tolist() == [2, 4]  # a step with nothing logged records nothing
    assert history["loss"].tolist() == [1.5, 1.25] and history["learning_rate"].tolist() == [1e-3, 1e-3]


def test_numeric_logs_keep_finite_numbers_only():
    from alignkit.core.trl_driver import numeric_logs

    logs = {"loss": torch.tensor(1.5), "epoch": 0.2, "note": "text", "nan": float("nan"), "flag": True}
    assert numeric_logs(logs) == {"loss": 1.5, "epoch": 0.2}
    assert numeric_logs(None) == {}


class TinyRegressor(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, x, labels):
        return {"loss": ((self.linear(x).squeeze(-1) - labels) ** 2).mean()}


def test_live_plot_as_the_hook_of_a_real_trainer_run(tmp_path, fake_display):
    """The TRL driver's per-step callback feeds a LivePlot: one call a step, the logged steps with their logs."""
    from transformers import Trainer, TrainingArguments

    from alignkit.core.trl_driver import step_hook_callback

    torch.manual_seed(0)
    rows = [{"x": torch.randn(2), "labels": torch.tensor(1.0)} for _ in range(16)]
    seen = []

    def hook(row):
        seen.append(row)
        plot(row)

    args = TrainingArguments(output_dir=str(tmp_path), max_steps=6, per_device_train_batch_size=4,
                             logging_steps=2, report_to=[], save_strategy="no", use_cpu=True, disable_tqdm=True)
    with LivePlot(["loss", "grad_norm"], backend="display", min_interval_s=3600) as plot:
        Trainer(model=TinyRegressor(), args=args, train_dataset=rows, callbacks=[step_hook_callback(hook)]).train()
    assert [r["step"] for r in seen] == [1, 2, 3, 4, 5, 6]  # once per step; the end-of-training summary is no step
    assert [r["step"] for r in seen if "loss" in r] == [2, 4, 6]
    assert plot.history["step"].tolist() == [2, 4, 6] and "train_loss" not in plot.history.columns
    # Throttled to the first point during training; leaving the `with` block drew the rest.
    assert [kind for kind, _, _ in fake_display] == ["display", "update"]
    assert len(trace_ys(fake_display[-1][1], "loss")[0]) == 3


@pytest.fixture
def runs():
    return pd.DataFrame({
        "method": ["dpo", "dpo", "dpo", "ppo", "ppo", "ppo", "ppo"],
        "kl": [3.0, 1.0, 2.0, 0.5, 4.0, 2.5, 1.5],
        "reward": [0.9, 0.5, 0.4, 0.1, 0.6, 0.8, 0.3],
    })


def test_upper_envelope_is_the_running_max_over_x(runs):
    frontier = viz.upper_envelope(runs[runs.method == "dpo"], "kl", "reward")
    assert frontier["kl"].tolist() == [1.0, 2.0, 3.0]
    assert frontier["reward"].tolist() == [0.5, 0.5, 0.9]
    full = viz.upper_envelope(runs, "kl", "reward")
    assert full["reward"].is_monotonic_increasing
    for _, point in runs.iterrows():
        assert point.reward <= full.loc[full.kl >= point.kl, "reward"].min()


def test_scatter_with_envelope(runs):
    fig = viz.scatter_with_envelope(runs, "kl", "reward", "method", title="reward vs KL")
    names = [t.name for t in fig.data]
    assert names == ["dpo", "dpo frontier", "ppo", "ppo frontier"]
    ppo_frontier = fig.data[3]
    assert ppo_frontier.x == (0.5, 1.5, 2.5, 4.0) and ppo_frontier.y == (0.1, 0.3, 0.8, 0.8)
    assert fig.data[2].mode == "markers" and len(fig.data[2].x) == 4
    assert fig.layout.xaxis.title.text == "kl" and fig.layout.title.text == "reward vs KL"


def test_line_and_bar_plots(runs):
    fig = viz.line_plot(runs, "kl", "reward", color="method")
    assert [t.name for t in fig.data] == ["dpo", "ppo"]
    assert fig.data[0].x == (1.0, 2.0, 3.0) and fig.data[0].y == (0.5, 0.4, 0.9)
    both = viz.line_plot(runs, "kl", ["reward", "kl"])
    assert [t.name for t in both.data] == ["reward", "kl"]
    bars = viz.bar_plot(runs.groupby("method", as_index=False)["reward"].mean(), "method", "reward")
    assert len(bars.data) == 1 and bars.data[0].y == pytest.approx((0.6, 0.45))
    grouped = viz.bar_plot(runs, "kl", "reward", color="method")
    assert [t.name for t in grouped.data] == ["dpo", "ppo"] and grouped.layout.barmode == "group"
    with pytest.raises(ValueError, match="'score'"):
        viz.bar_plot(runs, "method", "score")


def test_display_backend_in_a_real_kernel():
    """End to end in an IPython kernel: auto picks "display" and the published output is updated."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    source = """
import os
for name in ("CI", "ALIGNKIT_PLOTS"):
    os.environ.pop(name, None)
from alignkit.viz import LivePlot
plot = LivePlot(["loss", "kl"], min_interval_s=0)
for step in range(1, 4):
    plot.log(step, loss=1.0 / step, kl=float(step))
print(plot.backend, plot.redraws)
plot.finish()
"""
    ci_source = """
os.environ["CI"] = "true"
from alignkit.viz import show, line_plot
import pandas as pd
with LivePlot(["loss"]) as plot:
    for step in range(1, 4):
        plot.log(step, loss=1.0 / step)
print(plot.backend, plot.redraws)
show(line_plot(pd.DataFrame({"x": [1, 2], "y": [3, 4]}), "x", "y", title="shown once"))
"""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source), nbformat.v4.new_code_cell(ci_source)])
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    outputs = notebook.cells[0].outputs
    plots = [o for o in outputs if PLOTLY_JSON in o.get("data", {})]
    assert len(plots) == 1  # one output, updated in place, finished with its PNG
    assert [t["y"] for t in plots[0]["data"][PLOTLY_JSON]["data"]] == [[1.0, 0.5, 1 / 3], [1.0, 2.0, 3.0]]
    assert "text/html" in plots[0]["data"]
    assert static_png(plots[0]["data"]).startswith(PNG_HEADER) and "image/png" not in plots[0]["data"]
    assert any(o.get("text", "").strip() == "display 3" for o in outputs)
    ci_outputs = notebook.cells[1].outputs
    ci_plots = [o for o in ci_outputs if PLOTLY_JSON in o.get("data", {})]
    assert any(o.get("text", "").strip() == "final 1" for o in ci_outputs)  # drawn once, at the end
    assert len(ci_plots) == 2 and all(static_png(o["data"]) for o in ci_plots)
    assert ci_plots[0]["data"][PLOTLY_JSON]["data"][0]["y"] == [1.0, 0.5, 1 / 3]
    assert ci_plots[1]["data"][PLOTLY_JSON]["layout"]["title"]["text"] == "shown once"
    assert not [o for o in ci_outputs if o.get("name") == "stderr"]


# -- the static PNG, the display bundle and show --------------------------------------------------------


def _image(png: bytes):
    from PIL import Image

    assert png.startswith(PNG_HEADER)
    return Image.open(io.BytesIO(png)).convert("RGB")


def _has_color(image, rgb, tolerance=40) -> bool:
    return any(all(abs(a - b) <= tolerance for a, b in zip(pixel, rgb)) for _, pixel in image.getcolors(1 << 20))


def _hand_built_figure():
    """What chapter 04 builds by hand (a right-hand y axis), plus error bars, a fill and two subplots."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=["left <b>panel</b>", "right"])
    fig.add_trace(go.Scatter(x=[1, 2, 3], y=[1, 3, 2], mode="markers", name="gold",
                             error_y={"type": "data", "array": [0.2, 0.3, 0.1]}), row=1, col=1)
    fig.add_trace(go.Scatter(x=[1, 2, 3], y=[0.5, 1, 1.5], mode="lines", name="low"), row=1, col=2)
    fig.add_trace(go.Scatter(x=[1, 2, 3], y=[1, 2, 2.5], mode="lines", fill="tonexty", name="band"), row=1, col=2)
    fig.add_trace(go.Bar(x=["a", "b"], y=[2, 1], name="bars", error_y={"type": "data", "array": [0.1, 0.2]}),
                  row=1, col=2)
    fig.update_layout(title="hand built, $5 not math", yaxis2={"title": "RM score"})
    return fig


def _builder_figures():
    frame = pd.DataFrame({"n": [10, 100, 1000], "acc": [0.6, 0.7, 0.8], "ceiling": [0.85] * 3,
                          "method": ["dpo", "kto", "dpo"]})
    log_line = viz.line_plot(frame, "n", ["acc", "ceiling"], title="accuracy")
    log_line.update_xaxes(type="log")
    secondary = go.Figure([go.Scatter(x=[1, 2], y=[1, 2], mode="markers", name="gold"),
                           go.Scatter(x=[1, 2], y=[5, 3], mode="markers", marker={"symbol": "x"}, name="RM",
                                      yaxis="y2")])
    secondary.update_layout(yaxis2={"title": "RM score", "overlaying": "y", "side": "right"})
    return {
        "live_figure": viz.live_figure({"loss": ([1, 2, 3], [3.0, 2.0, 1.0]), "kl": ([1, 2, 3], [1.0, 9.0, 12.0])},
                                       {"loss": "loss", "kl": "KL (nats)"}, healthy={"kl": (0, 6)},
                                       guidance={"kl": "a few nats is healthy"}, smoothing=0.5, title="PPO"),
        "line_plot": log_line,
        "scatter_with_envelope": viz.scatter_with_envelope(frame, "n", "acc", "method", title="frontier"),
        "bar_plot": viz.bar_plot(frame, "method", "acc", title="bars"),
        "secondary_axis": secondary,
        "hand_built": _hand_built_figure(),
    }


@pytest.mark.parametrize("name", list(_builder_figures()))
def test_png_of_every_builders_figure(name):
    fig = _builder_figures()[name]
    png = viz.to_png(fig)
    image = _image(png)
    assert image.size == (700, int(fig.layout.height or 450))
    assert len(png) > 3000 and len(image.getcolors(1 << 20)) > 8  # a drawing, not a blank page
    assert viz.to_png(_builder_figures()[name]) == png  # the same figure gives the same bytes
    assert b"tEXt" not in png and b"tIME" not in png  # no software or time stamp


def test_png_draws_the_traces_shapes_and_fills():
    blank = _image(viz.to_png(go.Figure()))
    red = (255, 0, 0)
    assert not _has_color(blank, red)
    line = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"color": "rgb(255, 0, 0)", "width": 4}))
    bar = go.Figure(go.Bar(x=["a"], y=[1], marker={"color": "#ff0000"}))
    assert _has_color(_image(viz.to_png(line)), red) and _has_color(_image(viz.to_png(bar)), red)
    band = go.Figure(go.Scatter(x=[0, 1], y=[0, 1]))
    band.add_hrect(y0=0.2, y1=0.8, fillcolor="rgba(0, 0, 255, 0.5)", line_width=0)  # as LivePlot's healthy band
    assert _has_color(_image(viz.to_png(band)), (128, 128, 255))  # translucent: blue over white
    fill = go.Figure(go.Scatter(x=[0, 1, 1], y=[0, 0, 1], fill="toself", fillcolor="#00ff00", mode="lines"))
    assert _has_color(_image(viz.to_png(fill)), (0, 255, 0))


def test_png_of_an_unknown_trace_type_is_a_labelled_placeholder():
    fig = go.Figure(go.Heatmap(z=[[1, 2], [3, 4]]))
    png = viz.to_png(fig)
    assert png != viz.to_png(go.Figure()) and _image(png).size == (700, 450)


def test_png_leaves_pyplot_alone():
    code = ("import sys, plotly.graph_objects as go; from alignkit.viz.png import to_png; "
            "to_png(go.Figure(go.Scatter(y=[1, 2]))); print('matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False" and out.stderr == ""


def test_bundle_carries_the_png_and_an_html_fallback_that_plotly_replaces():
    fig = viz.line_plot(pd.DataFrame({"x": [1, 2], "y": [3, 4]}), "x", "y", title="a <title>")
    bundle = viz.plotly_bundle(fig)
    # No image/png entry: JupyterLab ranks it above the plotly renderer and would show only the picture.
    assert set(bundle) == {PLOTLY_JSON, "text/html", "text/plain"}
    assert static_png(bundle) == viz.to_png(fig)
    page = bundle["text/html"]
    img = re.search(r'<img class="alignkit-static" src="data:image/png;base64,([^"]+)" alt="([^"]*)"', page)
    assert img
    assert bundle["text/plain"] == "<plotly figure: a <title>>"
    assert img.group(2) == "&lt;plotly figure: a &lt;title&gt;&gt;"  # the text, escaped
    # The image sits inside the div plotly.js draws into, and the drawing clears it first.
    assert page.index("<img") < page.index("</div>") < page.index('el.innerHTML = ""') < page.index("Plotly.newPlot")
    live = viz.plotly_bundle(fig, static=False)
    assert static_png(live) is None and "<img" not in live["text/html"]


@pytest.mark.parametrize("ci", [False, True])
def test_show_displays_once_with_the_png(fake_display, monkeypatch, ci):
    if ci:
        monkeypatch.setenv("CI", "true")
    fig = viz.bar_plot(pd.DataFrame({"m": ["a", "b"], "v": [1.0, 2.0]}), "m", "v")
    assert viz.show(fig) is None  # nothing for the cell to echo a second time
    assert len(fake_display) == 1
    kind, bundle, kwargs = fake_display[0]
    assert kind == "display" and kwargs == {"raw": True}
    assert bundle == {**viz.plotly_bundle(fig), "text/html": bundle["text/html"]}  # the div id differs per call
    assert static_png(bundle) == viz.to_png(fig)


def test_display_backend_adds_the_png_only_to_the_finished_figure(fake_display):
    plot = LivePlot(["loss"], backend="display", min_interval_s=0)
    for step in range(1, 4):
        plot.log(step, loss=1.0 / step)
    assert all(static_png(bundle) is None for _, bundle, _ in fake_display)  # live redraws stay cheap
    plot.finish()
    plot.finish()  # nothing new: no second final draw
    assert [kind for kind, _, _ in fake_display] == ["display", "update", "update", "update"]
    final = fake_display[-1][1]
    assert static_png(final) == viz.to_png(plot.figure())
    plot.log(4, loss=0.2)  # logging after finish: the next finish updates the same output
    plot.finish()
    assert [kind for kind, _, _ in fake_display][-2:] == ["update", "update"]
    assert trace_ys(fake_display[-1][1], "loss") == [[1.0, 0.5, 1 / 3, 0.2]] and static_png(fake_display[-1][1])


def test_final_backend_shows_the_finished_figure_once(fake_display):
    with LivePlot(["loss", "kl"], backend="final", min_interval_s=0) as plot:
        for step in range(1, 6):
            plot.log(step, loss=1.0 / step, kl=0.1 * step)
        assert fake_display == []  # nothing while training
    assert [kind for kind, _, _ in fake_display] == ["display"] and plot.redraws == 1
    bundle = fake_display[0][1]
    assert trace_ys(bundle, "loss") == [[1.0, 0.5, 1 / 3, 0.25, 0.2]] and static_png(bundle)
    assert LivePlot(["loss"], backend="final").finish() is None and len(fake_display) == 1  # nothing logged


@pytest.mark.parametrize("barmode, same_columns", [("group", False), ("stack", True)])
def test_png_bars_group_side_by_side_or_stack(barmode, same_columns):
    fig = go.Figure([go.Bar(x=["a"], y=[1], marker={"color": "#ff0000"}),
                     go.Bar(x=["a"], y=[2], marker={"color": "#0000ff"})]).update_layout(barmode=barmode)
    import numpy as np

    pixels = np.asarray(_image(viz.to_png(fig)), dtype=int)

    def columns(rgb):
        return set(np.nonzero((np.abs(pixels - rgb) < 30).all(axis=2).any(axis=0))[0].tolist())

    red, blue = columns((255, 0, 0)), columns((0, 0, 255))
    assert red and blue and (red == blue) == same_columns and bool(red & blue) == same_columns


def test_guidance_wraps_inside_the_figure():
    from alignkit.viz.static import GUIDANCE_CHARS

    long = "KL 0–6 nats is healthy; " * 12
    fig = viz.live_figure({"kl": ([1, 2], [1.0, 2.0])}, {"kl": "KL to reference (nats)"}, guidance={"kl": long})
    note = fig.layout.annotations[-1].text
    lines = note.split("<br>")
    assert len(lines) > 2 and note.startswith("<b>KL to reference (nats)</b>:")
    assert all(len(line.replace("&nbsp;", " ").replace("<b>", "").replace("</b>", "")) <= GUIDANCE_CHARS + 2
               for line in lines)
    assert fig.layout.margin.b >= 60 + 18 * len(lines)  # the margin grows with the lines


def test_labeled_scatter_keeps_labels_apart_and_inside():
    import pandas as pd

    from alignkit.viz import labeled_scatter, place_labels, to_png

    df = pd.DataFrame({"name": ["ppo", "rl-cai", "kto", "sl-cai", "rlaif-dpo", "sft", "dpo"],
                       "x": [0.501, 0.533, 0.530, 0.589, 0.589, 0.648, 0.646],
                       "y": [0.993, 1.0, 0.978, 0.993, 1.0, 0.331, 0.537], "se": [0.03] * 7})
    fig = labeled_scatter(df, "x", "y", "name", x_se="se", y_se="se")
    positions = [t.textposition for t in fig.data]
    assert len(set(positions[3:5])) == 2  # two labels at one spot: one above, one below
    ymax = fig.layout.yaxis.range[1]
    assert ymax > 1.03  # room above the top points for their labels
    # place_labels: points on one spot never get the same slot
    slots = place_labels([0, 0, 0], [0, 0, 0], ["aaa", "bbb", "ccc"], (-1, 1), (-1, 1), 600, 400)
    assert len(set(slots)) == 3
    assert to_png(fig)[:4] == b"\x89PNG"
