"""Batch scoring: a whole table back with prediction, probability and top SHAP reasons per row.

The same schema checks as the REST API apply (every model column present,
numbers where numbers are expected); rows are scored in chunks so a caller can
show progress for a large file.

Every CSV Lepton writes goes through :func:`to_csv`, which escapes text cells a
spreadsheet would run as a formula (OWASP's CSV injection guidance).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import DataError
from lepton_core.explain import explain
from lepton_core.models import LeptonModel
from lepton_core.runs._scoring import ModelBundle
from lepton_core.workspace import PredictionLog

__all__ = ["MAX_BATCH_ROWS", "predict_frame", "score_table", "to_csv", "write_table"]

MAX_BATCH_ROWS = 1_000_000
_CHUNK = 2_000
# A cell starting with one of these is a formula (or becomes one) in Excel, LibreOffice
# and Google Sheets; OWASP's CSV injection guidance lists exactly these.
_FORMULA_START = frozenset("=+-@\t\r")
# Text that is a plain number ("-3", "+1.5e3") is no formula and stays as it is.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


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
    log: PredictionLog | None = None,
    caller: str = "",
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
    log : PredictionLog, optional
        Log each chunk's predictions there (source ``batch``, each row with its share of
        the chunk's time); None logs nothing.
    caller : str
        Who scored the table, for the log: an API key id or a user.

    Returns
    -------
    DataFrame
        ``table`` with ``prediction``, ``probability`` (of the predicted class; absent
        for regression) and ``reason_1`` .. ``reason_<top>`` columns added, and with a
        ``log`` the ``prediction_id`` of each row, to send its true answer back with.

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
    ids: list[str] = []
    for start in range(0, n, chunk_size):
        started = time.perf_counter()
        part = features.iloc[start : start + chunk_size]
        part_labels, proba = predict_frame(model, part)
        labels += part_labels
        part_chosen = None
        if proba is not None:
            index = {c: i for i, c in enumerate(model.classes_)}
            part_chosen = [float(proba[i, index[label]]) for i, label in enumerate(part_labels)]
            chosen += part_chosen
        expl = explain(model, part, background=bundle.background, max_rows=len(part))
        for i, label in enumerate(part_labels):
            # Multiclass models explain every class: give the reasons for the predicted one.
            output = str(label) if str(label) in expl.outputs else 0
            reasons.append([_reason(*r) for r in expl.row(i, output)[:top]])
        if log is not None:
            seconds = time.perf_counter() - started
            rows = table.iloc[start : start + chunk_size]
            ids += _logged(bundle, rows, part_labels, part_chosen, log, caller, seconds)
        if progress is not None:
            progress(min(start + chunk_size, n), n)
    out = table.copy()
    out["prediction"] = labels
    if chosen:
        out["probability"] = chosen
    for k in range(top):
        out[f"reason_{k + 1}"] = [r[k] if k < len(r) else None for r in reasons]
    if log is not None:
        out["prediction_id"] = ids
    return out


def _logged(
    bundle: ModelBundle,
    rows: pd.DataFrame,
    labels: list[Any],
    chosen: list[float] | None,
    log: PredictionLog,
    caller: str,
    seconds: float,
) -> list[str]:
    """Log one scored chunk: the model's input columns as sent, each row with its share
    of the chunk's time (waiting for room rather than dropping: nobody waits on a row)."""
    return log.record(
        bundle.version.name,
        bundle.version.version,
        rows[bundle.input_schema.names].to_dict("records"),
        labels,
        chosen,
        source="batch",
        caller=caller,
        latency_ms=seconds * 1000 / max(len(rows), 1),
        wait=True,
    )


def _defused(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in _FORMULA_START:
        return value if _PLAIN_NUMBER.fullmatch(value) else "'" + value
    return value


def _defuse_formulas(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with a ``'`` before every text cell (and column name) that starts with
    ``=``, ``+``, ``-``, ``@``, a tab or a carriage return; numbers are left alone."""
    out = table.copy(deep=False)
    out.columns = [_defused(c) for c in table.columns]
    for j, dtype in enumerate(table.dtypes):
        if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype):
            continue
        values = table.iloc[:, j].to_numpy(dtype=object)
        escaped = [_defused(v) for v in values]
        if any(a is not b for a, b in zip(escaped, values, strict=True)):
            out.isetitem(j, pd.Series(escaped, index=table.index, dtype=object))
    return out


def to_csv(table: pd.DataFrame, path: str | Path | None = None, *, sep: str = ",") -> str | None:
    """Write ``table`` as CSV (no index) to ``path``, or return the text when ``path`` is None.

    Every CSV Lepton writes (REST batch scoring, ``lepton predict``, the Deploy page's
    download) comes from here. A text cell or column name that starts with ``=``, ``+``,
    ``-``, ``@``, a tab or a carriage return gets a leading ``'``, so a spreadsheet shows
    it as text instead of running it as a formula (OWASP CSV injection guidance). Number
    cells, and text that is a plain number such as ``"-3"``, are written unchanged. Rows
    end in CRLF (RFC 4180), so a cell holding a line break or a lone carriage return is
    quoted and cannot start a new row in a spreadsheet.
    """
    return _defuse_formulas(table).to_csv(path, index=False, sep=sep, lineterminator="\r\n")


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a scored table as CSV, Parquet or JSON Lines, by the file's extension.

    CSV and TSV go through :func:`to_csv` (formula-like text cells escaped); Parquet and
    JSON Lines keep every value as it is.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            table.to_parquet(path, index=False)
        elif suffix in (".jsonl", ".json"):
            table.to_json(path, orient="records", lines=True)
        elif suffix in (".csv", ".tsv", ".txt", ""):
            to_csv(table, path, sep="\t" if suffix == ".tsv" else ",")
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
