"""Profiles of a table: per-column summaries, suggestions, class balance, fingerprint."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lepton_core.core import ColumnKind, JsonMixin, Task, is_classification
from lepton_core.data._choices import (
    MAX_CLASSES,
    Suggestions,
    _require_columns,
    infer_task,
    suggest_sensitive,
    suggest_target,
)
from lepton_core.data._names import hidden_characters, visible_name
from lepton_core.data._schema import (
    _EPOCH,
    ColumnInfo,
    Schema,
    _to_datetime,
    _with_str_columns,
    infer_schema,
)

__all__ = ["ColumnProfile", "DataProfile", "fingerprint", "profile_table"]

_TOP_VALUES = 20
_HISTOGRAM_BINS = 30


@dataclass
class ColumnProfile(JsonMixin):
    """Summary of one column.

    ``stats`` holds ``min``, ``max``, ``mean``, ``std``, ``median`` and
    ``histogram`` (``edges``, ``counts``) for numeric columns; ``min``, ``max``
    (ISO strings) and ``histogram`` for datetimes; ``top`` (``values``,
    ``counts``, the 20 most frequent) for the other kinds.
    """

    name: str
    kind: ColumnKind
    missing_share: float
    distinct: int
    stats: dict


@dataclass
class DataProfile(JsonMixin):
    """Summary of a table: shape, schema, per-column profiles and suggestions.

    ``class_balance`` maps each label to its row count when the (suggested or
    given) target is a classification target, else ``None``. ``fingerprint``
    identifies the content (see :func:`fingerprint`). ``warnings`` are sentences
    about the table a person should read before training, such as a column name
    with zero-width or bidirectional-control characters that make it look like
    another name.
    """

    n_rows: int
    n_columns: int
    schema: Schema
    columns: list[ColumnProfile]
    suggestions: Suggestions
    class_balance: dict[str, int] | None
    fingerprint: str
    warnings: list[str] = field(default_factory=list)


def fingerprint(df: pd.DataFrame) -> str:
    """SHA-256 hex digest of the table's content, column names and dtypes.

    The row index is left out, so a reordered index with the same rows in the
    same order gives the same fingerprint; the value is stable across runs.
    """
    digest = hashlib.sha256()
    header = [[str(c), str(dtype)] for c, dtype in zip(df.columns, df.dtypes, strict=True)]
    digest.update(json.dumps(header).encode("utf-8"))
    try:
        hashed = pd.util.hash_pandas_object(df, index=False)
    except TypeError:  # unhashable cells (lists, dicts): hash their text instead
        hashed = pd.util.hash_pandas_object(df.astype(str), index=False)
    digest.update(np.ascontiguousarray(hashed.to_numpy(dtype="uint64")).tobytes())
    return digest.hexdigest()


def profile_table(df: pd.DataFrame, *, target: str | None = None) -> DataProfile:
    """Profile a table: kinds, missing values, distributions, suggestions and class balance.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    target : str, optional
        The chosen target; the suggested one is used when omitted.
    """
    df = _with_str_columns(df)
    if target is not None:
        _require_columns(df, [target], "target column")
    schema = infer_schema(df)
    target = target if target is not None else suggest_target(df, schema)
    task: Task | None = None
    class_balance = None
    if target is not None:
        y = df[target].dropna()
        task = infer_task(y) if not y.empty else None
        if task is not None and is_classification(task):
            counts = y.value_counts()
            if len(counts) <= MAX_CLASSES:  # more is refused as a target anyway
                class_balance = {str(k): int(v) for k, v in counts.items()}
    return DataProfile(
        n_rows=len(df),
        n_columns=df.shape[1],
        schema=schema,
        columns=[_column_profile(df[c.name], c) for c in schema.columns],
        suggestions=Suggestions(target=target, task=task, sensitive=suggest_sensitive(df, schema)),
        class_balance=class_balance,
        fingerprint=fingerprint(df),
        warnings=_name_warnings(list(df.columns)),
    )


def _name_warnings(names: list[str]) -> list[str]:
    """A sentence for each name with characters that do not show on screen.

    Zero-width and bidirectional-control characters (and other invisible ones) make
    ``"\\u200bage"`` look like ``"age"``; each is named by its escape, e.g. ``\\u200b``.
    """
    plain = {n for n in names if not hidden_characters(n)}
    out = []
    for name in names:
        hidden = hidden_characters(name)
        if not hidden:
            continue
        bare = "".join(ch for ch in name if not hidden_characters(ch))
        twin = f" and looks like column '{visible_name(bare)}'" if bare in plain else ""
        out.append(
            f"Column '{visible_name(name)}' holds characters that do not show "
            f"({', '.join(hidden)}){twin}; rename it in the file so it reads as what it is."
        )
    return out


def _column_profile(s: pd.Series, info: ColumnInfo) -> ColumnProfile:
    if info.kind == "numeric":
        stats = _numeric_stats(pd.to_numeric(s, errors="coerce"))
    elif info.kind == "datetime":
        stats = _datetime_stats(_to_datetime(s))
    else:
        stats = _top_values(s)
    return ColumnProfile(
        name=info.name,
        kind=info.kind,
        missing_share=info.missing_share,
        distinct=info.distinct,
        stats=stats,
    )


def _numeric_stats(s: pd.Series) -> dict:
    values = s.to_numpy(dtype="float64", na_value=np.nan)
    values = values[np.isfinite(values)]
    if values.size == 0:
        empty = dict.fromkeys(("min", "max", "mean", "std", "median"))
        return {**empty, "histogram": {"edges": [], "counts": []}}
    counts, edges = np.histogram(values, bins=min(_HISTOGRAM_BINS, len(np.unique(values))))
    return {
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if values.size > 1 else 0.0,
        "median": float(np.median(values)),
        "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
    }


def _datetime_stats(s: pd.Series) -> dict:
    present = s.dropna()
    if present.empty:
        return {"min": None, "max": None, "histogram": {"edges": [], "counts": []}}
    days = ((present - _EPOCH) / pd.Timedelta(days=1)).to_numpy(dtype="float64")
    counts, edges = np.histogram(days, bins=min(_HISTOGRAM_BINS, len(np.unique(days))))
    iso = [(_EPOCH + pd.Timedelta(days=float(e))).round("s").isoformat() for e in edges]
    return {
        "min": present.min().isoformat(),
        "max": present.max().isoformat(),
        "histogram": {"edges": iso, "counts": counts.tolist()},
    }


def _top_values(s: pd.Series) -> dict:
    try:
        counts = s.value_counts(dropna=True).head(_TOP_VALUES)
    except TypeError:
        counts = s.dropna().astype(str).value_counts().head(_TOP_VALUES)
    return {"top": {"values": [str(v) for v in counts.index], "counts": counts.tolist()}}
