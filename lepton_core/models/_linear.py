"""The ``logistic`` family: logistic regression, or ridge regression for numbers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import Message, Task, is_classification
from lepton_core.models._base import Setting
from lepton_core.models._pipeline import PipelineModel

__all__ = ["LinearModel"]


class LinearModel(PipelineModel):
    """One-hot + standardised inputs into logistic regression (or ridge for numbers).

    ``C`` is the inverse regularisation of the logistic regression, ``alpha``
    the ridge penalty; each applies to its task only.
    """

    family = "logistic"
    title = Message("family.logistic")
    searchable = searched_by_default = True
    settings = (
        Setting(
            "C",
            Message("setting.logistic.C"),
            1.0,
            0.001,
            1000.0,
            help=Message("setting.logistic.C.help"),
        ),
    )

    def __init__(
        self,
        task: Task = "binary",
        seed: int = 0,
        C: float = 1.0,
        alpha: float = 1.0,
        max_iter: int = 1000,
        max_categories: int | None = 50,
    ) -> None:
        self.task = task
        self.seed = seed
        self.C = C
        self.alpha = alpha
        self.max_iter = max_iter
        self.max_categories = max_categories

    @classmethod
    def search_space(cls, trial: Any, task: Task) -> dict[str, Any]:
        # C regularises the logistic regression, alpha the ridge: each for its task only.
        if is_classification(task):
            return {"C": trial.suggest_float("lr_C", 1e-3, 100.0, log=True)}
        return {"alpha": trial.suggest_float("lr_alpha", 1e-3, 100.0, log=True)}

    def _make_estimator(self) -> Any:
        from sklearn.linear_model import LogisticRegression, Ridge

        if is_classification(self.task):
            return LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.seed)
        return Ridge(alpha=self.alpha, random_state=self.seed)

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        inputs = self._transform(X)
        if is_classification(self.task):
            return self.final_estimator_.decision_function(inputs)
        return self.final_estimator_.predict(inputs)
