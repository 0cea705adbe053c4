"""core."""

from lepton_core.core._callbacks import (
    CallbackList,
    ProgressBarCallback,
    TrainerCallback,
    TrainerControl,
    TrainerState,
)
from lepton_core.core._exceptions import (
    DataError,
    ExplainError,
    JobError,
    LeptonError,
    ModelError,
    NotFittedError,
    TrainingError,
    WorkspaceError,
)
from lepton_core.core._serde import (
    JsonMixin,
)
from lepton_core.core._tasks import (
    FEATURE_KINDS,
    TASKS,
    ColumnKind,
    Task,
    is_classification,
)

__all__ = [
    "FEATURE_KINDS",
    "TASKS",
    "CallbackList",
    "ColumnKind",
    "DataError",
    "ExplainError",
    "JobError",
    "JsonMixin",
    "LeptonError",
    "ModelError",
    "NotFittedError",
    "ProgressBarCallback",
    "Task",
    "TrainerCallback",
    "TrainerControl",
    "TrainerState",
    "TrainingError",
    "WorkspaceError",
    "is_classification",
]
