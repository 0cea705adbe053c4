"""Reading labelled sentences for NER: CoNLL/BIO files, JSON lines with character spans,
and tables with a text column and an entities column.

Every reader returns an :class:`NerData`: the sentences (tokens, offsets, BIO tags), the
entity counts per type, and notes on what was repaired. :meth:`NerData.table` is the
form the workspace stores (a ``text`` column and an ``entities`` column of JSON spans),
which :func:`ner_from_table` reads back.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from lepton_core.core import DataError, Message
from lepton_core.ner._tags import (
    Sentence,
    join_tokens,
    normalise_tags,
    sentence_from_spans,
)

__all__ = [
    "ENTITIES_COLUMN",
    "NER_EXTENSIONS",
    "TEXT_COLUMN",
    "NerData",
    "load_ner",
    "looks_like_ner",
    "ner_from_jsonl",
    "ner_from_table",
    "read_conll",
]

TEXT_COLUMN = "text"
ENTITIES_COLUMN = "entities"
#: Extensions :func:`load_ner` reads as CoNLL; ``.jsonl`` is read as JSON lines.
NER_EXTENSIONS = (".conll", ".bio", ".iob", ".bioes", ".txt", ".tsv", ".jsonl")
_SPAN_KEYS = ("entities", "spans", "label", "labels")
#: Extensions that are always labelled sentences; the others may be tables too.
_CONLL_ONLY = (".conll", ".bio", ".iob", ".bioes")
_TAG_LIKE = re.compile(r"^(?:O|[BIESLU]-\S+)$")


@dataclass
class NerData:
    """Labelled sentences for NER.

    Attributes
    ----------
    sentences : list of Sentence
    notes : list of Message
        What the reader repaired or left out, one sentence each.
    """

    sentences: list[Sentence]
    notes: list[Any] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Entities per type, most frequent first."""
        found = Counter(e.type for s in self.sentences for e in s.entities)
        return dict(found.most_common())

    @property
    def types(self) -> list[str]:
        """The entity types, sorted."""
        return sorted(self.counts)

    def __len__(self) -> int:
        return len(self.sentences)

    def table(self) -> pd.DataFrame:
        """One row per sentence: its ``text`` and its ``entities`` as a JSON list of
        ``[start, end, type]`` character spans."""
        return pd.DataFrame(
            {
                TEXT_COLUMN: [s.text for s in self.sentences],
                ENTITIES_COLUMN: [
                    json.dumps([[e.start, e.end, e.type] for e in s.entities], ensure_ascii=False)
                    for s in self.sentences
                ],
            }
        )


def _raw(source: str | os.PathLike | bytes, name: str) -> tuple[bytes, str]:
    """A reader's bytes and the name its messages use."""
    if isinstance(source, bytes):
        return source, name or "the file"
    path = Path(source)
    if not path.is_file():
        raise DataError(Message("ner.no_file", path=str(path)))
    return path.read_bytes(), name or path.name


def _check_any(sentences: list[Sentence], source: str) -> None:
    if not sentences:
        raise DataError(Message("ner.empty", source=source))


def _repair_note(repaired: int, source: str) -> list[Any]:
    return [Message("ner.repaired", n=repaired, source=source)] if repaired else []


def read_conll(source: str | os.PathLike | bytes, name: str = "") -> NerData:
    """Sentences from a CoNLL/BIO file (or its bytes): one token per line with its tag in
    the last column (tab- or space-separated), a blank line between sentences,
    ``-DOCSTART-`` lines skipped. Tags in BIO, IOB1, BIOES/BILOU or IO are normalised to
    BIO; an ``I-`` tag that continues no entity of its type starts one (counted in
    :attr:`NerData.notes`).

    Raises
    ------
    DataError
        The file is not UTF-8 text, a line has no tag, a tag is malformed, or there are
        no sentences.
    """
    raw, label = _raw(source, name)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(Message("ner.not_utf8", source=label)) from None
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    first_line, repaired = 0, 0

    def close() -> None:
        nonlocal repaired
        if tokens:
            fixed, n = normalise_tags(tags, f"{label}, line {first_line}")
            repaired += n
            joined, starts = join_tokens(tokens)
            sentences.append(Sentence(joined, list(tokens), starts, fixed))
        tokens.clear()
        tags.clear()

    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            close()
            continue
        parts = line.split("\t") if "\t" in line else line.split()
        if parts[0].startswith("-DOCSTART-"):
            continue
        if len(parts) < 2 or not parts[-1].strip():
            raise DataError(Message("ner.no_tag", source=label, line=number))
        token = parts[0].strip() or "_"  # a space character as a token
        if not tokens:
            first_line = number
        tokens.append(token)
        tags.append(parts[-1].strip())
    close()
    _check_any(sentences, label)
    return NerData(sentences, _repair_note(repaired, label))


def _spans(value: Any, where: str) -> list[tuple[int, int, str]]:
    """``[start, end, type]`` lists or ``{"start", "end", "type"|"label"}`` dicts as tuples."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise DataError(Message("ner.bad_entities", where=where)) from None
    if not isinstance(value, list):
        raise DataError(Message("ner.bad_entities", where=where))
    out = []
    for item in value:
        if isinstance(item, dict):
            item = [item.get("start"), item.get("end"), item.get("type", item.get("label"))]
        if not isinstance(item, list | tuple) or len(item) < 3:
            raise DataError(Message("ner.bad_entities", where=where))
        start, end, kind = item[:3]
        if not isinstance(start, int) or not isinstance(end, int) or kind is None:
            raise DataError(Message("ner.bad_entities", where=where))
        out.append((start, end, str(kind)))
    return out


def _from_pairs(pairs: list[tuple[str, Any, str]], label: str) -> NerData:
    sentences, dropped = [], 0
    for text, value, where in pairs:
        sentence, n = sentence_from_spans(text, _spans(value, where), where)
        dropped += n
        if sentence.tokens:
            sentences.append(sentence)
    _check_any(sentences, label)
    notes = [Message("ner.overlapping", n=dropped, source=label)] if dropped else []
    return NerData(sentences, notes)


def ner_from_jsonl(source: str | os.PathLike | bytes, name: str = "") -> NerData:
    """Sentences from JSON lines: ``{"text": ..., "entities": [[start, end, type], ...]}``
    per line (``spans``, ``label`` or ``labels`` for the list, dicts with ``start``,
    ``end`` and ``type`` or ``label`` as entities). Texts are tokenised by
    :func:`~lepton_core.ner.tokenize`; a span that overlaps an earlier one is left out
    (BIO cannot nest) and counted in the notes.

    Raises
    ------
    DataError
        A line is not a JSON object with a text, a span lies outside its text, or there
        are no sentences.
    """
    raw, label = _raw(source, name)
    try:
        lines = raw.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise DataError(Message("ner.not_utf8", source=label)) from None
    pairs = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{label}, line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise DataError(Message("ner.bad_json", where=where)) from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise DataError(Message("ner.bad_json", where=where))
        key = next((k for k in _SPAN_KEYS if k in record), None)
        pairs.append((record["text"], record.get(key) if key else None, where))
    return _from_pairs(pairs, label)


def ner_from_table(
    df: pd.DataFrame, text_column: str = TEXT_COLUMN, entities_column: str = ENTITIES_COLUMN
) -> NerData:
    """Sentences from a table with a text column and an entities column (JSON lists of
    ``[start, end, type]`` spans, or such lists themselves), e.g. :meth:`NerData.table`.

    Raises
    ------
    DataError
        A column is missing, an entities cell is not a list of spans, or no row has text.
    """
    for column in (text_column, entities_column):
        if column not in df.columns:
            raise DataError(Message("ner.no_column", column=column))
    pairs = [
        ("" if pd.isna(text) else str(text), value, f"row {i + 1}")
        for i, (text, value) in enumerate(zip(df[text_column], df[entities_column], strict=True))
    ]
    return _from_pairs(pairs, "the table")


def load_ner(path: str | os.PathLike, name: str = "") -> NerData:
    """An NER file by its extension: ``.jsonl`` as JSON lines, anything else as CoNLL."""
    if str(path).lower().endswith(".jsonl"):
        return ner_from_jsonl(path, name)
    return read_conll(path, name)


def looks_like_ner(raw: bytes, name: str) -> bool:
    """Whether a file called ``name`` holds labelled sentences rather than a table: a
    ``.conll``/``.bio``/``.iob``/``.bioes`` file always; a ``.txt`` or ``.tsv`` file whose
    lines are mostly a token and a BIO tag; a ``.jsonl`` file whose first record has a
    ``text`` and a list of entities."""
    suffix = Path(name.lower()).suffix
    if suffix in _CONLL_ONLY:
        return True
    if suffix not in NER_EXTENSIONS:
        return False
    head = raw[:65536].decode("utf-8-sig", errors="replace").splitlines()
    lines = [line for line in head[:-1] or head if line.strip()][:400]
    if not lines:
        return False
    if suffix == ".jsonl":
        try:
            record = json.loads(lines[0])
        except json.JSONDecodeError:
            return False
        return (
            isinstance(record, dict)
            and isinstance(record.get("text"), str)
            and any(isinstance(record.get(k), list) for k in _SPAN_KEYS)
        )
    tags = [
        (line.split("\t") if "\t" in line else line.split())[-1].strip()
        for line in lines
        if not line.startswith("-DOCSTART-")
    ]
    tagged = sum(bool(_TAG_LIKE.match(t)) for t in tags)
    # Most lines a token and a tag, some entity, and more than one column per line.
    return (
        bool(tags)
        and tagged >= 0.9 * len(tags)
        and any(t != "O" for t in tags)
        and all(len(line.split()) >= 2 or "\t" in line for line in lines[:50])
    )
