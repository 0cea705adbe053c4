"""Lepton's model families behind one scikit-learn estimator contract.

Every family takes the table as a DataFrame (numeric and text columns, missing
values allowed), encodes the target itself, and answers ``predict``,
``predict_proba``, ``raw_output`` (the margin SHAP explains) and ``transform``
(the exact input of ``final_estimator_``). ``save`` writes a folder with a
``model.json`` and the estimator's own files; :func:`load_model` reads it back.

==========  ===============================  ==============================
family      final_estimator_                 files next to ``model.json``
==========  ===============================  ==============================
lightgbm    ``lightgbm.Booster``             ``booster.txt``
logistic    ``LogisticRegression``/``Ridge``  ``pipeline.skops``
tree        ``DecisionTree*``                ``pipeline.skops``
mlp         ``torch.nn.Sequential``          ``pipeline.skops``, ``weights.safetensors``
==========  ===============================  ==============================

scikit-learn pipelines are stored with skops rather than pickle: loading
accepts only the types Lepton writes and refuses anything else.
"""

from __future__ import annotations

import json
import os
import re
from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from lepton_core.core import TASKS, DataError, ModelError, NotFittedError, Task, is_classification

if TYPE_CHECKING:
    from lepton_core.data import InputSchema

__all__ = [
    "FAMILIES",
    "FAMILY_TITLES",
    "LeptonModel",
    "LightGBMModel",
    "LinearModel",
    "MLPModel",
    "ProgressFn",
    "TreeModel",
    "load_model",
    "make_model",
]

FAMILIES = ("lightgbm", "logistic", "tree", "mlp")
FAMILY_TITLES = {
    "lightgbm": "LightGBM (gradient boosting)",
    "logistic": "Logistic / linear regression",
    "tree": "Decision tree (readable)",
    "mlp": "Neural network (PyTorch MLP)",
    "text": "Text classifier (pretrained transformer)",  # lepton_core.text, not in FAMILIES
}

#: ``progress(step, total_steps, logs)`` after each boosting round or epoch; True asks to stop.
ProgressFn = Callable[[int, int | None, dict[str, float]], bool | None]

MODEL_FILE = "model.json"
_FORMAT_VERSION = 1
_PIPELINE_FILE = "pipeline.skops"
_VALID_FRACTION = 0.1
_MISSING = "(missing)"
_OTHER = "(other)"


class LeptonModel(BaseEstimator):
    """Base of every model family: the shared fit/predict/save contract.

    Parameters
    ----------
    task : {"binary", "multiclass", "regression"}
    seed : int
        Seeds every random choice, so equal seeds give equal models.
    """

    family: ClassVar[str]
    #: What ``raw_output`` holds for classification: "logit" (log-odds, softmax logits)
    #: or "probability" (scikit-learn trees, whose TreeSHAP explains probabilities).
    margin: ClassVar[str] = "logit"
    #: How the network was compressed to int8 (:mod:`lepton_core.runs._compress`), or None.
    compression_: Any = None

    def __init__(self, task: Task = "binary", seed: int = 0) -> None:
        self.task = task
        self.seed = seed

    # -- scikit-learn plumbing -------------------------------------------------

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, RegressorTags

        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        if is_classification(self.task):
            tags.estimator_type, tags.classifier_tags = "classifier", ClassifierTags()
        else:
            tags.estimator_type, tags.regressor_tags = "regressor", RegressorTags()
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "final_estimator_")

    # -- public API ------------------------------------------------------------

    def fit(
        self,
        X: pd.DataFrame,
        y: Any,
        *,
        X_valid: pd.DataFrame | None = None,
        y_valid: Any = None,
        progress: ProgressFn | None = None,
    ) -> Self:
        """Learn from ``X`` and ``y``; ``X_valid``/``y_valid`` feed losses and early stopping."""
        if self.task not in TASKS:
            raise ValueError(f"Unknown task {self.task!r}; use one of {', '.join(TASKS)}.")
        if (X_valid is None) != (y_valid is None):
            raise ValueError("Pass both X_valid and y_valid, or neither.")
        X = _as_frame(X)
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}.")
        if len(X) == 0:
            raise DataError("The training table has no rows; load a table with data first.")
        if X.shape[1] == 0:
            raise DataError("There are no feature columns; keep at least one besides the target.")
        X = self._learn_schema(X)
        y = self._learn_target(y)
        valid = None
        if X_valid is not None:
            valid = (self._clean(self._check_columns(X_valid)), self._encode_target(y_valid))
        self.history_: list[dict[str, float]] = []
        self.best_iteration_: int | None = None
        self._fit(X, y, valid, progress)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted labels (original values) or numbers, one per row."""
        return self.predict_scored(X)[0]

    def predict_scored(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`predict` and, for classifiers, :meth:`predict_proba`, from one scoring pass."""
        Xc = self._prepare(X)
        if not is_classification(self.task):
            return self._raw(Xc), None
        proba = self._proba(Xc)
        return self.classes_[proba.argmax(axis=1)], proba

    def predict_records(
        self, records: list[dict[str, Any]], schema: InputSchema
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`predict_scored` for request records, checked against ``schema`` first.

        The API's path: a family may answer plain records without building a table.

        Raises
        ------
        DataError
            As :meth:`InputSchema.to_frame`.
        """
        return self.predict_scored(schema.to_frame(records))

    def record_inputs(
        self, records: list[dict[str, Any]], schema: InputSchema
    ) -> np.ndarray | None:
        """:meth:`transform` of checked request records, built without a table where the
        family can and every value is plain; None otherwise (use :meth:`InputSchema.to_frame`).
        """
        return None

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities, shape ``(n, n_classes)`` in the order of ``classes_``."""
        self._check_fitted()
        if not is_classification(self.task):
            raise ModelError(
                "This regression model predicts numbers, not class probabilities; call predict."
            )
        return self._proba(self._prepare(X))

    def raw_output(self, X: pd.DataFrame) -> np.ndarray:
        """The margin SHAP explains.

        Binary: ``(n,)`` log-odds of ``classes_[1]``; multiclass: ``(n, k)`` raw
        scores; regression: ``(n,)`` predictions. Families whose ``margin`` is
        "probability" return probabilities instead of log-odds/scores.
        """
        return self._raw(self._prepare(X))

    def transform(self, X: pd.DataFrame) -> Any:
        """``X`` exactly as ``final_estimator_`` receives it."""
        return self._transform(self._prepare(X))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the columns of :meth:`transform`'s output."""
        self._check_fitted()
        return np.asarray(self.feature_names_out_, dtype=object)

    def save(self, path: str | os.PathLike) -> list[str]:
        """Write the model into the folder ``path``; returns the file names written."""
        self._check_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        network, compression = self.final_estimator_, self.compression_
        if compression is not None:  # the float weights are saved; loading quantises again
            self.final_estimator_ = compression.float_network
        try:
            files = self._save_estimator(folder)
            meta = {
                "format_version": _FORMAT_VERSION,
                "family": self.family,
                "task": self.task,
                "params": {k: _jsonable(v) for k, v in self.get_params(deep=False).items()},
                "feature_names_in": self.feature_names_in_,
                "numeric_features": self.numeric_features_,
                "categorical_features": self.categorical_features_,
                "categories": self.categories_,
                "feature_groups": self.feature_groups_,
                "feature_names_out": self.feature_names_out_,
                "history": self.history_,
                "best_iteration": self.best_iteration_,
                "estimator": self._estimator_meta(),
            }
        finally:
            self.final_estimator_ = network
        if compression is not None:
            meta["compression"] = compression.method
            files += compression.save(folder)
        if is_classification(self.task):
            meta["classes"] = self.classes_.tolist()
            meta["classes_dtype"] = str(self.classes_.dtype)
        (folder / MODEL_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        return [MODEL_FILE, *files]

    # -- what each family provides ---------------------------------------------

    @abstractmethod
    def _fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        valid: tuple[pd.DataFrame, np.ndarray] | None,
        progress: ProgressFn | None,
    ) -> None:
        """Fit on cleaned ``X`` and encoded ``y``; set ``final_estimator_`` and the rest."""

    @abstractmethod
    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        """``raw_output`` for a cleaned frame."""

    @abstractmethod
    def _transform(self, X: pd.DataFrame) -> Any:
        """``transform`` for a cleaned frame."""

    @abstractmethod
    def _save_estimator(self, folder: Path) -> list[str]:
        """Write the estimator's own files; return their names."""

    @abstractmethod
    def _load_estimator(self, folder: Path, meta: dict[str, Any]) -> None:
        """Read back what :meth:`_save_estimator` wrote."""

    def _estimator_meta(self) -> dict[str, Any]:
        """Family-specific facts for ``model.json``."""
        return {}

    def _proba(self, X: pd.DataFrame) -> np.ndarray:
        return probabilities_from_raw(self._raw(X))

    # -- shared helpers --------------------------------------------------------

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(
                f"This {FAMILY_TITLES[self.family]} model is not trained yet; fit it before use."
            )

    def _learn_schema(self, X: pd.DataFrame) -> pd.DataFrame:
        """Learn column names, kinds and categories; return ``X`` cleaned."""
        self.feature_names_in_ = list(X.columns)
        self.n_features_in_ = len(self.feature_names_in_)
        self.numeric_features_ = [c for c in X.columns if _is_numeric(X[c])]
        self.categorical_features_ = [c for c in X.columns if not _is_numeric(X[c])]
        X = self._clean(X)
        self.categories_ = {
            c: sorted(X[c].dropna().unique().tolist()) for c in self.categorical_features_
        }
        return X

    def _check_columns(self, X: Any) -> pd.DataFrame:
        X = _as_frame(X, self.feature_names_in_)
        for name in self.feature_names_in_:
            if name not in X.columns:
                raise ModelError(
                    f"The input has no column '{name}'; send every column the model was trained on."
                )
        return X

    def _clean(self, X: pd.DataFrame) -> pd.DataFrame:
        # One canonical form for every family: float64 numbers and object text with NaN.
        numeric = set(self.numeric_features_)
        data = {
            c: _as_float(X[c], c) if c in numeric else _as_text(X[c])
            for c in self.feature_names_in_
        }
        return pd.DataFrame(data, index=X.index)

    def _prepare(self, X: Any) -> pd.DataFrame:
        self._check_fitted()
        return self._clean(self._check_columns(X))

    def _learn_target(self, y: Any) -> np.ndarray:
        values = _target_values(y)
        if is_classification(self.task):
            try:
                classes = np.unique(values[~pd.isna(values)])
            except TypeError:
                raise DataError(
                    "The target mixes numbers and text; make every value of the target one type."
                ) from None
            if len(classes) < 2:
                raise DataError("The target column has one class; pick a column with at least two.")
            if self.task == "binary" and len(classes) > 2:
                raise DataError(
                    f"The target has {len(classes)} classes but the task is binary; "
                    "choose the multiclass task or a target with two values."
                )
            self.classes_ = classes
        return self._encode_target(values)

    def _encode_target(self, y: Any) -> np.ndarray:
        values = _target_values(y)
        if pd.isna(values).any():
            raise DataError("The target has missing values; drop those rows before training.")
        if not is_classification(self.task):
            try:
                return values.astype(np.float64)
            except (TypeError, ValueError):
                raise DataError(
                    "The target has values that are not numbers; "
                    "pick a numeric target or a classification task."
                ) from None
        codes = pd.Index(self.classes_).get_indexer(values)
        if (codes < 0).any():
            raise DataError(
                f"The validation target has the value {values[codes < 0][0]!r}, "
                "which training never saw; use a validation set drawn from the same data."
            )
        return codes

    def _loss(self, X: pd.DataFrame, y: np.ndarray) -> float:
        # The losses LightGBM reports, so curves of different families are comparable.
        from sklearn.metrics import log_loss, mean_squared_error

        if is_classification(self.task):
            return float(log_loss(y, self._proba(X), labels=np.arange(len(self.classes_))))
        return float(mean_squared_error(y, self._raw(X)))

    def _losses(
        self, X: pd.DataFrame, y: np.ndarray, valid: tuple[pd.DataFrame, np.ndarray] | None
    ) -> dict[str, float]:
        logs = {"train_loss": self._loss(X, y)}
        if valid is not None:
            logs["valid_loss"] = self._loss(*valid)
        return logs

    def _holdout(
        self, X: pd.DataFrame, y: np.ndarray
    ) -> tuple[pd.DataFrame, np.ndarray, tuple[pd.DataFrame, np.ndarray]]:
        """Split off a seeded validation share, stratified when every class can be."""
        from sklearn.model_selection import train_test_split

        stratify = None
        if is_classification(self.task):
            counts = np.bincount(y)
            if counts.min() >= 2 and np.ceil(len(y) * _VALID_FRACTION) >= len(counts):
                stratify = y
        X_fit, X_val, y_fit, y_val = train_test_split(
            X, y, test_size=_VALID_FRACTION, random_state=self.seed, stratify=stratify
        )
        return X_fit, y_fit, (X_val, y_val)

    def _restore(self, meta: dict[str, Any]) -> None:
        self.feature_names_in_ = list(meta["feature_names_in"])
        self.n_features_in_ = len(self.feature_names_in_)
        self.numeric_features_ = list(meta["numeric_features"])
        self.categorical_features_ = list(meta["categorical_features"])
        self.categories_ = {k: list(v) for k, v in meta["categories"].items()}
        self.feature_groups_ = {k: list(v) for k, v in meta["feature_groups"].items()}
        self.feature_names_out_ = list(meta["feature_names_out"])
        self.history_ = list(meta["history"])
        self.best_iteration_ = meta["best_iteration"]
        if "classes" in meta:
            self.classes_ = np.asarray(meta["classes"], dtype=meta["classes_dtype"])


# -- LightGBM ------------------------------------------------------------------


class LightGBMModel(LeptonModel):
    """Gradient-boosted trees with native categorical splits (LightGBM).

    Defaults are LightGBM's own. Early stopping on the validation set (or a
    seeded 10% hold-out) only when ``early_stopping_rounds`` is set.
    """

    family = "lightgbm"

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


# -- scikit-learn pipelines ------------------------------------------------------


def _onehot_name(feature: str, category: Any) -> str:
    """Readable one-hot column names: ``"sex = Male"``, ``"country = (other)"``."""
    return f"{feature} = {_OTHER if category == 'infrequent_sklearn' else category}"


def _make_preprocessor(
    numeric: list[str], categorical: list[str], *, scale: bool, max_categories: int | None
) -> Any:
    """Median-impute (and scale) numbers; one-hot each text column in its own step.

    One step per text column makes ``output_indices_`` name the columns each
    one became, which is what ``feature_groups_`` needs.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    # keep_empty_features keeps one output per numeric column even when it is all missing.
    number_steps = [("impute", SimpleImputer(strategy="median", keep_empty_features=True))]
    if scale:
        number_steps.append(("scale", StandardScaler()))
    steps = [("num", Pipeline(number_steps), numeric)] if numeric else []
    for i, column in enumerate(categorical):
        onehot = Pipeline(
            [
                ("impute", SimpleImputer(strategy="constant", fill_value=_MISSING)),
                (
                    "onehot",
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist",
                        max_categories=max_categories,
                        sparse_output=False,
                        feature_name_combiner=_onehot_name,
                    ),
                ),
            ]
        )
        steps.append((f"cat{i}", onehot, [column]))
    return ColumnTransformer(steps, sparse_threshold=0.0)


def _describe_columns(
    preprocessor: Any, columns_in: list[str]
) -> tuple[dict[str, list[int]], list[str]]:
    """``feature_groups_`` (in the order of ``columns_in``) and output names of a fitted
    :func:`_make_preprocessor`."""
    groups: dict[str, list[int]] = {}
    names: list[str] = []
    for name, step, columns in preprocessor.transformers_:
        if name == "remainder":
            continue
        where = preprocessor.output_indices_[name]
        out = list(step.get_feature_names_out(columns))
        names += out
        if len(columns) == 1:
            groups[columns[0]] = list(range(where.start, where.stop))
        else:
            assert len(out) == len(columns), "numeric steps map one column to one output"
            groups.update({c: [where.start + j] for j, c in enumerate(columns)})
    return {c: groups[c] for c in columns_in}, names


def _save_skops(obj: Any, path: Path) -> None:
    import skops.io as sio

    sio.dump(obj, path)


def _load_skops(path: Path) -> Any:
    import skops.io as sio

    # Only the types our own pipelines hold; anything else means the file is not ours.
    allowed = {"numpy.dtype", "sklearn.tree._tree.Tree", f"{__name__}._onehot_name"}
    unexpected = set(sio.get_untrusted_types(file=path)) - allowed
    if unexpected:
        raise ModelError(
            f"The file '{path.name}' holds types Lepton does not write "
            f"({', '.join(sorted(unexpected))}); train and save the model again."
        )
    return sio.load(path, trusted=sorted(allowed))


class _PipelineModel(LeptonModel):
    """A ColumnTransformer then one scikit-learn estimator, fitted as a Pipeline."""

    _scale: ClassVar[bool] = True
    max_categories: int | None

    @abstractmethod
    def _make_estimator(self) -> Any:
        """The unfitted final estimator for ``self.task``."""

    def _fit(self, X, y, valid, progress) -> None:
        from sklearn.pipeline import Pipeline

        preprocessor = _make_preprocessor(
            self.numeric_features_,
            self.categorical_features_,
            scale=self._scale,
            max_categories=self.max_categories,
        )
        self.pipeline_ = Pipeline([("preprocess", preprocessor), ("model", self._make_estimator())])
        self.pipeline_.fit(X, y)
        self._set_pipeline(self.pipeline_)
        logs = self._losses(X, y, valid)
        self.history_ = [{"step": 1, **logs}]
        if progress is not None:
            progress(1, 1, dict(logs))

    def _set_pipeline(self, pipeline: Any) -> None:
        self.pipeline_ = pipeline
        self.final_estimator_ = pipeline[-1]
        self.feature_groups_, self.feature_names_out_ = _describe_columns(
            pipeline[0], self.feature_names_in_
        )

    def _transform(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.pipeline_[0].transform(X), dtype=np.float64)

    def _save_estimator(self, folder: Path) -> list[str]:
        _save_skops(self.pipeline_, folder / _PIPELINE_FILE)
        return [_PIPELINE_FILE]

    def _load_estimator(self, folder: Path, meta: dict[str, Any]) -> None:
        self._set_pipeline(_load_skops(folder / _PIPELINE_FILE))


class LinearModel(_PipelineModel):
    """One-hot + standardised inputs into logistic regression (or ridge for numbers).

    ``C`` is the inverse regularisation of the logistic regression, ``alpha``
    the ridge penalty; each applies to its task only.
    """

    family = "logistic"

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


class TreeModel(_PipelineModel):
    """A shallow decision tree whose rules a person can read (see :meth:`rules`)."""

    family = "tree"
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


# -- PyTorch MLP -----------------------------------------------------------------


class MLPModel(LeptonModel):
    """A PyTorch multilayer perceptron on one-hot + standardised inputs.

    The inputs are the same ColumnTransformer output as the linear model's
    rather than learned embeddings: tabular categoricals here are low-cardinality
    (one-hot stays narrow and is capped by ``max_categories``), and a purely
    numeric ``transform`` lets gradient-based SHAP explainers and Opacus work on
    the network unchanged. Early stopping on the validation loss (or a seeded
    10% hold-out) restores the best epoch's weights.
    """

    family = "mlp"

    def __init__(
        self,
        task: Task = "binary",
        seed: int = 0,
        hidden_sizes: tuple[int, ...] = (128, 64),
        dropout: float = 0.1,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-2,
        batch_size: int = 256,
        max_epochs: int = 30,
        patience: int = 3,
        max_categories: int | None = 50,
    ) -> None:
        self.task = task
        self.seed = seed
        self.hidden_sizes = hidden_sizes
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.max_categories = max_categories

    def _fit(self, X, y, valid, progress) -> None:

        from lepton_core.models import _mlp_net as _mlp

        if valid is None:
            X, y, valid = self._holdout(X, y)
        self.preprocessor_ = _make_preprocessor(
            self.numeric_features_,
            self.categorical_features_,
            scale=True,
            max_categories=self.max_categories,
        )
        inputs = self.preprocessor_.fit_transform(X)
        valid_inputs = self.preprocessor_.transform(valid[0])
        targets, valid_targets, mean, scale = y, valid[1], 0.0, 1.0
        if not is_classification(self.task):
            mean, scale = float(y.mean()), float(y.std()) or 1.0
            targets, valid_targets = (y - mean) / scale, (valid[1] - mean) / scale
        n_outputs = len(self.classes_) if self.task == "multiclass" else 1

        def build() -> Any:
            network = _mlp.build_network(
                inputs.shape[1], n_outputs, self.hidden_sizes, self.dropout
            )
            _mlp.init_output_bias(network, targets, self.task)
            return network

        network, outcome = self._train_network(
            build, inputs, targets, (valid_inputs, valid_targets), progress, loss_scale=scale**2
        )
        if not is_classification(self.task):
            _mlp.rescale_output(network, mean, scale)
        self.final_estimator_ = network.eval()
        self.history_ = outcome.history
        self.best_iteration_ = outcome.best_epoch
        self.feature_groups_, self.feature_names_out_ = _describe_columns(
            self.preprocessor_, self.feature_names_in_
        )

    def _train_network(
        self,
        build: Callable[[], Any],
        inputs: Any,
        targets: np.ndarray,
        valid: tuple[Any, np.ndarray],
        progress: ProgressFn | None,
        *,
        loss_scale: float,
    ) -> tuple[Any, Any]:
        """Train the network ``build()`` makes; return it and the training outcome.

        The one step differential privacy replaces (:class:`lepton_core.dp._sgd.DPMLPModel`).
        """
        import torch

        from lepton_core.models import _mlp_net as _mlp

        # A private RNG stream: the same seed gives the same weights, dropout and batches
        # without disturbing the caller's global torch state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            network = build()
            optimizer = _mlp.build_optimizer(network, self.learning_rate, self.weight_decay)
            loader = _mlp.build_loader(
                inputs, targets, task=self.task, batch_size=self.batch_size, seed=self.seed
            )
            outcome = _mlp.train(
                network,
                optimizer,
                loader,
                task=self.task,
                valid=valid,
                max_epochs=self.max_epochs,
                patience=self.patience,
                progress=progress,
                loss_scale=loss_scale,
            )
        return network, outcome

    def _transform(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.preprocessor_.transform(X), dtype=np.float64)

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        from lepton_core.models import _mlp_net as _mlp

        out = _mlp.predict_raw(self.final_estimator_, self._transform(X))
        return out if self.task == "multiclass" else out[:, 0]

    def _estimator_meta(self) -> dict[str, Any]:
        first, last = self.final_estimator_[0], self.final_estimator_[-1]
        return {"n_inputs": first.in_features, "n_outputs": last.out_features}

    def _save_estimator(self, folder: Path) -> list[str]:
        from safetensors.torch import save_file

        _save_skops(self.preprocessor_, folder / _PIPELINE_FILE)
        save_file(self.final_estimator_.state_dict(), folder / "weights.safetensors")
        return [_PIPELINE_FILE, "weights.safetensors"]

    def _load_estimator(self, folder: Path, meta: dict[str, Any]) -> None:
        from safetensors.torch import load_file

        from lepton_core.models import _mlp_net as _mlp

        self.preprocessor_ = _load_skops(folder / _PIPELINE_FILE)
        shape = meta["estimator"]
        network = _mlp.build_network(
            shape["n_inputs"], shape["n_outputs"], self.hidden_sizes, self.dropout
        )
        network.load_state_dict(load_file(folder / "weights.safetensors"))
        self.final_estimator_ = network.eval()


# -- factory and loading -----------------------------------------------------------

_CLASSES: dict[str, type[LeptonModel]] = {
    "lightgbm": LightGBMModel,
    "logistic": LinearModel,
    "tree": TreeModel,
    "mlp": MLPModel,
}


def make_model(family: str, task: Task, *, seed: int = 0, **params: Any) -> LeptonModel:
    """A new, unfitted model of ``family`` for ``task``; ``params`` override the defaults."""
    if family not in _CLASSES:
        raise ValueError(f"Unknown model family {family!r}; use one of {', '.join(FAMILIES)}.")
    cls = _CLASSES[family]
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; use one of {', '.join(TASKS)}.")
    known = set(cls().get_params(deep=False))
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(
            f"Unknown parameter {unknown[0]!r} for {family}; use {', '.join(sorted(known))}."
        )
    return cls(task=task, seed=seed, **params)


def load_model(path: str | os.PathLike) -> LeptonModel:
    """Read a model that :meth:`LeptonModel.save` wrote into the folder ``path``."""
    folder = Path(path)
    meta_file = folder / MODEL_FILE
    if not meta_file.is_file():
        raise ModelError(
            f"There is no saved model in '{folder}'; pick the folder a model was saved to."
        )
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    if meta.get("family") == "mitigated":  # registers itself; imported lazily (fairlearn)
        import lepton_core.runs._mitigate  # noqa: F401
    if meta.get("family") == "text":  # registers itself; imported lazily (torch, transformers)
        from lepton_core.text import model as _text  # noqa: F401
    if meta.get("format_version") != _FORMAT_VERSION or meta.get("family") not in _CLASSES:
        raise ModelError(
            f"The model in '{folder}' was saved by another Lepton version; train it again here."
        )
    cls = _CLASSES[meta["family"]]
    defaults = cls().get_params(deep=False)
    # JSON turns tuples into lists; give tuple parameters back their type.
    params = {
        k: tuple(v) if isinstance(defaults.get(k), tuple) and isinstance(v, list) else v
        for k, v in meta["params"].items()
    }
    model = cls(**params)
    model._restore(meta)
    model._load_estimator(folder, meta)
    if meta.get("compression"):
        from lepton_core.runs import restore

        restore(model, meta["compression"], folder)
    return model


# -- column and target conversion ------------------------------------------------


def _as_frame(X: Any, columns: list[str] | None = None) -> pd.DataFrame:
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


def _is_numeric(column: pd.Series) -> bool:
    # Booleans count as numbers (0/1); category dtypes are text even with numeric labels.
    return pd.api.types.is_numeric_dtype(column.dtype)


def _as_float(column: pd.Series, name: str) -> np.ndarray:
    if _is_numeric(column):
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


def _as_text(column: pd.Series) -> pd.Series:
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


def _target_values(y: Any) -> np.ndarray:
    values = y.to_numpy() if hasattr(y, "to_numpy") else np.asarray(y)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"y must be one column, got shape {values.shape}.")
    return values


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, np.generic):
        return value.item()
    return value
