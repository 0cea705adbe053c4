"""Typed access to what a training run stored: evaluation, fairness and explanation."""

from __future__ import annotations

from dataclasses import dataclass

from lepton_core.evaluation import EvalReport, FairnessReport, headline
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


def load_run_reports(workspace: Workspace, run_id: str) -> RunReports:
    """Load a run's evaluation and fairness reports."""
    return RunReports(
        run=workspace.get_run(run_id),
        evaluation=EvalReport.from_dict(workspace.load_report(run_id, "evaluation")),
        fairness=[FairnessReport.from_dict(r) for r in workspace.load_report(run_id, "fairness")],
    )


def load_explanation(workspace: Workspace, run_id: str) -> Explanation:
    """The SHAP explanation of the run's test rows."""
    return Explanation.from_dict(workspace.load_report(run_id, "explanation"))
