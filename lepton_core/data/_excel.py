"""Archives and workbooks: a zip or gzip holding one table, and Excel/OpenDocument sheets.

Workbooks are read with ``python-calamine`` (the Rust calamine reader, also
pandas' ``engine="calamine"``): one library for ``.xlsx``, ``.xlsm``, ``.xls``
and ``.ods``, several times faster than openpyxl and with no formula evaluation.

Every archive is checked before anything is extracted: an ``.xlsx``/``.ods``
or a ``.zip`` is a zip whose central directory gives each member's
uncompressed size, summed against ``InputLimits.max_decompressed_bytes``; the
members are then streamed through once (a member that inflates past its
declared size fails its CRC) so that a lying directory is caught too. An
``.xlsx`` sheet's ``<dimension>`` gives its rows and columns before calamine
reads it, and calamine's own height and width are checked again before its
cells become Python objects. A gzip is inflated a piece at a time and stopped
one byte past the limit.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
import zlib
from xml.etree import ElementTree

from lepton_core.core import DataError, Message
from lepton_core.data._limits import InputLimits

__all__: list[str] = []

EXCEL_EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".ods")
#: Every table file :func:`load_table <lepton_core.data.load_table>` reads (zip and gzip
#: archives holding one aside).
TABLE_EXTENSIONS = (
    ".csv",
    ".tsv",
    ".tab",
    ".txt",
    ".data",
    ".dat",
    ".parquet",
    ".pq",
    ".json",
    ".jsonl",
    ".ndjson",
    *EXCEL_EXTENSIONS,
)
_ARCHIVE_EXTENSIONS = (".zip", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".tar")
_MAX_MEMBERS = 10_000
_STREAM = 2**20
_DIMENSION_RE = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?\"")
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


# What open_zip and verify_zip are given, in words for their messages.
_WHAT = {"zip archive": Message("excel.zip_archive"), "Excel workbook": Message("excel.workbook")}


def open_zip(data: bytes, limits: InputLimits, what: str) -> zipfile.ZipFile:
    """The zip in ``data``, once its members' sizes are within the limits."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise DataError(Message("excel.bad_zip", what=_WHAT.get(what, what))) from exc
    if len(members) > _MAX_MEMBERS:
        raise DataError(
            Message(
                "excel.many_files",
                what=_WHAT.get(what, what),
                files=len(members),
                limit=_MAX_MEMBERS,
            )
        )
    limits.check_decompressed(sum(m.file_size for m in members), what=f"The {what}")
    return archive


def verify_zip(archive: zipfile.ZipFile, limits: InputLimits, what: str) -> None:
    """Inflate every member once, a piece at a time, so a lying size is caught cheaply."""
    total = 0
    try:
        for member in archive.infolist():
            if member.is_dir():
                continue
            with archive.open(member) as stream:
                while piece := stream.read(_STREAM):
                    total += len(piece)
                    limits.check_decompressed(total, more=True, what=f"The {what}")
    except DataError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as exc:
        raise DataError(Message("excel.bad_member", what=_WHAT.get(what, what))) from exc


def is_workbook(archive: zipfile.ZipFile) -> bool:
    """Whether a zip is an Office Open XML or OpenDocument spreadsheet."""
    names = set(archive.namelist())
    if "xl/workbook.xml" in names or "xl/workbook.bin" in names:
        return True
    if "mimetype" in names:
        with archive.open("mimetype") as f:
            return b"opendocument.spreadsheet" in f.read(100)
    return False


def zip_member(
    archive: zipfile.ZipFile, limits: InputLimits, max_bytes: int | None
) -> tuple[bytes, str]:
    """The one table inside a zip archive: its bytes and its name.

    Folders, ``__MACOSX/`` and dotfiles are ignored; another archive inside is refused.
    """
    files = [
        m
        for m in archive.infolist()
        if not m.is_dir()
        and not m.filename.startswith("__MACOSX/")
        and not posixpath.basename(m.filename).startswith(".")
    ]
    nested = [m.filename for m in files if m.filename.lower().endswith(_ARCHIVE_EXTENSIONS)]
    tables = [m for m in files if m.filename.lower().endswith(TABLE_EXTENSIONS)]
    if not tables and nested:
        raise DataError(Message("excel.nested", names=_names(nested)))
    if not tables:
        shown = _names([m.filename for m in files]) if files else Message("excel.nothing")
        raise DataError(Message("excel.no_table", names=shown))
    if len(tables) > 1:
        raise DataError(
            Message(
                "excel.many_tables",
                tables=len(tables),
                names=_names([m.filename for m in tables]),
            )
        )
    member = tables[0]
    limits.check_file_size(member.file_size, max_bytes)
    cap = limits.max_file_bytes if max_bytes is None else min(max_bytes, limits.max_file_bytes)
    try:
        with archive.open(member) as stream:
            data = stream.read(cap + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as exc:
        raise DataError(Message("excel.bad_extract", member=member.filename)) from exc
    limits.check_file_size(len(data), max_bytes)
    return data, member.filename


def gunzip(data: bytes, limits: InputLimits, max_bytes: int | None) -> bytes:
    """A gzip file's content, inflated a piece at a time and stopped past the limits."""
    cap = min(limits.max_file_bytes, limits.max_decompressed_bytes)
    if max_bytes is not None:
        cap = min(cap, max_bytes)
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    pieces, size = [], 0
    view = memoryview(data)
    try:
        for start in range(0, len(view), _STREAM):
            piece = inflater.decompress(view[start : start + _STREAM], cap + 1 - size)
            pieces.append(piece)
            size += len(piece)
            while inflater.unconsumed_tail and size <= cap:
                piece = inflater.decompress(inflater.unconsumed_tail, cap + 1 - size)
                pieces.append(piece)
                size += len(piece)
            if size > cap:
                break
    except zlib.error as exc:
        raise DataError(Message("excel.bad_gzip")) from exc
    if size > cap:
        if cap == limits.max_decompressed_bytes:
            limits.check_decompressed(size, more=True, what="The gzip file")
        limits.check_file_size(size, max_bytes)
    return b"".join(pieces)


def _names(names: list[str], most: int = 5) -> Message | str:
    shown = ", ".join(f"'{n}'" for n in names[:most])
    if len(names) > most:
        return Message("excel.and_more", names=shown, rest=len(names) - most)
    return shown


# --------------------------------------------------------------------------- workbooks


def read_workbook(
    data: bytes,
    archive: zipfile.ZipFile | None,
    limits: InputLimits,
    sheet: str | int | None,
) -> tuple[list[list[object]], str, list[str]]:
    """The chosen sheet's rows (values as calamine gives them), its name and every sheet's name.

    ``sheet`` is a name or a 0-based position; by default the first sheet that holds data.
    """
    try:
        from python_calamine import CalamineWorkbook
    except ImportError as exc:  # pragma: no cover - pinned in requirements.txt
        raise DataError(Message("excel.no_calamine")) from exc
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        names = list(book.sheet_names)
    except Exception as exc:  # calamine raises its own types and ValueError for a bad file
        raise DataError(Message("excel.bad_workbook")) from exc
    if not names:
        raise DataError(Message("excel.no_sheets"))
    dimensions = _xlsx_dimensions(archive) if archive is not None else {}
    by_position = isinstance(sheet, str) and sheet.isdigit() and sheet not in names
    if isinstance(sheet, int) or by_position:
        index = int(sheet)
        if not 0 <= index < len(names):
            raise DataError(
                Message(
                    "excel.no_sheet_number",
                    sheets=len(names),
                    number=index + 1,
                    names=_names(names, 20),
                )
            )
        chosen = [names[index]]
    elif sheet is not None:
        if sheet not in names:
            raise DataError(Message("excel.no_sheet_name", sheet=sheet, names=_names(names, 20)))
        chosen = [sheet]
    else:
        chosen = names
    for name in chosen:
        if name in dimensions:
            rows, columns = dimensions[name]
            limits.check_shape(max(rows - 1, 0), columns)  # a header row is not data
        try:
            found = book.get_sheet_by_name(name)
        except Exception as exc:
            raise DataError(Message("excel.bad_sheet", sheet=name)) from exc
        if found.height == 0 or found.width == 0:
            continue
        limits.check_shape(max(found.height - 1, 0), found.width)
        rows_out = found.to_python(skip_empty_area=True, nrows=limits.max_rows + 2)
        return rows_out, name, names
    if sheet is not None:
        raise DataError(Message("excel.empty_sheet", sheet=chosen[0]))
    raise DataError(Message("excel.empty_workbook"))


def _xlsx_dimensions(archive: zipfile.ZipFile) -> dict[str, tuple[int, int]]:
    """Rows and columns of each sheet of an .xlsx from its ``<dimension>``, where it has one."""
    names = set(archive.namelist())
    if "xl/workbook.xml" not in names or "xl/_rels/workbook.xml.rels" not in names:
        return {}
    small = 8 * 2**20  # both parts list sheets; anything larger is not worth parsing
    if (
        max(archive.getinfo(n).file_size for n in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels"))
        > small
    ):
        return {}
    try:
        book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (ElementTree.ParseError, KeyError, zipfile.BadZipFile):
        return {}
    targets = {r.get("Id"): r.get("Target", "") for r in rels}
    out = {}
    for element in book.iter():
        if not element.tag.endswith("}sheet") or element.get(_REL_NS) not in targets:
            continue
        target = targets[element.get(_REL_NS)].lstrip("/")
        path = target if target.startswith("xl/") else posixpath.normpath(f"xl/{target}")
        if path not in names:
            continue
        with archive.open(path) as stream:
            head = stream.read(65536)  # <dimension> comes first in a sheet's XML
        match = _DIMENSION_RE.search(head)
        if match:
            c1, r1, c2, r2 = match.groups()
            c2, r2 = c2 or c1, r2 or r1
            out[element.get("name", "")] = (
                int(r2) - int(r1) + 1,
                _column_number(c2) - _column_number(c1) + 1,
            )
    return out


def _column_number(letters: bytes | str) -> int:
    if isinstance(letters, bytes):
        letters = letters.decode()
    n = 0
    for c in letters:
        n = n * 26 + ord(c) - 64
    return n
