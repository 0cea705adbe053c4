"""Tokens, entity spans and tag schemes: what every NER reader and family shares.

A sentence is its text, its tokens with their character offsets, and one BIO tag per
token (``B-PER`` starts an entity, ``I-PER`` continues it, ``O`` is outside). Files
in IOB1 (``I-`` starts an entity unless it follows one of its type), BIOES/BILOU
(``S-``/``U-`` single, ``E-``/``L-`` last) or IO (a bare type) are normalised to
BIO. An ``I-X`` that continues no ``X`` entity (``I-PER`` after ``B-LOC`` or ``O``)
starts a new ``X`` entity: the repair the CoNLL scorer makes; readers count it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lepton_core.core import DataError, Message

__all__ = [
    "Entity",
    "Sentence",
    "is_cjk",
    "join_tokens",
    "normalise_tags",
    "sentence_from_spans",
    "spans_from_tags",
    "tokenize",
]

# Scripts written without spaces between words: each character is a token.
_CJK = "\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_TOKEN = re.compile(rf"[{_CJK}]|[@#]?[^\W{_CJK}]+(?:['’\-.][^\W{_CJK}]+)*|\S")
_PREFIXES = {"B", "I", "E", "S", "L", "U"}


def is_cjk(token: str) -> bool:
    """Whether ``token`` is one character of a script written without spaces."""
    return len(token) == 1 and re.match(f"[{_CJK}]", token) is not None


def tokenize(text: str) -> tuple[list[str], list[int]]:
    """Tokens of ``text`` and their start offsets: words (with inner ``'``, ``-`` and ``.``,
    and a leading ``@`` or ``#``), single punctuation marks, and single Chinese or Japanese
    characters, so that it works in any language without a model."""
    found = list(_TOKEN.finditer(text))
    return [m.group() for m in found], [m.start() for m in found]


def join_tokens(tokens: list[str]) -> tuple[str, list[int]]:
    """A text from ``tokens`` (spaces between them, none between Chinese characters) and
    each token's start offset in it."""
    parts, starts, at = [], [], 0
    for i, token in enumerate(tokens):
        if i and not (is_cjk(tokens[i - 1]) and is_cjk(token)):
            parts.append(" ")
            at += 1
        starts.append(at)
        parts.append(token)
        at += len(token)
    return "".join(parts), starts


@dataclass(frozen=True)
class Entity:
    """One entity: characters ``start`` to ``end`` (exclusive) of a text, of type ``type``."""

    start: int
    end: int
    type: str
    text: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"start": self.start, "end": self.end, "type": self.type, "text": self.text}


@dataclass
class Sentence:
    """A text, its tokens with their start offsets, and one BIO tag per token (empty tags:
    unlabelled, e.g. a text to predict on)."""

    text: str
    tokens: list[str]
    starts: list[int]
    tags: list[str] = field(default_factory=list)

    @property
    def entities(self) -> list[Entity]:
        """The entities its tags mark, as character spans of :attr:`text`."""
        return spans_from_tags(self.text, self.tokens, self.starts, self.tags)


def split_tag(tag: str, where: str = "") -> tuple[str, str]:
    """``(prefix, type)`` of a tag: ``("O", "")`` outside, ``("I", type)`` for a bare type.

    Raises
    ------
    DataError
        The prefix is not one of B, I, E, S, L, U, or the type is empty.
    """
    if tag in ("O", "-", "_", ""):
        return "O", ""
    if len(tag) > 2 and tag[1] in "-_":
        prefix, kind = tag[0].upper(), tag[2:]
        if prefix not in _PREFIXES:
            raise DataError(Message("ner.bad_tag", tag=tag, where=where))
        return prefix, kind
    if tag.startswith(("-", "_")) or tag.endswith(("-", "_")):
        raise DataError(Message("ner.bad_tag", tag=tag, where=where))
    return "I", tag  # IO scheme: a bare type


def normalise_tags(tags: list[str], where: str = "") -> tuple[list[str], int]:
    """``tags`` in BIO, and how many ``I-`` tags continued no entity of their type.

    BIOES/BILOU become BIO; an ``I-X`` after ``O`` or another type starts an ``X``
    entity (IOB1 works this way; in BIO it is a repair, which the count reports).
    """
    out, repaired, prev = [], 0, ("O", "")
    for tag in tags:
        prefix, kind = split_tag(tag, where)
        if prefix == "O":
            out.append("O")
        elif prefix in ("B", "S", "U"):
            out.append(f"B-{kind}")
        else:  # I, E, L continue an entity of their type, or start one
            continues = prev[0] in ("B", "I") and prev[1] == kind
            if not continues:
                repaired += 1
            out.append(f"{'I' if continues else 'B'}-{kind}")
        # After E/L/S/U an entity is closed: what follows cannot continue it.
        prev = ("O", "") if prefix in ("E", "L", "S", "U", "O") else (prefix, kind)
    return out, repaired


def spans_from_tags(
    text: str, tokens: list[str], starts: list[int], tags: list[str]
) -> list[Entity]:
    """The entities BIO ``tags`` mark, as character spans of ``text``."""
    spans: list[Entity] = []
    open_: tuple[int, int, str] | None = None  # start char, end char, type
    for token, start, tag in zip(tokens, starts, tags, strict=False):
        prefix, kind = ("O", "") if tag == "O" else (tag[0], tag[2:])
        if open_ and (prefix != "I" or kind != open_[2]):
            spans.append(Entity(open_[0], open_[1], open_[2], text[open_[0] : open_[1]]))
            open_ = None
        if prefix == "B" or (prefix == "I" and open_ is None):
            open_ = (start, start + len(token), kind)
        elif prefix == "I" and open_:
            open_ = (open_[0], start + len(token), kind)
    if open_:
        spans.append(Entity(open_[0], open_[1], open_[2], text[open_[0] : open_[1]]))
    return spans


def sentence_from_spans(
    text: str, spans: list[tuple[int, int, str]], where: str = ""
) -> tuple[Sentence, int]:
    """A tokenised, BIO-tagged sentence from ``text`` and character spans, and how many
    spans were dropped for overlapping an earlier one (BIO cannot nest entities).

    A token belongs to a span when it overlaps it.

    Raises
    ------
    DataError
        A span lies outside the text, is empty or has no type.
    """
    tokens, starts = tokenize(text)
    tags = ["O"] * len(tokens)
    dropped = 0
    for start, end, kind in sorted(spans, key=lambda s: (s[0], -s[1])):
        if not (0 <= start < end <= len(text)) or not str(kind).strip():
            raise DataError(
                Message("ner.bad_span", start=start, end=end, length=len(text), where=where)
            )
        inside = [
            i
            for i, (t, s) in enumerate(zip(tokens, starts, strict=True))
            if s < end and start < s + len(t)
        ]
        if not inside or any(tags[i] != "O" for i in inside):
            dropped += 1
            continue
        kind = str(kind).strip()
        tags[inside[0]] = f"B-{kind}"
        for i in inside[1:]:
            tags[i] = f"I-{kind}"
    return Sentence(text, tokens, starts, tags), dropped
