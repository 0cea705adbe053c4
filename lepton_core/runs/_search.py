"""Auto's search: its settings, the space the families give, trials and the leaderboard.

Optuna's TPE sampler proposes a family and its parameters (each family's
``search_space``); each trial fits on the training part and is scored on the
validation part only. :class:`Board` ranks finished trials for both backends, in
process (:func:`search_in_process`) and on Ray Tune (:mod:`._search_ray`).
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import (
    CallbackList,
    JsonMixin,
    LeptonError,
    Message,
    TrainingError,
    is_classification,
)
from lepton_core.evaluation import evaluate, fairness_reports
from lepton_core.models import family_class, family_names, make_model
from lepton_core.runs._training import PreparedData, TrainConfig, TrainResult
from lepton_core.text import TextLanguage, default_text_family

__all__ = ["FAIRNESS_LIMITS", "AutoConfig", "AutoResult", "default_families", "default_metric"]

FAIRNESS_LIMITS = ("demographic_parity_difference", "equalized_odds_difference")
_HIGHER_IS_BETTER = {"accuracy": True, "roc_auc": True, "f1": True, "r2": True}
_LOWER_IS_BETTER = {"rmse": False, "mae": False}
DIRECTIONS = {**_HIGHER_IS_BETTER, **_LOWER_IS_BETTER}
BOARD_ROWS = 20  # leaderboard rows kept in the job's progress
_log = logging.getLogger(__name__)


def default_families(reads: str = "table", language: TextLanguage | None = None) -> list[str]:
    """The families Auto searches when not told which, for data it ``reads`` ("table", or
    "text": one text column).

    For text, only the families that suit the texts' ``language`` (whose
    ``language_note`` is empty), the default text family first, so that its seconds-long
    baseline is the search's first trial.
    """
    names = [
        name
        for name in family_names(reads=reads, searchable=True)
        if family_class(name).searched_by_default
    ]
    if reads == "text":
        if language is not None:
            names = [n for n in names if not language_note(n, language)]
        first = default_text_family(language)
        names.sort(key=lambda name: name != first)
    return names


def language_note(family: str, language: TextLanguage) -> str:
    """Why the text family ``family`` (with its default parameters) does not suit texts in
    ``language``, or ``""``."""
    note = getattr(family_class(family), "language_note", None)
    return note(language) if note is not None else ""


def portfolio(families: list[str]) -> list[dict[str, Any]]:
    """The trials the searched families ask to run first (``search_portfolio``): each
    family's first, then each family's second, and so on, so that a short budget still
    tries every family once."""
    points = [
        [{"family": name, **point} for point in family_class(name).search_portfolio]
        for name in families
    ]
    depth = max((len(p) for p in points), default=0)
    return [p[i] for i in range(depth) for p in points if i < len(p)]


@dataclass
class AutoConfig(JsonMixin):
    """An Auto search.

    Attributes
    ----------
    base : TrainConfig
        Data, target, sensitive columns, seed and split; ``model``/``params`` are searched.
    budget_s : float
        Seconds of search; the winner's final training and explanation follow.
    metric : str, optional
        Validation metric to optimise: ``roc_auc`` (binary default), ``accuracy``
        (multiclass default), ``f1``, ``r2`` (regression default), ``rmse``, ``mae``.
    families : list of str
        Model families to search. When empty (the default), those whose class says Auto searches
        them, for what the data set is: its table columns (the MLP is opt-in: it is slow
        for its gain on tables), or, for a data set with a text column (or a text family
        as ``base.model``), the text families that suit the texts' language (the
        ``ngram`` baseline first; MiniLM Quick for English).
    fairness_metric : str
        ``demographic_parity_difference`` or ``equalized_odds_difference``.
    fairness_limit : float, optional
        When set, models whose largest gap over the sensitive columns (on
        validation) exceeds it rank after every model that meets it.
    max_trials : int, optional
        Stop after this many trials even if time is left.
    refit : bool
        Train the winner on the training and validation parts together (LightGBM
        with the boosting rounds its trial kept). False trains the very model its
        trial scored. The MLP, whose epochs early stopping picks, is never refitted.
    ray_address : str, optional
        Run the trials in parallel with Ray Tune on this cluster: ``auto`` (this
        machine is a node, or a Ray job runs the search), ``ray://head:10001``
        (Ray Client) or ``local`` (start Ray here). Without it, ``LEPTON_RAY_ADDRESS``
        selects Ray; without either, trials run one by one in this process.
    parallel_trials : int, optional
        Trials running at once on Ray; by default one per CPU of the cluster.
    ensemble : bool
        Register a weighted ensemble of the best trials (greedy ensemble selection on
        their validation outputs) instead of the best trial when it scores better on
        validation and meets the fairness limit (tables only).
    """

    base: TrainConfig
    budget_s: float = 60.0
    metric: str | None = None
    families: list[str] = field(default_factory=list)
    fairness_metric: str = "demographic_parity_difference"
    fairness_limit: float | None = None
    max_trials: int | None = None
    refit: bool = True
    ray_address: str | None = None
    parallel_trials: int | None = None
    ensemble: bool = True


@dataclass
class AutoResult(JsonMixin):
    """A finished search: the ranked leaderboard and the winner's run.

    ``leaderboard`` rows hold ``rank``, ``trial``, ``model``, ``params``,
    ``score`` (validation metric), ``gap`` (largest fairness gap on validation),
    ``fairness`` (gap per sensitive column), ``meets_limit``, ``rounds`` (the boosting
    rounds or epochs early stopping kept, else None) and ``seconds``.
    ``constraint_met`` is None without a fairness limit. ``backend`` is
    ``"optuna"`` (in process) or ``"ray"``; ``refitted`` says whether the winner
    learnt from the validation part too. For text, ``language`` is the guess at the
    texts' language that chose the families, and ``notes`` say, in sentences for the
    person, what was left out and why, and how the winner compares with the ``ngram``
    baseline when it is not the best-scoring model or the baseline did not finish.
    ``ensemble`` is set when the winner is a weighted ensemble of trials: its
    ``members`` (``trial``, ``family``, ``params``, ``rounds``, ``weight``) and its
    validation ``score``, ``gap`` and ``fairness``.
    """

    config: AutoConfig
    metric: str
    leaderboard: list[dict[str, Any]]
    n_trials: int
    search_seconds: float
    constraint_met: bool | None
    winner: TrainResult
    backend: str = "optuna"
    refitted: bool = False
    language: TextLanguage | None = None
    notes: list[str] = field(default_factory=list)
    ensemble: dict[str, Any] | None = None


def default_metric(task: str) -> str:
    """The validation metric Auto optimises by default for ``task``."""
    return {"binary": "roc_auc", "multiclass": "accuracy"}.get(task, "r2")


def check_config(
    config: AutoConfig, task: str, families: list[str] | None = None, reads: str = "table"
) -> str:
    """The metric the search ranks by; raises TrainingError for settings it cannot use.

    ``families`` are those to be searched (default: the config's), all reading ``reads``.
    """
    families = config.families if families is None else families
    metric = config.metric or default_metric(task)
    allowed = ("accuracy", "roc_auc", "f1") if is_classification(task) else ("r2", "rmse", "mae")  # type: ignore[arg-type]
    if reads == "text" and not is_classification(task):  # type: ignore[arg-type]
        raise TrainingError(Message("runs.text_regression"))
    if metric not in allowed:
        raise TrainingError(
            Message("runs.bad_metric", task=task, metric=metric, allowed=", ".join(allowed))
        )
    searchable = family_names(reads=reads, searchable=True)
    unknown = [f for f in families if f not in searchable]
    if unknown or not families:
        raise TrainingError(
            Message("runs.bad_families", families=str(unknown or "[]"), known=", ".join(searchable))
        )
    if not config.budget_s > 0:
        raise TrainingError(Message("runs.no_budget"))
    if config.parallel_trials is not None and config.parallel_trials < 1:
        raise TrainingError(Message("runs.parallel_trials"))
    if config.fairness_limit is not None:
        if config.fairness_metric not in FAIRNESS_LIMITS:
            raise TrainingError(
                Message(
                    "runs.bad_limit",
                    metric=str(config.fairness_metric),
                    allowed=", ".join(FAIRNESS_LIMITS),
                )
            )
        if not is_classification(task):  # type: ignore[arg-type]
            raise TrainingError(Message("runs.limit_regression"))
    return metric


def trial_spec(trial: Any, families: tuple[str, ...], task: str) -> dict[str, Any]:
    """One trial's family and model parameters: the whole search space, for both backends."""
    family = trial.suggest_categorical("family", list(families))
    return {"family": family, "params": family_class(family).search_space(trial, task)}


def sampler(seed: int, *, parallel: bool) -> Any:
    import optuna

    with warnings.catch_warnings():
        # multivariate/group TPE and the constant liar are flagged experimental in Optuna.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # The constant liar keeps parallel trials from proposing the same region at once.
        return optuna.samplers.TPESampler(
            seed=seed, multivariate=True, group=True, constant_liar=parallel
        )


@dataclass
class TrialData:
    """What a trial sees: the training and validation parts, never the test part."""

    task: str
    metric: str
    fairness_metric: str
    seed: int
    x_train: pd.DataFrame
    y_train: np.ndarray
    x_valid: pd.DataFrame
    y_valid: np.ndarray
    groups: pd.DataFrame  # the sensitive columns of the validation part

    @classmethod
    def from_prepared(cls, data: PreparedData, config: AutoConfig, metric: str) -> TrialData:
        target, split = data.info.target, data.split
        return cls(
            task=data.info.task,
            metric=metric,
            fairness_metric=config.fairness_metric,
            seed=config.base.seed,
            x_train=data.x_train,
            y_train=split.train[target].to_numpy(),
            x_valid=data.x_valid,
            y_valid=split.valid[target].to_numpy(),
            groups=split.valid[list(data.info.sensitive)].reset_index(drop=True),
        )


def run_trial(
    data: TrialData, family: str, params: dict[str, Any], deadline: float
) -> dict[str, Any] | None:
    """Fit on the training part and score on validation; None when the budget cut it short.

    Returns ``score`` (None when the metric is undefined), ``gap``, ``fairness``
    (gap per sensitive column), ``rounds`` (boosting rounds or epochs kept by
    early stopping, else None), ``seconds`` and ``output`` (the validation probabilities
    of the positive class or of every class, or the predictions, which Auto's ensemble
    averages). Raises LeptonError when the model fails.
    Gaps follow the rule of the test figures (:func:`~lepton_core.evaluation.fairness_report`):
    only groups with at least ``min_group_rows`` validation rows count, and a column with
    fewer than two such groups has no gap (None).
    """
    task = data.task

    def out_of_time(step: int, total: int | None, logs: dict[str, float]) -> bool:
        return time.time() > deadline

    t0 = time.time()
    model = make_model(family, task, seed=data.seed, **params)  # type: ignore[arg-type]
    if hasattr(model, "fit_deadline"):
        # A family whose long passes give no progress steps (text embeddings) stops too.
        model.fit_deadline = deadline
    model.fit(
        data.x_train, data.y_train, X_valid=data.x_valid, y_valid=data.y_valid, progress=out_of_time
    )
    if time.time() > deadline:
        # Cut short by the budget: its model is not the one train() would rebuild.
        return None
    classify = is_classification(task)  # type: ignore[arg-type]
    pred, proba = model.predict_scored(data.x_valid)
    classes = list(model.classes_) if classify else None
    return {
        **validation_figures(data, pred, proba, classes),
        "rounds": model.best_iteration_,
        "seconds": round(time.time() - t0, 2),
        # What an ensemble of trials averages (greedy selection in _fusion).
        "output": (
            pred.astype(float) if proba is None else proba[:, 1] if task == "binary" else proba
        ),
    }


def validation_figures(
    data: TrialData, pred: np.ndarray, proba: np.ndarray | None, classes: list | None
) -> dict[str, Any]:
    """A trial's (or an ensemble's) ``score``, ``gap`` and ``fairness`` on validation."""
    task = data.task
    classify = classes is not None
    # No intervals: a trial is ranked by its score; the winner's test figures get them.
    report = evaluate(data.y_valid, pred, task=task, y_proba=proba, classes=classes, n_resamples=0)  # type: ignore[arg-type]
    score = report.metrics.get(data.metric)
    gaps: dict[str, float | None] = {}
    if classify and not data.groups.empty:
        positive = classes[1] if task == "binary" and classes else None
        for r in fairness_reports(
            data.y_valid,
            pred,
            sensitive_features=data.groups,
            task=task,  # type: ignore[arg-type]
            positive_label=positive,
        ):
            gaps[r.attribute] = r.summary()[data.fairness_metric]
    known = [g for g in gaps.values() if g is not None]
    return {
        "score": score if score is not None and math.isfinite(score) else None,
        "gap": max(known) if known else None,
        "fairness": gaps,
    }


def constraint(outcome: dict[str, Any], limit: float) -> float:
    # Feasible when <= 0; TPE then samples near models that meet the limit.
    return (outcome["gap"] if outcome["gap"] is not None else 0.0) - limit


def _rank(rows: list[dict[str, Any]], *, higher: bool, limited: bool) -> list[dict[str, Any]]:
    def key(row: dict[str, Any]) -> tuple[float, ...]:
        score = row["score"] if higher else -row["score"]
        if not limited:
            return (-score,)
        gap = row["gap"] if row["gap"] is not None else math.inf
        # Models within the limit first, by score; the others by how far over they are.
        return (0.0, -score) if row["meets_limit"] else (1.0, gap, -score)

    ranked = sorted((r for r in rows if r["score"] is not None), key=key)
    return [{**row, "rank": i} for i, row in enumerate(ranked, 1)]


class Board:
    """The leaderboard both backends fill: ranks finished trials and reports progress."""

    def __init__(
        self,
        config: AutoConfig,
        metric: str,
        cb: CallbackList,
        on_leaderboard: Callable[..., bool] | None,
    ) -> None:
        self.config, self.metric, self.cb, self.on_leaderboard = config, metric, cb, on_leaderboard
        self.started = time.time()
        self.rows: list[dict[str, Any]] = []
        self.ranked: list[dict[str, Any]] = []
        self.tried: dict[int, dict[str, Any]] = {}  # full-precision parameters by trial
        self.outputs: dict[int, np.ndarray] = {}  # validation outputs by trial, for ensembles
        # Trials run in processes the energy meter cannot see (Ray workers on another
        # machine or of a cluster started apart): their energy is not in the search's.
        self.uncounted = 0
        self.cancelled = False

    def add(
        self, number: int, n_trials: int, spec: dict[str, Any], outcome: dict[str, Any]
    ) -> bool:
        """Record one scored trial; returns True when the search should be cancelled."""
        limit = self.config.fairness_limit
        gap = outcome["gap"]
        self.tried[number] = spec
        self.uncounted += not _measurable(outcome.get("pid"))
        if outcome.get("output") is not None:
            self.outputs[number] = np.asarray(outcome["output"], dtype=float)
        self.rows.append(
            {
                "trial": number,
                "model": spec["family"],
                "params": {k: rounded(v) for k, v in spec["params"].items()},
                "score": outcome["score"],
                "gap": gap,
                "fairness": {k: rounded(v) for k, v in outcome["fairness"].items()},
                "meets_limit": None if limit is None else gap is not None and gap <= limit,
                "rounds": outcome["rounds"],
                "seconds": outcome["seconds"],
            }
        )
        self.ranked = _rank(self.rows, higher=DIRECTIONS[self.metric], limited=limit is not None)
        best = self.ranked[0]["score"]
        self.cb.step(
            len(self.rows),
            None,
            {f"valid_{self.metric}": outcome["score"], f"best_{self.metric}": best},
        )
        if self.on_leaderboard is not None:
            self.cancelled = bool(
                self.on_leaderboard(
                    leaderboard=self.ranked[:BOARD_ROWS],
                    metric=self.metric,
                    fairness_metric=self.config.fairness_metric,
                    fairness_limit=limit,
                    budget_s=self.config.budget_s,
                    search_started=self.started,
                    trials=n_trials,
                )
            )
        self.cancelled = self.cancelled or self.cb.control.should_stop
        return self.cancelled


def _measurable(pid: int | None) -> bool:
    """Whether a trial's process (Ray Tune reports its ``pid``; none in process) is this
    one or one it started, the processes an :class:`~lepton_core.runs.EnergyMeter` measures."""
    if pid is None or pid == os.getpid():
        return True
    try:
        import psutil  # CodeCarbon's dependency: without it nothing is measured anyway
    except ImportError:
        return True
    try:
        return any(parent.pid == os.getpid() for parent in psutil.Process(pid).parents())
    except psutil.Error:  # gone, or on another machine
        return False


def search_in_process(config: AutoConfig, data: TrialData, board: Board, deadline: float) -> None:
    """Trials one after another in this process (Optuna's ask and tell)."""
    import optuna

    optuna.logging.set_verbosity(logging.WARNING)
    study = optuna.create_study(
        direction="maximize" if DIRECTIONS[data.metric] else "minimize",
        sampler=sampler(data.seed, parallel=False),
    )
    families = list(config.families)
    for point in portfolio(families):
        study.enqueue_trial(point)
    limit = config.fairness_limit
    asked = 0  # study.trials also counts the portfolio's queued trials
    while time.time() < deadline and not board.cancelled:
        if config.max_trials is not None and asked >= config.max_trials:
            break
        trial = study.ask()
        asked += 1
        spec = trial_spec(trial, tuple(families), data.task)
        try:
            outcome = run_trial(data, spec["family"], spec["params"], deadline)
        except LeptonError as exc:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            _log.warning("trial %d failed: %s", trial.number, exc)
            continue
        if outcome is None:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            break
        if limit is not None:
            trial.set_constraint(config.fairness_metric, constraint(outcome, limit))
        if outcome["score"] is None:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        study.tell(trial, outcome["score"])
        board.add(trial.number, asked, spec, outcome)


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__


def rounded(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value
