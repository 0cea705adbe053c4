"""The contract every model family keeps: one scikit-learn estimator, and the family's facts.

Every family takes the table as a DataFrame (numeric and text columns, missing
values allowed), encodes the target itself, and answers ``predict``,
``predict_proba``, ``raw_output`` (the margin SHAP explains) and ``transform``
(the exact input of ``final_estimator_``). ``save`` writes a folder with a
``model.json`` and the estimator's own files; :meth:`LeptonModel.load` reads it back.

A family is one subclass: besides fitting and predicting it declares what it is
(title, what it reads, its Train-page settings, whether Auto may search it, its pip
requirements) and owns what differs between families (Auto's search space, its
differentially private variant, ONNX export, int8 compression). The registry
(:mod:`lepton_core.models._registry`) finds a family by name.
"""

from __future__ import annotations

import json
import os
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from lepton_core.core import (
    TASKS,
    DataError,
    Message,
    ModelError,
    NotFittedError,
    Task,
    TrainingError,
    is_classification,
)
from lepton_core.models._columns import (
    as_float,
    as_frame,
    as_text,
    is_numeric,
    jsonable,
    probabilities_from_raw,
    target_values,
)
from lepton_core.models._int8 import COMPRESSION_METHODS, quantise, quantize_dynamic, restore
from lepton_core.models._onnx import OnnxScorer, quantize_onnx

if TYPE_CHECKING:
    from lepton_core.data import InputSchema

__all__ = [
    "BASE_REQUIREMENTS",
    "FORMAT_VERSION",
    "MODEL_FILE",
    "LeptonModel",
    "ProgressFn",
    "Setting",
    "private_params",
]

#: ``progress(step, total_steps, logs)`` after each boosting round or epoch; True asks to stop.
ProgressFn = Callable[[int, int | None, dict[str, float]], bool | None]

MODEL_FILE = "model.json"
FORMAT_VERSION = 1
#: pip packages every saved model needs; a family adds its own (``requirements``).
BASE_REQUIREMENTS = (
    "mlflow",
    "pandas",
    "numpy",
    "scikit-learn",
    "lightgbm",
    "torch",
    "safetensors",
)
_VALID_FRACTION = 0.1


@dataclass(frozen=True)
class Setting:
    """One of a family's few settings on the Train page.

    A number input between ``minimum`` and ``maximum``, or, with ``choices``
    (value → label), a pick among them; ``other`` labels an extra choice that
    lets the person type a value of their own (in a box labelled ``other_label``,
    with ``placeholder``; left empty, ``default`` is used). ``when`` shows the
    setting only while another setting has a given value, e.g. ``("mode", "finetune")``.
    The words (``label``, ``help``, the choices' labels, ``other``) are
    :class:`~lepton_core.core.Message` objects, so a page can show them in the reader's
    language.
    """

    name: str  # the model parameter it sets
    label: str
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: dict[str, str] = field(default_factory=dict)
    other: str = ""
    other_label: str = ""
    placeholder: str = ""
    when: tuple[str, Any] | None = None
    help: str = ""
    format: str = ""  # printf-style, for numbers shown with more decimals


class LeptonModel(BaseEstimator):
    """Base of every model family: the shared fit/predict/save contract.

    Parameters
    ----------
    task : {"binary", "multiclass", "regression"}
    seed : int
        Seeds every random choice, so equal seeds give equal models.
    """

    # -- what the family is: read by the registry, the runs and the Train page ------
    #: The registry's name for the family (saved in ``model.json``).
    family: ClassVar[str]
    #: Its name for people, e.g. "Decision tree (readable)": a Message, shown translated.
    title: ClassVar[str]
    #: What it learns from: "table" (feature columns) or "text" (one text column).
    reads: ClassVar[str] = "table"
    #: Whether a person can train it from the Train page (a mitigated model is made, not
    #: trained).
    trainable: ClassVar[bool] = True
    #: Whether Auto may search it (then :meth:`search_space` gives its space), and whether
    #: it does when not told which families to search.
    searchable: ClassVar[bool] = False
    searched_by_default: ClassVar[bool] = False
    #: Trials Auto runs before its sampler's own, as values of the search space's names.
    search_portfolio: ClassVar[tuple[dict[str, Any], ...]] = ()
    #: Its few settings on the Train page; the rest keep their defaults.
    settings: ClassVar[tuple[Setting, ...]] = ()
    #: pip packages a saved model needs beyond :data:`BASE_REQUIREMENTS`.
    requirements: ClassVar[tuple[str, ...]] = ()
    #: int8 compression methods it supports (see :meth:`quantise`).
    int8_methods: ClassVar[tuple[str, ...]] = ()
    #: Whether it has a differentially private variant (see :meth:`private`).
    private_variant: ClassVar[bool] = False
    #: Whether fairness mitigation can wrap it.
    mitigable: ClassVar[bool] = True
    #: At most this many test rows are explained when a run is recorded; None: the default.
    explain_rows: ClassVar[int | None] = None
    #: What ``raw_output`` holds for classification: "logit" (log-odds, softmax logits)
    #: or "probability" (scikit-learn trees, whose TreeSHAP explains probabilities).
    margin: ClassVar[str] = "logit"
    #: How the network was compressed to int8 (:mod:`._int8`), or None.
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
        X = as_frame(X)
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}.")
        if len(X) == 0:
            raise DataError(Message("model.no_rows"))
        if X.shape[1] == 0:
            raise DataError(Message("model.no_features"))
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
            raise ModelError(Message("model.no_proba"))
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
                "format_version": FORMAT_VERSION,
                "family": self.family,
                "task": self.task,
                "params": {k: jsonable(v) for k, v in self.get_params(deep=False).items()},
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

    # -- what a family may add: Auto's space, DP, ONNX, int8 -------------------------

    @classmethod
    def search_space(cls, trial: Any, task: Task) -> dict[str, Any]:
        """Auto's search space for this family: parameters suggested on an Optuna ``trial``.

        Parameter names in the trial are prefixed by family, so one study can hold several.
        """
        raise TrainingError(Message("model.not_searchable", family=cls.title))

    @classmethod
    def refit_params(cls, params: dict[str, Any], rounds: int | None) -> dict[str, Any] | None:
        """Parameters to refit Auto's winner on training and validation rows together, or
        None when it cannot be: nothing is left to stop early on. ``rounds`` is what early
        stopping kept in the winner's trial (``best_iteration_``)."""
        return dict(params)

    def private(self, options: Any) -> LeptonModel:
        """This unfitted model's differentially private variant, trained with DP-SGD."""
        raise TrainingError(Message("model.no_privacy"))

    def privacy_note(self) -> str:
        """What the Train page adds under the privacy options for these settings."""
        return ""

    def to_onnx(self) -> tuple[bytes, str]:
        """The fitted estimator as an ONNX graph, and what its output holds.

        The output is ``"probabilities"``, ``"raw"`` (logits) or ``"value"`` (regression).
        """
        raise ModelError(Message("model.no_onnx", family=self.title))

    def onnx_scorer(self, graph: bytes, output: str) -> Any:
        """What scores like this model with ``graph`` (from :meth:`to_onnx`) in onnxruntime."""
        return OnnxScorer(self, graph, output)

    def quantise(self, method: str, calibration: pd.DataFrame | None = None) -> LeptonModel:
        """A copy of this fitted model whose network is int8 (one of :attr:`int8_methods`);
        this one is unchanged. The copy is the same family, saved with its float weights.
        ``calibration``: training rows, for a family whose int8 is calibrated on data
        (images); it is read while quantising and not kept."""
        if method not in COMPRESSION_METHODS:
            raise ValueError(
                f"Unknown compression method {method!r}; "
                f"use one of {', '.join(COMPRESSION_METHODS)}."
            )
        if method not in self.int8_methods:
            raise ModelError(Message("model.no_int8"))
        return quantise(self, method, calibration)

    def _quantise_network(self, network: Any) -> Any:
        """``network`` with torch's dynamic int8 quantisation of its Linear layers."""
        return quantize_dynamic(network)

    def _quantise_graph(self, graph: bytes, calibration: pd.DataFrame | None) -> bytes:
        """``graph`` (from :meth:`to_onnx`) with int8 weights, by onnxruntime (weights only:
        ``calibration`` is not needed)."""
        return quantize_onnx(graph)

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
            raise NotFittedError(Message("model.not_fitted", family=self.title))

    def _learn_schema(self, X: pd.DataFrame) -> pd.DataFrame:
        """Learn column names, kinds and categories; return ``X`` cleaned."""
        self.feature_names_in_ = list(X.columns)
        self.n_features_in_ = len(self.feature_names_in_)
        self.numeric_features_ = [c for c in X.columns if is_numeric(X[c])]
        self.categorical_features_ = [c for c in X.columns if not is_numeric(X[c])]
        X = self._clean(X)
        self.categories_ = {
            c: sorted(X[c].dropna().unique().tolist()) for c in self.categorical_features_
        }
        return X

    def _check_columns(self, X: Any) -> pd.DataFrame:
        X = as_frame(X, self.feature_names_in_)
        for name in self.feature_names_in_:
            if name not in X.columns:
                raise ModelError(Message("model.missing_column", column=str(name)))
        return X

    def _one_column(self, X: pd.DataFrame) -> pd.DataFrame:
        """Fit-time set-up of a family that reads one column (a text, an image reference)
        as a whole: no numeric or categorical features, the column is its own group."""
        self.feature_names_in_ = list(X.columns)
        self.n_features_in_ = 1
        self.numeric_features_ = []
        self.categorical_features_ = []
        self.categories_ = {}
        self.feature_groups_ = {self.feature_names_in_[0]: [0]}
        self.feature_names_out_ = [self.feature_names_in_[0]]
        return self._clean(X)

    def _clean(self, X: pd.DataFrame) -> pd.DataFrame:
        # One canonical form for every family: float64 numbers and object text with NaN.
        numeric = set(self.numeric_features_)
        data = {
            c: as_float(X[c], c) if c in numeric else as_text(X[c]) for c in self.feature_names_in_
        }
        return pd.DataFrame(data, index=X.index)

    def _prepare(self, X: Any) -> pd.DataFrame:
        self._check_fitted()
        return self._clean(self._check_columns(X))

    def _learn_target(self, y: Any) -> np.ndarray:
        values = target_values(y)
        if is_classification(self.task):
            try:
                classes = np.unique(values[~pd.isna(values)])
            except TypeError:
                raise DataError(Message("model.mixed_target")) from None
            if len(classes) < 2:
                raise DataError(Message("model.one_class"))
            if self.task == "binary" and len(classes) > 2:
                raise DataError(Message("model.not_binary", classes=len(classes)))
            self.classes_ = classes
        return self._encode_target(values)

    def _encode_target(self, y: Any) -> np.ndarray:
        values = target_values(y)
        if pd.isna(values).any():
            raise DataError(Message("model.missing_target"))
        if not is_classification(self.task):
            try:
                return values.astype(np.float64)
            except (TypeError, ValueError):
                raise DataError(Message("model.not_numbers")) from None
        codes = pd.Index(self.classes_).get_indexer(values)
        if (codes < 0).any():
            raise DataError(Message("model.unseen_label", value=repr(values[codes < 0][0])))
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

    @classmethod
    def load(cls, folder: Path, meta: dict[str, Any]) -> Self:
        """The model saved in ``folder``, whose ``model.json`` holds ``meta``."""
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
            restore(model, meta["compression"], folder)
        return model

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


def private_params(model: LeptonModel, plain: LeptonModel, private: LeptonModel) -> dict[str, Any]:
    """``model``'s parameters for its private variant: those the person left at the plain
    family's defaults (``plain``) take the private variant's defaults (``private``)."""
    defaults, dp_defaults = plain.get_params(), private.get_params()
    return {k: (dp_defaults[k] if v == defaults[k] else v) for k, v in model.get_params().items()}
