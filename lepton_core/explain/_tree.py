"""Exact TreeSHAP for LightGBM boosters and scikit-learn decision trees.

No background data is used (``feature_perturbation="tree_path_dependent"``):
it is the only mode in which SHAP accepts LightGBM's categorical splits, and it
is exact and fast. LightGBM is explained on its own input, ``model.transform``
(each category as the code it was trained with). Decision trees are explained on the one-hot
columns and the parts are summed back onto the original columns.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.explain._base import (
    RAW_SPACE,
    ExplainProgress,
    Explanation,
    build,
    import_shap,
    in_chunks,
    take_rows,
    to_original,
)

NAME = "shap.TreeExplainer"
DEFAULT_MAX_ROWS = 2000
#: Rows per progress report: about 0.3 s of TreeSHAP for LightGBM's defaults on Adult
#: (a job writes its progress every 0.5 s). Smaller chunks cost LightGBM's threads more.
CHUNK_ROWS = 500


def _is_booster(estimator: Any) -> bool:
    import lightgbm

    return isinstance(estimator, lightgbm.Booster)


def _is_sklearn_tree(estimator: Any) -> bool:
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    return isinstance(estimator, (DecisionTreeClassifier, DecisionTreeRegressor))


def supports(model: Any) -> bool:
    """Whether the model's final estimator is a LightGBM booster or a decision tree."""
    estimator = getattr(model, "final_estimator_", None)
    return _is_booster(estimator) or _is_sklearn_tree(estimator)


def explain(
    model: Any,
    X: pd.DataFrame,
    background: pd.DataFrame,
    seed: int,
    progress: ExplainProgress | None = None,
) -> Explanation:
    """TreeSHAP values of ``model`` for the rows of ``X`` (``background`` and ``seed`` unused).

    Rows are explained ``CHUNK_ROWS`` at a time, ``progress`` hearing after each chunk;
    TreeSHAP is exact per row, so the chunks give the values of one call.
    """
    shap = import_shap()
    estimator = model.final_estimator_
    # scikit-learn classifier trees hold class frequencies, so SHAP explains probabilities.
    explains_proba = _is_sklearn_tree(estimator) and model.task != "regression"
    # The model's own output first: it rejects unusable input with a clear message.
    if explains_proba:
        model_output = np.asarray(model.predict_proba(X), dtype=float)
    else:
        model_output = model.raw_output(X)
    explainer = shap.TreeExplainer(estimator, model_output="raw")
    inputs = model.transform(X)
    parts = []
    with warnings.catch_warnings():
        # shap warns on every LightGBM binary model that its output format changed years ago.
        warnings.filterwarnings("ignore", "LightGBM binary classifier", UserWarning)
        for rows in in_chunks(len(X), CHUNK_ROWS, progress):
            parts.append(to_original(model, explainer.shap_values(take_rows(inputs, rows))))
    values = np.concatenate(parts)
    # Stopped early: the rows explained so far.
    X, model_output = X.iloc[: len(values)], model_output[: len(values)]
    base = np.asarray(explainer.expected_value, dtype=float).reshape(-1)
    if explains_proba and model.task == "binary":
        # One output, the positive class, as for every other binary model.
        values, base, model_output = values[:, :, 1:], base[1:], model_output[:, 1:]
    space = "probability" if explains_proba else RAW_SPACE[model.task]
    return build(model, X, values, base, model_output, explainer=NAME, output_space=space)
