"""Plotly figures of a drift report: which columns moved, and how one of them moved."""

from __future__ import annotations

import plotly.graph_objects as go

from lepton_core.core import Message
from lepton_core.monitoring import PSI_MAJOR, PSI_MODERATE, DriftReport, FeatureDrift

__all__ = ["drift_column_figure", "drift_overview_figure"]

TEMPLATE = "plotly_white"
_LEVEL_COLORS = {"none": "#4C78A8", "moderate": "#F58518", "major": "#E45756"}
_TRAINING_COLOR = "#9D9D9D"
_NEW_COLOR = "#4C78A8"
# Beyond this many columns the overview keeps the ones that moved most.
_MAX_COLUMNS = 30


def drift_overview_figure(report: DriftReport, *, language: str = "en") -> go.Figure:
    """Each column's PSI as a bar, largest on top, with the moderate and major lines."""
    features = report.features[:_MAX_COLUMNS][::-1]
    fig = go.Figure(
        go.Bar(
            x=[f.psi for f in features],
            y=[f.column for f in features],
            orientation="h",
            marker_color=[_LEVEL_COLORS[f.level] for f in features],
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )
    for value in (PSI_MODERATE, PSI_MAJOR):  # named in the axis title: labels would collide
        fig.add_vline(x=value, line_dash="dot", line_color="#888")
    fig.update_layout(
        template=TEMPLATE,
        title=Message("plot.drift.title").render(language),
        xaxis_title=Message("plot.drift.axis").render(language),
        xaxis_rangemode="tozero",
        height=max(260, 28 * len(features) + 120),
        margin={"l": 10, "r": 10, "t": 70, "b": 10},
        showlegend=False,
    )
    return fig


def drift_column_figure(feature: FeatureDrift, *, language: str = "en") -> go.Figure:
    """One column's share of rows per bin, in the training data and in the new records."""
    fig = go.Figure()
    for label, shares, color in (
        (Message("plot.drift.training"), feature.reference_share, _TRAINING_COLOR),
        (Message("plot.drift.new"), feature.current_share, _NEW_COLOR),
    ):
        fig.add_bar(
            x=feature.bins,
            y=shares,
            name=label.render(language),
            marker_color=color,
            hovertemplate="%{x}: %{y:.1%}<extra></extra>",
        )
    fig.update_layout(
        template=TEMPLATE,
        barmode="group",
        title=Message("plot.drift.column", column=feature.column).render(language),
        yaxis_title=Message("plot.drift.share").render(language),
        yaxis_tickformat=".0%",
        xaxis_type="category",
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
    )
    return fig
