"""scikit-learn pipelines: the preprocessing every table family but LightGBM shares.

Numbers are median-imputed (and scaled), each text column one-hot encoded in its
own step. Pipelines are stored with skops rather than pickle: loading accepts only
the types Lepton writes and refuses anything else.
"""

from __future__ import annotations

import zipfile
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from lepton_core.core import ModelError
from lepton_core.models._base import LeptonModel
from lepton_core.models._onnx import OPSET

__all__ = [
    "PIPELINE_FILE",
    "PipelineModel",
    "describe_columns",
    "load_skops",
    "make_preprocessor",
    "save_skops",
]

PIPELINE_FILE = "pipeline.skops"
_MISSING = "(missing)"
_OTHER = "(other)"
# Where pipelines saved before the models package was split name their one-hot namer.
_OLD_NAMER = "lepton_core.models._onehot_name"


def _onehot_name(feature: str, category: Any) -> str:
    """Readable one-hot column names: ``"sex = Male"``, ``"country = (other)"``."""
    return f"{feature} = {_OTHER if category == 'infrequent_sklearn' else category}"


def make_preprocessor(
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


def describe_columns(
    preprocessor: Any, columns_in: list[str]
) -> tuple[dict[str, list[int]], list[str]]:
    """``feature_groups_`` (in the order of ``columns_in``) and output names of a fitted
    :func:`make_preprocessor`."""
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


def save_skops(obj: Any, path: Path) -> None:
    import skops.io as sio

    sio.dump(obj, path)


def load_skops(path: Path) -> Any:
    import skops.io as sio

    # Only the types our own pipelines hold; anything else means the file is not ours.
    allowed = {"numpy.dtype", "sklearn.tree._tree.Tree", f"{__name__}._onehot_name", _OLD_NAMER}
    try:
        # skops reads a zip of JSON; a pickle (or any other file) in its place fails here,
        # before anything in it is loaded.
        unexpected = set(sio.get_untrusted_types(file=path)) - allowed
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(
            f"The file '{path.name}' is not a model file Lepton wrote; train and save the "
            "model again."
        ) from exc
    if unexpected:
        raise ModelError(
            f"The file '{path.name}' holds types Lepton does not write "
            f"({', '.join(sorted(unexpected))}); train and save the model again."
        )
    return sio.load(path, trusted=sorted(allowed))


class PipelineModel(LeptonModel):
    """A ColumnTransformer then one scikit-learn estimator, fitted as a Pipeline."""

    _scale: ClassVar[bool] = True
    max_categories: int | None

    @abstractmethod
    def _make_estimator(self) -> Any:
        """The unfitted final estimator for ``self.task``."""

    def _fit(self, X, y, valid, progress) -> None:
        from sklearn.pipeline import Pipeline

        preprocessor = make_preprocessor(
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
        self.feature_groups_, self.feature_names_out_ = describe_columns(
            pipeline[0], self.feature_names_in_
        )

    def _transform(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.pipeline_[0].transform(X), dtype=np.float64)

    def _save_estimator(self, folder: Path) -> list[str]:
        save_skops(self.pipeline_, folder / PIPELINE_FILE)
        return [PIPELINE_FILE]

    def _load_estimator(self, folder: Path, meta: dict[str, Any]) -> None:
        self._set_pipeline(load_skops(folder / PIPELINE_FILE))

    def to_onnx(self) -> tuple[bytes, str]:
        """The final estimator through skl2onnx; its input is :meth:`transform`'s matrix."""
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType

        self._check_fitted()
        regression = self.task == "regression"
        estimator = self.final_estimator_
        options = None if regression else {id(estimator): {"zipmap": False}}
        onx = convert_sklearn(
            estimator,
            initial_types=[("input", FloatTensorType([None, len(self.feature_names_out_)]))],
            target_opset=OPSET,
            options=options,
        )
        return onx.SerializeToString(), "value" if regression else "probabilities"
