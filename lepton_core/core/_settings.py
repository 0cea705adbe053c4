"""Where Lepton keeps its files, read from the environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = [
    "ENV_CACHE_ENTRIES",
    "ENV_TRACKING_URI",
    "ENV_WORKSPACE",
    "cache_entries",
    "default_workspace_path",
    "whole_number_setting",
]

ENV_WORKSPACE = "LEPTON_WORKSPACE"
ENV_TRACKING_URI = "LEPTON_TRACKING_URI"
ENV_CACHE_ENTRIES = "LEPTON_CACHE_ENTRIES"


def default_workspace_path() -> Path:
    """``$LEPTON_WORKSPACE`` if set, else ``~/.lepton/workspace``."""
    env = os.environ.get(ENV_WORKSPACE)
    return Path(env).expanduser() if env else Path.home() / ".lepton" / "workspace"


def whole_number_setting(
    name: str, default: int, value: Any = None, *, what: str, hint: str, error: type[Exception]
) -> int:
    """``value``, else ``$name``, else ``default``, as a whole number of at least 1.

    Anything else raises ``error`` with one sentence: ``what`` names the setting for the
    reader ("The job limit") and ``hint`` says what to set ("1 or more").
    """
    raw: Any = value if value is not None else os.environ.get(name, "").strip()
    if raw == "":
        return default
    try:
        number = int(raw)
    except (TypeError, ValueError):
        number = 0
    if number < 1 or str(raw).strip() != str(number):
        raise error(f"{what} {raw!r} is not a whole number of at least 1; set {name} to {hint}.")
    return number


def cache_entries(default: int) -> int:
    """How many entries a bounded cache keeps: ``default``, or ``$LEPTON_CACHE_ENTRIES`` if lower.

    Every count-bounded cache of the engine and the app asks here, read once at import,
    so one setting caps them all (a server short of memory; a benchmark that fills them).
    """
    return min(
        default,
        whole_number_setting(
            ENV_CACHE_ENTRIES, default, what="The cache size", hint="1 or more", error=ValueError
        ),
    )
