"""Loading tables: CSV, TSV, Parquet, JSON and JSON Lines, from a path or raw bytes.

:func:`load_table` picks the format by extension or content, sniffs the
delimiter and decimal style of delimited text, and gives the columns stripped,
unique names. Every problem a user can fix raises
:class:`~lepton_core.core.DataError` with one sentence saying what to do.

Memory and time stay bounded by :class:`~lepton_core.data.InputLimits`, checked
before a table is materialised: a path's size from ``stat``, a Parquet file's
footer and the decoded length of its strings, a delimited file's header and
rows while parsing, a JSON file's nesting and values by a scan of its text.
Text is parsed from UTF-8 bytes, never from a decoded copy of the whole file.
"""

from __future__ import annotations

import codecs
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
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lepton_core.core import DataError
from lepton_core.data._limits import InputLimits

__all__ = ["load_table"]

# Characters of text the delimiter and decimal sniffers look at.
_SNIFF_CHARS = 65536
# Bytes checked or scanned at a time, and rows of a Parquet file measured at a time.
_CHUNK = 16 * 2**20
_BATCH_ROWS = 65536
_SCAN_BYTES = 4 * 2**20
# A backslash and the character it escapes; the JSON structure scan blanks them out.
_JSON_ESCAPE = re.compile(rb"\\.", re.DOTALL)

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
    source: str | os.PathLike | bytes,
    *,
    filename: str | None = None,
    max_bytes: int | None = None,
    limits: InputLimits | None = None,
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
        Refuse files larger than this (the caller's upload limit), on top of
        ``limits.max_file_bytes``.
    limits : InputLimits, optional
        The size limits; ``InputLimits.from_env()`` (the ``LEPTON_MAX_*``
        settings) when omitted. Each is checked before the table is materialised.

    Returns
    -------
    pandas.DataFrame
        The table, with stripped, unique column names; ``?`` and empty cells
        are missing.

    Raises
    ------
    DataError
        If the file is missing, empty, over a limit, binary, compressed or malformed.
    """
    limits = limits if limits is not None else InputLimits.from_env()
    data, name = _read_source(source, filename, max_bytes, limits)
    if not data:
        raise DataError("The file is empty; upload a file with a header row and data rows")
    fmt = _detect_format(data, name)
    try:
        if fmt == "parquet":
            df = _read_parquet(data, limits)
        else:
            data = _utf8(data)
            if not data or data.isspace():
                raise DataError("The file is empty; upload a file with a header row and data rows")
            if fmt in ("json", "jsonl"):
                df = _read_json(data, lines=fmt == "jsonl", limits=limits)
            else:
                df = _read_delimited(data, name, limits)
        return _finish(df, limits)
    except RecursionError as exc:  # the checks above should make this unreachable
        raise DataError(
            "The table nests values too deeply to read; flatten the nested values into "
            "columns and load it again"
        ) from exc
    except UnicodeEncodeError as exc:  # JSON escapes can spell lone surrogates ("\ud800")
        raise DataError(
            "The file holds text that is not valid Unicode (an escaped lone surrogate such as "
            "\\ud800); remove or fix those values and load it again"
        ) from exc


def _read_source(
    source: str | os.PathLike | bytes,
    filename: str | None,
    max_bytes: int | None,
    limits: InputLimits,
) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        limits.check_file_size(memoryview(source).nbytes, max_bytes)
        return bytes(source), filename or ""
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a path or bytes, not {type(source).__name__}")
    path = Path(source)
    if not path.is_file():
        raise DataError(f"The file '{path}' does not exist; check the path and try again")
    # The size from stat refuses a large file before reading a byte of it; reading at most
    # one byte over the limit also bounds a file that grows or whose size stat gets wrong.
    limits.check_file_size(path.stat().st_size, max_bytes)
    cap = limits.max_file_bytes if max_bytes is None else min(max_bytes, limits.max_file_bytes)
    with path.open("rb") as f:
        data = f.read(cap + 1)
    limits.check_file_size(len(data), max_bytes)
    return data, filename or path.name


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


def _utf8(data: bytes) -> bytes:
    """The text as UTF-8 bytes without a byte-order mark, the way the parsers read it."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        return data if _is_utf8(data) else data.decode("utf-8", errors="replace").encode()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace").encode()
    head = data[:8192]
    if b"\x00" in head:
        # UTF-16 without a byte-order mark puts NUL in every other byte of ASCII text.
        even, odd = head[0::2].count(0), head[1::2].count(0)
        half = len(head) // 2
        if odd > 0.8 * half and even < 0.2 * half:
            return data.decode("utf-16-le", errors="replace").encode()
        if even > 0.8 * half and odd < 0.2 * half:
            return data.decode("utf-16-be", errors="replace").encode()
    if b"\x00" in data:  # anywhere: a sparse or padded file can start with a valid table
        raise DataError(
            "The file looks binary, not like a text table; upload a CSV, TSV, Parquet or JSONL file"
        )
    if _is_utf8(data):
        return data
    try:
        return data.decode("cp1252").encode()
    except UnicodeDecodeError:
        # latin-1 maps every byte, so it cannot fail; a few characters may look odd.
        return data.decode("latin-1").encode()


def _is_utf8(data: bytes) -> bool:
    if data.isascii():
        return True
    # In pieces, so that checking never holds a decoded copy of the whole file.
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for start in range(0, len(view), _CHUNK):
            decoder.decode(view[start : start + _CHUNK])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _read_parquet(data: bytes, limits: InputLimits) -> pd.DataFrame:
    try:
        footer = pq.ParquetFile(io.BytesIO(data))
        _check_parquet(data, footer, limits)
        df = pd.read_parquet(io.BytesIO(data))
    except DataError:
        raise
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise DataError(
            "The Parquet file could not be read; export it again or upload it as CSV"
        ) from exc
    # A named index saved by pandas is data the user sees as a column.
    return df.reset_index(drop=isinstance(df.index, pd.RangeIndex))


def _check_parquet(data: bytes, footer: pq.ParquetFile, limits: InputLimits) -> None:
    """Refuse a Parquet file over a limit before reading its values into a table.

    The footer gives rows, columns, values (lists count each element) and sizes; a
    fixed-width value decodes to its width. Strings are what can grow: a dictionary
    of one long string repeated by millions of tiny indices. They are read as
    dictionaries, a batch at a time, and their decoded length is summed without
    expanding them.
    """
    meta = footer.metadata
    limits.check_shape(meta.num_rows, meta.num_columns)
    values = stored = 0
    fixed: dict[str, int] = {}  # decoded bytes of fixed-width values, by top-level column
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        stored += group.total_byte_size
        for j in range(group.num_columns):
            chunk = group.column(j)
            values += chunk.num_values
            width = _PARQUET_WIDTHS.get(chunk.physical_type, 0)
            if chunk.physical_type == "FIXED_LEN_BYTE_ARRAY":
                width = footer.schema.column(j).length
            top = chunk.path_in_schema.split(".", 1)[0]
            fixed[top] = fixed.get(top, 0) + chunk.num_values * width
    limits.check_values(values)
    limits.check_decompressed(max(stored, sum(fixed.values())))
    strings = [c.path for c in footer.schema if c.physical_type == "BYTE_ARRAY"]
    if not strings:
        return
    # Only the columns holding strings are read, unless names with dots or repeated
    # names make paths ambiguous: then every column is.
    names = footer.schema_arrow.names
    plain = len(set(names)) == len(names) and not any("." in n for n in names)
    tops = {path.split(".", 1)[0] for path in strings}
    columns = [n for n in names if n in tops] if plain else None
    decoded = sum(size for top, size in fixed.items() if top not in tops) if plain else 0
    reader = pq.ParquetFile(io.BytesIO(data), read_dictionary=strings)
    for batch in reader.iter_batches(batch_size=_BATCH_ROWS, columns=columns):
        decoded += sum(_decoded_size(column) for column in batch.columns)
        limits.check_decompressed(decoded, more=True)


_PARQUET_WIDTHS = {"BOOLEAN": 1, "INT32": 4, "INT64": 8, "INT96": 12, "FLOAT": 4, "DOUBLE": 8}


def _decoded_size(array: pa.Array) -> int:
    """Bytes ``array`` takes once its dictionaries of strings are expanded."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        value = kind.value_type
        if not (pa.types.is_string(value) or pa.types.is_large_string(value)) and not (
            pa.types.is_binary(value) or pa.types.is_large_binary(value)
        ):
            return array.nbytes
        lengths = pc.take(pc.binary_length(array.dictionary), array.indices)
        return 4 * len(array) + int(pc.sum(lengths).as_py() or 0)
    if pa.types.is_struct(kind):
        return sum(_decoded_size(array.field(i)) for i in range(kind.num_fields))
    if isinstance(array, (pa.ListArray, pa.LargeListArray, pa.FixedSizeListArray)):
        return 4 * len(array) + _decoded_size(array.values)
    return array.nbytes


def _read_json(data: bytes, *, lines: bool, limits: InputLimits) -> pd.DataFrame:
    depth, values = _json_structure(data)
    limits.check_depth(depth)
    limits.check_values(values)
    if lines:
        return _read_json_lines(data, limits)
    try:
        obj = json.loads(data)
    except json.JSONDecodeError as exc:
        if not re.match(rb"\s*\{", data):
            raise DataError(
                f"The JSON file is not valid (line {exc.lineno}: {exc.msg}); fix it or "
                "upload the table as CSV"
            ) from exc
        return _read_json_lines(data, limits)  # several objects: JSON Lines named .json
    return _json_frame(obj, limits)


def _json_structure(data: bytes) -> tuple[int, int]:
    """How deep arrays and objects nest, and about how many values there are.

    Brackets, colons and commas count only outside strings (an even number of
    quote marks before them, once escapes are blanked out); every ``[``/``{`` is a
    step down and every ``]``/``}`` a step up. Each value follows a colon (in an
    object) or a comma (in an array), so the larger count bounds the cells
    without parsing the document. Vectorised, a piece at a time.
    """
    if b"\\" in data:
        data = _JSON_ESCAPE.sub(b"__", data)  # same length, no escaped quote left
    in_string = level = deepest = colons = commas = 0
    for start in range(0, len(data), _SCAN_BYTES):
        chunk = np.frombuffer(data, np.uint8, min(_SCAN_BYTES, len(data) - start), start)
        quotes = np.bitwise_xor.accumulate((chunk == 0x22).view(np.uint8)) ^ in_string
        in_string = int(quotes[-1])
        outside = quotes == 0
        colons += int(np.count_nonzero((chunk == 0x3A) & outside))
        commas += int(np.count_nonzero((chunk == 0x2C) & outside))
        opens = ((chunk == 0x5B) | (chunk == 0x7B)) & outside
        closes = ((chunk == 0x5D) | (chunk == 0x7D)) & outside
        steps = np.flatnonzero(opens | closes)
        if steps.size:
            levels = np.cumsum(np.where(opens[steps], 1, -1)) + level
            deepest, level = max(deepest, int(levels.max())), int(levels[-1])
    return deepest, max(colons, commas + 1)


def _read_json_lines(data: bytes, limits: InputLimits) -> pd.DataFrame:
    records = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line or line.isspace():
            continue
        try:
            record = json.loads(line.decode())
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
    return _records_frame(records, limits)


def _records_frame(records: list[dict], limits: InputLimits) -> pd.DataFrame:
    keys: set = set()
    for record in records:
        keys.update(record)
    limits.check_shape(len(records), len(keys))
    return pd.DataFrame.from_records(records)


def _json_frame(obj: object, limits: InputLimits) -> pd.DataFrame:
    if isinstance(obj, list) and all(isinstance(r, dict) for r in obj):
        return _records_frame(obj, limits)
    if isinstance(obj, dict):
        if obj and all(isinstance(v, (list, dict)) for v in obj.values()):
            limits.check_shape(max(len(v) for v in obj.values()), len(obj))
            try:
                return pd.DataFrame(obj)  # {"column": [values]} or {"column": {row: value}}
            except ValueError as exc:
                raise DataError(
                    "The JSON columns have different lengths; give every column the same "
                    "number of values"
                ) from exc
        limits.check_shape(1, len(obj))
        return pd.DataFrame([obj])
    raise DataError(
        "The JSON file must hold a list of objects, one per row; export the table as records "
        "or as JSON Lines"
    )


def _read_delimited(data: bytes, name: str, limits: InputLimits) -> pd.DataFrame:
    # Only the start is decoded for the sniffers (a UTF-8 character has at most 4 bytes).
    head_bytes = data[: 4 * _SNIFF_CHARS + 4]
    head = head_bytes.decode("utf-8", errors="ignore")
    # Excel may start a CSV with a "sep=;" line that names the delimiter.
    declared = re.match(r"sep=([,;\t|])\r?\n", head)
    if declared:
        head = head[declared.end() :]
    sample = head[:_SNIFF_CHARS]
    truncated = len(data) > len(head_bytes) or len(head) > _SNIFF_CHARS
    if declared:
        delimiter = declared.group(1)
    else:
        hint = "\t" if name.lower().endswith((".tsv", ".tab")) else None
        delimiter = _detect_delimiter(sample, truncated, hint)
    decimal, thousands = ".", None
    if delimiter == ";":
        decimal, thousands = _decimal_style(sample, truncated)
    # The header bounds the columns before parsing; the parser stops one row past the
    # last one the limits allow, so a long file is never read whole.
    columns = _header_width(data, sample, delimiter, truncated, skip=bool(declared))
    limits.check_shape(0, columns)
    max_rows = min(limits.max_rows, limits.max_cells // max(columns, 1))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(
                io.BytesIO(data),
                encoding="utf-8",
                skiprows=1 if declared else None,
                nrows=max_rows + 1,
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
    if len(df) > max_rows:
        limits.check_shape(max_rows + 1, columns, more=True)
    return df


def _header_width(data: bytes, sample: str, delimiter: str, truncated: bool, *, skip: bool) -> int:
    rows = _sample_rows(sample, delimiter, truncated, limit=1)
    if rows:
        return len(rows[0])
    # A header longer than the sample (a very wide table): count its delimiters instead.
    start = data.find(b"\n") + 1 if skip else 0
    end = data.find(b"\n", start)
    return data.count(delimiter.encode(), start, end if end >= 0 else len(data)) + 1


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


def _finish(df: pd.DataFrame, limits: InputLimits) -> pd.DataFrame:
    if df.shape[1] == 0:
        raise DataError("The file is empty; upload a file with a header row and data rows")
    if len(df) == 0:
        raise DataError(
            "The file has a header but no data rows; add at least one row of data and upload again"
        )
    limits.check_shape(len(df), df.shape[1])
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
