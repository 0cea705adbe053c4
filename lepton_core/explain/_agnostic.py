"""Model-agnostic permutation SHAP on the original columns, for any model.

SHAP's maskers work on numeric matrices, so each categorical column is turned
into integer codes from a fixed table (the model's categories, then any other
value seen in the background or the explained rows; ``-1`` for missing), and the
function SHAP calls decodes the codes back into a DataFrame for
``model.raw_output``. Permutation SHAP walks from "every column masked" to "no
column masked", so its values add up exactly to ``f(x) - mean(f(background))``
(up to shap skipping background values ``np.isclose`` to the row's own).

Every explained row costs hundreds of model calls' worth of rows, so
:func:`~lepton_core.explain.explain` explains at most ``DEFAULT_MAX_ROWS`` rows
unless told otherwise, against a seeded sample of ``BACKGROUND_ROWS``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import Message
from lepton_core.explain._base import (
    ExplainProgress,
    Explanation,
    build,
    import_shap,
    in_chunks,
    raw_space,
    sample_rows,
)

NAME = "shap.PermutationExplainer"
DEFAULT_MAX_ROWS = 200
#: Each explained row costs up to (2 * n_features + 1) * PERMUTATIONS * BACKGROUND_ROWS
#: model rows. On Adult (MLP), one forward-and-back permutation moves mean |SHAP| by
#: about 3% against eight, while halving the background moves it by about 20%, so
#: the budget goes to background rows rather than permutations.
BACKGROUND_ROWS = 100
PERMUTATIONS = 1


def supports(model: Any) -> bool:
    """Any fitted model with ``raw_output`` can be explained this way."""
    return callable(getattr(model, "raw_output", None))


class _Codec:
    """Turns a table into a float matrix (categories as codes) and back."""

    def __init__(self, model: Any, *frames: pd.DataFrame) -> None:
        self.columns = list(model.feature_names_in_)
        self.tables: dict[str, np.ndarray] = {}
        for column in model.categorical_features_:
            seen = list(model.categories_.get(column, []))
            for frame in frames:
                seen.extend(_as_text(frame[column]).dropna().unique().tolist())
            # The last slot is "missing", so that code -1 decodes to NaN by plain indexing.
            self.tables[column] = np.array([*dict.fromkeys(seen), np.nan], dtype=object)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        matrix = np.empty((len(frame), len(self.columns)))
        for j, column in enumerate(self.columns):
            if column in self.tables:
                categories = pd.CategoricalDtype(self.tables[column][:-1].tolist())
                matrix[:, j] = _as_text(frame[column]).astype(categories).cat.codes.to_numpy()
            else:
                matrix[:, j] = pd.to_numeric(frame[column], errors="coerce").to_numpy(
                    dtype=float, na_value=np.nan
                )
        return matrix

    def decode(self, matrix: np.ndarray) -> pd.DataFrame:
        data = {
            column: (
                pd.Series(self.tables[column][matrix[:, j].astype(np.intp)], dtype=object)
                if column in self.tables
                else matrix[:, j]
            )
            for j, column in enumerate(self.columns)
        }
        return pd.DataFrame(data, columns=self.columns)


def _as_text(column: pd.Series) -> pd.Series:
    # Category labels are compared as text, as the models do.
    return column.astype(str).where(column.notna())


def explain(
    model: Any,
    X: pd.DataFrame,
    background: pd.DataFrame,
    seed: int,
    progress: ExplainProgress | None = None,
) -> Explanation:
    """Permutation SHAP values of ``model`` for ``X`` against a sample of ``background``.

    ``progress`` hears after every row (each costs hundreds of model rows).
    """
    shap = import_shap()
    # The model's own output first: it rejects unusable input with a clear message.
    model_output = model.raw_output(X)
    reference = sample_rows(background, BACKGROUND_ROWS, seed)
    codec = _Codec(model, reference, X)

    def predict(matrix: np.ndarray) -> np.ndarray:
        return np.asarray(model.raw_output(codec.decode(matrix)), dtype=float)

    masker = shap.maskers.Independent(codec.encode(reference), max_samples=len(reference))
    max_evals = PERMUTATIONS * (2 * len(codec.columns) + 1)
    # shap seeds numpy's global generator; give the caller's state back afterwards.
    state = np.random.get_state()
    try:
        explainer = shap.PermutationExplainer(predict, masker, seed=seed)
        # One call per row: within one call shap 0.51 reuses the name ``main_effects``
        # for its result list, so from the second row on it also computes main
        # effects, doubling the model evaluations.
        encoded = codec.encode(X)
        results = [
            explainer(encoded[rows], max_evals=max_evals, silent=True)
            for rows in in_chunks(len(encoded), 1, progress)
        ]
    finally:
        np.random.set_state(state)
    values = np.concatenate([r.values for r in results])
    # Stopped early: the rows explained so far.
    X, model_output = X.iloc[: len(values)], model_output[: len(values)]
    # Every row shares the background mean as its base value.
    base = np.asarray(results[0].base_values, dtype=float).reshape(-1)
    return build(
        model,
        X,
        values,
        base,
        model_output,
        explainer=NAME,
        output_space=raw_space(model),
        note=Message(
            "explain.note.permutation", permutations=PERMUTATIONS, background=len(reference)
        ),
    )
