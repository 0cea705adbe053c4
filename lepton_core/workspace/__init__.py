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
from lepton_core.workspace._sharelinks import (
    EXPIRY_CHOICES,
    ShareLink,
    ShareLinks,
)
from lepton_core.workspace._tables import jobs_table
from lepton_core.workspace._team import Role, TeamConfig, team_file
from lepton_core.workspace._workspace import (
    DatasetInfo,
    ModelVersionInfo,
    RunSummary,
    Workspace,
    parse_model_ref,
    slugify,
)

__all__ = [
    "AUDIT_ACTIONS",
    "DATABASE_FILE",
    "ENV_DATABASE_URL",
    "EXPIRY_CHOICES",
    "KEY_EXPIRY_CHOICES",
    "KEY_ROLES",
    "LOCAL_OWNER",
    "ApiKey",
    "ApiKeyStore",
    "AuditEntry",
    "AuditLog",
    "Database",
    "DatasetInfo",
    "ModelVersionInfo",
    "Role",
    "RunSummary",
    "ShareLink",
    "ShareLinks",
    "TeamConfig",
    "Workspace",
    "close_databases",
    "confirm_dataset",
    "database_url",
    "jobs_table",
    "open_database",
    "parse_model_ref",
    "record_in",
    "slugify",
    "team_file",
]
