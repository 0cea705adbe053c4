"""One federated client: a process that holds its own rows and trains on them locally.

The server (:mod:`._federated`) starts one process per client with
:func:`client_main` and talks to it through a pipe, the way a Flower ``ClientApp``
answers a ``ServerApp``: every message is ``(kind, payload)`` and gets one answer.

- ``rows``: the row ids this process holds (the simulation's check that rows stay put);
- ``stats``: per-column counts, sums and category counts;
- ``encoder`` (the shared encoding, :func:`encode`): its training and validation row counts;
- ``fit`` (global weights as safetensors bytes, settings): local weights, rows, mean loss;
- ``evaluate`` (global weights, settings): the validation loss summed, and its rows;
- ``privacy``: the ε this client spent (DP-SGD), or None;
- ``stop``.

Weights travel as safetensors bytes, so what is exchanged is measured exactly and no
rows ever leave the process: only counts, sums, category counts and weights do.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["client_main", "encode", "from_bytes", "to_bytes"]

#: A client's own validation share (its early-stopping signal for the server).
VALID_SHARE = 0.1


def to_bytes(state: dict[str, Any]) -> bytes:
    """A network's weights as safetensors bytes."""
    from safetensors.numpy import save

    return save({k: np.ascontiguousarray(v.detach().cpu().numpy()) for k, v in state.items()})


def from_bytes(blob: bytes) -> dict[str, Any]:
    """Weights from :func:`to_bytes`, as torch tensors."""
    import torch
    from safetensors.numpy import load

    return {k: torch.from_numpy(v.copy()) for k, v in load(blob).items()}


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


def _stats(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> dict[str, Any]:
    stats: dict[str, Any] = {"numeric": {}, "categories": {}}
    for column in numeric:
        values = pd.to_numeric(frame[column], errors="coerce").dropna().to_numpy(dtype=float)
        stats["numeric"][column] = (len(values), float(values.sum()), float((values**2).sum()))
    for column in categorical:
        counts = frame[column].dropna().astype(str).value_counts()
        stats["categories"][column] = {str(k): int(v) for k, v in counts.items()}
    return stats


def client_main(conn: Any, rows: pd.DataFrame, setup: dict[str, Any]) -> None:
    """Serve the server's messages until ``stop``. ``rows`` are this client's rows only
    (features, target), ``setup`` the task, classes, columns, seed and privacy options."""
    import torch

    from lepton_core.models import _mlp_net as net

    torch.set_num_threads(1)  # several clients share the machine's cores
    torch.manual_seed(setup["seed"])
    task, target = setup["task"], setup["target"]
    y_all = rows[target].to_numpy()
    if task != "regression":
        y_all = pd.Index(setup["classes"]).get_indexer(y_all)
    rng = np.random.default_rng(setup["seed"])
    order = rng.permutation(len(rows))
    n_valid = max(1, round(len(rows) * VALID_SHARE))
    valid_at, train_at = order[:n_valid], order[n_valid:]
    network = loader = private = None
    X_train = y_train = X_valid = y_valid = None
    spent = None
    while True:
        kind, payload = conn.recv()
        if kind == "rows":
            conn.send(rows.index.tolist())
        elif kind == "stats":
            conn.send(_stats(rows, setup["numeric"], setup["categorical"]))
        elif kind == "encoder":
            X = encode(rows, payload)
            X_train, y_train = X[train_at], y_all[train_at]
            X_valid, y_valid = X[valid_at], y_all[valid_at]
            conn.send((len(train_at), len(valid_at)))
        elif kind == "fit":
            blob, settings = payload
            if network is None:
                network = net.build_network(
                    X_train.shape[1], settings["n_outputs"], settings["hidden_sizes"], 0.0
                )
                loader = net.build_loader(
                    X_train,
                    y_train,
                    task=task,
                    batch_size=settings["batch_size"],
                    seed=setup["seed"],
                )
                if setup.get("privacy") is not None:
                    private = _private(network, loader, task, settings, setup)
            network.load_state_dict(from_bytes(blob))
            loss = _local_epochs(net, network, loader, task, settings, private)
            conn.send((to_bytes(network.state_dict()), len(y_train), loss))
        elif kind == "evaluate":
            model = network or net.build_network(
                X_valid.shape[1], payload[1]["n_outputs"], payload[1]["hidden_sizes"], 0.0
            )
            model.load_state_dict(from_bytes(payload[0]))
            model.eval()
            with torch.no_grad():
                loss = net.loss_function(task)(
                    model(torch.as_tensor(X_valid, dtype=torch.float32)),
                    net.target_tensor(y_valid, task),
                )
            conn.send((float(loss) * len(y_valid), len(y_valid)))
        elif kind == "privacy":
            if private is not None and spent is None:
                spent = private[1].report(epochs=private[2]["epochs_done"]).epsilon
            conn.send(spent)
        elif kind == "stop":
            if private is not None:
                private[0].__exit__(None, None, None)
            conn.close()
            return


def _private(network: Any, loader: Any, task: str, settings: dict, setup: dict) -> tuple:
    """DP-SGD for this client's whole training (every round's local epochs), calibrated
    to its own ε: the context stays open, so Opacus accounts for every step."""
    from lepton_core.dp import PrivacyOptions, dp_sgd
    from lepton_core.models import _mlp_net as net

    optimizer = net.build_optimizer(network, settings["learning_rate"], 0.0)
    epochs = settings["rounds"] * settings["local_epochs"]
    context = dp_sgd(
        network,
        optimizer,
        loader,
        net.loss_function(task),
        options=PrivacyOptions.from_dict(setup["privacy"]),
        epochs=epochs,
        seed=setup["seed"],
    )
    dp = context.__enter__()
    return context, dp, {"epochs_done": 0}


def _local_epochs(
    net: Any, network: Any, loader: Any, task: str, settings: dict, private: tuple | None
) -> float:
    """Lepton's training step on this client's rows for ``local_epochs``; FedProx adds
    ``mu / 2 * ||w - w_global||^2`` so that uneven clients do not drift apart."""

    mu = settings["mu"]
    anchor = [p.detach().clone() for p in network.parameters()] if mu else None
    if private is not None:
        dp = private[1]
        module, optimizer, criterion, batches = dp.module, dp.optimizer, dp.criterion, dp.loader
    else:
        module, criterion, batches = network, net.loss_function(task), loader
        optimizer = net.build_optimizer(network, settings["learning_rate"], 0.0)
    module.train()
    total, count = 0.0, 0
    for _ in range(settings["local_epochs"]):
        for xb, yb in batches:
            if len(xb) == 0:  # Poisson sampling can draw an empty batch
                continue
            optimizer.zero_grad()
            loss = criterion(module(xb), yb)
            if anchor is not None and private is None:
                prox = sum(
                    ((p - a) ** 2).sum() for p, a in zip(network.parameters(), anchor, strict=True)
                )
                (loss + 0.5 * mu * prox).backward()
            else:
                loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
            count += len(xb)
        if private is not None:
            private[2]["epochs_done"] += 1
    module.eval()
    return total / count if count else math.nan
