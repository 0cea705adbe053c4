"""Liveness and readiness: the only routes that need no API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from lepton_core.serving._state import ServingState, serving_state

__all__ = ["is_ready", "router"]

router = APIRouter(tags=["health"])


def is_ready(state: ServingState) -> bool:
    """Whether the workspace's model registry can be read."""
    try:
        state.workspace.client.search_registered_models(max_results=1)
    except Exception:  # any store failure means not ready; the caller says so
        return False
    return True


@router.get("/health", summary="Liveness (no key needed)")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: the workspace can be read")
def ready(state: Annotated[ServingState, Depends(serving_state)]) -> JSONResponse:
    if not is_ready(state):
        return JSONResponse({"status": "not ready"}, status_code=503)
    return JSONResponse({"status": "ready"})
