"""Logging what the routes predict: each record with its latency and caller, and refusals."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from fastapi import Request

from lepton_core.core import DataError
from lepton_core.runs import ModelBundle, found_kinds
from lepton_core.serving._schemas import RecordPrediction
from lepton_core.serving._state import ServingState
from lepton_core.workspace import predicted_probability

__all__ = ["Capture", "logged_answer"]


def logged_answer(prediction: RecordPrediction) -> Any:
    """What the prediction log keeps of one answer: the label, or for an entity model's
    answer the kinds of name found (``"location, person"``; see
    :func:`~lepton_core.runs.found_kinds`)."""
    if prediction.entities is None:
        return prediction.label
    return found_kinds(e.type for e in prediction.entities)


class Capture:
    """Time one request's scoring and log it (a context manager around the scoring).

    A record the model refuses (a :class:`DataError`, answered with a 4xx) is logged as
    one ``error`` row without the records; :meth:`done` logs the predictions. An entity
    model's answer (``label`` null, the names as spans) is logged as the kinds of name it
    found (:func:`~lepton_core.runs.found_kinds`), so that monitoring can follow what the
    model finds over time; the response keeps its spans.
    """

    def __init__(self, state: ServingState, request: Request, bundle: ModelBundle, source: str):
        self.log, self.source = state.log, source
        self.model, self.version = bundle.version.name, bundle.version.version
        self.caller: str = getattr(request.state, "caller", "")
        self.started = time.perf_counter()

    @property
    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    def done(
        self, records: Sequence[Mapping[str, Any]], scored: Sequence[RecordPrediction]
    ) -> list[str] | list[None]:
        """Log the scored records; their ids (None each when logging is off)."""
        if self.log is None:
            return [None] * len(scored)
        return self.log.record(
            self.model,
            self.version,
            records,
            [logged_answer(p) for p in scored],
            [predicted_probability(p.label, p.probabilities) for p in scored],
            source=self.source,
            caller=self.caller,
            latency_ms=self.elapsed_ms,
        )

    def __enter__(self) -> Capture:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if isinstance(error, DataError) and self.log is not None:
            self.log.record_error(
                self.model,
                self.version,
                source=self.source,
                caller=self.caller,
                latency_ms=self.elapsed_ms,
            )
