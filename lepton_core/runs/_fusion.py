"""Model fusion: weighted ensembles of Auto's trials and of registered model versions.

Both end in an ``EnsembleModel`` (:mod:`lepton_core.models`) registered as one model
version by :func:`~lepton_core.runs.record_run`, so it is evaluated, fairness-checked,
explained, served and exported like any model:

- :func:`auto_ensemble` runs greedy ensemble selection (Caruana et al. 2004) over the
  validation outputs Auto kept from its best trials; :func:`train_ensemble` then trains
  the chosen members (refitted as the single winner would be) and registers the mix.
- :func:`fuse_versions` averages two or more registered versions of one data set with
  weights fitted on the validation part of their (shared) split.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import CallbackList, JsonMixin, Message, ModelError, TrainerCallback
from lepton_core.evaluation import EvalReport, FairnessReport
from lepton_core.models import (
    EnsembleModel,
    ensemble_scorer,
    family_class,
    greedy_weights,
    make_model,
    member_output,
)
from lepton_core.runs._energy import measured
from lepton_core.runs._search import DIRECTIONS, AutoConfig, Board, TrialData, validation_figures
from lepton_core.runs._training import (
    Laps,
    TrainConfig,
    TrainResult,
    prepare_data,
    record_run,
    trained,
)
from lepton_core.workspace import Workspace

__all__ = ["FusionResult", "auto_ensemble", "fuse_versions", "train_ensemble"]

#: Auto's best trials greedy selection picks from (AutoGluon and auto-sklearn use all;
#: the top ones keep the members' refits within seconds).
CANDIDATES = 12
#: The least validation gain, as a share of the best trial's score, for which Auto
#: registers an ensemble rather than its best trial (0.1 %: 0.0009 of a 0.93 AUC).
MIN_GAIN = 0.001


def auto_ensemble(
    config: AutoConfig, data: TrialData, board: Board, metric: str
) -> dict[str, Any] | None:
    """The ensemble of Auto's trials to register instead of the best one, or None.

    Greedy selection runs over the best :data:`CANDIDATES` trials (with a fairness
    limit, only those that meet it); the ensemble is chosen when it mixes two or more
    trials, scores better than the best trial on validation and, with a limit, meets it.
    Returns ``members`` (``trial``, ``family``, ``params``, ``rounds``, ``weight``) and
    the ensemble's validation ``score``, ``gap`` and ``fairness``.
    """
    limit = config.fairness_limit
    rows = [
        r
        for r in board.ranked
        if r["trial"] in board.outputs and (limit is None or r["meets_limit"])
    ][:CANDIDATES]
    if len(rows) < 2 or any(family_class(r["model"]).reads != "table" for r in rows):
        return None
    classes = np.unique(data.y_train).tolist() if data.task != "regression" else None
    y = (
        pd.Index(classes).get_indexer(data.y_valid)
        if classes is not None
        else np.asarray(data.y_valid, dtype=float)
    )
    outputs = [board.outputs[r["trial"]] for r in rows]
    weights = greedy_weights(outputs, y, ensemble_scorer(data.task, metric))
    if np.count_nonzero(weights) < 2:
        return None
    mixed = sum(w * o for w, o in zip(weights, outputs, strict=True))
    if classes is None:
        pred, proba = mixed, None
    else:
        proba = np.column_stack([1.0 - mixed, mixed]) if mixed.ndim == 1 else mixed
        pred = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
        pred = pred.astype(np.asarray(data.y_valid).dtype)
    figures = validation_figures(data, pred, proba, classes)
    best = board.ranked[0]["score"]
    gain = None if figures["score"] is None else figures["score"] - best
    if gain is not None and not DIRECTIONS[metric]:
        gain = -gain
    # Its weights were fitted on these validation rows, and it costs a refit and an
    # explanation of every member: a gain within noise does not pay for it.
    better = gain is not None and gain > MIN_GAIN * max(abs(best), 1e-12)
    within = limit is None or (figures["gap"] is not None and figures["gap"] <= limit)
    if not (better and within):
        return None
    members = [
        {
            "trial": r["trial"],
            "family": r["model"],
            "params": board.tried[r["trial"]]["params"],
            "rounds": r["rounds"],
            "weight": float(w),
        }
        for r, w in zip(rows, weights, strict=True)
        if w > 0
    ]
    return {"members": members, **figures}


def refit_members(members: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """``members`` with each family's parameters for training on training and validation
    rows together, or None when one of them cannot be (see ``refit_params``)."""
    out = []
    for member in members:
        params = family_class(member["family"]).refit_params(member["params"], member["rounds"])
        if params is None:
            return None
        out.append({**member, "params": params})
    return out


def train_ensemble(
    config: TrainConfig,
    members: list[dict[str, Any]],
    *,
    callbacks: list[TrainerCallback] | None = None,
    workspace: Workspace | None = None,
) -> TrainResult:
    """Train each member (``family``, ``params``, ``weight``) as ``config`` says (data,
    split, seed), average them with their weights and register the ensemble.

    ``config.model`` is ``ensemble`` and ``config.params`` holds the members, so the
    run's stored config says what was mixed. The energy used is measured as for
    :func:`~lepton_core.runs.train`.
    """
    workspace = workspace or Workspace()
    return measured(
        workspace,
        lambda: _train_ensemble(config, members, callbacks=callbacks, workspace=workspace),
    )


def _train_ensemble(
    config: TrainConfig,
    members: list[dict[str, Any]],
    *,
    callbacks: list[TrainerCallback] | None,
    workspace: Workspace,
) -> TrainResult:
    config = replace(
        config,
        model=EnsembleModel.family,
        params={"members": [{k: m[k] for k in ("family", "params", "weight")} for m in members]},
    )
    cb = CallbackList(callbacks)
    lap = Laps()
    cb.phase("loading")
    cb.train_begin()
    data = prepare_data(config, workspace)
    info, split = data.info, data.split
    lap("load")
    cb.phase("training")
    y_train = split.train[info.target].to_numpy()
    valid = (data.x_valid, split.valid[info.target].to_numpy()) if len(split.valid) else None
    fitted = []
    for member in members:
        model = make_model(member["family"], info.task, seed=config.seed, **member["params"])  # type: ignore[arg-type]
        model.fit(
            data.x_train,
            y_train,
            X_valid=valid[0] if valid else None,
            y_valid=valid[1] if valid else None,
            progress=cb.step,
        )
        fitted.append(model)
    ensemble = EnsembleModel(task=info.task, seed=config.seed).fit(
        members=fitted, weights=[m["weight"] for m in members]
    )
    lap("fit")
    recorded = record_run(
        workspace,
        data,
        ensemble,
        config=config,
        run_name=f"{config.model_name or info.name}-ensemble",
        params=_member_params(ensemble),
        reports={"ensemble": {"members": _member_rows(ensemble)}},
        callbacks=cb,
        lap=lap,
    )
    lap("save")
    cb.train_end()
    return trained(recorded, data, config, EnsembleModel.family, [], lap)


@dataclass
class FusionResult(JsonMixin):
    """Registered versions fused into one ensemble version.

    ``members`` rows hold ``model`` (name:version), ``family``, ``weight`` and the
    member's own validation ``score``; ``valid_score`` is the ensemble's, on the same
    rows, with the ``metric`` the weights were fitted for.
    """

    run_id: str
    model_name: str
    model_version: int
    metric: str
    valid_score: float
    members: list[dict[str, Any]]
    evaluation: EvalReport
    fairness: list[FairnessReport] = field(default_factory=list)


def fuse_versions(
    workspace: Workspace,
    versions: list[str],
    *,
    weights: list[float] | None = None,
    metric: str | None = None,
    model_name: str | None = None,
    callbacks: list[TrainerCallback] | None = None,
) -> FusionResult:
    """Fuse registered versions (``"name:version"``) of one data set into one model.

    The weights are fitted on the validation part of the first version's split by
    greedy selection (or given); every version must share that split's test part,
    on which the ensemble is evaluated like any run. A version that learnt from the
    validation rows (Auto's refitted winner) looks better there than it is, so it
    tends to get more weight.

    Raises
    ------
    ModelError
        Fewer than two versions, versions of different data sets or splits, or models
        that cannot be averaged (text models, other columns or classes).
    """
    cb = CallbackList(callbacks)
    cb.phase("loading")
    cb.train_begin()
    refs = list(dict.fromkeys(versions))
    if len(refs) < 2:
        raise ModelError(Message("fusion.too_few"))
    runs, models = [], []
    for ref in refs:
        name, _, number = ref.partition(":")
        info = workspace.model_version(name, number or None)
        runs.append(workspace.get_run(info.run_id))
        models.append(workspace.load_model(info.name, info.version))
    refs = [f"{r.model_name}:{r.model_version}" for r in runs]
    if len({r.dataset_id for r in runs}) > 1:
        raise ModelError(Message("fusion.other_datasets"))
    configs = [TrainConfig.from_dict(workspace.load_report(r.run_id, "config")) for r in runs]
    first = configs[0]
    # The validation part: the first run's split, with the usual share when it had none
    # (Auto's refitted winner); the test rows stay the same either way.
    base = replace(
        first,
        data=f"dataset:{runs[0].dataset_id}",
        valid_size=first.valid_size or TrainConfig.valid_size,
        model_name=model_name or runs[0].model_name,
    )
    data = prepare_data(base, workspace)
    split = (first.seed, first.test_size, first.test)
    for config, ref in zip(configs, refs, strict=True):
        if (config.seed, config.test_size, config.test) != split:
            raise ModelError(Message("fusion.other_split", model=ref))
    task, target = data.info.task, data.info.target
    y_valid = data.split.valid[target].to_numpy()
    if len(y_valid) == 0:
        raise ModelError(Message("fusion.no_validation"))
    metric = metric or {"binary": "roc_auc", "multiclass": "accuracy"}.get(task, "r2")
    cb.phase("training")
    ensemble = EnsembleModel(task=task, seed=first.seed, metric=metric)
    ensemble.fit(data.x_valid, y_valid, members=models, weights=weights)
    scorer = ensemble_scorer(task, metric)
    codes = ensemble.members_[0]._encode_target(y_valid)
    scores = {id(m): scorer(codes, member_output(m, data.x_valid)) for m in models}
    valid_score = scorer(codes, member_output(ensemble, data.x_valid))
    weight_of = {id(m): w for m, w in zip(ensemble.members_, ensemble.weights_, strict=True)}
    rows = [
        {
            "model": ref,
            "family": m.family,
            "weight": round(weight_of.get(id(m), 0.0), 4),
            "score": round(float(scores[id(m)]), 4),
        }
        for ref, m in zip(refs, models, strict=True)
    ]
    if metric in ("rmse", "mae"):  # the scorer negates errors so that higher is better
        valid_score = -valid_score
        for row in rows:
            row["score"] = -row["score"]
    config = replace(
        base,
        model=EnsembleModel.family,
        params={"members": [{"model": r["model"], "weight": r["weight"]} for r in rows]},
    )
    recorded = record_run(
        workspace,
        data,
        ensemble,
        config=config,
        run_name=f"{base.model_name}-fusion",
        params={**_member_params(ensemble), "fusion.metric": metric},
        tags={"fusion_of": ",".join(refs)},
        reports={"ensemble": {"members": rows, "metric": metric, "valid_score": valid_score}},
        callbacks=cb,
    )
    cb.train_end()
    return FusionResult(
        run_id=recorded.run_id,
        model_name=recorded.model_name,
        model_version=recorded.model_version,
        metric=metric,
        valid_score=float(valid_score),
        members=rows,
        evaluation=recorded.evaluation,
        fairness=recorded.fairness,
    )


def _member_rows(ensemble: EnsembleModel) -> list[dict[str, Any]]:
    return [{"family": m.family, "weight": round(w, 4)} for m, w in ensemble.members()]


def _member_params(ensemble: EnsembleModel) -> dict[str, Any]:
    return {
        "ensemble.members": ",".join(m.family for m in ensemble.members_),
        "ensemble.weights": ",".join(f"{w:.4f}" for w in ensemble.weights_),
    }
