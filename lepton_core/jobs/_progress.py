"""A job's progress as the worker writes it to the jobs table and pages read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lepton_core.core import JsonMixin

__all__ = ["AutoProgress", "JobProgress", "progress_for"]


@dataclass
class JobProgress(JsonMixin):
    """Where a training or mitigation job is, written about twice a second.

    Attributes
    ----------
    phase : str
        ``"starting"`` until the worker writes, then the trainer's phase (``"loading"``,
        ``"training"``, ``"evaluating"``, ``"explaining"``, ``"saving"``, ``"done"``).
    step, total_steps : int, int or None
        Boosting rounds or epochs done and planned.
    eta_seconds : float or None
        Seconds left at the pace so far; None before the first step.
    history : list of dict
        The last 500 logged steps (``{"step", "train_loss", "valid_loss", ...}``).
    """

    phase: str = "starting"
    step: int = 0
    total_steps: int | None = None
    eta_seconds: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


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
        ``time.time()`` when the search began.
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


def progress_for(kind: str, data: dict[str, Any] | None = None) -> JobProgress:
    """The progress of a job of ``kind`` from its stored fields (empty: not started)."""
    cls = AutoProgress if kind == "auto" else JobProgress
    return cls.from_dict(data or {})
