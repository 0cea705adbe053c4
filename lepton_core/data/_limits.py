"""Limits on what one input table may cost, each read from an environment variable.

A table is checked against these before it is materialised: the file size
from ``stat`` (or the upload's length), a Parquet file's rows, columns and
decompressed size from its footer, an Excel workbook's or zip archive's members
from its directory, a delimited file's columns from its header
and its rows while it is parsed, a JSON file's nesting and values by a scan
of its text before ``json.loads``. The defaults suit a laptop: Adult (32,561
rows × 15 columns, 4 MB) is far below every one of them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from lepton_core.core import DataError, Message

__all__ = ["LIMIT_SETTINGS", "InputLimits"]

# The containers a decompression limit names, in every language (others are shown as given).
_CONTAINERS = {
    "The Parquet file": Message("limits.parquet_file"),
    "The Excel workbook": Message("limits.excel_workbook"),
    "The zip archive": Message("limits.zip_archive"),
    "The gzip file": Message("limits.gzip_file"),
}

_MB = 2**20

# field → (environment variable, unit in bytes, or 1 for a count)
LIMIT_SETTINGS: dict[str, tuple[str, int]] = {
    "max_file_bytes": ("LEPTON_MAX_FILE_MB", _MB),
    "max_rows": ("LEPTON_MAX_ROWS", 1),
    "max_columns": ("LEPTON_MAX_COLUMNS", 1),
    "max_cells": ("LEPTON_MAX_CELLS", 1),
    "max_decompressed_bytes": ("LEPTON_MAX_DECOMPRESSED_MB", _MB),
    "max_json_depth": ("LEPTON_MAX_JSON_DEPTH", 1),
}


@dataclass(frozen=True)
class InputLimits:
    """The largest table :func:`~lepton_core.data.load_table` reads.

    Attributes
    ----------
    max_file_bytes : int
        File size, from a path or an upload (``LEPTON_MAX_FILE_MB``, 200 MB:
        Streamlit's default upload limit).
    max_rows : int
        Data rows (``LEPTON_MAX_ROWS``, 5,000,000).
    max_columns : int
        Columns (``LEPTON_MAX_COLUMNS``, 2,000: a profile stays around a second).
    max_cells : int
        Rows × columns (``LEPTON_MAX_CELLS``, 10,000,000: about 1 GB as pandas
        objects at worst, 20 times Adult).
    max_decompressed_bytes : int
        What a Parquet file's values, or the members of an Excel workbook or a zip
        or gzip archive, decompress to (``LEPTON_MAX_DECOMPRESSED_MB``, 1,000 MB).
    max_json_depth : int
        Nesting of JSON arrays and objects (``LEPTON_MAX_JSON_DEPTH``, 32; a
        table of records needs 2).
    """

    max_file_bytes: int = 200 * _MB
    max_rows: int = 5_000_000
    max_columns: int = 2_000
    max_cells: int = 10_000_000
    max_decompressed_bytes: int = 1_000 * _MB
    max_json_depth: int = 32

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> InputLimits:
        """The defaults, with each limit whose variable is set in ``environ`` replaced.

        Raises
        ------
        DataError
            If a variable is set to something other than a whole number of at least 1.
        """
        env = os.environ if environ is None else environ
        values = {}
        for field in fields(cls):
            name, unit = LIMIT_SETTINGS[field.name]
            raw = env.get(name, "").strip()
            if not raw:
                continue
            if not raw.isdigit() or int(raw) < 1:
                raise DataError(Message("limits.setting", name=name, value=repr(raw)))
            values[field.name] = int(raw) * unit
        return cls(**values)

    def check_file_size(self, size: int, upload_limit: int | None = None) -> None:
        """Refuse a file of ``size`` bytes over this limit or the caller's ``upload_limit``."""
        if upload_limit is not None and upload_limit <= self.max_file_bytes and size > upload_limit:
            raise DataError(
                Message("limits.upload", size=human_bytes(size), limit=human_bytes(upload_limit))
            )
        if size > self.max_file_bytes:
            raise DataError(
                Message(
                    "limits.file", size=human_bytes(size), limit=human_bytes(self.max_file_bytes)
                )
            )

    def check_shape(self, rows: int, columns: int, *, more: bool = False) -> None:
        """Refuse a table of ``rows`` × ``columns`` over the column, row or cell limit.

        ``more`` says that ``rows`` is a lower bound: reading stopped there.
        """
        if columns > self.max_columns:
            raise DataError(Message("limits.columns", columns=columns, limit=self.max_columns))
        if rows > self.max_rows:
            shown = self.max_rows if more else rows
            raise DataError(
                Message("limits.more_rows", rows=shown, limit=self.max_rows)
                if more
                else Message("limits.rows", rows=shown, limit=self.max_rows)
            )
        if rows * columns > self.max_cells:
            shown = self.max_cells if more else rows * columns
            raise DataError(
                Message("limits.more_cells", cells=shown, limit=self.max_cells)
                if more
                else Message("limits.cells", cells=shown, limit=self.max_cells)
            )

    def check_values(self, values: int) -> None:
        """Refuse a JSON document holding more than ``max_cells`` values."""
        if values > self.max_cells:
            raise DataError(Message("limits.json_values", values=values, limit=self.max_cells))

    def check_decompressed(
        self, size: int, *, more: bool = False, what: str = "The Parquet file"
    ) -> None:
        """Refuse data that decompresses to more than ``max_decompressed_bytes``.

        ``what`` names it in the message: a Parquet file, an Excel workbook, a zip archive.
        """
        if size > self.max_decompressed_bytes:
            shown = human_bytes(self.max_decompressed_bytes if more else size)
            limit = human_bytes(self.max_decompressed_bytes)
            named = _CONTAINERS.get(what, what)
            raise DataError(
                Message("limits.more_decompressed", what=named, size=shown, limit=limit)
                if more
                else Message("limits.decompressed", what=named, size=shown, limit=limit)
            )

    def check_depth(self, depth: int) -> None:
        """Refuse JSON nested more than ``max_json_depth`` levels deep."""
        if depth > self.max_json_depth:
            raise DataError(Message("limits.depth", depth=depth, limit=self.max_json_depth))


def human_bytes(n: int) -> str:
    """``n`` bytes in words: ``"1.5 MB"``, ``"200 MB"``, ``"12 KB"``."""
    mb = n / _MB
    if mb >= 10:
        return f"{mb:,.0f} MB"
    if mb >= 1:
        return f"{mb:.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} bytes"
