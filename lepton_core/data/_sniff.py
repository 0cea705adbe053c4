"""How a text table is written: its encoding, its delimiter and whether it has a header.

Encoding
    UTF-8 (with or without a byte-order mark) and UTF-16 (a byte-order mark, or
    NUL in every other byte) are recognised from the bytes. Anything else goes
    to ``charset-normalizer`` on a sample of the file (GB18030/GBK, Big5,
    Shift-JIS, EUC-KR, cp1251, cp1252, ...); a candidate is kept only if the
    *whole* file decodes with it, checked in pieces so that no decoded copy of
    the file is held beyond the UTF-8 bytes the parser reads. Western single-byte
    guesses (cp1250, Latin-1, Mac Roman, ...) become cp1252, the codepage of
    Western office software, whenever the file decodes with it: on short
    samples those guesses differ only in characters the sample does not hold.

Delimiter
    Candidates are the usual four, any other ASCII punctuation character found
    on most lines of the sample (``:`` ``^`` ``~`` ...), and runs of whitespace
    (the UCI ``.data`` layout, ``sep=r"\\s+"``). Each is scored the way CleverCSV
    scores dialects (van den Burg et al., 2019): how consistent the number of
    fields per row is, times how many cells then look like clean values (a
    number, a date, a word free of the other candidates). CleverCSV itself was
    tried and not taken: it has no notion of whitespace runs (it sees a UCI file
    as single spaces with empty fields between them) and pulls in chardet and
    regex for what a hundred lines on :mod:`csv` do here. ``csv.Sniffer`` is
    not used: it guesses from character frequencies and is fooled by commas
    inside text.

Header
    The first row is a header when it reads as text above a column of numbers;
    it is data when its values parse like the rows below (numbers over numbers)
    or repeat in the rows below; with no evidence either way it is a header, as
    most files have one.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections import Counter
from collections.abc import Sequence

from lepton_core.core import DataError, Message

__all__ = ["encoding_label"]

WHITESPACE = r"\s+"
_CHUNK = 16 * 2**20
_DETECT_BYTES = 256 * 1024
_SAMPLE_ROWS = 200
_NAMES = {
    ",": Message("sniff.comma"),
    ";": Message("sniff.semicolon"),
    "\t": Message("sniff.tab"),
    "|": Message("sniff.pipe"),
    ":": Message("sniff.colon"),
    "^": Message("sniff.caret"),
    "~": Message("sniff.tilde"),
    WHITESPACE: Message("sniff.space"),
}
_PREFERRED = (",", "\t", ";", "|", WHITESPACE)
# Characters never taken as a delimiter: they are part of numbers, dates, names or quotes.
_NOT_DELIMITERS = set("\"'.-+_/()[]{}%$€£¥@&*!?=<>`\\")
_NUMBER_RE = re.compile(
    r"^[+-]?(\d+|\d{1,3}([.,' ]\d{3})+)?([.,]\d+)?([eE][+-]?\d+)?%?$|^[+-]?(inf|nan)$", re.I
)
_DATE_RE = re.compile(
    r"^\d{1,4}[-/.年]\d{1,2}[-/.月]\d{1,4}日?([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?$"
    r"|^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$"
)
_MISSING = {"", "?", "na", "n/a", "nan", "null", "none", "-", "--"}
# charset-normalizer's guesses that mean "some Western single-byte codepage".
_WESTERN = {
    "cp1250",
    "cp1252",
    "cp1254",
    "cp1257",
    "cp850",
    "cp437",
    "cp858",
    "iso8859_1",
    "iso8859_15",
    "iso8859_2",
    "iso8859_9",
    "iso8859_10",
    "iso8859_13",
    "iso8859_14",
    "iso8859_16",
    "mac_roman",
    "mac_latin2",
    "mac_iceland",
    "mac_turkish",
    "hp_roman8",
}
_ENCODING_LABELS = {
    "utf_8": "UTF-8",
    "utf_16": "UTF-16",
    "utf_16_le": "UTF-16",
    "utf_16_be": "UTF-16",
    "gb18030": "GBK/GB18030",
    "gbk": "GBK",
    "gb2312": "GBK",
    "big5": "Big5",
    "big5hkscs": "Big5",
    "cp950": "Big5",
    "shift_jis": "Shift-JIS",
    "cp932": "Shift-JIS",
    "euc_jp": "EUC-JP",
    "euc_kr": "EUC-KR",
    "cp949": "EUC-KR",
    "cp1252": "Windows-1252 (Western European)",
    "cp1251": "Windows-1251 (Cyrillic)",
    "iso8859_1": "Latin-1",
}


# --------------------------------------------------------------------------- encoding


def codec_name(encoding: str) -> str:
    """Python's canonical name for ``encoding`` (``"GBK"`` → ``"gbk"``), or a ``DataError``."""
    try:
        return codecs.lookup(encoding).name.replace("-", "_")
    except LookupError as exc:
        raise DataError(Message("sniff.unknown_encoding", encoding=encoding)) from exc


def encoding_label(encoding: str) -> str:
    """``encoding`` in the words an office user knows: ``"GBK/GB18030"``, ``"Shift-JIS"``."""
    name = codec_name(encoding)
    return _ENCODING_LABELS.get(name, name.upper().replace("_", "-"))


def to_utf8(data: bytes, encoding: str | None = None) -> tuple[bytes, str]:
    """The text as UTF-8 bytes without a byte-order mark, and the encoding it was read in.

    ``encoding`` forces one (undecodable bytes become U+FFFD); otherwise it is detected.
    """
    if encoding is not None:
        name = codec_name(encoding)
        if name in ("utf_8", "utf_8_sig"):
            data = data.removeprefix(b"\xef\xbb\xbf")
            return (data if _decodes(data, "utf-8") else _recode(data, "utf-8")), "utf_8"
        return _recode(data, name), name
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        return (data if _decodes(data, "utf-8") else _recode(data, "utf-8")), "utf_8"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _recode(data, "utf-16"), "utf_16"
    head = data[:8192]
    if b"\x00" in head:
        # UTF-16 without a byte-order mark puts NUL in every other byte of ASCII text.
        even, odd = head[0::2].count(0), head[1::2].count(0)
        half = len(head) // 2
        if odd > 0.8 * half and even < 0.2 * half:
            return _recode(data, "utf-16-le"), "utf_16_le"
        if even > 0.8 * half and odd < 0.2 * half:
            return _recode(data, "utf-16-be"), "utf_16_be"
    if b"\x00" in data:  # anywhere: a sparse or padded file can start with a valid table
        raise DataError(Message("sniff.binary"))
    if data.isascii() or _decodes(data, "utf-8"):
        return data, "utf_8"
    for name in _guesses(data):
        if _decodes(data, name):
            return _recode(data, name), name
    # latin-1 maps every byte, so it cannot fail; a few characters may look odd.
    return _recode(data, "latin-1"), "iso8859_1"


def _guesses(data: bytes) -> list[str]:
    """Encodings to try, most likely first: charset-normalizer's on a sample, then cp1252."""
    from charset_normalizer import from_bytes

    sample = data[:_DETECT_BYTES]
    if len(data) > len(sample):  # end on a line so that no character is cut in half
        cut = sample.rfind(b"\n")
        sample = sample[: cut + 1] if cut > 0 else sample
    names = []
    for match in from_bytes(sample, explain=False):
        name = codec_name(match.encoding)
        if name in _WESTERN:
            name = "cp1252"
        if name not in names and name not in ("utf_8", "ascii"):
            names.append(name)
    if "cp1252" not in names:
        names.append("cp1252")
    return names


def _decodes(data: bytes, encoding: str) -> bool:
    # In pieces, so that checking never holds a decoded copy of the whole file.
    decoder = codecs.getincrementaldecoder(encoding)()
    view = memoryview(data)
    try:
        for start in range(0, len(view), _CHUNK):
            decoder.decode(view[start : start + _CHUNK])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _recode(data: bytes, encoding: str) -> bytes:
    """``data`` in UTF-8, decoded a piece at a time; bad bytes become U+FFFD."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    view = memoryview(data)
    pieces = [
        decoder.decode(view[start : start + _CHUNK]).encode()
        for start in range(0, len(view), _CHUNK)
    ]
    pieces.append(decoder.decode(b"", final=True).encode())
    text = b"".join(pieces)
    return text.removeprefix(b"\xef\xbb\xbf")


# --------------------------------------------------------------------------- delimiter


def delimiter_name(delimiter: str) -> str:
    """``","`` → ``"comma"``; ``r"\\s+"`` → ``"space"``; others quoted."""
    return _NAMES.get(delimiter, f"'{delimiter}'")


def sample_rows(
    sample: str, delimiter: str, truncated: bool, limit: int = _SAMPLE_ROWS
) -> list[list[str]]:
    """The first rows of ``sample`` split on ``delimiter``, without a row cut off at its end."""
    try:
        if delimiter == WHITESPACE:
            lines = (line.strip() for line in io.StringIO(sample))
            reader = csv.reader(
                (re.sub(r"\s+", " ", line) for line in lines if line),
                delimiter=" ",
                skipinitialspace=True,
            )
        else:
            reader = csv.reader(io.StringIO(sample), delimiter=delimiter, skipinitialspace=True)
        rows = [row for row in itertools.islice(reader, limit + 1) if row]
    except csv.Error:
        return []
    if truncated or len(rows) > limit:
        rows = rows[:-1]  # the last row may be cut off mid-value
    return rows


def detect_delimiter(sample: str, truncated: bool, hint: str | None = None) -> str:
    """The delimiter whose fields are most consistent across the sample's rows."""
    candidates = _candidates(sample)
    if hint:
        rows = sample_rows(sample, hint, truncated)
        widths = Counter(len(r) for r in rows)
        if rows and len(rows[0]) >= 2 and widths[len(rows[0])] >= 0.9 * len(rows):
            return hint
    scores = {d: _score(sample, d, truncated, candidates) for d in candidates}
    order = {d: i for i, d in enumerate(candidates)}
    best = max(candidates, key=lambda d: (round(scores[d], 3), -order[d]))
    return best if scores[best] > 0 else ","


def _candidates(sample: str) -> list[str]:
    lines = [line for line in sample.splitlines()[:_SAMPLE_ROWS] if line.strip()]
    found: Counter[str] = Counter()
    for line in lines:
        found.update({c for c in line if c.isascii() and not c.isalnum() and c not in " \r\n"})
    common = [
        c
        for c, n in found.most_common()
        if c not in _NOT_DELIMITERS and c not in _PREFERRED and n >= 0.5 * len(lines)
    ]
    return list(_PREFERRED) + common[:8]


def _score(sample: str, delimiter: str, truncated: bool, candidates: Sequence[str]) -> float:
    rows = sample_rows(sample, delimiter, truncated)
    if not rows:
        return 0.0
    widths = Counter(len(r) for r in rows)
    width, count = widths.most_common(1)[0]
    if width < 2:
        return 0.0
    consistency = count / len(rows)
    others = "".join(c for c in candidates if c != delimiter and len(c) == 1)
    if delimiter != WHITESPACE:
        others += "\t"
    cells = [v for row in rows if len(row) == width for v in row]
    clean = sum(_clean(v, others, delimiter == WHITESPACE) for v in cells) / max(len(cells), 1)
    first = 1.0 if len(rows[0]) == width else 0.6  # a header shaped unlike the rows
    return consistency * clean * first


def _clean(value: str, others: str, whitespace: bool) -> bool:
    value = value.strip()
    if is_number(value) or _DATE_RE.match(value) or value.lower() in _MISSING:
        return True
    if not whitespace and ("  " in value or sum(map(is_number, value.split())) >= 2):
        return False  # numbers side by side: columns that runs of spaces separate
    return not any(c in value for c in others)


def is_number(value: object) -> bool:
    """A number, or text that reads as one (``3``, ``-1.5``, ``1,5``, ``1.234,5``, ``45%``)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, str) and bool(value.strip()) and bool(_NUMBER_RE.match(value.strip()))


# --------------------------------------------------------------------------- header


def has_header(rows: Sequence[Sequence[object]]) -> bool:
    """Whether the first of ``rows`` names the columns rather than holding data.

    A text value above a column of numbers is a name; a first row of numbers over
    numbers, or values that repeat further down their column, are data. With no
    evidence either way the first row is a header, as in most files.
    """
    if len(rows) < 2:
        return True
    first, data = rows[0], rows[1:]
    strong = data_votes = 0
    for j, value in enumerate(first):
        column = [row[j] for row in data if j < len(row) and not _missing(row[j])]
        if _missing(value) or not column:
            continue
        numeric = sum(is_number(v) for v in column) / len(column)
        if is_number(value):
            if numeric >= 0.9:
                data_votes += 1
        elif numeric >= 0.9:
            strong += 1
        elif str(value).strip() in {str(v).strip() for v in column}:
            data_votes += 1
    if strong:
        return True
    return data_votes == 0


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in _MISSING)
