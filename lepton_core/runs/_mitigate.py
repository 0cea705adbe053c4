"""Fairness mitigation with fairlearn: a trained run in, a new, fairer model version out.

Two families of fairlearn methods:

- post-processing, ``ThresholdOptimizer``: group-specific (randomised) thresholds on
  the trained model's scores, under demographic parity or equalized odds; fitted on
  the validation part, which the base model did not learn from;
- reductions, ``ExponentiatedGradient``: a weighted ensemble of LightGBM models
  retrained on reweighted training rows under the same constraints.

Either way the result is a :class:`MitigatedModel`, a :class:`~lepton_core.models._base.LeptonModel`
saved without pickle (the base model's own files, thresholds or ensemble weights in
JSON, LightGBM text files), registered as a new version of the run's model and
evaluated on the same test rows, so it deploys, scores and explains like any other.

Randomised predictions are made deterministic per input: a row's uniform draw comes
from a hash of its values, so the same record always gets the same answer while the
groups' rates follow fairlearn's mixture.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import JsonMixin, ModelError, NotFittedError, TrainingError
from lepton_core.evaluation import (
    MAX_UNBINNED_GROUPS,
    MISSING,
    EvalReport,
    FairnessReport,
    fairness_reports,
)
from lepton_core.models import LeptonModel
from lepton_core.models import _base as _models

__all__ = [
    "MITIGATION_METHODS",
    "MitigatedModel",
    "MitigationConfig",
    "MitigationResult",
    "mitigate_run",
]

#: method id → (fairlearn class, constraint)
MITIGATION_METHODS = {
    "threshold_dp": ("ThresholdOptimizer", "demographic_parity"),
    "threshold_eo": ("ThresholdOptimizer", "equalized_odds"),
    "expgrad_dp": ("ExponentiatedGradient", "demographic_parity"),
    "expgrad_eo": ("ExponentiatedGradient", "equalized_odds"),
}
METHOD_TITLES = {
    "threshold_dp": "ThresholdOptimizer · demographic parity",
    "threshold_eo": "ThresholdOptimizer · equalized odds",
    "expgrad_dp": "ExponentiatedGradient · demographic parity",
    "expgrad_eo": "ExponentiatedGradient · equalized odds",
}
_BASE = "base"
_EXPLAIN_ROWS = 100  # permutation SHAP on a mixture of models: keep it to a screenful


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
        X = self._clean(self._check_columns(_models._as_frame(X)))
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
        if base.family != "lightgbm":
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
        # Not a trainable family, so it has no entry in FAMILY_TITLES.
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
        self.base_ = _models.load_model(folder / _BASE)
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


# Loading a saved model finds its class here (models imports this module lazily).
_models._CLASSES[MitigatedModel.family] = MitigatedModel


# ------------------------------------------------------------------ workspace flow
@dataclass
class MitigationConfig(JsonMixin):
    """What a mitigation job does: :func:`mitigate_run`'s arguments.

    ``python -m lepton_core mitigate`` and :func:`lepton_core.jobs._jobs.start_job` take it.
    """

    run_id: str
    sensitive: str
    method: str = "threshold_dp"
    max_iter: int = 50
    eps: float = 0.01

    def run(self, workspace: Any, callbacks: list[Any] | None = None) -> MitigationResult:
        """:func:`mitigate_run` with these arguments."""
        return mitigate_run(
            workspace,
            self.run_id,
            sensitive=self.sensitive,
            method=self.method,
            max_iter=self.max_iter,
            eps=self.eps,
            callbacks=callbacks,
        )


@dataclass
class MitigationResult(JsonMixin):
    """A mitigated model version and its figures next to the run it came from.

    Attributes
    ----------
    rows : list of dict
        The before/after table: ``{"metric", "before", "after", "change"}`` for accuracy,
        ROC AUC, DPD, EOD and the worst group's accuracy, all on the same test rows.
    """

    run_id: str
    parent_run_id: str
    model_name: str
    model_version: int
    method: str
    sensitive: str
    evaluation: EvalReport
    fairness: list[FairnessReport]
    rows: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def comparison_rows(
    before: tuple[EvalReport, FairnessReport], after: tuple[EvalReport, FairnessReport]
) -> list[dict[str, Any]]:
    """Accuracy, AUC, DPD, EOD and worst group, before and after."""

    def figures(evaluation: EvalReport, report: FairnessReport) -> dict[str, Any]:
        worst = report.worst_group or {}
        return {
            "accuracy": evaluation.metrics.get("accuracy"),
            "roc_auc": evaluation.metrics.get("roc_auc"),
            "demographic_parity_difference": report.demographic_parity_difference,
            "equalized_odds_difference": report.equalized_odds_difference,
            "worst_group_accuracy": worst.get("value"),
            "worst_group": worst.get("group"),
        }

    old, new = figures(*before), figures(*after)
    rows = []
    for metric in old:
        a, b = old[metric], new[metric]
        change = b - a if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None
        rows.append({"metric": metric, "before": a, "after": b, "change": change})
    return rows


def mitigate_run(
    workspace: Any,
    run_id: str,
    *,
    sensitive: str,
    method: str = "threshold_dp",
    max_iter: int = 50,
    eps: float = 0.01,
    callbacks: list[Any] | None = None,
) -> MitigationResult:
    """Mitigate a trained run's model for ``sensitive`` and register the result.

    The data set and split are rebuilt exactly as the run made them (same seed), the
    mitigation is fitted (ThresholdOptimizer on the validation part, ExponentiatedGradient
    on the training part), then evaluated, explained and logged like a training run,
    as a new version of the same registered model.

    ``callbacks`` (:class:`lepton_core.core._callbacks.TrainerCallback`) hear the phases, as
    for training; a background job passes its progress writer.

    Raises
    ------
    ModelError
        The run's task is not binary, the attribute is unusable, or the method does not
        apply to this model family.
    """
    import time

    from lepton_core.core import CallbackList
    from lepton_core.runs._reports import load_run_reports
    from lepton_core.runs._training import TrainConfig, prepare_data, record_run

    if method not in MITIGATION_METHODS:
        raise ValueError(f"Unknown method {method!r}; use one of {', '.join(MITIGATION_METHODS)}.")
    start = time.perf_counter()
    cb = CallbackList(callbacks)
    cb.phase("loading")
    cb.train_begin()
    parent = load_run_reports(workspace, run_id)
    run = parent.run
    if run.family == MitigatedModel.family:
        raise ModelError("This run is already mitigated; pick the run it was made from.")
    if run.family == "text":
        raise ModelError(
            "Fairness mitigation is available for tabular models only; "
            "compare the text model's groups on this page instead."
        )
    if run.task != "binary":
        raise ModelError(
            "fairlearn's mitigations here need a yes/no (binary) target; "
            "pick a run with a binary task."
        )
    config = TrainConfig.from_dict(workspace.load_report(run_id, "config"))
    # The run's own split: the mitigated model is scored on the rows its parent was.
    data = prepare_data(replace(config, data=f"dataset:{run.dataset_id}"), workspace)
    info, split = data.info, data.split
    if sensitive not in split.train.columns:
        raise ModelError(f"The data set has no column '{sensitive}'; pick one of its columns.")
    base = workspace.load_model(run.model_name, run.model_version)
    model = MitigatedModel(
        task="binary",
        seed=config.seed,
        method=method,
        sensitive=sensitive,
        max_iter=max_iter,
        eps=eps,
    )
    fit_x, fit_part = (
        (data.x_valid, split.valid)
        if method.startswith("threshold")
        else (data.x_train, split.train)
    )
    cb.phase("training")
    model.fit(
        fit_x,
        fit_part[info.target].to_numpy(),
        base=base,
        sensitive_features=fit_part[sensitive].to_numpy(),
    )
    if cb.control.should_stop:
        raise TrainingError("Mitigation was cancelled; start it again when you are ready.")
    mitigation = {
        "method": method,
        "title": METHOD_TITLES[method],
        "sensitive": sensitive,
        "parent_run_id": run_id,
        "parent_model": f"{run.model_name}:{run.model_version}",
        "fitted_on": "validation part" if method.startswith("threshold") else "training part",
    }
    recorded = record_run(
        workspace,
        data,
        model,
        config=TrainConfig.from_dict(
            {**config.to_dict(), "model": MitigatedModel.family, "model_name": run.model_name}
        ),
        run_name=f"{run.model_name}-{method}",
        params={
            "mitigation.method": method,
            "mitigation.sensitive": sensitive,
            "mitigation.parent_run": run_id,
            "base_family": base.family,
        },
        tags={"parent_run": run_id, "mitigation": method},
        sensitive=[sensitive],
        explain_rows=_EXPLAIN_ROWS,
        callbacks=cb,
    )
    after = next(r for r in recorded.fairness if r.attribute == sensitive)
    try:
        before = parent.fairness_for(sensitive)
    except ValueError:
        before = fairness_reports(
            split.test[info.target].to_numpy(),
            base.predict(data.x_test),
            sensitive_features=split.test[[sensitive]].reset_index(drop=True),
            task="binary",
            positive_label=model.classes_[1],
        )[0]
    rows = comparison_rows((parent.evaluation, before), (recorded.evaluation, after))
    # Written once the new run's figures exist: the before/after table needs them.
    workspace.log_report(recorded.run_id, "mitigation", {**mitigation, "rows": rows})
    cb.train_end()
    return MitigationResult(
        run_id=recorded.run_id,
        parent_run_id=run_id,
        model_name=run.model_name,
        model_version=recorded.model_version,
        method=method,
        sensitive=sensitive,
        evaluation=recorded.evaluation,
        fairness=recorded.fairness,
        rows=rows,
        seconds=round(time.perf_counter() - start, 2),
    )
