"""A deployed model's life since it went live: traffic, drift, accuracy and fairness by window.

:func:`live_report` reads a model version's *prediction log* (what the API, the demo and
batch scoring answered, with the true answers sent back later) and puts every view of
the Monitor page in one result: requests, errors and latency per window; the served
records' drift from the training data; the drift of the answers themselves from the
answers the model gave on its test part; accuracy per window (with an estimate from
the model's confidence until labels arrive); the fairness figures per window for each
sensitive column, read against the training-time figures; and the alerts the model's
limits raise. The pure part (:func:`analyse_log`) takes the log as a table, so it is
tested, and reused by the CLI, without a server.

An entity model's logged answer is the kinds of name it found (see
:func:`lepton_core.runs.found_kinds`): its answers are compared with what it found in its
test sentences, and its input text by length, but it has no accuracy over time, since one
true answer per prediction cannot score the names found in a text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import NER_TASK, JsonMixin, Message
from lepton_core.evaluation import FairnessReport
from lepton_core.monitoring._alerts import Alert, Limits, check_alerts
from lepton_core.monitoring._drift import DriftReport, FeatureDrift, data_drift
from lepton_core.monitoring._reference import training_reference
from lepton_core.monitoring._trend import (
    PREDICTION,
    TIME,
    FairnessTrend,
    PerformanceTrend,
    _windows,
    fairness_trend,
    performance_trend,
    time_windows,
)
from lepton_core.workspace import LOG_COLUMNS, Workspace, parse_model_ref, prediction_log

__all__ = [
    "LastCheck",
    "LiveReport",
    "TrafficWindow",
    "analyse_log",
    "last_check",
    "live_from_log",
    "live_report",
    "save_check",
    "traffic_windows",
    "workspace_limits",
]

#: The fewest records a window needs for its own drift figures (PSI of fewer is noise).
MIN_WINDOW_ROWS = 200
#: At most this many logged predictions are read for drift, accuracy and fairness;
#: traffic is counted over all of them.
MAX_LOG_ROWS = 100_000


@dataclass
class TrafficWindow(JsonMixin):
    """Requests in one window: how many, how many failed, and how long they took."""

    start: str
    requests: int
    errors: int
    p50_ms: float | None = None
    p99_ms: float | None = None


@dataclass
class LiveReport(JsonMixin):
    """Everything the Monitor page shows about one deployed model version.

    Attributes
    ----------
    model : str
        ``NAME:VERSION``.
    every : str
        The window length (a pandas frequency such as ``"1h"`` or ``"1D"``).
    rows : int
        Logged predictions analysed (after sampling; see ``sampled``).
    traffic : list of TrafficWindow
        Every request, counted per window.
    drift : DriftReport or None
        The served records against the training data (None with no record logged).
    latest_drift, latest_window : DriftReport or None, str or None
        The same for the latest window alone (from ``latest_window``), which drift alerts
        follow; None when that window holds fewer than :data:`MIN_WINDOW_ROWS` records.
    answers : FeatureDrift or None
        The model's answers against those it gave on its test part (prediction drift).
    performance : PerformanceTrend or None
        Accuracy (or error) per window once labels arrive, with the confidence estimate.
    fairness : list of FairnessTrend
        One per sensitive column of the data set.
    alerts : list of Alert
        What breaks the model's limits in the latest windows.
    finds_names : bool
        The model finds names in text (an entity model): ``answers`` compares the kinds
        of name found, and ``performance`` is None whatever labels came back.
    """

    model: str
    every: str
    rows: int
    sampled: bool
    traffic: list[TrafficWindow]
    limits: Limits
    drift: DriftReport | None = None
    latest_drift: DriftReport | None = None
    latest_window: str | None = None
    answers: FeatureDrift | None = None
    performance: PerformanceTrend | None = None
    fairness: list[FairnessTrend] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    finds_names: bool = False

    @property
    def requests(self) -> int:
        """Every request counted, failed ones included."""
        return sum(w.requests for w in self.traffic)

    @property
    def errors(self) -> int:
        return sum(w.errors for w in self.traffic)

    @property
    def labelled(self) -> int:
        """Predictions analysed whose true answer came back."""
        return sum(w.labelled for w in self.performance.windows) if self.performance else 0

    def summary(self) -> Message:
        """The state in one sentence."""
        if not self.rows:
            return Message("monitoring.live.no_predictions", model=self.model)
        if self.alerts:
            return Message("monitoring.live.alerts", count=len(self.alerts), rows=self.rows)
        return Message("monitoring.live.calm", rows=self.rows)


def traffic_windows(log: pd.DataFrame, every: str = "1D") -> list[TrafficWindow]:
    """Requests, errors and latency percentiles per window of a log table."""
    if not len(log):
        return []
    status = log["status"] if "status" in log.columns else pd.Series("ok", index=log.index)
    latency = (
        pd.to_numeric(log["latency_ms"], errors="coerce")
        if "latency_ms" in log.columns
        else pd.Series(float("nan"), index=log.index)
    )
    frame = pd.DataFrame({TIME: log[TIME], "error": status.ne("ok"), "latency": latency})
    windows = []
    for start, rows in time_windows(frame, every):  # the same windows as the trends'
        done = rows["latency"].dropna()
        windows.append(
            TrafficWindow(
                start=start.isoformat(),
                requests=len(rows),
                errors=int(rows["error"].sum()),
                p50_ms=float(done.quantile(0.5)) if len(done) else None,
                p99_ms=float(done.quantile(0.99)) if len(done) else None,
            )
        )
    return windows


def analyse_log(
    log: pd.DataFrame,
    *,
    model: str,
    task: str,
    reference: pd.DataFrame,
    texts: Sequence[str] = (),
    test_answers: list[Any] | None = None,
    sensitive: list[str] | None = None,
    positive_label: Any = None,
    baseline_accuracy: float | None = None,
    baseline_fairness: dict[str, FairnessReport] | None = None,
    traffic: list[TrafficWindow] | None = None,
    every: str = "1D",
    limits: Limits | None = None,
    max_rows: int = MAX_LOG_ROWS,
) -> LiveReport:
    """Every live view of one model version from its log (a table of predictions).

    ``reference`` is the training data's input columns (``texts`` those of free text);
    ``test_answers`` the answers the
    model gave on its test part (for prediction drift); ``task`` ``"ner"`` for an entity
    model (no accuracy; see :class:`LiveReport`); ``baseline_*`` the training-time
    figures each window is read against; ``traffic`` overrides the windows counted from
    ``log`` (the caller may count them over more rows than it read).
    """
    limits = limits or Limits()
    sampled = len(log) > max_rows
    served = log[log["status"].eq("ok")] if "status" in log.columns else log
    if sampled:
        served = served.sample(max_rows, random_state=0).sort_values(TIME)
    report = LiveReport(
        model=model,
        every=every,
        rows=len(served),
        sampled=sampled,
        traffic=traffic if traffic is not None else traffic_windows(log, every),
        limits=limits,
        finds_names=task == NER_TASK,
    )
    if not len(served):
        return report
    fields = [c for c in reference.columns if c in served.columns and c not in LOG_COLUMNS]
    if fields:
        report.drift = data_drift(reference, served, columns=fields, texts=texts)
        # Alerts follow the latest window, not everything since going live, so that a
        # change shows at once; a window too small to judge falls back to the whole log.
        start, latest = _windows(served, every)[-1]
        if len(latest) >= MIN_WINDOW_ROWS:
            report.latest_drift = data_drift(reference, latest, columns=fields, texts=texts)
            report.latest_window = start.isoformat()
    given = served[[PREDICTION]]
    if report.finds_names:  # answers logged before the kinds found were kept are null
        given = given[given[PREDICTION].map(lambda v: isinstance(v, str))]
    if test_answers and len(given):
        answers = data_drift(
            pd.DataFrame({PREDICTION: pd.Series(test_answers).astype(str)}),
            given.astype(str),
        )
        report.answers = answers.features[0] if answers.features else None
    if not report.finds_names:
        report.performance = performance_trend(
            served,
            task=task,
            every=every,
            baseline={"accuracy": baseline_accuracy} if baseline_accuracy is not None else None,
        )
    if task == "binary" and positive_label is not None:
        for column in sensitive or []:
            if column in served.columns:
                report.fairness.append(
                    fairness_trend(
                        served,
                        sensitive=column,
                        positive_label=positive_label,
                        every=every,
                        baseline=(baseline_fairness or {}).get(column),
                    )
                )
    report.alerts = check_alerts(
        drift=report.latest_drift or report.drift,
        performance=report.performance,
        fairness=report.fairness,
        limits=limits,
    )
    return report


def live_report(
    workspace: Workspace,
    model: str,
    log: pd.DataFrame,
    *,
    traffic: list[TrafficWindow] | None = None,
    every: str = "1D",
    limits: Limits | None = None,
) -> LiveReport:
    """:func:`analyse_log` for a registered version, with its training-time figures.

    ``model`` is ``NAME[:VERSION]``; ``log`` its logged predictions (see
    :func:`lepton_core.workspace.read_predictions`).
    """
    name, version = parse_model_ref(model)
    info = workspace.model_version(name, version)
    run_id = info.run_id
    evaluation = workspace.load_report(run_id, "evaluation")
    finds_names = workspace.get_run(run_id).task == NER_TASK
    # An entity run keeps the kinds found in its test sentences apart (see run_ner).
    answers = workspace.find_report(run_id, "ner_answers" if finds_names else "test_predictions")
    task = NER_TASK if finds_names else evaluation.get("task", "binary")
    reference = training_reference(workspace, f"{info.name}:{info.version}")
    fairness = {
        report["attribute"]: FairnessReport.from_dict(report)
        for report in workspace.find_report(run_id, "fairness") or []
    }
    return analyse_log(
        log,
        model=f"{info.name}:{info.version}",
        task=task,
        reference=reference.table,
        texts=reference.texts,
        test_answers=(answers or {}).get("y_pred"),
        sensitive=list(fairness),
        positive_label=evaluation.get("positive_class"),
        baseline_accuracy=evaluation.get("metrics", {}).get("accuracy"),
        baseline_fairness=fairness,
        traffic=traffic,
        every=every,
        limits=limits or workspace_limits(workspace, info.name),
    )


def workspace_limits(workspace: Workspace, name: str) -> Limits:
    """The limits set for a model (the defaults where none are)."""
    stored = workspace.model_setting(name, "alert_limits")
    return Limits.from_dict(stored) if stored else Limits()


def live_from_log(
    workspace: Workspace,
    model: str,
    *,
    every: str = "1D",
    since: Any = None,
    limits: Limits | None = None,
    max_rows: int = MAX_LOG_ROWS,
) -> LiveReport:
    """:func:`live_report` on what the version (``NAME[:VERSION]``) answered, as logged.

    Traffic is counted by the database over every request; the other views read a random
    sample of at most ``max_rows`` answered predictions, so time stays bounded however
    long the model has been live. The sample is shared out between the windows (a window
    with fewer answers than its share is read whole), so that a burst of traffic one day
    does not leave the days around it too few rows to measure.
    """
    name, version = parse_model_ref(model)
    info = workspace.model_version(name, version)
    log = prediction_log(workspace)
    table = log.read_predictions(info.name, info.version, since, sample=max_rows)
    counts = log.traffic_by_window(info.name, info.version, every, since)
    table = _balanced(table, counts, every, max_rows, read=lambda start, until, rows: (
        log.read_predictions(info.name, info.version, start, until, sample=rows)
    ))  # fmt: skip
    traffic = [
        TrafficWindow(
            start=row.start.isoformat(),
            requests=int(row.requests),
            errors=int(row.errors),
            p50_ms=None if pd.isna(row.p50_ms) else float(row.p50_ms),
            p99_ms=None if pd.isna(row.p99_ms) else float(row.p99_ms),
        )
        for row in counts.itertuples()
    ]
    report = live_report(
        workspace, f"{info.name}:{info.version}", table, traffic=traffic, every=every,
        limits=limits,
    )  # fmt: skip
    report.sampled = report.sampled or report.requests - report.errors > len(table)
    return report


#: Windows read again at most, newest first, when the first sample left them thin.
_MAX_REREADS = 100


def _balanced(
    table: pd.DataFrame, counts: pd.DataFrame, every: str, max_rows: int, read: Any
) -> pd.DataFrame:
    """``table`` (a uniform sample of the log) with each window's rows brought to its share
    of ``max_rows``: the shares fill the windows in order of size (a window with fewer
    answers than its share keeps them all, what it leaves goes to the others). A window
    holding under half its share is read again (``read(start, until, rows)``); one
    holding more is cut down to it."""
    if not len(table) or not len(counts):
        return table
    answered = (counts["requests"] - counts["errors"]).clip(lower=0).to_numpy()
    share = _fair_share(answered, max_rows)
    starts = pd.to_datetime(counts["start"], utc=True)
    have = {start: table.loc[rows.index] for start, rows in time_windows(table, every)}
    step = pd.tseries.frequencies.to_offset(every)
    parts, rereads = [], 0
    for start, want in sorted(zip(starts, np.minimum(answered, share), strict=True),
                              key=lambda p: p[0], reverse=True):  # fmt: skip
        rows = have.pop(start, table.iloc[:0])
        if len(rows) < want / 2 and rereads < _MAX_REREADS:
            rows, rereads = read(start, start + step, max(int(want), 1)), rereads + 1
        parts.append(rows.sample(int(want), random_state=0) if len(rows) > want else rows)
    # Rows of windows the counts did not see (written in between) wait for the next report.
    return pd.concat(parts).sort_values(TIME, kind="stable").reset_index(drop=True)


def _fair_share(sizes: np.ndarray, total: int) -> float:
    """The largest share ``q`` with ``sum(min(size, q)) <= total`` (water-filling)."""
    if sizes.sum() <= total:
        return float(sizes.max())
    left, ordered = float(total), np.sort(sizes)
    for i, size in enumerate(ordered):
        fair = left / (len(ordered) - i)
        if size >= fair:
            return fair
        left -= size
    return float(ordered[-1])


# ------------------------------------------------------------------ the latest check
_KEPT_ALERTS = 20  # a model setting is short; the rest are counted


@dataclass
class LastCheck(JsonMixin):
    """The broken limits a version's latest live report found, as stored with the model.

    The dashboard shows these rather than computing a live report for every published
    version; ``lepton monitor --live`` (say, from a scheduler) and the Monitor page keep
    them current.
    """

    at: str
    alerts: list[Alert] = field(default_factory=list)
    more: int = 0

    @property
    def age_s(self) -> float:
        """Seconds since the check."""
        return (datetime.now(UTC) - datetime.fromisoformat(self.at)).total_seconds()


def _check_key(version: int) -> str:
    return f"last_check_v{version}"


def save_check(workspace: Workspace, report: LiveReport) -> LastCheck:
    """Store ``report``'s alerts as its version's latest check (see :class:`LastCheck`)."""
    name, version = parse_model_ref(report.model)
    check = LastCheck(
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        alerts=report.alerts[:_KEPT_ALERTS],
        more=max(len(report.alerts) - _KEPT_ALERTS, 0),
    )
    workspace.set_model_setting(name, _check_key(int(version)), check.to_dict())
    return check


def last_check(workspace: Workspace, model: str) -> LastCheck | None:
    """The latest stored check of a version (``NAME:VERSION``); None before the first."""
    name, version = parse_model_ref(model)
    stored = workspace.model_setting(name, _check_key(int(version)))
    if not isinstance(stored, dict) or "at" not in stored:
        return None
    alerts = [Alert.from_dict(a) for a in stored.get("alerts") or []]
    return LastCheck(at=stored["at"], alerts=alerts, more=int(stored.get("more") or 0))
