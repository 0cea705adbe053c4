"""Training progress through callbacks.

A callback has no-op hooks; the trainer calls them with a read-only
:class:`TrainerState` and a :class:`TrainerControl` whose one flag,
``should_stop``, a callback may set to cancel training. The CLI's progress
bar and the job runner are just callbacks (the shape of transformers'
``TrainerCallback``).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CallbackList",
    "ProgressBarCallback",
    "TrainerCallback",
    "TrainerControl",
    "TrainerState",
]


@dataclass
class TrainerState:
    """What the trainer knows so far; callbacks read it and never write it.

    Attributes
    ----------
    phase : str
        ``"loading"``, ``"training"``, ``"evaluating"``, ``"explaining"``, ``"saving"``
        or ``"done"``.
    step, total_steps : int, int or None
        The counted phase's steps done and planned: boosting rounds or epochs while
        training, rows (text models: texts) while explaining. Phases that count
        nothing keep the last phase's figures.
    unit : str or None
        What ``step`` counts when it is not a training step: ``"rows"`` or ``"texts"``.
    log_history : list of dict
        Every logged training step: ``{"step", "train_loss", "valid_loss", ...}``.
    started_at : float
        ``time.time()`` at ``on_train_begin``.
    phase_started_at : float
        ``time.time()`` when ``phase`` began; the ETA is measured from it.
    figures : dict
        The test part's headline figures once they are measured (accuracy-type figures
        and fairness gaps), so that a page shows them while the model is explained and
        saved; empty before.
    """

    phase: str = "loading"
    step: int = 0
    total_steps: int | None = None
    unit: str | None = None
    log_history: list[dict[str, float]] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    phase_started_at: float = field(default_factory=time.time)
    figures: dict[str, float | None] = field(default_factory=dict)

    @property
    def fraction(self) -> float | None:
        """Share of the counted phase's steps done, or None when the total is unknown."""
        if not self.total_steps:
            return None
        return min(1.0, self.step / self.total_steps)

    def eta_seconds(self) -> float | None:
        """Seconds left in the phase at its pace so far, or None before its first step."""
        frac = self.fraction
        if not frac:
            return None
        elapsed = max(0.0, time.time() - self.phase_started_at)
        return elapsed * (1 - frac) / frac


@dataclass
class TrainerControl:
    """The one thing a callback may change: ask training to stop."""

    should_stop: bool = False


class TrainerCallback:
    """Base class with no-op hooks; override the ones you need."""

    def on_train_begin(self, state: TrainerState, control: TrainerControl) -> None:
        """Called once before the first step."""

    def on_phase(self, state: TrainerState, control: TrainerControl) -> None:
        """Called when ``state.phase`` changes."""

    def on_step_end(self, state: TrainerState, control: TrainerControl) -> None:
        """Called after every boosting round or epoch, and every chunk of rows explained."""

    def on_log(self, state: TrainerState, control: TrainerControl, logs: dict[str, float]) -> None:
        """Called with the metrics of the step just finished."""

    def on_train_end(self, state: TrainerState, control: TrainerControl) -> None:
        """Called once after training, evaluation and saving."""


class CallbackList:
    """Calls every callback's hook in order; used by the trainer."""

    def __init__(self, callbacks: list[TrainerCallback] | None = None) -> None:
        self.callbacks = list(callbacks or [])
        self.state = TrainerState()
        self.control = TrainerControl()

    def _call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(self.state, self.control, *args)

    def train_begin(self) -> None:
        self.state.started_at = time.time()
        self._call("on_train_begin")

    def phase(
        self,
        name: str,
        *,
        total: int | None = None,
        unit: str | None = None,
        figures: dict[str, float | None] | None = None,
    ) -> None:
        """Start phase ``name``; one that counts its own steps (explaining: ``total`` rows)
        starts its count at 0, so callbacks never show the previous phase's figures in it.
        ``figures``: headline figures measured by now (see :class:`TrainerState`)."""
        self.state.phase = name
        self.state.phase_started_at = time.time()
        if figures is not None:
            self.state.figures = dict(figures)
        if total is not None:
            self.state.step, self.state.total_steps, self.state.unit = 0, total, unit
        self._call("on_phase")

    def step(self, step: int, total: int | None, logs: dict[str, float]) -> bool:
        """Record one training step; return True when a callback asked to stop."""
        self.state.step, self.state.total_steps, self.state.unit = step, total, None
        entry = {"step": float(step), **{k: float(v) for k, v in logs.items()}}
        self.state.log_history.append(entry)
        self._call("on_log", entry)
        self._call("on_step_end")
        return self.control.should_stop

    def advance(self, done: int, total: int, *, unit: str) -> bool:
        """Record progress of a phase that counts ``unit`` (rows explained, say) rather than
        training steps; return True when a callback asked to stop.

        Callbacks hear ``on_step_end``; nothing joins the log history (the training curves).
        """
        self.state.step, self.state.total_steps, self.state.unit = done, total, unit
        self._call("on_step_end")
        return self.control.should_stop

    def train_end(self) -> None:
        self.state.phase = "done"
        self._call("on_train_end")


class ProgressBarCallback(TrainerCallback):
    """A one-line terminal progress bar with ETA, for the CLI."""

    def __init__(self, stream: Any = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width

    def on_phase(self, state: TrainerState, control: TrainerControl) -> None:
        # Loading is quick and may fail on bad input: then the error line stands alone.
        if state.phase not in ("loading", "training"):
            self.stream.write(f"\r{state.phase}…{' ' * (self.width + 30)}\n")
            self.stream.flush()

    def on_step_end(self, state: TrainerState, control: TrainerControl) -> None:
        frac = state.fraction or 0.0
        filled = int(frac * self.width)
        eta = state.eta_seconds()
        eta_text = f"ETA {eta:4.0f}s" if eta is not None else ""
        # The last training loss means nothing next to a count of rows explained.
        training = state.unit is None and state.log_history
        loss = state.log_history[-1].get("valid_loss") if training else None
        loss_text = f"valid loss {loss:.4f}" if loss is not None else ""
        total = state.total_steps or "?"
        unit = f" {state.unit}" if state.unit else ""
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {state.step}/{total}{unit} {eta_text} {loss_text}")
        self.stream.flush()
