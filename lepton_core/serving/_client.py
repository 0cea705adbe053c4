"""Calling the API as the Deploy page shows it: an in-process "try it", and ready-made calls."""

from __future__ import annotations

import json
import pprint
import time
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from lepton_core.core import JsonMixin
from lepton_core.serving._app import create_app
from lepton_core.workspace import Workspace

__all__ = ["TryResult", "api_examples", "try_predict"]


@dataclass
class TryResult(JsonMixin):
    """One call made through the API in process, as the Deploy page's "try it" shows it."""

    status: int
    body: Any
    latency_ms: float


_OWNER_APPS: dict[str, FastAPI] = {}


def try_predict(workspace: Workspace, name: str, version: int, records: list[dict]) -> TryResult:
    """Call the predict endpoint in process, as the workspace's owner (no key needed).

    Not logged: the owner trying a model is not traffic to monitor.
    """
    key = str(workspace.root.resolve())
    if key not in _OWNER_APPS:
        _OWNER_APPS[key] = create_app(workspace, require_key=False, log_predictions=False)
    with TestClient(_OWNER_APPS[key]) as client:
        start = time.perf_counter()
        response = client.post(
            f"/models/{name}/versions/{version}/predict", json={"records": records}
        )
        elapsed = (time.perf_counter() - start) * 1000
    return TryResult(status=response.status_code, body=response.json(), latency_ms=elapsed)


def api_examples(base_url: str, name: str, version: int, record: dict[str, Any]) -> dict[str, str]:
    """Ready-to-run ``curl`` and Python calls of the predict endpoint with one real record."""
    url = f"{base_url.rstrip('/')}/models/{name}/versions/{version}/predict"
    body = json.dumps({"records": [record]}, indent=2, allow_nan=False)
    curl = (
        f"curl -s {url} \\\n"
        '  -H "Authorization: Bearer $LEPTON_API_KEY" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  -d '{body.replace(chr(39), chr(39) + chr(92) + chr(39) + chr(39))}'"
    )
    python = (
        "import os\n\nimport httpx\n\n"
        f"record = {pprint.pformat(record, sort_dicts=False)}\n"
        "response = httpx.post(\n"
        f"    {url!r},\n"
        '    headers={"Authorization": f"Bearer {os.environ[\'LEPTON_API_KEY\']}"},\n'
        '    json={"records": [record]},\n'
        ")\n"
        "response.raise_for_status()\n"
        'print(response.json()["predictions"][0])'
    )
    return {"curl": curl, "python": python}
