"""Counterfactuals for one record: what would have to change to get the answer wanted."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from lepton_core.recourse import MAX_COUNTERFACTUALS, counterfactuals, load_constraints
from lepton_core.serving._schemas import Record, Value
from lepton_core.serving._state import ServingState, authorised, serving_state

__all__ = ["MAX_SECONDS", "router"]

router = APIRouter(tags=["models"], dependencies=[Depends(authorised)])

#: The longest search one request may ask for, in seconds.
MAX_SECONDS = 10.0


class CounterfactualRequest(BaseModel):
    """One record and how many counterfactuals to look for, within how many seconds."""

    record: Record
    count: int = Field(3, ge=1, le=MAX_COUNTERFACTUALS)
    seconds: float = Field(5.0, gt=0, le=MAX_SECONDS)


class ChangeOut(BaseModel):
    feature: str
    before: Value
    after: Value


class CounterfactualOut(BaseModel):
    changes: list[ChangeOut]
    label: Value
    probability: float
    distance: float
    sentence: str


class CounterfactualResponse(BaseModel):
    model: str
    version: int
    label: Value
    probability: float
    desired: Value
    counterfactuals: list[CounterfactualOut]
    note: str | None = None


def _search(
    name: str, version: str, body: CounterfactualRequest, state: ServingState
) -> CounterfactualResponse:
    bundle = state.models.get(name, version)
    ws = state.workspace
    constraints = load_constraints(ws, ws.get_run(bundle.version.run_id).dataset_id)
    found = counterfactuals(
        bundle.model,
        bundle.input_schema,
        bundle.input_schema.to_frame([body.record]),
        constraints,
        count=body.count,
        seconds=body.seconds,
    )
    return CounterfactualResponse(
        model=bundle.version.name,
        version=bundle.version.version,
        label=found.label,
        probability=found.probability,
        desired=found.desired,
        counterfactuals=[
            CounterfactualOut(
                changes=[ChangeOut(**c.to_dict()) for c in cf.changes],
                label=cf.label,
                probability=cf.probability,
                distance=cf.distance,
                sentence=str(cf.sentence),
            )
            for cf in found.counterfactuals
        ],
        note=str(found.note) if found.note else None,
    )


@router.post(
    "/models/{name}/counterfactuals",
    summary="The smallest changes to one record that turn the latest version's answer",
)
def latest_counterfactuals(
    name: str,
    body: CounterfactualRequest,
    state: Annotated[ServingState, Depends(serving_state)],
) -> CounterfactualResponse:
    return _search(name, "latest", body, state)


@router.post(
    "/models/{name}/versions/{version}/counterfactuals",
    summary="The smallest changes to one record that turn this version's answer",
)
def version_counterfactuals(
    name: str,
    version: str,
    body: CounterfactualRequest,
    state: Annotated[ServingState, Depends(serving_state)],
) -> CounterfactualResponse:
    return _search(name, version, body, state)
