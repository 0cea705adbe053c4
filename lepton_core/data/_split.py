"""Model-ready features and seeded train, validation and test splits of a table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from lepton_core.core import DataError, Task, is_classification
from lepton_core.data._choices import check_target
from lepton_core.data._schema import _EPOCH, Schema, _to_datetime, _with_str_columns

__all__ = ["DataSplit", "prepare_features", "split_table"]

_TRUE_WORDS = frozenset({"true", "yes", "y", "t", "1", "1.0"})
_FALSE_WORDS = frozenset({"false", "no", "n", "f", "0", "0.0"})


@dataclass
class DataSplit:
    """Train, validation and test parts of a table (index reset, target never missing)."""

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame


# --------------------------------------------------------------------------- features


def prepare_features(df: pd.DataFrame, schema: Schema, target: str | None) -> pd.DataFrame:
    """The feature columns of ``df`` in model-ready dtypes.

    Numeric columns become ``float64`` (unparseable values missing); boolean
    columns become the strings ``"true"``/``"false"``; categorical columns
    become ``str`` with missing values as NaN; datetimes become float days
    since 1970-01-01 UTC under the same name. Text and identifier columns
    and ``target`` are left out.

    Raises
    ------
    DataError
        If ``df`` lacks a feature column of ``schema``.
    """
    df = _with_str_columns(df)
    names = schema.feature_columns(target)
    missing = [n for n in names if n not in df.columns]
    if missing:
        shown = ", ".join(f"'{n}'" for n in missing)
        raise DataError(
            f"The table is missing the column{'s' if len(missing) > 1 else ''} {shown}; provide "
            "every column the model was trained on"
        )
    out = {}
    for name in names:
        kind = schema.kind(name)
        s = df[name]
        if kind == "numeric":
            out[name] = _numeric_feature(s)
        elif kind == "boolean":
            out[name] = _boolean_feature(s)
        elif kind == "datetime":
            dayfirst = schema.column(name).dayfirst  # as the training table was read
            out[name] = (_to_datetime(s, dayfirst) - _EPOCH) / pd.Timedelta(days=1)
        else:
            out[name] = _categorical_feature(s)
    return pd.DataFrame(out, index=df.index, columns=names)


def _numeric_feature(s: pd.Series) -> pd.Series:
    if ptypes.is_bool_dtype(s.dtype):
        return s.astype("float64")
    return pd.to_numeric(s, errors="coerce").astype("float64")


def _boolean_feature(s: pd.Series) -> pd.Series:
    words = s.astype(object).map(lambda v: str(v).strip().lower(), na_action="ignore")
    out = pd.Series(np.nan, index=s.index, dtype="str")
    out[words.isin(_TRUE_WORDS)] = "true"
    out[words.isin(_FALSE_WORDS)] = "false"
    return out


def _categorical_feature(s: pd.Series) -> pd.Series:
    if ptypes.is_float_dtype(s.dtype):
        whole = s.dropna()
        exact = np.all(np.isfinite(whole)) and np.all(np.abs(whole) < 2**53)
        if exact and np.all(whole == np.round(whole)):
            s = s.astype("Int64")  # 3.0 -> "3", as the user wrote it; 1e308 stays "1e+308"
    return s.astype("str")


# --------------------------------------------------------------------------- split


def split_table(
    df: pd.DataFrame,
    target: str,
    *,
    task: Task,
    test: pd.DataFrame | None = None,
    test_size: float = 0.2,
    valid_size: float = 0.1,
    seed: int = 0,
) -> DataSplit:
    """Split a table into train, validation and test parts.

    Rows without a target value are dropped. Classification splits are
    stratified by the target; all splits are seeded. With ``test`` given, the
    train and validation parts come from ``df`` and ``test`` is used as is,
    after dropping unlabelled rows and mapping labels that differ from the
    training labels only by a trailing ``.`` or whitespace (``>50K.``).

    Parameters
    ----------
    df : pandas.DataFrame
        The training table.
    target : str
        Column to predict.
    task : {"binary", "multiclass", "regression"}
        The task, as returned by :func:`check_target`.
    test : pandas.DataFrame, optional
        A separate test table with (at least) the columns of ``df``.
    test_size, valid_size : float
        Shares of the labelled rows for testing (ignored with ``test``) and validation.
    seed : int
        Seed of the shuffle.

    Raises
    ------
    DataError
        If the target is unusable (see :func:`check_target`), or the test table
        lacks columns, labels or labels in common with the training data.
    """
    if not (0 <= test_size < 1 and 0 <= valid_size < 1 and test_size + valid_size < 1):
        raise ValueError("test_size and valid_size must be in [0, 1) and sum to less than 1")
    task = check_target(df, target, task)
    labelled = df[df[target].notna()].reset_index(drop=True)
    stratify = labelled[target] if is_classification(task) else None
    rng = np.random.default_rng(seed)
    train_pos, valid_pos, test_pos = _split_positions(
        len(labelled), stratify, 0.0 if test is not None else test_size, valid_size, rng
    )
    train = labelled.iloc[train_pos].reset_index(drop=True)
    valid = labelled.iloc[valid_pos].reset_index(drop=True)
    if test is None:
        test_part = labelled.iloc[test_pos].reset_index(drop=True)
    else:
        test_part = _prepare_test(
            test, df, target, labelled[target] if stratify is not None else None
        )
    return DataSplit(train=train, valid=valid, test=test_part)


def _split_positions(
    n: int, labels: pd.Series | None, test_size: float, valid_size: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if labels is None:
        groups = [np.arange(n)]
    else:
        codes, _ = pd.factorize(labels)
        groups = [np.flatnonzero(codes == k) for k in range(codes.max() + 1)]
    parts: tuple[list, list, list] = ([], [], [])
    for group in groups:
        shuffled = rng.permutation(group)
        m = len(shuffled)
        # Every class with two rows gets one in test, with three one in validation too.
        n_test = max(round(m * test_size), 1 if test_size > 0 and m >= 2 else 0)
        n_valid = max(round(m * valid_size), 1 if valid_size > 0 and m >= 3 else 0)
        while m - n_test - n_valid < 1 and n_test + n_valid > 0:
            if n_valid >= n_test:
                n_valid -= 1
            else:
                n_test -= 1
        parts[2].append(shuffled[:n_test])
        parts[1].append(shuffled[n_test : n_test + n_valid])
        parts[0].append(shuffled[n_test + n_valid :])
    return tuple(np.sort(np.concatenate(p)).astype(int) for p in parts)  # type: ignore[return-value]


def _prepare_test(
    test: pd.DataFrame, df: pd.DataFrame, target: str, train_labels: pd.Series | None
) -> pd.DataFrame:
    missing = [str(c) for c in df.columns if c not in test.columns]
    if missing:
        shown = ", ".join(f"'{c}'" for c in missing)
        raise DataError(
            f"The test table is missing the column{'s' if len(missing) > 1 else ''} {shown}; "
            "upload a test file with the same columns as the training data"
        )
    out = test.loc[test[target].notna(), list(df.columns)].reset_index(drop=True)
    if out.empty:
        raise DataError(
            f"The test table has no rows with a value in the target column '{target}'; upload a "
            "test file with labels"
        )
    if train_labels is not None:
        out[target] = _align_labels(train_labels, out[target], target)
    return out


def _label_key(value: object) -> str:
    return str(value).strip().rstrip(".").strip()


def _align_labels(train_y: pd.Series, test_y: pd.Series, target: str) -> pd.Series:
    known = pd.unique(train_y)
    known_set = set(known)
    by_key: dict[str, object] = {}
    for label in known:
        by_key.setdefault(_label_key(label), label)
    mapping = {
        u: by_key[_label_key(u)]
        for u in pd.unique(test_y)
        if u not in known_set and _label_key(u) in by_key
    }
    aligned = test_y
    if mapping:
        aligned = test_y.astype(object).map(lambda v: mapping.get(v, v))
        if aligned.isin(known_set).all():
            aligned = aligned.astype(train_y.dtype)
    if not aligned.isin(known_set).any():
        seen = ", ".join(f"'{v}'" for v in pd.unique(test_y)[:3])
        expected = ", ".join(f"'{v}'" for v in known[:3])
        raise DataError(
            f"None of the test labels in '{target}' ({seen}) match the training labels "
            f"({expected}); use the same labels in both files"
        )
    return aligned
