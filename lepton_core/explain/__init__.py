"""SHAP explanations of Lepton models, all returned as one :class:`Explanation`.

One private module per strategy, tried in order; each has ``supports(model)``
and ``explain(model, X, background, seed)``:

- ``_tree``: exact TreeSHAP for LightGBM and decision trees;
- ``_linear``: exact linear SHAP for logistic and linear regression;
- ``_text``: token SHAP (Partition explainer, Text masker) for text models;
- ``_agnostic``: permutation SHAP for anything else (the MLP).

Values stay in the model's raw output space (log-odds for a binary classifier);
:func:`to_probability` turns a classifier's into contributions to the predicted
probability (``_probability``), and ``_words`` says them in plain sentences.

Example
-------
>>> expl = explain(model, X_test)                            # doctest: +SKIP
>>> expl.global_importance()[:3]                              # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from lepton_core.core import ExplainError, Message, NotFittedError
from lepton_core.explain import _agnostic, _linear, _text, _tree
from lepton_core.explain._base import (
    ExplainProgress,
    Explanation,
    compile_shap,
    join_notes,
    sample_positions,
    summarize,
)
from lepton_core.explain._probability import LINK_SPACES, to_probability
from lepton_core.explain._words import (
    RowOutcome,
    friendly_name,
    key_features,
    prediction_title,
    reason_sentences,
    row_outcome,
    usual_range,
)

__all__ = [
    "LINK_SPACES",
    "ExplainProgress",
    "Explanation",
    "RowOutcome",
    "compile_shap",
    "explain",
    "friendly_name",
    "key_features",
    "prediction_title",
    "reason_sentences",
    "row_outcome",
    "rows_to_explain",
    "shap_to_compile",
    "summarize",
    "supported_explainer",
    "to_probability",
    "usual_range",
]

_STRATEGIES = (_text, _tree, _linear, _agnostic)


def _strategy(model: Any) -> Any:
    if not hasattr(model, "final_estimator_"):
        raise NotFittedError("This model has not been trained yet; train it before explaining it.")
    # A family in a higher package (images) brings its own strategy: explain never imports it.
    own = getattr(model, "explain_strategy", None)
    if own is not None:
        return own
    for strategy in _STRATEGIES:
        if strategy.supports(model):
            return strategy
    raise ValueError(f"Cannot explain a {type(model).__name__}: it has no raw_output method.")


def supported_explainer(model: Any) -> str:
    """Name of the SHAP algorithm :func:`explain` would use for ``model``."""
    return _strategy(model).NAME


def shap_to_compile(model: Any) -> str | None:
    """Which of shap's explainers with numba code explaining ``model`` runs (``"partition"``
    for text models, ``"permutation"`` for model-agnostic SHAP), or None: each process
    compiles that code the first time it is used (seconds; :func:`compile_shap` does it
    ahead)."""
    strategy = _strategy(model)
    return {_text: "partition", _agnostic: "permutation"}.get(strategy)


def rows_to_explain(model: Any, n_rows: int, max_rows: int | None = None) -> int:
    """How many of ``n_rows`` rows :func:`explain` would explain with ``max_rows``."""
    limit = _strategy(model).DEFAULT_MAX_ROWS if max_rows is None else max_rows
    return min(n_rows, limit)


def _model_columns(model: Any, frame: pd.DataFrame, what: Message) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}.")
    columns = list(model.feature_names_in_)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        raise ExplainError(Message("explain.error.columns", what=what, columns=names))
    if frame.empty:
        raise ExplainError(Message("explain.error.no_rows", what=what))
    return frame[columns]


def explain(
    model: Any,
    X: pd.DataFrame,
    *,
    background: pd.DataFrame | None = None,
    max_rows: int | None = None,
    seed: int = 0,
    progress: ExplainProgress | None = None,
) -> Explanation:
    """Compute SHAP values of a fitted model for the rows of ``X``.

    Parameters
    ----------
    model : LeptonModel
        A fitted model from :func:`lepton_core.models._base.make_model`.
    X : DataFrame
        Rows to explain, with at least the model's columns (others are ignored).
    background : DataFrame, optional
        Reference rows the explanation is relative to (a sample of the training
        data is best); defaults to ``X``. Tree and text models do not need one.
    max_rows : int, optional
        Explain a seeded sample of at most this many rows; defaults to 2,000, or
        200 for model-agnostic SHAP and 20 for text models, which cost far more
        per row.
    seed : int
        Seed for row and background sampling and for the permutations.
    progress : callable, optional
        ``progress(done, total)`` with the rows explained so far: once with 0 before
        the work starts, then after each chunk (a few hundred rows for exact SHAP, one
        row or text for the costly strategies). Chunks do not change the values. If it
        returns True after a chunk, explaining stops and the rows done so far are returned.

    Returns
    -------
    Explanation
        Values on the original columns, in the model's raw output space (see
        :func:`to_probability` for chances); ``note`` says when the rows are a
        sample (or explaining was stopped) and ``positions`` which rows of ``X`` they are.

    Raises
    ------
    ExplainError
        If ``X`` or ``background`` lacks model columns or has no rows.
    NotFittedError
        If the model has not been trained.
    """
    strategy = _strategy(model)
    if max_rows is None:
        max_rows = strategy.DEFAULT_MAX_ROWS
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}.")
    X = _model_columns(model, X, Message("explain.error.data"))
    if background is not None:
        background = _model_columns(model, background, Message("explain.error.background"))
    else:
        background = X
    positions = sample_positions(len(X), max_rows, seed)
    rows = X if len(positions) == len(X) else X.iloc[positions]
    if progress is not None:
        progress(0, len(rows))  # the count starts; a stop request counts from the first chunk
    expl = strategy.explain(model, rows, background, seed, progress)
    expl.positions = positions[: len(expl.values)].tolist()
    expl.note = join_notes(
        Message("explain.note.sample", rows=len(rows), total=len(X)) if len(rows) < len(X) else "",
        Message("explain.note.stopped", done=len(expl.values), rows=len(rows))
        if len(expl.values) < len(rows)
        else "",
        expl.note,
    )
    return expl
