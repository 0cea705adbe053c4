"""How fair a model is: metrics by group of a sensitive attribute, computed by fairlearn.

The functions keep fairlearn's shape, ``(y_true, y_pred, *, sensitive_features, ...)``;
the numbers are fairlearn's metrics by group (``MetricFrame``) and its disparity metrics.
Labels may be strings such as ``">50K"``: they are turned into 0/1 against the positive
label first, so ``selection_rate`` is the share predicted positive. Binary rates are
counted here from each group's confusion counts, with fairlearn's definitions (a rate
whose denominator is empty is 0; the tests compare every figure with ``MetricFrame``'s):
``MetricFrame`` copies the rows for every metric of every group, about a second for
Adult's three attributes where counting takes milliseconds.

:func:`audit_predictions` checks a table of predictions made elsewhere.

Headline figures (the disparity metrics and the worst group) are computed over the
groups with at least ``min_group_rows`` rows (30 by default, ``LEPTON_MIN_GROUP_ROWS``):
a group of one row is 0% or 100% of everything, so it would otherwise decide the gap.
Smaller groups keep their row in ``by_group`` and are listed in ``small_groups``; when
fewer than two groups are large enough, the report has no gaps and says why in ``note``.

Positive label inference (when none is given): the first label, in sorted order, that
reads as "yes" (``True``, ``"true"``, ``"yes"``, ``"y"``, ``"positive"``, ``"pos"``,
case-insensitive); otherwise the second label in sorted order, numbers sorting as
numbers (``">50K"`` after ``"<=50K"``, ``1`` after ``0``, ``2`` after ``1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import TASKS, DataError, JsonMixin, Message, Task, whole_number_setting
from lepton_core.evaluation._metrics import EvalReport, _as_arrays, _sorted_labels, evaluate

__all__ = [
    "ENV_MIN_GROUP_ROWS",
    "AuditReport",
    "FairnessReport",
    "audit_predictions",
    "band_numeric",
    "fairness_report",
    "fairness_reports",
    "min_group_rows",
]

#: The default least rows a group needs to count in headline figures (fewer: unreliable).
SMALL_GROUP = 30
ENV_MIN_GROUP_ROWS = "LEPTON_MIN_GROUP_ROWS"
#: A numeric attribute with more distinct values than this is binned into bands.
MAX_UNBINNED_GROUPS = 10
MISSING = "missing"
_YES = {"true", "yes", "y", "positive", "pos"}
#: A numeric prediction column in [0, 1] with more distinct values than this is a score.
_SCORE_MIN_DISTINCT = 2
#: A numeric label column with more distinct whole numbers than this holds measurements.
_MAX_AUDIT_CLASSES = 20


@dataclass
class FairnessReport(JsonMixin):
    """Metrics of one sensitive attribute, overall and for each of its groups.

    Attributes
    ----------
    attribute : str
        The sensitive column's name.
    task : Task
        The kind of prediction.
    positive_class : str or None
        Binary tasks: the label counted as the positive (selected) outcome.
    binned : bool
        Whether a numeric attribute (such as age) was binned into bands first.
    groups : list of str
        Group labels in display order: bands in numeric order, other values sorted,
        ``"missing"`` last.
    overall, by_group : dict
        The same metrics for all rows and for each group. Binary: ``count``,
        ``selection_rate``, ``accuracy``, ``tpr``, ``fpr``, ``fnr``; multiclass:
        ``count``, ``accuracy``; regression: ``count``, ``mae``, ``mean_prediction``.
        Figures fairlearn cannot define (a zero-over-zero ratio) are ``None``.
    demographic_parity_difference, demographic_parity_ratio, equalized_odds_difference
        fairlearn's disparity metrics between the groups with at least ``min_group_rows``
        rows (binary tasks only); None when fewer than two groups have that many.
    worst_group : dict
        ``{"metric", "group", "value", "gap"}``: among the groups with at least
        ``min_group_rows`` rows, the one with the lowest accuracy (regression: the
        highest MAE); ``gap`` is how much worse than overall it is (never negative).
        All None when fewer than two groups are large enough.
    small_groups : list of str
        Groups with fewer than ``min_group_rows`` rows: shown, never in the headline.
    min_group_rows : int
        The least rows a group needs to count in the headline figures.
    note : Message or None
        In words, why there are no gaps (fewer than two groups large enough), or which
        small groups were left out of them; None when every group counted.
    """

    attribute: str
    task: Task
    positive_class: str | None
    binned: bool
    groups: list[str]
    overall: dict[str, float]
    by_group: dict[str, dict[str, float]]
    demographic_parity_difference: float | None
    demographic_parity_ratio: float | None
    equalized_odds_difference: float | None
    worst_group: dict[str, Any]
    small_groups: list[str] = field(default_factory=list)
    min_group_rows: int = SMALL_GROUP
    note: Message | str | None = None

    @property
    def measured_groups(self) -> list[str]:
        """Groups large enough to count in the headline figures, in display order."""
        return [g for g in self.groups if g not in self.small_groups]

    @property
    def comparable(self) -> bool:
        """Whether at least two groups are large enough to compare."""
        return len(self.measured_groups) >= 2

    def summary(self) -> dict[str, Any]:
        """One flat row for headline tables and model cards."""
        return {
            "attribute": self.attribute,
            "demographic_parity_difference": self.demographic_parity_difference,
            "demographic_parity_ratio": self.demographic_parity_ratio,
            "equalized_odds_difference": self.equalized_odds_difference,
            "worst_group": self.worst_group.get("group"),
            "worst_group_metric": self.worst_group.get("metric"),
            "worst_group_value": self.worst_group.get("value"),
            "worst_group_gap": self.worst_group.get("gap"),
        }


@dataclass
class AuditReport(JsonMixin):
    """Accuracy and fairness of a table of predictions made elsewhere.

    Attributes
    ----------
    label, prediction : str
        The columns holding the truth and the predictions (labels or scores).
    n_rows : int
        Rows audited (those with both a label and a prediction).
    threshold : float or None
        The cut-off applied to a score column; ``None`` when it held labels.
    evaluation : EvalReport
    fairness : list of FairnessReport
        One per sensitive attribute, in the order given.
    """

    label: str
    prediction: str
    n_rows: int
    threshold: float | None
    evaluation: EvalReport
    fairness: list[FairnessReport]


def min_group_rows(value: int | None = None) -> int:
    """The least rows a group needs to count in fairness headlines.

    ``value`` when given, else ``$LEPTON_MIN_GROUP_ROWS``, else 30.

    Raises
    ------
    DataError
        The setting is not a whole number of at least 1.
    """
    return whole_number_setting(
        ENV_MIN_GROUP_ROWS,
        SMALL_GROUP,
        value,
        what="The smallest group size",
        hint="e.g. 30",
        error=DataError,
    )


# --------------------------------------------------------------------------- banding


def band_numeric(values: pd.Series, *, max_bands: int = 5) -> pd.Series:
    """Bin a numeric column into at most ``max_bands`` readable bands of similar size.

    Band edges are quantiles, rounded (to integers when every value is a whole number,
    as for age; else to three significant figures) and deduplicated. A band covers its
    lower edge up to the next band's lower edge, labelled ``"17–25"``, ``"26–32"``, …
    for whole numbers. Missing values become ``"missing"``.

    Returns
    -------
    pandas.Series
        An ordered categorical with bands in numeric order (``"missing"`` last),
        aligned with ``values``.
    """
    if max_bands < 1:
        raise ValueError(f"max_bands must be at least 1, got {max_bands}")
    numbers = pd.to_numeric(values, errors="raise").astype(float)
    present = numbers.dropna().to_numpy()
    missing = numbers.isna().to_numpy()
    if len(present) == 0:
        labels: list[str] = []
        codes = np.zeros(len(numbers), dtype=int)
    else:
        integral = bool(np.all(present == np.round(present)))
        low, high = present.min(), present.max()
        inner = np.quantile(present, np.linspace(0, 1, max_bands + 1)[1:-1])
        inner = np.round(inner) if integral else np.array([_round_sig(q) for q in inner])
        cuts = np.unique(inner[(inner > low) & (inner <= high)])
        lowers = np.concatenate([[low], cuts])
        uppers = np.concatenate([cuts - 1, [high]]) if integral else np.concatenate([cuts, [high]])
        labels = [_band_label(a, b, integral) for a, b in zip(lowers, uppers, strict=True)]
        codes = np.searchsorted(cuts, np.nan_to_num(numbers.to_numpy(), nan=low), side="right")
    categories = labels + ([MISSING] if missing.any() else [])
    out = np.array(labels, dtype=object)[codes] if labels else np.full(len(codes), MISSING)
    out = np.where(missing, MISSING, out)
    return pd.Series(
        pd.Categorical(out, categories=categories, ordered=True),
        index=values.index,
        name=values.name,
    )


def _round_sig(x: float, digits: int = 3) -> float:
    return float(f"{x:.{digits}g}")


def _band_label(low: float, high: float, integral: bool) -> str:
    fmt = (lambda v: str(int(v))) if integral else (lambda v: f"{v:g}")
    return fmt(low) if low == high else f"{fmt(low)}–{fmt(high)}"


# --------------------------------------------------------------------------- fairness


def fairness_report(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: pd.Series,
    task: Task,
    positive_label: Any = None,
    name: str | None = None,
    min_group_rows: int | None = None,
) -> FairnessReport:
    """Compare accuracy-type metrics across the groups of one sensitive attribute.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        True and predicted labels (or values for regression).
    sensitive_features : pandas.Series
        The attribute, aligned by position with ``y_true``. A numeric attribute with
        more than 10 distinct values is binned with :func:`band_numeric`; missing
        values form a ``"missing"`` group.
    task : Task
        The kind of prediction.
    positive_label : optional
        Binary tasks: the label that counts as selected; inferred when omitted (see
        the module docstring).
    name : str, optional
        The attribute's name; defaults to the series name.
    min_group_rows : int, optional
        The least rows a group needs to count in the disparities and the worst group;
        by default ``$LEPTON_MIN_GROUP_ROWS`` or 30.

    Returns
    -------
    FairnessReport
    """
    from fairlearn.metrics import MetricFrame, count

    least = _min_rows(min_group_rows)
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    y_true, y_pred = _as_arrays(y_true, y_pred)
    sensitive_features = pd.Series(sensitive_features)
    if len(sensitive_features) != len(y_true):
        raise ValueError(
            f"sensitive_features has {len(sensitive_features)} rows but y_true has {len(y_true)}"
        )
    attribute = str(name if name is not None else (sensitive_features.name or "group"))
    groups_series, binned = _groups(sensitive_features)
    groups = [str(g) for g in groups_series.cat.categories]
    if len(groups) < 2:
        raise DataError(Message("fairness.single_group", column=attribute))

    positive = None
    metrics, disparity = _metrics_for(task)
    if task == "binary":
        positive = _resolve_positive(positive_label, np.concatenate([y_true, y_pred]))
        y_true = (y_true == positive).astype(int)
        y_pred = (y_pred == positive).astype(int)
        codes = groups_series.cat.codes.to_numpy()
        by_group, overall = _binary_rates(y_true, y_pred, codes, groups)
    else:
        sf = groups_series.astype(str).to_numpy()
        frame = MetricFrame(
            metrics={"count": count, **metrics}, y_true=y_true, y_pred=y_pred, sensitive_features=sf
        )
        by_group = {g: _clean_row(frame.by_group.loc[g].to_dict()) for g in groups}
        overall = _clean_row(frame.overall.to_dict())

    small = [g for g in groups if by_group[g]["count"] < least]
    large = [g for g in groups if g not in small]
    dpd = dpr = eod = None
    if disparity and len(large) >= 2:
        # fairlearn's demographic_parity_difference/_ratio and equalized_odds_difference
        # (between groups) over the large groups only: a group of one row is 0% or 100% of
        # everything and would decide every gap.
        def spread(metric: str) -> tuple[float, float]:
            values = [by_group[g][metric] for g in large]
            return min(values), max(values)

        low, high = spread("selection_rate")
        dpd = _finite(high - low)
        dpr = _finite(low / high) if high > 0 else None
        eod = _finite(max(np.ptp(spread("tpr")), np.ptp(spread("fpr"))))
    return FairnessReport(
        attribute=attribute,
        task=task,
        positive_class=None if positive is None else str(positive),
        binned=binned,
        groups=groups,
        overall=overall,
        by_group=by_group,
        demographic_parity_difference=dpd,
        demographic_parity_ratio=dpr,
        equalized_odds_difference=eod,
        worst_group=_worst_group(task, large, overall, by_group),
        small_groups=small,
        min_group_rows=least,
        note=_note(attribute, large, small, by_group, least),
    )


def _min_rows(value: int | None) -> int:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"min_group_rows must be a whole number of at least 1, got {value!r}")
    return min_group_rows(value)


def _rows(count: int) -> Message:
    return (
        Message("fairness.row", rows=count) if count == 1 else Message("fairness.rows", rows=count)
    )


def _note(
    attribute: str,
    large: list[str],
    small: list[str],
    by_group: dict[str, dict[str, Any]],
    least: int,
) -> Message | None:
    """Why the headline has no gaps, or which groups it leaves out, in words."""
    if not small:
        return None
    listed: Message | str = ""
    for g in small:
        group = Message("fairness.group", group=g, rows=_rows(by_group[g]["count"]))
        listed = Message("fairness.list", first=listed, then=group) if listed else group
    if len(large) >= 2:
        return Message("fairness.small_left_out", least=least, groups=listed)
    if large:
        head = Message(
            "fairness.only_one_large",
            attribute=attribute,
            group=large[0],
            rows=_rows(by_group[large[0]]["count"]),
            least=least,
        )
    else:
        head = Message("fairness.none_large", attribute=attribute, least=least)
    return Message("fairness.not_comparable", head=head, groups=listed)


def fairness_reports(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: pd.DataFrame,
    task: Task,
    positive_label: Any = None,
    min_group_rows: int | None = None,
) -> list[FairnessReport]:
    """One :func:`fairness_report` per column of ``sensitive_features``, in column order."""
    return [
        fairness_report(
            y_true,
            y_pred,
            sensitive_features=sensitive_features[column],
            task=task,
            positive_label=positive_label,
            name=str(column),
            min_group_rows=min_group_rows,
        )
        for column in sensitive_features.columns
    ]


def _binary_rates(
    y_true: np.ndarray, y_pred: np.ndarray, codes: np.ndarray, groups: list[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Rows of ``count``, ``selection_rate``, ``accuracy``, ``tpr``, ``fpr`` and ``fnr`` per
    group (``codes`` index ``groups``) and overall, for 0/1 labels, as fairlearn defines them."""
    k = len(groups)
    # Confusion counts per group, from one bincount over (group, true, predicted).
    cells = np.bincount(codes * 4 + y_true * 2 + y_pred, minlength=4 * k).reshape(k, 4)
    rows = [_binary_row(*cell) for cell in cells.tolist()]
    return dict(zip(groups, rows, strict=True)), _binary_row(*cells.sum(axis=0).tolist())


def _binary_row(tn: int, fp: int, fn: int, tp: int) -> dict[str, Any]:
    def rate(part: int, whole: int) -> float:
        return part / whole if whole else 0.0  # sklearn's confusion_matrix(normalize="true")

    n = tn + fp + fn + tp
    return {
        "count": n,
        "selection_rate": rate(tp + fp, n),
        "accuracy": rate(tp + tn, n),
        "tpr": rate(tp, tp + fn),
        "fpr": rate(fp, fp + tn),
        "fnr": rate(fn, tp + fn),
    }


def _metrics_for(task: Task) -> tuple[dict[str, Any], bool]:
    """fairlearn/sklearn metric functions by report name, and whether disparities apply."""
    from fairlearn.metrics import (
        false_negative_rate,
        false_positive_rate,
        mean_prediction,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, mean_absolute_error

    if task == "binary":
        return {
            "selection_rate": selection_rate,
            "accuracy": accuracy_score,
            "tpr": true_positive_rate,
            "fpr": false_positive_rate,
            "fnr": false_negative_rate,
        }, True
    if task == "multiclass":
        return {"accuracy": accuracy_score}, False
    return {"mae": mean_absolute_error, "mean_prediction": mean_prediction}, False


def _groups(values: pd.Series) -> tuple[pd.Series, bool]:
    """The attribute as an ordered categorical of group labels, and whether it was binned."""
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and values.nunique(dropna=True) > MAX_UNBINNED_GROUPS:
        return band_numeric(values).cat.remove_unused_categories(), True
    present = values.dropna()
    if isinstance(values.dtype, pd.CategoricalDtype):
        order = [c for c in values.cat.categories if (present == c).any()]
    else:
        order = _sorted_labels(present.to_numpy())
    labels = [str(v) for v in order]
    out = values.map(lambda v: MISSING if pd.isna(v) else str(v)).astype(object)
    if values.isna().any():
        labels.append(MISSING)
    return pd.Series(pd.Categorical(out, categories=list(dict.fromkeys(labels)))), False


def infer_positive_label(values: Any) -> Any:
    """The label that counts as the positive outcome, by the rule in the module docstring."""
    labels = _sorted_labels(pd.Series(np.asarray(values).ravel()).dropna().to_numpy())
    if not labels:
        raise DataError(Message("fairness.no_labels"))
    for value in labels:
        if str(value).strip().lower() in _YES:
            return value
    return labels[1] if len(labels) > 1 else labels[0]


def _resolve_positive(positive_label: Any, values: np.ndarray) -> Any:
    if positive_label is None:
        return infer_positive_label(values)
    present = pd.Series(values).dropna().unique().tolist()
    if positive_label in present:
        return positive_label
    # Accept "1" for 1 (and the reverse), as a label typed into a form would be.
    by_text = {str(v): v for v in present}
    if str(positive_label) in by_text:
        return by_text[str(positive_label)]
    shown = ", ".join(repr(v) for v in present[:5])
    raise DataError(Message("fairness.unknown_positive", label=repr(positive_label), labels=shown))


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _clean_row(row: dict[str, Any]) -> dict[str, float | None]:
    return {k: (int(v) if k == "count" else _finite(v)) for k, v in row.items()}


def _worst_group(
    task: Task,
    large: list[str],
    overall: dict[str, Any],
    by_group: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    metric = "mae" if task == "regression" else "accuracy"
    # A 5-row group is "worst" by chance too often: only groups large enough to trust
    # compete, and with fewer than two of them there is no worst group to name.
    candidates = [g for g in large if by_group[g][metric] is not None]
    if len(large) < 2 or not candidates or overall[metric] is None:
        return {"metric": metric, "group": None, "value": None, "gap": None}
    pick = max if metric == "mae" else min
    group = pick(candidates, key=lambda g: by_group[g][metric])
    value = by_group[group][metric]
    gap = value - overall[metric] if metric == "mae" else overall[metric] - value
    return {"metric": metric, "group": group, "value": value, "gap": max(gap, 0.0)}


# --------------------------------------------------------------------------- audit


def audit_predictions(
    df: pd.DataFrame,
    *,
    label: str,
    prediction: str,
    sensitive: list[str],
    positive: Any = None,
    threshold: float | None = None,
) -> AuditReport:
    """Check the accuracy and fairness of a table of predictions made elsewhere.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per case, with the true outcome, the prediction and sensitive columns.
    label : str
        The column holding the true outcomes. Two values make a binary task, more a
        multiclass one; fractional numbers, or more than 20 distinct whole numbers, are
        measurements and make a regression task.
    prediction : str
        The column holding predicted labels (the label column's values; ``1`` matches
        ``"1"``), or for a binary task a score: numbers in [0, 1] with more than two
        distinct values (or any numbers in [0, 1] when ``threshold`` is given). A score
        also gives the evaluation its ROC and calibration curves.
    sensitive : list of str
        Columns to compare groups across.
    positive : optional
        The positive label; inferred when omitted (see the module docstring).
    threshold : float, optional
        Scores at or above it are predicted positive; 0.5 when the prediction column is
        a score and no threshold is given.

    Returns
    -------
    AuditReport
        Rows missing a label or a prediction are left out; ``n_rows`` counts the rest.
    """
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must lie between 0 and 1, got {threshold}")
    sensitive = list(sensitive or [])
    _check_columns(df, [label, prediction, *sensitive])
    if not sensitive:
        raise DataError(Message("fairness.no_sensitive"))
    if df[label].isna().all():
        raise DataError(Message("audit.empty_labels", label=label))
    rows = df[df[label].notna() & df[prediction].notna()]
    if rows.empty:
        raise DataError(Message("audit.no_pairs", prediction=prediction))
    y_true = rows[label].to_numpy()
    pred = rows[prediction]
    task = _audit_task(rows[label])
    threshold_used = None
    y_proba = classes = pos = None
    if task == "regression":
        if threshold is not None or not pd.api.types.is_numeric_dtype(pred):
            raise DataError(Message("audit.measurements", label=label, prediction=prediction))
        y_pred = pred.to_numpy(dtype=float)
    else:
        classes = _sorted_labels(pd.unique(y_true))
        if len(classes) < 2:
            raise DataError(Message("audit.single_value", label=label, value=repr(classes[0])))
        if task == "binary":
            pos = _resolve_positive(positive, y_true)
            classes = [next(v for v in classes if v != pos), pos]
        if _is_score(pred, threshold):
            if task != "binary":
                raise DataError(
                    Message(
                        "audit.scores_multiclass",
                        prediction=prediction,
                        label=label,
                        outcomes=len(classes),
                    )
                )
            threshold_used = 0.5 if threshold is None else float(threshold)
            score = pred.to_numpy(dtype=float)
            y_pred = np.where(score >= threshold_used, classes[1], classes[0])
            y_proba = np.column_stack([1.0 - score, score])
        elif threshold is not None:
            raise DataError(Message("audit.labels_threshold", prediction=prediction))
        else:
            y_pred = _match_labels(pred, classes, prediction)

    evaluation = evaluate(y_true, y_pred, task=task, y_proba=y_proba, classes=classes)
    fairness = fairness_reports(
        y_true,
        y_pred,
        sensitive_features=rows[sensitive].reset_index(drop=True),
        task=task,
        positive_label=pos,
    )
    return AuditReport(
        label=label,
        prediction=prediction,
        n_rows=len(rows),
        threshold=threshold_used,
        evaluation=evaluation,
        fairness=fairness,
    )


def _check_columns(df: pd.DataFrame, columns: list[str]) -> None:
    unknown = [c for c in dict.fromkeys(columns) if c not in df.columns]
    if unknown:
        names = ", ".join(f"'{c}'" for c in unknown)
        have = ", ".join(str(c) for c in df.columns[:12]) + (", …" if df.shape[1] > 12 else "")
        raise DataError(Message("audit.no_column", columns=names, have=have))


def _audit_task(labels: pd.Series) -> Task:
    """Regression for measurements (fractional or many distinct numbers), else by class count."""
    present = labels.dropna()
    if pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present):
        numbers = present.to_numpy(dtype=float)
        if np.any(numbers != np.round(numbers)) or present.nunique() > _MAX_AUDIT_CLASSES:
            return "regression"
    return "binary" if present.nunique() <= 2 else "multiclass"


def _is_score(pred: pd.Series, threshold: float | None) -> bool:
    if pd.api.types.is_bool_dtype(pred) or not pd.api.types.is_numeric_dtype(pred):
        return False
    if pred.min() < 0 or pred.max() > 1:
        return False
    return threshold is not None or pred.nunique() > _SCORE_MIN_DISTINCT


def _match_labels(pred: pd.Series, values: list[Any], column: str) -> np.ndarray:
    """Predicted labels as the label column's values, matching ``1`` with ``"1"`` too."""
    if pred.isin(values).all():
        return pred.to_numpy()
    by_text = {str(v): v for v in values}
    text = pred.astype(str)
    if text.isin(list(by_text)).all():
        return text.map(by_text).to_numpy()
    example = pred[~text.isin(list(by_text))].iloc[0]
    raise DataError(Message("audit.unknown_prediction", column=column, example=str(example)))
