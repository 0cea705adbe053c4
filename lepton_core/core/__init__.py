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
    disk_full_error,
)
from lepton_core.core._files import file_sha256, has_sha256
from lepton_core.core._messages import (
    LANGUAGES,
    Message,
    Translated,
    in_language,
    message_catalogue,
)
from lepton_core.core._process import limit_malloc_arenas, process_alive, process_token
from lepton_core.core._serde import (
    JsonMixin,
)
from lepton_core.core._settings import (
    ENV_CACHE_ENTRIES,
    ENV_TRACKING_URI,
    ENV_WORKSPACE,
    cache_entries,
    default_workspace_path,
    whole_number_setting,
)
from lepton_core.core._sqlite import (
    BUSY_TIMEOUT_S,
    open_sqlite,
    sqlite_connection,
)
from lepton_core.core._tasks import (
    FEATURE_KINDS,
    NER_TASK,
    TASKS,
    ColumnKind,
    Task,
    is_classification,
)

__all__ = [
    "BUSY_TIMEOUT_S",
    "ENV_CACHE_ENTRIES",
    "ENV_TRACKING_URI",
    "ENV_WORKSPACE",
    "FEATURE_KINDS",
    "LANGUAGES",
    "NER_TASK",
    "TASKS",
    "CallbackList",
    "ColumnKind",
    "DataError",
    "ExplainError",
    "JobError",
    "JsonMixin",
    "LeptonError",
    "Message",
    "ModelError",
    "NotFittedError",
    "ProgressBarCallback",
    "Task",
    "TrainerCallback",
    "TrainerControl",
    "TrainerState",
    "TrainingError",
    "Translated",
    "WorkspaceError",
    "cache_entries",
    "default_workspace_path",
    "disk_full_error",
    "file_sha256",
    "has_sha256",
    "in_language",
    "is_classification",
    "limit_malloc_arenas",
    "message_catalogue",
    "open_sqlite",
    "process_alive",
    "process_token",
    "sqlite_connection",
    "whole_number_setting",
]
