"""Plotly figures of monitoring: which columns moved, and how the live model fares over time."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from lepton_core.core import Message
from lepton_core.monitoring import (
    PSI_MAJOR,
    PSI_MODERATE,
    DriftReport,
    FairnessTrend,
    FeatureDrift,
    LiveReport,
    PerformanceTrend,
    TrafficWindow,
)

__all__ = [
    "drift_column_figure",
    "drift_overview_figure",
    "fairness_trend_figure",
    "live_report_html",
    "performance_trend_figure",
    "traffic_figure",
]

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


def drift_column_figure(
    feature: FeatureDrift, *, answers: bool = False, language: str = "en"
) -> go.Figure:
    """One column's share of rows per bin, in the training data and in the new records;
    with ``answers``, the model's answers on its test part and since it went live."""
    fig = go.Figure()
    reference, new = (
        (Message("plot.drift.test_answers"), Message("plot.drift.live_answers"))
        if answers
        else (Message("plot.drift.training"), Message("plot.drift.new"))
    )
    for label, shares, color in (
        (reference, feature.reference_share, _TRAINING_COLOR),
        (new, feature.current_share, _NEW_COLOR),
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
        title=(
            Message("plot.drift.answers_title")
            if answers
            else Message("plot.drift.column", column=feature.column)
        ).render(language),
        yaxis_title=Message("plot.drift.share").render(language),
        yaxis_tickformat=".0%",
        xaxis_type="category",
        # Free text is compared by its length: say so under the bins.
        xaxis_title=(
            Message("plot.drift.text_length").render(language) if feature.kind == "text" else None
        ),
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
    )
    return fig


def _over_time(fig: go.Figure, title: Message, axis: Message, language: str) -> go.Figure:
    fig.update_layout(
        template=TEMPLATE,
        title=title.render(language),
        yaxis_title=axis.render(language),
        height=320,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
    )
    return fig


def traffic_figure(
    windows: list[TrafficWindow], *, every: str | None = None, language: str = "en"
) -> go.Figure:
    """Requests per window as bars (failed ones stacked in red), latency as lines.

    ``every`` (the windows' length, a pandas frequency such as ``"1D"``) sizes the bars
    and the time axis: with one window only, plotly would otherwise span a millisecond.
    """
    starts = [w.start for w in windows]
    fig = go.Figure()
    fig.add_bar(
        x=starts,
        y=[w.requests - w.errors for w in windows],
        name=Message("plot.live.answered").render(language),
        marker_color=_NEW_COLOR,
    )
    fig.add_bar(
        x=starts,
        y=[w.errors for w in windows],
        name=Message("plot.live.failed").render(language),
        marker_color=_LEVEL_COLORS["major"],
    )
    for key, label, dash in (
        ("p50_ms", Message("plot.live.p50"), "solid"),
        ("p99_ms", Message("plot.live.p99"), "dot"),
    ):
        fig.add_scatter(
            x=starts,
            y=[getattr(w, key) for w in windows],
            name=label.render(language),
            yaxis="y2",
            mode="lines+markers",
            line={"color": "#54A24B", "dash": dash},
        )
    if every and starts:
        first, last = pd.Timestamp(min(starts)), pd.Timestamp(max(starts))
        span = (first + pd.tseries.frequencies.to_offset(every)) - first
        period = span.total_seconds() * 1000  # each point stands for its whole window
        fig.update_traces(xperiod=period, xperiodalignment="middle")
        fig.update_traces(width=period * 0.8, selector={"type": "bar"})
        fig.update_xaxes(range=[first - span * 0.1, last + span * 1.1])
    fig.update_layout(
        barmode="stack",
        yaxis2={
            "title": Message("plot.live.latency_axis").render(language),
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
        },
    )
    return _over_time(
        fig, Message("plot.live.traffic"), Message("plot.live.requests_axis"), language
    )


def performance_trend_figure(trend: PerformanceTrend, *, language: str = "en") -> go.Figure:
    """Accuracy (or RMSE) per window with its interval, the estimate, and training's figure."""
    name = "rmse" if trend.task == "regression" else "accuracy"
    if name == "rmse":
        words = Message("plot.live.rmse"), Message("plot.live.rmse_title")
    else:
        words = Message("plot.live.accuracy"), Message("plot.live.accuracy_title")
    measured = [w for w in trend.windows if name in w.figures]
    fig = go.Figure()
    fig.add_scatter(
        x=[w.start for w in measured],
        y=[w.figures[name] for w in measured],
        error_y={
            "type": "data",
            "symmetric": False,
            "array": [w.intervals.get(name, [0, 0])[1] - w.figures[name] for w in measured],
            "arrayminus": [w.figures[name] - w.intervals.get(name, [0, 0])[0] for w in measured],
        },
        mode="lines+markers",
        name=words[0].render(language),
        line={"color": _NEW_COLOR},
    )
    estimated = [w for w in trend.windows if w.estimated_accuracy is not None]
    if estimated:
        fig.add_scatter(
            x=[w.start for w in estimated],
            y=[w.estimated_accuracy for w in estimated],
            mode="lines",
            name=Message("plot.live.estimated").render(language),
            line={"color": "#F58518", "dash": "dash"},
        )
    if name in trend.baseline:
        fig.add_hline(
            y=trend.baseline[name],
            line_dash="dot",
            line_color=_TRAINING_COLOR,
            annotation_text=Message("plot.live.at_training").render(language),
        )
    if name == "accuracy":
        fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    return _over_time(fig, words[1], words[0], language)


def fairness_trend_figure(trend: FairnessTrend, *, language: str = "en") -> go.Figure:
    """Each group's share predicted positive per window, and the gaps against training's."""
    fig = go.Figure()
    groups = sorted({g for w in trend.windows for g in w.selection_rate})
    for group in groups:
        fig.add_scatter(
            x=[w.start for w in trend.windows],
            y=[w.selection_rate.get(group) for w in trend.windows],
            mode="lines+markers",
            name=str(group),
        )
    fig.add_scatter(
        x=[w.start for w in trend.windows],
        y=[w.demographic_parity_difference for w in trend.windows],
        mode="lines",
        name=Message("plot.live.parity_gap").render(language),
        line={"color": "#222", "dash": "dash", "width": 3},
    )
    if trend.baseline_parity_difference is not None:
        fig.add_hline(
            y=trend.baseline_parity_difference,
            line_dash="dot",
            line_color=_TRAINING_COLOR,
            annotation_text=Message("plot.live.gap_at_training").render(language),
        )
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    return _over_time(
        fig,
        Message("plot.live.fairness_title", column=trend.attribute, answer=trend.positive_class),
        Message("plot.live.fairness_axis"),
        language,
    )


def live_report_html(report: LiveReport, *, language: str = "en") -> str:
    """The live report as one self-contained HTML page (plotly.js inlined once), to share."""
    import html

    figures = [traffic_figure(report.traffic, every=report.every, language=language)]
    if report.performance is not None:
        figures.append(performance_trend_figure(report.performance, language=language))
    figures += [fairness_trend_figure(t, language=language) for t in report.fairness]
    if report.drift is not None:
        figures.append(drift_overview_figure(report.drift, language=language))
    lines = [report.summary().render(language)]
    lines += [alert.summary().render(language) for alert in report.alerts]
    parts = [
        f"<h1>{html.escape(report.model)}</h1>",
        *(f"<p>{html.escape(line)}</p>" for line in lines),
        *(
            fig.to_html(full_html=False, include_plotlyjs=i == 0)  # the library once
            for i, fig in enumerate(figures)
        ),
    ]
    title = html.escape(Message("plot.live.report_title", model=report.model).render(language))
    return (
        f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8">'
        f'<title>{title}</title></head><body style="font-family:sans-serif;max-width:1100px;'
        f'margin:auto">{"".join(parts)}</body></html>'
    )
