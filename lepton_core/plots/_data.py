"""Plotly figures of a data profile.

Every figure is drawn from a :class:`~lepton_core.data.DataProfile` or one of
its :class:`~lepton_core.data.ColumnProfile` entries alone, so a page only
renders it. Asking for a figure the profile has no data for (class balance
without a classification target) raises ``ValueError``. Titles and axes are written in
``language`` (``"en"`` or ``"zh"``) from the engine's catalogue.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from lepton_core.core import Message
from lepton_core.data import ColumnProfile, DataProfile

__all__ = [
    "class_balance_figure",
    "column_distribution_figure",
    "missing_values_figure",
    "token_length_figure",
]

TEMPLATE = "plotly_white"
_BAR_COLOR = "#4C78A8"
_MISSING_COLOR = "#E45756"
# Category labels longer than this are cut so that the axis stays readable.
_MAX_LABEL = 40


def _layout(fig: go.Figure, title: str, x: str, y: str, **extra) -> go.Figure:
    fig.update_layout(
        template=TEMPLATE,
        title=title,
        xaxis_title=x,
        yaxis_title=y,
        showlegend=False,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        **extra,
    )
    return fig


def _short(label: str) -> str:
    return label if len(label) <= _MAX_LABEL else label[: _MAX_LABEL - 1] + "…"


# Column kinds in words; a kind missing here is shown as it is named.
_KINDS = {
    "numeric": Message("plot.kind.numeric"),
    "categorical": Message("plot.kind.categorical"),
    "boolean": Message("plot.kind.boolean"),
    "datetime": Message("plot.kind.datetime"),
    "text": Message("plot.kind.text"),
    "identifier": Message("plot.kind.identifier"),
}


def _missing_note(share: float) -> Message:
    return Message("plot.data.missing", share=share) if share else Message("plot.data.complete")


def column_distribution_figure(profile: ColumnProfile, *, language: str = "en") -> go.Figure:
    """Histogram of a numeric or date column, or its most frequent values otherwise."""
    kind = _KINDS.get(profile.kind, profile.kind)
    title = Message(
        "plot.data.column_title",
        column=profile.name,
        kind=kind,
        missing=_missing_note(profile.missing_share),
    ).render(language)
    rows = Message("plot.metric.count").render(language)
    stats = profile.stats
    if "histogram" in stats:
        edges, counts = stats["histogram"]["edges"], stats["histogram"]["counts"]
        if profile.kind == "datetime":
            stamps = pd.DatetimeIndex(
                pd.to_datetime(edges, utc=True, format="ISO8601")
            ).tz_localize(None)
            steps = stamps[1:] - stamps[:-1]
            centers = list(stamps[:-1] + steps / 2)
            widths = list(steps / pd.Timedelta(milliseconds=1))  # date axes measure in ms
            ranges = [f"{a:%Y-%m-%d %H:%M} – {b:%Y-%m-%d %H:%M}" for a, b in pairwise(stamps)]
        else:
            centers = [(a + b) / 2 for a, b in pairwise(edges)]
            widths = [b - a for a, b in pairwise(edges)]
            ranges = [f"{a:,.4g} – {b:,.4g}" for a, b in pairwise(edges)]
        fig = go.Figure(
            go.Bar(
                x=centers,
                y=counts,
                width=widths,
                customdata=ranges,
                marker_color=_BAR_COLOR,
                marker_line_width=0,
                hovertemplate=Message("plot.data.hover_rows_y").render(language),
            )
        )
        return _layout(fig, title, profile.name, rows, bargap=0.02)
    top = stats.get("top", {"values": [], "counts": []})
    fig = go.Figure(
        go.Bar(
            x=top["counts"],
            y=[_short(v) for v in top["values"]],
            orientation="h",
            customdata=top["values"],
            marker_color=_BAR_COLOR,
            hovertemplate=Message("plot.data.hover_rows_x").render(language),
        )
    )
    shown = len(top["values"])
    if profile.distinct > shown:
        title += Message("plot.data.top", shown=shown, distinct=profile.distinct).render(language)
    return _layout(fig, title, rows, "", yaxis={"autorange": "reversed", "type": "category"})


def class_balance_figure(profile: DataProfile, *, language: str = "en") -> go.Figure:
    """Rows per class of the profile's classification target."""
    if not profile.class_balance:
        raise ValueError("the profile has no class balance: its target is not a classification")
    labels = list(profile.class_balance)
    counts = list(profile.class_balance.values())
    total = sum(counts)
    fig = go.Figure(
        go.Bar(
            x=[_short(label) for label in labels],
            y=counts,
            text=[f"{c / total:.1%}" for c in counts],
            textposition="outside",
            customdata=labels,
            marker_color=_BAR_COLOR,
            hovertemplate=Message("plot.data.hover_class").render(language),
        )
    )
    target = profile.suggestions.target
    return _layout(
        fig,
        Message("plot.data.balance_title", target=target).render(language),
        target or Message("plot.data.class").render(language),
        Message("plot.metric.count").render(language),
        xaxis={"type": "category"},
    )


def missing_values_figure(profile: DataProfile, *, language: str = "en") -> go.Figure:
    """Share of missing values in every column, in table order."""
    names = [c.name for c in profile.schema.columns]
    shares = [c.missing_share for c in profile.schema.columns]
    fig = go.Figure(
        go.Bar(
            x=shares,
            y=[_short(n) for n in names],
            orientation="h",
            text=[f"{s:.1%}" if s else "" for s in shares],
            textposition="outside",
            customdata=names,
            marker_color=_MISSING_COLOR,
            hovertemplate=Message("plot.data.hover_missing").render(language),
        )
    )
    title = (
        Message("plot.data.missing_title")
        if any(shares)
        else Message("plot.data.missing_title_none")
    )
    return _layout(
        fig,
        title.render(language),
        Message("plot.data.missing_axis").render(language),
        "",
        xaxis={"tickformat": ".0%", "range": [0, max(0.05, 1.2 * max(shares, default=0))]},
        yaxis={"autorange": "reversed", "type": "category"},
        height=max(300, 24 * len(names) + 120),
    )


def token_length_figure(stats: Any, *, language: str = "en") -> go.Figure:
    """Histogram of texts' lengths in tokens, with the truncation length marked.

    ``stats`` is a :class:`lepton_core.text.LengthStats`.
    """
    edges, counts = stats.edges, stats.counts
    fig = go.Figure(
        go.Bar(
            x=[(a + b) / 2 for a, b in pairwise(edges)],
            y=counts,
            width=[b - a for a, b in pairwise(edges)],
            marker_color=_BAR_COLOR,
            hovertemplate=Message("plot.length.hover").render(language),
        )
    )
    fig.add_vline(
        x=stats.suggested_max_length,
        line_dash="dash",
        line_color=_MISSING_COLOR,
        annotation_text=Message("plot.length.cut", length=stats.suggested_max_length).render(
            language
        ),
        annotation_position="top right",
    )
    return _layout(
        fig,
        Message("plot.length.title", median=stats.median, p95=stats.p95).render(language),
        Message("plot.length.tokens").render(language),
        Message("plot.length.texts").render(language),
        bargap=0.02,
    )
