"""workspace."""

from lepton_core.workspace._apikeys import (
    KEY_EXPIRY_CHOICES,
    KEY_ROLES,
    ApiKey,
    ApiKeyStore,
)
from lepton_core.workspace._audit import (
    AUDIT_ACTIONS,
    LOCAL_OWNER,
    AuditEntry,
    AuditLog,
    record_in,
)
from lepton_core.workspace._database import (
    DATABASE_FILE,
    ENV_DATABASE_URL,
    Database,
    close_databases,
    database_url,
    open_database,
)
from lepton_core.workspace._datasets import confirm_dataset
from lepton_core.workspace._predictions import (
    DEFAULT_RETENTION_DAYS,
    ENV_PREDICTION_LOG,
    ENV_RETENTION_DAYS,
    LOG_COLUMNS,
    SOURCES,
    LabelResult,
    PredictionLog,
    capture_enabled,
    predicted_probability,
    prediction_log,
    private_columns,
)
from lepton_core.workspace._sharelinks import (
    EXPIRY_CHOICES,
    ShareLink,
    ShareLinks,
)
from lepton_core.workspace._tables import jobs_table, predictions_table
from lepton_core.workspace._team import Role, TeamConfig, team_file
from lepton_core.workspace._workspace import (
    DatasetInfo,
    ModelVersionInfo,
    RunSummary,
    Workspace,
    parse_model_ref,
    quiet_mlflow,
    slugify,
)

__all__ = [
    "AUDIT_ACTIONS",
    "DATABASE_FILE",
    "DEFAULT_RETENTION_DAYS",
    "ENV_DATABASE_URL",
    "ENV_PREDICTION_LOG",
    "ENV_RETENTION_DAYS",
    "EXPIRY_CHOICES",
    "KEY_EXPIRY_CHOICES",
    "KEY_ROLES",
    "LOCAL_OWNER",
    "LOG_COLUMNS",
    "SOURCES",
    "ApiKey",
    "ApiKeyStore",
    "AuditEntry",
    "AuditLog",
    "Database",
    "DatasetInfo",
    "LabelResult",
    "ModelVersionInfo",
    "PredictionLog",
    "Role",
    "RunSummary",
    "ShareLink",
    "ShareLinks",
    "TeamConfig",
    "Workspace",
    "capture_enabled",
    "close_databases",
    "confirm_dataset",
    "database_url",
    "jobs_table",
    "open_database",
    "parse_model_ref",
    "predicted_probability",
    "prediction_log",
    "predictions_table",
    "private_columns",
    "quiet_mlflow",
    "record_in",
    "slugify",
    "team_file",
]
