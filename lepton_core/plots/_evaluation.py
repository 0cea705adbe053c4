"""Plotly figures of evaluation and fairness reports.

Every figure is drawn from an :class:`~lepton_core.evaluation._metrics.EvalReport` or a
:class:`~lepton_core.evaluation._fairness.FairnessReport` alone, so a page only renders it.
Asking for a figure the report has no data for (a ROC curve without probabilities)
raises ``ValueError``. Titles, axes and legends are written in ``language`` (``"en"`` or
``"zh"``) from the engine's catalogue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from lepton_core.core import Message
from lepton_core.evaluation import EvalReport, FairnessReport, compare_reports

__all__ = [
    "calibration_figure",
    "compare_figure",
    "confusion_matrix_figure",
    "fairness_group_figure",
    "fairness_rates_figure",
    "pr_figure",
    "residual_figure",
    "roc_figure",
]

TEMPLATE = "plotly_white"
METRIC_LABELS = {
    "accuracy": Message("plot.metric.accuracy"),
    "balanced_accuracy": Message("plot.metric.balanced_accuracy"),
    "precision": Message("plot.metric.precision"),
    "recall": Message("plot.metric.recall"),
    "f1": "F1",
    "roc_auc": "ROC AUC",
    "log_loss": Message("plot.metric.log_loss"),
    "rmse": "RMSE",
    "mae": Message("plot.metric.mae"),
    "r2": "R²",
    "count": Message("plot.metric.count"),
    "selection_rate": Message("plot.metric.selection_rate"),
    "tpr": Message("plot.metric.tpr"),
    "fpr": Message("plot.metric.fpr"),
    "fnr": Message("plot.metric.fnr"),
    "mean_prediction": Message("plot.metric.mean_prediction"),
}
_CHANCE = {"dash": "dash", "color": "grey", "width": 1}
_UNBOUNDED = {"mae", "mean_prediction", "count"}


def _label(metric: str, language: str) -> str:
    label = METRIC_LABELS.get(metric, metric.replace("_", " ").capitalize())
    return label.render(language) if isinstance(label, Message) else label


def _layout(fig: go.Figure, title: str, x: str, y: str, **extra) -> go.Figure:
    fig.update_layout(
        template=TEMPLATE, title=title, xaxis_title=x, yaxis_title=y, legend_title_text="", **extra
    )
    return fig


def _require(value, what: str, how: str):
    if not value:
        raise ValueError(f"This report has no {what}; {how}.")
    return value


def confusion_matrix_figure(report: EvalReport, *, language: str = "en") -> go.Figure:
    """Heatmap of counts, true classes down the side and predicted classes across."""
    confusion = _require(report.confusion, "confusion matrix", "evaluate a classification task")
    words = [
        Message("plot.confusion.hover"),
        Message("plot.metric.count"),
        Message("plot.confusion.title"),
        Message("plot.confusion.x"),
        Message("plot.confusion.y"),
    ]
    return _counts_heatmap(confusion, report.classes or [], words, language)


def kinds_confusion_figure(
    confusion: dict[str, dict[str, int]], *, none: str, language: str = "en"
) -> go.Figure:
    """Which kinds of name an entity model mixes up: true kinds down the side, the kind
    each was found as across; ``none`` (no name on that side) comes last, as "no name"."""
    kinds = sorted(({*confusion} | {k for row in confusion.values() for k in row}) - {none})
    order = [*kinds, none]
    counts = [[confusion.get(t, {}).get(f, 0) for f in order] for t in order]
    labels = [*kinds, Message("plot.kinds_confusion.none").render(language)]
    words = [
        Message("plot.kinds_confusion.hover"),
        Message("plot.kinds_confusion.count"),
        Message("plot.kinds_confusion.title"),
        Message("plot.kinds_confusion.x"),
        Message("plot.kinds_confusion.y"),
    ]
    return _counts_heatmap(counts, labels, words, language)


def _counts_heatmap(
    counts: Any, labels: list[Any], words: list[Message], language: str
) -> go.Figure:
    """A heatmap of counts; ``words``: its hover text, colour bar, title and axes."""
    hover, unit, title, x, y = (w.render(language) for w in words)
    fig = go.Figure(
        go.Heatmap(
            z=counts,
            x=labels,
            y=labels,
            colorscale="Blues",
            texttemplate="%{z}",
            hovertemplate=hover,
            colorbar={"title": {"text": unit}},
        )
    )
    fig.update_xaxes(type="category")
    # Reading order: the first class at the top, like a table.
    fig.update_yaxes(type="category", autorange="reversed")
    return _layout(fig, title, x, y)


def roc_figure(report: EvalReport, *, language: str = "en") -> go.Figure:
    """ROC curve of each class (binary: the positive class) with the chance diagonal."""
    roc = _require(report.roc, "ROC curve", "evaluate with predicted probabilities")
    fig = go.Figure()
    for cls, curve in roc.items():
        fig.add_trace(go.Scatter(x=curve["fpr"], y=curve["tpr"], mode="lines", name=str(cls)))
    chance = Message("plot.chance").render(language)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name=chance, line=_CHANCE))
    auc = report.metrics.get("roc_auc")
    title = Message("plot.roc.title") if auc is None else Message("plot.roc.title_auc", auc=auc)
    return _layout(fig, title.render(language), _label("fpr", language), _label("tpr", language))


def pr_figure(report: EvalReport, *, language: str = "en") -> go.Figure:
    """Precision-recall curve of each class, with the positive rate as the chance line."""
    pr = _require(report.pr, "precision-recall curve", "evaluate with predicted probabilities")
    fig = go.Figure()
    for cls, curve in pr.items():
        fig.add_trace(
            go.Scatter(x=curve["recall"], y=curve["precision"], mode="lines", name=str(cls))
        )
    if report.task == "binary" and report.per_class and report.positive_class:
        # A random ranking has precision equal to the share of positives.
        rate = report.per_class[report.positive_class]["support"] / report.n_rows
        fig.add_trace(
            go.Scatter(
                x=[0, 1],
                y=[rate, rate],
                mode="lines",
                name=Message("plot.chance").render(language),
                line=_CHANCE,
            )
        )
    return _layout(
        fig,
        Message("plot.pr.title").render(language),
        _label("recall", language),
        _label("precision", language),
    )


def calibration_figure(report: EvalReport, *, language: str = "en") -> go.Figure:
    """Observed share of positives against the mean predicted probability, per bin."""
    cal = _require(
        report.calibration, "calibration curve", "evaluate a binary task with probabilities"
    )
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name=Message("plot.calibration.perfect").render(language),
            line=_CHANCE,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=cal["prob_pred"],
            y=cal["prob_true"],
            mode="lines+markers",
            name=Message("plot.calibration.model").render(language),
            customdata=cal["count"],
            hovertemplate=Message("plot.calibration.hover").render(language),
        )
    )
    return _layout(
        fig,
        Message("plot.calibration.title").render(language),
        Message("plot.calibration.x").render(language),
        Message("plot.calibration.y").render(language),
    )


def residual_figure(report: EvalReport, *, language: str = "en") -> go.Figure:
    """Residuals (actual - predicted) against predicted values, with the zero line."""
    res = _require(report.residuals, "residuals", "evaluate a regression task")
    fig = go.Figure(
        go.Scattergl(
            x=res["predicted"],
            y=res["residual"],
            mode="markers",
            name=Message("plot.metric.count").render(language),
            marker={"size": 5, "opacity": 0.5},
            customdata=res["actual"],
            hovertemplate=Message("plot.residuals.hover").render(language),
        )
    )
    fig.add_hline(y=0, line=_CHANCE)
    return _layout(
        fig,
        Message("plot.residuals.title").render(language),
        Message("plot.residuals.x").render(language),
        Message("plot.residuals.y").render(language),
    )


def fairness_group_figure(
    report: FairnessReport, metric: str = "selection_rate", *, language: str = "en"
) -> go.Figure:
    """One bar per group with the overall value as a dashed line; small groups hatched.

    Shares (every metric but MAE and mean prediction) keep their axis within [0, 1].
    """
    if metric not in report.overall:
        raise ValueError(f"metric must be one of {sorted(report.overall)}, got {metric!r}")
    groups = report.groups
    small = set(report.small_groups)
    counts = [report.by_group[g]["count"] for g in groups]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=groups,
            y=[report.by_group[g][metric] for g in groups],
            name=_label(metric, language),
            customdata=counts,
            marker={"pattern": {"shape": ["/" if g in small else "" for g in groups]}},
            text=[
                Message("plot.fairness.small", rows=n).render(language) if g in small else ""
                for g, n in zip(groups, counts, strict=True)
            ],
            textposition="outside",
            hovertemplate=Message("plot.fairness.hover").render(language),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=groups,
            y=[report.overall[metric]] * len(groups),
            mode="lines",
            name=Message("plot.fairness.overall").render(language),
            line={"dash": "dash", "color": "black"},
        )
    )
    note = Message("plot.fairness.hatched", rows=report.min_group_rows) if small else ""
    fig.update_xaxes(type="category")
    if metric not in _UNBOUNDED:
        # The "n=1 (small)" labels sit above the bars; room for them, never past 1.
        fig.update_yaxes(range=[0, 1.0])
    title = Message(
        "plot.fairness.title",
        metric=_label(metric, language),
        attribute=report.attribute,
        note=note,
    )
    return _layout(fig, title.render(language), report.attribute, _label(metric, language))


def fairness_rates_figure(report: FairnessReport, *, language: str = "en") -> go.Figure:
    """Grouped bars of true/false positive and false negative rates per group."""
    rates = ("tpr", "fpr", "fnr")
    if not all(r in report.overall for r in rates):
        raise ValueError("Error rates by group exist only for binary tasks")
    fig = go.Figure(
        [
            go.Bar(
                x=report.groups,
                y=[report.by_group[g][r] for g in report.groups],
                name=_label(r, language),
            )
            for r in rates
        ]
    )
    fig.update_xaxes(type="category")
    fig.update_yaxes(range=[0, 1.0])
    return _layout(
        fig,
        Message("plot.fairness.rates_title", attribute=report.attribute).render(language),
        report.attribute,
        Message("plot.fairness.rate").render(language),
        barmode="group",
    )


def compare_figure(
    a: EvalReport, b: EvalReport, labels: Sequence[str] = ("A", "B"), *, language: str = "en"
) -> go.Figure:
    """Side-by-side bars of the metrics two reports share."""
    if len(labels) != 2:
        raise ValueError(f"labels must name the two reports, got {labels!r}")
    rows = compare_reports(a, b)
    if not rows:
        raise ValueError("The two reports share no metric; compare reports of the same task.")
    names = [_label(r["metric"], language) for r in rows]
    fig = go.Figure(
        [
            go.Bar(x=names, y=[r[key] for r in rows], name=str(label))
            for key, label in zip(("a", "b"), labels, strict=True)
        ]
    )
    return _layout(
        fig,
        Message("plot.compare.title", a=labels[0], b=labels[1]).render(language),
        Message("plot.compare.x").render(language),
        Message("plot.compare.y").render(language),
        barmode="group",
    )
