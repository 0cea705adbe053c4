"""Typed access to what a training run stored: evaluation, fairness and explanation.

With ``complete=True`` (the Evaluate page, model cards) a run's evaluation comes back
with everything an honest headline needs even when training did not record it: a run
recorded before verdicts existed gets its intervals, baseline and verdict from its stored
test predictions, and a run whose columns were not checked gets
:func:`~lepton_core.evaluation.check_features` run on its data set's table, once per run
and process. Scoring and serving skip both.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pandas as pd

from lepton_core.core import LeptonError, cache_entries
from lepton_core.evaluation import (
    EvalReport,
    EvalWarning,
    FairnessReport,
    check_features,
    evaluate,
    headline,
)
from lepton_core.explain import Explanation
from lepton_core.workspace import RunSummary, Workspace

__all__ = ["RunReports", "headline_figures", "load_explanation", "load_run_reports"]


def headline_figures(
    evaluation: EvalReport, fairness: FairnessReport | None = None
) -> dict[str, float | None]:
    """The first screenful: two accuracy-type figures and one attribute's fairness gaps."""
    figures: dict[str, float | None] = dict(list(headline(evaluation).items())[:2])
    if fairness is not None and fairness.demographic_parity_difference is not None:
        figures["demographic_parity_difference"] = fairness.demographic_parity_difference
        figures["equalized_odds_difference"] = fairness.equalized_odds_difference
    return figures


@dataclass
class RunReports:
    """A run's summary with its evaluation and fairness reports."""

    run: RunSummary
    evaluation: EvalReport
    fairness: list[FairnessReport]

    def headline(self) -> dict[str, float | None]:
        """Headline figures with the first sensitive attribute's fairness gaps."""
        return headline_figures(self.evaluation, self.fairness[0] if self.fairness else None)

    def fairness_for(self, attribute: str) -> FairnessReport:
        """The report of one sensitive attribute (ValueError for an unknown one)."""
        for report in self.fairness:
            if report.attribute == attribute:
                return report
        raise ValueError(f"no fairness report for {attribute!r}")


def load_run_reports(workspace: Workspace, run_id: str, *, complete: bool = False) -> RunReports:
    """Load a run's evaluation and fairness reports.

    ``complete`` fills in what training did not record: the verdict, baseline and
    intervals (from the stored test predictions) and ``evaluation.warnings`` (many
    columns, leaks, identifiers; from the run's data set).
    """
    run = workspace.get_run(run_id)
    evaluation = EvalReport.from_dict(workspace.load_report(run_id, "evaluation"))
    if complete and evaluation.verdict is None:
        _judge_stored(workspace, run_id, evaluation)
    if complete and not evaluation.features_checked:
        evaluation.warnings = [
            EvalWarning.from_dict(w.to_dict()) for w in _run_warnings(workspace, run_id)
        ]
        evaluation.features_checked = True
    return RunReports(
        run=run,
        evaluation=evaluation,
        fairness=[FairnessReport.from_dict(r) for r in workspace.load_report(run_id, "fairness")],
    )


def _judge_stored(workspace: Workspace, run_id: str, evaluation: EvalReport) -> None:
    """Intervals, baseline and verdict of a run recorded before they existed."""
    stored = workspace.find_report(run_id, "test_predictions")
    if not stored:
        return
    again = evaluate(
        stored["y_true"],
        stored["y_pred"],
        task=evaluation.task,
        y_proba=stored.get("proba"),
        classes=stored.get("classes"),
    )
    evaluation.intervals, evaluation.n_resamples = again.intervals, again.n_resamples
    evaluation.baseline, evaluation.verdict = again.baseline, again.verdict


@functools.lru_cache(maxsize=cache_entries(64))
def _run_warnings(workspace: Workspace, run_id: str) -> tuple[EvalWarning, ...]:
    """:func:`check_features` on the run's feature columns, over its data set's table."""
    try:
        run = workspace.get_run(run_id)
        params = workspace.client.get_run(run_id).data.params
        target = params.get("target")
        fields = workspace.load_input_schema(run_id).fields
        table, test = workspace.load_dataset(run.dataset_id)
    except (LeptonError, OSError):
        return ()
    if test is not None:
        table = pd.concat([table, test], ignore_index=True)
    features = [f.name for f in fields if f.kind != "text" and f.name in table.columns]
    if not target or target not in table.columns or not features:
        return ()
    return tuple(check_features(table[features], table[target].to_numpy(), task=run.task))


def load_explanation(workspace: Workspace, run_id: str) -> Explanation:
    """The SHAP explanation of the run's test rows."""
    return Explanation.from_dict(workspace.load_report(run_id, "explanation"))
