"""The Open Inference Protocol v2 (``/v2/...``), so KServe, MLServer and Triton clients
can call the same models: server metadata and health (no key), then model metadata,
readiness and inference (with a key).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from lepton_core.core import DataError
from lepton_core.data import visible_name
from lepton_core.runs import ModelBundle
from lepton_core.serving._capture import Capture
from lepton_core.serving._health import is_ready
from lepton_core.serving._images import logged_records
from lepton_core.serving._predict import beyond_spans, predictions
from lepton_core.serving._schemas import RecordPrediction, V2Request
from lepton_core.serving._state import ServingState, authorised, serving_state

__all__ = ["models_router", "server_router"]

server_router = APIRouter(tags=["v2"])
models_router = APIRouter(tags=["v2"], dependencies=[Depends(authorised)])

_V2_TYPES = {"numeric": "FP64", "categorical": "BYTES", "boolean": "BYTES", "text": "BYTES"}
State = Annotated[ServingState, Depends(serving_state)]


@server_router.get("/v2", summary="Server metadata (Open Inference Protocol v2)")
def v2_server() -> dict[str, Any]:
    return {"name": "lepton", "version": "1", "extensions": []}


@server_router.get("/v2/health/live", tags=["health"])
def v2_live() -> dict[str, bool]:
    return {"live": True}


@server_router.get("/v2/health/ready", tags=["health"])
def v2_ready(state: State) -> JSONResponse:
    ready = is_ready(state)
    return JSONResponse({"ready": ready}, status_code=200 if ready else 503)


def v2_metadata(name: str, state: State, version: str = "latest") -> dict[str, Any]:
    bundle = state.models.get(name, version)
    n_classes = len(bundle.model.classes_) if bundle.model.task != "regression" else 0
    outputs = [{"name": "label", "datatype": "BYTES", "shape": [-1]}]
    if n_classes:
        outputs.append({"name": "probabilities", "datatype": "FP64", "shape": [-1, n_classes]})
    return {
        "name": bundle.version.name,
        "versions": [str(bundle.version.version)],
        "platform": "lepton",
        "inputs": [
            {"name": f.name, "datatype": _V2_TYPES.get(f.kind, "BYTES"), "shape": [-1]}
            for f in bundle.input_schema.fields
        ],
        "outputs": outputs,
    }


def v2_model_ready(name: str, state: State, version: str = "latest") -> dict[str, Any]:
    bundle = state.models.get(name, version)
    return {"name": bundle.version.name, "ready": True}


def v2_infer(
    name: str, body: V2Request, request: Request, state: State, version: str = "latest"
) -> dict[str, Any]:
    bundle = beyond_spans(state.models.get(name, version))
    with Capture(state, request, bundle, "v2") as capture:
        records = _v2_records(body, bundle)
        scored = predictions(bundle, records, state.models.scorer(bundle))
        ids = capture.done(logged_records(bundle.model, records), scored)
    out = _v2_response(bundle, scored, body.id)
    if state.log is not None:
        # The protocol's response has a free-form "parameters" object: the ids go there,
        # in the order of the rows, for the feedback endpoint.
        out["parameters"] = {"prediction_ids": ids}
    return out


# The same three routes for the latest version and for a given one.
for _prefix in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
    models_router.get(_prefix, summary="Model metadata (v2)")(v2_metadata)
    models_router.get(_prefix + "/ready", summary="Model ready (v2)")(v2_model_ready)
    models_router.post(_prefix + "/infer", summary="Inference (v2)")(v2_infer)


def _v2_records(request: V2Request, bundle: ModelBundle) -> list[dict[str, Any]]:
    """Turn v2 input tensors (one per column, shape [N] or [N, 1]) into records."""
    names = set(bundle.input_schema.names)
    columns: dict[str, list[Any]] = {}
    for tensor in request.inputs:
        shown = visible_name(tensor.name)
        if tensor.name not in names:
            raise DataError(
                f"Input '{shown}' is not a column of this model; it takes "
                f"{', '.join(visible_name(n) for n in bundle.input_schema.names)}."
            )
        if (
            not tensor.shape
            or any(d < 0 for d in tensor.shape)
            or tensor.shape[1:] not in ([], [1])
        ):
            raise DataError(
                f"Input '{shown}' has shape {tensor.shape}; send one column as [N] or [N, 1]."
            )
        flat = [v[0] if isinstance(v, list) and len(v) == 1 else v for v in tensor.data]
        if any(isinstance(v, list) for v in flat) or len(flat) != tensor.shape[0]:
            raise DataError(
                f"Input '{shown}' has {len(tensor.data)} values for shape {tensor.shape}; "
                "send one value per row."
            )
        columns[tensor.name] = flat
    missing = [n for n in bundle.input_schema.names if n not in columns]
    if missing:
        raise DataError(
            f"Input '{visible_name(missing[0])}' is missing; send one tensor per model column."
        )
    sizes = {len(v) for v in columns.values()}
    if len(sizes) != 1:
        raise DataError("The input tensors have different lengths; send one value per row each.")
    n = sizes.pop()
    return [{name: values[i] for name, values in columns.items()} for i in range(n)]


def _v2_response(bundle: ModelBundle, preds: list[RecordPrediction], req_id: str | None) -> dict:
    outputs: list[dict[str, Any]] = [
        {
            "name": "label",
            "shape": [len(preds)],
            "datatype": "BYTES" if not isinstance(preds[0].label, (int, float)) else "FP64",
            "data": [p.label for p in preds],
        }
    ]
    if preds[0].probabilities is not None:
        classes = list(preds[0].probabilities)
        outputs.append(
            {
                "name": "probabilities",
                "shape": [len(preds), len(classes)],
                "datatype": "FP64",
                "data": [p.probabilities[c] for p in preds for c in classes],  # type: ignore[index]
                "parameters": {"classes": classes},
            }
        )
    out = {
        "model_name": bundle.version.name,
        "model_version": str(bundle.version.version),
        "outputs": outputs,
    }
    if req_id is not None:
        out["id"] = req_id
    return out
