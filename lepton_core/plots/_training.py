"""Training curves built from the logged history of a run or a running job."""

from __future__ import annotations

import plotly.graph_objects as go

from lepton_core.core import Message

_LABELS = {
    "train_loss": Message("plot.training.train_loss"),
    "valid_loss": Message("plot.training.valid_loss"),
    "valid_accuracy": Message("plot.training.valid_accuracy"),
}


def _is_share(key: str) -> bool:
    """Whether a logged figure is a share between 0 and 1 (accuracy, F1, AUC), drawn
    against its own axis on the right rather than on the loss axis."""
    return any(word in key for word in ("accuracy", "f1", "auc"))


def training_curves_figure(
    history: list[dict[str, float]], *, unit: str | None = None, language: str = "en"
) -> go.Figure:
    """Loss (and any other logged metric) by step: boosting round or epoch.

    Titles and names are written in ``language`` (``"en"`` or ``"zh"``); ``unit`` names
    the x axis (default: "step").
    """
    fig = go.Figure()
    keys = sorted({k for entry in history for k in entry if k != "step"})
    for key in keys:
        points = [(e["step"], e[key]) for e in history if e.get(key) is not None]
        fig.add_trace(
            go.Scatter(
                x=[p[0] for p in points],
                y=[p[1] for p in points],
                mode="lines",
                name=(_LABELS[key].render(language) if key in _LABELS else key.replace("_", " ")),
                yaxis="y2" if _is_share(key) else "y",
                line={"dash": "dot"} if _is_share(key) else None,
            )
        )
    if any(_is_share(k) for k in keys):
        fig.update_layout(
            yaxis2={
                "title": Message("plot.training.share").render(language),
                "overlaying": "y",
                "side": "right",
                "range": [0, 1.02],
                "tickmode": "linear",  # its own ticks, not the loss axis's
                "tick0": 0,
                "dtick": 0.25,
                "tickformat": ".0%",
                "showgrid": False,
            }
        )
    steps = [float(e["step"]) for e in history if "step" in e]
    if steps and all(s.is_integer() for s in steps) and max(steps) - min(steps) <= 12:
        fig.update_xaxes(dtick=1)  # a few whole steps: no "3.5" between epochs
    fig.update_layout(
        template="plotly_white",
        title=Message("plot.training.title").render(language),
        xaxis_title=unit or Message("plot.training.step").render(language),
        yaxis_title=Message("plot.training.loss").render(language),
        height=320,
        margin={"t": 50, "b": 40, "l": 50, "r": 20},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig
