"""workspace."""

from lepton_core.workspace._apikeys import (
    KEY_EXPIRY_CHOICES,
    ApiKey,
    ApiKeyStore,
)
from lepton_core.workspace._datasets import confirm_dataset
from lepton_core.workspace._sharelinks import (
    EXPIRY_CHOICES,
    ShareLink,
    ShareLinks,
)
from lepton_core.workspace._workspace import (
    DatasetInfo,
    ModelVersionInfo,
    RunSummary,
    Workspace,
    parse_model_ref,
    slugify,
)

__all__ = [
    "EXPIRY_CHOICES",
    "KEY_EXPIRY_CHOICES",
    "ApiKey",
    "ApiKeyStore",
    "DatasetInfo",
    "ModelVersionInfo",
    "RunSummary",
    "ShareLink",
    "ShareLinks",
    "Workspace",
    "confirm_dataset",
    "parse_model_ref",
    "slugify",
]
