"""Alerts: the limits a team sets per model, and which of them the latest figures break."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lepton_core.core import JsonMixin, Message
from lepton_core.monitoring._drift import PSI_MAJOR, DriftReport
from lepton_core.monitoring._trend import FairnessTrend, PerformanceTrend

__all__ = ["Alert", "Limits", "check_alerts"]


@dataclass(frozen=True)
class Limits(JsonMixin):
    """When to raise an alert.

    Attributes
    ----------
    psi : float
        A column whose PSI reaches this has drifted (0.2: a major change).
    accuracy_drop : float
        Alert when the latest labelled window's accuracy is this far below training's.
    fairness_gap : float
        Alert when the latest window's parity gap (or, with labels, equalized-odds gap)
        between groups exceeds this.
    """

    psi: float = PSI_MAJOR
    accuracy_drop: float = 0.05
    fairness_gap: float = 0.10


@dataclass
class Alert(JsonMixin):
    """One broken limit.

    Attributes
    ----------
    kind : str
        ``"drift"`` (a column moved), ``"accuracy"`` (accuracy fell), ``"parity"`` (the gap
        in selection rates between groups) or ``"odds"`` (the gap in error rates).
    subject : str
        The column concerned (``"accuracy"`` for an accuracy alert).
    value, limit : float
        The figure and the limit it broke.
    window : str or None
        The start of the window it happened in (None for drift).
    """

    kind: str
    subject: str
    value: float
    limit: float
    window: str | None = None

    def summary(self) -> Message:
        """In one sentence (a Message: pages show it in the reader's language)."""
        values = {"column": self.subject, "value": self.value, "limit": self.limit}
        if self.kind == "drift":
            return Message("monitoring.alert.drift", **values)
        if self.kind == "accuracy":
            return Message("monitoring.alert.accuracy", **values, window=self.window)
        if self.kind == "parity":
            return Message("monitoring.alert.parity", **values, window=self.window)
        return Message("monitoring.alert.odds", **values, window=self.window)


def check_alerts(
    *,
    drift: DriftReport | None = None,
    performance: PerformanceTrend | None = None,
    fairness: Sequence[FairnessTrend] = (),
    limits: Limits = Limits(),
) -> list[Alert]:
    """Every limit the latest figures break (an empty list: all is well)."""
    alerts = []
    if drift is not None:
        alerts += [
            Alert("drift", f.column, f.psi, limits.psi)
            for f in drift.features
            if f.psi >= limits.psi
        ]
    if performance is not None and "accuracy" in performance.baseline:
        labelled = [w for w in performance.windows if "accuracy" in w.figures]
        if labelled:
            latest = labelled[-1]
            drop = performance.baseline["accuracy"] - latest.figures["accuracy"]
            if drop > limits.accuracy_drop:
                alerts.append(
                    Alert("accuracy", "accuracy", drop, limits.accuracy_drop, latest.start)
                )
    for trend in fairness:
        if not trend.windows:
            continue
        latest = trend.windows[-1]
        for kind, value in (
            ("parity", latest.demographic_parity_difference),
            ("odds", latest.equalized_odds_difference),
        ):
            if value is not None and value > limits.fairness_gap:
                alerts.append(
                    Alert(kind, trend.attribute, value, limits.fairness_gap, latest.start)
                )
    return alerts
