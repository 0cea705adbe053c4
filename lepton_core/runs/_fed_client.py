"""One federated client: a process that holds its own rows and trains on them locally.

The server (:mod:`._federated`) starts one process per client with
:func:`client_main` and talks to it through a pipe, the way a Flower ``ClientApp``
answers a ``ServerApp``: every message is ``(kind, payload)`` and gets one answer.

- ``rows``: the row ids this process holds (the simulation's check that rows stay put);
- ``stats``: per-column counts, sums and category counts;
- ``encoder`` (the shared encoding, :func:`~lepton_core.models._federated.encode`): its
  training and validation row counts;
- ``fit`` (global weights as safetensors bytes, settings): local weights, rows, mean loss;
- ``evaluate`` (global weights, settings): the validation loss summed, and its rows;
- ``privacy``: this client's DP-SGD privacy report (a dict), or None;
- ``stop``.

A client that fails with a :class:`~lepton_core.core.LeptonError` (DP-SGD that cannot
reach its ε, say) answers a :class:`Failure` carrying the error's sentence, and the
server raises it.

Weights travel as safetensors bytes, so what is exchanged is measured exactly and no
rows ever leave the process: only counts, sums, category counts and weights do.

A text client (``setup["text"]``) first turns its own texts into frozen sentence
embeddings (:func:`embed_texts`, the text family's Quick mode) in its own process; the
embeddings are then its numeric columns and the head is trained as any network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# The shared encoding is the federated model's own input (the ``federated`` family).
from lepton_core.models._federated import encode

__all__ = ["Failure", "client_main", "embed_texts", "encode", "from_bytes", "to_bytes"]

#: A client's own validation share (its early-stopping signal for the server).
VALID_SHARE = 0.1
_EMBED_BATCH = 32


@dataclass(frozen=True)
class Failure:
    """A client's answer when its step failed: the error's sentence (a Message or text)."""

    message: Any


def to_bytes(state: dict[str, Any]) -> bytes:
    """A network's weights as safetensors bytes."""
    from safetensors.numpy import save

    return save({k: np.ascontiguousarray(v.detach().cpu().numpy()) for k, v in state.items()})


def from_bytes(blob: bytes) -> dict[str, Any]:
    """Weights from :func:`to_bytes`, as torch tensors."""
    import torch
    from safetensors.numpy import load

    return {k: torch.from_numpy(v.copy()) for k, v in load(blob).items()}


def embed_texts(texts: pd.Series, base: str, max_length: int) -> pd.DataFrame:
    """Mean-pooled sentence embeddings of ``texts`` by the frozen encoder ``base``, one
    numeric column per dimension, on ``texts``' index (texts cut at ``max_length`` tokens)."""
    import torch

    from lepton_core.text import load_encoder, load_tokenizer, mean_pool

    tokenizer, encoder = load_tokenizer(base), load_encoder(base).eval()
    values = texts.fillna("").astype(str).tolist()
    parts = [np.empty((0, encoder.config.hidden_size), dtype=np.float32)]
    with torch.no_grad():
        for at in range(0, len(values), _EMBED_BATCH):
            batch = tokenizer(
                values[at : at + _EMBED_BATCH],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            hidden = encoder(**batch).last_hidden_state
            parts.append(mean_pool(hidden, batch["attention_mask"]).numpy())
    out = np.vstack(parts)
    columns = [f"embedding {i}" for i in range(out.shape[1])]
    return pd.DataFrame(out, index=texts.index, columns=columns)


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
    from lepton_core.core import LeptonError

    state: _ClientState | None = None
    while True:
        kind, payload = conn.recv()
        if kind == "stop":
            if state is not None:
                state.close()
            conn.close()
            return
        try:
            state = state or _ClientState(rows, setup)  # a text client embeds its texts here
            answer = state.answer(kind, payload)
        except LeptonError as exc:  # the server says it in one sentence and stops the rest
            answer = Failure(exc.args[0] if exc.args else str(exc))
        conn.send(answer)


class _ClientState:
    """What one client holds between messages: its rows, encoded rows, network and DP-SGD."""

    def __init__(self, rows: pd.DataFrame, setup: dict[str, Any]) -> None:
        import torch

        torch.set_num_threads(1)  # several clients share the machine's cores
        torch.manual_seed(setup["seed"])
        if (text := setup.get("text")) is not None:  # its texts become embeddings, here
            frame = embed_texts(rows[text["column"]], text["base"], text["max_length"])
            rows = frame.assign(**{setup["target"]: rows[setup["target"]].to_numpy()})
            setup = {**setup, "numeric": list(frame.columns), "categorical": []}
        self.rows, self.setup, self.task = rows, setup, setup["task"]
        y_all = rows[setup["target"]].to_numpy()
        if self.task != "regression":
            y_all = pd.Index(setup["classes"]).get_indexer(y_all)
        self.y_all = y_all
        order = np.random.default_rng(setup["seed"]).permutation(len(rows))
        n_valid = max(1, round(len(rows) * VALID_SHARE))
        self.valid_at, self.train_at = order[:n_valid], order[n_valid:]
        self.X_train: Any = None  # set by ``encoder``
        self.y_train: Any = None
        self.X_valid: Any = None
        self.y_valid: Any = None
        self.network: Any = None
        self.loader: Any = None
        self.private: tuple | None = None
        self.spent: dict[str, Any] | None = None

    def answer(self, kind: str, payload: Any) -> Any:
        import torch

        from lepton_core.models import _mlp_net as net

        rows, setup, task = self.rows, self.setup, self.task
        if kind == "rows":
            return rows.index.tolist()
        if kind == "stats":
            return _stats(rows, setup["numeric"], setup["categorical"])
        if kind == "encoder":
            X = encode(rows, payload)
            self.X_train, self.y_train = X[self.train_at], self.y_all[self.train_at]
            self.X_valid, self.y_valid = X[self.valid_at], self.y_all[self.valid_at]
            return (len(self.train_at), len(self.valid_at))
        if kind == "fit":
            blob, settings = payload
            if self.network is None:
                self.network = net.build_network(
                    self.X_train.shape[1], settings["n_outputs"], settings["hidden_sizes"], 0.0
                )
                self.loader = net.build_loader(
                    self.X_train,
                    self.y_train,
                    task=task,
                    batch_size=settings["batch_size"],
                    seed=setup["seed"],
                )
                if setup.get("privacy") is not None:
                    self.private = _private(self.network, self.loader, task, settings, setup)
            self.network.load_state_dict(from_bytes(blob))
            loss = _local_epochs(net, self.network, self.loader, task, settings, self.private)
            return (to_bytes(self.network.state_dict()), len(self.y_train), loss)
        if kind == "evaluate":
            model = self.network or net.build_network(
                self.X_valid.shape[1], payload[1]["n_outputs"], payload[1]["hidden_sizes"], 0.0
            )
            model.load_state_dict(from_bytes(payload[0]))
            model.eval()
            with torch.no_grad():
                loss = net.loss_function(task)(
                    model(torch.as_tensor(self.X_valid, dtype=torch.float32)),
                    net.target_tensor(self.y_valid, task),
                )
            return (float(loss) * len(self.y_valid), len(self.y_valid))
        if kind == "privacy":
            if self.private is not None and self.spent is None:
                epochs = self.private[2]["epochs_done"]
                self.spent = self.private[1].report(epochs=epochs).to_dict()
            return self.spent
        raise ValueError(f"Unknown message {kind!r} for a federated client.")

    def close(self) -> None:
        if self.private is not None:
            self.private[0].__exit__(None, None, None)


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
