"""The feedback resource: true answers for logged predictions, as they become known.

``POST /models/{name}/feedback`` takes one :class:`Label` or a list: each names a
prediction by the ``prediction_id`` its response gave, or by a ``key`` (one input column
and its value) when the caller kept no id. A key that may call the model's published
versions (a ``predict`` key) may send their labels too.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from pydantic import Field

from lepton_core.core import DataError, Message, ModelError
from lepton_core.data import MAX_RECORDS, visible_name
from lepton_core.serving._schemas import FeedbackResponse, Label
from lepton_core.serving._state import ServingState, authorised, serving_state
from lepton_core.workspace import LabelResult, prediction_log

__all__ = ["router"]

router = APIRouter(tags=["models"], dependencies=[Depends(authorised)])

Labels = Annotated[list[Label], Field(min_length=1, max_length=MAX_RECORDS)]


# The path names the model as {model}, not {name}: the key check then pins no version
# (a label joins the version that made the prediction), and a predict key's labels are
# kept to published versions below.
@router.post(
    "/models/{model}/feedback",
    summary="True answers for logged predictions, by prediction id or by a record key",
)
def feedback(
    model: str,
    body: Annotated[Label | Labels, Body()],
    request: Request,
    state: Annotated[ServingState, Depends(serving_state)],
) -> FeedbackResponse:
    labels = body if isinstance(body, list) else [body]
    by_id: list[tuple[str, object]] = []
    by_key: dict[str, list[tuple[object, object]]] = {}
    for i, item in enumerate(labels):
        if (item.prediction_id is None) == (item.key is None):
            raise DataError(Message("predictions.error.feedback_target", index=i))
        _check_text(i, item)
        if item.prediction_id is not None:
            by_id.append((item.prediction_id, item.label))
        else:
            [(column, value)] = item.key.items()  # type: ignore[union-attr]
            by_key.setdefault(column, []).append((value, item.label))
    if len(by_key) > 1:
        columns = ", ".join(f"'{visible_name(c)}'" for c in list(by_key)[:5])
        raise DataError(Message("predictions.error.feedback_columns", columns=columns))
    versions = None
    if request.state.published_only:
        versions = [v.version for v in state.workspace.model_versions(model) if v.published]
    log = state.log or prediction_log(state.workspace)
    results = [log.add_labels(model, by_id, version=versions)] if by_id else []
    results += [
        log.add_labels(model, pairs, key_column=column, version=versions)
        for column, pairs in by_key.items()
    ]
    done = LabelResult(
        labelled=sum(r.labelled for r in results),
        unknown=sum(r.unknown for r in results),
        examples=[e for r in results for e in r.examples][:10],
    )
    shown = visible_name(model)
    if not done.labelled:
        count = len(labels)
        raise ModelError(Message("predictions.error.nothing_matched", model=shown, count=count))
    return FeedbackResponse(
        model=shown,
        labelled=done.labelled,
        unknown=done.unknown,
        unknown_examples=[visible_name(e) for e in done.examples],
    )


def _check_text(i: int, item: Label) -> None:
    """Refuse text no database stores or compares: lone surrogates and NUL anywhere, and
    quotes or backslashes in a key column's name (it becomes a JSON path)."""
    key = item.key or {}
    texts = [t for t in (item.prediction_id, item.label, *key, *key.values()) if isinstance(t, str)]
    if not all(map(_storable, texts)) or any(c in name for name in key for c in '"\\'):
        raise DataError(Message("predictions.error.feedback_text", index=i))


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text
