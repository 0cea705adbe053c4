"""Fairness mitigation with fairlearn: a trained run in, a new, fairer model version out.

Two families of fairlearn methods:

- post-processing, ``ThresholdOptimizer``: group-specific (randomised) thresholds on
  the trained model's scores, under demographic parity or equalized odds; fitted on
  the validation part, which the base model did not learn from;
- reductions, ``ExponentiatedGradient``: a weighted ensemble of LightGBM models
  retrained on reweighted training rows under the same constraints.

Either way the result is a ``MitigatedModel`` (:mod:`lepton_core.models`), registered
as a new version of the run's model and evaluated on the same test rows, so it
deploys, scores and explains like any other. The energy the mitigation used is measured
and stored with the new run, as training's is with a trained one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from lepton_core.core import CallbackList, JsonMixin, Message, ModelError, TrainingError
from lepton_core.evaluation import (
    EvalReport,
    FairnessReport,
    fairness_reports,
)
from lepton_core.models import (
    METHOD_TITLES,
    MITIGATION_METHODS,
    MitigatedModel,
    family_class,
)
from lepton_core.runs._energy import EnergyReport, measured
from lepton_core.runs._reports import load_run_reports
from lepton_core.runs._training import TrainConfig, prepare_data, record_run

__all__ = [
    "MitigationConfig",
    "MitigationResult",
    "mitigate_run",
]


# ------------------------------------------------------------------ workspace flow
@dataclass
class MitigationConfig(JsonMixin):
    """What a mitigation job does: :func:`mitigate_run`'s arguments.

    ``python -m lepton_core mitigate`` and :func:`lepton_core.jobs.start_job` take it.
    """

    run_id: str
    sensitive: str
    method: str = "threshold_dp"
    max_iter: int = 50
    eps: float = 0.01

    def run(self, workspace: Any, callbacks: list[Any] | None = None) -> MitigationResult:
        """:func:`mitigate_run` with these arguments."""
        return mitigate_run(
            workspace,
            self.run_id,
            sensitive=self.sensitive,
            method=self.method,
            max_iter=self.max_iter,
            eps=self.eps,
            callbacks=callbacks,
        )


@dataclass
class MitigationResult(JsonMixin):
    """A mitigated model version and its figures next to the run it came from.

    Attributes
    ----------
    rows : list of dict
        The before/after table: ``{"metric", "before", "after", "change"}`` for accuracy,
        ROC AUC, DPD, EOD and the worst group's accuracy, all on the same test rows.
    energy : EnergyReport, optional
        What the mitigation used (fitting, evaluating and registering the new version),
        also stored with its run.
    """

    run_id: str
    parent_run_id: str
    model_name: str
    model_version: int
    method: str
    sensitive: str
    evaluation: EvalReport
    fairness: list[FairnessReport]
    rows: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    energy: EnergyReport | None = None


def comparison_rows(
    before: tuple[EvalReport, FairnessReport], after: tuple[EvalReport, FairnessReport]
) -> list[dict[str, Any]]:
    """Accuracy, AUC, DPD, EOD and worst group, before and after."""

    def figures(evaluation: EvalReport, report: FairnessReport) -> dict[str, Any]:
        worst = report.worst_group or {}
        return {
            "accuracy": evaluation.metrics.get("accuracy"),
            "roc_auc": evaluation.metrics.get("roc_auc"),
            "demographic_parity_difference": report.demographic_parity_difference,
            "equalized_odds_difference": report.equalized_odds_difference,
            "worst_group_accuracy": worst.get("value"),
            "worst_group": worst.get("group"),
        }

    old, new = figures(*before), figures(*after)
    rows = []
    for metric in old:
        a, b = old[metric], new[metric]
        change = b - a if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None
        rows.append({"metric": metric, "before": a, "after": b, "change": change})
    return rows


def mitigate_run(
    workspace: Any,
    run_id: str,
    *,
    sensitive: str,
    method: str = "threshold_dp",
    max_iter: int = 50,
    eps: float = 0.01,
    callbacks: list[Any] | None = None,
) -> MitigationResult:
    """Mitigate a trained run's model for ``sensitive`` and register the result.

    The data set and split are rebuilt exactly as the run made them (same seed), the
    mitigation is fitted (ThresholdOptimizer on the validation part, ExponentiatedGradient
    on the training part), then evaluated, explained and logged like a training run,
    as a new version of the same registered model.

    ``callbacks`` (:class:`lepton_core.core._callbacks.TrainerCallback`) hear the phases, as
    for training; a background job passes its progress writer.

    Raises
    ------
    ModelError
        The run's task is not binary, the attribute is unusable, or the method does not
        apply to this model family.
    """
    return measured(
        workspace,
        lambda: _mitigate_run(
            workspace,
            run_id,
            sensitive=sensitive,
            method=method,
            max_iter=max_iter,
            eps=eps,
            callbacks=callbacks,
        ),
    )


def _mitigate_run(
    workspace: Any,
    run_id: str,
    *,
    sensitive: str,
    method: str,
    max_iter: int,
    eps: float,
    callbacks: list[Any] | None,
) -> MitigationResult:
    """:func:`mitigate_run` without the energy meter."""
    if method not in MITIGATION_METHODS:
        raise ValueError(f"Unknown method {method!r}; use one of {', '.join(MITIGATION_METHODS)}.")
    start = time.perf_counter()
    cb = CallbackList(callbacks)
    cb.phase("loading")
    cb.train_begin()
    parent = load_run_reports(workspace, run_id)
    run = parent.run
    family = family_class(run.family)
    if family is MitigatedModel:
        raise ModelError(Message("runs.already_mitigated"))
    if not family.mitigable:
        raise ModelError(Message("runs.not_mitigable", family=family.title))
    if run.task != "binary":
        raise ModelError(Message("runs.mitigate_binary"))
    config = TrainConfig.from_dict(workspace.load_report(run_id, "config"))
    # The run's own split: the mitigated model is scored on the rows its parent was.
    data = prepare_data(replace(config, data=f"dataset:{run.dataset_id}"), workspace)
    info, split = data.info, data.split
    if sensitive not in split.train.columns:
        raise ModelError(Message("runs.no_sensitive_column", column=sensitive))
    base = workspace.load_model(run.model_name, run.model_version)
    model = MitigatedModel(
        task="binary",
        seed=config.seed,
        method=method,
        sensitive=sensitive,
        max_iter=max_iter,
        eps=eps,
    )
    fit_x, fit_part = (
        (data.x_valid, split.valid)
        if method.startswith("threshold")
        else (data.x_train, split.train)
    )
    cb.phase("training")
    model.fit(
        fit_x,
        fit_part[info.target].to_numpy(),
        base=base,
        sensitive_features=fit_part[sensitive].to_numpy(),
    )
    if cb.control.should_stop:
        raise TrainingError(Message("runs.mitigation_cancelled"))
    mitigation = {
        "method": method,
        "title": METHOD_TITLES[method],
        "sensitive": sensitive,
        "parent_run_id": run_id,
        "parent_model": f"{run.model_name}:{run.model_version}",
        "fitted_on": "validation part" if method.startswith("threshold") else "training part",
    }
    recorded = record_run(
        workspace,
        data,
        model,
        config=TrainConfig.from_dict(
            {**config.to_dict(), "model": MitigatedModel.family, "model_name": run.model_name}
        ),
        run_name=f"{run.model_name}-{method}",
        params={
            "mitigation.method": method,
            "mitigation.sensitive": sensitive,
            "mitigation.parent_run": run_id,
            "base_family": base.family,
        },
        tags={"parent_run": run_id, "mitigation": method},
        sensitive=[sensitive],
        explain_rows=MitigatedModel.explain_rows,
        callbacks=cb,
    )
    after = next(r for r in recorded.fairness if r.attribute == sensitive)
    try:
        before = parent.fairness_for(sensitive)
    except ValueError:
        before = fairness_reports(
            split.test[info.target].to_numpy(),
            base.predict(data.x_test),
            sensitive_features=split.test[[sensitive]].reset_index(drop=True),
            task="binary",
            positive_label=model.classes_[1],
        )[0]
    rows = comparison_rows((parent.evaluation, before), (recorded.evaluation, after))
    # Written once the new run's figures exist: the before/after table needs them.
    workspace.log_report(recorded.run_id, "mitigation", {**mitigation, "rows": rows})
    cb.train_end()
    return MitigationResult(
        run_id=recorded.run_id,
        parent_run_id=run_id,
        model_name=run.model_name,
        model_version=recorded.model_version,
        method=method,
        sensitive=sensitive,
        evaluation=recorded.evaluation,
        fairness=recorded.fairness,
        rows=rows,
        seconds=round(time.perf_counter() - start, 2),
    )
