"""How accurate a model is: metrics, confusion matrix and curves as one JSON-friendly report.

:func:`evaluate` turns true labels, predictions and (optionally) class probabilities
into an :class:`EvalReport`; the plots in ``lepton_core.plots`` are drawn from it.
All figures come from scikit-learn's metric functions.

Class labels may be strings or integers. They are compared as strings, so the
report's ``classes`` are strings, in the order of ``y_proba``'s columns (pass a
model's ``classes_`` as ``classes``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from lepton_core.core import TASKS, DataError, JsonMixin, Task, is_classification
from lepton_core.evaluation._baseline import Baseline, Verdict, baseline_and_verdict
from lepton_core.evaluation._checks import EvalWarning
from lepton_core.evaluation._intervals import (
    CONFIDENCE,
    DEFAULT_RESAMPLES,
    _label_strings,
    bootstrap_intervals,
)

__all__ = ["EvalReport", "compare_reports", "evaluate", "headline"]

#: Most points kept on a ROC or precision-recall curve.
MAX_CURVE_POINTS = 200
#: Most rows kept in the residual sample of a regression report.
MAX_RESIDUAL_POINTS = 2000
#: Equal-width probability bins of the calibration curve.
CALIBRATION_BINS = 10
_SEED = 0


@dataclass
class EvalReport(JsonMixin):
    """Metrics and curves of one set of predictions.

    Attributes
    ----------
    task : Task
        ``"binary"``, ``"multiclass"`` or ``"regression"``.
    n_rows : int
        Rows evaluated.
    metrics : dict of str to float
        Classification: ``accuracy``, ``balanced_accuracy``, ``precision``, ``recall``,
        ``f1`` (binary: of the positive class; multiclass: macro average), and with
        probabilities ``roc_auc`` (multiclass: one-vs-rest macro; left out when some
        class is absent from ``y_true``) and ``log_loss``. Regression: ``rmse``,
        ``mae``, ``r2``.
    classes : list of str or None
        Class labels in the order of ``y_proba``'s columns.
    positive_class : str or None
        Binary tasks: ``classes[1]``.
    confusion : list of list of int or None
        Rows are true classes, columns predicted classes, both in ``classes`` order.
    per_class : dict or None
        Class -> ``precision``, ``recall``, ``f1``, ``support``.
    roc, pr : dict or None
        Class -> ``{"fpr", "tpr"}`` (ROC) or ``{"precision", "recall"}`` (PR), at most
        200 points each; binary reports hold the positive class only, multiclass
        reports one curve per class present in ``y_true`` (one-vs-rest).
    calibration : dict or None
        Binary with probabilities: ``prob_pred``, ``prob_true`` and ``count`` of the
        non-empty bins among 10 equal-width bins.
    residuals : dict or None
        Regression: ``predicted``, ``actual`` and ``residual`` (actual - predicted) of
        a seeded sample of at most 2,000 rows.
    intervals : dict or None
        Metric -> ``[low, high]``: the 95% bootstrap confidence interval (the true figure
        is likely between the two) from ``n_resamples`` resamples of the rows; None when
        no resamples were drawn. Metrics undefined on many resamples have none.
    n_resamples : int
        Resamples behind ``intervals`` and the verdict (0: none drawn).
    confidence : float
        The intervals' coverage, 0.95.
    baseline : Baseline or None
        What always giving the most common answer (classification) or the average
        (regression) scores on the same rows.
    verdict : Verdict or None
        Whether the model is clearly better than the baseline and whether the rows are
        enough to judge, in words; None when no resamples were drawn.
    warnings : list of EvalWarning
        Doubts about the columns the model learnt from (many columns, a leak, an
        identifier), from :func:`~lepton_core.evaluation.check_features`.
    features_checked : bool
        Whether ``warnings`` were looked for (an empty list then means none was found).
    """

    task: Task
    n_rows: int
    metrics: dict[str, float]
    classes: list[str] | None = None
    positive_class: str | None = None
    confusion: list[list[int]] | None = None
    per_class: dict[str, dict[str, float]] | None = None
    roc: dict[str, dict[str, list[float]]] | None = None
    pr: dict[str, dict[str, list[float]]] | None = None
    calibration: dict[str, list[float]] | None = None
    residuals: dict[str, list[float]] | None = None
    intervals: dict[str, list[float]] | None = None
    n_resamples: int = 0
    confidence: float = CONFIDENCE
    baseline: Baseline | None = None
    verdict: Verdict | None = None
    warnings: list[EvalWarning] = field(default_factory=list)
    features_checked: bool = False

    def interval(self, metric: str) -> tuple[float, float] | None:
        """The confidence interval ``(low, high)`` of one metric, or None."""
        pair = (self.intervals or {}).get(metric)
        return (pair[0], pair[1]) if pair else None


def evaluate(
    y_true: Any,
    y_pred: Any,
    *,
    task: Task,
    y_proba: Any = None,
    classes: Any = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = _SEED,
) -> EvalReport:
    """Measure predictions against the truth.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        True and predicted labels (classification) or values (regression).
    task : Task
        The kind of prediction.
    y_proba : array-like of shape (n, n_classes) or (n,), optional
        Class probabilities with columns in ``classes`` order; for binary tasks a 1-D
        array is read as the probability of ``classes[1]``.
    classes : sequence, optional
        Class labels in the order of ``y_proba``'s columns (a model's ``classes_``);
        by default the sorted labels seen in ``y_true`` and ``y_pred``.
    n_resamples : int
        Bootstrap resamples for the confidence intervals and the verdict (200); 0 skips
        both (an Auto trial needs neither). The baseline is always measured.
    seed : int
        Seed of the resamples.

    Returns
    -------
    EvalReport
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    y_true, y_pred = _as_arrays(y_true, y_pred)
    if is_classification(task):
        report = _evaluate_classification(y_true, y_pred, task, y_proba, classes)
        true_v, pred_v = _label_strings(y_true), _label_strings(y_pred)
        proba = _check_proba(y_proba, len(true_v), report.classes or [], task)
    else:
        try:
            y_true, y_pred = y_true.astype(float), y_pred.astype(float)
        except (TypeError, ValueError):
            raise DataError(
                "The values are not all numbers, so they cannot be evaluated as a regression; "
                "pick a numeric target or a classification task."
            ) from None
        report = _evaluate_regression(y_true, y_pred)
        true_v, pred_v, proba = y_true, y_pred, None
    if n_resamples > 0:
        intervals = bootstrap_intervals(
            true_v,
            pred_v,
            task=task,
            classes=report.classes,
            y_proba=proba,
            metrics=report.metrics,
            n_resamples=n_resamples,
            seed=seed,
        )
        report.intervals, report.n_resamples = intervals, n_resamples
    report.baseline, report.verdict = baseline_and_verdict(
        true_v,
        pred_v,
        task=task,
        classes=report.classes,
        has_proba=proba is not None,
        metrics=report.metrics,
        intervals=report.intervals,
        n_resamples=n_resamples,
        seed=seed,
    )
    return report


def headline(report: EvalReport) -> dict[str, float]:
    """The two or three numbers that sum a report up in one row.

    Classification: ``accuracy``, ``roc_auc`` (when present) and ``f1``;
    regression: ``rmse``, ``mae`` and ``r2``.
    """
    names = (
        ("accuracy", "roc_auc", "f1") if is_classification(report.task) else ("rmse", "mae", "r2")
    )
    return {name: report.metrics[name] for name in names if name in report.metrics}


def compare_reports(a: EvalReport, b: EvalReport) -> list[dict]:
    """Rows ``{"metric", "a", "b", "difference"}`` (``b - a``) for metrics both reports hold.

    Rows follow the order of ``a.metrics``.
    """
    return [
        {
            "metric": name,
            "a": value,
            "b": b.metrics[name],
            "difference": b.metrics[name] - value,
        }
        for name, value in a.metrics.items()
        if name in b.metrics
    ]


# --------------------------------------------------------------------------- helpers


def _as_arrays(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """Both as flat arrays of one length with no missing values, or a clear error."""
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} rows but y_pred has {len(y_pred)}")
    if len(y_true) == 0:
        raise DataError("There are no rows to evaluate; score at least one labelled row first.")
    n_true, n_pred = int(pd.isna(y_true).sum()), int(pd.isna(y_pred).sum())
    if n_true:
        raise DataError(
            f"The true labels hold {n_true} missing values; drop the rows without a label first."
        )
    if n_pred:
        raise DataError(
            f"The predictions hold {n_pred} missing values; score every row before evaluating."
        )
    return y_true, y_pred


def _sorted_labels(values: np.ndarray) -> list[Any]:
    unique = list(dict.fromkeys(values.tolist()))
    try:
        return sorted(unique)
    except TypeError:  # mixed types, e.g. ints and strings
        return sorted(unique, key=str)


def _thin(*curves: np.ndarray) -> list[list[float]]:
    """Keep at most ``MAX_CURVE_POINTS`` evenly spaced points, always the two ends."""
    n = len(curves[0])
    if n <= MAX_CURVE_POINTS:
        keep = np.arange(n)
    else:
        keep = np.unique(np.linspace(0, n - 1, MAX_CURVE_POINTS).round().astype(int))
    return [np.asarray(c, dtype=float)[keep].tolist() for c in curves]


def _evaluate_classification(y_true, y_pred, task, y_proba, classes) -> EvalReport:
    true_s = _label_strings(y_true)
    pred_s = _label_strings(y_pred)
    if classes is None:
        # Sort the raw values so integer labels order as numbers (2 before 10).
        labels = _sorted_labels(np.concatenate([y_true, y_pred]))
        classes = list(dict.fromkeys(_label_strings(labels).tolist()))
    else:
        classes = list(dict.fromkeys(_label_strings(classes).tolist()))
    if task == "binary" and len(classes) != 2:
        raise DataError(
            f"A binary evaluation needs two classes but found {len(classes)} "
            f"({', '.join(classes[:5])}); evaluate rows with both outcomes or pick the right task."
        )
    for name, values in (("y_true", true_s), ("y_pred", pred_s)):
        unknown = sorted(set(values) - set(classes))
        if unknown:
            raise ValueError(f"{name} holds labels not among classes, e.g. {unknown[0]!r}")
    proba = _check_proba(y_proba, len(true_s), classes, task)

    average = "binary" if task == "binary" else "macro"
    positive = classes[1] if task == "binary" else None
    prf = {"pos_label": positive} if task == "binary" else {"labels": classes}
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        true_s, pred_s, average=average, zero_division=0, **prf
    )
    with warnings.catch_warnings():
        # Predicting a class absent from y_true is legitimate on a small slice.
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        balanced = skm.balanced_accuracy_score(true_s, pred_s)
    metrics = {
        "accuracy": float(skm.accuracy_score(true_s, pred_s)),
        "balanced_accuracy": float(balanced),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }
    report = EvalReport(
        task=task,
        n_rows=len(true_s),
        metrics=metrics,
        classes=classes,
        positive_class=positive,
        confusion=skm.confusion_matrix(true_s, pred_s, labels=classes).tolist(),
        per_class=_per_class(true_s, pred_s, classes),
    )
    if proba is not None:
        _add_probability_figures(report, true_s, proba)
    return report


def _check_proba(y_proba, n_rows: int, classes: list[str], task: Task) -> np.ndarray | None:
    if y_proba is None:
        return None
    proba = np.asarray(y_proba, dtype=float)
    if proba.ndim == 1 and task == "binary":
        proba = np.column_stack([1.0 - proba, proba])
    if proba.ndim != 2 or proba.shape != (n_rows, len(classes)):
        raise ValueError(
            f"y_proba must have shape ({n_rows}, {len(classes)}) to match the rows and classes, "
            f"got {proba.shape}"
        )
    if not np.all(np.isfinite(proba)) or proba.min() < 0 or proba.max() > 1:
        raise ValueError("y_proba must hold probabilities in [0, 1]")
    return proba


def _per_class(true_s, pred_s, classes) -> dict[str, dict[str, float]]:
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        true_s, pred_s, labels=classes, average=None, zero_division=0
    )
    return {
        c: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, c in enumerate(classes)
    }


def _add_probability_figures(report: EvalReport, true_s: np.ndarray, proba: np.ndarray) -> None:
    classes = report.classes
    assert classes is not None
    # Integer codes make sklearn read probability columns in the caller's order,
    # not in the sorted order it would give string labels.
    codes = np.array([classes.index(v) for v in true_s])
    all_present = len(np.unique(codes)) == len(classes)
    if all_present:
        if report.task == "binary":
            auc = skm.roc_auc_score(codes, proba[:, 1])
        else:
            auc = skm.roc_auc_score(
                codes,
                proba,
                multi_class="ovr",
                average="macro",
                labels=range(len(classes)),
            )
        report.metrics["roc_auc"] = float(auc)
    report.metrics["log_loss"] = float(skm.log_loss(codes, proba, labels=range(len(classes))))

    curve_classes = [1] if report.task == "binary" else range(len(classes))
    report.roc, report.pr = {}, {}
    for k in curve_classes:
        is_k = codes == k
        if is_k.all() or not is_k.any():  # one-vs-rest curve needs both sides
            continue
        fpr, tpr, _ = skm.roc_curve(is_k, proba[:, k])
        precision, recall, _ = skm.precision_recall_curve(is_k, proba[:, k])
        fpr_l, tpr_l = _thin(fpr, tpr)
        precision_l, recall_l = _thin(precision, recall)
        report.roc[classes[k]] = {"fpr": fpr_l, "tpr": tpr_l}
        report.pr[classes[k]] = {"precision": precision_l, "recall": recall_l}
    report.roc, report.pr = report.roc or None, report.pr or None
    if report.task == "binary":
        report.calibration = _calibration(codes == 1, proba[:, 1])


def _calibration(is_positive: np.ndarray, prob: np.ndarray) -> dict[str, list[float]]:
    from sklearn.calibration import calibration_curve

    prob_true, prob_pred = calibration_curve(is_positive, prob, n_bins=CALIBRATION_BINS)
    # Same bin assignment as calibration_curve's "uniform" strategy, for the counts.
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], prob), minlength=CALIBRATION_BINS)
    return {
        "prob_pred": prob_pred.tolist(),
        "prob_true": prob_true.tolist(),
        "count": counts[counts > 0].astype(float).tolist(),
    }


def _evaluate_regression(y_true: np.ndarray, y_pred: np.ndarray) -> EvalReport:
    if not (np.all(np.isfinite(y_pred)) and np.all(np.isfinite(y_true))):
        raise DataError(
            "The true or predicted values include infinite numbers; drop those rows before "
            "evaluating."
        )
    metrics = {
        "rmse": float(skm.root_mean_squared_error(y_true, y_pred)),
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "r2": float(skm.r2_score(y_true, y_pred)) if len(y_true) > 1 else float("nan"),
    }
    metrics = {k: v for k, v in metrics.items() if np.isfinite(v)}
    n = len(y_true)
    keep = np.arange(n)
    if n > MAX_RESIDUAL_POINTS:
        rng = np.random.default_rng(_SEED)
        keep = np.sort(rng.choice(n, MAX_RESIDUAL_POINTS, replace=False))
    residuals = {
        "predicted": y_pred[keep].tolist(),
        "actual": y_true[keep].tolist(),
        "residual": (y_true[keep] - y_pred[keep]).tolist(),
    }
    return EvalReport(task="regression", n_rows=n, metrics=metrics, residuals=residuals)
