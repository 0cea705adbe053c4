"""Exact linear SHAP for logistic and linear regression.

For a linear model with independent features the SHAP value of column ``j`` is
``coef_j * (x_j - mean_j)`` over a background mean, which is what
``shap.LinearExplainer`` computes with an ``Independent`` masker. The model is
explained on its own input (scaled, one-hot columns) and the one-hot parts are
summed back onto the original columns; the values add up to the decision
function (log-odds for a binary classifier).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lepton_core.explain._base import (
    ExplainProgress,
    Explanation,
    build,
    import_shap,
    in_chunks,
    raw_space,
    sample_rows,
    take_rows,
    to_original,
)

NAME = "shap.LinearExplainer (exact)"
DEFAULT_MAX_ROWS = 2000
#: Rows per progress report; linear SHAP is one product per row, so chunks are large.
CHUNK_ROWS = 500
#: Only the background mean matters, so a large sample is cheap and steadies it.
BACKGROUND_ROWS = 5000


def supports(model: Any) -> bool:
    """Whether the model's final estimator is a scikit-learn linear model."""
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

    estimator = getattr(model, "final_estimator_", None)
    return isinstance(estimator, (LinearRegression, LogisticRegression, Ridge))


def explain(
    model: Any,
    X: pd.DataFrame,
    background: pd.DataFrame,
    seed: int,
    progress: ExplainProgress | None = None,
) -> Explanation:
    """Exact SHAP values of ``model`` for ``X`` against the mean of ``background``.

    Rows are explained ``CHUNK_ROWS`` at a time, ``progress`` hearing after each chunk.
    """
    shap = import_shap()
    # The model's own output first: it rejects unusable input with a clear message.
    model_output = model.raw_output(X)
    reference = model.transform(sample_rows(background, BACKGROUND_ROWS, seed))
    masker = shap.maskers.Independent(reference, max_samples=len(reference))
    explainer = shap.LinearExplainer(model.final_estimator_, masker)
    inputs = model.transform(X)
    values = np.concatenate(
        [
            to_original(model, explainer.shap_values(take_rows(inputs, rows)))
            for rows in in_chunks(len(X), CHUNK_ROWS, progress)
        ]
    )
    # Stopped early: the rows explained so far.
    X, model_output = X.iloc[: len(values)], model_output[: len(values)]
    return build(
        model,
        X,
        values,
        explainer.expected_value,
        model_output,
        explainer=NAME,
        output_space=raw_space(model),
    )
