"""Scoring a model version: predictions, explanations, and a whole table file (batch)."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, UploadFile
from fastapi.responses import Response

from lepton_core.core import DataError
from lepton_core.data import load_table
from lepton_core.runs import ModelBundle, score_table, to_csv
from lepton_core.serving._capture import Capture
from lepton_core.serving._images import image_records, logged_records
from lepton_core.serving._schemas import (
    ExplainResponse,
    LoggedPrediction,
    PredictRequest,
    PredictResponse,
    RecordExplanation,
    plain,
)
from lepton_core.serving._state import (
    MAX_EXPLAIN_RECORDS,
    ServingState,
    authorised,
    serving_state,
)

__all__ = ["beyond_spans", "check_finite", "predictions", "router"]

router = APIRouter(tags=["models"], dependencies=[Depends(authorised)])


def predictions(
    bundle: ModelBundle, records: list[dict[str, Any]], scorer: Any
) -> list[LoggedPrediction]:
    """Labels (and class probabilities) of ``records`` from ``scorer``.

    Raises
    ------
    DataError
        A record breaks the input schema (see :meth:`InputSchema.check`), or its values
        are so far out of range that the model gives no finite prediction.
    """
    with image_records(bundle.model, records) as read:  # an image model: base64 pictures
        labels, proba = scorer.predict_records(read, bundle.input_schema)
    if bundle.model.reads == "ner":  # each answer is the names found, as character spans
        return [LoggedPrediction(label=None, entities=list(spans)) for spans in labels]
    classes = [str(c) for c in bundle.model.classes_] if proba is not None else []
    out = [
        LoggedPrediction(
            label=plain(label),
            probabilities=(
                dict(zip(classes, map(float, proba[i]), strict=True)) if proba is not None else None
            ),
        )
        for i, label in enumerate(labels)
    ]
    for i, p in enumerate(out):
        check_finite(i, p.label, *(p.probabilities or {}).values())
    return out


def beyond_spans(bundle: ModelBundle) -> ModelBundle:
    """``bundle``, when its answers are labels (every route but ``/predict`` needs them).

    Raises
    ------
    DataError
        It finds names in text (an entity model): only ``/predict`` answers for it.
    """
    if bundle.model.reads == "ner":
        raise DataError(
            f"Model {bundle.version.name}:{bundle.version.version} finds names in text, which "
            "only /predict answers (with the names found as character spans); send its "
            "records there."
        )
    return bundle


def check_finite(i: int, *values: Any) -> None:
    """Refuse record ``i`` when one of its outputs is not a finite number (JSON has none).

    Raises
    ------
    DataError
        A value is NaN or infinite.
    """
    if any(isinstance(v, float) and not math.isfinite(v) for v in values):
        raise DataError(
            f"Record {i} gives no finite prediction; its numbers are too far out of the range "
            "the model was trained on, so send values closer to the training data."
        )


def explain_limit(body: PredictRequest) -> PredictRequest:
    """The request, when it has at most :data:`MAX_EXPLAIN_RECORDS` records (a dependency)."""
    if len(body.records) > MAX_EXPLAIN_RECORDS:
        raise DataError(
            f"{len(body.records):,} records were sent to explain, over the limit of "
            f"{MAX_EXPLAIN_RECORDS}; "
            "send smaller batches or use batch scoring."
        )
    return body


@router.post(
    "/models/{name}/versions/{version}/predict",
    summary="Labels and class probabilities for records",
)
def predict(
    name: str,
    version: str,
    body: PredictRequest,
    request: Request,
    state: Annotated[ServingState, Depends(serving_state)],
) -> PredictResponse:
    bundle = state.models.get(name, version)
    with Capture(state, request, bundle, "api") as capture:
        scored = predictions(bundle, body.records, state.models.scorer(bundle))
        logged = logged_records(bundle.model, body.records)  # pictures by fingerprint
        for p, pid in zip(scored, capture.done(logged, scored), strict=True):
            p.prediction_id = pid
    return PredictResponse(
        model=bundle.version.name, version=bundle.version.version, predictions=scored
    )


@router.post(
    "/models/{name}/versions/{version}/explain",
    summary="Predictions with each record's SHAP contributions",
)
def explain_records(
    name: str,
    version: str,
    body: Annotated[PredictRequest, Depends(explain_limit)],
    state: Annotated[ServingState, Depends(serving_state)],
) -> ExplainResponse:
    bundle = beyond_spans(state.models.get(name, version))
    out = []
    space = ""
    with image_records(bundle.model, body.records) as records:
        scored = bundle.predict(records)
    for p in scored:
        expl = p.explanation
        space = expl.output_space
        output = str(p.label) if str(p.label) in expl.outputs else expl.outputs[0]
        k = expl.output_index(output)
        tokens = None
        if expl.tokens is not None:
            values = expl.token_values(0)[:, k]
            tokens = [(t.strip(), float(v)) for t, v in zip(expl.tokens[0], values, strict=True)]
            contributions = {expl.feature_names[0]: sum(v for _, v in tokens)}
        else:
            contributions = {
                f: float(v)
                for f, v in zip(expl.feature_names, expl.values_array(k)[0], strict=True)
            }
        base = expl.base_value(0, k)
        check_finite(
            len(out),
            p.label,
            base,
            *(p.probabilities or {}).values(),
            *contributions.values(),
            *(v for _, v in tokens or ()),
        )
        out.append(
            RecordExplanation(
                label=p.label,
                probabilities=p.probabilities,
                output=output,
                base_value=base,
                contributions=contributions,
                tokens=tokens,
            )
        )
    return ExplainResponse(
        model=bundle.version.name,
        version=bundle.version.version,
        output_space=space,
        predictions=out,
    )


@router.post(
    "/models/{name}/versions/{version}/batch",
    summary="Score a table file (CSV, TSV, Parquet, JSON Lines); the result comes back as CSV "
    "(with a prediction_id column when the server logs predictions)",
    response_class=Response,
)
def batch(
    name: str,
    version: str,
    file: UploadFile,
    request: Request,
    state: Annotated[ServingState, Depends(serving_state)],
) -> Response:
    bundle = beyond_spans(state.models.get(name, version))
    with Capture(state, request, bundle, "batch") as capture:
        # The upload's name only picks the format; it never becomes a path.
        table = load_table(
            file.file.read(), filename=_safe_name(file.filename), max_bytes=state.max_body_bytes
        )
        # Each chunk of rows is logged as it is scored.
        scored = score_table(bundle, table, log=state.log, caller=capture.caller)
    # Formula-like text cells are escaped for spreadsheets (see runs.to_csv).
    return Response(to_csv(scored), media_type="text/csv")


def _safe_name(filename: str | None) -> str | None:
    if not filename:
        return None
    return filename.replace("\\", "/").rsplit("/", 1)[-1][:200] or None
