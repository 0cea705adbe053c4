"""evaluation: metrics with confidence intervals, a baseline and a verdict; fairness; checks."""

from lepton_core.evaluation._baseline import MIN_TEST_ROWS, Baseline, Verdict
from lepton_core.evaluation._checks import EvalWarning, check_features
from lepton_core.evaluation._fairness import (
    ENV_MIN_GROUP_ROWS,
    MAX_UNBINNED_GROUPS,
    MISSING,
    SMALL_GROUP,
    AuditReport,
    FairnessReport,
    audit_predictions,
    band_numeric,
    fairness_report,
    fairness_reports,
    infer_positive_label,
    min_group_rows,
)
from lepton_core.evaluation._intervals import DEFAULT_RESAMPLES, bootstrap_intervals
from lepton_core.evaluation._metrics import (
    MAX_CURVE_POINTS,
    MAX_RESIDUAL_POINTS,
    EvalReport,
    compare_reports,
    evaluate,
    headline,
)
from lepton_core.evaluation._tradeoff import (
    GAPS,
    Tradeoff,
    TradeoffPoint,
    tradeoff,
    tradeoff_figure,
)

__all__ = [
    "DEFAULT_RESAMPLES",
    "ENV_MIN_GROUP_ROWS",
    "GAPS",
    "MAX_CURVE_POINTS",
    "MAX_RESIDUAL_POINTS",
    "MAX_UNBINNED_GROUPS",
    "MIN_TEST_ROWS",
    "MISSING",
    "SMALL_GROUP",
    "AuditReport",
    "Baseline",
    "EvalReport",
    "EvalWarning",
    "FairnessReport",
    "Tradeoff",
    "TradeoffPoint",
    "Verdict",
    "audit_predictions",
    "band_numeric",
    "bootstrap_intervals",
    "check_features",
    "compare_reports",
    "evaluate",
    "fairness_report",
    "fairness_reports",
    "headline",
    "infer_positive_label",
    "min_group_rows",
    "tradeoff",
    "tradeoff_figure",
]
