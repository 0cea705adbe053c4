"""The user's choices of target, task and sensitive columns: suggested, then checked.

:func:`suggest_target` and :func:`suggest_sensitive` propose; :func:`check_target`
and :func:`check_sensitive` refuse choices a model or a fairness report cannot
use, with one sentence saying what to pick instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from lepton_core.core import TASKS, DataError, JsonMixin, Message, Task, is_classification
from lepton_core.data._schema import (
    _MAX_NUMERIC_CLASSES,
    ColumnInfo,
    Schema,
    _name_tokens,
    _nunique,
    infer_schema,
)

__all__ = [
    "MAX_CLASSES",
    "MIN_LABELLED_ROWS",
    "Suggestions",
    "check_sensitive",
    "check_target",
    "infer_task",
    "suggest_sensitive",
    "suggest_target",
]

#: Classification targets with more distinct values than this are refused.
MAX_CLASSES = 50
#: Fewest rows with a target value that training and testing need.
MIN_LABELLED_ROWS = 10

# Names (normalised) of likely targets: generic ones score 3, domain ones 2.
_GENERIC_LABELS = ("target", "label", "labels", "class", "y", "outcome")
_DOMAIN_LABELS = (
    *("income", "churn", "churned", "survived", "default", "response", "result", "diagnosis"),
    *("species", "sentiment", "fraud", "is_fraud", "exited", "attrition", "progression"),
    *("cultivar", "price", "saleprice", "quality"),
)
_LABEL_NAMES = {**dict.fromkeys(_DOMAIN_LABELS, 2), **dict.fromkeys(_GENERIC_LABELS, 3)}
_LABEL_TOKENS = frozenset({"target", "label", "outcome"})
_SENSITIVE_NAMES = (
    *("sex", "gender", "race", "ethnicity", "ethnic", "age", "religion", "religious"),
    *("nationality", "citizenship", "native country", "country of birth", "birth country"),
    *("disability", "disabled", "marital status", "marital", "pregnancy", "pregnant"),
    *("sexual orientation", "skin color", "skin colour", "date of birth", "dob"),
)
_SENSITIVE_PATTERNS = [tuple(name.split(" ")) for name in _SENSITIVE_NAMES]


@dataclass
class Suggestions(JsonMixin):
    """What Lepton proposes before the user chooses: target, task, sensitive columns."""

    target: str | None
    task: Task | None
    sensitive: list[str]


def suggest_target(df: pd.DataFrame, schema: Schema | None = None) -> str | None:
    """Guess the column to predict.

    A column named like a label (target, label, class, y, outcome, income,
    churn, ...) wins; otherwise the last column that is not an identifier,
    text, date or constant. Categories with more than ``MAX_CLASSES`` values
    are never suggested. ``None`` when no column fits.
    """
    schema = schema or infer_schema(df)
    usable = [c for c in schema.columns if c.distinct > 1 and _may_be_target(c)]
    best, best_score = None, 0
    for column in usable:
        tokens = _name_tokens(column.name)
        score = _LABEL_NAMES.get("_".join(tokens), 0)
        if not score and _LABEL_TOKENS.intersection(tokens):
            score = 1
        if score and score >= best_score:  # ties go to the later column
            best, best_score = column.name, score
    if best is not None:
        return best
    for column in reversed(usable):
        if column.kind != "datetime":
            return column.name
    return None


def _may_be_target(column: ColumnInfo) -> bool:
    if column.kind in ("identifier", "text"):
        return False
    # Labels with more values than classes allowed cannot be predicted; numbers can.
    return column.kind in ("numeric", "datetime") or column.distinct <= MAX_CLASSES


def infer_task(y: pd.Series) -> Task:
    """The task that fits target values ``y``.

    Two distinct values make a binary task. Numbers are a regression unless
    they are whole numbers with at most 20 distinct values (then classes);
    anything else with three or more values is multiclass (``check_target``
    refuses more than ``MAX_CLASSES`` classes).
    """
    present = y.dropna()
    if present.empty:
        raise DataError(Message("choices.empty_target", target=str(y.name)))
    distinct = _nunique(present)
    if distinct <= 2:
        return "binary"
    numbers = _as_numbers(present)
    if numbers is not None:
        values = numbers.to_numpy(dtype="float64")
        whole = bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))
        if not whole or distinct > _MAX_NUMERIC_CLASSES:
            return "regression"
    return "multiclass"


def _as_numbers(s: pd.Series) -> pd.Series | None:
    """``s`` as numbers if it is numeric or (almost) all numeric strings, else ``None``."""
    if ptypes.is_bool_dtype(s.dtype):
        return None
    if ptypes.is_numeric_dtype(s.dtype) and not ptypes.is_complex_dtype(s.dtype):
        return s
    if isinstance(s.dtype, pd.CategoricalDtype) or ptypes.is_datetime64_any_dtype(s.dtype):
        return None
    numbers = pd.to_numeric(s, errors="coerce")
    return numbers if numbers.notna().sum() >= 0.95 * s.notna().sum() > 0 else None


def check_target(df: pd.DataFrame, target: str, task: Task | None = None) -> Task:
    """Check that ``target`` can be predicted and return the task.

    Parameters
    ----------
    df : pandas.DataFrame
        The training table.
    target : str
        Column to predict.
    task : {"binary", "multiclass", "regression"}, optional
        Task asked for; inferred with :func:`infer_task` when omitted.

    Raises
    ------
    DataError
        If the column is unknown or empty, has one class or too many, holds
        text for a regression, has too few labelled rows, or has a class too
        small to appear in both training and test rows.
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, not {task!r}")
    _require_columns(df, [target], "target column")
    y = df[target].dropna()
    if y.empty:
        raise DataError(Message("choices.empty_target", target=target))
    distinct = _nunique(y)
    if distinct == 1:
        raise DataError(Message("choices.one_class", target=target))
    task = task or infer_task(y)
    if task == "regression" and _as_numbers(y) is None:
        raise DataError(Message("choices.text_regression", target=target))
    if task == "binary" and distinct > 2:
        raise DataError(Message("choices.not_binary", target=target, values=distinct))
    if is_classification(task) and distinct > MAX_CLASSES:
        raise DataError(Message("choices.too_many_classes", target=target, values=distinct))
    if len(y) < MIN_LABELLED_ROWS:
        raise DataError(
            Message("choices.few_rows", target=target, rows=len(y), least=MIN_LABELLED_ROWS)
        )
    if is_classification(task):
        counts = y.value_counts()
        if counts.iloc[-1] < 2:
            raise DataError(
                Message("choices.one_row_class", label=str(counts.index[-1]), target=target)
            )
    return task


def suggest_sensitive(df: pd.DataFrame, schema: Schema | None = None) -> list[str]:
    """Columns that look like protected attributes, by name, in table order.

    Names are compared after splitting on case, ``-``, ``_`` and spaces, so
    ``marital-status``, ``MaritalStatus`` and ``patient_age`` match while
    ``mileage`` does not. Text and identifier columns and columns with fewer
    than two groups are left out.
    """
    schema = schema or infer_schema(df)
    found = []
    for column in schema.columns:
        if column.kind in ("text", "identifier") or column.distinct < 2:
            continue
        tokens = _name_tokens(column.name)
        if any(_contains(tokens, pattern) for pattern in _SENSITIVE_PATTERNS):
            found.append(column.name)
    return found


def _contains(tokens: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    k = len(pattern)
    return any(tokens[i : i + k] == pattern for i in range(len(tokens) - k + 1))


def check_sensitive(df: pd.DataFrame, columns: list[str]) -> None:
    """Check that every sensitive column exists and has at least two groups.

    Raises
    ------
    DataError
        For an unknown column, an empty one, or one with a single group.
    """
    if isinstance(columns, str):
        raise TypeError("columns must be a list of column names, not a string")
    _require_columns(df, columns, "sensitive column")
    for name in columns:
        groups = _nunique(df[name])
        if groups == 0:
            raise DataError(Message("choices.empty_sensitive", column=str(name)))
        if groups == 1:
            raise DataError(Message("choices.one_group", column=str(name)))


def _require_columns(df: pd.DataFrame, names: list[str], what: str) -> None:
    missing = [n for n in names if n not in df.columns]
    if not missing:
        return
    shown = ", ".join(f"'{n}'" for n in missing)
    target, one = what == "target column", len(missing) == 1
    if target and one:
        raise DataError(Message("choices.no_target", columns=shown))
    if target:
        raise DataError(Message("choices.no_targets", columns=shown))
    if one:
        raise DataError(Message("choices.no_sensitive", columns=shown))
    raise DataError(Message("choices.no_sensitives", columns=shown))
