"""monitoring: how a deployed model's inputs drift, and how its accuracy and fairness hold up."""

from lepton_core.monitoring._alerts import Alert, Limits, check_alerts
from lepton_core.monitoring._drift import (
    PSI_MAJOR,
    PSI_MODERATE,
    DriftReport,
    FeatureDrift,
    data_drift,
    psi,
)
from lepton_core.monitoring._reference import compare_with_training, training_reference
from lepton_core.monitoring._trend import (
    CONFIDENCE,
    LABEL,
    PREDICTION,
    TIME,
    FairnessTrend,
    FairnessWindow,
    PerformanceTrend,
    PerformanceWindow,
    fairness_trend,
    performance_trend,
)

__all__ = [
    "CONFIDENCE",
    "LABEL",
    "PREDICTION",
    "PSI_MAJOR",
    "PSI_MODERATE",
    "TIME",
    "Alert",
    "DriftReport",
    "FairnessTrend",
    "FairnessWindow",
    "FeatureDrift",
    "Limits",
    "PerformanceTrend",
    "PerformanceWindow",
    "check_alerts",
    "compare_with_training",
    "data_drift",
    "fairness_trend",
    "performance_trend",
    "psi",
    "training_reference",
]
