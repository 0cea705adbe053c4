"""The model resource: which versions are registered, and one version's metadata."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from lepton_core.runs import ModelBundle
from lepton_core.serving._schemas import plain
from lepton_core.serving._state import ServingState, authorised, serving_state

__all__ = ["router"]

router = APIRouter(tags=["models"], dependencies=[Depends(authorised)])


@router.get("/models", summary="Registered model versions (published ones for a predict-only key)")
def list_models(
    request: Request, state: Annotated[ServingState, Depends(serving_state)]
) -> list[dict[str, Any]]:
    versions = state.workspace.model_versions()
    if request.state.published_only:
        versions = [v for v in versions if v.published]
    return [v.to_dict() for v in versions]


@router.get(
    "/models/{name}/versions/{version}",
    summary="A model version's input schema, classes, metrics and fairness",
)
def metadata(
    name: str, version: str, state: Annotated[ServingState, Depends(serving_state)]
) -> dict[str, Any]:
    return {**_metadata(state.models.get(name, version)), "runtime": state.runtime}


def _metadata(bundle: ModelBundle) -> dict[str, Any]:
    """A model version's input schema, classes, metrics and fairness summary."""
    model, reports = bundle.model, bundle.reports
    return {
        "name": bundle.version.name,
        "version": bundle.version.version,
        "task": model.task,
        "family": reports.run.family,
        "run_id": bundle.version.run_id,
        "published": bundle.version.published,
        "classes": [plain(c) for c in model.classes_] if model.task != "regression" else None,
        "inputs": [f.to_dict() for f in bundle.input_schema.fields],
        "metrics": reports.evaluation.metrics,
        "n_test_rows": reports.evaluation.n_rows,
        "fairness": [r.summary() for r in reports.fairness],
    }
