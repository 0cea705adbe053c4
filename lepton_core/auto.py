"""Auto mode: search model families and hyper-parameters within a time budget.

Optuna's TPE sampler proposes a family and its parameters; each trial fits on
the training part and is scored on the validation part only. The test part is
touched once, by the winner, which is trained, evaluated, explained and
registered by :func:`lepton_core.training.train` like any run (same seed, same
split, so the same model as its trial). An optional fairness limit (e.g.
demographic parity difference ≤ 0.1 on validation) turns the search into a
constrained one and ranks the models that meet it first.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from lepton_core._serde import JsonMixin
from lepton_core.callbacks import CallbackList, TrainerCallback
from lepton_core.evaluation import evaluate
from lepton_core.exceptions import LeptonError, TrainingError
from lepton_core.fairness import fairness_reports
from lepton_core.models import FAMILIES, make_model
from lepton_core.tasks import is_classification
from lepton_core.training import TrainConfig, TrainResult, prepare_data, train
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
    """

    base: TrainConfig
    budget_s: float = 60.0
    metric: str | None = None
    families: list[str] = field(default_factory=lambda: list(AUTO_FAMILIES))
    fairness_metric: str = "demographic_parity_difference"
    fairness_limit: float | None = None
    max_trials: int | None = None


@dataclass
class AutoResult(JsonMixin):
    """A finished search: the ranked leaderboard and the winner's run.

    ``leaderboard`` rows hold ``rank``, ``trial``, ``model``, ``params``,
    ``score`` (validation metric), ``gap`` (largest fairness gap on validation),
    ``fairness`` (gap per sensitive column), ``meets_limit`` and ``seconds``.
    ``constraint_met`` is None without a fairness limit.
    """

    config: AutoConfig
    metric: str
    leaderboard: list[dict[str, Any]]
    n_trials: int
    search_seconds: float
    constraint_met: bool | None
    winner: TrainResult


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
            "n_estimators": 3000,
            "early_stopping_rounds": 50,
            "learning_rate": trial.suggest_float("lgb_learning_rate", 0.02, 0.3, log=True),
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
        The search was cancelled, is misconfigured, or no trial produced a model.
    """
    import optuna

    workspace = workspace or Workspace()
    base = TrainConfig.from_dict(config.base.to_dict())  # resolve_dataset fills it in
    cb = CallbackList(callbacks)
    cb.phase("loading")
    cb.train_begin()
    # The same split train() makes from the same seed: the winner's validation part is ours.
    data = prepare_data(base, workspace)
    info, split = data.info, data.split
    sensitive = list(info.sensitive)
    task, target = info.task, info.target
    metric = _check(config, task)
    higher = _DIRECTIONS[metric]
    limit = config.fairness_limit
    x_train, x_valid = data.x_train, data.x_valid
    y_train, y_valid = split.train[target].to_numpy(), split.valid[target].to_numpy()
    groups = split.valid[sensitive].reset_index(drop=True)

    optuna.logging.set_verbosity(logging.WARNING)
    with warnings.catch_warnings():
        # multivariate/group TPE is flagged experimental in Optuna.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(
            seed=base.seed,
            multivariate=True,
            group=True,
        )
    study = optuna.create_study(direction="maximize" if higher else "minimize", sampler=sampler)
    if "lightgbm" in config.families:
        for params in _PORTFOLIO:
            study.enqueue_trial({"family": "lightgbm", **params})

    cb.phase("searching")
    started = time.time()
    deadline = started + config.budget_s
    rows: list[dict[str, Any]] = []
    tried: dict[int, dict[str, Any]] = {}  # full-precision parameters by trial number
    ranked: list[dict[str, Any]] = []
    cancelled = False

    def out_of_time(step: int, total: int | None, logs: dict[str, float]) -> bool:
        return time.time() > deadline

    while time.time() < deadline and not cancelled:
        if config.max_trials is not None and len(study.trials) >= config.max_trials:
            break
        trial = study.ask()
        family = trial.suggest_categorical("family", list(config.families))
        params = _suggest(trial, family, task)
        t0 = time.time()
        try:
            model = make_model(family, task, seed=base.seed, **params)  # type: ignore[arg-type]
            model.fit(x_train, y_train, X_valid=x_valid, y_valid=y_valid, progress=out_of_time)
        except LeptonError as exc:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            logging.getLogger(__name__).warning("trial %d failed: %s", trial.number, exc)
            continue
        if time.time() > deadline:
            # Cut short by the budget: its model is not the one train() would rebuild.
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            break
        pred = model.predict(x_valid)
        proba = model.predict_proba(x_valid) if is_classification(task) else None  # type: ignore[arg-type]
        classes = list(model.classes_) if is_classification(task) else None  # type: ignore[arg-type]
        report = evaluate(y_valid, pred, task=task, y_proba=proba, classes=classes)  # type: ignore[arg-type]
        score = report.metrics.get(metric)
        gaps: dict[str, float | None] = {}
        if sensitive and is_classification(task):  # type: ignore[arg-type]
            positive = classes[1] if task == "binary" and classes else None
            for r in fairness_reports(
                y_valid,
                pred,
                sensitive_features=groups,
                task=task,
                positive_label=positive,  # type: ignore[arg-type]
            ):
                gaps[r.attribute] = r.summary()[config.fairness_metric]
        known = [g for g in gaps.values() if g is not None]
        gap = max(known) if known else None
        if limit is not None:
            # Feasible when <= 0; TPE then samples near models that meet the limit.
            trial.set_constraint(config.fairness_metric, (gap if gap is not None else 0.0) - limit)
        if score is None or not math.isfinite(score):
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        study.tell(trial, score)
        tried[trial.number] = params
        rows.append(
            {
                "trial": trial.number,
                "model": family,
                "params": {k: _round(v) for k, v in params.items()},
                "score": score,
                "gap": gap,
                "fairness": {k: _round(v) for k, v in gaps.items()},
                "meets_limit": None if limit is None else gap is not None and gap <= limit,
                "seconds": round(time.time() - t0, 2),
            }
        )
        ranked = _rank(rows, higher=higher, limited=limit is not None)
        best = ranked[0]["score"]
        cb.step(len(rows), None, {f"valid_{metric}": score, f"best_{metric}": best})
        if on_leaderboard is not None:
            cancelled = on_leaderboard(
                leaderboard=ranked[:_BOARD_ROWS],
                metric=metric,
                fairness_metric=config.fairness_metric,
                fairness_limit=limit,
                budget_s=config.budget_s,
                search_started=started,
                trials=len(study.trials),
            )
        cancelled = cancelled or cb.control.should_stop
    if cancelled:
        raise TrainingError("The Auto search was cancelled; start it again when you are ready.")
    search_seconds = round(time.time() - started, 2)
    if not ranked:
        raise TrainingError(
            "No Auto trial finished within the budget; give it more time (e.g. 120 s)."
        )
    best = ranked[0]
    winner_config = replace(
        base,
        data=f"dataset:{info.id}",
        target=target,
        sensitive=sensitive,
        model=best["model"],
        params=tried[best["trial"]],
    )
    winner = train(winner_config, callbacks=callbacks, workspace=workspace)
    workspace.set_run_tags(
        winner.run_id,
        {"auto_metric": metric, "auto_trials": str(len(rows)), "auto_seconds": str(search_seconds)},
    )
    return AutoResult(
        config=config,
        metric=metric,
        leaderboard=ranked,
        n_trials=len(rows),
        search_seconds=search_seconds,
        constraint_met=None if limit is None else bool(best["meets_limit"]),
        winner=winner,
    )


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
