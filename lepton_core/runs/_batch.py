"""Batch scoring: a whole table back with prediction, probability and top SHAP reasons per row.

The same schema checks as the REST API apply (every model column present,
numbers where numbers are expected); rows are scored in chunks so a caller can
show progress for a large file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import DataError
from lepton_core.explain import explain
from lepton_core.models import LeptonModel
from lepton_core.runs._scoring import ModelBundle

__all__ = ["MAX_BATCH_ROWS", "predict_frame", "score_table", "write_table"]

MAX_BATCH_ROWS = 1_000_000
_CHUNK = 2_000


def predict_frame(
    model: LeptonModel, features: pd.DataFrame
) -> tuple[list[Any], np.ndarray | None]:
    """Labels (as plain Python values) and class probabilities (None for regression)."""
    values, proba = model.predict_scored(features)
    return [v.item() if hasattr(v, "item") else v for v in values], proba


def _reason(feature: str, value: Any, contribution: float) -> str:
    shown = "missing" if value is None or (isinstance(value, float) and np.isnan(value)) else value
    return f"{feature}={shown} ({contribution:+.3f})"


def score_table(
    bundle: ModelBundle,
    table: pd.DataFrame,
    *,
    top: int = 3,
    chunk_size: int = _CHUNK,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Score every row of ``table`` and explain it.

    Parameters
    ----------
    bundle : ModelBundle
        The model version with its input schema and background sample.
    table : DataFrame
        Rows to score; it needs every column the model was trained on (others are kept
        in the output, untouched).
    top : int
        How many SHAP reasons to give per row (largest absolute contribution first).
    chunk_size : int
        Rows scored per step.
    progress : callable, optional
        Called as ``progress(done_rows, total_rows)`` after each chunk.

    Returns
    -------
    DataFrame
        ``table`` with ``prediction``, ``probability`` (of the predicted class; absent
        for regression) and ``reason_1`` .. ``reason_<top>`` columns added.

    Raises
    ------
    DataError
        The table is empty, too large, lacks a model column or has a non-number where
        a number is expected.
    """
    if top < 1 or chunk_size < 1:
        raise ValueError("top and chunk_size must be at least 1.")
    if table.empty:
        raise DataError("The table has no rows; upload a file with at least one data row.")
    if len(table) > MAX_BATCH_ROWS:
        raise DataError(
            f"The table has {len(table):,} rows, over the limit of {MAX_BATCH_ROWS:,}; "
            "split it into smaller files."
        )
    features = bundle.input_schema.prepare(table)
    model = bundle.model
    n = len(features)
    labels: list[Any] = []
    chosen: list[float] = []
    reasons: list[list[str]] = []
    for start in range(0, n, chunk_size):
        part = features.iloc[start : start + chunk_size]
        part_labels, proba = predict_frame(model, part)
        labels += part_labels
        if proba is not None:
            index = {c: i for i, c in enumerate(model.classes_)}
            chosen += [float(proba[i, index[label]]) for i, label in enumerate(part_labels)]
        expl = explain(model, part, background=bundle.background, max_rows=len(part))
        for i, label in enumerate(part_labels):
            # Multiclass models explain every class: give the reasons for the predicted one.
            output = str(label) if str(label) in expl.outputs else 0
            reasons.append([_reason(*r) for r in expl.row(i, output)[:top]])
        if progress is not None:
            progress(min(start + chunk_size, n), n)
    out = table.copy()
    out["prediction"] = labels
    if chosen:
        out["probability"] = chosen
    for k in range(top):
        out[f"reason_{k + 1}"] = [r[k] if k < len(r) else None for r in reasons]
    return out


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a scored table as CSV, Parquet or JSON Lines, by the file's extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            table.to_parquet(path, index=False)
        elif suffix in (".jsonl", ".json"):
            table.to_json(path, orient="records", lines=True)
        elif suffix in (".csv", ".tsv", ".txt", ""):
            table.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
        else:
            raise DataError(
                f"'{path.name}' has an unknown extension; name the output .csv, .tsv, "
                ".parquet or .jsonl."
            )
    except OSError as exc:
        raise DataError(
            f"The output {path} cannot be written ({exc.strerror}); pick a folder you can write to."
        ) from exc
    return path
