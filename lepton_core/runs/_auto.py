"""Auto mode: search model families and hyper-parameters within a time budget.

Optuna's TPE sampler proposes a family and its parameters; each trial fits on
the training part and is scored on the validation part only. Trials run one
after another in this process, or several at a time on a Ray cluster through
Ray Tune (``AutoConfig.ray_address`` or ``LEPTON_RAY_ADDRESS``); both share
one search space, one trial function and one leaderboard. The test part is
touched once, by the winner, which is trained, evaluated, explained and
registered by :func:`lepton_core.runs._training.train` like any run (same seed, same
test part). By default the winner is refitted on the training and validation
parts together, LightGBM with the number of boosting rounds its trial chose by
early stopping. An optional fairness limit (e.g. demographic parity difference
≤ 0.1 on validation) turns the search into a constrained one and ranks the
models that meet it first.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import (
    CallbackList,
    JsonMixin,
    LeptonError,
    TrainerCallback,
    TrainingError,
    is_classification,
)
from lepton_core.evaluation import evaluate, fairness_reports
from lepton_core.models import FAMILIES, make_model
from lepton_core.runs._training import (
    PreparedData,
    TrainConfig,
    TrainResult,
    prepare_data,
    split_run_data,
    train,
)
from lepton_core.workspace import Workspace

__all__ = [
    "AUTO_FAMILIES",
    "FAIRNESS_LIMITS",
    "AutoConfig",
    "AutoResult",
    "default_metric",
    "leaderboard_table",
    "run_auto",
]

AUTO_FAMILIES = ("lightgbm", "logistic", "tree")
FAIRNESS_LIMITS = ("demographic_parity_difference", "equalized_odds_difference")
_HIGHER_IS_BETTER = {"accuracy": True, "roc_auc": True, "f1": True, "r2": True}
_LOWER_IS_BETTER = {"rmse": False, "mae": False}
_DIRECTIONS = {**_HIGHER_IS_BETTER, **_LOWER_IS_BETTER}
_BOARD_ROWS = 20  # leaderboard rows kept in the job's progress
# A refitted winner's validation share: every validation row joins the training part.
_REFIT_VALID_SIZE = 0.0
_log = logging.getLogger(__name__)


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
        Model families to search (the MLP is opt-in: it is slow for its gain on tables).
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
    """

    base: TrainConfig
    budget_s: float = 60.0
    metric: str | None = None
    families: list[str] = field(default_factory=lambda: list(AUTO_FAMILIES))
    fairness_metric: str = "demographic_parity_difference"
    fairness_limit: float | None = None
    max_trials: int | None = None
    refit: bool = True
    ray_address: str | None = None
    parallel_trials: int | None = None


@dataclass
class AutoResult(JsonMixin):
    """A finished search: the ranked leaderboard and the winner's run.

    ``leaderboard`` rows hold ``rank``, ``trial``, ``model``, ``params``,
    ``score`` (validation metric), ``gap`` (largest fairness gap on validation),
    ``fairness`` (gap per sensitive column), ``meets_limit``, ``rounds`` (LightGBM's
    boosting rounds kept by early stopping, else None) and ``seconds``.
    ``constraint_met`` is None without a fairness limit. ``backend`` is
    ``"optuna"`` (in process) or ``"ray"``; ``refitted`` says whether the winner
    learnt from the validation part too.
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


def default_metric(task: str) -> str:
    """The validation metric Auto optimises by default for ``task``."""
    return {"binary": "roc_auc", "multiclass": "accuracy"}.get(task, "r2")


def _check(config: AutoConfig, task: str) -> str:
    metric = config.metric or default_metric(task)
    allowed = ("accuracy", "roc_auc", "f1") if is_classification(task) else ("r2", "rmse", "mae")  # type: ignore[arg-type]
    if metric not in allowed:
        raise TrainingError(
            f"Auto cannot rank {task} models by '{metric}'; pick one of {', '.join(allowed)}."
        )
    unknown = [f for f in config.families if f not in FAMILIES]
    if unknown or not config.families:
        raise TrainingError(
            f"Auto cannot search the families {unknown or '[]'}; pick from {', '.join(FAMILIES)}."
        )
    if not config.budget_s > 0:
        raise TrainingError("The time budget must be more than 0 seconds; give e.g. 60.")
    if config.parallel_trials is not None and config.parallel_trials < 1:
        raise TrainingError("parallel_trials must be at least 1; give e.g. 4, or leave it unset.")
    if config.fairness_limit is not None:
        if config.fairness_metric not in FAIRNESS_LIMITS:
            raise TrainingError(
                f"Auto cannot limit '{config.fairness_metric}'; "
                f"pick one of {', '.join(FAIRNESS_LIMITS)}."
            )
        if not is_classification(task):  # type: ignore[arg-type]
            raise TrainingError(
                "A fairness limit applies to classification; remove it for a regression target."
            )
    return metric


def _suggest(trial: Any, family: str, task: str) -> dict[str, Any]:
    """The search space of one family (a conditional space: names are per family)."""
    if family == "lightgbm":
        return {
            "n_estimators": 5000,
            "early_stopping_rounds": 50,
            "learning_rate": trial.suggest_float("lgb_learning_rate", 0.01, 0.3, log=True),
            "num_leaves": trial.suggest_int("lgb_num_leaves", 8, 256, log=True),
            "min_child_samples": trial.suggest_int("lgb_min_child_samples", 5, 200, log=True),
            "subsample": trial.suggest_float("lgb_subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("lgb_colsample_bytree", 0.3, 1.0),
            "reg_lambda": trial.suggest_float("lgb_reg_lambda", 1e-3, 10.0, log=True),
        }
    if family == "logistic":
        # C regularises the logistic regression, alpha the ridge: each for its task only.
        if is_classification(task):  # type: ignore[arg-type]
            return {"C": trial.suggest_float("lr_C", 1e-3, 100.0, log=True)}
        return {"alpha": trial.suggest_float("lr_alpha", 1e-3, 100.0, log=True)}
    if family == "tree":
        return {
            "max_depth": trial.suggest_int("tree_max_depth", 2, 12),
            "min_samples_leaf": trial.suggest_int("tree_min_samples_leaf", 1, 200, log=True),
        }
    return {
        "hidden_sizes": [trial.suggest_categorical("mlp_width", [32, 64, 128, 256])] * 2,
        "learning_rate": trial.suggest_float("mlp_learning_rate", 1e-4, 1e-2, log=True),
        "weight_decay": trial.suggest_float("mlp_weight_decay", 1e-5, 1e-1, log=True),
        "dropout": trial.suggest_float("mlp_dropout", 0.0, 0.5),
    }


def _space(trial: Any, families: tuple[str, ...], task: str) -> dict[str, Any]:
    """One trial's family and model parameters: the whole search space, for both backends."""
    family = trial.suggest_categorical("family", list(families))
    return {"family": family, "params": _suggest(trial, family, task)}


# Trials tried before the sampler's own: LightGBM's defaults (with early stopping), so
# Auto never ranks below them, then configurations that do well on many tables
# (a small "portfolio", as FLAML and AutoGluon start from): slower learning with
# row and column subsampling. With a short budget they matter more than sampling.
_PORTFOLIO = [
    {
        "lgb_learning_rate": 0.1,
        "lgb_num_leaves": 31,
        "lgb_min_child_samples": 20,
        "lgb_subsample": 1.0,
        "lgb_colsample_bytree": 1.0,
        "lgb_reg_lambda": 1e-3,
    },
    {
        "lgb_learning_rate": 0.05,
        "lgb_num_leaves": 31,
        "lgb_min_child_samples": 20,
        "lgb_subsample": 0.8,
        "lgb_colsample_bytree": 0.6,
        "lgb_reg_lambda": 1.0,
    },
    {
        "lgb_learning_rate": 0.05,
        "lgb_num_leaves": 64,
        "lgb_min_child_samples": 50,
        "lgb_subsample": 0.8,
        "lgb_colsample_bytree": 0.5,
        "lgb_reg_lambda": 3.0,
    },
]


def _sampler(seed: int, *, parallel: bool) -> Any:
    import optuna

    with warnings.catch_warnings():
        # multivariate/group TPE and the constant liar are flagged experimental in Optuna.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # The constant liar keeps parallel trials from proposing the same region at once.
        return optuna.samplers.TPESampler(
            seed=seed, multivariate=True, group=True, constant_liar=parallel
        )


@dataclass
class _TrialData:
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
    def from_prepared(cls, data: PreparedData, config: AutoConfig, metric: str) -> _TrialData:
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


def _run_trial(
    data: _TrialData, family: str, params: dict[str, Any], deadline: float
) -> dict[str, Any] | None:
    """Fit on the training part and score on validation; None when the budget cut it short.

    Returns ``score`` (None when the metric is undefined), ``gap``, ``fairness``
    (gap per sensitive column), ``rounds`` (boosting rounds kept by early
    stopping, else None) and ``seconds``. Raises LeptonError when the model fails.
    """
    task = data.task

    def out_of_time(step: int, total: int | None, logs: dict[str, float]) -> bool:
        return time.time() > deadline

    t0 = time.time()
    model = make_model(family, task, seed=data.seed, **params)  # type: ignore[arg-type]
    model.fit(
        data.x_train, data.y_train, X_valid=data.x_valid, y_valid=data.y_valid, progress=out_of_time
    )
    if time.time() > deadline:
        # Cut short by the budget: its model is not the one train() would rebuild.
        return None
    classify = is_classification(task)  # type: ignore[arg-type]
    pred = model.predict(data.x_valid)
    proba = model.predict_proba(data.x_valid) if classify else None
    classes = list(model.classes_) if classify else None
    report = evaluate(data.y_valid, pred, task=task, y_proba=proba, classes=classes)  # type: ignore[arg-type]
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
        "rounds": model.best_iteration_ if family == "lightgbm" else None,
        "seconds": round(time.time() - t0, 2),
    }


def _constraint(outcome: dict[str, Any], limit: float) -> float:
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


class _Board:
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
        self.cancelled = False

    def add(
        self, number: int, n_trials: int, spec: dict[str, Any], outcome: dict[str, Any]
    ) -> bool:
        """Record one scored trial; returns True when the search should be cancelled."""
        limit = self.config.fairness_limit
        gap = outcome["gap"]
        self.tried[number] = spec
        self.rows.append(
            {
                "trial": number,
                "model": spec["family"],
                "params": {k: _round(v) for k, v in spec["params"].items()},
                "score": outcome["score"],
                "gap": gap,
                "fairness": {k: _round(v) for k, v in outcome["fairness"].items()},
                "meets_limit": None if limit is None else gap is not None and gap <= limit,
                "rounds": outcome["rounds"],
                "seconds": outcome["seconds"],
            }
        )
        self.ranked = _rank(self.rows, higher=_DIRECTIONS[self.metric], limited=limit is not None)
        best = self.ranked[0]["score"]
        self.cb.step(
            len(self.rows),
            None,
            {f"valid_{self.metric}": outcome["score"], f"best_{self.metric}": best},
        )
        if self.on_leaderboard is not None:
            self.cancelled = bool(
                self.on_leaderboard(
                    leaderboard=self.ranked[:_BOARD_ROWS],
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


def run_auto(
    config: AutoConfig,
    *,
    callbacks: list[TrainerCallback] | None = None,
    workspace: Workspace | None = None,
    on_leaderboard: Callable[..., bool] | None = None,
) -> AutoResult:
    """Search within ``config.budget_s`` seconds, then train and register the winner.

    Parameters
    ----------
    on_leaderboard : callable, optional
        Called after every trial with keyword arguments ``leaderboard``, ``metric``,
        ``budget_s``, ``search_started`` and ``trials``; returning True cancels.

    Raises
    ------
    TrainingError
        The search was cancelled, is misconfigured, no trial produced a model, or
        the Ray cluster cannot be reached.
    """
    workspace = workspace or Workspace()
    base = TrainConfig.from_dict(config.base.to_dict())  # resolve_dataset fills it in
    cb = CallbackList(callbacks)
    cb.phase("loading")
    cb.train_begin()
    # The same split train() makes from the same seed: the winner's validation part is ours.
    data = prepare_data(base, workspace)
    info = data.info
    metric = _check(config, info.task)
    trial_data = _TrialData.from_prepared(data, config, metric)
    ray_address = _ray_address(config)

    cb.phase("searching")
    board = _Board(config, metric, cb, on_leaderboard)
    deadline = board.started + config.budget_s
    if ray_address:
        _search_ray(config, trial_data, board, deadline, ray_address)
    else:
        _search_in_process(config, trial_data, board, deadline)
    if board.cancelled:
        raise TrainingError("The Auto search was cancelled; start it again when you are ready.")
    search_seconds = round(time.time() - board.started, 2)
    if not board.ranked:
        raise TrainingError(
            "No Auto trial finished within the budget; give it more time (e.g. 120 s)."
        )
    best = board.ranked[0]
    winner_config = replace(
        base,
        data=f"dataset:{info.id}",
        target=info.target,
        sensitive=list(info.sensitive),
        model=best["model"],
        params=board.tried[best["trial"]]["params"],
    )
    refitted = False
    if config.refit:
        refit_config = _refit_config(winner_config, best["rounds"], data, workspace)
        refitted = refit_config is not None
        winner_config = refit_config or winner_config
    winner = train(winner_config, callbacks=callbacks, workspace=workspace)
    workspace.set_run_tags(
        winner.run_id,
        {
            "auto_metric": metric,
            "auto_trials": str(len(board.rows)),
            "auto_seconds": str(search_seconds),
            "auto_backend": "ray" if ray_address else "optuna",
            "auto_refit": str(refitted).lower(),
        },
    )
    return AutoResult(
        config=config,
        metric=metric,
        leaderboard=board.ranked,
        n_trials=len(board.rows),
        search_seconds=search_seconds,
        constraint_met=None if config.fairness_limit is None else bool(best["meets_limit"]),
        winner=winner,
        backend="ray" if ray_address else "optuna",
        refitted=refitted,
    )


def _search_in_process(
    config: AutoConfig, data: _TrialData, board: _Board, deadline: float
) -> None:
    """Trials one after another in this process (Optuna's ask and tell)."""
    import optuna

    optuna.logging.set_verbosity(logging.WARNING)
    study = optuna.create_study(
        direction="maximize" if _DIRECTIONS[data.metric] else "minimize",
        sampler=_sampler(data.seed, parallel=False),
    )
    if "lightgbm" in config.families:
        for params in _PORTFOLIO:
            study.enqueue_trial({"family": "lightgbm", **params})
    limit = config.fairness_limit
    asked = 0  # study.trials also counts the portfolio's queued trials
    while time.time() < deadline and not board.cancelled:
        if config.max_trials is not None and asked >= config.max_trials:
            break
        trial = study.ask()
        asked += 1
        spec = _space(trial, tuple(config.families), data.task)
        try:
            outcome = _run_trial(data, spec["family"], spec["params"], deadline)
        except LeptonError as exc:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            _log.warning("trial %d failed: %s", trial.number, exc)
            continue
        if outcome is None:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            break
        if limit is not None:
            trial.set_constraint(config.fairness_metric, _constraint(outcome, limit))
        if outcome["score"] is None:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        study.tell(trial, outcome["score"])
        board.add(trial.number, asked, spec, outcome)


def _tune_trial(config: dict[str, Any], *, data: _TrialData, deadline: float) -> None:
    """One Ray Tune trial: the in-process trial function, its outcome reported to Tune."""
    from ray import tune

    try:
        outcome = _run_trial(data, config["family"], config["params"], deadline)
    except LeptonError as exc:
        tune.report({"score": None, "error": str(exc)})
        return
    # A trial cut short by the budget reports no score: the searcher marks it pruned.
    tune.report(outcome or {"score": None})


def _ray_address(config: AutoConfig) -> str | None:
    """The Ray cluster to run trials on, or None to run them in this process."""
    address = config.ray_address or os.environ.get("LEPTON_RAY_ADDRESS")
    if not address and "RAY_JOB_CONFIG_JSON_ENV_VAR" in os.environ:
        # This search is a Ray job (LEPTON_RAY_ADDRESS sent it there): use its cluster.
        address = os.environ.get("RAY_ADDRESS")
    return address or None


def _connect_ray(address: str) -> bool:
    """Join the Ray cluster at ``address``; True when this call started the session."""
    import ray

    if ray.is_initialized():
        return False  # e.g. a notebook or a test that called ray.init itself
    if address.startswith(("http://", "https://")) and not os.environ.get("RAY_ADDRESS"):
        raise TrainingError(
            f"{address} is a Ray dashboard address, which runs jobs, not Tune trials; start "
            "Auto as a job (it runs on the cluster), or set ray_address to the cluster "
            "(ray://head:10001, or auto on a node)."
        )
    try:
        if address == "local":
            ray.init(configure_logging=False, log_to_driver=False)
        elif address.startswith(("http://", "https://")):
            # A Ray job's driver: Ray set RAY_ADDRESS to the cluster it runs on.
            ray.init(configure_logging=False, log_to_driver=False)
        else:
            ray.init(address=address, configure_logging=False, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise TrainingError(
            f"The Ray cluster at {address} does not answer ({exc}); check the address "
            "(ray://head:10001, auto, local) or leave it unset to search in this process."
        ) from exc
    return True


def _search_ray(
    config: AutoConfig, data: _TrialData, board: _Board, deadline: float, address: str
) -> None:
    """Trials in parallel on a Ray cluster: Ray Tune with Optuna's TPE as its searcher."""
    try:
        import ray
        from ray import tune
        from ray.tune.search.optuna import OptunaSearch
    except ImportError as exc:
        raise TrainingError(
            "Auto on Ray needs Ray Tune; pip install 'ray[default,tune]', "
            "or unset LEPTON_RAY_ADDRESS to search in this process."
        ) from exc
    import optuna

    optuna.logging.set_verbosity(logging.WARNING)
    limit = config.fairness_limit
    mode = "max" if _DIRECTIONS[data.metric] else "min"

    class Searcher(OptunaSearch):
        """OptunaSearch that numbers trials as Optuna does and adds the fairness constraint."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.numbers: dict[str, int] = {}  # Tune's trial id -> Optuna's trial number

        def suggest(self, trial_id: str) -> dict | None:
            suggested = super().suggest(trial_id)
            self.numbers[trial_id] = self._ot_trials[trial_id].number
            return suggested

        def on_trial_result(self, trial_id: str, result: dict) -> None:
            # A failed trial or one the budget cut short reports no score to pass on.
            if result.get("score") is not None:
                super().on_trial_result(trial_id, result)

        def on_trial_complete(
            self, trial_id: str, result: dict | None = None, error: bool = False
        ) -> None:
            # OptunaSearch tells Optuna the score only; TPE also needs the fairness gap.
            if limit is not None and result and result.get("score") is not None:
                self._ot_trials[trial_id].set_constraint(
                    config.fairness_metric, _constraint(result, limit)
                )
            super().on_trial_complete(trial_id, result, error)

    class Progress(tune.Callback):
        """Runs in this process: fills the leaderboard as trials report."""

        def on_trial_result(
            self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
        ) -> None:
            number = searcher.numbers[trial.trial_id]
            if result.get("score") is None:
                if result.get("error"):
                    _log.warning("trial %d failed: %s", number, result["error"])
                return
            spec = {"family": trial.config["family"], "params": trial.config["params"]}
            board.add(number, len(searcher.numbers), spec, result)

    class Cancel(tune.Stopper):
        def __call__(self, trial_id: str, result: dict) -> bool:
            return False

        def stop_all(self) -> bool:
            return board.cancelled

    points = (
        [{"family": "lightgbm", **p} for p in _PORTFOLIO] if "lightgbm" in config.families else []
    )
    searcher = Searcher(
        space=functools.partial(_space, families=tuple(config.families), task=data.task),
        metric="score",
        mode=mode,
        points_to_evaluate=points,
        sampler=_sampler(data.seed, parallel=True),
    )
    started_ray = _connect_ray(address)
    try:
        parallel = config.parallel_trials or max(1, int(ray.cluster_resources().get("CPU", 1)))
        # The data go to the object store once; every trial reads them from there.
        trainable = tune.with_resources(
            tune.with_parameters(_tune_trial, data=data, deadline=deadline), {"cpu": 1}
        )
        with tempfile.TemporaryDirectory(prefix="lepton-tune-") as storage:
            tuner = tune.Tuner(
                trainable,
                tune_config=tune.TuneConfig(
                    search_alg=searcher,
                    num_samples=config.max_trials or -1,
                    max_concurrent_trials=parallel,
                    time_budget_s=max(deadline - time.time(), 0.001),
                    reuse_actors=True,  # a worker imports lepton_core once, not per trial
                ),
                run_config=tune.RunConfig(
                    name="lepton-auto",
                    storage_path=storage,
                    stop=Cancel(),
                    callbacks=[Progress()],
                    verbose=0,
                ),
            )
            tuner.fit()
    except (RuntimeError, tune.TuneError, ray.exceptions.RayError) as exc:
        # Trial errors stay in Tune; this is the cluster failing (e.g. workers killed).
        raise TrainingError(
            f"The Auto trials on Ray failed ({_first_line(exc)}); check the "
            "cluster's resources and logs, or unset LEPTON_RAY_ADDRESS to search in this process."
        ) from exc
    finally:
        if started_ray:
            ray.shutdown()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__


def _refit_config(
    winner: TrainConfig, rounds: int | None, data: PreparedData, workspace: Workspace
) -> TrainConfig | None:
    """The winner trained on training and validation rows, or None when it cannot be.

    LightGBM keeps the boosting rounds early stopping chose in its trial, as there
    is no validation left to stop on; the test part must not change.
    """
    params = dict(winner.params)
    if winner.model == "mlp":
        return None  # its epochs are chosen by early stopping on validation
    if winner.model == "lightgbm":
        if not rounds:
            return None
        params.update(n_estimators=int(rounds), early_stopping_rounds=None)
    refit = replace(winner, params=params, valid_size=_REFIT_VALID_SIZE)
    split = split_run_data(refit, data.info, *workspace.load_dataset(data.info.id))
    # The split draws the test rows first, so they stay the same unless a class is tiny.
    if not split.test.equals(data.split.test):
        return None
    return refit


def _round(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


def leaderboard_table(progress: dict[str, Any]) -> pd.DataFrame:
    """A job's live leaderboard (from its progress) as a table to show, best first."""
    rows = progress.get("leaderboard") or []
    metric = progress.get("metric", "score")
    gap_name = {
        "demographic_parity_difference": "parity gap (DPD)",
        "equalized_odds_difference": "odds gap (EOD)",
    }.get(progress.get("fairness_metric", ""), "fairness gap")
    table = pd.DataFrame(
        {
            "rank": [r["rank"] for r in rows],
            "model": [r["model"] for r in rows],
            f"validation {metric}": [r["score"] for r in rows],
            f"{gap_name}, worst column": [r["gap"] for r in rows],
            "by column": [
                ", ".join(f"{k} {v:.3f}" for k, v in r["fairness"].items() if v is not None)
                for r in rows
            ],
            "seconds": [r["seconds"] for r in rows],
            "params": [
                ", ".join(f"{k}={v}" for k, v in r["params"].items() if k not in _FIXED)
                for r in rows
            ],
        }
    )
    if progress.get("fairness_limit") is not None:
        table.insert(4, "within limit", [bool(r["meets_limit"]) for r in rows])
    return table


_FIXED = ("n_estimators", "early_stopping_rounds")  # the same in every LightGBM trial
