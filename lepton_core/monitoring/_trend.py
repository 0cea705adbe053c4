"""How a deployed model does over time: accuracy and fairness per time window.

The input is a *prediction log* as a table: one row per prediction, with the columns
:data:`TIME` (when), :data:`PREDICTION` (what the model said), :data:`CONFIDENCE` (the
probability it gave that answer, classifiers only, optional), :data:`LABEL` (the true
answer once it arrives, else missing) and the input columns (for the sensitive ones).

Accuracy needs labels; until they arrive, a classifier's *expected* accuracy is the mean
confidence of its answers (the idea behind NannyML's CBPE: right when the probabilities
are calibrated), reported apart and named an estimate. Fairness per window uses the same
:func:`lepton_core.evaluation.fairness_report` as the Evaluate page (fairlearn's
metrics by group), so a window's figures are the ones training-time evaluation would give
on those rows: selection rates and the parity gap from predictions alone, the equalized-odds
gap and the worst group once labels arrive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import DataError, JsonMixin, Message
from lepton_core.evaluation import (
    MAX_UNBINNED_GROUPS,
    band_numeric,
    bootstrap_intervals,
    fairness_report,
    min_group_rows,
)

__all__ = [
    "CONFIDENCE",
    "LABEL",
    "PREDICTION",
    "TIME",
    "FairnessTrend",
    "FairnessWindow",
    "PerformanceTrend",
    "PerformanceWindow",
    "fairness_trend",
    "performance_trend",
]

TIME = "time"
PREDICTION = "prediction"
CONFIDENCE = "confidence"
LABEL = "label"
#: The fewest labelled rows a window needs before its accuracy is reported.
MIN_LABELLED = 30
_RESAMPLES = 200  # bootstrap resamples per window: intervals to two digits, quickly
#: Fairness figures and bootstrap intervals of a window read a seeded sample of at most
#: this many rows: rates to about ±0.01 for a group of a tenth, in bounded time.
MAX_WINDOW_ROWS = 20_000


def _capped(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.sample(MAX_WINDOW_ROWS, random_state=0) if len(rows) > MAX_WINDOW_ROWS else rows


@dataclass
class PerformanceWindow(JsonMixin):
    """One window's figures.

    Attributes
    ----------
    start : str
        The window's first moment (ISO 8601, UTC).
    rows, labelled : int
        Predictions in the window, and how many of them have their true answer yet.
    figures : dict
        ``accuracy`` (classifiers) or ``rmse`` and ``mae`` (regression) on the labelled
        rows; empty with fewer than :data:`MIN_LABELLED` labels.
    intervals : dict
        95 % bootstrap intervals of ``figures``.
    estimated_accuracy : float or None
        Classifiers: the mean confidence of the window's answers, an estimate that needs
        no labels.
    """

    start: str
    rows: int
    labelled: int
    figures: dict[str, float] = field(default_factory=dict)
    intervals: dict[str, list[float]] = field(default_factory=dict)
    estimated_accuracy: float | None = None


@dataclass
class PerformanceTrend(JsonMixin):
    """Accuracy (or error) window by window, beside the training-time figure."""

    task: str
    every: str
    windows: list[PerformanceWindow]
    baseline: dict[str, float] = field(default_factory=dict)


@dataclass
class FairnessWindow(JsonMixin):
    """One window's fairness figures for one sensitive column.

    Attributes
    ----------
    selection_rate, counts : dict
        Per group: the share predicted positive, and the rows.
    demographic_parity_difference : float or None
        The largest gap in selection rate between groups with enough rows.
    equalized_odds_difference : float or None
        Once enough labels arrived: the larger of the gaps in true and false positive
        rate between groups.
    parity_error, odds_error : float or None
        The standard errors of the two gaps (binomial, of the two groups' rates that make
        each gap): how far chance alone moves them. Alerts fire only on a gap above its
        limit by more than that noise allows (see :mod:`lepton_core.monitoring._alerts`).
    worst_group : dict or None
        Once enough labels arrived: the group with the lowest accuracy (see
        :class:`~lepton_core.evaluation.FairnessReport`).
    small_groups : list of str
        Groups with too few rows to count in the gaps.
    """

    start: str
    rows: int
    labelled: int
    selection_rate: dict[str, float | None] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    demographic_parity_difference: float | None = None
    equalized_odds_difference: float | None = None
    worst_group: dict[str, Any] | None = None
    small_groups: list[str] = field(default_factory=list)
    parity_error: float | None = None
    odds_error: float | None = None


@dataclass
class FairnessTrend(JsonMixin):
    """One sensitive column's fairness window by window, beside the training-time gaps."""

    attribute: str
    positive_class: str
    every: str
    windows: list[FairnessWindow]
    baseline_parity_difference: float | None = None
    baseline_odds_difference: float | None = None


def _windows(log: pd.DataFrame, every: str) -> list[tuple[pd.Timestamp, pd.DataFrame]]:
    if TIME not in log.columns or PREDICTION not in log.columns:
        raise DataError(Message("monitoring.error.log_columns", time=TIME, prediction=PREDICTION))
    if pd.to_datetime(log[TIME], utc=True, errors="coerce").isna().all():
        raise DataError(Message("monitoring.error.no_times"))
    return time_windows(log, every)


def time_windows(log: pd.DataFrame, every: str) -> list[tuple[pd.Timestamp, pd.DataFrame]]:
    """The log's rows per window of length ``every`` (UTC start, rows), empty ones left out;
    rows without a readable time are in none."""
    times = pd.to_datetime(log[TIME], utc=True, errors="coerce")
    try:
        # Windows counted from the epoch (as the prediction log's SQL counts traffic), in
        # naive UTC: pandas ignores the origin of day-long windows on zoned times.
        groups = log.assign(**{TIME: times.dt.tz_convert(None)}).groupby(
            pd.Grouper(key=TIME, freq=every, origin="epoch")
        )
    except ValueError:
        raise DataError(Message("monitoring.error.bad_window", every=every)) from None
    return [(start.tz_localize("UTC"), rows) for start, rows in groups if len(rows)]


def _labelled(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows[LABEL].notna()] if LABEL in rows.columns else rows.iloc[:0]


def performance_trend(
    log: pd.DataFrame,
    *,
    task: str,
    every: str = "1D",
    baseline: dict[str, float] | None = None,
) -> PerformanceTrend:
    """Accuracy (classifiers) or RMSE and MAE (regression) per window of the log."""
    windows = []
    for start, rows in _windows(log, every):
        labelled = _labelled(rows)
        window = PerformanceWindow(start=start.isoformat(), rows=len(rows), labelled=len(labelled))
        if task != "regression" and CONFIDENCE in rows.columns and rows[CONFIDENCE].notna().any():
            window.estimated_accuracy = float(rows[CONFIDENCE].astype(float).mean())
        if len(labelled) >= MIN_LABELLED:
            names = ["rmse", "mae"] if task == "regression" else ["accuracy"]
            y_true, y_pred = labelled[LABEL], labelled[PREDICTION]
            if task == "regression":
                errors = y_pred.astype(float).to_numpy() - y_true.astype(float).to_numpy()
                window.figures = {
                    "rmse": float(np.sqrt(np.mean(errors**2))),
                    "mae": float(np.mean(np.abs(errors))),
                }
            else:
                same = y_true.astype(str).to_numpy() == y_pred.astype(str).to_numpy()
                window.figures = {"accuracy": float(same.mean())}
            sample = _capped(labelled)
            window.intervals = bootstrap_intervals(
                sample[LABEL].to_numpy(), sample[PREDICTION].to_numpy(), task=task,
                metrics=names, n_resamples=_RESAMPLES,
            )  # fmt: skip
        windows.append(window)
    return PerformanceTrend(task=task, every=every, windows=windows, baseline=dict(baseline or {}))


def _groups(values: pd.Series) -> pd.Series:
    """Group labels fixed over the whole log, so a band means the same in every window."""
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and values.nunique(dropna=True) > MAX_UNBINNED_GROUPS:
        return band_numeric(values).astype(str)
    return values.map(lambda v: "missing" if pd.isna(v) else str(v))


def fairness_trend(
    log: pd.DataFrame,
    *,
    sensitive: str,
    positive_label: Any,
    every: str = "1D",
    baseline: Any = None,
    min_rows: int | None = None,
) -> FairnessTrend:
    """The fairness figures of one sensitive column per window of the log.

    ``baseline`` is the training-time :class:`~lepton_core.evaluation.FairnessReport` of
    the same column, whose gaps each window is read against. A window of more than
    :data:`MAX_WINDOW_ROWS` rows is measured on a seeded sample of that many.
    """
    if sensitive not in log.columns:
        raise DataError(Message("monitoring.error.no_sensitive", column=sensitive))
    least = min_group_rows() if min_rows is None else min_rows
    groups = _groups(log[sensitive]).rename(sensitive)
    windows = []
    for start, all_rows in _windows(log.assign(**{sensitive: groups}), every):
        rows = _capped(all_rows)
        labelled = _labelled(rows)
        window = FairnessWindow(
            start=start.isoformat(), rows=len(all_rows), labelled=len(_labelled(all_rows))
        )
        predicted = _report(
            rows[PREDICTION], rows[PREDICTION], rows[sensitive], positive_label, least
        )
        if predicted is not None:  # selection rates depend on the predictions alone
            window.selection_rate = {g: r["selection_rate"] for g, r in predicted.by_group.items()}
            window.counts = {g: int(r["count"]) for g, r in predicted.by_group.items()}
            window.demographic_parity_difference = predicted.demographic_parity_difference
            window.small_groups = predicted.small_groups
            counted = rows[~rows[sensitive].isin(predicted.small_groups)]
            window.parity_error = _gap_error(
                counted[PREDICTION].astype(str).eq(str(positive_label)), counted[sensitive]
            )
        if len(labelled) >= MIN_LABELLED:
            truth = _report(
                labelled[LABEL], labelled[PREDICTION], labelled[sensitive], positive_label, least
            )
            if truth is not None:
                window.equalized_odds_difference = truth.equalized_odds_difference
                window.odds_error = _odds_error(
                    labelled[~labelled[sensitive].isin(truth.small_groups)],
                    sensitive,
                    positive_label,
                )
                window.worst_group = truth.worst_group
        windows.append(window)
    return FairnessTrend(
        attribute=sensitive,
        positive_class=str(positive_label),
        every=every,
        windows=windows,
        baseline_parity_difference=getattr(baseline, "demographic_parity_difference", None),
        baseline_odds_difference=getattr(baseline, "equalized_odds_difference", None),
    )


def _gap_error(hits: pd.Series, groups: pd.Series) -> float | None:
    """The standard error of the gap between the groups with the highest and lowest rate.

    ``hits`` is True where a row counts towards its group's rate. Binomial: for 18 women
    who earn more, a true-positive rate of 0.5 moves by ±0.12 by chance alone.
    """
    rates = hits.groupby(groups, observed=True).agg(["mean", "size"])
    rates = rates[rates["size"] > 0]
    if len(rates) < 2:
        return None
    high, low = rates.loc[rates["mean"].idxmax()], rates.loc[rates["mean"].idxmin()]
    variance = sum(r["mean"] * (1 - r["mean"]) / r["size"] for r in (high, low))
    return float(np.sqrt(variance))


def _odds_error(labelled: pd.DataFrame, sensitive: str, positive: Any) -> float | None:
    """The standard error of the larger of the true- and false-positive rate gaps."""
    yes = labelled[LABEL].astype(str).eq(str(positive))
    said_yes = labelled[PREDICTION].astype(str).eq(str(positive))
    groups = labelled[sensitive]
    tpr_error = _gap_error(said_yes[yes], groups[yes])
    fpr_error = _gap_error(said_yes[~yes], groups[~yes])
    if tpr_error is None or fpr_error is None:
        return None
    tpr, fpr = (said_yes[part].groupby(groups[part]).mean() for part in (yes, ~yes))
    return tpr_error if tpr.max() - tpr.min() >= fpr.max() - fpr.min() else fpr_error


def _report(y_true, y_pred, groups, positive_label, least):
    """The window's FairnessReport, or None when it holds a single group."""
    try:
        return fairness_report(
            y_true.astype(str).to_numpy(),
            y_pred.astype(str).to_numpy(),
            sensitive_features=groups.reset_index(drop=True),
            task="binary",
            positive_label=str(positive_label),
            min_group_rows=least,
        )
    except DataError:
        return None
