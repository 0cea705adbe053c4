"""The ``lightgbm`` family: gradient-boosted trees with native categorical splits."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lepton_core.core import Message, Task, is_classification
from lepton_core.models._base import LeptonModel, ProgressFn, Setting
from lepton_core.models._columns import probabilities_from_raw
from lepton_core.models._onnx import OPSET

if TYPE_CHECKING:
    from lepton_core.data import InputSchema

__all__ = ["LightGBMModel"]


class LightGBMModel(LeptonModel):
    """Gradient-boosted trees with native categorical splits (LightGBM).

    Defaults are LightGBM's own. Early stopping on the validation set (or a
    seeded 10% hold-out) only when ``early_stopping_rounds`` is set.
    """

    family = "lightgbm"
    title = Message("family.lightgbm")
    searchable = searched_by_default = True
    # Trials tried before the sampler's own: LightGBM's defaults (with early stopping), so
    # Auto never ranks below them, then configurations that do well on many tables
    # (a small "portfolio", as FLAML and AutoGluon start from): slower learning with
    # row and column subsampling. With a short budget they matter more than sampling.
    search_portfolio = (
        {
            "lgb_learning_rate": 0.1,
            "lgb_num_leaves": 31,
            "lgb_min_child_samples": 20,
            "lgb_subsample": 1.0,
            "lgb_colsample_bytree": 1.0,
            "lgb_reg_lambda": 1e-3,
        },
        {
            "lgb_learning_rate": 0.05,
            "lgb_num_leaves": 31,
            "lgb_min_child_samples": 20,
            "lgb_subsample": 0.8,
            "lgb_colsample_bytree": 0.6,
            "lgb_reg_lambda": 1.0,
        },
        {
            "lgb_learning_rate": 0.05,
            "lgb_num_leaves": 64,
            "lgb_min_child_samples": 50,
            "lgb_subsample": 0.8,
            "lgb_colsample_bytree": 0.5,
            "lgb_reg_lambda": 3.0,
        },
    )
    settings = (
        Setting(
            "n_estimators",
            Message("setting.lightgbm.n_estimators"),
            100,
            10,
            5000,
            step=10,
            help=Message("setting.lightgbm.n_estimators.help"),
        ),
        Setting(
            "learning_rate",
            Message("setting.lightgbm.learning_rate"),
            0.1,
            0.001,
            1.0,
            format="%.3f",
            help=Message("setting.lightgbm.learning_rate.help"),
        ),
        Setting(
            "num_leaves",
            Message("setting.lightgbm.num_leaves"),
            31,
            2,
            1024,
            help=Message("setting.lightgbm.num_leaves.help"),
        ),
    )

    def __init__(
        self,
        task: Task = "binary",
        seed: int = 0,
        n_estimators: int = 100,
        learning_rate: float = 0.1,
        num_leaves: int = 31,
        max_depth: int = -1,
        min_child_samples: int = 20,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        reg_lambda: float = 0.0,
        early_stopping_rounds: int | None = None,
        num_threads: int = 0,
    ) -> None:
        self.task = task
        self.seed = seed
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.num_threads = num_threads

    @classmethod
    def search_space(cls, trial: Any, task: Task) -> dict[str, Any]:
        # Many rounds with early stopping on validation: the search tunes the rest.
        return {
            "n_estimators": 5000,
            "early_stopping_rounds": 50,
            "learning_rate": trial.suggest_float("lgb_learning_rate", 0.01, 0.3, log=True),
            "num_leaves": trial.suggest_int("lgb_num_leaves", 8, 256, log=True),
            "min_child_samples": trial.suggest_int("lgb_min_child_samples", 5, 200, log=True),
            "subsample": trial.suggest_float("lgb_subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("lgb_colsample_bytree", 0.3, 1.0),
            "reg_lambda": trial.suggest_float("lgb_reg_lambda", 1e-3, 10.0, log=True),
        }

    @classmethod
    def refit_params(cls, params: dict[str, Any], rounds: int | None) -> dict[str, Any] | None:
        # The boosting rounds early stopping chose in the trial: no validation is left.
        if not rounds:
            return None
        return {**params, "n_estimators": int(rounds), "early_stopping_rounds": None}

    def to_onnx(self) -> tuple[bytes, str]:
        """The booster through onnxmltools; its input is :meth:`transform`'s code matrix."""
        from onnxmltools import convert_lightgbm
        from onnxmltools.convert.common.data_types import FloatTensorType

        self._check_fitted()
        onx = convert_lightgbm(
            self.final_estimator_,
            initial_types=[("input", FloatTensorType([None, len(self.feature_names_out_)]))],
            target_opset=OPSET,
            zipmap=False,
        )
        return onx.SerializeToString(), "value" if self.task == "regression" else "probabilities"

    def _params(self) -> dict[str, Any]:
        objective, metric = {
            "binary": ("binary", "binary_logloss"),
            "multiclass": ("multiclass", "multi_logloss"),
            "regression": ("regression", "l2"),
        }[self.task]
        params = {
            "objective": objective,
            "metric": metric,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "min_data_in_leaf": self.min_child_samples,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1.0 else 0,
            "feature_fraction": self.colsample_bytree,
            "lambda_l2": self.reg_lambda,
            "num_threads": self.num_threads,
            "seed": self.seed,
            "verbose": -1,
        }
        if self.task == "multiclass":
            params["num_class"] = len(self.classes_)
        return params

    def _fit(self, X, y, valid, progress) -> None:
        import lightgbm as lgb

        if self.early_stopping_rounds and valid is None:
            X, y, valid = self._holdout(X, y)
        train_set = lgb.Dataset(
            self._transform(X),
            label=y,
            feature_name=_lgb_names(self.feature_names_in_),
            categorical_feature=self.categorical_columns(),
        )
        sets, names = [train_set], ["train"]
        if valid is not None:
            sets.append(lgb.Dataset(self._transform(valid[0]), label=valid[1], reference=train_set))
            names.append("valid")
        callbacks = [self._progress_callback(progress)]
        if self.early_stopping_rounds:
            callbacks.append(
                lgb.early_stopping(
                    self.early_stopping_rounds, first_metric_only=True, verbose=False
                )
            )
        # lgb.train keeps only the trees up to best_iteration when training stopped early.
        booster = lgb.train(
            self._params(),
            train_set,
            num_boost_round=self.n_estimators,
            valid_sets=sets,
            valid_names=names,
            callbacks=callbacks,
        )
        self.final_estimator_ = booster
        self.best_iteration_ = booster.best_iteration if self.early_stopping_rounds else None
        self.feature_groups_ = {c: [i] for i, c in enumerate(self.feature_names_in_)}
        self.feature_names_out_ = list(self.feature_names_in_)

    def _progress_callback(self, progress: ProgressFn | None) -> Callable[[Any], None]:
        import lightgbm as lgb

        def callback(env: Any) -> None:
            # Each entry is (data set name, metric name, value, higher is better).
            logs = {f"{r[0]}_loss": float(r[2]) for r in env.evaluation_result_list}
            step = env.iteration - env.begin_iteration + 1
            self.history_.append({"step": step, **logs})
            if progress is not None and progress(step, self.n_estimators, dict(logs)):
                raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list)

        callback.order = 10  # type: ignore[attr-defined]  # before early stopping (30)
        return callback

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        return self.final_estimator_.predict(self._transform(X), raw_score=True)

    def _transform(self, X: pd.DataFrame) -> np.ndarray:
        """Numbers as they are and each category as its index among the training
        categories (unseen or missing: NaN); training marks those columns categorical.

        These are the codes LightGBM computes from pandas categoricals, without pandas'
        categorical machinery, which costs milliseconds per call.
        """
        out = np.empty((len(X), len(self.feature_names_in_)))
        for j, column in enumerate(self.feature_names_in_):
            if column in self.categories_:
                categories = pd.Index(self.categories_[column], dtype=object)
                codes = categories.get_indexer(X[column]).astype(float)
                codes[codes < 0] = np.nan
                out[:, j] = codes
            else:
                out[:, j] = X[column].to_numpy(dtype=float)
        return out

    def categorical_columns(self) -> list[int]:
        """Positions of the categorical columns in :meth:`transform`'s output."""
        return [j for j, c in enumerate(self.feature_names_in_) if c in self.categories_]

    def predict_records(
        self, records: list[dict[str, Any]], schema: InputSchema
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """As :meth:`LeptonModel.predict_records`; plain values skip pandas altogether."""
        self._check_fitted()
        schema.check(records)
        matrix = self.record_inputs(records, schema)
        if matrix is None:  # a value only the table path reads (a number as text, a date, ...)
            return super().predict_records(records, schema)
        raw = self.final_estimator_.predict(matrix, raw_score=True)
        if not is_classification(self.task):
            return raw, None
        proba = probabilities_from_raw(raw)
        return self.classes_[proba.argmax(axis=1)], proba

    def record_inputs(
        self, records: list[dict[str, Any]], schema: InputSchema
    ) -> np.ndarray | None:
        """As :meth:`LeptonModel.record_inputs`.

        Plain values: None, an int or float for a numeric field, a string for a
        categorical one, true/false for a yes/no one; for those the table path
        (``schema.to_frame``, then ``_clean``) yields exactly these numbers.
        """
        kinds = {f.name: f.kind for f in schema.fields}
        numeric = set(self.numeric_features_)
        codes = {
            c: {value: float(i) for i, value in enumerate(self.categories_[c])}
            for c in self.categorical_features_
        }
        columns = []
        for name in self.feature_names_in_:
            kind = kinds.get(name)
            if kind == "numeric" and name in numeric:
                columns.append((name, None, (int, float)))
            elif kind in ("categorical", "boolean") and name in codes:
                columns.append((name, codes[name], (bool,) if kind == "boolean" else (str,)))
            else:
                return None
        out = np.empty((len(records), len(columns)))
        for i, record in enumerate(records):
            for j, (name, lookup, plain) in enumerate(columns):
                value = record[name]
                if value is None:
                    out[i, j] = np.nan
                elif type(value) not in plain:
                    return None
                elif lookup is None:
                    out[i, j] = value
                else:
                    word = ("true" if value else "false") if type(value) is bool else value
                    out[i, j] = lookup.get(word, np.nan)
        return out

    def _save_estimator(self, folder: Path) -> list[str]:
        self.final_estimator_.save_model(folder / "booster.txt")
        return ["booster.txt"]

    def _load_estimator(self, folder: Path, meta: dict[str, Any]) -> None:
        import lightgbm as lgb

        self.final_estimator_ = lgb.Booster(model_file=folder / "booster.txt")


def _lgb_names(columns: list[str]) -> list[str]:
    # LightGBM refuses JSON punctuation in feature names; the frame keeps the real names.
    names = [re.sub(r'[",:\[\]{}\s]', "_", c) for c in columns]
    return names if len(set(names)) == len(names) else [f"Column_{i}" for i in range(len(names))]
