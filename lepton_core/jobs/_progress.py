"""A job's progress as the worker writes it to the jobs table and pages read it.

Every figure a page draws from it (:meth:`JobProgress.fraction`,
:meth:`JobProgress.seconds_left`) is computed and checked here, so that no consumer
ever sees a fraction outside [0, 1] or a negative, infinite or NaN number of seconds,
whatever the worker wrote or the clocks said.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from lepton_core.core import JsonMixin

__all__ = ["AutoProgress", "JobProgress", "clamp_fraction", "clean_seconds", "progress_for"]


def _finite(value: Any) -> float | None:
    number = _number(value)
    return number if number is not None and math.isfinite(number) else None


def _number(value: Any) -> float | None:
    """``value`` as a float, or None when it is not a number (None, text, NaN)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def clamp_fraction(value: Any) -> float:
    """``value`` as a progress fraction in [0, 1].

    Below 0 (a clock read a microsecond early) is 0, above 1 is 1, and anything that
    is not a number (None, NaN) is 0: a progress bar never refuses it.
    """
    number = _number(value)
    if number is None:
        return 0.0
    return min(1.0, max(0.0, number))


def clean_seconds(value: Any) -> float | None:
    """``value`` as a number of seconds left: finite and at least 0, else None (unknown)."""
    number = _number(value)
    if number is None or math.isinf(number):
        return None
    return max(0.0, number)


@dataclass
class JobProgress(JsonMixin):
    """Where a training or mitigation job is, written about twice a second.

    Attributes
    ----------
    phase : str
        ``"starting"`` until the worker writes, then the trainer's phase (``"loading"``,
        ``"training"``, ``"evaluating"``, ``"explaining"``, ``"saving"``, ``"done"``).
    step, total_steps : int, int or None
        The current phase's steps done and planned: boosting rounds or epochs while
        ``"training"``, rows (text models: texts) explained while ``"explaining"``.
    eta_seconds : float or None
        Seconds left in that phase at its pace so far; None before its first step.
    history : list of dict
        The last 500 logged steps (``{"step", "train_loss", "valid_loss", ...}``).
    figures : dict
        The test part's headline figures once measured, while the model is still being
        explained and saved (``{"accuracy": 0.87, ...}``); empty before.
    """

    phase: str = "starting"
    step: int = 0
    total_steps: int | None = None
    eta_seconds: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, float | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # What was read back from the jobs table is checked once, here.
        step = _number(self.step)
        self.step = int(step) if step is not None and step > 0 and math.isfinite(step) else 0
        total = _number(self.total_steps)
        self.total_steps = int(total) if total is not None and 0 < total < math.inf else None
        self.eta_seconds = clean_seconds(self.eta_seconds)
        figures = self.figures if isinstance(self.figures, dict) else {}
        self.figures = {str(k): _finite(v) for k, v in figures.items()}

    def fraction(self, now: float | None = None) -> float:
        """Share of the phase's work done, in [0, 1]: steps done of those planned (0 when
        unknown)."""
        if self.phase == "done":
            return 1.0
        total = _number(self.total_steps)
        if not total or total <= 0:
            return 0.0
        return clamp_fraction((_number(self.step) or 0.0) / total)

    def seconds_left(self, now: float | None = None) -> float | None:
        """Seconds left at the pace so far (never negative), or None when unknown."""
        return clean_seconds(self.eta_seconds)


@dataclass
class AutoProgress(JobProgress):
    """An Auto job's progress: the search's live leaderboard, then the winner's training.

    Attributes
    ----------
    leaderboard : list of dict
        The best trials so far, ranked (rows as in :class:`lepton_core.runs.AutoResult`).
    metric : str or None
        The validation metric the trials are ranked by.
    fairness_metric : str or None
        The fairness gap measured per trial.
    fairness_limit : float or None
        The gap a model must stay within to rank first; None when there is no limit.
    budget_s : float or None
        The search's time budget in seconds.
    search_started : float or None
        ``time.time()`` when the search began; None until the first trial reports.
    trials : int
        Trials started so far.
    """

    leaderboard: list[dict[str, Any]] = field(default_factory=list)
    metric: str | None = None
    fairness_metric: str | None = None
    fairness_limit: float | None = None
    budget_s: float | None = None
    search_started: float | None = None
    trials: int = 0

    @property
    def searching(self) -> bool:
        return self.phase == "searching"

    def _search_elapsed(self, now: float | None) -> float | None:
        started, budget = _number(self.search_started), _number(self.budget_s)
        if started is None or budget is None or not math.isfinite(started) or budget <= 0:
            return None  # the first trial has not reported yet
        now = time.time() if now is None else now
        return max(0.0, now - started)  # never below 0, however the clocks were read

    def fraction(self, now: float | None = None) -> float:
        """While searching, the share of the time budget spent; then the winner's training."""
        if not self.searching:
            return super().fraction(now)
        elapsed = self._search_elapsed(now)
        if elapsed is None:
            return 0.0
        return clamp_fraction(elapsed / float(self.budget_s or 1.0))

    def seconds_left(self, now: float | None = None) -> float | None:
        """While searching, the budget left; then the winner's ETA."""
        if not self.searching:
            return super().seconds_left(now)
        elapsed = self._search_elapsed(now)
        if elapsed is None:
            return None
        return clean_seconds(float(self.budget_s or 0.0) - elapsed)


def progress_for(kind: str, data: dict[str, Any] | None = None) -> JobProgress:
    """The progress of a job of ``kind`` from its stored fields (empty: not started)."""
    cls = AutoProgress if kind == "auto" else JobProgress
    return cls.from_dict(data or {})
