"""Loading, typing, profiling and splitting tables.

The data layer turns an upload (a path or raw bytes) into a ``DataFrame``,
guesses what each column is (:func:`infer_schema`), which column is the target
and which are sensitive attributes, validates a user's choices
(:func:`check_target`, :func:`check_sensitive`) and splits the table for
training (:func:`split_table`). Every problem a user can fix raises
:class:`~lepton_core.core._exceptions.DataError` with one sentence saying what to do.

Column kinds follow simple, documented rules (see :func:`infer_schema`); they
are suggestions the user can override on the Data page.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import itertools
import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from lepton_core.core import (
    FEATURE_KINDS,
    TASKS,
    ColumnKind,
    DataError,
    JsonMixin,
    Task,
    is_classification,
)

__all__ = [
    "MAX_CLASSES",
    "MIN_LABELLED_ROWS",
    "ColumnInfo",
    "ColumnProfile",
    "DataProfile",
    "DataSplit",
    "Schema",
    "Suggestions",
    "check_sensitive",
    "check_target",
    "fingerprint",
    "infer_schema",
    "infer_task",
    "load_table",
    "prepare_features",
    "profile_table",
    "split_table",
    "suggest_sensitive",
    "suggest_target",
]

#: Classification targets with more distinct values than this are refused.
MAX_CLASSES = 50
#: Fewest rows with a target value that training and testing need.
MIN_LABELLED_ROWS = 10

# Integer-valued numeric targets with at most this many values are classes.
_MAX_NUMERIC_CLASSES = 20
# Values looked at when sniffing a column's kind; keeps inference fast on big tables.
_SNIFF_SIZE = 1000
_TOP_VALUES = 20
_HISTOGRAM_BINS = 30
# Characters of text the delimiter and decimal sniffers look at.
_SNIFF_CHARS = 65536

_FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".tab": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
}
_EXCEL = (".xlsx", ".xlsm", ".xls", ".ods")
_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_NA_VALUES = ["?"]

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
_TRUE_WORDS = frozenset({"true", "yes", "y", "t", "1", "1.0"})
_FALSE_WORDS = frozenset({"false", "no", "n", "f", "0", "0.0"})

_ID_TOKENS = frozenset({"id", "ids", "uuid", "guid", "key", "index", "idx", "rowid", "rownum"})
# Names (normalised) of likely targets: generic ones score 3, domain ones 2.
_GENERIC_LABELS = ("target", "label", "labels", "class", "y", "outcome")
_DOMAIN_LABELS = (
    *("income", "churn", "churned", "survived", "default", "response", "result", "diagnosis"),
    *("species", "sentiment", "fraud", "is_fraud", "exited", "attrition", "progression"),
    *("cultivar", "price", "saleprice", "quality"),
)
_LABEL_NAMES = {**dict.fromkeys(_DOMAIN_LABELS, 2), **dict.fromkeys(_GENERIC_LABELS, 3)}
_LABEL_TOKENS = frozenset({"target", "label", "outcome"})
_SENSITIVE_NAMES = (
    *("sex", "gender", "race", "ethnicity", "ethnic", "age", "religion", "religious"),
    *("nationality", "citizenship", "native country", "country of birth", "birth country"),
    *("disability", "disabled", "marital status", "marital", "pregnancy", "pregnant"),
    *("sexual orientation", "skin color", "skin colour", "date of birth", "dob"),
)
_SENSITIVE_PATTERNS = [tuple(name.split(" ")) for name in _SENSITIVE_NAMES]

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
_DAY_MONTH_RE = re.compile(r"^\s*(\d{1,2})[-/.](\d{1,2})[-/.]\d{2,4}\b")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_UUID_RE = re.compile(
    r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.IGNORECASE
)
_COMMA_DECIMAL_RE = re.compile(r"^[+-]?\d{1,3}(\.\d{3})*,\d+$|^[+-]?\d+,\d+$")
_DOT_THOUSANDS_RE = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+,\d+$")
_DOT_DECIMAL_RE = re.compile(r"^[+-]?\d*\.\d+$")
_UNNAMED_RE = re.compile(r"^Unnamed: \d+")
_EPOCH = pd.Timestamp("1970-01-01", tz="UTC")


# --------------------------------------------------------------------------- results


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
    """

    name: str
    kind: ColumnKind
    dtype: str
    missing_share: float
    distinct: int


@dataclass
class Schema(JsonMixin):
    """The columns of a table and their kinds."""

    columns: list[ColumnInfo]

    def names(self) -> list[str]:
        """Column names in table order."""
        return [c.name for c in self.columns]

    def kind(self, name: str) -> ColumnKind:
        """The kind of column ``name``; ``ValueError`` if there is no such column."""
        for column in self.columns:
            if column.name == name:
                return column.kind
        raise ValueError(f"unknown column {name!r}")

    def feature_columns(self, target: str | None) -> list[str]:
        """Columns a tabular model uses: kinds in ``FEATURE_KINDS``, without ``target``."""
        return [c.name for c in self.columns if c.kind in FEATURE_KINDS and c.name != target]


@dataclass
class Suggestions(JsonMixin):
    """What Lepton proposes before the user chooses: target, task, sensitive columns."""

    target: str | None
    task: Task | None
    sensitive: list[str]


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
    identifies the content (see :func:`fingerprint`).
    """

    n_rows: int
    n_columns: int
    schema: Schema
    columns: list[ColumnProfile]
    suggestions: Suggestions
    class_balance: dict[str, int] | None
    fingerprint: str


@dataclass
class DataSplit:
    """Train, validation and test parts of a table (index reset, target never missing)."""

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame


# --------------------------------------------------------------------------- loading


def load_table(
    source: str | os.PathLike | bytes, *, filename: str | None = None, max_bytes: int | None = None
) -> pd.DataFrame:
    """Read a CSV, TSV, Parquet, JSON or JSON Lines table from a path or raw bytes.

    Parameters
    ----------
    source : str, os.PathLike or bytes
        A file path, or the bytes of an upload.
    filename : str, optional
        Name used to pick the format by its extension (for bytes); the content
        is sniffed when there is none.
    max_bytes : int, optional
        Refuse files larger than this.

    Returns
    -------
    pandas.DataFrame
        The table, with stripped, unique column names; ``?`` and empty cells
        are missing.

    Raises
    ------
    DataError
        If the file is missing, empty, too large, binary, compressed or malformed.
    """
    data, name = _read_source(source, filename, max_bytes)
    if not data:
        raise DataError("The file is empty; upload a file with a header row and data rows")
    fmt = _detect_format(data, name)
    if fmt == "parquet":
        df = _read_parquet(data)
    else:
        text = _decode(data)
        if not text.strip():
            raise DataError("The file is empty; upload a file with a header row and data rows")
        if fmt in ("json", "jsonl"):
            df = _read_json(text, lines=fmt == "jsonl")
        else:
            df = _read_delimited(text, name)
    return _finish(df)


def _read_source(
    source: str | os.PathLike | bytes, filename: str | None, max_bytes: int | None
) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        _check_size(len(data), max_bytes)
        return data, filename or ""
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a path or bytes, not {type(source).__name__}")
    path = Path(source)
    if not path.is_file():
        raise DataError(f"The file '{path}' does not exist; check the path and try again")
    _check_size(path.stat().st_size, max_bytes)
    return path.read_bytes(), filename or path.name


def _check_size(size: int, max_bytes: int | None) -> None:
    if max_bytes is not None and size > max_bytes:
        raise DataError(
            f"The file is {_human_bytes(size)}, over the {_human_bytes(max_bytes)} upload limit; "
            "upload a smaller sample or a Parquet file"
        )


def _human_bytes(n: int) -> str:
    mb = n / 2**20
    if mb >= 10:
        return f"{mb:,.0f} MB"
    if mb >= 1:
        return f"{mb:.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} bytes"


def _detect_format(data: bytes, name: str) -> str:
    ext = Path(name).suffix.lower() if name else ""
    head = data[:8]
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"\xd0\xcf\x11\xe0")):
        if ext in _EXCEL or head.startswith(b"\xd0\xcf\x11\xe0"):
            raise DataError(
                "The file is an Excel workbook; save the sheet as CSV and upload that file"
            )
        raise DataError(
            "The file is a zip archive, not a table; unzip it and upload the CSV, TSV, "
            "Parquet or JSONL file inside"
        )
    for magic, kind in ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ", "xz")):
        if head.startswith(magic):
            raise DataError(
                f"The file is {kind}-compressed, not a table; decompress it and upload "
                "the CSV, TSV, Parquet or JSONL file inside"
            )
    if ext == ".parquet" or ext == ".pq":
        raise DataError(
            "The file is named like a Parquet file but is not one; export it again as "
            "Parquet or upload it as CSV"
        )
    if ext in _EXCEL:
        raise DataError("Excel workbooks are not supported; save the sheet as CSV and upload it")
    if ext in _FORMATS:
        return _FORMATS[ext]
    start = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return "json" if start[:1] in (b"{", b"[") else "csv"


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    head = data[:8192]
    if b"\x00" in head:
        # UTF-16 without a byte-order mark puts NUL in every other byte of ASCII text.
        even, odd = head[0::2].count(0), head[1::2].count(0)
        half = len(head) // 2
        if odd > 0.8 * half and even < 0.2 * half:
            return data.decode("utf-16-le", errors="replace")
        if even > 0.8 * half and odd < 0.2 * half:
            return data.decode("utf-16-be", errors="replace")
        raise DataError(
            "The file looks binary, not like a text table; upload a CSV, TSV, Parquet or JSONL file"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        # latin-1 maps every byte, so it cannot fail; a few characters may look odd.
        return data.decode("latin-1")


def _read_parquet(data: bytes) -> pd.DataFrame:
    try:
        df = pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise DataError(
            "The Parquet file could not be read; export it again or upload it as CSV"
        ) from exc
    # A named index saved by pandas is data the user sees as a column.
    return df.reset_index(drop=isinstance(df.index, pd.RangeIndex))


def _read_json(text: str, *, lines: bool) -> pd.DataFrame:
    if not lines:
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            if not text.lstrip().startswith("{"):
                raise DataError(
                    f"The JSON file is not valid (line {exc.lineno}: {exc.msg}); fix it or "
                    "upload the table as CSV"
                ) from exc
            return _read_json(text, lines=True)  # several objects: JSON Lines named .json
        return _json_frame(obj)
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"Line {number} of the JSON Lines file is not valid JSON; fix that line so that "
                "each line holds one JSON object and upload again"
            ) from exc
        if not isinstance(record, dict):
            raise DataError(
                f"Line {number} of the JSON Lines file is not a JSON object; put one object "
                'per line, like {"age": 39, "sex": "Male"}'
            )
        records.append(record)
    return pd.DataFrame.from_records(records)


def _json_frame(obj: object) -> pd.DataFrame:
    if isinstance(obj, list) and all(isinstance(r, dict) for r in obj):
        return pd.DataFrame.from_records(obj)
    if isinstance(obj, dict):
        if obj and all(isinstance(v, (list, dict)) for v in obj.values()):
            try:
                return pd.DataFrame(obj)  # {"column": [values]} or {"column": {row: value}}
            except ValueError as exc:
                raise DataError(
                    "The JSON columns have different lengths; give every column the same "
                    "number of values"
                ) from exc
        return pd.DataFrame([obj])
    raise DataError(
        "The JSON file must hold a list of objects, one per row; export the table as records "
        "or as JSON Lines"
    )


def _read_delimited(text: str, name: str) -> pd.DataFrame:
    # Excel may start a CSV with a "sep=;" line that names the delimiter.
    declared = re.match(r"sep=([,;\t|])\r?\n", text)
    if declared:
        text = text[declared.end() :]
    sample = text[:_SNIFF_CHARS]
    truncated = len(text) > _SNIFF_CHARS
    if declared:
        delimiter = declared.group(1)
    else:
        hint = "\t" if name.lower().endswith((".tsv", ".tab")) else None
        delimiter = _detect_delimiter(sample, truncated, hint)
    decimal, thousands = ".", None
    if delimiter == ";":
        decimal, thousands = _decimal_style(sample, truncated)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(
                io.StringIO(text),
                sep=delimiter,
                decimal=decimal,
                thousands=thousands,
                skipinitialspace=True,
                na_values=_NA_VALUES,
                low_memory=False,
                index_col=False,
            )
    except pd.errors.EmptyDataError as exc:
        raise DataError("The file is empty; upload a file with a header row and data rows") from exc
    except pd.errors.ParserWarning as exc:
        raise DataError(
            "The data rows have more values than the header has column names; add the "
            "missing names to the header row and upload again"
        ) from exc
    except pd.errors.ParserError as exc:
        raise DataError(_parser_message(str(exc), delimiter)) from exc
    return df


def _parser_message(detail: str, delimiter: str) -> str:
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", detail)
    if match:
        expected, line, saw = match.groups()
        return (
            f"Line {line} has {saw} values but the header has {expected} columns; fix that "
            f"line (quote values that contain a {_DELIMITER_NAMES[delimiter]}) and upload again"
        )
    if "EOF inside string" in detail:
        return "A quoted value is never closed; add the missing quote mark and upload again"
    return (
        f"The file could not be read as {_DELIMITER_NAMES[delimiter]}-separated text "
        f"({detail.strip()}); fix it and upload again"
    )


def _sample_rows(sample: str, delimiter: str, truncated: bool, limit: int = 200) -> list[list]:
    try:
        reader = csv.reader(io.StringIO(sample), delimiter=delimiter, skipinitialspace=True)
        rows = [row for row in itertools.islice(reader, limit + 1) if row]
    except csv.Error:
        return []
    if truncated or len(rows) > limit:
        rows = rows[:-1]  # the last row may be cut off mid-value
    return rows


def _delimiter_score(sample: str, delimiter: str, truncated: bool) -> tuple[float, int]:
    rows = _sample_rows(sample, delimiter, truncated)
    if not rows or len(rows[0]) < 2:
        return 0.0, 0
    width = len(rows[0])
    return sum(len(r) == width for r in rows) / len(rows), width


def _detect_delimiter(sample: str, truncated: bool, hint: str | None) -> str:
    candidates = [hint] if hint else []
    with contextlib.suppress(csv.Error):  # the sniffer gives up on some valid files
        candidates.append(
            csv.Sniffer().sniff(sample[:8192], delimiters="".join(_DELIMITERS)).delimiter
        )
    for delimiter in candidates:
        consistency, width = _delimiter_score(sample, delimiter, truncated)
        if width >= 2 and consistency >= 0.9:
            return delimiter
    # The sniffer can be fooled (commas inside text, few rows): count instead.
    scores = {d: _delimiter_score(sample, d, truncated) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: (scores[d][0] >= 0.9, scores[d][0], scores[d][1]))
    return best if scores[best][1] >= 2 else ","


def _decimal_style(sample: str, truncated: bool) -> tuple[str, str | None]:
    values = [v.strip() for row in _sample_rows(sample, ";", truncated)[1:] for v in row]
    comma = sum(bool(_COMMA_DECIMAL_RE.match(v)) for v in values)
    dot = sum(bool(_DOT_DECIMAL_RE.match(v)) for v in values)
    if comma == 0 or comma < dot:
        return ".", None
    thousands = "." if any(_DOT_THOUSANDS_RE.match(v) for v in values) else None
    return ",", thousands


def _finish(df: pd.DataFrame) -> pd.DataFrame:
    if df.shape[1] == 0:
        raise DataError("The file is empty; upload a file with a header row and data rows")
    if len(df) == 0:
        raise DataError(
            "The file has a header but no data rows; add at least one row of data and upload again"
        )
    names = [str(c).strip() or f"column_{i + 1}" for i, c in enumerate(df.columns)]
    df.columns = _unique_names(names)
    # Trailing delimiters make nameless, empty columns; they carry nothing.
    empty = [c for c in df.columns if _UNNAMED_RE.match(c) and df[c].isna().all()]
    if empty:
        df = df.drop(columns=empty)
    for column in df.columns:
        if df[column].dtype == object:
            df[column] = _stringify_nested(df[column])
    return df


def _unique_names(names: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in names:
        candidate, n = name, 0
        while candidate in seen:
            n += 1
            candidate = f"{name}.{n}"
        seen.add(candidate)
        out.append(candidate)
    return out


def _stringify_nested(s: pd.Series) -> pd.Series:
    # Lists and dicts (nested JSON, Parquet list columns) are unhashable; JSON text is not.
    nested = s.map(lambda v: isinstance(v, (list, dict, tuple, np.ndarray)))
    if not nested.any():
        return s
    as_text = s[nested].map(lambda v: json.dumps(v.tolist() if isinstance(v, np.ndarray) else v))
    out = s.astype(object).copy()
    out[nested] = as_text
    return out


# --------------------------------------------------------------------------- schema


def infer_schema(df: pd.DataFrame) -> Schema:
    """Guess the kind of every column.

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
    return Schema(columns=[_column_info(str(name), df[name]) for name in df.columns])


def _column_info(name: str, s: pd.Series) -> ColumnInfo:
    n = len(s)
    missing = int(s.isna().sum())
    distinct = _nunique(s)
    kind = _column_kind(name, s, n - missing, distinct)
    return ColumnInfo(
        name=name,
        kind=kind,
        dtype=str(s.dtype),
        missing_share=missing / n if n else 0.0,
        distinct=distinct,
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
    words = values.str.count(" ") + 1
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
    shaped = values.map(lambda v: bool(_DATE_RE.match(v) or _MONTH_DATE_RE.match(v)))
    if shaped.mean() < 0.8:
        return False
    return _to_datetime(values).notna().mean() >= 0.8


def _to_datetime(s: pd.Series) -> pd.Series:
    """Parse to UTC timestamps; unparseable values become ``NaT``."""
    if ptypes.is_datetime64_any_dtype(s.dtype):
        return s.dt.tz_convert("UTC") if s.dt.tz is not None else s.dt.tz_localize("UTC")
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


# --------------------------------------------------------------------------- suggestions


def suggest_target(df: pd.DataFrame, schema: Schema | None = None) -> str | None:
    """Guess the column to predict.

    A column named like a label (target, label, class, y, outcome, income,
    churn, ...) wins; otherwise the last column that is not an identifier,
    text, date or constant. Categories with more than ``MAX_CLASSES`` values
    are never suggested. ``None`` when no column fits.
    """
    schema = schema or infer_schema(df)
    usable = [c for c in schema.columns if c.distinct > 1 and _may_be_target(c)]
    best, best_score = None, 0
    for column in usable:
        tokens = _name_tokens(column.name)
        score = _LABEL_NAMES.get("_".join(tokens), 0)
        if not score and _LABEL_TOKENS.intersection(tokens):
            score = 1
        if score and score >= best_score:  # ties go to the later column
            best, best_score = column.name, score
    if best is not None:
        return best
    for column in reversed(usable):
        if column.kind != "datetime":
            return column.name
    return None


def _may_be_target(column: ColumnInfo) -> bool:
    if column.kind in ("identifier", "text"):
        return False
    # Labels with more values than classes allowed cannot be predicted; numbers can.
    return column.kind in ("numeric", "datetime") or column.distinct <= MAX_CLASSES


def infer_task(y: pd.Series) -> Task:
    """The task that fits target values ``y``.

    Two distinct values make a binary task. Numbers are a regression unless
    they are whole numbers with at most 20 distinct values (then classes);
    anything else with three or more values is multiclass (``check_target``
    refuses more than ``MAX_CLASSES`` classes).
    """
    present = y.dropna()
    if present.empty:
        raise DataError(f"The target column '{y.name}' is empty; pick a column that has values")
    distinct = _nunique(present)
    if distinct <= 2:
        return "binary"
    numbers = _as_numbers(present)
    if numbers is not None:
        values = numbers.to_numpy(dtype="float64")
        whole = bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))
        if not whole or distinct > _MAX_NUMERIC_CLASSES:
            return "regression"
    return "multiclass"


def _as_numbers(s: pd.Series) -> pd.Series | None:
    """``s`` as numbers if it is numeric or (almost) all numeric strings, else ``None``."""
    if ptypes.is_bool_dtype(s.dtype):
        return None
    if ptypes.is_numeric_dtype(s.dtype) and not ptypes.is_complex_dtype(s.dtype):
        return s
    if isinstance(s.dtype, pd.CategoricalDtype) or ptypes.is_datetime64_any_dtype(s.dtype):
        return None
    numbers = pd.to_numeric(s, errors="coerce")
    return numbers if numbers.notna().sum() >= 0.95 * s.notna().sum() > 0 else None


def check_target(df: pd.DataFrame, target: str, task: Task | None = None) -> Task:
    """Check that ``target`` can be predicted and return the task.

    Parameters
    ----------
    df : pandas.DataFrame
        The training table.
    target : str
        Column to predict.
    task : {"binary", "multiclass", "regression"}, optional
        Task asked for; inferred with :func:`infer_task` when omitted.

    Raises
    ------
    DataError
        If the column is unknown or empty, has one class or too many, holds
        text for a regression, has too few labelled rows, or has a class too
        small to appear in both training and test rows.
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, not {task!r}")
    _require_columns(df, [target], "target column")
    y = df[target].dropna()
    if y.empty:
        raise DataError(f"The target column '{target}' is empty; pick a column that has values")
    distinct = _nunique(y)
    if distinct == 1:
        raise DataError(
            f"The target column '{target}' has one class; pick a column with at least two values"
        )
    task = task or infer_task(y)
    if task == "regression" and _as_numbers(y) is None:
        raise DataError(
            f"The target column '{target}' holds text, so it cannot be predicted as a number; "
            "choose classification or pick a numeric column"
        )
    if task == "binary" and distinct > 2:
        raise DataError(
            f"The target column '{target}' has {distinct:,} values, not two; choose multiclass "
            "classification or pick a column with two values"
        )
    if is_classification(task) and distinct > MAX_CLASSES:
        raise DataError(
            f"The target column '{target}' has {distinct:,} distinct values, too many classes; "
            "pick another column or treat it as regression if it is a number"
        )
    if len(y) < MIN_LABELLED_ROWS:
        raise DataError(
            f"The target column '{target}' has only {len(y)} rows with a value; add rows so that "
            f"at least {MIN_LABELLED_ROWS} have one, or pick another column"
        )
    if is_classification(task):
        counts = y.value_counts()
        if counts.iloc[-1] < 2:
            raise DataError(
                f"The class '{counts.index[-1]}' of the target column '{target}' has only one "
                "row, too few to appear in both training and test rows; add rows of that class "
                "or remove that row"
            )
    return task


def suggest_sensitive(df: pd.DataFrame, schema: Schema | None = None) -> list[str]:
    """Columns that look like protected attributes, by name, in table order.

    Names are compared after splitting on case, ``-``, ``_`` and spaces, so
    ``marital-status``, ``MaritalStatus`` and ``patient_age`` match while
    ``mileage`` does not. Text and identifier columns and columns with fewer
    than two groups are left out.
    """
    schema = schema or infer_schema(df)
    found = []
    for column in schema.columns:
        if column.kind in ("text", "identifier") or column.distinct < 2:
            continue
        tokens = _name_tokens(column.name)
        if any(_contains(tokens, pattern) for pattern in _SENSITIVE_PATTERNS):
            found.append(column.name)
    return found


def _contains(tokens: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    k = len(pattern)
    return any(tokens[i : i + k] == pattern for i in range(len(tokens) - k + 1))


def check_sensitive(df: pd.DataFrame, columns: list[str]) -> None:
    """Check that every sensitive column exists and has at least two groups.

    Raises
    ------
    DataError
        For an unknown column, an empty one, or one with a single group.
    """
    if isinstance(columns, str):
        raise TypeError("columns must be a list of column names, not a string")
    _require_columns(df, columns, "sensitive column")
    for name in columns:
        groups = _nunique(df[name])
        if groups == 0:
            raise DataError(
                f"The column '{name}' is empty, so fairness cannot be compared; pick a column "
                "with at least two groups"
            )
        if groups == 1:
            raise DataError(
                f"The column '{name}' has a single group, so fairness cannot be compared; pick "
                "a column with at least two groups"
            )


def _require_columns(df: pd.DataFrame, names: list[str], what: str) -> None:
    missing = [n for n in names if n not in df.columns]
    if not missing:
        return
    shown = ", ".join(f"'{n}'" for n in missing)
    noun = what if len(missing) == 1 else what + "s"
    verb = "is" if len(missing) == 1 else "are"
    raise DataError(f"The {noun} {shown} {verb} not in the table; pick from its columns")


# --------------------------------------------------------------------------- profile


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
    )


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


# --------------------------------------------------------------------------- features


def prepare_features(df: pd.DataFrame, schema: Schema, target: str | None) -> pd.DataFrame:
    """The feature columns of ``df`` in model-ready dtypes.

    Numeric columns become ``float64`` (unparseable values missing); boolean
    columns become the strings ``"true"``/``"false"``; categorical columns
    become ``str`` with missing values as NaN; datetimes become float days
    since 1970-01-01 UTC under the same name. Text and identifier columns
    and ``target`` are left out.

    Raises
    ------
    DataError
        If ``df`` lacks a feature column of ``schema``.
    """
    df = _with_str_columns(df)
    names = schema.feature_columns(target)
    missing = [n for n in names if n not in df.columns]
    if missing:
        shown = ", ".join(f"'{n}'" for n in missing)
        raise DataError(
            f"The table is missing the column{'s' if len(missing) > 1 else ''} {shown}; provide "
            "every column the model was trained on"
        )
    out = {}
    for name in names:
        kind = schema.kind(name)
        s = df[name]
        if kind == "numeric":
            out[name] = _numeric_feature(s)
        elif kind == "boolean":
            out[name] = _boolean_feature(s)
        elif kind == "datetime":
            out[name] = (_to_datetime(s) - _EPOCH) / pd.Timedelta(days=1)
        else:
            out[name] = _categorical_feature(s)
    return pd.DataFrame(out, index=df.index, columns=names)


def _numeric_feature(s: pd.Series) -> pd.Series:
    if ptypes.is_bool_dtype(s.dtype):
        return s.astype("float64")
    return pd.to_numeric(s, errors="coerce").astype("float64")


def _boolean_feature(s: pd.Series) -> pd.Series:
    words = s.astype(object).map(lambda v: str(v).strip().lower(), na_action="ignore")
    out = pd.Series(np.nan, index=s.index, dtype="str")
    out[words.isin(_TRUE_WORDS)] = "true"
    out[words.isin(_FALSE_WORDS)] = "false"
    return out


def _categorical_feature(s: pd.Series) -> pd.Series:
    if ptypes.is_float_dtype(s.dtype):
        whole = s.dropna()
        if np.all(np.isfinite(whole)) and np.all(whole == np.round(whole)):
            s = s.astype("Int64")  # 3.0 -> "3", as the user wrote it
    return s.astype("str")


# --------------------------------------------------------------------------- split


def split_table(
    df: pd.DataFrame,
    target: str,
    *,
    task: Task,
    test: pd.DataFrame | None = None,
    test_size: float = 0.2,
    valid_size: float = 0.1,
    seed: int = 0,
) -> DataSplit:
    """Split a table into train, validation and test parts.

    Rows without a target value are dropped. Classification splits are
    stratified by the target; all splits are seeded. With ``test`` given, the
    train and validation parts come from ``df`` and ``test`` is used as is,
    after dropping unlabelled rows and mapping labels that differ from the
    training labels only by a trailing ``.`` or whitespace (``>50K.``).

    Parameters
    ----------
    df : pandas.DataFrame
        The training table.
    target : str
        Column to predict.
    task : {"binary", "multiclass", "regression"}
        The task, as returned by :func:`check_target`.
    test : pandas.DataFrame, optional
        A separate test table with (at least) the columns of ``df``.
    test_size, valid_size : float
        Shares of the labelled rows for testing (ignored with ``test``) and validation.
    seed : int
        Seed of the shuffle.

    Raises
    ------
    DataError
        If the target is unusable (see :func:`check_target`), or the test table
        lacks columns, labels or labels in common with the training data.
    """
    if not (0 <= test_size < 1 and 0 <= valid_size < 1 and test_size + valid_size < 1):
        raise ValueError("test_size and valid_size must be in [0, 1) and sum to less than 1")
    task = check_target(df, target, task)
    labelled = df[df[target].notna()].reset_index(drop=True)
    stratify = labelled[target] if is_classification(task) else None
    rng = np.random.default_rng(seed)
    train_pos, valid_pos, test_pos = _split_positions(
        len(labelled), stratify, 0.0 if test is not None else test_size, valid_size, rng
    )
    train = labelled.iloc[train_pos].reset_index(drop=True)
    valid = labelled.iloc[valid_pos].reset_index(drop=True)
    if test is None:
        test_part = labelled.iloc[test_pos].reset_index(drop=True)
    else:
        test_part = _prepare_test(
            test, df, target, labelled[target] if stratify is not None else None
        )
    return DataSplit(train=train, valid=valid, test=test_part)


def _split_positions(
    n: int, labels: pd.Series | None, test_size: float, valid_size: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if labels is None:
        groups = [np.arange(n)]
    else:
        codes, _ = pd.factorize(labels)
        groups = [np.flatnonzero(codes == k) for k in range(codes.max() + 1)]
    parts: tuple[list, list, list] = ([], [], [])
    for group in groups:
        shuffled = rng.permutation(group)
        m = len(shuffled)
        # Every class with two rows gets one in test, with three one in validation too.
        n_test = max(round(m * test_size), 1 if test_size > 0 and m >= 2 else 0)
        n_valid = max(round(m * valid_size), 1 if valid_size > 0 and m >= 3 else 0)
        while m - n_test - n_valid < 1 and n_test + n_valid > 0:
            if n_valid >= n_test:
                n_valid -= 1
            else:
                n_test -= 1
        parts[2].append(shuffled[:n_test])
        parts[1].append(shuffled[n_test : n_test + n_valid])
        parts[0].append(shuffled[n_test + n_valid :])
    return tuple(np.sort(np.concatenate(p)).astype(int) for p in parts)  # type: ignore[return-value]


def _prepare_test(
    test: pd.DataFrame, df: pd.DataFrame, target: str, train_labels: pd.Series | None
) -> pd.DataFrame:
    missing = [str(c) for c in df.columns if c not in test.columns]
    if missing:
        shown = ", ".join(f"'{c}'" for c in missing)
        raise DataError(
            f"The test table is missing the column{'s' if len(missing) > 1 else ''} {shown}; "
            "upload a test file with the same columns as the training data"
        )
    out = test.loc[test[target].notna(), list(df.columns)].reset_index(drop=True)
    if out.empty:
        raise DataError(
            f"The test table has no rows with a value in the target column '{target}'; upload a "
            "test file with labels"
        )
    if train_labels is not None:
        out[target] = _align_labels(train_labels, out[target], target)
    return out


def _label_key(value: object) -> str:
    return str(value).strip().rstrip(".").strip()


def _align_labels(train_y: pd.Series, test_y: pd.Series, target: str) -> pd.Series:
    known = pd.unique(train_y)
    known_set = set(known)
    by_key: dict[str, object] = {}
    for label in known:
        by_key.setdefault(_label_key(label), label)
    mapping = {
        u: by_key[_label_key(u)]
        for u in pd.unique(test_y)
        if u not in known_set and _label_key(u) in by_key
    }
    aligned = test_y
    if mapping:
        aligned = test_y.astype(object).map(lambda v: mapping.get(v, v))
        if aligned.isin(known_set).all():
            aligned = aligned.astype(train_y.dtype)
    if not aligned.isin(known_set).any():
        seen = ", ".join(f"'{v}'" for v in pd.unique(test_y)[:3])
        expected = ", ".join(f"'{v}'" for v in known[:3])
        raise DataError(
            f"None of the test labels in '{target}' ({seen}) match the training labels "
            f"({expected}); use the same labels in both files"
        )
    return aligned
