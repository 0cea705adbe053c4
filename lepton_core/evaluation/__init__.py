"""evaluation."""

from lepton_core.evaluation._fairness import (
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
)
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
    "GAPS",
    "MAX_CURVE_POINTS",
    "MAX_RESIDUAL_POINTS",
    "MAX_UNBINNED_GROUPS",
    "MISSING",
    "SMALL_GROUP",
    "AuditReport",
    "EvalReport",
    "FairnessReport",
    "Tradeoff",
    "TradeoffPoint",
    "audit_predictions",
    "band_numeric",
    "compare_reports",
    "evaluate",
    "fairness_report",
    "fairness_reports",
    "headline",
    "infer_positive_label",
    "tradeoff",
    "tradeoff_figure",
]
