"""A model's input schema: the form on the demo page and the check on every request.

Built from the training table when a model is trained and stored with it, so
the demo page and the API need nothing from the publisher's session.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from lepton_core.core import DataError, JsonMixin, Message
from lepton_core.data._clean import CleanupStep, clean_values
from lepton_core.data._names import visible_name
from lepton_core.data._schema import ColumnInfo, Schema
from lepton_core.data._split import prepare_features

__all__ = ["MAX_RECORDS", "InputField", "InputSchema"]

MAX_RECORDS = 10_000
_MAX_CHOICES = 200


@dataclass
class InputField(JsonMixin):
    """One input column: its kind, the range or choices seen in training, and a default."""

    name: str
    kind: str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    choices: list[str] | None = None
    dayfirst: bool | None = None  # datetime fields: how training read 03/04/2021


@dataclass
class InputSchema(JsonMixin):
    """The columns a model takes, in training order, and the data set's clean-ups of them
    (applied to the values sent later, so ``"$3,000"`` reads as it did in training)."""

    fields: list[InputField]
    cleanups: list[CleanupStep] = dataclasses.field(default_factory=list)

    @classmethod
    def from_frame(
        cls,
        raw: pd.DataFrame,
        schema: Schema,
        features: list[str],
        cleanups: Sequence[CleanupStep] = (),
    ) -> InputSchema:
        """Describe ``features`` of the (cleaned) training table ``raw``; ``cleanups`` are
        the data set's clean-ups, of which those that rewrite values are kept."""
        fields = []
        for name in features:
            kind = schema.kind(name)
            col = raw[name]
            if kind == "numeric":
                values = pd.to_numeric(col, errors="coerce").dropna()
                integer = bool(len(values) and np.all(np.mod(values, 1) == 0))
                median = float(values.median()) if len(values) else 0.0
                fields.append(
                    InputField(
                        name=name,
                        kind=kind,
                        default=round(median) if integer else median,
                        minimum=float(values.min()) if len(values) else None,
                        maximum=float(values.max()) if len(values) else None,
                        integer=integer,
                    )
                )
            elif kind == "text":
                # A free-text box: an example from training as the default, no choices.
                texts = col.dropna().astype(str)
                example = texts[texts.str.len().between(20, 200)]
                default = (example if len(example) else texts).iloc[0] if len(texts) else ""
                fields.append(InputField(name=name, kind=kind, default=default))
            else:
                counts = col.dropna().astype(str).value_counts()
                choices = sorted(counts.index[:_MAX_CHOICES].tolist())
                default = counts.index[0] if len(counts) else None
                fields.append(
                    InputField(
                        name=name,
                        kind=kind,
                        default=default,
                        choices=choices,
                        dayfirst=schema.column(name).dayfirst,
                    )
                )
        kept = [
            c for c in cleanups if c.column in features and c.action in ("numbers", "categories")
        ]
        return cls(fields=fields, cleanups=kept)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def defaults(self) -> dict[str, Any]:
        """One record with every field at its default."""
        return {f.name: f.default for f in self.fields}

    def check(self, records: list[dict[str, Any]]) -> None:
        """Check that request records have exactly the schema's fields and plain values.

        Raises
        ------
        DataError
            For no records, too many, an unknown or missing field, text with a lone
            surrogate, or a number no model can read: infinite, NaN or an integer beyond a
            float's exact range (send null for an unknown value).
        """
        if not isinstance(records, list) or not records:
            raise DataError(Message("inputs.no_records"))
        if len(records) > MAX_RECORDS:
            raise DataError(Message("inputs.too_many", records=len(records), limit=MAX_RECORDS))
        names = self.names
        expected = set(names)
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                raise DataError(Message("inputs.not_object", record=i))
            if record.keys() != expected:
                extra = sorted(set(record) - expected)
                if extra:
                    raise DataError(
                        Message(
                            "inputs.unknown_field",
                            record=i,
                            field=visible_name(extra[0]),
                            fields=", ".join(visible_name(n) for n in names),
                        )
                    )
                missing = [n for n in names if n not in record]
                raise DataError(
                    Message("inputs.missing_field", record=i, field=visible_name(missing[0]))
                )
            for name, value in record.items():
                _check_value(value, i, name)

    def to_frame(self, records: list[dict[str, Any]]) -> pd.DataFrame:
        """Check request records against the schema and turn them into model input.

        Raises
        ------
        DataError
            As :meth:`check`, or for a value of the wrong type.
        """
        self.check(records)
        return self.prepare(pd.DataFrame.from_records(records, columns=self.names))

    def prepare(self, table: pd.DataFrame) -> pd.DataFrame:
        """Select and convert the model's columns of ``table`` (extra columns are ignored).

        A numeric column takes numbers and text that reads as a finite number; an empty
        cell (NaN) or null is a missing value; infinite numbers, "inf" or "NaN" as text
        and true/false are refused, as they are in request records.

        Raises
        ------
        DataError
            For a missing column or a value a numeric column cannot take.
        """
        missing = [n for n in self.names if n not in table.columns]
        if missing:
            raise DataError(
                Message(
                    "inputs.missing_column",
                    column=visible_name(missing[0]),
                    columns=", ".join(self.names),
                )
            )
        raw = table[self.names].copy()
        for step in self.cleanups:
            raw[step.column] = clean_values(raw[step.column], step)
        for field in self.fields:
            if field.kind == "numeric":
                raw[field.name] = _numeric(raw[field.name], field.name)
        schema = Schema(
            columns=[
                ColumnInfo(
                    name=f.name,
                    kind=f.kind,  # type: ignore[arg-type]
                    dtype="",
                    missing_share=0.0,
                    distinct=0,
                    dayfirst=f.dayfirst,
                )
                for f in self.fields
            ]
        )
        out = prepare_features(raw, schema, None)
        for field in self.fields:
            if field.kind == "text":  # text models read the words as they are
                checked = raw[field.name].map(
                    lambda v, n=field.name: _text(v, n), na_action="ignore"
                )
                out[field.name] = checked.fillna("").astype("str")
        return out[self.names]


def _check_value(value: Any, i: int, name: str) -> None:
    # JSON parsers accept Infinity, NaN, huge integers and lone surrogates (\ud800); none
    # is a value a model was trained on, NaN would pass for "missing" (which null already
    # says), and a lone surrogate cannot even be written as UTF-8.
    if isinstance(value, str):
        if not value.isascii() and not _utf8(value):
            raise DataError(
                Message(
                    "inputs.surrogate",
                    record=i,
                    field=visible_name(name),
                    value=visible_name(value),
                )
            )
    elif isinstance(value, float) and not math.isfinite(value):
        raise DataError(
            Message("inputs.not_finite", record=i, field=visible_name(name), value=value)
        )
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        raise DataError(Message("inputs.out_of_range", record=i, field=visible_name(name)))


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(value: Any) -> str:
    return visible_name(repr(value))


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise DataError(Message("inputs.not_text", field=visible_name(name), value=_shown(value)))
    return value


def _numeric(col: pd.Series, name: str) -> pd.Series:
    """The column as float64: missing values NaN, and anything but a finite number refused.

    A table file's empty cell (read as NaN) and a record's null are missing values; text
    that reads as a number ("12") is that number; "inf", "NaN" or "1e309" as text, an
    infinite number and true/false are refused.
    """
    shown = visible_name(name)
    if ptypes.is_float_dtype(col.dtype) or ptypes.is_integer_dtype(col.dtype):
        values = col.astype("float64")
        if np.isinf(values.to_numpy()).any():
            raise DataError(Message("inputs.infinite", field=shown))
        return values

    def convert(value: Any) -> float:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return math.nan
        if isinstance(value, bool):
            raise DataError(Message("inputs.boolean", field=shown))
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise DataError(
                Message("inputs.not_number", field=shown, value=_shown(value))
            ) from None
        if not math.isfinite(number):
            raise DataError(Message("inputs.not_finite_field", field=shown, value=_shown(value)))
        return number

    return col.map(convert).astype("float64")
