"""Tables, columns and targets in the one form every family takes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import DataError, ModelError

__all__ = [
    "as_float",
    "as_frame",
    "as_text",
    "is_numeric",
    "jsonable",
    "probabilities_from_raw",
    "target_values",
]


def as_frame(X: Any, columns: list[str] | None = None) -> pd.DataFrame:
    """``X`` as a DataFrame with string column names; arrays take ``columns`` by position."""
    if not isinstance(X, pd.DataFrame):
        array = np.asarray(X)
        if array.ndim != 2:
            raise ValueError(f"X must be a table (2-D), got an array of shape {array.shape}.")
        if columns is not None and array.shape[1] != len(columns):
            raise ModelError(
                f"The input has {array.shape[1]} columns but the model needs {len(columns)}; "
                "send every column the model was trained on."
            )
        names = columns if columns is not None else [f"x{i}" for i in range(array.shape[1])]
        X = pd.DataFrame(array, columns=names)
    X = X.rename(columns=str) if not all(isinstance(c, str) for c in X.columns) else X
    if X.columns.has_duplicates:
        duplicate = X.columns[X.columns.duplicated()][0]
        raise DataError(f"The table has more than one column named '{duplicate}'; rename them.")
    return X


def is_numeric(column: pd.Series) -> bool:
    # Booleans count as numbers (0/1); category dtypes are text even with numeric labels.
    return pd.api.types.is_numeric_dtype(column.dtype)


def as_float(column: pd.Series, name: str) -> np.ndarray:
    if is_numeric(column):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    numbers = pd.to_numeric(column, errors="coerce")
    given = column.notna() & (column.astype(str).str.strip() != "")
    bad = numbers.isna() & given
    if bad.any():
        raise ModelError(
            f"Column '{name}' has values that are not numbers, such as {column[bad].iloc[0]!r}; "
            "send numbers or leave the cell empty."
        )
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


def as_text(column: pd.Series) -> pd.Series:
    present = column.notna().to_numpy()
    out = np.full(len(column), np.nan, dtype=object)
    out[present] = column[present].astype(str).to_numpy(dtype=object)
    return pd.Series(out, index=column.index, dtype=object)


def probabilities_from_raw(raw: np.ndarray) -> np.ndarray:
    """Class probabilities from raw scores: the logistic for binary log-odds, else softmax."""
    from scipy.special import expit, softmax

    if raw.ndim == 1:
        positive = expit(raw)
        return np.column_stack([1.0 - positive, positive])
    return softmax(raw, axis=1)


def target_values(y: Any) -> np.ndarray:
    values = y.to_numpy() if hasattr(y, "to_numpy") else np.asarray(y)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"y must be one column, got shape {values.shape}.")
    return values


def jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, np.generic):
        return value.item()
    return value
