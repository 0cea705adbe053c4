"""Alerts: the limits a team sets per model, and which of them the latest figures break."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from lepton_core.core import JsonMixin, LeptonError, Message
from lepton_core.monitoring._drift import PSI_MAJOR, DriftReport
from lepton_core.monitoring._trend import FairnessTrend, PerformanceTrend

__all__ = ["Alert", "Limits", "check_alerts", "send_alerts"]

_Z95 = 1.645  # one-sided 95 %


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
        between groups has widened this much beyond its value at training (or, where the
        training-time gap is unknown, exceeds this outright): a model that was already
        uneven at training is not flagged anew in every window, one that becomes so is.
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
        if self.window is not None:  # "2026-11-04" or "2026-11-04 13:00", not ISO's T+00:00
            start = datetime.fromisoformat(self.window)
            shown = start.strftime("%Y-%m-%d %H:%M" if start.hour or start.minute else "%Y-%m-%d")
            values["window"] = shown
        if self.kind == "drift":
            return Message("monitoring.alert.drift", **values)
        if self.kind == "accuracy":
            return Message("monitoring.alert.accuracy", **values)
        if self.kind == "parity":
            return Message("monitoring.alert.parity", **values)
        return Message("monitoring.alert.odds", **values)


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
        # The parity gap needs predictions only: the latest window. The error-rate gap
        # needs true answers, which come later: the latest window that has them.
        latest = trend.windows[-1]
        labelled = [w for w in trend.windows if w.equalized_odds_difference is not None]
        for kind, window, value, at_training in (
            ("parity", latest, latest.demographic_parity_difference,
             trend.baseline_parity_difference),
            ("odds", labelled[-1] if labelled else latest,
             labelled[-1].equalized_odds_difference if labelled else None,
             trend.baseline_odds_difference),
        ):  # fmt: skip
            allowed = limits.fairness_gap + (at_training or 0.0)
            noise = window.odds_error if kind == "odds" else window.parity_error
            # Above the limit by more than chance explains (one-sided, 95 %): 20 women who
            # earn more make a rate that moves by ±0.1 on its own.
            if value is not None and value - allowed > _Z95 * (noise or 0.0):
                alerts.append(Alert(kind, trend.attribute, value, allowed, window.start))
    return alerts


def send_alerts(url: str, model: str, alerts: Sequence[Alert], *, timeout: float = 10.0) -> None:
    """POST the alerts to a webhook as JSON (Slack, Teams, a pager's incoming hook...).

    The body is ``{"model": ..., "text": ..., "alerts": [...]}``: ``text`` is the alerts in
    plain English, one per line, which chat tools show as is.

    Raises
    ------
    LeptonError
        The address is not http(s), cannot be reached, or answered with an error.
    """
    import httpx

    if not url.startswith(("https://", "http://")):
        raise LeptonError(Message("monitoring.webhook.bad_url"))
    body = {
        "model": model,
        "text": "\n".join(f"{model}: {a.summary()}" for a in alerts),
        "alerts": [{**a.to_dict(), "text": str(a.summary())} for a in alerts],
    }
    try:
        response = httpx.post(url, json=body, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise LeptonError(
            Message("monitoring.webhook.unreachable", error=type(exc).__name__)
        ) from exc
    if response.status_code >= 400:
        raise LeptonError(Message("monitoring.webhook.refused", status=response.status_code))
