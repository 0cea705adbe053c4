"""A weighted average of fitted models (the ``ensemble`` family), and greedy ensemble selection.

The ensemble's output is the weighted average of its members' probabilities
(classifiers) or predictions (regression), so ``raw_output`` is in probability
units (``margin = "probability"``). It is explained by the weighted sum of the
members' SHAP values, each turned into probability units first
(:func:`lepton_core.explain.to_probability`): the members' values add up to their
probabilities, so the weighted sum adds up to the ensemble's.

Weights come from greedy ensemble selection with replacement (Caruana et al.,
"Ensemble selection from libraries of models", ICML 2004), as AutoGluon and
auto-sklearn fit them: start empty, add the member that most improves the
validation score of the average, again and again (a member may return), and keep
the best prefix; a member's weight is the share of the picks it got.

It is saved without pickle: each member in its own folder in its own format
(``member_0/``, ...), the weights in ``model.json``. Its ONNX form is one graph that
holds every member's (:mod:`lepton_core.models._ensemble_onnx`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from lepton_core.core import Message, ModelError, NotFittedError, TrainingError, is_classification
from lepton_core.models._base import LeptonModel
from lepton_core.models._columns import as_frame
from lepton_core.models._ensemble_onnx import EnsembleOnnxScorer, ensemble_to_onnx
from lepton_core.models._registry import load_model

__all__ = ["EnsembleModel", "ensemble_scorer", "greedy_weights", "member_output"]

#: Picks of greedy selection (AutoGluon uses 25 by default, auto-sklearn 50).
SELECTION_ROUNDS = 25
_MEMBER = "member_{}"


def member_output(model: LeptonModel, X: pd.DataFrame) -> np.ndarray:
    """What the ensemble averages: the positive class's probability (binary), every
    class's (multiclass, ``(n, k)``) or the prediction (regression)."""
    if not is_classification(model.task):
        return np.asarray(model.predict(X), dtype=float)
    proba = model.predict_proba(X)
    return proba[:, 1] if model.task == "binary" else proba


def ensemble_scorer(task: str, metric: str) -> Callable[[np.ndarray, np.ndarray], float]:
    """``score(y, output)``, higher is better, for outputs as :func:`member_output` gives
    and ``y`` encoded (class positions, or numbers for regression)."""
    from sklearn import metrics

    def labels(output: np.ndarray) -> np.ndarray:
        return (output >= 0.5).astype(int) if output.ndim == 1 else output.argmax(axis=1)

    if metric == "roc_auc":
        if task == "binary":
            return metrics.roc_auc_score
        return lambda y, p: metrics.roc_auc_score(y, p, multi_class="ovr")
    scorers = {
        "accuracy": lambda y, p: metrics.accuracy_score(y, labels(p)),
        "f1": lambda y, p: metrics.f1_score(
            y, labels(p), average="binary" if task == "binary" else "macro"
        ),
        "r2": metrics.r2_score,
        "rmse": lambda y, p: -metrics.root_mean_squared_error(y, p),
        "mae": lambda y, p: -metrics.mean_absolute_error(y, p),
    }
    if metric not in scorers:
        raise ValueError(f"Unknown metric {metric!r}; use roc_auc or one of {', '.join(scorers)}.")
    return scorers[metric]


def greedy_weights(
    outputs: Sequence[np.ndarray],
    y: np.ndarray,
    score: Callable[[np.ndarray, np.ndarray], float],
    rounds: int = SELECTION_ROUNDS,
) -> np.ndarray:
    """Weights (summing to 1) from greedy ensemble selection with replacement.

    ``outputs`` are the candidates' validation outputs, ``score(y, output)`` ranks an
    average (higher is better). The first pick is the best single candidate; the prefix
    of picks with the best score is kept (the earliest on ties), so useless candidates
    get weight 0.
    """
    if not outputs:
        raise ValueError("Greedy selection needs at least one candidate.")
    stacked = np.stack([np.asarray(o, dtype=float) for o in outputs])
    total = np.zeros_like(stacked[0])
    picks: list[int] = []
    best_score, best_len = -np.inf, 0
    for step in range(1, rounds + 1):
        # The average if each candidate joined: (total + candidate) / step.
        scores = [score(y, (total + candidate) / step) for candidate in stacked]
        pick = int(np.nanargmax(scores))
        picks.append(pick)
        total += stacked[pick]
        if scores[pick] > best_score + 1e-12:
            best_score, best_len = scores[pick], step
    counts = np.bincount(picks[:best_len], minlength=len(outputs)).astype(float)
    return counts / counts.sum()


class EnsembleModel(LeptonModel):
    """A weighted average of fitted Lepton models of one data set.

    Parameters
    ----------
    metric : str
        The validation metric greedy selection maximises when ``fit`` chooses the
        weights: ``roc_auc``, ``accuracy``, ``f1``, ``r2``, ``rmse`` or ``mae``; by
        default ROC AUC (binary), accuracy (multiclass) or R² (regression).
    rounds : int
        Picks of greedy selection.
    """

    family = "ensemble"
    title = Message("family.ensemble")
    trainable = False  # made from fitted models (Auto's trials, registered versions)
    margin = "probability"

    def __init__(
        self,
        task: str = "binary",
        seed: int = 0,
        metric: str | None = None,
        rounds: int = SELECTION_ROUNDS,
    ) -> None:
        self.task = task
        self.seed = seed
        self.metric = metric
        self.rounds = rounds

    def fit(  # type: ignore[override]
        self,
        X: pd.DataFrame | None = None,
        y: Any = None,
        *,
        members: Sequence[LeptonModel],
        weights: Sequence[float] | None = None,
    ) -> Self:
        """Average the fitted ``members`` with ``weights``, or, without them, with the
        weights greedy selection finds on ``X``, ``y`` (rows the members did not learn
        from: the validation part). Members with weight 0 are left out.
        """
        members = list(members)
        if len(members) < 2 and weights is None:
            raise ModelError(Message("ensemble.too_few"))
        first = members[0]
        for member in members:
            if not member.__sklearn_is_fitted__():
                raise NotFittedError(Message("model.not_fitted", family=member.title))
            if member.reads != "table" or member.task != self.task or member.task != first.task:
                raise ModelError(Message("ensemble.not_tabular", family=member.title))
            if set(member.feature_names_in_) != set(first.feature_names_in_):
                raise ModelError(Message("ensemble.other_columns"))
            classes = getattr(member, "classes_", None)
            if classes is not None and list(classes) != list(first.classes_):
                raise ModelError(Message("ensemble.other_classes"))
        for name in (
            "feature_names_in_",
            "n_features_in_",
            "numeric_features_",
            "categorical_features_",
            "categories_",
        ):
            setattr(self, name, getattr(first, name))
        if is_classification(self.task):
            self.classes_ = first.classes_
        self.feature_names_out_ = list(self.feature_names_in_)
        self.feature_groups_ = {c: [i] for i, c in enumerate(self.feature_names_in_)}
        self.history_, self.best_iteration_ = [], None
        if weights is None:
            if X is None or y is None:
                raise ValueError("Pass validation rows X, y or the weights.")
            X = self._clean(self._check_columns(as_frame(X)))
            codes = first._encode_target(y)
            score = ensemble_scorer(self.task, self.metric or _default_metric(self.task))
            outputs = [member_output(m, X) for m in members]
            weights = greedy_weights(outputs, codes, score, self.rounds)
        w = np.asarray(weights, dtype=float)
        if len(w) != len(members) or (w < 0).any() or not w.sum() > 0:
            raise ModelError(Message("ensemble.bad_weights", members=len(members)))
        keep = np.flatnonzero(w > 0)
        self.members_ = [members[i] for i in keep]
        self.weights_ = (w[keep] / w[keep].sum()).tolist()
        self.final_estimator_ = {"weights": self.weights_}
        return self

    @property
    def requirements(self) -> tuple[str, ...]:  # type: ignore[override]
        """What every member needs."""
        members = getattr(self, "members_", [])
        return tuple(dict.fromkeys(r for m in members for r in m.requirements))

    @property
    def explain_strategy(self) -> Any:
        """The weighted sum of the members' SHAP values (:class:`_WeightedShap`)."""
        return _WeightedShap(self)

    def members(self) -> list[tuple[LeptonModel, float]]:
        """Each member with its weight, heaviest first."""
        self._check_fitted()
        pairs = zip(self.members_, self.weights_, strict=True)
        return sorted(pairs, key=lambda pair: -pair[1])

    # -- ONNX -------------------------------------------------------------------

    def to_onnx(self) -> tuple[bytes, str]:
        """Every member's graph in one, their outputs weighted and summed; member ``i``
        reads its own ``transform`` matrix as input ``member{i}_input``
        (:func:`~lepton_core.models._ensemble_onnx.ensemble_to_onnx`)."""
        self._check_fitted()
        return ensemble_to_onnx(self)

    def onnx_scorer(self, graph: bytes, output: str) -> Any:
        """Scores like the ensemble with ``graph`` in onnxruntime, feeding each member's input."""
        return EnsembleOnnxScorer(self, graph, output)

    # -- scoring ----------------------------------------------------------------

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        return sum(
            w * member_output(m, X) for m, w in zip(self.members_, self.weights_, strict=True)
        )  # type: ignore[return-value]

    def _proba(self, X: pd.DataFrame) -> np.ndarray:
        raw = self._raw(X)
        return np.column_stack([1.0 - raw, raw]) if raw.ndim == 1 else raw

    def _transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return X

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(Message("ensemble.not_made"))

    def _fit(self, X, y, valid, progress) -> None:  # pragma: no cover - fit is overridden
        raise TrainingError(Message("ensemble.not_made"))

    # -- persistence ------------------------------------------------------------

    def _estimator_meta(self) -> dict[str, Any]:
        return {"weights": self.weights_, "members": [m.family for m in self.members_]}

    def _save_estimator(self, folder: Path) -> list[str]:
        files = []
        for i, member in enumerate(self.members_):
            name = _MEMBER.format(i)
            files += [f"{name}/{f}" for f in member.save(folder / name)]
        return files

    def _load_estimator(self, folder: Path, meta: dict[str, Any]) -> None:
        spec = meta["estimator"]
        self.weights_ = [float(w) for w in spec["weights"]]
        self.members_ = [load_model(folder / _MEMBER.format(i)) for i in range(len(self.weights_))]
        self.final_estimator_ = {"weights": self.weights_}


def _default_metric(task: str) -> str:
    return {"binary": "roc_auc", "multiclass": "accuracy"}.get(task, "r2")


class _WeightedShap:
    """The ensemble's explanation strategy: each member explained by its own strategy,
    turned into probability units, and the values, base values and outputs summed with
    the members' weights."""

    NAME = "weighted sum of the members' SHAP values"

    def __init__(self, model: EnsembleModel) -> None:
        from lepton_core.explain import rows_to_explain

        self.DEFAULT_MAX_ROWS = min(rows_to_explain(m, 10**9) for m in model.members_)

    @staticmethod
    def explain(
        model: EnsembleModel,
        rows: pd.DataFrame,
        background: pd.DataFrame,
        seed: int,
        progress: Any = None,
    ) -> Any:
        import dataclasses

        from lepton_core.explain import explain, to_probability

        n_members, total = len(model.members_), len(rows)
        parts = []
        for i, (member, weight) in enumerate(zip(model.members_, model.weights_, strict=True)):
            expl = explain(member, rows, background=background, max_rows=total, seed=seed)
            if is_classification(model.task):
                expl = to_probability(expl)
            order = [expl.feature_names.index(c) for c in model.feature_names_in_]
            parts.append((expl, weight, np.asarray(expl.values, dtype=float)[:, order]))
            # One bar for all members; a stop request leaves no row explained by all.
            if progress is not None and progress((i + 1) * total // n_members, total):
                parts = [(e, w, v[:0]) for e, w, v in parts]
                break
        first = parts[0][0]
        n = len(parts[0][2])
        return dataclasses.replace(
            first,
            explainer=_WeightedShap.NAME,
            output_space="value" if model.task == "regression" else "probability",
            feature_names=list(model.feature_names_in_),
            values=sum(w * v for _, w, v in parts).tolist(),
            base_values=sum(
                w * np.asarray(e.base_values, dtype=float) for e, w, _ in parts
            ).tolist(),
            data=first.data[:n],
            model_output=sum(
                w * np.asarray(e.model_output, dtype=float)[:n] for e, w, _ in parts
            ).tolist(),
            note=Message("ensemble.explained", members=n_members),
        )
