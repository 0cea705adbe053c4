"""Loading tables as people have them: delimited text, Excel, Parquet, JSON, in a zip or gzip.

:func:`read_table` picks the format by content (then extension), reads the
bytes of a ``.zip`` holding one table or a ``.gz``, detects a delimited file's
encoding, delimiter, decimal style and whether its first row is a header (see
``_sniff``), picks an Excel workbook's sheet (see ``_excel``), and returns the
table with a :class:`TableFormat` that says what was detected; each detected
setting can be overridden. :func:`load_table` returns the table alone. Columns
get stripped, unique names (``column_1``, ... without a header). Every problem
a user can fix raises :class:`~lepton_core.core.DataError` with one sentence
saying what to do.

Memory and time stay bounded by :class:`~lepton_core.data.InputLimits`, checked
before a table is materialised: a path's size from ``stat``, an archive's
members from its directory, a Parquet file's footer and the decoded length of
its strings, an Excel sheet's dimensions, a delimited file's header and rows
while parsing, a JSON file's nesting and values by a scan of its text. Text is
parsed from UTF-8 bytes; a file in another encoding is converted a piece at a
time, never held as a decoded ``str`` of the whole file.
"""

from __future__ import annotations

import io
import json
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lepton_core.core import DataError, JsonMixin, Message
from lepton_core.data._excel import (
    EXCEL_EXTENSIONS,
    gunzip,
    is_workbook,
    open_zip,
    read_workbook,
    verify_zip,
    zip_member,
)
from lepton_core.data._limits import InputLimits
from lepton_core.data._sniff import (
    WHITESPACE,
    delimiter_name,
    detect_delimiter,
    encoding_label,
    has_header,
    sample_rows,
    to_utf8,
)

__all__ = ["TableFormat", "load_table", "read_table"]

# Characters of text the delimiter and decimal sniffers look at.
_SNIFF_CHARS = 65536
# Bytes scanned at a time, and rows of a Parquet file measured at a time.
_BATCH_ROWS = 65536
_SCAN_BYTES = 4 * 2**20
# A backslash and the character it escapes; the JSON structure scan blanks them out.
_JSON_ESCAPE = re.compile(rb"\\.", re.DOTALL)

_FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".tab": "csv",
    ".txt": "csv",
    ".data": "csv",
    ".dat": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
}
_FORMAT_WORDS = {
    "parquet": Message("load.parquet"),
    "json": Message("load.json"),
    "jsonl": Message("load.jsonl"),
    "excel": Message("load.excel"),
}
_NA_VALUES = ["?"]

_COMMA_DECIMAL_RE = re.compile(r"^[+-]?\d{1,3}(\.\d{3})*,\d+$|^[+-]?\d+,\d+$")
_DOT_THOUSANDS_RE = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+,\d+$")
_DOT_DECIMAL_RE = re.compile(r"^[+-]?\d*\.\d+$")
_UNNAMED_RE = re.compile(r"^(Unnamed: \d+|column_\d+)")
_SEP_LINE_RE = re.compile(r"sep=(.)\r?\n")


@dataclass
class TableFormat(JsonMixin):
    """How a table was read: what was detected, or what the caller asked for.

    Attributes
    ----------
    format : str
        ``"csv"`` (any delimited text), ``"excel"``, ``"parquet"``, ``"json"`` or ``"jsonl"``.
    encoding : str or None
        Python's codec name for text (``"utf_8"``, ``"gb18030"``, ``"cp932"``...).
    delimiter : str or None
        The field delimiter of delimited text: one character, or ``r"\\s+"`` for
        runs of spaces and tabs.
    header : bool
        Whether the first row (after any title rows of a sheet) named the columns;
        without one they are ``column_1``, ``column_2``...
    sheet : str or None
        The sheet read from a workbook.
    sheets : list of str
        Every sheet of the workbook, in order.
    member : str or None
        The file read from inside a ``.zip`` or ``.gz`` archive.
    decimal : str
        The decimal mark of numbers in delimited text (``","`` in much of Europe).
    skipped_rows : int
        Title rows above a sheet's table that were left out.
    """

    format: str
    encoding: str | None = None
    delimiter: str | None = None
    header: bool = True
    sheet: str | None = None
    sheets: list[str] = field(default_factory=list)
    member: str | None = None
    decimal: str = "."
    skipped_rows: int = 0

    def describe(self) -> Message:
        """What was detected in plain words, one sentence for the Data page."""
        kind: Message
        if self.format == "csv" and self.delimiter == WHITESPACE:
            kind = Message("load.spaces")
        elif self.format == "csv":
            kind = Message("load.separated", delimiter=delimiter_name(self.delimiter or ","))
        else:
            kind = _FORMAT_WORDS.get(self.format) or Message("load.format", format=self.format)
        inside = Message("load.inside", member=self.member) if self.member else ""
        text = Message("load.read_as", kind=kind, inside=inside)
        parts: list[Message] = []
        if self.sheet is not None:
            parts.append(Message("load.sheet", sheet=self.sheet, sheets=len(self.sheets)))
        if self.skipped_rows:
            parts.append(
                Message("load.title_row")
                if self.skipped_rows == 1
                else Message("load.title_rows", rows=self.skipped_rows)
            )
        if self.encoding and self.format in ("csv", "json", "jsonl"):
            parts.append(Message("load.encoding", encoding=encoding_label(self.encoding)))
        if self.decimal == ",":
            parts.append(Message("load.decimal_commas"))
        if self.format in ("csv", "excel"):
            parts.append(Message("load.header") if self.header else Message("load.no_header"))
        for part in parts:
            text = Message("load.and", first=text, then=part)
        return text


def load_table(
    source: str | os.PathLike | bytes,
    *,
    filename: str | None = None,
    max_bytes: int | None = None,
    limits: InputLimits | None = None,
) -> pd.DataFrame:
    """Read a table from a path or raw bytes; :func:`read_table` without the format.

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
        If the file is missing, empty, over a limit, binary or malformed.
    """
    return read_table(source, filename=filename, max_bytes=max_bytes, limits=limits)[0]


def read_table(
    source: str | os.PathLike | bytes,
    *,
    filename: str | None = None,
    max_bytes: int | None = None,
    limits: InputLimits | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    header: bool | None = None,
    sheet: str | int | None = None,
) -> tuple[pd.DataFrame, TableFormat]:
    """Read a table and say how it was read.

    CSV/TSV and other delimited text (any single-character delimiter, or runs of
    whitespace), Excel ``.xlsx``/``.xlsm``/``.xls``/``.ods``, Parquet, JSON and
    JSON Lines, each also inside a ``.zip`` holding one table or a ``.gz``.

    Parameters
    ----------
    source, filename, max_bytes, limits
        As for :func:`load_table`.
    encoding : str, optional
        Read text in this encoding (``"gbk"``, ``"big5"``, ``"shift_jis"``,
        ``"cp1252"``...) instead of detecting it.
    delimiter : str, optional
        The field delimiter, one character, or ``r"\\s+"`` (or ``" "``) for runs of
        whitespace, instead of detecting it.
    header : bool, optional
        Whether the first row names the columns, instead of detecting it.
    sheet : str or int, optional
        A workbook's sheet by name or 0-based position; by default the first
        sheet that holds data.

    Returns
    -------
    tuple of (pandas.DataFrame, TableFormat)

    Raises
    ------
    DataError
        If the file is missing, empty, over a limit, binary or malformed, or an
        override does not fit it (an unknown encoding or sheet).
    """
    limits = limits if limits is not None else InputLimits.from_env()
    if delimiter is not None:
        delimiter = WHITESPACE if delimiter in (" ", WHITESPACE, "whitespace") else delimiter
        if len(delimiter) != 1 and delimiter != WHITESPACE:
            raise ValueError(f"delimiter must be one character or r'\\s+', not {delimiter!r}")
    data, name = _read_source(source, filename, max_bytes, limits)
    options = _Options(encoding, delimiter, header, sheet)
    try:
        return _read_bytes(data, name, limits, max_bytes, options, member=None)
    except RecursionError as exc:  # the checks above should make this unreachable
        raise DataError(Message("load.too_deep")) from exc
    except UnicodeEncodeError as exc:  # JSON escapes can spell lone surrogates ("\ud800")
        raise DataError(Message("load.surrogate")) from exc


@dataclass(frozen=True)
class _Options:
    encoding: str | None
    delimiter: str | None
    header: bool | None
    sheet: str | int | None


def _read_bytes(
    data: bytes,
    name: str,
    limits: InputLimits,
    max_bytes: int | None,
    options: _Options,
    member: str | None,
) -> tuple[pd.DataFrame, TableFormat]:
    if not data:
        raise DataError(Message("load.empty"))
    fmt = _detect_format(data, name)
    if fmt in ("zip", "gzip"):
        if member is not None:
            raise DataError(Message("load.nested_archive", member=member))
        if fmt == "gzip":
            inner = gunzip(data, limits, max_bytes)
            inner_name = re.sub(r"\.gz$", "", Path(name).name, flags=re.I) if name else ""
            inner_name = inner_name if inner_name != Path(name).name else ""
            return _read_bytes(inner, inner_name, limits, max_bytes, options, inner_name or "gzip")
        archive = open_zip(data, limits, "zip archive")
        inner, inner_name = zip_member(archive, limits, max_bytes)
        return _read_bytes(inner, inner_name, limits, max_bytes, options, inner_name)
    if fmt == "excel":
        df, table_format = _read_excel(data, limits, options)
    elif fmt == "parquet":
        df, table_format = _read_parquet(data, limits), TableFormat("parquet")
    else:
        text, encoding = to_utf8(data, options.encoding)
        if not text or text.isspace():
            raise DataError(Message("load.empty"))
        if fmt in ("json", "jsonl"):
            df = _read_json(text, lines=fmt == "jsonl", limits=limits)
            table_format = TableFormat(fmt, encoding=encoding)
        else:
            df, table_format = _read_delimited(text, name, limits, options)
            table_format.encoding = encoding
    table_format.member = member if member != "gzip" else None
    return _finish(df, limits), table_format


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
        raise DataError(Message("load.missing_file", path=str(path)))
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
    if head.startswith(b"\xd0\xcf\x11\xe0"):  # an OLE file: a legacy .xls workbook
        return "excel"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "excel" if ext in EXCEL_EXTENSIONS else "zip"
    if head.startswith(b"\x1f\x8b"):
        if not name or ext == ".gz":
            return "gzip"
        raise DataError(Message("load.gzip"))
    for magic, kind in ((b"BZh", "bzip2"), (b"\xfd7zXZ", "xz")):
        if head.startswith(magic):
            raise DataError(Message("load.compressed", kind=kind))
    if ext == ".parquet" or ext == ".pq":
        raise DataError(Message("load.not_parquet"))
    if ext in EXCEL_EXTENSIONS:
        raise DataError(Message("load.not_excel"))
    if ext in _FORMATS:
        return _FORMATS[ext]
    start = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return "json" if start[:1] in (b"{", b"[") else "csv"


# --------------------------------------------------------------------------- Excel


def _read_excel(
    data: bytes, limits: InputLimits, options: _Options
) -> tuple[pd.DataFrame, TableFormat]:
    archive = None
    if data.startswith(b"PK"):
        archive = open_zip(data, limits, "Excel workbook")
        if not is_workbook(archive):
            raise DataError(Message("load.zip_not_excel"))
        verify_zip(archive, limits, "Excel workbook")
    rows, sheet, sheets = read_workbook(data, archive, limits, options.sheet)
    rows = [[_cell(v) for v in row] for row in rows]
    width = max(len(r) for r in rows)
    # Title rows above the table ("Sales report 2024", blank lines) hold one value at most.
    skipped = 0
    if width >= 2:
        while skipped < len(rows) - 1 and sum(v is not None for v in rows[skipped]) <= 1:
            skipped += 1
    rows = rows[skipped:]
    header = has_header(rows[:201]) if options.header is None else options.header
    if header:
        names = ["" if v is None else str(v) for v in rows[0]]
        body = rows[1:]
    else:
        names = [f"column_{i + 1}" for i in range(width)]
        body = rows
    limits.check_shape(len(body), width)
    df = pd.DataFrame(body, columns=names).infer_objects()
    table_format = TableFormat(
        "excel", header=header, sheet=sheet, sheets=sheets, skipped_rows=skipped
    )
    return df, table_format


def _cell(value: object) -> object:
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _read_parquet(data: bytes, limits: InputLimits) -> pd.DataFrame:
    try:
        footer = pq.ParquetFile(io.BytesIO(data))
        _check_parquet(data, footer, limits)
        df = pd.read_parquet(io.BytesIO(data))
    except DataError:
        raise
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise DataError(Message("load.bad_parquet")) from exc
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
            raise DataError(Message("load.bad_json", line=exc.lineno, detail=exc.msg)) from exc
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
            raise DataError(Message("load.bad_json_line", line=number)) from exc
        if not isinstance(record, dict):
            raise DataError(Message("load.json_line_not_object", line=number))
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
                raise DataError(Message("load.json_lengths")) from exc
        limits.check_shape(1, len(obj))
        return pd.DataFrame([obj])
    raise DataError(Message("load.json_shape"))


def _read_delimited(
    data: bytes, name: str, limits: InputLimits, options: _Options
) -> tuple[pd.DataFrame, TableFormat]:
    # Only the start is decoded for the sniffers (a UTF-8 character has at most 4 bytes).
    head_bytes = data[: 4 * _SNIFF_CHARS + 4]
    head = head_bytes.decode("utf-8", errors="ignore")
    # Excel may start a CSV with a "sep=;" line that names the delimiter.
    declared = _SEP_LINE_RE.match(head)
    if declared:
        head = head[declared.end() :]
    sample = head[:_SNIFF_CHARS]
    truncated = len(data) > len(head_bytes) or len(head) > _SNIFF_CHARS
    if options.delimiter is not None:
        delimiter = options.delimiter
    elif declared:
        delimiter = declared.group(1)
    else:
        hint = "\t" if name.lower().endswith((".tsv", ".tab")) else None
        delimiter = detect_delimiter(sample, truncated, hint)
    rows = sample_rows(sample, delimiter, truncated)
    header = options.header if options.header is not None else has_header(rows)
    decimal, thousands = ".", None
    if delimiter != ",":
        decimal, thousands = _decimal_style(rows[1:] if header else rows)
    # The header bounds the columns before parsing; the parser stops one row past the
    # last one the limits allow, so a long file is never read whole.
    columns = len(rows[0]) if rows else _header_width(data, delimiter, skip=bool(declared))
    limits.check_shape(0, columns)
    max_rows = min(limits.max_rows, limits.max_cells // max(columns, 1))
    whitespace = delimiter == WHITESPACE
    if not header and not whitespace:
        # Without names the parser takes the width from the first row; name them all.
        width = max((len(r) for r in rows), default=columns)
        names: list[str] | None = [f"column_{i + 1}" for i in range(width)]
    else:
        names = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(
                io.BytesIO(data),
                encoding="utf-8",
                skiprows=1 if declared else None,
                nrows=max_rows + 1,
                sep=delimiter,
                header=0 if header else None,
                names=names,
                decimal=decimal,
                thousands=thousands,
                skipinitialspace=not whitespace,
                na_values=_NA_VALUES,
                low_memory=False,
                index_col=False,
            )
    except pd.errors.EmptyDataError as exc:
        raise DataError(Message("load.empty")) from exc
    except pd.errors.ParserWarning as exc:
        raise DataError(Message("load.more_values")) from exc
    except pd.errors.ParserError as exc:
        raise DataError(_parser_message(str(exc), delimiter)) from exc
    if len(df) > max_rows:
        limits.check_shape(max_rows + 1, columns, more=True)
    if not header and names is None:
        df.columns = [f"column_{i + 1}" for i in range(df.shape[1])]
    table_format = TableFormat("csv", delimiter=delimiter, header=header, decimal=decimal)
    return df, table_format


def _header_width(data: bytes, delimiter: str, *, skip: bool) -> int:
    # A header longer than the sample (a very wide table): count its delimiters instead.
    start = data.find(b"\n") + 1 if skip else 0
    end = data.find(b"\n", start)
    line = data[start : end if end >= 0 else len(data)]
    if delimiter == WHITESPACE:
        return len(line.split())
    return line.count(delimiter.encode()) + 1


def _parser_message(detail: str, delimiter: str) -> Message:
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", detail)
    name = delimiter_name(delimiter)
    if match:
        expected, line, saw = match.groups()
        return Message("load.ragged", line=line, saw=saw, expected=expected, delimiter=name)
    if "EOF inside string" in detail:
        return Message("load.open_quote")
    return Message("load.unparsed", delimiter=name, detail=detail.strip())


def _decimal_style(rows: list[list[str]]) -> tuple[str, str | None]:
    values = [v.strip() for row in rows for v in row]
    comma = sum(bool(_COMMA_DECIMAL_RE.match(v)) for v in values)
    dot = sum(bool(_DOT_DECIMAL_RE.match(v)) for v in values)
    if comma == 0 or comma < dot:
        return ".", None
    thousands = "." if any(_DOT_THOUSANDS_RE.match(v) for v in values) else None
    return ",", thousands


def _finish(df: pd.DataFrame, limits: InputLimits) -> pd.DataFrame:
    if df.shape[1] == 0:
        raise DataError(Message("load.empty"))
    if len(df) == 0:
        raise DataError(Message("load.no_rows"))
    limits.check_shape(len(df), df.shape[1])
    names = [str(c).strip() or f"column_{i + 1}" for i, c in enumerate(df.columns)]
    df.columns = _unique_names(names)
    # Trailing delimiters make nameless, empty columns; they carry nothing.
    empty = [c for c in df.columns if _UNNAMED_RE.match(c) and df[c].isna().all()]
    if empty and len(empty) < df.shape[1]:
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
