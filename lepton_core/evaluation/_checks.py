"""Warnings about the columns a model learnt from: too many of them, leaks and identifiers.

:func:`check_features` looks at the feature columns and the target of a table (the
training part, or the whole table) and returns an :class:`EvalWarning` for each of:

- **many columns** (``many_columns``): at least as many columns as rows. A model can then
  fit pure noise, and its test figures can look good by chance.
- **identifier** (``id_column``): a column with a different value on almost every row,
  which looks like a row id rather than a measurement: short codes without spaces, or
  whole numbers that count up (a dense range, or rising with the row order), or a
  mostly-distinct column named like an id (``id``, ``loan_id``, ``uuid``).
- **leak** (``leakage``): one column alone predicts the target almost perfectly. For a
  yes/no target and a numeric column: its ROC AUC (how well one cut-off separates the
  answers; 0.5 is chance) is at least 0.99 or at most 0.01. For other columns and
  targets: a lookup table from the column's value (numbers in up to 20 bands of equal
  size) to the answer, learnt on one half of the rows and checked on the other (so a
  column with many distinct values cannot look perfect by memorising), is right for at
  least 97% of the rows of every answer (balanced accuracy), or for a numeric target
  explains at least 97% of its variance. A numeric column against a numeric target leaks
  when its rank correlation is at least 0.99.

Tables over 20,000 rows are checked on a seeded sample of that many rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import JsonMixin, Message

__all__ = ["EvalWarning", "check_features"]

_MAX_ROWS = 20_000
_MIN_ROWS = 20  # fewer rows than this: no identifier or leak check
_ID_DISTINCT = 0.95
_ID_TOKENS = {"id", "uuid", "guid"}
_LEAK_AUC = 0.99
_LEAK_LOOKUP = 0.97
_LEAK_RANK = 0.99
_BANDS = 20
_SEED = 0


@dataclass
class EvalWarning(JsonMixin):
    """A reason to doubt an evaluation's figures, in words.

    Attributes
    ----------
    kind : str
        ``many_columns``, ``id_column`` or ``leakage``.
    text : Message
        What was found and what to do, for a spreadsheet user (English; a page renders
        it in the reader's language). Reports saved before hold a str.
    column : str or None
        The column concerned (None for ``many_columns``).
    score : float or None
        The measured strength: columns per row, or how well the column predicts alone.
    """

    kind: str
    text: Message
    column: str | None = None
    score: float | None = None


def check_features(X: pd.DataFrame, y: Any, *, task: str) -> list[EvalWarning]:
    """Warnings about the feature columns ``X`` of a table with target ``y``.

    Parameters
    ----------
    X : pandas.DataFrame
        The columns the model learns from, as in the table (before encoding).
    y : array-like of shape (n,)
        The target; rows where it is missing are left out.
    task : str
        ``"binary"``, ``"multiclass"`` or ``"regression"``.

    Returns
    -------
    list of EvalWarning
        Many columns first, then one warning per column found, in column order.
    """
    X = X.reset_index(drop=True)
    y = pd.Series(np.asarray(y).ravel())
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    out = []
    n_rows, n_cols = X.shape
    if n_cols and n_cols >= n_rows:
        out.append(
            EvalWarning(
                "many_columns",
                Message("warning.many_columns", columns=n_cols, rows=n_rows),
                score=n_cols / max(n_rows, 1),
            )
        )
    keep = y.notna().to_numpy()
    X, y = X[keep].reset_index(drop=True), y[keep].reset_index(drop=True)
    if len(y) > _MAX_ROWS:
        rows = np.sort(np.random.default_rng(_SEED).choice(len(y), _MAX_ROWS, replace=False))
        X, y = X.iloc[rows].reset_index(drop=True), y.iloc[rows].reset_index(drop=True)
    if len(y) < _MIN_ROWS or y.nunique() < 2:
        return out
    if task == "regression":
        target = pd.to_numeric(y, errors="coerce").to_numpy(dtype=float)
        codes = None
    else:
        target = None
        codes = pd.factorize(y.astype(str))[0]
    halves = np.random.default_rng(_SEED).permutation(len(y)) % 2 == 0
    quick = _quick_strengths(X, codes, target, task)
    for name in X.columns:
        if name in quick:
            ident, score = quick[name]
            how = _QUICK_NAMES[task]
        else:
            column = X[name]
            present = column.notna().to_numpy()
            if present.sum() < _MIN_ROWS or column.nunique(dropna=True) < 2:
                continue
            if pd.api.types.is_datetime64_any_dtype(column):
                continue  # dates are neither codes nor single-column answers we can judge
            ident = _looks_like_id(str(name), column)
            score, how = (
                (None, ("", 1.0))
                if ident
                else _leak_strength(column, present, codes, target, halves, task)
            )
        if ident:
            out.append(
                EvalWarning(
                    "id_column",
                    Message("warning.id_column", column=str(name)),
                    column=str(name),
                )
            )
        elif score is not None and score >= how[1]:
            out.append(
                EvalWarning(
                    "leakage",
                    Message("warning.leakage", column=str(name), measure=how[0], score=score),
                    column=str(name),
                    score=float(score),
                )
            )
    return out


_SEPARATION = Message("warning.measure.separation")
_RANK_CORRELATION = Message("warning.measure.rank_correlation")
_QUICK_NAMES: dict[str, tuple[Message | str, float]] = {
    "binary": (_SEPARATION, _LEAK_AUC),
    "regression": (_RANK_CORRELATION, _LEAK_RANK),
}


def _quick_strengths(
    X: pd.DataFrame, codes: np.ndarray | None, target: np.ndarray | None, task: str
) -> dict[Any, tuple[bool, float | None]]:
    """Column -> (looks like an id, leak strength) for complete fractional numeric columns.

    Such columns (most of a wide table of measurements) are never ids, and for a yes/no
    or numeric target their strength comes from one ranking of the whole block.
    """
    if task not in _QUICK_NAMES:
        return {}
    names = [
        c
        for c in X.columns
        if pd.api.types.is_float_dtype(X[c])
        and not (_name_tokens(str(c))[-1:] and _name_tokens(str(c))[-1] in _ID_TOKENS)
    ]
    if not names:
        return {}
    block = X[names].to_numpy(dtype=float)
    ok = np.all(np.isfinite(block), axis=0)
    ok &= np.any(block != np.round(block), axis=0)  # whole numbers may count up like ids
    ok &= block.min(axis=0) < block.max(axis=0)
    if task == "regression":
        assert target is not None
        ok &= bool(np.all(np.isfinite(target)) and target.std() > 0)
    if not ok.any():
        return {}
    from scipy.stats import rankdata

    chosen = [n for n, keep in zip(names, ok, strict=True) if keep]
    ranks = rankdata(block[:, ok], axis=0)
    n = len(ranks)
    if task == "binary":
        assert codes is not None
        is_pos = codes == 1
        n_pos = int(is_pos.sum())
        auc = (ranks[is_pos].sum(axis=0) - n_pos * (n_pos + 1) / 2) / (n_pos * (n - n_pos))
        strength = np.maximum(auc, 1 - auc)
    else:
        assert target is not None
        rt = rankdata(target)
        centred = ranks - ranks.mean(axis=0)
        rt = rt - rt.mean()
        strength = np.abs(centred.T @ rt) / (
            np.sqrt((centred**2).sum(axis=0)) * np.sqrt((rt**2).sum())
        )
    return {name: (False, float(v)) for name, v in zip(chosen, strength, strict=True)}


def _name_tokens(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [t for t in re.split(r"[^0-9a-z]+", spaced.lower()) if t]


def _looks_like_id(name: str, column: pd.Series) -> bool:
    present = column.dropna()
    distinct = present.nunique()
    share = distinct / len(present)
    tokens = _name_tokens(name)
    if tokens and tokens[-1] in _ID_TOKENS and share >= 0.5:
        return True
    if share < _ID_DISTINCT:
        return False
    numeric = pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present)
    if numeric:
        values = present.to_numpy(dtype=float)
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
            return False  # measurements, such as prices, are often all different
        dense = values.max() - values.min() + 1 <= 2 * len(values)
        order = np.arange(len(values))
        rising = abs(_rank_correlation(values, order)) >= _LEAK_RANK
        return bool(dense or rising)
    text = present.astype(str)
    # Free text (reviews, notes) is also distinct per row; codes are short and unspaced.
    return bool(text.str.len().mean() <= 40 and (~text.str.contains(r"\s")).mean() >= 0.9)


def _ranks(values: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(values)


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = _ranks(a), _ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def _leak_strength(
    column: pd.Series,
    present: np.ndarray,
    codes: np.ndarray | None,
    target: np.ndarray | None,
    halves: np.ndarray,
    task: str,
) -> tuple[float | None, tuple[Message | str, float]]:
    """How well the column alone predicts the target, and (what that is called, the bar)."""
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    values = column.to_numpy()
    if numeric:
        values = values.astype(float)
    if task == "binary" and numeric:
        assert codes is not None
        x, y = values[present], codes[present]
        n_pos = y.sum()
        if n_pos == 0 or n_pos == len(y):
            return None, ("", 1.0)
        ranks = _ranks(x)
        auc = (ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (len(y) - n_pos))
        return float(max(auc, 1 - auc)), (_SEPARATION, _LEAK_AUC)
    if task == "regression" and numeric:
        assert target is not None
        ok = present & np.isfinite(target)
        return abs(_rank_correlation(values[ok], target[ok])), (_RANK_CORRELATION, _LEAK_RANK)
    # A lookup table from value (or band) to answer, learnt on one half, checked on the other.
    if numeric:
        bands = min(_BANDS, max(2, int(present.sum()) // 5))
        keys = np.full(len(values), -1)
        keys[present] = np.minimum(
            (_ranks(values[present]) - 1) * bands // int(present.sum()), bands - 1
        ).astype(int)
    else:
        keys = pd.factorize(column.astype(str).where(column.notna(), "\0missing"))[0]
    if task == "regression":
        assert target is not None
        return _lookup_r2(keys, target, halves), (
            Message("warning.measure.variation_explained"),
            _LEAK_LOOKUP,
        )
    assert codes is not None
    return _lookup_balanced(keys, codes, halves), (
        Message("warning.measure.balanced_accuracy"),
        _LEAK_LOOKUP,
    )


def _lookup_balanced(keys: np.ndarray, codes: np.ndarray, halves: np.ndarray) -> float:
    k = int(codes.max()) + 1
    keys = pd.factorize(keys)[0]
    m = int(keys.max()) + 1
    hits = np.zeros(k)
    support = np.bincount(codes, minlength=k).astype(float)
    for learn in (halves, ~halves):
        table = np.bincount(keys[learn] * k + codes[learn], minlength=m * k).reshape(m, k)
        overall = int(np.bincount(codes[learn], minlength=k).argmax())
        guess = np.where(table.sum(axis=1) > 0, table.argmax(axis=1), overall)
        check = ~learn
        right = guess[keys[check]] == codes[check]
        hits += np.bincount(codes[check], weights=right, minlength=k)
    present = support > 0
    return float(np.mean(hits[present] / support[present]))


def _lookup_r2(keys: np.ndarray, target: np.ndarray, halves: np.ndarray) -> float | None:
    ok = np.isfinite(target)
    keys, target, halves = pd.factorize(keys[ok])[0], target[ok], halves[ok]
    m = int(keys.max()) + 1
    errors = np.zeros(len(target))
    for learn in (halves, ~halves):
        sums = np.bincount(keys[learn], weights=target[learn], minlength=m)
        counts = np.bincount(keys[learn], minlength=m)
        means = np.where(counts > 0, sums / np.maximum(counts, 1), target[learn].mean())
        check = ~learn
        errors[check] = target[check] - means[keys[check]]
    total = np.sum((target - target.mean()) ** 2)
    return float(1 - np.sum(errors**2) / total) if total > 0 else None
