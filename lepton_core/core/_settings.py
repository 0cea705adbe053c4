"""Where Lepton keeps its files, read from the environment."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_TRACKING_URI", "ENV_WORKSPACE", "default_workspace_path"]

ENV_WORKSPACE = "LEPTON_WORKSPACE"
ENV_TRACKING_URI = "LEPTON_TRACKING_URI"


def default_workspace_path() -> Path:
    """``$LEPTON_WORKSPACE`` if set, else ``~/.lepton/workspace``."""
    env = os.environ.get(ENV_WORKSPACE)
    return Path(env).expanduser() if env else Path.home() / ".lepton" / "workspace"
