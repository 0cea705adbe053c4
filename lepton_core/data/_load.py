"""Loading tables: CSV, TSV, Parquet, JSON and JSON Lines, from a path or raw bytes.

:func:`load_table` picks the format by extension or content, sniffs the
delimiter and decimal style of delimited text, and gives the columns stripped,
unique names. Every problem a user can fix raises
:class:`~lepton_core.core.DataError` with one sentence saying what to do.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from lepton_core.core import DataError

__all__ = ["load_table"]

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

_COMMA_DECIMAL_RE = re.compile(r"^[+-]?\d{1,3}(\.\d{3})*,\d+$|^[+-]?\d+,\d+$")
_DOT_THOUSANDS_RE = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+,\d+$")
_DOT_DECIMAL_RE = re.compile(r"^[+-]?\d*\.\d+$")
_UNNAMED_RE = re.compile(r"^Unnamed: \d+")


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
