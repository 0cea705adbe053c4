"""The API's request and response bodies (pydantic), as the OpenAPI spec shows them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from lepton_core.data import MAX_RECORDS

__all__ = [
    "Entity",
    "ExplainResponse",
    "FeedbackResponse",
    "Label",
    "LoggedPrediction",
    "PredictRequest",
    "PredictResponse",
    "Record",
    "RecordExplanation",
    "RecordPrediction",
    "V2Request",
    "V2Tensor",
    "Value",
    "plain",
]

Value = str | int | float | bool | None
Record = dict[str, Value]


class PredictRequest(BaseModel):
    """Records to score: one object per row, ``{column: value}``."""

    records: list[Record] = Field(min_length=1, max_length=MAX_RECORDS)


class Entity(BaseModel):
    """A name an entity model found: characters ``start`` to ``end`` of the text, its kind."""

    start: int
    end: int
    type: str
    text: str


class RecordPrediction(BaseModel):
    label: Value
    probabilities: dict[str, float] | None = None
    # An entity model's answer (``label`` is then null): the names found, in text order.
    entities: list[Entity] | None = None


class LoggedPrediction(RecordPrediction):
    # The id to send the true answer back with (POST /models/{name}/feedback); null when
    # the server does not log predictions.
    prediction_id: str | None = None


class PredictResponse(BaseModel):
    model: str
    version: int
    predictions: list[LoggedPrediction]


class Label(BaseModel):
    """A prediction's true answer, found by its ``prediction_id`` or by a ``key``: one input
    column and its value, e.g. ``{"customer_id": "C-17"}`` (every logged prediction of that
    record gets the label)."""

    prediction_id: str | None = Field(default=None, max_length=64)
    key: dict[str, Value] | None = Field(default=None, min_length=1, max_length=1)
    label: str | int | float | bool


class FeedbackResponse(BaseModel):
    model: str
    labelled: int
    unknown: int
    # Up to ten of the ids or keys that matched no logged prediction.
    unknown_examples: list[str]


class RecordExplanation(RecordPrediction):
    output: str
    base_value: float
    contributions: dict[str, float]
    # Text models: each token of the text in order with its contribution.
    tokens: list[tuple[str, float]] | None = None


class ExplainResponse(BaseModel):
    model: str
    version: int
    output_space: str
    predictions: list[RecordExplanation]


class V2Tensor(BaseModel):
    """One Open Inference Protocol tensor: for Lepton, one column of the records."""

    name: str = Field(max_length=200)
    shape: list[int] = Field(max_length=2)
    datatype: str = Field(max_length=10)
    data: list[Value] | list[list[Value]]
    parameters: dict[str, Any] | None = None


class V2Request(BaseModel):
    id: str | None = Field(default=None, max_length=200)
    parameters: dict[str, Any] | None = None
    inputs: list[V2Tensor] = Field(min_length=1, max_length=2000)
    outputs: list[dict[str, Any]] | None = None


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value JSON can hold."""
    return value.item() if hasattr(value, "item") else value
