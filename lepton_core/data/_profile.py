"""Profiles of a table: per-column summaries, suggestions, class balance, fingerprint."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lepton_core.core import (
    FEATURE_KINDS,
    ColumnKind,
    JsonMixin,
    Message,
    Task,
    is_classification,
)
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
    _KINDS_ATTR,
    ColumnInfo,
    Schema,
    _to_datetime,
    _with_str_columns,
    infer_schema,
)

__all__ = [
    "MANY_CATEGORIES",
    "MOSTLY_MISSING",
    "ColumnProfile",
    "DataProfile",
    "fingerprint",
    "profile_table",
    "quality_warnings",
]

_TOP_VALUES = 20
_HISTOGRAM_BINS = 30
# Data-quality warnings: a column empty in more than this share of rows; a category
# column with more values than this; duplicated rows, or rows whose features match a
# row with another label, making up at least this share of the table.
MOSTLY_MISSING = 0.6
MANY_CATEGORIES = MAX_CLASSES
_ROW_SHARE = 0.01


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
    about the table a person should read before training: a column name with
    zero-width or bidirectional-control characters that make it look like another
    name, a column with one value, a column mostly empty, a category column with
    very many values, duplicated rows, and rows that look alike but have different
    labels.
    """

    n_rows: int
    n_columns: int
    schema: Schema
    columns: list[ColumnProfile]
    suggestions: Suggestions
    class_balance: dict[str, int] | None
    fingerprint: str
    warnings: list[Message | str] = field(default_factory=list)


def fingerprint(df: pd.DataFrame) -> str:
    """SHA-256 hex digest of the table's content, column names, dtypes and chosen kinds.

    The row index is left out, so a reordered index with the same rows in the
    same order gives the same fingerprint; the value is stable across runs. Column
    kinds the user chose (see :func:`~lepton_core.data.apply_cleanups`) count, so the
    same values used differently make another data set.
    """
    digest = hashlib.sha256()
    header: list = [[str(c), str(dtype)] for c, dtype in zip(df.columns, df.dtypes, strict=True)]
    if df.attrs.get(_KINDS_ATTR):
        header.append(sorted(dict(df.attrs[_KINDS_ATTR]).items()))
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
        The chosen target; the suggested one is used when omitted. Only a chosen target
        gets the warning about rows that look alike but have different labels.
    """
    df = _with_str_columns(df)
    if target is not None:
        _require_columns(df, [target], "target column")
    schema = infer_schema(df)
    chosen = target  # rows with clashing labels are looked for only for a chosen target
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
        warnings=_name_warnings(list(df.columns))
        + quality_warnings(df, schema, chosen, task if chosen is not None else None),
    )


def quality_warnings(
    df: pd.DataFrame, schema: Schema, target: str | None = None, task: Task | None = None
) -> list[Message]:
    """Plain sentences about columns and rows that may mislead a model.

    In order: columns with one value; columns empty in more than 60% of rows; category
    columns with more than ``MAX_CLASSES`` values; rows that repeat another row; and,
    for a classification ``target``, rows whose model columns match another row's but
    whose label differs. Repeated and clashing rows are named when they are at least 1%
    of the table. Each warning says what to do.
    """
    out: list[Message] = []
    n = len(df)
    if n == 0:
        return out
    for c in schema.columns:
        if c.distinct == 1 and n > 1 and c.missing_share <= MOSTLY_MISSING:
            out.append(Message("profile.constant", column=visible_name(c.name)))
        if c.missing_share > MOSTLY_MISSING:
            out.append(
                Message(
                    "profile.mostly_missing", column=visible_name(c.name), share=c.missing_share
                )
            )
        if c.kind == "categorical" and c.distinct > MANY_CATEGORIES and c.name != target:
            out.append(
                Message("profile.many_categories", column=visible_name(c.name), values=c.distinct)
            )
    try:
        repeated = int(df.duplicated().sum())
    except TypeError:  # unhashable cells in a frame we did not load
        repeated = int(df.astype(str).duplicated().sum())
    if repeated and repeated >= _ROW_SHARE * n:
        out.append(Message("profile.repeated", rows=repeated, share=repeated / n))
    clashing = _clashing_rows(df, schema, target, task)
    if clashing and clashing >= _ROW_SHARE * n:
        out.append(
            Message("profile.clashing", rows=clashing, share=clashing / n, target=str(target))
        )
    return out


def _clashing_rows(df: pd.DataFrame, schema: Schema, target: str | None, task: Task | None) -> int:
    """Rows with a label whose feature values equal another row's with another label."""
    if target is None or task is None or not is_classification(task):
        return 0
    features = [c.name for c in schema.columns if c.kind in FEATURE_KINDS and c.name != target]
    if not features:
        return 0
    labelled = df[df[target].notna()]
    try:
        keys = pd.util.hash_pandas_object(labelled[features], index=False)
    except TypeError:
        keys = pd.util.hash_pandas_object(labelled[features].astype(str), index=False)
    labels = labelled[target].astype(str)
    kinds = labels.groupby(keys.to_numpy()).transform("nunique")
    return int((kinds > 1).sum())


def _name_warnings(names: list[str]) -> list[Message]:
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
        twin = Message("profile.looks_like", column=visible_name(bare)) if bare in plain else ""
        out.append(
            Message(
                "profile.hidden_characters",
                column=visible_name(name),
                characters=", ".join(hidden),
                twin=twin,
            )
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
