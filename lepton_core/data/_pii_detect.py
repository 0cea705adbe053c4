"""Personal data: find it in a table.

:func:`scan_table` looks at each column's name and a sample of its values and
says what kind of personal data it likely holds (:data:`KINDS`), how sure it
is, whether it is a quasi-identifier, and what to do about it. Short values go
through a fast path of validators (the Luhn check, ``ipaddress``, the
``phonenumbers`` library, IBAN mod-97, the resident-ID check character of
:mod:`._pii_zh`) and header words in many languages; free text also goes through
Presidio with spaCy's small English pipeline (:mod:`._pii_nlp`) for names and
places, on a bounded sample. Detection is advisory and no compliance guarantee.

``phonenumbers`` is imported inside the functions that use it, and Presidio only
when a table has a free-text column, so that importing the data layer stays fast.
Places (city, province, state) are quasi-identifiers, not a kind of their own.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import DataError, JsonMixin, Message
from lepton_core.data import _pii_zh as zh

__all__ = ["KINDS", "KIND_LABELS", "ColumnFinding", "ScanReport", "scan_table"]

KINDS = (
    "person_name",
    "email",
    "phone",
    "national_id",
    "payment_card",
    "bank_account",
    "ip_address",
    "street_address",
    "postcode",
    "date_of_birth",
    "free_text",
)
KIND_LABELS = {
    "person_name": Message("pii.kind.person_name"),
    "email": Message("pii.kind.email"),
    "phone": Message("pii.kind.phone"),
    "national_id": Message("pii.kind.national_id"),
    "payment_card": Message("pii.kind.payment_card"),
    "bank_account": Message("pii.kind.bank_account"),
    "ip_address": Message("pii.kind.ip_address"),
    "street_address": Message("pii.kind.street_address"),
    "postcode": Message("pii.kind.postcode"),
    "date_of_birth": Message("pii.kind.date_of_birth"),
    "free_text": Message("pii.kind.free_text"),
}

# What a careful analyst would do with each kind: identifiers that carry no signal
# are dropped, join keys are hashed, quasi-identifiers are coarsened, text is masked.
_SUGGESTED = {
    "person_name": "drop",
    "email": "hash",
    "phone": "hash",
    "national_id": "drop",
    "payment_card": "drop",
    "bank_account": "drop",
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
    "ref", "reference", "segment", "category", "group", "tier",
}  # fmt: skip
_QUASI_HINTS = (
    "age", "sex", "gender", "race", "ethnicity", "marital", "nationality", "native country",
    "zip", "postcode", "postal", "plz", "birth", "dob", "city", "religion", *zh.GEO_HINTS,
)  # fmt: skip
for _kind, _words in zh.LATIN_HINTS.items():
    _HINTS[_kind] = (*_HINTS.get(_kind, ()), *_words)
# IBANs before cards ("account"), so that a "card account" stays a card.
_HINTS = {"bank_account": _HINTS.pop("bank_account"), **_HINTS}

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
_PHONE_REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "IN", "BR", "JP", "PL", "CN")

_MIN_CONFIDENCE = 0.5


def _header_words(name: str) -> str:
    text = unicodedata.normalize("NFKD", str(name))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).lower()
    return " " + " ".join(re.findall(r"[^\W_]+", text)) + " "


def _header_kind(name: str) -> str | None:
    if zh.has_cjk(str(name)):
        kind = zh.cjk_header_kind(str(name))
        if kind is not None:
            return kind
    words = _header_words(name)
    tokens = set(words.split())
    for kind, hints in _HINTS.items():
        if any(f" {hint} " in words for hint in hints):
            if kind in ("person_name", "payment_card", "street_address", "ip_address") and (
                tokens & (_NOT_PERSONAL - {"street"} if kind == "street_address" else _NOT_PERSONAL)
            ):
                continue
            return kind
    return None


def _is_quasi_header(name: str) -> bool:
    if zh.has_cjk(str(name)) and zh.cjk_is_quasi(str(name)):
        return True
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
    return zh.is_cn_name(value)  # a known surname and one or two characters


def _parses_as_dates(values: pd.Series) -> float:
    text = values.astype(str)
    shaped = text.str.match(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T].*)?$")
    if shaped.mean() < 0.8:
        return 0.0
    parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    return float(parsed.notna().mean())


def _share(values: list[str], check: Any) -> float:
    return sum(1 for v in values if check(v)) / len(values) if values else 0.0


MAX_TEXT = 1000  # characters of one free-text value that are looked at
TEXT_VALUES = 200  # free-text values per column checked by the fast path
NLP_VALUES = 100  # of those, how many Presidio reads (about 3 ms each once loaded)
_NLP_SHARE = 0.2  # names found only by the model must be in this share of values
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


def _is_text(values: list[str]) -> bool:
    # A CJK character carries about a word, so it counts twice towards length and
    # half a word towards the word count (Chinese has no spaces).
    cjk = [len(_CJK.findall(v)) for v in values]
    lengths = [len(v) + c for v, c in zip(values, cjk, strict=True)]
    words = [len(v.split()) + c // 2 for v, c in zip(values, cjk, strict=True)]
    return bool(np.mean(lengths) > 25 and np.mean(words) > 4)


def _mostly_cjk(value: str) -> bool:
    letters = sum(1 for ch in value if ch.isalpha())
    return bool(letters) and len(_CJK.findall(value)) / letters >= 0.3


def _free_text(
    values: list[str], *, nlp: bool, notes: list[Message | str]
) -> tuple[float, list[str], Message | str]:
    """Score, kinds inside and reason for a text column (0 when nothing personal)."""
    values = [v[:MAX_TEXT] for v in values[:TEXT_VALUES]]
    kinds_in = [_text_kinds(v) for v in values]
    strong = sum(1 for k in kinds_in if k) / len(values)
    found: list[set[str]] = []
    # English NER says nothing useful about Chinese text, which Lepton's own
    # recognizers above have read already.
    latin = [v for v in values if not _mostly_cjk(v)][:NLP_VALUES]
    if nlp and latin:
        from lepton_core.data._pii_nlp import nlp_kinds

        try:
            found = nlp_kinds(latin)
        except DataError as exc:
            note = exc.args[0] if exc.args else str(exc)  # a Message, to show in any language
            if note not in notes:
                notes.append(note)
    learned = sum(1 for k in found if k - {"location"}) / len(found) if found else 0.0
    places = sum(1 for k in found if "location" in k) / len(found) if found else 0.0
    contains = sorted(set().union(*kinds_in, *found) - {"location"})
    if strong < 0.05 and learned < _NLP_SHARE:
        return 0.0, [], ""
    hit = max(strong, learned)
    inside: Message | str = ""
    for k in contains:
        inside = (
            Message("pii.list", first=inside, then=KIND_LABELS[k]) if inside else KIND_LABELS[k]
        )
    reason = Message(
        "pii.reason.free_text",
        share=hit,
        kinds=inside,
        places=Message("pii.reason.places", share=places) if places >= 0.05 else "",
    )
    return 0.5 + 0.5 * min(hit / 0.3, 1.0), contains, reason


def _text_kinds(value: str) -> set[str]:
    """Personal-data kinds found as spans inside one free-text value (the fast path)."""
    value = value[:MAX_TEXT]
    found = {"email"} if _EMAIL.search(value) else set()
    if (
        _SSN.search(value)
        or any(zh.is_cn_resident_id(m.group()) for m in zh.CN_RESIDENT_ID.finditer(value))
        or zh.UK_NINO.search(value)
    ):
        found.add("national_id")
    if any(_is_card(m.group()) for m in _CARD.finditer(value)):
        found.add("payment_card")
    if any(zh.is_iban(m.group()) for m in zh.IBAN.finditer(value)):
        found.add("bank_account")
    if any(_is_ip(m.group()) for m in _IPV4.finditer(value)):
        found.add("ip_address")
    if zh.cn_phone_spans(value) or _phone_spans(value):
        found.add("phone")
    if zh.CN_ADDRESS.search(value):
        found.add("street_address")
    if zh.has_cjk(value) and zh.cn_name_spans(value):
        found.add("person_name")
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
    evidence : Message or str
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
    evidence: Message | str
    quasi_identifier: bool
    suggested: str
    contains: list[str] = field(default_factory=list)


@dataclass
class ScanReport(JsonMixin):
    """Per-column findings of :func:`scan_table`; advisory, not a compliance guarantee.

    ``notes`` says what the scan could not do (the spaCy pipeline missing or failing
    its SHA-256 check, so free text was read by the fast path alone).
    """

    findings: list[ColumnFinding]
    n_rows: int
    n_sampled: int
    notes: list[Message | str] = field(default_factory=list)

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


def _scan_column(
    name: str, column: pd.Series, *, nlp: bool, notes: list[Message | str]
) -> ColumnFinding:
    header = _header_kind(name)
    quasi = _is_quasi_header(name)
    values = [str(v).strip() for v in column.dropna().tolist()]
    values = [v for v in values if v]
    scores: dict[str, float] = {}
    reasons: dict[str, Message] = {}
    contains: list[str] = []
    is_date = pd.api.types.is_datetime64_any_dtype(column)
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    checks: dict[str, Any] = {}
    if values and numeric and pd.api.types.is_integer_dtype(column):
        # Phone numbers, ids and card numbers often load as integers (13812345678).
        checks = {"phone": zh.is_cn_mobile, "national_id": zh.is_cn_resident_id,
                  "payment_card": _is_card}  # fmt: skip
    elif values and not numeric and not is_date:
        checks = {
            "email": lambda v: bool(_EMAIL.fullmatch(v)),
            "national_id": lambda v: (
                bool(_SSN.fullmatch(v)) or zh.is_uk_nino(v) or zh.is_cn_resident_id(v)
            ),
            "payment_card": _is_card,
            "bank_account": zh.is_iban,
            "ip_address": _is_ip,
            "phone": lambda v: (
                zh.is_cn_mobile(v) or zh.is_cn_landline(v) or _is_phone(v, loose=header == "phone")
            ),
            "street_address": lambda v: bool(_STREET.search(v)) or zh.is_cn_address(v),
            "postcode": lambda v: bool(_POSTCODE.fullmatch(v.upper())),
        }
    for kind, check in checks.items():
        share = _share(values, check)
        if share:
            scores[kind] = share
            reasons[kind] = Message("pii.reason.values", share=share, kind=KIND_LABELS[kind])
    if values and not numeric and not is_date:
        places = _share(values, zh.is_cn_place)
        if places >= 0.8:
            quasi = True  # provinces and cities: a quasi-identifier, not a kind
        # A place column ("city", "state", 城市) is not a name column whatever its values.
        named = 0.0 if quasi and header is None else _share(values, _is_name) * (1 - places)
        if named >= 0.8:
            given = _share(values, _has_given_name)
            distinct = len(set(values)) / len(values)
            # Shape alone matches cities and products too; a name column also has many
            # distinct values and often starts with a known given name.
            score = named * (0.45 + 0.35 * min(given / 0.3, 1.0) + 0.2 * (distinct > 0.5))
            if given < 0.05:
                # Distinct capitalised words with no known given name at all are more
                # often towns or products (Kelheim, Lippstadt): not enough without a header.
                score = min(score, 0.55)
            scores["person_name"] = score
            reasons["person_name"] = Message(
                "pii.reason.names",
                share=named,
                given=Message("pii.reason.given_names", share=given) if given else "",
            )
        address = scores.get("street_address", 0.0)
        if _is_text(values) and address < 0.6:
            score, contains, reason = _free_text(values, nlp=nlp, notes=notes)
            if score:
                scores["free_text"], reasons["free_text"] = score, reason
            scores.pop("street_address", None)  # addresses inside prose are free text
    if is_date or (values and not numeric and _parses_as_dates(column.dropna()) >= 0.8):
        quasi = True
        if header == "date_of_birth":
            scores["date_of_birth"] = 1.0
            reasons["date_of_birth"] = Message("pii.reason.birth_dates")
    if header is not None:
        base = scores.get(header, 0.0)
        # A matching header raises a partial value match; a header alone (values the
        # validators cannot check, or a numeric column) is moderate evidence.
        scores[header] = min(1.0, 0.6 + 0.4 * base) if base or not values else max(base, 0.55)
        also = Message("pii.reason.also", reason=reasons[header]) if header in reasons else ""
        reasons[header] = Message("pii.reason.header", name=name, also=also)
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
    evidence: Message | str = reasons.get(kind, "") if kind else ""
    if quasi and not kind:
        confidence = 0.6
        evidence = Message("pii.reason.quasi", name=name)
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


def scan_table(
    df: pd.DataFrame, *, sample_rows: int = 500, seed: int = 0, nlp: bool = True
) -> ScanReport:
    """Find columns that likely hold personal data or quasi-identifiers.

    Parameters
    ----------
    df : DataFrame
        The table as loaded.
    sample_rows : int
        Rows to check values on (a seeded random sample); headers are always checked.
    seed : int
        Seed of the sample.
    nlp : bool
        Also read free-text columns with Presidio and spaCy (names and places); a
        bounded sample of :data:`NLP_VALUES` values per column, each cut to
        :data:`MAX_TEXT` characters. When the pipeline is missing or fails its
        SHA-256 check, the scan goes on without it and says so in ``notes``.

    Returns
    -------
    ScanReport
        One finding per column; advisory, not a compliance guarantee.
    """
    sample = df.sample(min(sample_rows, len(df)), random_state=seed) if len(df) else df
    notes: list[Message | str] = []
    findings = [_scan_column(str(name), sample[name], nlp=nlp, notes=notes) for name in df.columns]
    return ScanReport(findings=findings, n_rows=len(df), n_sampled=len(sample), notes=notes)
