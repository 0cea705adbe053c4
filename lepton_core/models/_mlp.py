"""The ``mlp`` family: a PyTorch multilayer perceptron on one-hot + standardised inputs,
and its differentially private variant (DP-SGD, :func:`lepton_core.dp.dp_sgd`).

torch is imported inside the methods that use it (and by :mod:`._mlp_net`, which
those methods import), so that listing the families stays fast.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import Message, Task, is_classification
from lepton_core.dp import (
    DP_BATCH_SIZE,
    DP_EPOCHS,
    DP_LEARNING_RATE,
    DP_PATIENCE,
    PrivacyOptions,
    PrivacyReport,
    dp_sgd,
    private_batch_size,
)
from lepton_core.models._base import LeptonModel, ProgressFn, Setting, private_params
from lepton_core.models._onnx import OPSET
from lepton_core.models._pipeline import (
    PIPELINE_FILE,
    describe_columns,
    load_skops,
    make_preprocessor,
    save_skops,
)

__all__ = ["DPMLPModel", "MLPModel", "train_network", "train_private"]


def _net() -> Any:
    """The network code (:mod:`._mlp_net`), imported on first use: it imports torch."""
    from lepton_core.models import _mlp_net

    return _mlp_net


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
    title = Message("family.mlp")
    searchable = True
    settings = (
        Setting(
            "max_epochs",
            Message("setting.mlp.max_epochs"),
            30,
            1,
            500,
            help=Message("setting.mlp.max_epochs.help"),
        ),
    )
    int8_methods = ("torch-int8", "onnx-int8")
    private_variant = True

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

    @classmethod
    def search_space(cls, trial: Any, task: Task) -> dict[str, Any]:
        return {
            "hidden_sizes": [trial.suggest_categorical("mlp_width", [32, 64, 128, 256])] * 2,
            "learning_rate": trial.suggest_float("mlp_learning_rate", 1e-4, 1e-2, log=True),
            "weight_decay": trial.suggest_float("mlp_weight_decay", 1e-5, 1e-1, log=True),
            "dropout": trial.suggest_float("mlp_dropout", 0.0, 0.5),
        }

    @classmethod
    def refit_params(cls, params: dict[str, Any], rounds: int | None) -> dict[str, Any] | None:
        return None  # its epochs are chosen by early stopping on validation

    def private(self, options: Any) -> LeptonModel:
        """The MLP trained with DP-SGD; the person's parameters kept, DP-SGD's defaults
        for those left at the MLP's."""
        params = private_params(self, MLPModel(), DPMLPModel())
        return DPMLPModel(**params).set_privacy(options)

    def to_onnx(self) -> tuple[bytes, str]:
        """The network through ``torch.onnx``; its input is :meth:`transform`'s matrix."""
        import torch

        self._check_fitted()
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            # The TorchScript exporter is deprecated but needs no onnxscript; a Sequential
            # of Linear/ReLU/Dropout exports the same with either.
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                self.final_estimator_.eval(),
                (torch.zeros(2, len(self.feature_names_out_)),),
                buffer,
                dynamo=False,
                input_names=["input"],
                output_names=["raw"],
                dynamic_axes={"input": {0: "n"}, "raw": {0: "n"}},
                opset_version=OPSET,
            )
        return buffer.getvalue(), "value" if self.task == "regression" else "raw"

    def _fit(self, X, y, valid, progress) -> None:

        if valid is None:
            X, y, valid = self._holdout(X, y)
        self.preprocessor_ = make_preprocessor(
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
            network = _net().build_network(
                inputs.shape[1], n_outputs, self.hidden_sizes, self.dropout
            )
            _net().init_output_bias(network, targets, self.task)
            return network

        network, outcome = self._train_network(
            build, inputs, targets, (valid_inputs, valid_targets), progress, loss_scale=scale**2
        )
        if not is_classification(self.task):
            _net().rescale_output(network, mean, scale)
        self.final_estimator_ = network.eval()
        self.history_ = outcome.history
        self.best_iteration_ = outcome.best_epoch
        self.feature_groups_, self.feature_names_out_ = describe_columns(
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

        The one step differential privacy replaces (``DPMLPModel``).
        """
        import torch

        # A private RNG stream: the same seed gives the same weights, dropout and batches
        # without disturbing the caller's global torch state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            network = build()
            outcome = train_network(
                network,
                inputs,
                targets,
                valid,
                task=self.task,
                batch_size=self.batch_size,
                learning_rate=self.learning_rate,
                weight_decay=self.weight_decay,
                max_epochs=self.max_epochs,
                patience=self.patience,
                seed=self.seed,
                progress=progress,
                loss_scale=loss_scale,
            )
        return network, outcome

    def _transform(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.preprocessor_.transform(X), dtype=np.float64)

    def _raw(self, X: pd.DataFrame) -> np.ndarray:

        out = _net().predict_raw(self.final_estimator_, self._transform(X))
        return out if self.task == "multiclass" else out[:, 0]

    def _estimator_meta(self) -> dict[str, Any]:
        first, last = self.final_estimator_[0], self.final_estimator_[-1]
        return {"n_inputs": first.in_features, "n_outputs": last.out_features}

    def _save_estimator(self, folder: Path) -> list[str]:
        from safetensors.torch import save_file

        save_skops(self.preprocessor_, folder / PIPELINE_FILE)
        save_file(self.final_estimator_.state_dict(), folder / "weights.safetensors")
        return [PIPELINE_FILE, "weights.safetensors"]

    def _load_estimator(self, folder: Path, meta: dict[str, Any]) -> None:
        from safetensors.torch import load_file

        self.preprocessor_ = load_skops(folder / PIPELINE_FILE)
        shape = meta["estimator"]
        network = _net().build_network(
            shape["n_inputs"], shape["n_outputs"], self.hidden_sizes, self.dropout
        )
        network.load_state_dict(load_file(folder / "weights.safetensors"))
        self.final_estimator_ = network.eval()


def train_network(
    network: Any,
    inputs: np.ndarray,
    targets: np.ndarray,
    valid: tuple[np.ndarray, np.ndarray],
    *,
    task: str,
    batch_size: int,
    learning_rate: float,
    weight_decay: float,
    max_epochs: int,
    patience: int,
    seed: int,
    progress: ProgressFn | None = None,
    loss_scale: float = 1.0,
) -> Any:
    """Train the torch ``network`` on arrays with AdamW and early stopping on ``valid``;
    returns the outcome (history, best epoch), the best epoch's weights restored.

    The MLP's training loop, also the text family's Quick head's.
    """
    optimizer = _net().build_optimizer(network, learning_rate, weight_decay)
    loader = _net().build_loader(inputs, targets, task=task, batch_size=batch_size, seed=seed)
    return _net().train(
        network,
        optimizer,
        loader,
        task=task,  # type: ignore[arg-type]
        valid=valid,
        max_epochs=max_epochs,
        patience=patience,
        progress=progress,
        loss_scale=loss_scale,
    )


# -- the private variant ---------------------------------------------------------


def train_private(
    build: Any,
    inputs: np.ndarray,
    targets: np.ndarray,
    valid: tuple[np.ndarray, np.ndarray],
    *,
    task: str,
    options: PrivacyOptions,
    batch_size: int,
    learning_rate: float,
    weight_decay: float,
    max_epochs: int,
    patience: int,
    seed: int,
    progress: Any = None,
    loss_scale: float = 1.0,
) -> tuple[Any, Any, PrivacyReport]:
    """Train the network ``build()`` makes on arrays with DP-SGD (:func:`dp_sgd`).

    Poisson sampling at about ``batch_size / n``, noise calibrated for
    ``max_epochs``, early stopping on ``valid``. Returns the plain network, the
    training outcome (:class:`lepton_core.models._mlp_net.TrainOutcome`) and the
    :class:`PrivacyReport`.

    Raises
    ------
    TrainingError
        No noise level reaches the target, or an accountant fails.
    """
    import torch

    _mlp = _net()
    batch = private_batch_size(len(inputs), batch_size)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = build()
        optimizer = _mlp.build_optimizer(network, learning_rate, weight_decay)
        loader = _mlp.build_loader(inputs, targets, task=task, batch_size=batch, seed=seed)
        criterion = _mlp.loss_function(task)  # type: ignore[arg-type]
        with dp_sgd(
            network, optimizer, loader, criterion, options=options, epochs=max_epochs, seed=seed
        ) as dp:
            outcome = _mlp.train(
                dp.module,
                dp.optimizer,
                dp.loader,
                task=task,  # type: ignore[arg-type]
                valid=valid,
                max_epochs=max_epochs,
                patience=patience,
                progress=progress,
                loss_scale=loss_scale,
                criterion=dp.criterion,
            )
    report = dp.report(
        epochs=len(outcome.history),
        notes=[Message("dp.note.validation_epoch")],
    )
    return dp.network, outcome, report


class DPMLPModel(MLPModel):
    """The MLP trained with DP-SGD (Opacus); saved and loaded as a plain ``mlp`` model.

    Set the privacy target with :meth:`set_privacy` before ``fit``; ``privacy_`` holds
    the :class:`PrivacyReport` after it. Defaults differ from the MLP's where DP-SGD
    needs it: batches of 1,024, learning rate 3e-3, no dropout, at most 15 epochs.
    """

    def __init__(
        self,
        task: str = "binary",
        seed: int = 0,
        hidden_sizes: tuple[int, ...] = (128, 64),
        dropout: float = 0.0,
        learning_rate: float = DP_LEARNING_RATE,
        weight_decay: float = 0.0,
        batch_size: int = DP_BATCH_SIZE,
        max_epochs: int = DP_EPOCHS,
        patience: int = DP_PATIENCE,
        max_categories: int | None = 50,
    ) -> None:
        super().__init__(
            task=task,  # type: ignore[arg-type]
            seed=seed,
            hidden_sizes=hidden_sizes,
            dropout=dropout,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            batch_size=batch_size,
            max_epochs=max_epochs,
            patience=patience,
            max_categories=max_categories,
        )

    def set_privacy(self, options: PrivacyOptions) -> DPMLPModel:
        self.privacy_options = options.check()
        return self

    def _train_network(self, build, inputs, targets, valid, progress, *, loss_scale):
        # The MLP's preparation stays; only the training loop becomes DP-SGD.
        network, outcome, self.privacy_ = train_private(
            build,
            inputs,
            targets,
            valid,
            task=self.task,
            options=getattr(self, "privacy_options", PrivacyOptions()),
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            max_epochs=self.max_epochs,
            patience=self.patience,
            seed=self.seed,
            progress=progress,
            loss_scale=loss_scale,
        )
        return network, outcome

    def _estimator_meta(self) -> dict[str, Any]:
        meta = super()._estimator_meta()
        if hasattr(self, "privacy_"):
            meta["privacy"] = self.privacy_.to_dict()
        return meta
