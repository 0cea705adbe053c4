"""Training curves built from the logged history of a run or a running job."""

from __future__ import annotations

import plotly.graph_objects as go

_LABELS = {"train_loss": "training loss", "valid_loss": "validation loss"}


def training_curves_figure(history: list[dict[str, float]], *, unit: str = "step") -> go.Figure:
    """Loss (and any other logged metric) by step: boosting round or epoch."""
    fig = go.Figure()
    keys = sorted({k for entry in history for k in entry if k != "step"})
    for key in keys:
        points = [(e["step"], e[key]) for e in history if e.get(key) is not None]
        fig.add_trace(
            go.Scatter(
                x=[p[0] for p in points],
                y=[p[1] for p in points],
                mode="lines",
                name=_LABELS.get(key, key.replace("_", " ")),
            )
        )
    fig.update_layout(
        template="plotly_white",
        title="Training curves",
        xaxis_title=unit,
        yaxis_title="loss",
        height=320,
        margin={"t": 50, "b": 40, "l": 50, "r": 20},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig
