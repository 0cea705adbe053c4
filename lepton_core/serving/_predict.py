"""Scoring a model version: predictions, explanations, and a whole table file (batch)."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, UploadFile
from fastapi.responses import Response

from lepton_core.core import DataError
from lepton_core.data import load_table
from lepton_core.runs import ModelBundle, score_table
from lepton_core.serving._schemas import (
    ExplainResponse,
    PredictRequest,
    PredictResponse,
    RecordExplanation,
    RecordPrediction,
    plain,
)
from lepton_core.serving._state import (
    MAX_EXPLAIN_RECORDS,
    ServingState,
    authorised,
    serving_state,
)

__all__ = ["check_values", "predictions", "router"]

router = APIRouter(tags=["models"], dependencies=[Depends(authorised)])


def predictions(
    bundle: ModelBundle, records: list[dict[str, Any]], scorer: Any
) -> list[RecordPrediction]:
    """Labels (and class probabilities) of ``records`` from ``scorer``."""
    check_values(records)
    labels, proba = scorer.predict_records(records, bundle.input_schema)
    classes = [str(c) for c in bundle.model.classes_] if proba is not None else []
    return [
        RecordPrediction(
            label=plain(label),
            probabilities=(
                dict(zip(classes, map(float, proba[i]), strict=True)) if proba is not None else None
            ),
        )
        for i, label in enumerate(labels)
    ]


def check_values(records: list[dict[str, Any]]) -> None:
    """Refuse values no model was trained on.

    Raises
    ------
    DataError
        A value is infinite or an integer beyond a float's exact range.
    """
    # JSON allows Infinity and huge integers; neither is a value a model was trained on.
    for i, record in enumerate(records):
        for name, value in record.items():
            bad = (isinstance(value, float) and math.isinf(value)) or (
                isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53
            )
            if bad:
                raise DataError(
                    f"Record {i} field '{name[:60]}' is out of range; send a finite number."
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
    state: Annotated[ServingState, Depends(serving_state)],
) -> PredictResponse:
    bundle = state.models.get(name, version)
    return PredictResponse(
        model=bundle.version.name,
        version=bundle.version.version,
        predictions=predictions(bundle, body.records, state.models.scorer(bundle)),
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
    bundle = state.models.get(name, version)
    check_values(body.records)
    out = []
    space = ""
    for p in bundle.predict(body.records):
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
        out.append(
            RecordExplanation(
                label=p.label,
                probabilities=p.probabilities,
                output=output,
                base_value=expl.base_value(0, k),
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
    summary="Score a table file (CSV, TSV, Parquet, JSON Lines); the result comes back as CSV",
    response_class=Response,
)
def batch(
    name: str,
    version: str,
    file: UploadFile,
    state: Annotated[ServingState, Depends(serving_state)],
) -> Response:
    bundle = state.models.get(name, version)
    # The upload's name only picks the format; it never becomes a path.
    table = load_table(
        file.file.read(), filename=_safe_name(file.filename), max_bytes=state.max_body_bytes
    )
    scored = score_table(bundle, table)
    return Response(scored.to_csv(index=False), media_type="text/csv")


def _safe_name(filename: str | None) -> str | None:
    if not filename:
        return None
    return filename.replace("\\", "/").rsplit("/", 1)[-1][:200] or None
