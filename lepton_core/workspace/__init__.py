"""workspace."""

from lepton_core.workspace._apikeys import (
    ApiKey,
    ApiKeyStore,
)
from lepton_core.workspace._sharelinks import (
    EXPIRY_CHOICES,
    ShareLink,
    ShareLinks,
)
from lepton_core.workspace._workspace import (
    ENV_TRACKING_URI,
    ENV_WORKSPACE,
    DatasetInfo,
    ModelVersionInfo,
    RunSummary,
    Workspace,
    default_workspace_path,
    parse_model_ref,
    slugify,
)

__all__ = [
    "ENV_TRACKING_URI",
    "ENV_WORKSPACE",
    "EXPIRY_CHOICES",
    "ApiKey",
    "ApiKeyStore",
    "DatasetInfo",
    "ModelVersionInfo",
    "RunSummary",
    "ShareLink",
    "ShareLinks",
    "Workspace",
    "default_workspace_path",
    "parse_model_ref",
    "slugify",
]
