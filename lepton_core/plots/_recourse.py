"""The fairness of recourse: how much must change for each group to get the answer wanted."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lepton_core.core import Message
from lepton_core.recourse import RecourseReport

__all__ = ["recourse_figure"]


def recourse_figure(report: RecourseReport, attribute: str, *, language: str = "en") -> go.Figure:
    """Per group of ``attribute``: the median cost of the cheapest counterfactual (left)
    and the share of turned-down rows with none (right); hover shows the rows searched."""
    if attribute not in report.by_attribute:
        raise ValueError(f"attribute must be one of {sorted(report.by_attribute)}")
    groups = report.by_attribute[attribute]
    names = [g.group for g in groups]
    hover = [Message("plot.recourse.searched", rows=g.searched).render(language) for g in groups]
    titles = [
        Message("plot.recourse.distance").render(language),
        Message("plot.recourse.none").render(language),
    ]
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles)
    fig.add_trace(
        go.Bar(
            x=names,
            y=[g.median_distance for g in groups],
            text=[_cost(g.median_distance, g.median_changes, language) for g in groups],
            textposition="outside",
            hovertext=hover,
            name=titles[0],
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=names,
            y=[g.no_recourse_share for g in groups],
            text=[_share(g.no_recourse_share) for g in groups],
            textposition="outside",
            hovertext=hover,
            name=titles[1],
        ),
        row=1,
        col=2,
    )
    fig.update_xaxes(type="category", title_text=Message("plot.recourse.group").render(language))
    fig.update_yaxes(tickformat=".0%", row=1, col=1)
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", row=1, col=2)
    title = Message("plot.recourse.title", outcome=report.desired, attribute=attribute)
    fig.update_layout(
        template="plotly_white",
        title=title.render(language),
        showlegend=False,
        margin={"t": 80},
    )
    return fig


def _cost(distance: float | None, changes: float | None, language: str) -> str:
    """ "7.5 %, 1 changed": the median distance (a share of the values' ranges) and the
    median number of changed features."""
    if distance is None or changes is None:
        return ""
    return Message("plot.recourse.cost", distance=distance, changes=changes).render(language)


def _share(share: float | None) -> str:
    return "" if share is None else f"{share:.0%}"
