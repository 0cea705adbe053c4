"""Personal data: anonymise a table column by column.

:func:`anonymise` applies :class:`Action` s — drop, salted hash, generalise,
mask — to a table and its test table with the same rules, and returns the steps
it took so a data set version can record them.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import DataError, JsonMixin, Message
from lepton_core.data import _pii_zh as zh
from lepton_core.data._pii_detect import (
    _CARD,
    _EMAIL,
    _IPV4,
    _SSN,
    ScanReport,
    _header_kind,
    _header_words,
    _is_card,
    _is_ip,
    _parses_as_dates,
    _phone_spans,
)

__all__ = [
    "ACTIONS",
    "ACTION_TITLES",
    "Action",
    "AnonymisationStep",
    "anonymise",
    "hash_value",
    "load_salt",
    "mask_text",
    "suggested_actions",
]

ACTIONS = ("keep", "drop", "hash", "generalise", "mask")
#: Each action in words, for pages and model cards.
ACTION_TITLES = {
    "keep": Message("pii.action.keep"),
    "drop": Message("pii.action.drop"),
    "hash": Message("pii.action.hash"),
    "generalise": Message("pii.action.generalise"),
    "mask": Message("pii.action.mask"),
}


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
    detail: Message | str


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
        raise DataError(Message("pii.bad_salt", path=str(path)))
    return salt


def hash_value(value: Any, salt: bytes) -> str | None:
    """One value as the ``hash`` action writes it (None stays None), so hashes made
    elsewhere (the prediction log) join with the data set's."""
    if pd.isna(value):
        return None
    return hmac.new(salt, str(value).encode(), hashlib.sha256).hexdigest()[:16]


def _hash(column: pd.Series, salt: bytes) -> pd.Series:
    return column.map(lambda value: hash_value(value, salt)).astype("str")


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
) -> tuple[list[pd.Series], Message]:
    """Generalise ``column`` and each of ``others`` (the test table) with one rule."""
    mode, _, arg = option.partition(":")
    frames = [column, *others]
    if mode in ("year", "month"):
        fmt = "%Y" if mode == "year" else "%Y-%m"
        out = [
            pd.to_datetime(c, errors="coerce", format="mixed").dt.strftime(fmt).astype("str")
            for c in frames
        ]
        kept = Message("pii.detail.year") if mode == "year" else Message("pii.detail.month")
        return out, kept
    if mode == "prefix":
        n = int(arg or 3)
        out = [
            c.map(lambda v: None if pd.isna(v) else str(v).replace(" ", "")[:n] + "*").astype("str")
            for c in frames
        ]
        return out, Message("pii.detail.prefix", characters=n)
    if mode in ("age", "ranges"):
        numbers = [pd.to_numeric(c, errors="coerce") for c in frames]
        if numbers[0].notna().sum() == 0:
            raise DataError(Message("pii.no_numbers", column=str(column.name)))
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
            return out, Message("pii.detail.bands", width=width)
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
        return out, Message("pii.detail.ranges", ranges=len(labels))
    raise ValueError(f"Unknown generalisation {option!r}.")


def _range_label(lo: float, hi: float) -> str:
    if lo == -np.inf:
        return f"≤ {hi:g}"
    if hi == np.inf:
        return f"> {lo:g}"
    return f"{lo:g}–{hi:g}"


def mask_text(value: Any) -> Any:
    """Replace e-mails, phones, ids, card and bank account numbers and IPs with placeholders.

    Ids are US SSNs, UK National Insurance numbers and Chinese resident ids; phones
    include Chinese mobiles and landlines. Names are not masked (that needs the NLP
    pipeline on every row): drop or review such a column instead.
    """
    if pd.isna(value):
        return value
    text = str(value)
    text = _EMAIL.sub("[EMAIL]", text)
    text = zh.IBAN.sub(lambda m: "[IBAN]" if zh.is_iban(m.group()) else m.group(), text)
    text = zh.CN_RESIDENT_ID.sub(
        lambda m: "[ID]" if zh.is_cn_resident_id(m.group()) else m.group(), text
    )
    text = _SSN.sub("[ID]", text)
    text = zh.UK_NINO.sub("[ID]", text)
    for start, end in reversed(zh.cn_phone_spans(text)):
        text = text[:start] + "[PHONE]" + text[end:]
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
            raise DataError(Message("pii.no_column", column=str(act.column)))
        if act.action == "keep":
            continue
        others = [held[act.column]] if held is not None and act.column in held else []
        option = act.option
        if act.action == "drop":
            data = data.drop(columns=act.column)
            if held is not None and act.column in held:
                held = held.drop(columns=act.column)
            detail: Message = Message("pii.detail.dropped")
        elif act.action == "hash":
            data[act.column] = _hash(data[act.column], salt)
            if others:
                held[act.column] = _hash(others[0], salt)  # type: ignore[index]
            detail = Message("pii.detail.hashed")
        elif act.action == "mask":
            data[act.column] = data[act.column].map(mask_text).astype("str")
            if others:
                held[act.column] = others[0].map(mask_text).astype("str")  # type: ignore[index]
            detail = Message("pii.detail.masked")
        else:
            option = option or _default_generalise(act.column, data[act.column])
            try:
                out, detail = _generalise(data[act.column], option, others)
            except (ValueError, TypeError) as exc:
                raise DataError(
                    Message(
                        "pii.cannot_generalise",
                        column=str(act.column),
                        option=option,
                        error=str(exc),
                    )
                ) from exc
            data[act.column] = out[0]
            if others:
                held[act.column] = out[1]  # type: ignore[index]
        steps.append(AnonymisationStep(act.column, act.action, option, detail))
    return data, held, steps
