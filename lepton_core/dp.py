"""Differentially private training with Opacus: the MLP, and text models' Quick head.

The user sets a target ε (and optionally δ, by default ``1/n`` rounded down to a
power of ten). The noise multiplier is calibrated with Opacus's
``get_noise_multiplier`` (RDP bound, the looser of the two below) for the planned
number of epochs at the Poisson sampling rate; every per-sample gradient is clipped
to ``max_grad_norm`` (Opacus ghost clipping: exact per-sample norms without
materialising per-sample gradients). Early stopping can only take fewer steps than
planned, so the ε spent is at most the target.

ε spent is computed by the PRV accountant (the one the engine trains with) and
cross-checked by replaying the same history through the RDP accountant; the larger
is reported. An accountant that fails is an error, never a number.

The saved model is a plain ``mlp`` model (the network unwrapped from Opacus); the
privacy facts live in :class:`PrivacyReport`, stored with the run.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lepton_core._serde import JsonMixin
from lepton_core.exceptions import TrainingError
from lepton_core.models import MLPModel

__all__ = [
    "DPMLPModel",
    "PrivacyOptions",
    "PrivacyReport",
    "default_delta",
    "epsilon_spent",
    "load_privacy",
    "make_private_model",
]

ACCOUNTANT = "prv"
CROSS_CHECK = "rdp"
#: Per-sample clipping norm: on standardised tabular inputs, per-sample gradient norms
#: of this MLP sit mostly between 0.1 and 10, and 1.0 (the Opacus tutorials' choice)
#: clips the large ones without drowning the small ones in noise.
DEFAULT_MAX_GRAD_NORM = 1.0
#: DP-SGD wants large batches (noise per step is shared by the batch) and fewer epochs.
DP_BATCH_SIZE = 1024
DP_EPOCHS = 15
DP_LEARNING_RATE = 3e-3
#: The validation loss of a noisy model wobbles; wait longer before stopping.
DP_PATIENCE = 5


@dataclass
class PrivacyOptions(JsonMixin):
    """What the user asked for.

    Attributes
    ----------
    epsilon : float
        Target ε; smaller is more private.
    delta : float, optional
        Target δ; defaults to :func:`default_delta` of the training rows.
    max_grad_norm : float
        Per-sample gradient clipping norm.
    """

    epsilon: float = 3.0
    delta: float | None = None
    max_grad_norm: float = DEFAULT_MAX_GRAD_NORM

    def check(self) -> PrivacyOptions:
        if not (self.epsilon > 0 and math.isfinite(self.epsilon)):
            raise TrainingError("The privacy target ε must be a positive number, such as 3.")
        if self.delta is not None and not 0 < self.delta < 1:
            raise TrainingError("δ must be between 0 and 1, such as 1e-5; or leave it empty.")
        if not self.max_grad_norm > 0:
            raise TrainingError("The clipping norm must be positive, such as 1.0.")
        return self


@dataclass
class PrivacyReport(JsonMixin):
    """The privacy guarantee a training run actually has.

    Attributes
    ----------
    epsilon : float
        ε spent: the larger of the two accountants' figures.
    epsilon_by_accountant : dict
        ``{"prv": ..., "rdp": ...}``.
    noise_multiplier : float
        Gaussian noise std over the clipping norm, calibrated to the target.
    sample_rate : float
        Poisson sampling probability of each row per step (expected batch / rows).
    steps : int
        Optimiser steps taken (fewer than planned when early stopping fired).
    """

    epsilon: float
    epsilon_target: float
    delta: float
    accountant: str
    epsilon_by_accountant: dict[str, float]
    noise_multiplier: float
    sample_rate: float
    steps: int
    planned_steps: int
    epochs: int
    max_grad_norm: float
    expected_batch_size: int
    n_train: int
    poisson_sampling: bool = True
    notes: list[str] = field(default_factory=list)


def default_delta(n: int) -> float:
    """``1/n`` rounded down to a power of ten (``n = 26,048`` → ``1e-5``)."""
    if n < 1:
        raise ValueError("n must be positive.")
    return 10.0 ** math.floor(math.log10(1.0 / n))


def epsilon_spent(
    history: list[tuple[float, float, int]], delta: float, accountant: str = ACCOUNTANT
) -> float:
    """ε of a DP-SGD history ``[(noise_multiplier, sample_rate, steps), ...]``.

    Raises
    ------
    TrainingError
        The accountant failed or returned something that is not a finite number.
    """
    from opacus.accountants import create_accountant

    acc = create_accountant(accountant)
    acc.history = [tuple(h) for h in history]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "optimal order is the largest alpha" notes
            value = float(acc.get_epsilon(delta=delta))
    except Exception as exc:  # accountants raise ValueError, RuntimeError, scipy errors...
        raise TrainingError(
            f"The {accountant.upper()} privacy accountant failed ({exc}); the privacy "
            "guarantee is unknown, so try a larger ε or fewer epochs."
        ) from exc
    if not math.isfinite(value) or value < 0:
        raise TrainingError(
            f"The {accountant.upper()} privacy accountant returned {value}; the privacy "
            "guarantee is unknown, so try a larger ε or fewer epochs."
        )
    return value


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
    """Train the network ``build()`` makes with DP-SGD (Opacus) to the target ε.

    Poisson sampling at ``batch_size / n``, noise calibrated for ``max_epochs``,
    per-sample clipping at ``options.max_grad_norm``, early stopping on ``valid``.
    Returns the plain network (unwrapped from Opacus), the training outcome
    (:class:`lepton_core._mlp.TrainOutcome`) and the :class:`PrivacyReport`.

    Raises
    ------
    TrainingError
        No noise level reaches the target, or an accountant fails.
    """
    import torch
    from opacus import PrivacyEngine
    from opacus.accountants.utils import get_noise_multiplier

    from lepton_core import _mlp

    n = len(inputs)
    delta = options.delta if options.delta is not None else default_delta(n)
    batch = min(batch_size, max(n // 4, 1))
    sample_rate = batch / n
    steps_per_epoch = max(round(1 / sample_rate), 1)
    planned = steps_per_epoch * max_epochs
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "largest alpha" notes
            noise = get_noise_multiplier(
                target_epsilon=options.epsilon,
                target_delta=delta,
                sample_rate=sample_rate,
                steps=planned,
                # Calibrated with the looser (RDP) bound, so the larger of the two
                # accountants' figures, the one reported, stays within the target.
                accountant=CROSS_CHECK,
            )
    except Exception as exc:  # opacus raises ValueError when ε cannot be reached
        raise TrainingError(
            f"No noise level reaches ε = {options.epsilon} with δ = {delta:g} in "
            f"{max_epochs} epochs ({exc}); raise ε or lower the number of epochs."
        ) from exc
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = build()
        optimizer = _mlp.build_optimizer(network, learning_rate, weight_decay)
        loader = _mlp.build_loader(inputs, targets, task=task, batch_size=batch, seed=seed)
        generator = torch.Generator().manual_seed(seed)
        with warnings.catch_warnings():
            # Opacus warns that secure_mode is off (it is a research-grade RNG setting).
            warnings.simplefilter("ignore", UserWarning)
            engine = PrivacyEngine(accountant=ACCOUNTANT)
            # Ghost clipping: exact per-sample clipping from per-sample gradient norms,
            # without materialising per-sample gradients (about 5x faster here on CPU).
            private, dp_optimizer, criterion, dp_loader = engine.make_private(
                module=network,
                optimizer=optimizer,
                data_loader=loader,
                criterion=_mlp.loss_function(task),  # type: ignore[arg-type]
                noise_multiplier=noise,
                max_grad_norm=options.max_grad_norm,
                poisson_sampling=True,
                noise_generator=generator,
                grad_sample_mode="ghost",
            )
            outcome = _mlp.train(
                private,
                dp_optimizer,
                dp_loader,
                task=task,  # type: ignore[arg-type]
                valid=valid,
                max_epochs=max_epochs,
                patience=patience,
                progress=progress,
                loss_scale=loss_scale,
                criterion=criterion,
            )
    history = list(engine.accountant.history)
    by = {name: epsilon_spent(history, delta, name) for name in (ACCOUNTANT, CROSS_CHECK)}
    report = PrivacyReport(
        epsilon=max(by.values()),
        epsilon_target=options.epsilon,
        delta=delta,
        accountant=ACCOUNTANT,
        epsilon_by_accountant=by,
        noise_multiplier=noise,
        sample_rate=sample_rate,
        steps=sum(h[2] for h in history),
        planned_steps=planned,
        epochs=len(outcome.history),
        max_grad_norm=options.max_grad_norm,
        expected_batch_size=batch,
        n_train=n,
        notes=[
            "Validation rows choose the best epoch; they come from the same private "
            "table, so the guarantee covers the training rows."
        ],
    )
    return private._module, outcome, report  # the plain network, without Opacus's hooks


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


def make_private_model(model: Any, options: PrivacyOptions) -> Any:
    """The DP version of an unfitted ``mlp`` or ``text`` model, keeping the user's parameters.

    Text models train Quick mode's head with DP-SGD (:mod:`lepton_core.text.private`).
    """
    if getattr(model, "family", "") == "text":
        from lepton_core.text.private import DPTextModel

        return DPTextModel(**model.get_params()).set_privacy(options)
    if not isinstance(model, MLPModel):
        raise TrainingError(
            "Differential privacy is available for the neural network (mlp) and text "
            "families; choose one, or train without the privacy option."
        )
    defaults = MLPModel().get_params()
    dp_defaults = DPMLPModel().get_params()
    # Parameters the user left at the MLP's defaults take DP-SGD's defaults instead.
    params = {k: (dp_defaults[k] if v == defaults[k] else v) for k, v in model.get_params().items()}
    return DPMLPModel(**params).set_privacy(options)


def load_privacy(workspace: Any, run_id: str) -> PrivacyReport | None:
    """The run's privacy report, or None when it was trained without differential privacy."""
    from lepton_core.exceptions import WorkspaceError

    try:
        stored = workspace.load_report(run_id, "privacy")
    except WorkspaceError:  # runs from before the privacy option have no such report
        return None
    return PrivacyReport.from_dict(stored) if stored else None
