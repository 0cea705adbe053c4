"""Auto mode: search model families and hyper-parameters within a time budget.

Optuna's TPE sampler proposes a family and its parameters; each trial fits on
the training part and is scored on the validation part only. Trials run one
after another in this process, or several at a time on a Ray cluster through
Ray Tune (``AutoConfig.ray_address`` or ``LEPTON_RAY_ADDRESS``); both share
one search space, one trial function and one leaderboard. The test part is
touched once, by the winner, which is trained, evaluated, explained and
registered by :func:`lepton_core.runs.train` like any run (same seed, same
test part). By default the winner is refitted on the training and validation
parts together, LightGBM with the number of boosting rounds its trial chose by
early stopping. An optional fairness limit (e.g. demographic parity difference
≤ 0.1 on validation) turns the search into a constrained one and ranks the
models that meet it first. A weighted ensemble of the best trials (greedy ensemble
selection on their validation outputs, :mod:`._fusion`) is registered instead of the
best trial when it scores better on validation and meets the fairness limit.

**Energy.** The search (reading the data, every trial, choosing an ensemble) is
measured apart from the winner's training, and the winner's run stores both
(:func:`lepton_core.runs._energy.with_search`): its figure is what the model cost, and
says how much of that the search used. Trials in this process or on a Ray instance it
started are measured; trials on Ray workers it did not start (another machine, a
cluster started apart) are not, and the report says so rather than show a part.

**Text.** A data set with a text column (or a search over text families) gets
Text Auto: the same search over the text families that suit the texts'
language (:func:`lepton_core.text.detect_language`): the ``ngram`` family
always, its defaults as the first trial (the seconds-long baseline), and
MiniLM's Quick mode for English. The result's ``notes`` say what was left out
and why, and when the winner scores below that baseline on validation (a
fairness limit can rank it first) or the baseline did not finish.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from lepton_core.core import CallbackList, LeptonError, Message, TrainerCallback, TrainingError
from lepton_core.models import family_class, family_title
from lepton_core.runs._energy import EnergyMeter, EnergyReport, record_energy, with_search
from lepton_core.runs._fusion import auto_ensemble, refit_members, train_ensemble
from lepton_core.runs._search import (
    DIRECTIONS,
    AutoConfig,
    AutoResult,
    Board,
    TrialData,
    check_config,
    default_families,
    language_note,
    portfolio,
    search_in_process,
)
from lepton_core.runs._search_ray import ray_address, search_ray
from lepton_core.runs._training import (
    PreparedData,
    TrainConfig,
    TrainResult,
    prepare_data,
    split_run_data,
    train,
)
from lepton_core.text import TextLanguage, default_text_family, detect_language
from lepton_core.workspace import Workspace

__all__ = ["leaderboard_table", "run_auto"]

_log = logging.getLogger(__name__)
# A refitted winner's validation share: every validation row joins the training part.
_REFIT_VALID_SIZE = 0.0


def run_auto(
    config: AutoConfig,
    *,
    callbacks: list[TrainerCallback] | None = None,
    workspace: Workspace | None = None,
    on_leaderboard: Callable[..., bool] | None = None,
) -> AutoResult:
    """Search within ``config.budget_s`` seconds, then train and register the winner,
    with the energy the search and the winner's training used.

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
    meter = EnergyMeter().start()
    try:
        found = _search(config, callbacks, workspace, on_leaderboard)
    finally:  # stopped on failure too: CodeCarbon's timer thread would outlive the search
        search_energy = meter.stop()
    config, board, metric = found.config, found.board, found.metric
    best = board.ranked[0]
    refitted = False
    ensemble = found.ensemble
    if ensemble is not None:
        winner, refitted = _train_ensemble(
            config, found.winner, ensemble, found.data, callbacks, workspace
        )
    else:
        winner_config = found.winner
        if config.refit:
            refit_config = _refit_config(winner_config, best["rounds"], found.data, workspace)
            refitted = refit_config is not None
            winner_config = refit_config or winner_config
        winner = train(winner_config, callbacks=callbacks, workspace=workspace)
    if winner.energy is not None:  # train() stored the winner's own; add the search's
        winner.energy = with_search(winner.energy, _search_part(search_energy, board))
        record_energy(workspace, winner.run_id, winner.energy)
    backend = "ray" if found.address else "optuna"
    workspace.set_run_tags(
        winner.run_id,
        {
            "auto_metric": metric,
            "auto_trials": str(len(board.rows)),
            "auto_seconds": str(found.seconds),
            "auto_backend": backend,
            "auto_refit": str(refitted).lower(),
            **({"auto_ensemble": str(len(ensemble["members"]))} if ensemble else {}),
            **({"auto_language": str(found.language.name)} if found.language else {}),
            **({"auto_notes": " ".join(found.notes)[:2000]} if found.notes else {}),
        },
    )
    return AutoResult(
        config=config,
        metric=metric,
        leaderboard=board.ranked,
        n_trials=len(board.rows),
        search_seconds=found.seconds,
        constraint_met=None if config.fairness_limit is None else bool(best["meets_limit"]),
        winner=winner,
        backend=backend,
        refitted=refitted,
        language=found.language,
        notes=found.notes,
        ensemble=ensemble,
    )


@dataclass
class _Found:
    """What the search found: its settings and leaderboard, and the winner to train."""

    config: AutoConfig
    metric: str
    board: Board
    data: PreparedData
    winner: TrainConfig  # the best trial's family and parameters, before any refit
    ensemble: dict[str, Any] | None
    address: str | None
    seconds: float
    language: TextLanguage | None
    notes: list[str]


def _search(
    config: AutoConfig,
    callbacks: list[TrainerCallback] | None,
    workspace: Workspace,
    on_leaderboard: Callable[..., bool] | None,
) -> _Found:
    """Read the data, run the trials and choose the winner (an ensemble when it helps)."""
    base = TrainConfig.from_dict(config.base.to_dict())  # resolve_dataset fills it in
    base.model = base.model or "lightgbm"  # Auto picks families itself (below)
    reads = _reads(config, workspace)
    if reads == "text" and not _reads_text(base.model):
        base.model = default_text_family()  # prepare_data then keeps the text column
    cb = CallbackList(callbacks)
    cb.phase("loading")
    cb.train_begin()
    # The same split train() makes from the same seed: the winner's validation part is ours.
    data = prepare_data(base, workspace)
    info = data.info
    language = detect_language(data.x_train.iloc[:, 0]) if reads == "text" else None
    families, notes = _families(config, reads, language)
    metric = check_config(config, info.task, families, reads)
    config = replace(config, families=families)
    trial_data = TrialData.from_prepared(data, config, metric)
    address = ray_address(config)

    cb.phase("searching")
    board = Board(config, metric, cb, on_leaderboard)
    deadline = board.started + config.budget_s
    if address:
        search_ray(config, trial_data, board, deadline, address)
    else:
        search_in_process(config, trial_data, board, deadline)
    if board.cancelled:
        raise TrainingError(Message("runs.auto_cancelled"))
    search_seconds = round(time.time() - board.started, 2)
    if not board.ranked:
        raise TrainingError(Message("runs.auto_no_trial"))
    best = board.ranked[0]
    if reads == "text":
        notes += _baseline_notes(config, board, metric)
    for note in notes:
        _log.info("Text Auto: %s", note)
    winner = replace(
        base,
        data=f"dataset:{info.id}",
        target=info.target,
        sensitive=list(info.sensitive),
        model=best["model"],
        params=board.tried[best["trial"]]["params"],
    )
    ensemble = auto_ensemble(config, trial_data, board, metric) if config.ensemble else None
    return _Found(
        config, metric, board, data, winner, ensemble, address, search_seconds, language, notes
    )


def _search_part(measured: EnergyReport, board: Board) -> EnergyReport:
    """The search's energy report, or why it is not measured when some trials ran where
    the meter cannot see (a part would pass for the whole)."""
    trials = len(board.rows)
    if board.uncounted:
        reason = Message("energy.trials_elsewhere", count=board.uncounted)
        return EnergyReport(
            measured=False, duration_s=measured.duration_s, reason=reason, trials=trials
        )
    return replace(measured, trials=trials)


def _train_ensemble(
    config: AutoConfig,
    winner: TrainConfig,
    ensemble: dict[str, Any],
    data: PreparedData,
    callbacks: list[TrainerCallback] | None,
    workspace: Workspace,
) -> tuple[TrainResult, bool]:
    """Train and register the ensemble of trials, refitted as a single winner would be
    when every member can be; returns its run and whether it was refitted."""
    members = ensemble["members"]
    if config.refit:
        refit = _without_validation(winner, data, workspace)
        refitted = refit_members(members) if refit is not None else None
        if refit is not None and refitted is not None:
            run = train_ensemble(refit, refitted, callbacks=callbacks, workspace=workspace)
            return run, True
    return train_ensemble(winner, members, callbacks=callbacks, workspace=workspace), False


def _reads_text(family: str) -> bool:
    try:
        return family_class(family).reads == "text"
    except ValueError:  # an unknown name: check_config names the known ones
        return False


def _reads(config: AutoConfig, workspace: Workspace) -> str:
    """What the search learns from: "text" when the first family named, else the base
    model, reads text, or, with no family named, when the stored data set has a text
    column (check_config refuses families that read something else)."""
    if _reads_text((config.families or [config.base.model])[0]):
        return "text"
    source = config.base.data
    if not config.families and source.startswith("dataset:"):
        try:
            info = workspace.get_dataset(source.removeprefix("dataset:"))
        except LeptonError:
            return "table"  # prepare_data says what is wrong with the source
        return "text" if info.text_column else "table"
    return "table"


def _families(
    config: AutoConfig, reads: str, language: TextLanguage | None
) -> tuple[list[str], list[str]]:
    """The families to search and, for text, notes on those left out or ill-suited."""
    if language is None:
        return list(config.families) or default_families(reads), []
    if config.families:  # the person's choice stands; say where it does not suit the texts
        notes = [n for f in config.families if (n := language_note(f, language))]
        return list(config.families), notes
    families = default_families(reads, language)
    left_out = [
        f for f in default_families(reads) if f not in families and language_note(f, language)
    ]
    notes = [f"Not tried: {language_note(f, language)}" for f in left_out]
    return families, notes


def _baseline_notes(config: AutoConfig, board: Board, metric: str) -> list[str]:
    """What the person must be told about the winner against the search's first trial
    (the default text family at its defaults, the baseline), if anything."""
    first = portfolio(config.families)[:1]
    if not first or first[0]["family"] != default_text_family():
        return []
    title = family_title(first[0]["family"])
    baseline = next((row for row in board.ranked if row["trial"] == 0), None)
    if baseline is None:
        return [
            f"The quick baseline ({title} at its defaults) did not finish, so the winner "
            "was not compared with it; give the search more time."
        ]
    best = board.ranked[0]
    higher = DIRECTIONS[metric]
    worse = best["score"] < baseline["score"] if higher else best["score"] > baseline["score"]
    if not worse:
        return []
    return [
        f"The winner scores {best['score']:.3f} {metric} on validation, below the quick "
        f"baseline ({title} at its defaults: {baseline['score']:.3f}), because it meets "
        "the fairness limit and the baseline does not."
    ]


def _refit_config(
    winner: TrainConfig, rounds: int | None, data: PreparedData, workspace: Workspace
) -> TrainConfig | None:
    """The winner trained on training and validation rows, or None when it cannot be.

    The family says how (``refit_params``: LightGBM keeps the boosting rounds early
    stopping chose in its trial, as no validation is left to stop on); the test part
    must not change.
    """
    params = family_class(winner.model).refit_params(winner.params, rounds)
    if params is None:
        return None
    return _without_validation(replace(winner, params=params), data, workspace)


def _without_validation(
    config: TrainConfig, data: PreparedData, workspace: Workspace
) -> TrainConfig | None:
    """``config`` with every validation row in the training part, or None when that
    would change the test part."""
    refit = replace(config, valid_size=_REFIT_VALID_SIZE)
    split = split_run_data(refit, data.info, *workspace.load_dataset(data.info.id))
    # The split draws the test rows first, so they stay the same unless a class is tiny.
    if not split.test.equals(data.split.test):
        return None
    return refit


def leaderboard_table(
    rows: list[dict[str, Any]],
    *,
    metric: str | None = None,
    fairness_metric: str | None = None,
    fairness_limit: float | None = None,
) -> pd.DataFrame:
    """Leaderboard rows (an Auto job's live progress, or a result's) as a table, best first.

    ``metric``, ``fairness_metric`` and ``fairness_limit`` are the search's settings; they
    name the columns, and a limit adds a "within limit" column. A column whose validation
    rows hold fewer than two groups large enough to compare (the rule of the test figures,
    ``LEPTON_MIN_GROUP_ROWS``) reads "too few rows per group" instead of a gap.
    """
    metric = metric or "score"
    gap_name = {
        "demographic_parity_difference": "parity gap (DPD)",
        "equalized_odds_difference": "odds gap (EOD)",
    }.get(fairness_metric or "", "fairness gap")
    table = pd.DataFrame(
        {
            "rank": [r["rank"] for r in rows],
            "model": [r["model"] for r in rows],
            f"validation {metric}": [r["score"] for r in rows],
            f"{gap_name}, worst column": [r["gap"] for r in rows],
            "by column": [
                ", ".join(
                    f"{k} {v:.3f}" if v is not None else f"{k}: {_UNMEASURED}"
                    for k, v in r["fairness"].items()
                )
                for r in rows
            ],
            "seconds": [r["seconds"] for r in rows],
            "params": [
                ", ".join(f"{k}={v}" for k, v in r["params"].items() if k not in _FIXED)
                for r in rows
            ],
        }
    )
    if fairness_limit is not None:
        table.insert(4, "within limit", [bool(r["meets_limit"]) for r in rows])
    return table


_FIXED = ("n_estimators", "early_stopping_rounds")  # the same in every LightGBM trial
_UNMEASURED = "too few rows per group"
