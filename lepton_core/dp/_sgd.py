"""Differentially private training with Opacus: the DP-SGD core the private families share.

The user sets a target ε (and optionally δ, by default ``1/n`` rounded down to a
power of ten). The noise multiplier is calibrated with Opacus's
``get_noise_multiplier`` (RDP bound, the looser of the two below) for the planned
number of steps at the Poisson sampling rate; every per-sample gradient is clipped
to ``max_grad_norm`` (Opacus ghost clipping: exact per-sample norms without
materialising per-sample gradients). Early stopping can only take fewer steps than
planned, so the ε spent is at most the target.

ε spent is computed by the PRV accountant (the one the engine trains with) and
cross-checked by replaying the same history through the RDP accountant; the larger
is reported. An accountant that fails is an error, never a number.

:func:`dp_sgd` is the one DP-SGD core: it calibrates, wraps a network, optimiser,
loss and loader with Opacus, and reports what was spent.  A family's private
variant runs it (``LeptonModel.private``): the MLP and the text Quick head over
arrays (``lepton_core.models.train_private``), the text fine-tune over token
batches. The saved models are the plain ``mlp`` and ``text`` models; the privacy
facts live in :class:`PrivacyReport`, stored with the run.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from lepton_core.core import JsonMixin, Message, TrainingError

__all__ = [
    "DEFAULT_MAX_GRAD_NORM",
    "DPSGD",
    "DP_BATCH_SIZE",
    "DP_EPOCHS",
    "DP_LEARNING_RATE",
    "DP_PATIENCE",
    "PrivacyOptions",
    "PrivacyReport",
    "default_delta",
    "dp_sgd",
    "epsilon_spent",
    "load_privacy",
    "make_private_model",
    "private_batch_size",
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
    clients : list of dict
        A federated training's clients, each with its own ``name``, ``epsilon``,
        ``delta``, ``noise_multiplier``, ``sample_rate``, ``steps`` and ``n_train``; the
        figures above are then those of the client that spent the most. Empty otherwise.
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
    notes: list[Message | str] = field(default_factory=list)
    clients: list[dict[str, Any]] = field(default_factory=list)


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


@dataclass
class DPSGD:
    """DP-SGD objects from Opacus, for one training loop; made by :func:`dp_sgd`.

    Train with ``module``, ``optimizer``, ``criterion`` (its ``backward`` clips each
    sample's gradient) and ``loader`` (Poisson sampling); take at most
    ``planned_steps`` optimiser steps, then call :meth:`report`.

    Attributes
    ----------
    network : torch.nn.Module
        The plain network the loop trains, without Opacus's wrapper.
    planned_steps : int
        The steps the noise was calibrated for.
    steps_per_epoch : int
        Steps of one pass of ``loader`` (one over the sampling rate).
    """

    module: Any
    optimizer: Any
    criterion: Any
    loader: Any
    network: Any
    planned_steps: int
    steps_per_epoch: int
    options: PrivacyOptions
    delta: float
    noise_multiplier: float
    sample_rate: float
    n_train: int
    engine: Any = field(repr=False, default=None)

    def report(self, *, epochs: int, notes: list[str] | None = None) -> PrivacyReport:
        """ε spent by the steps taken, by both accountants; the larger is reported.

        Raises
        ------
        TrainingError
            An accountant failed.
        """
        history = list(self.engine.accountant.history)
        by = {name: epsilon_spent(history, self.delta, name) for name in (ACCOUNTANT, CROSS_CHECK)}
        return PrivacyReport(
            epsilon=max(by.values()),
            epsilon_target=self.options.epsilon,
            delta=self.delta,
            accountant=ACCOUNTANT,
            epsilon_by_accountant=by,
            noise_multiplier=self.noise_multiplier,
            sample_rate=self.sample_rate,
            steps=sum(h[2] for h in history),
            planned_steps=self.planned_steps,
            epochs=epochs,
            max_grad_norm=self.options.max_grad_norm,
            expected_batch_size=int(self.n_train * self.sample_rate),  # as Opacus averages
            n_train=self.n_train,
            notes=list(notes or []),
        )


def private_batch_size(n: int, batch_size: int) -> int:
    """The expected batch for ``n`` rows: ``batch_size``, but at least four steps an epoch."""
    return min(int(batch_size), max(n // 4, 1))


@contextmanager
def dp_sgd(
    module: Any,
    optimizer: Any,
    loader: Any,
    criterion: Any,
    *,
    options: PrivacyOptions,
    epochs: float,
    seed: int,
) -> Iterator[DPSGD]:
    """Make ``module``'s training DP-SGD with Opacus, calibrated to ``options.epsilon``.

    ``loader`` is a plain loader over the private rows; its batch size sets the
    Poisson sampling rate (one over its length, as Opacus samples), and the noise
    is calibrated for ``epochs`` passes at that rate. Every per-sample gradient is
    clipped to ``options.max_grad_norm`` by ghost clipping (exact per-sample norms
    without materialising per-sample gradients). Opacus's hooks are removed from the
    network when the block ends.

    Raises
    ------
    TrainingError
        No noise level reaches the target ε in that many steps.
    """
    import torch
    from opacus import PrivacyEngine

    n = len(loader.dataset)
    delta = options.delta if options.delta is not None else default_delta(n)
    steps_per_epoch = len(loader)
    sample_rate = 1.0 / steps_per_epoch  # what Opacus's Poisson sampler and accountant use
    planned = max(1, math.ceil(steps_per_epoch * float(epochs) - 1e-9))
    noise = _calibrate(options.epsilon, delta, sample_rate, planned, epochs)
    device = next(module.parameters()).device
    generator = torch.Generator(device=device).manual_seed(int(seed))
    with warnings.catch_warnings():
        # Opacus warns that secure_mode is off (it is a research-grade RNG setting).
        warnings.simplefilter("ignore", UserWarning)
        engine = PrivacyEngine(accountant=ACCOUNTANT)
        private, dp_optimizer, dp_criterion, dp_loader = engine.make_private(
            module=module,
            optimizer=optimizer,
            data_loader=loader,
            criterion=criterion,
            noise_multiplier=noise,
            max_grad_norm=options.max_grad_norm,
            poisson_sampling=True,
            noise_generator=generator,
            grad_sample_mode="ghost",
        )
        try:
            yield DPSGD(
                module=private,
                optimizer=dp_optimizer,
                criterion=dp_criterion,
                loader=dp_loader,
                network=private._module,
                planned_steps=planned,
                steps_per_epoch=steps_per_epoch,
                options=options,
                delta=delta,
                noise_multiplier=noise,
                sample_rate=sample_rate,
                n_train=n,
                engine=engine,
            )
        finally:
            private.to_standard_module()  # removes the hooks and per-sample attributes


def _calibrate(
    epsilon: float, delta: float, sample_rate: float, steps: int, epochs: float
) -> float:
    from opacus.accountants.utils import get_noise_multiplier

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "largest alpha" notes
            return float(
                get_noise_multiplier(
                    target_epsilon=epsilon,
                    target_delta=delta,
                    sample_rate=sample_rate,
                    steps=steps,
                    # Calibrated with the looser (RDP) bound, so the larger of the two
                    # accountants' figures, the one reported, stays within the target.
                    accountant=CROSS_CHECK,
                )
            )
    except Exception as exc:  # opacus raises ValueError when ε cannot be reached
        raise TrainingError(
            f"No noise level reaches ε = {epsilon} with δ = {delta:g} in {epochs:g} "
            f"epochs ({exc}); raise ε or lower the number of epochs."
        ) from exc


def make_private_model(model: Any, options: PrivacyOptions) -> Any:
    """The DP variant of an unfitted model, keeping the user's parameters (its family's
    :meth:`~lepton_core.models.LeptonModel.private`).

    Raises
    ------
    TrainingError
        The family has no private variant.
    """
    return model.private(options)


def load_privacy(workspace: Any, run_id: str) -> PrivacyReport | None:
    """The run's privacy report, or None when it was trained without differential privacy."""
    stored = workspace.find_report(run_id, "privacy")
    return PrivacyReport.from_dict(stored) if stored else None
