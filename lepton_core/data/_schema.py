"""Column kinds: what each column of a table holds.

Kinds follow simple, documented rules (see :func:`infer_schema`); they are
suggestions the user can override on the Data page. The helpers here that
parse dates and tokenise names are shared by the other table modules.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import get_args

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from lepton_core.core import FEATURE_KINDS, ColumnKind, JsonMixin

__all__ = ["ColumnInfo", "Schema", "infer_schema"]

# Integer-valued numeric targets with at most this many values are classes.
_MAX_NUMERIC_CLASSES = 20
# Values looked at when sniffing a column's kind; keeps inference fast on big tables.
_SNIFF_SIZE = 1000

_BOOL_PAIRS = [
    frozenset(pair)
    for pair in (
        ("true", "false"),
        ("yes", "no"),
        ("y", "n"),
        ("t", "f"),
        ("0", "1"),
        ("0.0", "1.0"),
    )
]

_NO_SPACE_CHAR = "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
_ID_TOKENS = frozenset({"id", "ids", "uuid", "guid", "key", "index", "idx", "rowid", "rownum"})

_DATE_RE = re.compile(
    r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})"
    r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2}|UTC)?\s*$",
    re.IGNORECASE,
)
_MONTH_DATE_RE = re.compile(
    r"^(?=.*\d)(?=.*\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b)"
    r"[\w ,./:-]{6,40}$",
    re.IGNORECASE,
)
# Chinese, Japanese and Korean dates: 2024年3月5日, 2024年03月05日 14时30分, 2024년 3월 5일.
_CJK_DATE_RE = re.compile(
    r"^\s*(\d{4})\s*[年년]\s*(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日号일]?"
    r"(?:\s*(\d{1,2})\s*[:：时時시]\s*(\d{1,2})\s*[分분]?(?:\s*(\d{1,2})\s*[秒초]?)?)?\s*$"
)
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_DAY_MONTH_RE = re.compile(r"^\s*(\d{1,2})[-/.](\d{1,2})[-/.]\d{2,4}\b")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_UUID_RE = re.compile(
    r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.IGNORECASE
)
_EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
# Where a table records the kinds its user chose (``df.attrs``; Parquet files keep it).
_KINDS_ATTR = "lepton_column_kinds"
_KINDS = frozenset(get_args(ColumnKind))


@dataclass
class ColumnInfo(JsonMixin):
    """One column of a :class:`Schema`.

    Attributes
    ----------
    name : str
        Column name.
    kind : ColumnKind
        What the column holds: numeric, categorical, boolean, datetime, text or identifier.
    dtype : str
        The pandas dtype it was loaded with.
    missing_share : float
        Share of missing values, 0 to 1.
    distinct : int
        Number of distinct non-missing values.
    dayfirst : bool or None
        Datetime columns written as text: whether dates like 03/04/2021 are day-first,
        decided once on the training table so that a single record sent to the model later
        is read the same way (None: decide from the values at hand).
    """

    name: str
    kind: ColumnKind
    dtype: str
    missing_share: float
    distinct: int
    dayfirst: bool | None = None


@dataclass
class Schema(JsonMixin):
    """The columns of a table and their kinds."""

    columns: list[ColumnInfo]

    def names(self) -> list[str]:
        """Column names in table order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnInfo:
        """Column ``name``; ``ValueError`` if there is no such column."""
        for column in self.columns:
            if column.name == name:
                return column
        raise ValueError(f"unknown column {name!r}")

    def kind(self, name: str) -> ColumnKind:
        """The kind of column ``name``; ``ValueError`` if there is no such column."""
        return self.column(name).kind

    def feature_columns(self, target: str | None) -> list[str]:
        """Columns a tabular model uses: kinds in ``FEATURE_KINDS``, without ``target``."""
        return [c.name for c in self.columns if c.kind in FEATURE_KINDS and c.name != target]


def infer_schema(df: pd.DataFrame, kinds: Mapping[str, ColumnKind] | None = None) -> Schema:
    """Guess the kind of every column, unless the user chose it.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    kinds : mapping of str to kind, optional
        Kinds the user chose for some columns; they win over the rules below. When
        omitted, the kinds recorded in the table by
        :func:`~lepton_core.data.apply_cleanups` (``df.attrs``, kept in the Parquet file
        of a confirmed data set) are used. Names the table lacks are ignored.

    Rules, in order (values are sampled, so this stays fast on large tables):

    - ``boolean``: bool dtype, or strings whose two values are a pair like
      true/false, yes/no, y/n, t/f or "0"/"1". Numbers are never boolean, so a
      0/1 integer column stays numeric.
    - ``datetime``: datetime dtype, or strings that mostly look like dates
      (``2021-03-04``, ``04/03/2021 10:00``, ``4 March 2021``) and parse.
    - ``numeric``: number dtype, or strings with more than 20 distinct values
      that almost all parse as numbers (fewer: ``categorical`` codes);
      an integer column that is unique per row and named like an id
      (``id``, ``customer_id``, ``index``) or numbered 0..n-1 / 1..n is an
      ``identifier`` instead.
    - ``text``: strings averaging over 30 characters or five words, with many
      distinct values.
    - ``identifier``: strings that look like e-mails or UUIDs, are unique per
      row (20 rows or more), are unique and named like an id, or have more
      than 1,000 distinct values making up over half of the rows.
    - ``categorical``: everything else.
    """
    chosen = dict(df.attrs.get(_KINDS_ATTR) or {}) if kinds is None else dict(kinds)
    unknown = sorted(str(k) for k in set(chosen.values()) - _KINDS)
    if unknown:
        raise ValueError(f"unknown column kinds {unknown}; use one of {sorted(_KINDS)}")
    return Schema(
        columns=[_column_info(str(name), df[name], chosen.get(str(name))) for name in df.columns]
    )


def _column_info(name: str, s: pd.Series, chosen: ColumnKind | None = None) -> ColumnInfo:
    n = len(s)
    missing = int(s.isna().sum())
    distinct = _nunique(s)
    kind = chosen or _column_kind(name, s, n - missing, distinct)
    dayfirst = None
    if kind == "datetime" and not ptypes.is_datetime64_any_dtype(s.dtype):
        dayfirst = _is_dayfirst(_sniff_sample(s))
    return ColumnInfo(
        name=name,
        kind=kind,
        dtype=str(s.dtype),
        missing_share=missing / n if n else 0.0,
        distinct=distinct,
        dayfirst=dayfirst,
    )


def _with_str_columns(df: pd.DataFrame) -> pd.DataFrame:
    # Schemas name columns by strings; frames built in code may use other labels.
    if all(isinstance(c, str) for c in df.columns):
        return df
    return df.rename(columns=str)


def _nunique(s: pd.Series) -> int:
    try:
        return int(s.nunique(dropna=True))
    except TypeError:  # unhashable values in a frame we did not load
        return int(s.dropna().astype(str).nunique())


def _column_kind(name: str, s: pd.Series, n_present: int, distinct: int) -> ColumnKind:
    if ptypes.is_bool_dtype(s.dtype):
        return "boolean"
    if ptypes.is_datetime64_any_dtype(s.dtype):
        return "datetime"
    if ptypes.is_numeric_dtype(s.dtype) and not ptypes.is_complex_dtype(s.dtype):
        return _numeric_kind(name, s, n_present, distinct)
    values = _sniff_sample(s)
    if _is_boolean_strings(s, distinct):
        return "boolean"
    if values.empty:
        return "categorical"
    # Numbers kept as strings with few values ("1"/"2" codes) are categories.
    if not isinstance(s.dtype, pd.CategoricalDtype) and distinct > _MAX_NUMERIC_CLASSES:
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.notna().mean() >= 0.95:
            return _numeric_kind(name, pd.to_numeric(s, errors="coerce"), n_present, distinct)
    if _looks_like_dates(values):
        return "datetime"
    lengths = values.str.len()
    # Chinese and Japanese put no spaces between words: each of their characters counts.
    words = values.str.count(" ") + 1 + values.str.count(_NO_SPACE_CHAR)
    many_distinct = distinct >= 0.5 * n_present or distinct > 1000
    if many_distinct and (lengths.mean() > 30 or words.mean() >= 5):
        return "text"
    pattern_share = values.map(lambda v: bool(_EMAIL_RE.match(v) or _UUID_RE.match(v))).mean()
    unique = distinct == n_present and n_present > 0
    if (
        pattern_share >= 0.9
        or (unique and n_present >= 20)
        or (distinct >= 0.95 * n_present and _is_id_name(name) and n_present > 1)
        or (distinct > 1000 and distinct > 0.5 * n_present)
    ):
        return "identifier"
    return "categorical"


def _numeric_kind(name: str, s: pd.Series, n_present: int, distinct: int) -> ColumnKind:
    if n_present < 2 or distinct != n_present:
        return "numeric"
    values = s.dropna().to_numpy(dtype="float64")
    if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
        return "numeric"
    low, high = values.min(), values.max()
    row_number = low in (0.0, 1.0) and high - low == n_present - 1
    return "identifier" if row_number or _is_id_name(name) else "numeric"


def _sniff_sample(s: pd.Series) -> pd.Series:
    present = s.dropna()
    if len(present) > _SNIFF_SIZE:
        present = present.sample(_SNIFF_SIZE, random_state=0)
    return present.astype(str).astype(object).str.strip()


def _is_boolean_strings(s: pd.Series, distinct: int) -> bool:
    if not 2 <= distinct <= 4:  # "Yes"/"yes" spellings still make one pair
        return False
    words = {str(v).strip().lower() for v in s.dropna().unique()}
    return frozenset(words) in _BOOL_PAIRS


def _looks_like_dates(values: pd.Series) -> bool:
    values = _iso_cjk_dates(values)
    shaped = values.map(lambda v: bool(_DATE_RE.match(v) or _MONTH_DATE_RE.match(v)))
    if shaped.mean() < 0.8:
        return False
    return _to_datetime(values).notna().mean() >= 0.8


def _iso_cjk_dates(values: pd.Series) -> pd.Series:
    """Chinese, Japanese and Korean dates (``2024年3月5日``) rewritten as ISO dates, which
    pandas reads; other values unchanged."""

    def iso(value: object) -> object:
        if not isinstance(value, str):
            return value
        match = _CJK_DATE_RE.match(value.translate(_FULL_WIDTH_DIGITS))
        if not match:
            return value
        year, month, day, hour, minute, second = match.groups()
        out = f"{year}-{int(month):02d}-{int(day):02d}"
        if hour is not None:
            out += f" {int(hour):02d}:{int(minute):02d}:{int(second or 0):02d}"
        return out

    if not values.map(lambda v: isinstance(v, str) and ("年" in v or "년" in v)).any():
        return values
    return values.map(iso)


def _to_datetime(s: pd.Series, dayfirst: bool | None = None) -> pd.Series:
    """Parse to UTC timestamps; unparseable values become ``NaT``.

    ``dayfirst`` says how to read dates like 03/04/2021 (None: decide from ``s``).
    """
    if ptypes.is_datetime64_any_dtype(s.dtype):
        return s.dt.tz_convert("UTC") if s.dt.tz is not None else s.dt.tz_localize("UTC")
    s = _iso_cjk_dates(s)
    if dayfirst is None:
        dayfirst = _is_dayfirst(_sniff_sample(s))
    with warnings.catch_warnings():
        # pandas warns when it cannot infer one format; "mixed" below is the answer.
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(s, errors="coerce", utc=True, dayfirst=dayfirst)
        if parsed.notna().sum() < 0.9 * s.notna().sum():
            parsed = pd.to_datetime(s, errors="coerce", utc=True, dayfirst=dayfirst, format="mixed")
    return parsed


def _is_dayfirst(values: pd.Series) -> bool:
    """Whether dates like 03/04/2021 are day-first: some day field is over 12, no month field is."""
    parts = values.str.extract(_DAY_MONTH_RE).dropna().astype(int)
    return bool(len(parts)) and bool((parts[0] > 12).any()) and not bool((parts[1] > 12).any())


def _name_tokens(name: str) -> tuple[str, ...]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))
    return tuple(t for t in re.split(r"[^0-9a-z]+", spaced.lower()) if t)


def _is_id_name(name: str) -> bool:
    tokens = _name_tokens(name)
    return bool(tokens) and (tokens[-1] in _ID_TOKENS or tokens[0] == "unnamed")
