"""The ``federated`` family: the network a federation trained, on the federation's encoding.

Federated training (:func:`lepton_core.runs.run_federated`) builds one encoding from the
clients' statistics, the *spec*: each number standardised by the federation's mean and
standard deviation (a missing one becomes the mean), each text column one-hot over the
federation's commonest categories (:func:`encode`, which every client applies to its own
rows). The clients' networks read that encoding, and the server averages them.

A :class:`FederatedModel` is the averaged network with that encoding in front. It is made
from the spec, the classes and the weights (:meth:`FederatedModel.from_federation`), never
fitted, so making it needs no client's rows. Otherwise it is an
:class:`~lepton_core.models.MLPModel`: it predicts, is explained (SHAP by original
column), exported to ONNX, compressed to int8 and served as one. It is saved without
pickle: the spec in ``model.json``, the weights in ``weights.safetensors``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from lepton_core.core import Message, Task, TrainingError, is_classification
from lepton_core.dp import PrivacyReport
from lepton_core.models._base import LeptonModel, ProgressFn
from lepton_core.models._mlp import MLPModel, _net
from lepton_core.models._pipeline import _onehot_name

__all__ = ["FederatedModel", "encode"]

WEIGHTS_FILE = "weights.safetensors"


def encode(frame: pd.DataFrame, spec: dict[str, Any]) -> np.ndarray:
    """The network's input: numbers standardised with the federation's means and standard
    deviations (missing: the mean), categories one-hot over the federation's categories."""
    parts = []
    for column, (mean, std) in spec["numeric"].items():
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        parts.append(np.nan_to_num((values - mean) / std)[:, None])
    for column, categories in spec["categories"].items():
        values = frame[column].astype(object).where(frame[column].notna(), None).astype(str)
        parts.append((values.to_numpy()[:, None] == np.asarray(categories)[None, :]).astype(float))
    return np.hstack(parts) if parts else np.empty((len(frame), 0))


class FederatedModel(MLPModel):
    """The network a federation trained, reading the federation's encoding (:func:`encode`).

    Made by :meth:`from_federation`; ``fit`` is refused. ``spec_`` holds the encoding:
    ``numeric`` (column → (mean, standard deviation)) and ``categories`` (column → the
    categories kept, in input order). A federation trained with DP-SGD in every client
    sets ``privacy_``, which is saved with the model.

    Parameters
    ----------
    hidden_sizes : tuple of int
        The network's hidden layers (none: the logistic model).
    learning_rate, batch_size
        The clients' training step, as the federation ran it (recorded, not used here).
    """

    family = "federated"
    title = Message("family.federated")
    trainable = False  # made from a federation's averaged weights, never fitted here
    searchable = False
    private_variant = False
    settings = ()

    def __init__(
        self,
        task: Task = "binary",
        seed: int = 0,
        hidden_sizes: tuple[int, ...] = (64, 32),
        learning_rate: float = 3e-3,
        batch_size: int = 128,
    ) -> None:
        self.task = task
        self.seed = seed
        self.hidden_sizes = hidden_sizes
        self.learning_rate = learning_rate
        self.batch_size = batch_size

    @classmethod
    def from_federation(
        cls,
        spec: dict[str, Any],
        state: dict[str, Any],
        *,
        task: Task,
        classes: Any = None,
        columns: list[str] | None = None,
        seed: int = 0,
        hidden_sizes: tuple[int, ...] = (64, 32),
        learning_rate: float = 3e-3,
        batch_size: int = 128,
    ) -> FederatedModel:
        """The model whose network holds the federated weights ``state`` on ``spec``'s encoding.

        Parameters
        ----------
        spec : dict
            The federation's encoding (see the class).
        state : dict
            The averaged network's weights (torch tensors), for ``hidden_sizes``.
        task : {"binary", "multiclass", "regression"}
        classes : array-like, optional
            A classifier's classes; the network's outputs are theirs in sorted order.
        columns : list of str, optional
            The input columns in the data set's order; default: the spec's numbers, then
            its text columns.

        Raises
        ------
        ValueError
            ``columns`` are not the spec's, or a classifier has no classes.
        """
        model = cls(
            task=task,
            seed=seed,
            hidden_sizes=tuple(int(h) for h in hidden_sizes),
            learning_rate=learning_rate,
            batch_size=batch_size,
        )
        model.spec_ = _clean_spec(spec)
        # The column schema is learnt as a fitted model learns it, from a frame that has
        # every kept category and the numbers at their means: no client's rows.
        model._learn_schema(_schema_frame(model.spec_, columns))
        if is_classification(task):
            if classes is None:
                raise ValueError("A classifier needs its classes; pass classes=.")
            model._learn_target(pd.Series(list(classes)).to_numpy())
        model.feature_groups_, model.feature_names_out_ = _describe(
            model.spec_, model.feature_names_in_
        )
        n_outputs = len(model.classes_) if task == "multiclass" else 1
        network = _net().build_network(
            len(model.feature_names_out_), n_outputs, model.hidden_sizes, 0.0
        )
        network.load_state_dict(state)
        model.final_estimator_ = network.eval()
        model.history_ = []
        model.best_iteration_ = None
        return model

    def fit(
        self,
        X: pd.DataFrame,
        y: Any,
        *,
        X_valid: pd.DataFrame | None = None,
        y_valid: Any = None,
        progress: ProgressFn | None = None,
    ) -> Self:
        """Refused: a federated model is made from a federation's weights."""
        raise TrainingError(Message("federated.refit"))

    def private(self, options: Any) -> LeptonModel:
        """Refused: a federation trains with DP-SGD in its clients
        (``FederatedConfig.privacy``)."""
        return LeptonModel.private(self, options)

    def _transform(self, X: pd.DataFrame) -> np.ndarray:
        return encode(X, self.spec_)

    def _estimator_meta(self) -> dict[str, Any]:
        meta = {**super()._estimator_meta(), "spec": self.spec_}
        if hasattr(self, "privacy_"):
            meta["privacy"] = self.privacy_.to_dict()
        return meta

    def _save_estimator(self, folder: Path) -> list[str]:
        from safetensors.torch import save_file

        save_file(self.final_estimator_.state_dict(), folder / WEIGHTS_FILE)
        return [WEIGHTS_FILE]

    def _load_estimator(self, folder: Path, meta: dict[str, Any]) -> None:
        from safetensors.torch import load_file

        shape = meta["estimator"]
        self.spec_ = _clean_spec(shape["spec"])
        network = _net().build_network(
            shape["n_inputs"], shape["n_outputs"], self.hidden_sizes, 0.0
        )
        network.load_state_dict(load_file(folder / WEIGHTS_FILE))
        self.final_estimator_ = network.eval()
        if "privacy" in shape:
            self.privacy_ = PrivacyReport.from_dict(shape["privacy"])


def _clean_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` in plain, JSON-safe types: (mean, std) floats and category strings."""
    return {
        "numeric": {str(c): (float(m), float(s)) for c, (m, s) in spec["numeric"].items()},
        "categories": {str(c): [str(v) for v in cats] for c, cats in spec["categories"].items()},
    }


def _schema_frame(spec: dict[str, Any], columns: list[str] | None) -> pd.DataFrame:
    """A few rows with the spec's columns: numbers at their means, one row per kept category."""
    data: dict[str, np.ndarray] = {}
    rows = max([1, *(len(v) for v in spec["categories"].values())])
    for column, (mean, _) in spec["numeric"].items():
        data[column] = np.full(rows, mean, dtype=float)
    for column, categories in spec["categories"].items():
        data[column] = np.array([*categories, *[None] * (rows - len(categories))], dtype=object)
    order = list(columns) if columns is not None else list(data)
    if sorted(order) != sorted(data):
        raise ValueError(
            f"columns must be the spec's columns ({', '.join(data)}), got {', '.join(order)}."
        )
    return pd.DataFrame({c: data[c] for c in order})


def _describe(
    spec: dict[str, Any], columns_in: list[str]
) -> tuple[dict[str, list[int]], list[str]]:
    """``feature_groups_`` (in the order of ``columns_in``) and the names of :func:`encode`'s
    outputs: each number one input, each text column one per kept category."""
    groups: dict[str, list[int]] = {}
    names: list[str] = []
    for column in spec["numeric"]:
        groups[column] = [len(names)]
        names.append(column)
    for column, categories in spec["categories"].items():
        groups[column] = list(range(len(names), len(names) + len(categories)))
        names += [_onehot_name(column, v) for v in categories]
    return {c: groups[c] for c in columns_in}, names
