"""monitoring: how a deployed model's inputs drift, and how its accuracy and fairness hold up."""

from lepton_core.monitoring._alerts import Alert, Limits, check_alerts, send_alerts
from lepton_core.monitoring._drift import (
    PSI_MAJOR,
    PSI_MODERATE,
    DriftReport,
    FeatureDrift,
    data_drift,
    psi,
)
from lepton_core.monitoring._live import (
    LiveReport,
    TrafficWindow,
    analyse_log,
    live_from_log,
    live_report,
    traffic_windows,
    workspace_limits,
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
    "LiveReport",
    "PerformanceTrend",
    "PerformanceWindow",
    "TrafficWindow",
    "analyse_log",
    "check_alerts",
    "compare_with_training",
    "data_drift",
    "fairness_trend",
    "live_from_log",
    "live_report",
    "performance_trend",
    "psi",
    "send_alerts",
    "traffic_windows",
    "training_reference",
    "workspace_limits",
]
