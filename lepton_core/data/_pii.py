"""Personal data: find it in a table, anonymise it, and measure k-anonymity.

:func:`scan_table` looks at each column's name and a sample of its values and
says what kind of personal data it likely holds (:data:`KINDS`), how sure it
is, whether it is a quasi-identifier, and what to do about it. Detection is
rule-based (validators such as the Luhn check, ``ipaddress`` and the
``phonenumbers`` library, plus multilingual header hints); it is advisory and
no compliance guarantee.

:func:`anonymise` applies :class:`Action` s — drop, salted hash, generalise,
mask — and returns the steps it took so a data set version can record them.
:func:`k_anonymity` measures how well the quasi-identifiers hide individuals.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import itertools
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import DataError, JsonMixin

__all__ = [
    "ACTIONS",
    "KINDS",
    "KIND_LABELS",
    "Action",
    "AnonymisationStep",
    "ColumnFinding",
    "KAnonymity",
    "ScanReport",
    "anonymise",
    "k_anonymity",
    "load_salt",
    "scan_table",
    "suggested_actions",
]

KINDS = (
    "person_name",
    "email",
    "phone",
    "national_id",
    "payment_card",
    "ip_address",
    "street_address",
    "postcode",
    "date_of_birth",
    "free_text",
)
ACTIONS = ("keep", "drop", "hash", "generalise", "mask")

# What a careful analyst would do with each kind: identifiers that carry no signal
# are dropped, join keys are hashed, quasi-identifiers are coarsened, text is masked.
_SUGGESTED = {
    "person_name": "drop",
    "email": "hash",
    "phone": "hash",
    "national_id": "drop",
    "payment_card": "drop",
    "ip_address": "hash",
    "street_address": "drop",
    "postcode": "generalise",
    "date_of_birth": "generalise",
    "free_text": "mask",
}

_HINTS: dict[str, tuple[str, ...]] = {
    "email": ("email", "e mail", "mail", "correo", "courriel", "emailaddress"),
    "phone": ("phone", "tel", "telephone", "telefon", "telefono", "mobile", "cell", "handy", "fax"),
    "national_id": (
        "ssn", "social security", "national id", "nin", "nino", "personnummer", "dni", "nif",
        "curp", "aadhaar", "passport", "tax id", "tin", "insee", "bsn", "sozialversicherung",
    ),
    "payment_card": ("card", "credit card", "cc number", "pan", "kreditkarte", "tarjeta", "carte"),
    "ip_address": ("ip", "ip address", "ipaddr", "client ip", "remote addr", "ipv4", "ipv6"),
    "street_address": (
        "address", "street", "addr", "adresse", "direccion", "strasse", "indirizzo", "home address"
    ),
    "postcode": ("zip", "zipcode", "postcode", "postal", "plz", "code postal", "cap", "pincode"),
    "date_of_birth": (
        "dob", "birth", "birthday", "birthdate", "born", "date of birth", "geburtsdatum",
        "fecha de nacimiento", "date de naissance", "data di nascita",
    ),
    "person_name": (
        "name", "full name", "first name", "last name", "surname", "forename", "given name",
        "nombre", "apellido", "nom", "prenom", "vorname", "nachname", "cognome", "customer",
        "patient", "employee", "contact", "person", "imie", "nazwisko", "isim",
    ),
}  # fmt: skip
# Header words that turn "name"/"card"/"address" into something impersonal.
_NOT_PERSONAL = {
    "product", "company", "file", "item", "brand", "city", "country", "host", "model",
    "column", "feature", "domain", "server", "mac", "street", "business", "store", "team",
    "user", "username", "score", "type", "count", "id", "ids", "key", "code", "version",
}  # fmt: skip
_QUASI_HINTS = (
    "age", "sex", "gender", "race", "ethnicity", "marital", "nationality", "native country",
    "zip", "postcode", "postal", "plz", "birth", "dob", "city", "religion",
)  # fmt: skip

# Common given names across languages; a column whose values often start with one is
# likely a name column even with an uninformative header.
_GIVEN_NAMES_TEXT = """
james john robert michael william david mary patricia jennifer linda elizabeth susan sarah
emma olivia noah liam sophia mia lucas ethan chloe jack harry oliver amelia isla george
jose juan carlos luis miguel javier maria carmen ana lucia sofia pablo diego alejandro
jean pierre marie camille louis jules lea manon antoine nicolas julien chloe claire
hans peter klaus jurgen stefan andreas thomas anna ursula petra sabine lena lukas felix
giuseppe marco luca giulia francesca alessandro matteo chiara paolo elena andrea
piotr krzysztof tomasz anna katarzyna magdalena agnieszka jan pawel marta
mehmet mustafa ahmet ali ayse fatma emine zeynep elif burak
mohammed muhammad ahmed fatima aisha omar yusuf hassan ibrahim layla khalid
raj rahul priya anita sunil amit deepak pooja vikram arjun sanjay neha
wei li ming hui jing yan lei xin jun hao
hiroshi takeshi yuki haruto sakura yui akira kenji aiko ren
ivan dmitri sergei olga natalia tatiana vladimir alexei irina svetlana
иван дмитрий сергей ольга наталья татьяна владимир алексей ирина светлана
李 王 张 刘 陈 杨 黄 赵 吴 周
"""
_GIVEN_NAMES = set(_GIVEN_NAMES_TEXT.split())

_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
_STREET = re.compile(
    r"\b\d{1,5}[a-z]?,?\s+(?:[\w'.-]+\s+){0,4}"
    r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|way|court|ct|place|pl|"
    r"terrace|square|sq)\b\.?"
    r"|\b(?:rue|avenue|boulevard|chemin|calle|avenida|via|viale|piazza|ulica|ul\.)\s+[\w' .-]+"
    r"\b\d{0,5}"
    r"|\b[\w.-]+(?:stra(?:ss|ß)e|str\.|weg|gasse|platz|allee)\s+\d{1,4}[a-z]?\b",
    re.IGNORECASE,
)
_POSTCODE = re.compile(
    r"\d{5}(?:-\d{4})?"  # US ZIP / ZIP+4, DE, FR, ES, IT
    r"|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}"  # UK
    r"|[A-Z]\d[A-Z] ?\d[A-Z]\d"  # Canada
    r"|\d{4} ?[A-Z]{2}"  # Netherlands
    r"|\d{2}-\d{3}",  # Poland
)
_DATE_SHAPE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}$")
_PHONE_CHARS = re.compile(r"^\+?[\d\s().-]{7,24}$")
_PHONE_REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "IN", "BR", "JP", "PL")

_MIN_CONFIDENCE = 0.5


def _header_words(name: str) -> str:
    text = unicodedata.normalize("NFKD", str(name))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).lower()
    return " " + " ".join(re.findall(r"[^\W_]+", text)) + " "


def _header_kind(name: str) -> str | None:
    words = _header_words(name)
    tokens = set(words.split())
    for kind, hints in _HINTS.items():
        if any(f" {hint} " in words for hint in hints):
            if kind in ("person_name", "payment_card", "street_address", "ip_address") and (
                tokens & _NOT_PERSONAL
            ):
                continue
            return kind
    return None


def _is_quasi_header(name: str) -> bool:
    words = _header_words(name)
    return any(f" {hint} " in words for hint in _QUASI_HINTS)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _is_card(value: str) -> bool:
    digits = re.sub(r"[ -]", "", value)
    # Networks' IINs start with 2-6 (Mastercard 2-series, Amex 3, Visa 4, MC 5, Discover 6).
    return digits.isdigit() and 13 <= len(digits) <= 19 and digits[0] in "23456" and _luhn(digits)


def _is_ip(value: str) -> bool:
    if not (_IPV4.fullmatch(value) or _IPV6.fullmatch(value)):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_phone(value: str, *, loose: bool = False) -> bool:
    import phonenumbers

    if not _PHONE_CHARS.match(value) or _DATE_SHAPE.match(value.strip()):
        return False
    digits = re.sub(r"\D", "", value)
    # Shorter national numbers exist, but 7-9 digit strings with separators are more often
    # ZIP+4 codes, references or versions; accept them only under a phone header.
    if not (7 if loose else 10) <= len(digits) <= 15:
        return False
    # A bare run of digits is an id as often as a phone number; accept it only when
    # the header already says "phone".
    if not loose and not value.startswith("+") and not re.search(r"[\s().-]", value):
        return False
    if _SSN.fullmatch(value):
        return False
    regions = (None,) if value.startswith("+") else _PHONE_REGIONS
    for region in regions:
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
    return False


def _is_name(value: str) -> bool:
    tokens = value.replace(",", " ").split()
    if not 1 <= len(tokens) <= 4 or len(value) > 60:
        return False
    for token in tokens:
        core = token.strip(".'’-")
        if not core or not all(ch.isalpha() or ch in "'’-." for ch in core):
            return False
        # Scripts with case must start upper case; CJK and similar have no case.
        if core[0].isalpha() and core[0].lower() != core[0].upper() and not core[0].isupper():
            return False
    return True


def _has_given_name(value: str) -> bool:
    tokens = [t.strip(".,'’-").lower() for t in value.replace(",", " ").split()]
    if any(t in _GIVEN_NAMES for t in tokens):
        return True
    return bool(value) and value[0] in _GIVEN_NAMES  # CJK family name, one character


def _parses_as_dates(values: pd.Series) -> float:
    text = values.astype(str)
    shaped = text.str.match(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T].*)?$")
    if shaped.mean() < 0.8:
        return 0.0
    parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    return float(parsed.notna().mean())


def _share(values: list[str], check: Any) -> float:
    return sum(1 for v in values if check(v)) / len(values) if values else 0.0


def _text_kinds(value: str) -> set[str]:
    """Personal-data kinds found as spans inside one free-text value."""
    found = {"email"} if _EMAIL.search(value) else set()
    if _SSN.search(value):
        found.add("national_id")
    if any(_is_card(m.group()) for m in _CARD.finditer(value)):
        found.add("payment_card")
    if any(_is_ip(m.group()) for m in _IPV4.finditer(value)):
        found.add("ip_address")
    if _phone_spans(value):
        found.add("phone")
    return found


def _phone_spans(value: str) -> list[tuple[int, int]]:
    import phonenumbers

    spans: list[tuple[int, int]] = []
    for region in ("US", "GB", "DE", "FR"):
        for match in phonenumbers.PhoneNumberMatcher(value, region):
            span = (match.start, match.end)
            if span not in spans and not _SSN.fullmatch(match.raw_string):
                spans.append(span)
    return spans


@dataclass
class ColumnFinding(JsonMixin):
    """What the scanner thinks one column holds.

    Attributes
    ----------
    kind : str or None
        One of :data:`KINDS`, or None when no personal data was found.
    confidence : float
        0-1; how sure the scanner is of ``kind`` (or of the quasi-identifier flag).
    evidence : str
        A short reason ("header 'email'; 98% of sampled values are e-mail addresses").
    quasi_identifier : bool
        The column can help single people out in combination with others.
    suggested : str
        The suggested action, one of :data:`ACTIONS`.
    contains : list of str
        For free text, the kinds found inside the values.
    """

    column: str
    kind: str | None
    confidence: float
    evidence: str
    quasi_identifier: bool
    suggested: str
    contains: list[str] = field(default_factory=list)


@dataclass
class ScanReport(JsonMixin):
    """Per-column findings of :func:`scan_table`; advisory, not a compliance guarantee."""

    findings: list[ColumnFinding]
    n_rows: int
    n_sampled: int

    @property
    def personal(self) -> list[ColumnFinding]:
        """Columns that likely hold personal data."""
        return [f for f in self.findings if f.kind is not None]

    @property
    def quasi_identifiers(self) -> list[str]:
        return [f.column for f in self.findings if f.quasi_identifier]

    def finding(self, column: str) -> ColumnFinding:
        for f in self.findings:
            if f.column == column:
                return f
        raise KeyError(column)


def _scan_column(name: str, column: pd.Series) -> ColumnFinding:
    header = _header_kind(name)
    quasi = _is_quasi_header(name)
    values = [str(v).strip() for v in column.dropna().tolist()]
    values = [v for v in values if v]
    scores: dict[str, float] = {}
    reasons: dict[str, str] = {}
    contains: list[str] = []
    is_date = pd.api.types.is_datetime64_any_dtype(column)
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    if values and not numeric and not is_date:
        checks = {
            "email": lambda v: bool(_EMAIL.fullmatch(v)),
            "national_id": lambda v: bool(_SSN.fullmatch(v)),
            "payment_card": _is_card,
            "ip_address": _is_ip,
            "phone": lambda v: _is_phone(v, loose=header == "phone"),
            "street_address": lambda v: bool(_STREET.search(v)),
            "postcode": lambda v: bool(_POSTCODE.fullmatch(v.upper())),
        }
        for kind, check in checks.items():
            share = _share(values, check)
            if share:
                scores[kind] = share
                reasons[kind] = f"{share:.0%} of sampled values look like {KIND_LABELS[kind]}"
        named = _share(values, _is_name)
        if named >= 0.8:
            given = _share(values, _has_given_name)
            distinct = len(set(values)) / len(values)
            # Shape alone matches cities and products too; a name column also has many
            # distinct values and often starts with a known given name.
            score = named * (0.45 + 0.35 * min(given / 0.3, 1.0) + 0.2 * (distinct > 0.5))
            scores["person_name"] = score
            reasons["person_name"] = f"{named:.0%} of values are shaped like names"
            if given:
                reasons["person_name"] += f", {given:.0%} contain a common given name"
        lengths = [len(v) for v in values]
        words = [len(v.split()) for v in values]
        if np.mean(lengths) > 25 and np.mean(words) > 4:
            kinds_in = [_text_kinds(v) for v in values]
            hit = sum(1 for k in kinds_in if k) / len(values)
            contains = sorted(set().union(*kinds_in))
            if hit >= 0.05:
                scores["free_text"] = 0.5 + 0.5 * min(hit / 0.3, 1.0)
                inside = ", ".join(KIND_LABELS[k] for k in contains)
                reasons["free_text"] = f"free text; {hit:.0%} of values contain {inside}"
            scores.pop("street_address", None)  # addresses inside prose are free text
    if is_date or (values and not numeric and _parses_as_dates(column.dropna()) >= 0.8):
        quasi = True
        if header == "date_of_birth":
            scores["date_of_birth"] = 1.0
            reasons["date_of_birth"] = "dates in a birth-date column"
    if header is not None:
        base = scores.get(header, 0.0)
        # A matching header raises a partial value match; a header alone (values the
        # validators cannot check, or a numeric column) is moderate evidence.
        scores[header] = min(1.0, 0.6 + 0.4 * base) if base or not values else max(base, 0.55)
        reasons[header] = f"header '{name}'" + (f"; {reasons[header]}" if header in reasons else "")
        if header in ("postcode", "date_of_birth"):
            quasi = True
    kind, confidence = None, 0.0
    if scores:
        kind, confidence = max(scores.items(), key=lambda kv: kv[1])
        # Value-only evidence needs a clear majority of the sample.
        if confidence < _MIN_CONFIDENCE or (kind != header and confidence < 0.6):
            kind, confidence = None, 0.0
    if kind == "postcode" and header != "postcode":
        # Five-digit numbers are as often amounts or codes; without the header stay quiet.
        kind, confidence = (None, 0.0) if "-" not in " ".join(values[:50]) else (kind, confidence)
    evidence = reasons.get(kind, "") if kind else ""
    if quasi and not kind:
        confidence = 0.6
        evidence = f"'{name}' can single people out together with other columns"
    if kind is None and quasi:
        suggested = (
            "generalise" if (numeric or is_date or _parses_as_dates(column.dropna())) else "keep"
        )
    else:
        suggested = _SUGGESTED.get(kind or "", "keep")
    return ColumnFinding(
        column=str(name),
        kind=kind,
        confidence=round(float(confidence), 3),
        evidence=evidence,
        quasi_identifier=quasi or kind in ("postcode", "date_of_birth"),
        suggested=suggested,
        contains=contains if kind == "free_text" else [],
    )


KIND_LABELS = {
    "person_name": "person names",
    "email": "e-mail addresses",
    "phone": "phone numbers",
    "national_id": "national ids (US SSN)",
    "payment_card": "payment card numbers",
    "ip_address": "IP addresses",
    "street_address": "street addresses",
    "postcode": "postcodes",
    "date_of_birth": "dates of birth",
    "free_text": "free text with personal data",
}


def scan_table(df: pd.DataFrame, *, sample_rows: int = 500, seed: int = 0) -> ScanReport:
    """Find columns that likely hold personal data or quasi-identifiers.

    Parameters
    ----------
    df : DataFrame
        The table as loaded.
    sample_rows : int
        Rows to check values on (a seeded random sample); headers are always checked.

    Returns
    -------
    ScanReport
        One finding per column; advisory, not a compliance guarantee.
    """
    sample = df.sample(min(sample_rows, len(df)), random_state=seed) if len(df) else df
    findings = [_scan_column(str(name), sample[name]) for name in df.columns]
    return ScanReport(findings=findings, n_rows=len(df), n_sampled=len(sample))


# ------------------------------------------------------------------ anonymisation
@dataclass
class Action(JsonMixin):
    """What to do with one column.

    Attributes
    ----------
    column : str
    action : str
        ``keep``, ``drop``, ``hash`` (salted HMAC-SHA256), ``generalise`` or ``mask``.
    option : str or int, optional
        For ``generalise``: a band width for numbers treated as ages (``age:10``), a
        number of ranges (``ranges:5``), ``year`` or ``month`` for dates, or a
        prefix length for postcodes (``prefix:3``). Chosen from the column when None.
    """

    column: str
    action: str
    option: str | None = None


@dataclass
class AnonymisationStep(JsonMixin):
    """One applied action and what it did, recorded with the new data set version."""

    column: str
    action: str
    option: str | None
    detail: str


def suggested_actions(report: ScanReport) -> list[Action]:
    """The scanner's suggestions as actions (``keep`` ones left out)."""
    return [Action(f.column, f.suggested) for f in report.findings if f.suggested != "keep"]


def load_salt(folder: str | os.PathLike) -> bytes:
    """The workspace's hashing salt, created on first use and readable only by its owner.

    The same salt keeps hashes stable across versions (so hashed keys still join); it is
    never shown, so a hash cannot be reversed by hashing guesses elsewhere.
    """
    path = Path(folder) / "privacy" / "salt"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    salt = path.read_bytes()
    if len(salt) < 16:
        raise DataError(f"The hashing salt at {path} is damaged; delete it to create a new one.")
    return salt


def _hash(column: pd.Series, salt: bytes) -> pd.Series:
    def one(value: Any) -> Any:
        if pd.isna(value):
            return None
        return hmac.new(salt, str(value).encode(), hashlib.sha256).hexdigest()[:16]

    return column.map(one).astype("str")


def _default_generalise(name: str, column: pd.Series) -> str:
    kind = _header_kind(name)
    words = _header_words(name)
    if pd.api.types.is_datetime64_any_dtype(column) or (
        not pd.api.types.is_numeric_dtype(column) and _parses_as_dates(column.dropna()) >= 0.8
    ):
        return "year" if kind == "date_of_birth" else "month"
    if kind == "postcode":
        return "prefix:3"
    if pd.api.types.is_numeric_dtype(column):
        return "age:10" if " age " in words else "ranges:5"
    return "prefix:3"


def _generalise(
    column: pd.Series, option: str, others: list[pd.Series]
) -> tuple[list[pd.Series], str]:
    """Generalise ``column`` and each of ``others`` (the test table) with one rule."""
    mode, _, arg = option.partition(":")
    frames = [column, *others]
    if mode in ("year", "month"):
        fmt = "%Y" if mode == "year" else "%Y-%m"
        out = [
            pd.to_datetime(c, errors="coerce", format="mixed").dt.strftime(fmt).astype("str")
            for c in frames
        ]
        return out, f"dates kept to the {mode}"
    if mode == "prefix":
        n = int(arg or 3)
        out = [
            c.map(lambda v: None if pd.isna(v) else str(v).replace(" ", "")[:n] + "*").astype("str")
            for c in frames
        ]
        return out, f"first {n} characters kept"
    if mode in ("age", "ranges"):
        numbers = [pd.to_numeric(c, errors="coerce") for c in frames]
        if numbers[0].notna().sum() == 0:
            raise DataError(
                f"Column '{column.name}' has no numbers to put into ranges; "
                "pick another action for it."
            )
        if mode == "age":
            width = int(arg or 10)
            out = [
                n.map(
                    lambda v: (
                        None
                        if pd.isna(v)
                        else f"{int(v // width * width)}–{int(v // width * width + width - 1)}"
                    )
                ).astype("str")
                for n in numbers
            ]
            return out, f"bands of {width}"
        bins = int(arg or 5)
        edges = np.unique(
            np.nanquantile(numbers[0].to_numpy(dtype=float), np.linspace(0, 1, bins + 1))
        )
        if len(edges) < 2:
            edges = np.array([edges[0], edges[0]])
        # Learned on the data, applied to the test table too; open-ended outer ranges.
        cuts = [-np.inf, *edges[1:-1], np.inf]
        labels = [_range_label(lo, hi) for lo, hi in itertools.pairwise(cuts)]
        out = [pd.cut(n, cuts, labels=labels).astype("str").where(n.notna()) for n in numbers]
        return out, f"{len(labels)} ranges from the data's quantiles"
    raise ValueError(f"Unknown generalisation {option!r}.")


def _range_label(lo: float, hi: float) -> str:
    if lo == -np.inf:
        return f"≤ {hi:g}"
    if hi == np.inf:
        return f"> {lo:g}"
    return f"{lo:g}–{hi:g}"


def mask_text(value: Any) -> Any:
    """Replace e-mails, phones, SSNs, card numbers and IPs inside a text with placeholders."""
    if pd.isna(value):
        return value
    text = str(value)
    text = _EMAIL.sub("[EMAIL]", text)
    text = _SSN.sub("[ID]", text)
    text = _CARD.sub(lambda m: "[CARD]" if _is_card(m.group()) else m.group(), text)
    text = _IPV4.sub(lambda m: "[IP]" if _is_ip(m.group()) else m.group(), text)
    for start, end in sorted(_phone_spans(text), reverse=True):
        text = text[:start] + "[PHONE]" + text[end:]
    return text


def anonymise(
    df: pd.DataFrame,
    actions: list[Action],
    *,
    salt: bytes,
    test: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame | None, list[AnonymisationStep]]:
    """Apply ``actions`` to a table (and its test table, with the same rules).

    Returns
    -------
    data, test, steps
        New frames (the inputs are not changed) and what was done, per column.

    Raises
    ------
    DataError
        A column is missing or an action cannot be applied to it.
    """
    data = df.copy()
    held = test.copy() if test is not None else None
    steps = []
    for act in actions:
        if act.action not in ACTIONS:
            raise ValueError(f"Unknown action {act.action!r}; use one of {', '.join(ACTIONS)}.")
        if act.column not in data.columns:
            raise DataError(f"There is no column '{act.column}'; scan the table again.")
        if act.action == "keep":
            continue
        others = [held[act.column]] if held is not None and act.column in held else []
        option = act.option
        if act.action == "drop":
            data = data.drop(columns=act.column)
            if held is not None and act.column in held:
                held = held.drop(columns=act.column)
            detail = "column removed"
        elif act.action == "hash":
            data[act.column] = _hash(data[act.column], salt)
            if others:
                held[act.column] = _hash(others[0], salt)  # type: ignore[index]
            detail = "replaced by a salted SHA-256 hash (16 hex characters)"
        elif act.action == "mask":
            data[act.column] = data[act.column].map(mask_text).astype("str")
            if others:
                held[act.column] = others[0].map(mask_text).astype("str")  # type: ignore[index]
            detail = "e-mails, phones, ids, card numbers and IPs replaced by placeholders"
        else:
            option = option or _default_generalise(act.column, data[act.column])
            try:
                out, detail = _generalise(data[act.column], option, others)
            except (ValueError, TypeError) as exc:
                raise DataError(
                    f"Column '{act.column}' cannot be generalised as '{option}' ({exc}); "
                    "pick another option or action."
                ) from exc
            data[act.column] = out[0]
            if others:
                held[act.column] = out[1]  # type: ignore[index]
        steps.append(AnonymisationStep(act.column, act.action, option, detail))
    return data, held, steps


# ------------------------------------------------------------------ k-anonymity
@dataclass
class KAnonymity(JsonMixin):
    """How well a set of quasi-identifiers hides individuals.

    Attributes
    ----------
    k : int
        The threshold asked about.
    smallest_group : int
        Size of the smallest group of rows sharing all quasi-identifier values; the
        table is k-anonymous for every k up to this.
    n_groups : int
    rows_below_k : int
        Rows in groups smaller than ``k`` (the ones that can be singled out).
    share_below_k : float
    """

    quasi_identifiers: list[str]
    k: int
    smallest_group: int
    n_groups: int
    rows_below_k: int
    share_below_k: float


def k_anonymity(df: pd.DataFrame, quasi_identifiers: list[str], *, k: int = 5) -> KAnonymity:
    """Measure k-anonymity of ``df`` over ``quasi_identifiers`` (missing values form a group)."""
    if k < 1:
        raise ValueError("k must be at least 1.")
    missing = [c for c in quasi_identifiers if c not in df.columns]
    if missing:
        raise DataError(
            f"There is no column {', '.join(map(repr, missing))}; pick quasi-identifiers "
            "from the table's columns."
        )
    if not quasi_identifiers or df.empty:
        n = len(df)
        return KAnonymity(list(quasi_identifiers), k, n, int(n > 0), 0 if n >= k else n,
                          0.0 if n >= k or n == 0 else 1.0)  # fmt: skip
    sizes = df.groupby(list(quasi_identifiers), dropna=False, observed=True).size()
    below = int(sizes[sizes < k].sum())
    return KAnonymity(
        quasi_identifiers=list(quasi_identifiers),
        k=k,
        smallest_group=int(sizes.min()),
        n_groups=len(sizes),
        rows_below_k=below,
        share_below_k=below / len(df),
    )
