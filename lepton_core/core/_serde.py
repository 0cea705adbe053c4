"""JSON round-trips for result dataclasses.

Results hold only JSON-friendly values (str, int, float, bool, None, lists,
dicts and nested result dataclasses), so ``to_dict`` is ``dataclasses.asdict``
with NaN turned into ``None`` and ``from_dict`` rebuilds nested dataclasses
from the field annotations. A :class:`~lepton_core.core.Message` is written as its id
and values, so that text read back can still be shown in the reader's language.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from typing import Any, TypeVar

from lepton_core.core._messages import Message

T = TypeVar("T", bound="JsonMixin")


def _clean(value: Any) -> Any:
    # NaN/inf are not JSON; numpy scalars are not JSON either.
    if isinstance(value, Message):  # a str, but its id and values are what a reader needs
        return _clean(value.to_dict())
    if isinstance(value, float):
        return None if not math.isfinite(value) else value
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        return _clean(value.item())
    if hasattr(value, "tolist"):
        return _clean(value.tolist())
    return value


def _build(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    if tp in (Message, str) and isinstance(value, dict) and {"id", "values"} <= set(value):
        # A text field may hold a Message (a str); it was written as its id and values.
        return Message.from_dict(value)
    if dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return tp.from_dict(value) if hasattr(tp, "from_dict") else tp(**value)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (list, tuple) and args and dataclasses.is_dataclass(args[0]):
        return [_build(args[0], v) for v in value]
    if origin in (list, tuple) and args and Message in (args[0], *typing.get_args(args[0])):
        return [_build(args[0], v) for v in value]
    if origin is dict and len(args) == 2 and dataclasses.is_dataclass(args[1]):
        return {k: _build(args[1], v) for k, v in value.items()}
    if origin is typing.Union or origin is types.UnionType:
        if Message in args and isinstance(value, dict):
            return Message.from_dict(value)
        for arg in args:
            if arg is not type(None) and dataclasses.is_dataclass(arg) and isinstance(value, dict):
                return _build(arg, value)
    return value


class JsonMixin:
    """Adds ``to_dict``/``from_dict``/``to_json``/``from_json`` to a dataclass."""

    def to_dict(self) -> dict[str, Any]:
        return _clean(dataclasses.asdict(self))  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        kwargs = {k: _build(hints.get(k), v) for k, v in data.items() if k in names}
        return cls(**kwargs)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_json(cls: type[T], text: str) -> T:
        return cls.from_dict(json.loads(text))
