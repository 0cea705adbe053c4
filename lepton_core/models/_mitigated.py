"""A model made fairer by fairlearn, over a trained Lepton model (the ``mitigated`` family).

Two kinds of fairlearn methods:

- post-processing, ``ThresholdOptimizer``: group-specific (randomised) thresholds on
  the trained model's scores, under demographic parity or equalized odds;
- reductions, ``ExponentiatedGradient``: a weighted ensemble of LightGBM models
  retrained on reweighted training rows under the same constraints.

It is saved without pickle (the base model's own files, thresholds or ensemble
weights in JSON, LightGBM text files), so it deploys, scores and explains like any
other model. Randomised predictions are made deterministic per input: a row's
uniform draw comes from a hash of its values, so the same record always gets the
same answer while the groups' rates follow fairlearn's mixture.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import Message, ModelError, NotFittedError, TrainingError
from lepton_core.evaluation import MAX_UNBINNED_GROUPS, MISSING
from lepton_core.models._base import LeptonModel
from lepton_core.models._columns import as_frame
from lepton_core.models._lightgbm import LightGBMModel
from lepton_core.models._registry import load_model

__all__ = ["METHOD_TITLES", "MITIGATION_METHODS", "MitigatedModel"]

#: method id → (fairlearn class, constraint)
MITIGATION_METHODS = {
    "threshold_dp": ("ThresholdOptimizer", "demographic_parity"),
    "threshold_eo": ("ThresholdOptimizer", "equalized_odds"),
    "expgrad_dp": ("ExponentiatedGradient", "demographic_parity"),
    "expgrad_eo": ("ExponentiatedGradient", "equalized_odds"),
}
# In a spreadsheet user's words; the fairlearn names are in the page's expert details.
METHOD_TITLES = {
    "threshold_dp": Message("mitigation.threshold_dp"),
    "threshold_eo": Message("mitigation.threshold_eo"),
    "expgrad_dp": Message("mitigation.expgrad_dp"),
    "expgrad_eo": Message("mitigation.expgrad_eo"),
}
_BASE = "base"


class MitigatedModel(LeptonModel):
    """A binary classifier made fairer by fairlearn, over a trained Lepton model.

    Parameters
    ----------
    method : str
        One of :data:`MITIGATION_METHODS`.
    sensitive : str
        The sensitive column the constraint is over.
    eps : float
        ExponentiatedGradient's allowed constraint violation.
    max_iter : int
        ExponentiatedGradient's iterations.
    """

    family = "mitigated"
    title = Message("family.mitigated")
    trainable = False  # made from a trained run by mitigate_run, never trained directly
    mitigable = False
    # Permutation SHAP on a mixture of models: keep it to a screenful.
    explain_rows = 100
    margin = "probability"

    def __init__(
        self,
        task: str = "binary",
        seed: int = 0,
        method: str = "threshold_dp",
        sensitive: str = "",
        eps: float = 0.01,
        max_iter: int = 50,
    ) -> None:
        self.task = task
        self.seed = seed
        self.method = method
        self.sensitive = sensitive
        self.eps = eps
        self.max_iter = max_iter

    def fit(  # type: ignore[override]
        self, X: pd.DataFrame, y: Any, *, base: LeptonModel, sensitive_features: Any = None
    ) -> MitigatedModel:
        """Fit the mitigation over the fitted ``base`` on ``X``, ``y``.

        ``sensitive_features`` defaults to ``X[self.sensitive]``; ThresholdOptimizer
        needs the sensitive column among the model's inputs, since it reads it when scoring.
        """
        if self.method not in MITIGATION_METHODS:
            raise ValueError(
                f"Unknown method {self.method!r}; use one of {', '.join(MITIGATION_METHODS)}."
            )
        if base.task != "binary" or self.task != "binary":
            raise ModelError(
                "fairlearn's mitigations here need a yes/no (binary) target; "
                "train a binary model to mitigate it."
            )
        kind, constraint = MITIGATION_METHODS[self.method]
        if kind == "ThresholdOptimizer" and self.sensitive not in base.feature_names_in_:
            raise ModelError(
                f"The model does not take '{self.sensitive}' as an input, so group thresholds "
                "cannot be applied when scoring; use ExponentiatedGradient instead."
            )
        for name in (
            "feature_names_in_",
            "n_features_in_",
            "numeric_features_",
            "categorical_features_",
            "categories_",
            "classes_",
        ):
            setattr(self, name, getattr(base, name))
        self.feature_names_out_ = list(self.feature_names_in_)
        self.feature_groups_ = {c: [i] for i, c in enumerate(self.feature_names_in_)}
        self.history_ = []
        self.best_iteration_ = None
        self.base_ = base
        X = self._clean(self._check_columns(as_frame(X)))
        codes = base._encode_target(y)
        raw_groups = (
            X[self.sensitive]
            if sensitive_features is None
            else pd.Series(np.asarray(sensitive_features), index=X.index)
        )
        self.cuts_ = _learn_cuts(raw_groups)
        groups = self._groups(raw_groups)
        if groups.nunique() < 2:
            raise ModelError(
                f"'{self.sensitive}' has one group in these rows; pick one with two or more."
            )
        spec: dict[str, Any] = {"kind": kind, "constraint": constraint}
        if kind == "ThresholdOptimizer":
            spec["interpolation"] = self._fit_thresholds(X, codes, groups, constraint)
        else:
            spec["weights"], self.predictors_ = self._fit_reduction(X, codes, groups, constraint)
        self.final_estimator_ = spec
        return self

    # -- fitting ----------------------------------------------------------------

    def _fit_thresholds(
        self, X: pd.DataFrame, y: np.ndarray, groups: pd.Series, constraint: str
    ) -> dict[str, Any]:
        from fairlearn.postprocessing import ThresholdOptimizer

        optimizer = ThresholdOptimizer(
            estimator=self.base_,
            constraints=constraint,
            objective="accuracy_score",
            prefit=True,
            predict_method="predict_proba",
        )
        try:
            optimizer.fit(X, y, sensitive_features=groups.to_numpy())
        except ValueError as exc:  # e.g. a group with one class only
            raise ModelError(
                f"ThresholdOptimizer could not fit on '{self.sensitive}' ({exc}); "
                "pick another attribute or merge small groups."
            ) from exc
        out = {}
        for group, rule in optimizer.interpolated_thresholder_.interpolation_dict.items():
            entry = {
                "p0": float(rule.p0),
                "op0": [rule.operation0.operator, repr(float(rule.operation0.threshold))],
                "p1": float(rule.p1),
                "op1": [rule.operation1.operator, repr(float(rule.operation1.threshold))],
            }
            if "p_ignore" in rule:
                entry["p_ignore"] = float(rule.p_ignore)
                entry["prediction_constant"] = float(rule.prediction_constant)
            out[str(group)] = entry
        return out

    def _fit_reduction(
        self, X: pd.DataFrame, y: np.ndarray, groups: pd.Series, constraint: str
    ) -> tuple[list[float], list[Any]]:
        import lightgbm as lgb
        from fairlearn.reductions import DemographicParity, EqualizedOdds, ExponentiatedGradient

        base = self.base_
        if not isinstance(base, LightGBMModel):
            raise ModelError(
                "ExponentiatedGradient retrains LightGBM models; mitigate a LightGBM run, "
                "or use ThresholdOptimizer for this model."
            )
        matrix, categorical = self._matrix(X)
        params = base._params()
        estimator = lgb.LGBMClassifier(
            n_estimators=base.best_iteration_ or base.n_estimators,
            learning_rate=params["learning_rate"],
            num_leaves=params["num_leaves"],
            max_depth=params["max_depth"],
            min_child_samples=params["min_data_in_leaf"],
            subsample=params["bagging_fraction"],
            subsample_freq=params["bagging_freq"],
            colsample_bytree=params["feature_fraction"],
            reg_lambda=params["lambda_l2"],
            n_jobs=params["num_threads"] or None,
            random_state=self.seed,
            categorical_feature=categorical,
            verbose=-1,
        )
        moment = (DemographicParity if constraint == "demographic_parity" else EqualizedOdds)()
        reduction = ExponentiatedGradient(
            estimator, constraints=moment, eps=self.eps, max_iter=self.max_iter
        )
        with warnings.catch_warnings():
            # LightGBM prefers categorical_feature on the Dataset, which the reduction's
            # plain fit(X, y, sample_weight) call cannot pass; the parameter works as is.
            warnings.filterwarnings("ignore", message=".*categorical_feature.*")
            # fairlearn 0.15 grows Series with .at, which pandas 3 deprecates; harmless here.
            warnings.filterwarnings("ignore", message="Setting a value on a Series via .at")
            warnings.filterwarnings("ignore", message="Setting an item of incompatible dtype")
            reduction.fit(matrix, y, sensitive_features=groups.to_numpy())
        weights = reduction.weights_.to_numpy(dtype=float)
        keep = np.flatnonzero(weights > 1e-9)
        total = weights[keep].sum()
        return [float(weights[i] / total) for i in keep], [
            reduction.predictors_.iloc[i].booster_ for i in keep
        ]

    def _matrix(self, X: pd.DataFrame) -> tuple[np.ndarray, list[int]]:
        """The LightGBM base's input (categories as codes) and its categorical positions."""
        return self.base_.transform(X), self.base_.categorical_columns()

    # -- scoring ----------------------------------------------------------------

    def _groups(self, values: pd.Series) -> pd.Series:
        if self.cuts_ is not None:
            numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            bands = np.searchsorted(np.asarray(self.cuts_), numbers, side="right")
            labels = np.where(np.isnan(numbers), MISSING, [f"band {b}" for b in bands])
            return pd.Series(labels, index=values.index, dtype=object)
        return values.map(lambda v: MISSING if pd.isna(v) else str(v)).astype(object)

    def _positive(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of ``classes_[1]`` under the mitigated (randomised) classifier."""
        spec = self.final_estimator_
        if spec["kind"] == "ExponentiatedGradient":
            matrix, _ = self._matrix(X)
            votes = [booster.predict(matrix) > 0.5 for booster in self.predictors_]
            return np.average(np.vstack(votes), axis=0, weights=spec["weights"])
        scores = self.base_.predict_proba(X)[:, 1]
        groups = self._groups(X[self.sensitive]).to_numpy()
        # Groups never seen when fitting keep the base model's decision.
        out = (scores > 0.5).astype(float)
        for group, rule in spec["interpolation"].items():
            mask = groups == group
            if not mask.any():
                continue
            s = scores[mask]
            p = rule["p0"] * _apply(rule["op0"], s) + rule["p1"] * _apply(rule["op1"], s)
            if "p_ignore" in rule:
                p = rule["p_ignore"] * rule["prediction_constant"] + (1 - rule["p_ignore"]) * p
            out[mask] = p
        return out

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        return self._positive(X)

    def _proba(self, X: pd.DataFrame) -> np.ndarray:
        positive = self._positive(X)
        return np.column_stack([1.0 - positive, positive])

    def predict_scored(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Labels drawn from the mitigated mixture (a per-row draw fixed by its values, not
        the argmax of the probabilities) and the probabilities."""
        Xc = self._prepare(X)
        positive = self._positive(Xc)
        draw = pd.util.hash_pandas_object(Xc, index=False).to_numpy() / float(2**64)
        labels = self.classes_[(draw < positive).astype(int)]
        return labels, np.column_stack([1.0 - positive, positive])

    def _transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return X

    def _check_fitted(self) -> None:
        # It is made, not trained: the message says how.
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(
                "This mitigated model is not made yet; create it with mitigate_run or fit."
            )

    def _fit(self, X, y, valid, progress) -> None:  # pragma: no cover - fit is overridden
        raise TrainingError("A mitigated model is made from a trained run; use mitigate_run.")

    # -- persistence --------------------------------------------------------------

    def _estimator_meta(self) -> dict[str, Any]:
        return {**self.final_estimator_, "cuts": self.cuts_, "base": self.base_.family}

    def _save_estimator(self, folder: Path) -> list[str]:
        files = [f"{_BASE}/{name}" for name in self.base_.save(folder / _BASE)]
        for i, booster in enumerate(getattr(self, "predictors_", [])):
            booster.save_model(folder / f"predictor_{i}.txt")
            files.append(f"predictor_{i}.txt")
        return files

    def _load_estimator(self, folder: Path, meta: dict[str, Any]) -> None:
        spec = dict(meta["estimator"])
        self.cuts_ = spec.pop("cuts")
        spec.pop("base")
        self.final_estimator_ = spec
        self.base_ = load_model(folder / _BASE)
        if spec["kind"] == "ExponentiatedGradient":
            import lightgbm as lgb

            self.predictors_ = [
                lgb.Booster(model_file=folder / f"predictor_{i}.txt")
                for i in range(len(spec["weights"]))
            ]


def _apply(operation: list[str], scores: np.ndarray) -> np.ndarray:
    operator, threshold = operation[0], float(operation[1])
    return (scores > threshold if operator == ">" else scores < threshold).astype(float)


def _learn_cuts(values: pd.Series) -> list[float] | None:
    """Quantile cut points for a many-valued numeric attribute (as the fairness report bands)."""
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if not numeric or values.nunique(dropna=True) <= MAX_UNBINNED_GROUPS:
        return None
    present = values.dropna().to_numpy(dtype=float)
    return np.unique(np.quantile(present, np.linspace(0, 1, 6)[1:-1])).tolist()
