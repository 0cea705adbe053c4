"""Column clean-ups a person can see, apply and undo: numbers written as text, spelling
variants of one category, and the type of a column.

:func:`suggest_cleanups` proposes :class:`CleanupStep` s; :func:`set_type` makes the
step for a type the user chose; :func:`apply_cleanups` applies a list of steps to a table
as a pure function, so undoing one is applying the others to the table as loaded.
A step's ``description`` is one sentence for a spreadsheet user, with counts.

Numbers are read by :func:`read_number` (one value) and :func:`read_numbers` (a column):
currency signs and codes (``$``, ``€``, ``£``, ``¥``, ``USD``, ``元`` …), thousands
separators (``1,234``, ``1.234,5``, ``1 234``, ``1'234``), percentages, ``k``/``M``/``B``
and ``万``/``亿`` amounts, brackets for minus, full-width digits, and words that mean
"no value" (``n/a``, ``-``, ``none``, ``无`` …), which become missing.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from lepton_core.core import ColumnKind, DataError, JsonMixin, Message
from lepton_core.data._schema import (
    _KINDS_ATTR,
    _to_datetime,
    _with_str_columns,
    infer_schema,
)

__all__ = [
    "CLEANUP_ACTIONS",
    "TYPE_CHOICES",
    "CleanupStep",
    "NumberReading",
    "add_cleanup",
    "apply_cleanups",
    "read_number",
    "read_numbers",
    "set_type",
    "suggest_cleanups",
]

CleanupAction = Literal["numbers", "categories", "type"]
#: What a :class:`CleanupStep` does: read numbers, merge spellings, or set a column's type.
CLEANUP_ACTIONS: tuple[CleanupAction, ...] = ("numbers", "categories", "type")

#: The types a person can give a column, in their words, and the kind each one means
#: (``None``: the column is left out of the table).
TYPE_CHOICES: dict[str, ColumnKind | None] = {
    "number": "numeric",
    "category": "categorical",
    "text": "text",
    "date": "datetime",
    "leave out": None,
}

# A number column is proposed when at least this share of its non-blank values read as
# numbers, and at least this many do.
_MIN_READ_SHARE = 0.9
_MIN_READ = 3
# Values tried before reading a whole column; keeps suggestions fast on big tables.
_SNIFF_ROWS = 2000
_SHOWN = 5  # unread values or spellings named in a description

_MISSING_WORDS = frozenset(
    {
        *("", "n/a", "na", "n.a.", "n.a", "nan", "#n/a", "none", "null", "nil", "missing"),
        *("unknown", "-", "--", "---", "—", "–", "?", "??", "/", ".", "无", "空", "缺失"),
        *("未知", "不详", "暂无"),
    }
)
_CURRENCY_SYMBOLS = "$€£¥₹₩₽₺₱฿₫₪₦₴¢"
_CURRENCY_WORDS = (
    *("usd", "eur", "gbp", "jpy", "cny", "rmb", "hkd", "twd", "aud", "cad", "nzd", "chf"),
    *("sek", "nok", "dkk", "inr", "krw", "sgd", "brl", "mxn", "zar", "rub", "pln", "try"),
    *("us$", "hk$", "nt$", "a$", "c$", "nz$", "s$", "r$", "rs.", "rs", "kr", "zł"),
    *("元", "圆", "块", "円", "人民币"),
)
_CURRENCY = "|".join(
    [re.escape(w) for w in sorted(_CURRENCY_WORDS, key=len, reverse=True)]
    + [f"[{re.escape(_CURRENCY_SYMBOLS)}]"]
)
_CURRENCY_PREFIX_RE = re.compile(rf"^(?:{_CURRENCY})\s*", re.IGNORECASE)
_CURRENCY_SUFFIX_RE = re.compile(rf"\s*(?:{_CURRENCY})$", re.IGNORECASE)
# Amounts: longest first, so "百万" is not read as "万".
_MULTIPLIERS = {
    "thousand": 1e3,
    "million": 1e6,
    "billion": 1e9,
    "mio": 1e6,
    "mln": 1e6,
    "bln": 1e9,
    "mn": 1e6,
    "bn": 1e9,
    "k": 1e3,
    "m": 1e6,
    "b": 1e9,
    "百万": 1e6,
    "千万": 1e7,
    "千": 1e3,
    "万": 1e4,
    "萬": 1e4,
    "亿": 1e8,
    "億": 1e8,
}
_MULTIPLIER_RE = re.compile(
    r"\s*(" + "|".join(sorted(map(re.escape, _MULTIPLIERS), key=len, reverse=True)) + r")$",
    re.IGNORECASE,
)
# The number itself, once signs, currency, "%" and amounts are off: plain digits with the
# decimal mark, or groups of three split by one separator that is not the decimal mark.
_SEPARATORS = {".": "[ ',’]", ",": "[ '.’]"}
_NUMBER_RES = {
    mark: (
        re.compile(rf"^(?:\d+(?:{re.escape(mark)}\d*)?|{re.escape(mark)}\d+)$"),
        re.compile(
            rf"^\d{{1,3}}(?P<sep>{seps})\d{{3}}(?:(?P=sep)\d{{3}})*(?:{re.escape(mark)}\d+)?$"
        ),
    )
    for mark, seps in _SEPARATORS.items()
}
_FULL_WIDTH_DIGIT_RE = re.compile("[\uff10-\uff19]")  # ０ to ９
_EXPONENT_RE = re.compile(r"^(?:\d+(?:\.\d*)?|\.\d+)e[+-]?\d+$", re.IGNORECASE)
# Evidence for the decimal mark of a column, from values no other reading fits.
_COMMA_DECIMAL_RE = re.compile(
    r"^\d{1,3}(\.\d{3})+,\d+$|^\d{1,3}(\.\d{3}){2,}$|^\d+,(\d{1,2}|\d{4,})$"
)
_POINT_DECIMAL_RE = re.compile(
    r"^\d{1,3}(,\d{3})+\.\d+$|^\d{1,3}(,\d{3}){2,}$|^\d+\.(\d{1,2}|\d{4,})$"
)

# Words for what a number column held, in the order a description names them.
_FEATURES = {
    "currency": Message("clean.feature.currency"),
    "separators": Message("clean.feature.separators"),
    "decimal comma": Message("clean.feature.decimal_comma"),
    "amounts": Message("clean.feature.amounts"),
    "percent": Message("clean.feature.percent"),
    "brackets": Message("clean.feature.brackets"),
    "full-width": Message("clean.feature.full_width"),
}


# ---------------------------------------------------------------------------- numbers


@dataclass
class NumberReading:
    """How a column's values read as numbers (see :func:`read_numbers`).

    Attributes
    ----------
    numbers : pandas.Series
        The values as ``float64``; missing where a value is blank, means "no value",
        or could not be read.
    present : int
        Values that were not already blank.
    read : int
        Values read as numbers.
    missing_words : int
        Values such as ``n/a``, ``-`` or ``无`` that mean "no value".
    unread : dict
        Values that could not be read, each with its row count, most frequent first.
    features : list of str
        What the values held besides plain digits (keys of the descriptions' wording:
        ``currency``, ``separators``, ``decimal comma``, ``amounts``, ``percent``,
        ``brackets``, ``full-width``).
    decimal : str
        The decimal mark used: ``"."`` or ``","``.
    percent : str
        ``"fraction"`` (45% → 0.45) or ``"number"`` (45% → 45).
    examples : dict
        For each of ``features``, the most frequent value that held it.
    """

    numbers: pd.Series
    present: int
    read: int
    missing_words: int
    unread: dict[str, int]
    features: list[str]
    decimal: str
    percent: str
    examples: dict[str, str] = field(default_factory=dict)


def _normal(text: str) -> str:
    # NFKC turns full-width digits and signs (１２３, ￥, ％, ，) into their plain forms and
    # non-breaking or thin spaces into plain ones.
    return unicodedata.normalize("NFKC", text).strip()


_Split = tuple[str, float, bool, set[str]]


def _split(text: str) -> _Split | None:
    """``text`` without sign, currency, ``%`` and amount: (core, factor, percent, features)."""
    features: set[str] = set()
    s = _normal(text)
    if _FULL_WIDTH_DIGIT_RE.search(text):
        features.add("full-width")
    sign = 1.0
    if len(s) > 2 and s.startswith("(") and s.endswith(")"):
        sign, s = -1.0, s[1:-1].strip()
        features.add("brackets")
    for _ in range(2):  # "-$5" and "$-5" both mean minus five dollars
        if s and s[0] in "-−+":
            sign = -sign if s[0] != "+" else sign
            s = s[1:].strip()
        # The regular expressions run only where a digit does not already start or end.
        match = None if s[:1].isdigit() else _CURRENCY_PREFIX_RE.match(s)
        if match and match.end() < len(s):
            s = s[match.end() :]
            features.add("currency")
    percent = False
    factor = 1.0
    for _ in range(2):  # "5万元", "5k€", "12.5 %"
        if s[-1:].isdigit():
            break
        match = _CURRENCY_SUFFIX_RE.search(s)
        if match and match.start() > 0:
            s = s[: match.start()]
            features.add("currency")
        if s.endswith("%") and not percent:
            percent, s = True, s[:-1].rstrip()
            features.add("percent")
        match = _MULTIPLIER_RE.search(s)
        if match and match.start() > 0 and factor == 1.0:
            factor = _MULTIPLIERS[match.group(1).lower()]
            s = s[: match.start()]
            features.add("amounts")
    if s and s[0] in "-−" and sign > 0:  # "$ -5"
        sign, s = -1.0, s[1:].strip()
    if not s or not (s[0].isdigit() or s[0] in ".,"):
        return None
    return s, sign * factor, percent, features


def _core_value(core: str, decimal: str) -> tuple[float, set[str]] | None:
    plain, grouped = _NUMBER_RES[decimal]
    features: set[str] = set()
    if plain.match(core):
        digits = core
    elif grouped.match(core):
        digits = core.replace(grouped.match(core).group("sep"), "")  # type: ignore[union-attr]
        features.add("separators")
    elif decimal == "." and _EXPONENT_RE.match(core):
        digits = core
    else:
        return None
    if decimal == ",":
        if "," in digits:
            features.add("decimal comma")
        digits = digits.replace(",", ".")
    try:
        value = float(digits)
    except ValueError:
        return None
    return (value, features) if math.isfinite(value) else None


def read_number(text: object, *, decimal: str = ".", percent: str = "fraction") -> float | None:
    """One value read as a number; ``None`` when it cannot be, NaN when it means "no value".

    >>> read_number("$78,693"), read_number("34k"), read_number("￥3,000"), read_number("5万")
    (78693.0, 34000.0, 3000.0, 50000.0)
    >>> read_number("1.234,5", decimal=","), read_number("45%"), read_number("(12)")
    (1234.5, 0.45, -12.0)
    """
    if decimal not in (".", ","):
        raise ValueError(f"decimal must be '.' or ',', not {decimal!r}")
    if percent not in ("fraction", "number"):
        raise ValueError(f"percent must be 'fraction' or 'number', not {percent!r}")
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return math.nan
    if isinstance(text, (int, float, np.integer, np.floating)) and not isinstance(text, bool):
        return float(text)
    parsed = _read_one(str(text), decimal, percent)
    return None if parsed is None else parsed[0]


def _read_one(
    text: str, decimal: str, percent: str, split: _Split | Literal[False] | None = False
) -> tuple[float, set[str]] | None:
    """``text`` read as (number, features); ``split`` is ``_split(text)`` when known."""
    if _normal(text).casefold() in _MISSING_WORDS:
        return math.nan, {"missing"}
    if split is False:
        split = _split(text)
    if split is None:
        return None
    core, factor, is_percent, features = split
    value = _core_value(core, decimal)
    if value is None:
        return None
    number, more = value
    if is_percent and percent == "fraction":
        factor /= 100
    return number * factor, features | more


def _decimal_mark(splits: Sequence[_Split | None]) -> str:
    """``","`` when some value can only be read with a decimal comma and none with a point."""
    comma = point = False
    for split in splits:
        if split is None:
            continue
        core = split[0].replace(" ", "")
        comma = comma or bool(_COMMA_DECIMAL_RE.match(core))
        point = point or bool(_POINT_DECIMAL_RE.match(core))
    return "," if comma and not point else "."


def read_numbers(
    s: pd.Series, *, decimal: str | None = None, percent: str | None = None
) -> NumberReading:
    """Read a column's values as numbers (see :func:`read_number` for what is understood).

    Parameters
    ----------
    s : pandas.Series
        The column.
    decimal : {".", ","}, optional
        The decimal mark. Chosen from the values when omitted: a comma only when some value
        reads only that way (``1.234,5``, ``3,25``) and none reads only with a point;
        ``1,234`` alone stays one thousand two hundred and thirty-four.
    percent : {"fraction", "number"}, optional
        How ``45%`` reads: 0.45 or 45. Chosen from the values when omitted: ``number`` when
        the column also holds plain values above 1 (so ``45%`` sits beside ``30``),
        otherwise ``fraction``, as a spreadsheet stores it.
    """
    present = s.dropna()
    if ptypes.is_numeric_dtype(s.dtype) and not ptypes.is_bool_dtype(s.dtype):
        numbers = pd.to_numeric(s, errors="coerce").astype("float64")
        return NumberReading(numbers, len(present), len(present), 0, {}, [], ".", "fraction", {})
    counts = present.astype(str).value_counts(sort=True)
    texts = [str(v) for v in counts.index]
    splits = {t: _split(t) for t in texts}
    decimal = decimal or _decimal_mark(list(splits.values()))
    readings = {t: _read_one(t, decimal, "number", splits[t]) for t in texts}
    if percent is None:
        read = [r for r in readings.values() if r and "missing" not in r[1]]
        plain = [abs(r[0]) for r in read if "percent" not in r[1]]
        has_percent = len(plain) < len(read)
        percent = "number" if has_percent and plain and np.median(plain) > 1 else "fraction"
    if percent == "fraction":
        readings = {
            t: (r[0] / 100, r[1]) if r and "percent" in r[1] else r for t, r in readings.items()
        }
    values = {t: (r[0] if r else math.nan) for t, r in readings.items()}
    numbers = s.astype(object).map(lambda v: values.get(str(v), math.nan), na_action="ignore")
    numbers = pd.to_numeric(numbers, errors="coerce").astype("float64")
    examples: dict[str, str] = {}
    read = missing_words = 0
    unread: dict[str, int] = {}
    for text, n in zip(texts, counts.tolist(), strict=True):
        r = readings[text]
        if r is None:
            unread[text] = int(n)
        elif "missing" in r[1]:
            missing_words += int(n)
        else:
            read += int(n)
            for feature in r[1]:
                examples.setdefault(feature, text)
    return NumberReading(
        numbers=numbers,
        present=len(present),
        read=read,
        missing_words=missing_words,
        unread=unread,
        features=[f for f in _FEATURES if f in examples],
        decimal=decimal,
        percent=percent,
        examples={f: examples[f] for f in _FEATURES if f in examples},
    )


# ---------------------------------------------------------------------------- steps


@dataclass
class CleanupStep(JsonMixin):
    """One change to one column, with the sentence that says what it does.

    Attributes
    ----------
    column : str
        The column it changes.
    action : {"numbers", "categories", "type"}
        ``numbers``: read the values as numbers (``decimal``, ``percent``); values that
        cannot be read become missing. ``categories``: replace spellings of one category
        by one spelling (``mapping``: tidied spelling → the spelling kept). ``type``: use
        the column as ``kind`` (one of :data:`TYPE_CHOICES`).
    decimal, percent : str
        For ``numbers``: the decimal mark and how percentages read (see :func:`read_numbers`).
    mapping : dict
        For ``categories``: each tidied spelling (lower case, single spaces, no hyphens)
        and the spelling it becomes.
    kind : str
        For ``type``: ``number``, ``category``, ``text``, ``date`` or ``leave out``.
    description : Message
        One plain sentence with counts (English; a page renders it in the reader's
        language), e.g. "income: 298 of 300 values read as numbers
        (currency signs, thousands separators); 2 like 'n/a' become blanks".
    unread : dict
        Values that a ``numbers`` or ``type`` step could not read and turns into blanks,
        with their row counts (the most frequent ones).
    """

    column: str
    action: CleanupAction
    decimal: str = "."
    percent: str = "fraction"
    mapping: dict[str, str] = field(default_factory=dict)
    kind: str = ""
    description: Message | str = ""
    unread: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.action not in CLEANUP_ACTIONS:
            raise ValueError(f"action must be one of {CLEANUP_ACTIONS}, not {self.action!r}")
        if self.action == "type" and self.kind not in TYPE_CHOICES:
            raise ValueError(f"kind must be one of {tuple(TYPE_CHOICES)}, not {self.kind!r}")

    def as_code(self) -> str:
        """The call that makes this step, for the page's Python cell."""
        if self.action == "numbers":
            args = f"decimal={self.decimal!r}, percent={self.percent!r}"
        elif self.action == "categories":
            args = f"mapping={self.mapping!r}"
        else:
            args = f"kind={self.kind!r}"
        return f"CleanupStep({self.column!r}, {self.action!r}, {args})"


def _quoted(values: Sequence[str], more: int = 0) -> Message | str:
    shown = ", ".join(f"'{v}'" for v in values[:_SHOWN])
    rest = len(values) - _SHOWN + more
    return Message("clean.and_more", shown=shown, rest=rest) if rest > 0 else shown


def _joined(parts: Sequence[Message | str]) -> Message | str:
    """``parts`` one after another, separated by semicolons."""
    if not parts:
        return ""
    first, *others = parts
    for part in others:
        first = Message("clean.then", first=first, then=part)
    return first


def _unread_clause(count: int, values: Sequence[str]) -> Message:
    return Message("clean.unread", count=count, values=_quoted(values))


def _number_sentence(column: str, reading: NumberReading, *, chosen: bool = False) -> Message | str:
    words = []
    for feature in reading.features:
        example = reading.examples[feature]
        if feature == "percent":
            as_read = read_number(example, decimal=reading.decimal, percent=reading.percent)
            words.append(
                Message("clean.percent_fractions", example=example, value=as_read)
                if reading.percent == "fraction"
                else Message("clean.percent_numbers", example=example, value=as_read)
            )
        else:
            words.append(
                Message("clean.feature_example", feature=_FEATURES[feature], example=example)
            )
    clauses: list[Message | str] = [
        Message(
            "clean.numbers_read",
            column=column,
            read=reading.read,
            present=reading.present,
            how=Message("clean.how", features=_joined(words)) if words else "",
        )
    ]
    if reading.missing_words:
        clauses.append(Message("clean.missing_words", count=reading.missing_words))
    if reading.unread:
        clauses.append(_unread_clause(sum(reading.unread.values()), list(reading.unread)))
    elif chosen and not reading.missing_words:
        clauses.append(Message("clean.all_numbers"))
    if chosen:
        clauses.append(Message("clean.used_as_number"))
    return _joined(clauses)


def _number_step(column: str, s: pd.Series) -> CleanupStep | None:
    if not _may_be_number_text(s):
        return None
    reading = read_numbers(s)
    usable = reading.present - reading.missing_words
    if reading.read < _MIN_READ or reading.read < _MIN_READ_SHARE * usable:
        return None
    distinct = reading.numbers.nunique()
    # Plain numbers are left to the type rules ("1"/"2" codes stay categories) unless
    # something needed reading: a currency sign, a separator, a "k", a "%" ...
    if not reading.features and (not reading.missing_words or distinct <= 20):
        return None
    return CleanupStep(
        column=column,
        action="numbers",
        decimal=reading.decimal,
        percent=reading.percent,
        description=_number_sentence(column, reading),
        unread=dict(list(reading.unread.items())[:_SHOWN]),
    )


def _may_be_number_text(s: pd.Series) -> bool:
    if ptypes.is_numeric_dtype(s.dtype) or ptypes.is_bool_dtype(s.dtype):
        return False
    if ptypes.is_datetime64_any_dtype(s.dtype):
        return False
    present = s.dropna()
    if present.empty:
        return False
    if len(present) > _SNIFF_ROWS:
        present = present.sample(_SNIFF_ROWS, random_state=0)
    texts = present.astype(str)
    # Most values hold a digit or mean "no value"; sentences and names do not.
    has_digit = texts.str.contains(r"\d", regex=True)
    blank = texts.map(lambda t: _normal(t).casefold() in _MISSING_WORDS)
    if (has_digit | blank).mean() < _MIN_READ_SHARE:
        return False
    sample = read_numbers(present)
    return sample.read >= _MIN_READ_SHARE * (sample.present - sample.missing_words) > 0


def _tidy(value: str) -> str:
    """The spelling two variants of one category share: case, spaces and hyphens ignored."""
    return re.sub(r"[\s\-_]+", " ", _normal(value).casefold()).strip()


def _category_step(column: str, s: pd.Series) -> CleanupStep | None:
    counts = s.dropna().astype(str).value_counts(sort=True)
    if len(counts) < 2:
        return None
    groups: dict[str, list[str]] = {}
    for value in counts.index:
        groups.setdefault(_tidy(value), []).append(value)
    merged = {key: spellings for key, spellings in groups.items() if len(spellings) > 1}
    if not merged:
        return None
    # The most common spelling of each category is kept (value_counts sorts by count).
    mapping = {key: spellings[0] for key, spellings in merged.items()}
    changed = int(sum(counts[v] for spellings in merged.values() for v in spellings[1:]))
    examples: list[Message | str] = [
        Message("clean.spellings_become", spellings=_quoted(sp[1:]), kept=sp[0])
        for sp in list(merged.values())[:3]
    ]
    if len(merged) > 3:
        examples.append("…")
    description = Message(
        "clean.categories",
        column=column,
        spellings=len(counts),
        categories=len(groups),
        examples=_joined(examples),
        changed=(
            Message("clean.row_changes", rows=changed)
            if changed == 1
            else Message("clean.rows_change", rows=changed)
        ),
    )
    return CleanupStep(column=column, action="categories", mapping=mapping, description=description)


def suggest_cleanups(df: pd.DataFrame) -> list[CleanupStep]:
    """Clean-ups worth proposing for a table, in column order.

    - ``numbers`` for a text column whose values are numbers written with currency
      signs, separators, ``%``, ``k``/``M``/``万`` amounts or full-width digits, or
      mixed with words that mean "no value": proposed only when at least 90% of the
      values that are not blank read as numbers (the rest are named in the description).
    - ``categories`` for a category column with spellings that differ only in case,
      surrounding spaces or space-versus-hyphen (``Full-time``, ``full time ``); the
      most common spelling is kept.

    Columns whose type the user chose (:func:`set_type`) are left as they are. Nothing is
    changed; apply the ones the user picks with :func:`apply_cleanups`.
    """
    df = _with_str_columns(df)
    schema = infer_schema(df)
    chosen = df.attrs.get(_KINDS_ATTR) or {}
    steps = []
    for info in schema.columns:
        if info.name in chosen:
            continue
        s = df[info.name]
        step = _number_step(info.name, s)
        if step is None and info.kind == "categorical":
            step = _category_step(info.name, s)
        if step is not None:
            steps.append(step)
    return steps


def set_type(df: pd.DataFrame, column: str, kind: str) -> CleanupStep:
    """The step that uses ``column`` as ``kind`` (one of :data:`TYPE_CHOICES`).

    ``number`` reads the values as :func:`read_numbers` does (values it cannot read become
    blanks); ``category`` and ``text`` keep the values as text; ``date`` reads them as
    dates (values that are not dates become blanks); ``leave out`` removes the column.

    Raises
    ------
    DataError
        If the table has no such column.
    """
    df = _with_str_columns(df)
    if kind not in TYPE_CHOICES:
        raise ValueError(f"kind must be one of {tuple(TYPE_CHOICES)}, not {kind!r}")
    if column not in df.columns:
        raise DataError(Message("clean.no_column", column=column))
    s = df[column]
    step = CleanupStep(column=column, action="type", kind=kind)
    if kind == "number":
        reading = read_numbers(s)
        step.decimal, step.percent = reading.decimal, reading.percent
        step.unread = dict(list(reading.unread.items())[:_SHOWN])
        step.description = _number_sentence(column, reading, chosen=True)
    elif kind == "date":
        dates = _to_datetime(s)
        bad = s[dates.isna() & s.notna()].astype(str).value_counts()
        step.unread = {str(k): int(v) for k, v in bad.head(_SHOWN).items()}
        read = Message(
            "clean.used_as_date",
            column=column,
            read=int(dates.notna().sum()),
            present=int(s.notna().sum()),
        )
        unread = [_unread_clause(int(bad.sum()), [str(v) for v in bad.index])] if len(bad) else []
        step.description = _joined([read, *unread])
    elif kind == "leave out":
        step.description = Message("clean.left_out", column=column)
    elif kind == "category":
        step.description = Message("clean.used_as_category", column=column, values=s.nunique())
    else:
        step.description = Message("clean.used_as_text", column=column)
    return step


def add_cleanup(steps: Sequence[CleanupStep], step: CleanupStep) -> list[CleanupStep]:
    """``steps`` with ``step`` last, replacing an earlier one of the same action and column."""
    kept = [s for s in steps if (s.column, s.action) != (step.column, step.action)]
    return [*kept, step]


def apply_cleanups(df: pd.DataFrame, steps: Sequence[CleanupStep]) -> pd.DataFrame:
    """A new table with ``steps`` applied in order (``df`` is not changed).

    The types the steps set are recorded in the table (``df.attrs``), where
    :func:`~lepton_core.data.infer_schema` finds them, Parquet files included. A step whose
    column the table lacks (a test table without it, a column left out) changes nothing.
    """
    out = _with_str_columns(df).copy()
    kinds: dict[str, str] = dict(out.attrs.get(_KINDS_ATTR, {}))
    for step in steps:
        if step.column not in out.columns:
            continue
        s = out[step.column]
        if step.action == "numbers":
            out[step.column] = read_numbers(s, decimal=step.decimal, percent=step.percent).numbers
        elif step.action == "categories":
            out[step.column] = _merge_spellings(s, step.mapping)
        elif TYPE_CHOICES[step.kind] is None:
            out = out.drop(columns=step.column)
            kinds.pop(step.column, None)
            continue
        else:
            out[step.column] = _as_kind(s, step)
            kinds[step.column] = TYPE_CHOICES[step.kind]  # type: ignore[assignment]
    if kinds:
        out.attrs[_KINDS_ATTR] = kinds
    return out


def clean_values(s: pd.Series, step: CleanupStep) -> pd.Series:
    """A ``numbers`` or ``categories`` step applied to values sent to a trained model.

    What the step reads is changed as it was in training (``"$3,000"`` → 3000.0,
    ``full time `` → ``Full-time``); what it cannot read is left as it was sent, so the
    model's input check refuses it in a sentence instead of taking it as blank.
    """
    if step.action == "numbers":
        read = read_numbers(s, decimal=step.decimal, percent=step.percent).numbers
        return read.astype(object).where(read.notna(), s)
    if step.action == "categories":
        return _merge_spellings(s, step.mapping).where(s.notna(), s)
    return s


def _merge_spellings(s: pd.Series, mapping: Mapping[str, str]) -> pd.Series:
    def one(value: object) -> object:
        return mapping.get(_tidy(str(value)), value)

    return s.map(one, na_action="ignore").astype("str")


def _as_kind(s: pd.Series, step: CleanupStep) -> pd.Series:
    if step.kind == "number":
        return read_numbers(s, decimal=step.decimal, percent=step.percent).numbers
    if step.kind == "date":
        return _to_datetime(s)
    if ptypes.is_float_dtype(s.dtype):
        whole = s.dropna()
        if len(whole) and np.all(np.isfinite(whole)) and np.all(whole == np.round(whole)):
            s = s.astype("Int64")  # 3.0 -> "3", as the user wrote it
    return s.astype("str")
