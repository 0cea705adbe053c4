"""The PyTorch multilayer perceptron behind the ``mlp`` family, and its training loop.

The network, the optimiser and the data loader are built by separate small
functions so that a differential-privacy option can pass them through Opacus
(``PrivacyEngine.make_private`` with Poisson sampling) and hand the wrapped
objects to the same :func:`train` loop; ``on_step`` lets it account for each
optimiser step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lepton_core.core import Task

#: Called after every optimiser step with the number of steps taken so far.
StepHook = Callable[[int], None]
#: ``progress(epoch, max_epochs, logs)``; a true return stops training.
EpochHook = Callable[[int, int | None, dict[str, float]], bool | None]

_PREDICT_BATCH = 8192


@dataclass
class TrainOutcome:
    """What :func:`train` did.

    Attributes
    ----------
    history : list of dict
        One ``{"step": epoch, "train_loss": ..., "valid_loss": ...}`` per epoch.
    best_epoch : int or None
        The epoch whose weights were restored (lowest validation loss).
    cancelled : bool
        Whether ``progress`` asked to stop.
    """

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None
    cancelled: bool = False


def build_network(
    n_inputs: int, n_outputs: int, hidden_sizes: Sequence[int] = (128, 64), dropout: float = 0.1
) -> nn.Sequential:
    """Linear → ReLU → Dropout blocks, then a linear output layer of ``n_outputs`` logits."""
    layers: list[nn.Module] = []
    width = n_inputs
    for size in hidden_sizes:
        layers += [nn.Linear(width, int(size)), nn.ReLU(), nn.Dropout(dropout)]
        width = int(size)
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


def init_output_bias(model: nn.Sequential, y: np.ndarray, task: Task) -> None:
    """Start classification from the training prior (log-odds, log class shares).

    The first epochs then learn the features instead of the class balance.
    """
    if task == "regression":
        return
    counts = np.bincount(y, minlength=model[-1].out_features if task == "multiclass" else 2)
    smoothed = np.log(counts + 1.0)  # +1 keeps a class missing from a small split finite
    # Binary: one logit, the log-odds; multiclass: softmax ignores the shared log(n).
    bias = smoothed[1:] - smoothed[:1] if task == "binary" else smoothed
    with torch.no_grad():
        model[-1].bias.copy_(torch.as_tensor(bias, dtype=torch.float32))


def build_optimizer(
    model: nn.Module, learning_rate: float = 1e-3, weight_decay: float = 1e-2
) -> torch.optim.Optimizer:
    """AdamW over every parameter of ``model``."""
    return torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)


def build_loader(
    X: np.ndarray, y: np.ndarray, *, task: Task, batch_size: int = 256, seed: int = 0
) -> DataLoader:
    """A shuffling loader over ``(X, y)`` whose order depends only on ``seed``."""
    dataset = TensorDataset(torch.as_tensor(X, dtype=torch.float32), target_tensor(y, task))
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=generator)


def target_tensor(y: np.ndarray, task: Task) -> torch.Tensor:
    """Targets shaped for :func:`loss_function`: class indices, or a float column."""
    if task == "multiclass":
        return torch.as_tensor(y, dtype=torch.long)
    return torch.as_tensor(y, dtype=torch.float32).reshape(-1, 1)


def loss_function(task: Task) -> nn.Module:
    """Binary or categorical cross-entropy on logits, or mean squared error."""
    if task == "binary":
        return nn.BCEWithLogitsLoss()
    if task == "multiclass":
        return nn.CrossEntropyLoss()
    return nn.MSELoss()


def train(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: DataLoader,
    *,
    task: Task,
    valid: tuple[np.ndarray, np.ndarray],
    max_epochs: int = 30,
    patience: int = 3,
    progress: EpochHook | None = None,
    on_step: StepHook | None = None,
    loss_scale: float = 1.0,
    criterion: nn.Module | None = None,
) -> TrainOutcome:
    """Train with early stopping on the validation loss and restore the best weights.

    Parameters
    ----------
    valid : (X, y)
        Validation inputs and targets, as for :func:`build_loader`.
    patience : int
        Epochs without a lower validation loss before stopping.
    progress : callable, optional
        Called after every epoch; a true return stops training.
    on_step : callable, optional
        Called after every optimiser step (e.g. privacy accounting).
    loss_scale : float
        Multiplies reported losses (the regression target is standardised, so
        the variance brings its MSE back to the target's units).
    criterion : nn.Module, optional
        The training loss in place of :func:`loss_function` (Opacus's ghost-clipping
        wrapper, whose ``backward`` clips per sample); validation keeps the plain loss.
    """
    loss_fn = loss_function(task)
    X_valid = torch.as_tensor(valid[0], dtype=torch.float32)
    y_valid = target_tensor(valid[1], task)
    outcome = TrainOutcome()
    best_loss, best_state, stale, steps = math.inf, None, 0, 0
    for epoch in range(1, max_epochs + 1):
        model.train()
        total, count = 0.0, 0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = (loss_fn if criterion is None else criterion)(model(xb), yb)
            loss.backward()
            optimizer.step()
            steps += 1
            if on_step is not None:
                on_step(steps)
            total += loss.item() * len(xb)
            count += len(xb)
        logs = {
            "train_loss": loss_scale * total / max(count, 1),
            "valid_loss": loss_scale * _loss(model, loss_fn, X_valid, y_valid),
        }
        outcome.history.append({"step": epoch, **logs})
        if logs["valid_loss"] < best_loss:
            best_loss, stale, outcome.best_epoch = logs["valid_loss"], 0, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
        if progress is not None and progress(epoch, max_epochs, dict(logs)):
            outcome.cancelled = True
            break
        if stale >= patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return outcome


def _loss(model: nn.Module, loss_fn: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float(loss_fn(model(X), y))


def predict_raw(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """The network's outputs for ``X`` as float64, shape ``(n, n_outputs)``."""
    model.eval()
    inputs = torch.as_tensor(X, dtype=torch.float32)
    with torch.no_grad():
        parts = [
            model(inputs[i : i + _PREDICT_BATCH]) for i in range(0, len(inputs), _PREDICT_BATCH)
        ]
    if not parts:
        return np.empty((0, _n_outputs(model)))
    return torch.cat(parts).numpy().astype(np.float64)


def _n_outputs(model: nn.Module) -> int:
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    return last.out_features


def rescale_output(model: nn.Sequential, mean: float, scale: float) -> None:
    """Fold ``y = mean + scale * output`` into the last layer (predictions in target units)."""
    last = model[-1]
    with torch.no_grad():
        last.weight.mul_(scale)
        last.bias.mul_(scale).add_(mean)
