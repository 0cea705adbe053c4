"""recourse: what-if, counterfactuals and whether recourse is as cheap for every group.

Sits between workspace and runs: it scores models (models), reads their input schemas
(data) and groups (evaluation), stores constraints with the data set and reports with
the run (workspace); the model card (runs), the API (serving) and the plots use it.
"""

from lepton_core.recourse._constraints import (
    SETTING_KEY,
    RecourseConstraints,
    load_constraints,
    save_constraints,
)
from lepton_core.recourse._fairness import (
    REPORT_NAME,
    GroupRecourse,
    RecourseReport,
    RowRecourse,
    recourse_fairness,
    recourse_markdown,
    store_recourse,
    stored_recourse,
)
from lepton_core.recourse._search import (
    MAX_COUNTERFACTUALS,
    Change,
    Counterfactual,
    CounterfactualSet,
    check_model,
    counterfactuals,
    desired_label,
    violations,
)

__all__ = [
    "MAX_COUNTERFACTUALS",
    "REPORT_NAME",
    "SETTING_KEY",
    "Change",
    "Counterfactual",
    "CounterfactualSet",
    "GroupRecourse",
    "RecourseConstraints",
    "RecourseReport",
    "RowRecourse",
    "check_model",
    "counterfactuals",
    "desired_label",
    "load_constraints",
    "recourse_fairness",
    "recourse_markdown",
    "save_constraints",
    "store_recourse",
    "stored_recourse",
    "violations",
]
