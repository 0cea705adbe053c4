"""Plotly figures built from Lepton's result objects; pages only render them."""

from lepton_core.plots._data import (
    class_balance_figure,
    column_distribution_figure,
    missing_values_figure,
    token_length_figure,
)
from lepton_core.plots._evaluation import (
    calibration_figure,
    compare_figure,
    confusion_matrix_figure,
    fairness_group_figure,
    fairness_rates_figure,
    kinds_confusion_figure,
    pr_figure,
    residual_figure,
    roc_figure,
)
from lepton_core.plots._explain import (
    beeswarm_figure,
    dependence_figure,
    importance_figure,
    waterfall_figure,
)
from lepton_core.plots._images import (
    class_maps_figure,
    heat_in_points,
    image_heat_map_figure,
)
from lepton_core.plots._monitoring import (
    drift_column_figure,
    drift_overview_figure,
    fairness_trend_figure,
    live_report_html,
    performance_trend_figure,
    traffic_figure,
)
from lepton_core.plots._recourse import recourse_figure
from lepton_core.plots._text import token_highlight_html, token_importance_figure
from lepton_core.plots._training import training_curves_figure

__all__ = [
    "beeswarm_figure",
    "calibration_figure",
    "class_balance_figure",
    "class_maps_figure",
    "column_distribution_figure",
    "compare_figure",
    "confusion_matrix_figure",
    "dependence_figure",
    "drift_column_figure",
    "drift_overview_figure",
    "fairness_group_figure",
    "fairness_rates_figure",
    "fairness_trend_figure",
    "heat_in_points",
    "image_heat_map_figure",
    "importance_figure",
    "kinds_confusion_figure",
    "live_report_html",
    "missing_values_figure",
    "performance_trend_figure",
    "pr_figure",
    "recourse_figure",
    "residual_figure",
    "roc_figure",
    "token_highlight_html",
    "token_importance_figure",
    "token_length_figure",
    "traffic_figure",
    "training_curves_figure",
    "waterfall_figure",
]
