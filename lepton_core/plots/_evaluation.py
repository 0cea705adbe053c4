"""Plotly figures of evaluation and fairness reports.

Every figure is drawn from an :class:`~lepton_core.evaluation._metrics.EvalReport` or a
:class:`~lepton_core.evaluation._fairness.FairnessReport` alone, so a page only renders it.
Asking for a figure the report has no data for (a ROC curve without probabilities)
raises ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

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
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "roc_auc": "ROC AUC",
    "log_loss": "Log loss",
    "rmse": "RMSE",
    "mae": "Mean absolute error",
    "r2": "R²",
    "count": "Rows",
    "selection_rate": "Selection rate",
    "tpr": "True positive rate",
    "fpr": "False positive rate",
    "fnr": "False negative rate",
    "mean_prediction": "Mean prediction",
}
_CHANCE = {"dash": "dash", "color": "grey", "width": 1}
_UNBOUNDED = {"mae", "mean_prediction", "count"}


def _label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric.replace("_", " ").capitalize())


def _layout(fig: go.Figure, title: str, x: str, y: str, **extra) -> go.Figure:
    fig.update_layout(
        template=TEMPLATE, title=title, xaxis_title=x, yaxis_title=y, legend_title_text="", **extra
    )
    return fig


def _require(value, what: str, how: str):
    if not value:
        raise ValueError(f"This report has no {what}; {how}.")
    return value


def confusion_matrix_figure(report: EvalReport) -> go.Figure:
    """Heatmap of counts, true classes down the side and predicted classes across."""
    confusion = _require(report.confusion, "confusion matrix", "evaluate a classification task")
    classes = report.classes or []
    fig = go.Figure(
        go.Heatmap(
            z=confusion,
            x=classes,
            y=classes,
            colorscale="Blues",
            texttemplate="%{z}",
            hovertemplate="True %{y}, predicted %{x}: %{z} rows<extra></extra>",
            colorbar={"title": {"text": "Rows"}},
        )
    )
    fig.update_xaxes(type="category")
    # Reading order: the first class at the top, like a table.
    fig.update_yaxes(type="category", autorange="reversed")
    return _layout(fig, "Confusion matrix", "Predicted class", "True class")


def roc_figure(report: EvalReport) -> go.Figure:
    """ROC curve of each class (binary: the positive class) with the chance diagonal."""
    roc = _require(report.roc, "ROC curve", "evaluate with predicted probabilities")
    fig = go.Figure()
    for cls, curve in roc.items():
        fig.add_trace(go.Scatter(x=curve["fpr"], y=curve["tpr"], mode="lines", name=str(cls)))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="Chance", line=_CHANCE))
    auc = report.metrics.get("roc_auc")
    title = "ROC curve" if auc is None else f"ROC curve (AUC {auc:.3f})"
    return _layout(fig, title, "False positive rate", "True positive rate")


def pr_figure(report: EvalReport) -> go.Figure:
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
            go.Scatter(x=[0, 1], y=[rate, rate], mode="lines", name="Chance", line=_CHANCE)
        )
    return _layout(fig, "Precision-recall curve", "Recall", "Precision")


def calibration_figure(report: EvalReport) -> go.Figure:
    """Observed share of positives against the mean predicted probability, per bin."""
    cal = _require(
        report.calibration, "calibration curve", "evaluate a binary task with probabilities"
    )
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="Perfectly calibrated", line=_CHANCE)
    )
    fig.add_trace(
        go.Scatter(
            x=cal["prob_pred"],
            y=cal["prob_true"],
            mode="lines+markers",
            name="Model",
            customdata=cal["count"],
            hovertemplate="Predicted %{x:.2f}, observed %{y:.2f} (%{customdata:,} rows)"
            "<extra></extra>",
        )
    )
    return _layout(fig, "Calibration", "Mean predicted probability", "Fraction of positives")


def residual_figure(report: EvalReport) -> go.Figure:
    """Residuals (actual - predicted) against predicted values, with the zero line."""
    res = _require(report.residuals, "residuals", "evaluate a regression task")
    fig = go.Figure(
        go.Scattergl(
            x=res["predicted"],
            y=res["residual"],
            mode="markers",
            name="Rows",
            marker={"size": 5, "opacity": 0.5},
            customdata=res["actual"],
            hovertemplate="Predicted %{x:.3g}, actual %{customdata:.3g}<extra></extra>",
        )
    )
    fig.add_hline(y=0, line=_CHANCE)
    return _layout(fig, "Residuals", "Predicted value", "Residual (actual − predicted)")


def fairness_group_figure(report: FairnessReport, metric: str = "selection_rate") -> go.Figure:
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
            name=_label(metric),
            customdata=counts,
            marker={"pattern": {"shape": ["/" if g in small else "" for g in groups]}},
            text=[
                f"n={n} (small)" if g in small else "" for g, n in zip(groups, counts, strict=True)
            ],
            textposition="outside",
            hovertemplate="%{x}: %{y:.3f} (%{customdata:,} rows)<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=groups,
            y=[report.overall[metric]] * len(groups),
            mode="lines",
            name="Overall",
            line={"dash": "dash", "color": "black"},
        )
    )
    note = f" — hatched: under {report.min_group_rows} rows, not in the gaps" if small else ""
    fig.update_xaxes(type="category")
    if metric not in _UNBOUNDED:
        # The "n=1 (small)" labels sit above the bars; room for them, never past 1.
        fig.update_yaxes(range=[0, 1.0])
    return _layout(
        fig, f"{_label(metric)} by {report.attribute}{note}", report.attribute, _label(metric)
    )


def fairness_rates_figure(report: FairnessReport) -> go.Figure:
    """Grouped bars of true/false positive and false negative rates per group."""
    rates = ("tpr", "fpr", "fnr")
    if not all(r in report.overall for r in rates):
        raise ValueError("Error rates by group exist only for binary tasks")
    fig = go.Figure(
        [
            go.Bar(
                x=report.groups, y=[report.by_group[g][r] for g in report.groups], name=_label(r)
            )
            for r in rates
        ]
    )
    fig.update_xaxes(type="category")
    fig.update_yaxes(range=[0, 1.0])
    return _layout(
        fig, f"Error rates by {report.attribute}", report.attribute, "Rate", barmode="group"
    )


def compare_figure(a: EvalReport, b: EvalReport, labels: Sequence[str] = ("A", "B")) -> go.Figure:
    """Side-by-side bars of the metrics two reports share."""
    if len(labels) != 2:
        raise ValueError(f"labels must name the two reports, got {labels!r}")
    rows = compare_reports(a, b)
    if not rows:
        raise ValueError("The two reports share no metric; compare reports of the same task.")
    names = [_label(r["metric"]) for r in rows]
    fig = go.Figure(
        [
            go.Bar(x=names, y=[r[key] for r in rows], name=str(label))
            for key, label in zip(("a", "b"), labels, strict=True)
        ]
    )
    return _layout(fig, f"{labels[0]} vs {labels[1]}", "Metric", "Value", barmode="group")
