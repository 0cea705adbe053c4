"""Auto's trials in parallel on a Ray cluster: Ray Tune with Optuna's TPE as its searcher."""

from __future__ import annotations

import functools
import logging
import os
import tempfile
import time
from typing import Any

from lepton_core.core import LeptonError, Message, TrainingError
from lepton_core.runs._search import (
    DIRECTIONS,
    AutoConfig,
    Board,
    TrialData,
    constraint,
    first_line,
    portfolio,
    run_trial,
    sampler,
    trial_spec,
)

__all__ = ["ray_address", "search_ray"]

_log = logging.getLogger(__name__)


def tune_trial(config: dict[str, Any], *, data: TrialData, deadline: float) -> None:
    """One Ray Tune trial: the in-process trial function, its outcome reported to Tune."""
    from ray import tune

    try:
        outcome = run_trial(data, config["family"], config["params"], deadline)
    except LeptonError as exc:
        tune.report({"score": None, "error": str(exc)})
        return
    # A trial cut short by the budget reports no score: the searcher marks it pruned.
    if outcome is None:
        tune.report({"score": None})
        return
    # Results travel as JSON-safe values; the leaderboard keeps the output for ensembles.
    tune.report({**outcome, "output": outcome["output"].tolist()})


def ray_address(config: AutoConfig) -> str | None:
    """The Ray cluster to run trials on, or None to run them in this process."""
    address = config.ray_address or os.environ.get("LEPTON_RAY_ADDRESS")
    if not address and "RAY_JOB_CONFIG_JSON_ENV_VAR" in os.environ:
        # This search is a Ray job (LEPTON_RAY_ADDRESS sent it there): use its cluster.
        address = os.environ.get("RAY_ADDRESS")
    return address or None


def connect_ray(address: str) -> bool:
    """Join the Ray cluster at ``address``; True when this call started the session."""
    import ray

    if ray.is_initialized():
        return False  # e.g. a notebook or a test that called ray.init itself
    if address.startswith(("http://", "https://")) and not os.environ.get("RAY_ADDRESS"):
        raise TrainingError(Message("runs.ray_dashboard", address=address))
    try:
        if address == "local":
            ray.init(configure_logging=False, log_to_driver=False)
        elif address.startswith(("http://", "https://")):
            # A Ray job's driver: Ray set RAY_ADDRESS to the cluster it runs on.
            ray.init(configure_logging=False, log_to_driver=False)
        else:
            ray.init(address=address, configure_logging=False, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise TrainingError(Message("runs.ray_silent", address=address, error=str(exc))) from exc
    return True


def search_ray(
    config: AutoConfig, data: TrialData, board: Board, deadline: float, address: str
) -> None:
    """Trials in parallel on a Ray cluster: Ray Tune with Optuna's TPE as its searcher."""
    try:
        import ray
        from ray import tune
        from ray.tune.search.optuna import OptunaSearch
    except ImportError as exc:
        raise TrainingError(Message("runs.ray_tune")) from exc
    import optuna

    optuna.logging.set_verbosity(logging.WARNING)
    limit = config.fairness_limit
    mode = "max" if DIRECTIONS[data.metric] else "min"

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
                    config.fairness_metric, constraint(result, limit)
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

    points = portfolio(config.families)
    searcher = Searcher(
        space=functools.partial(trial_spec, families=tuple(config.families), task=data.task),
        metric="score",
        mode=mode,
        points_to_evaluate=points,
        sampler=sampler(data.seed, parallel=True),
    )
    started_ray = connect_ray(address)
    try:
        parallel = config.parallel_trials or max(1, int(ray.cluster_resources().get("CPU", 1)))
        # The data go to the object store once; every trial reads them from there.
        trainable = tune.with_resources(
            tune.with_parameters(tune_trial, data=data, deadline=deadline), {"cpu": 1}
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
        raise TrainingError(Message("runs.ray_failed", error=first_line(exc))) from exc
    finally:
        if started_ray:
            ray.shutdown()
