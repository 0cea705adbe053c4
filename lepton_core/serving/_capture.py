"""Logging what the routes predict: each record with its latency and caller, and refusals."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from fastapi import Request

from lepton_core.core import DataError
from lepton_core.runs import ModelBundle
from lepton_core.serving._schemas import RecordPrediction
from lepton_core.serving._state import ServingState
from lepton_core.workspace import predicted_probability

__all__ = ["Capture"]


class Capture:
    """Time one request's scoring and log it (a context manager around the scoring).

    A record the model refuses (a :class:`DataError`, answered with a 4xx) is logged as
    one ``error`` row without the records; :meth:`done` logs the predictions.
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
            [p.label for p in scored],
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
