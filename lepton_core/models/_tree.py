"""The ``tree`` family: one shallow decision tree whose rules a person can read."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import Message, Task, is_classification
from lepton_core.models._base import Setting
from lepton_core.models._pipeline import PipelineModel

__all__ = ["TreeModel"]


class TreeModel(PipelineModel):
    """A shallow decision tree whose rules a person can read (see :meth:`rules`)."""

    family = "tree"
    title = Message("family.tree")
    searchable = searched_by_default = True
    settings = (
        Setting(
            "max_depth",
            Message("setting.tree.max_depth"),
            5,
            1,
            20,
            help=Message("setting.tree.max_depth.help"),
        ),
    )
    margin = "probability"
    _scale = False  # thresholds in the rules stay in the data's own units

    def __init__(
        self,
        task: Task = "binary",
        seed: int = 0,
        max_depth: int | None = 5,
        min_samples_leaf: int = 20,
        max_categories: int | None = 50,
    ) -> None:
        self.task = task
        self.seed = seed
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_categories = max_categories

    @classmethod
    def search_space(cls, trial: Any, task: Task) -> dict[str, Any]:
        return {
            "max_depth": trial.suggest_int("tree_max_depth", 2, 12),
            "min_samples_leaf": trial.suggest_int("tree_min_samples_leaf", 1, 200, log=True),
        }

    def _make_estimator(self) -> Any:
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        cls = DecisionTreeClassifier if is_classification(self.task) else DecisionTreeRegressor
        return cls(
            max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf, random_state=self.seed
        )

    def _proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.final_estimator_.predict_proba(self._transform(X))

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        if not is_classification(self.task):
            return self.final_estimator_.predict(self._transform(X))
        proba = self._proba(X)
        return proba[:, 1] if self.task == "binary" else proba

    def rules(self) -> str:
        """The tree as indented if/else rules with the original column names."""
        from sklearn.tree import export_text

        self._check_fitted()
        class_names = [str(c) for c in self.classes_] if is_classification(self.task) else None
        text = export_text(
            self.final_estimator_,
            feature_names=self.feature_names_out_,
            class_names=class_names,
            decimals=2,
        )
        # A one-hot split at 0.5 reads better as "column is / is not value".
        for column in self.categorical_features_:
            for i in self.feature_groups_[column]:
                name = self.feature_names_out_[i]
                value = name[len(column) + len(" = ") :]
                text = text.replace(f"--- {name} <= 0.50\n", f"--- {column} is not {value}\n")
                text = text.replace(f"--- {name} >  0.50\n", f"--- {column} is {value}\n")
        return text
