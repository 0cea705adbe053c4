"""Federated training, simulated: clients that keep their rows, a server that averages.

A data set's training rows are split into clients, by a column (hospital, region,
branch) or at random; each client is its own process (:mod:`._fed_client`) that
receives its rows once and never sends them anywhere. The server:

1. asks every client for per-column counts, sums and category counts and builds the
   shared encoding from them (standardised numbers, one-hot categories);
2. runs ``rounds`` rounds of FedAvg (McMahan et al. 2017): it sends the global
   weights, each client trains ``local_epochs`` epochs of Lepton's training step
   (the MLP's network, loss and AdamW; the logistic model is the network without
   hidden layers) and sends its weights back, and the server averages them weighted
   by the clients' rows. FedProx (Li et al. 2020) adds a proximal term to each
   client's loss for uneven clients. Each client scores the global weights on its own
   validation rows; the round with the lowest pooled validation loss is kept;
3. scores the kept weights on the test part, overall and per client (accuracy and the
   fairness gap by the data set's sensitive columns), next to the same network trained
   centrally on the pooled rows (the comparison the simulation exists for).

Optional DP-SGD per client (Opacus): each client calibrates its own noise to its ε
over all its local epochs (with one δ for all, by default :func:`default_delta` of the
training rows) and reports what it spent. Every row is in one client, and averaging
the clients' updates is post-processing, so the federated model's ε is the largest a
client spent (see :func:`_privacy`); a registered version carries that privacy report
as a DP run's does.

With ``register`` the kept global weights become a model version of the ``federated``
family (:class:`~lepton_core.models.FederatedModel`): the network with the federation's
encoding in front, made from the encoding, the classes and the weights alone, with no fit
on pooled rows (the logistic model is the network without hidden layers). It is evaluated,
explained and served like any trained model (see :func:`_register`).

A text column trains the ``text`` family's Quick head (``model="text"``): each client
embeds its own texts with the frozen built-in MiniLM in its own process, and those
embeddings are its numeric columns from then on; the kept head becomes a Quick
``text`` version (encoder and head) that reads the texts themselves.

The server speaks to clients through one small message protocol (see
:mod:`._fed_client`), so a Flower ``ClientApp``/``ServerApp`` pair can wrap the same
two halves.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import (
    CallbackList,
    DataError,
    JsonMixin,
    Message,
    TrainerCallback,
    TrainingError,
    is_classification,
)
from lepton_core.dp import PrivacyOptions, PrivacyReport, default_delta
from lepton_core.evaluation import fairness_reports
from lepton_core.runs._fed_client import (
    Failure,
    client_main,
    embed_texts,
    encode,
    from_bytes,
    to_bytes,
)
from lepton_core.runs._training import TrainConfig, prepare_data, record_run
from lepton_core.text import DEFAULT_BASE, DP_TEXT_MAX_LENGTH
from lepton_core.workspace import Workspace

__all__ = [
    "FEDERATED_MODELS",
    "FederatedConfig",
    "FederatedResult",
    "assign_clients",
    "run_federated",
]

#: model → hidden layer sizes of the network every client trains (``text``: the text
#: family's Quick head, a linear layer on frozen sentence embeddings).
FEDERATED_MODELS = {"logistic": (), "mlp": (64, 32), "text": ()}
#: Tokens a text is cut at before it is embedded: a fixed setting, read from no one's texts.
TEXT_MAX_LENGTH = DP_TEXT_MAX_LENGTH
STRATEGIES = ("fedavg", "fedprox")
_MAX_CATEGORIES = 50
_OTHER = "other values"


@dataclass
class FederatedConfig(JsonMixin):
    """A simulated federated training.

    Attributes
    ----------
    data, target, sensitive, seed, test_size
        As for :class:`~lepton_core.runs.TrainConfig`.
    model : str
        ``logistic`` or ``mlp`` for a table; ``text`` for a text column: each client
        embeds its own texts with the built-in MiniLM (frozen) and the federation trains
        the text family's Quick head on the embeddings.
    text_column : str, optional
        The text column of a ``text`` model (default: the data set's).
    clients : int
        How many clients; with ``split_by``, the largest values each get a client and
        the rest share the last one.
    split_by : str, optional
        The column that decides each row's client; empty: at random.
    rounds, local_epochs : int
        Rounds of averaging, and epochs each client trains per round.
    strategy : str
        ``fedavg`` or ``fedprox`` (with ``mu``, the proximal term's weight).
    privacy : PrivacyOptions, optional
        DP-SGD in every client, each to this ε.
    min_client_rows : int
        The fewest training rows a client may have.
    register : bool
        Register the federated model as a model version (named ``model_name``, default
        the data set's name), as :func:`~lepton_core.runs.train` does.
    explain_rows : int, optional
        Test rows the registered version's SHAP values are computed for (as for
        :class:`~lepton_core.runs.TrainConfig`).
    """

    data: str
    target: str | None = None
    sensitive: list[str] | None = None
    model: str = "logistic"
    text_column: str | None = None
    clients: int = 5
    split_by: str | None = None
    rounds: int = 10
    local_epochs: int = 1
    strategy: str = "fedavg"
    mu: float = 0.01
    learning_rate: float = 3e-3
    batch_size: int = 128
    privacy: PrivacyOptions | None = None
    min_client_rows: int = 50
    seed: int = 0
    test_size: float = 0.2
    register: bool = False
    model_name: str | None = None
    explain_rows: int | None = None


@dataclass
class FederatedResult(JsonMixin):
    """Federated next to centralised training, on the same test rows.

    ``federated`` and ``centralised`` hold test ``accuracy`` (and ``roc_auc`` for a
    binary target; ``r2`` for regression). ``clients`` rows: ``name``, ``n_train``,
    ``n_test``, ``accuracy`` (of the federated model on the client's test rows),
    ``fairness`` (the largest demographic parity gap by the sensitive columns there,
    None when too few rows per group), ``epsilon`` (DP-SGD) and the ``rows`` ids it
    received. ``history``: one row per round with ``round``, ``train_loss``,
    ``valid_loss`` and ``bytes`` exchanged in it. ``bytes_exchanged`` counts weights and
    statistics both ways. ``run_id``, ``model_name`` and ``model_version`` name the
    registered federated model (None unless the config asked to register it).
    ``privacy``: with DP-SGD, the federated model's privacy report (the largest ε a
    client spent; each client's in its ``clients``).
    """

    config: FederatedConfig
    dataset_id: str
    task: str
    federated: dict[str, float]
    centralised: dict[str, float]
    clients: list[dict[str, Any]]
    history: list[dict[str, float]]
    best_round: int
    bytes_exchanged: int
    seconds: float
    notes: list[str] = field(default_factory=list)
    run_id: str | None = None
    model_name: str | None = None
    model_version: int | None = None
    privacy: PrivacyReport | None = None


def assign_clients(
    values: pd.Series | None, n_rows: int, clients: int, seed: int
) -> tuple[np.ndarray, list[str]]:
    """Each row's client (an index into the returned names).

    By ``values``: the ``clients - 1`` commonest values get a client each and the rest
    share the last; at random (``values`` None): even shares.
    """
    if clients < 2:
        raise DataError(Message("federated.clients"))
    if values is None:
        labels = np.random.default_rng(seed).permutation(n_rows) % clients
        return labels, [f"client {i + 1}" for i in range(clients)]
    text = values.astype(object).where(values.notna(), "(missing)").astype(str)
    counts = text.value_counts()
    if len(counts) < 2:
        raise DataError(Message("federated.one_value", column=str(values.name)))
    own = list(counts.index[: clients - 1]) if len(counts) > clients else list(counts.index)
    names = [*own, _OTHER] if len(counts) > len(own) else own
    labels = text.map({v: i for i, v in enumerate(own)}).fillna(len(own)).astype(int)
    return labels.to_numpy(), names


def run_federated(
    config: FederatedConfig,
    *,
    callbacks: list[TrainerCallback] | None = None,
    workspace: Workspace | None = None,
) -> FederatedResult:
    """Train ``config.model`` with FedAvg or FedProx over simulated clients; see the module.

    ``callbacks`` hear one step per round (``train_loss``, ``valid_loss``): a job's live
    curve.

    Raises
    ------
    DataError
        The split column is unknown or has one value, or a client has too few rows.
    TrainingError
        An unknown model or strategy, or a client process failed.
    """
    start = time.perf_counter()
    if config.model not in FEDERATED_MODELS:
        raise TrainingError(
            Message("federated.model", model=config.model, known=", ".join(FEDERATED_MODELS))
        )
    if config.strategy not in STRATEGIES:
        raise TrainingError(Message("federated.strategy", strategy=config.strategy))
    if config.privacy is not None:
        config.privacy.check()
    cb = CallbackList(callbacks)
    cb.phase("loading")
    cb.train_begin()
    workspace = workspace or Workspace()
    text = config.model == "text"
    train_config = TrainConfig(
        data=config.data,
        target=config.target,
        sensitive=config.sensitive,
        model="text" if text else "mlp",
        text_column=config.text_column,
        seed=config.seed,
        test_size=config.test_size,
        valid_size=0.0,  # each client keeps its own validation rows
    )
    data = prepare_data(train_config, workspace)
    info, split = data.info, data.split
    task, target = info.task, info.target
    if text and not is_classification(task):
        raise TrainingError(Message("federated.text_task"))
    train_rows = data.x_train.assign(**{target: split.train[target].to_numpy()})
    if config.split_by and config.split_by not in split.train.columns:
        raise DataError(Message("federated.no_column", column=config.split_by))
    by = split.train[config.split_by] if config.split_by else None
    labels, names = assign_clients(by, len(train_rows), config.clients, config.seed)
    test_labels = _test_clients(config, split.test, names, labels)
    sizes = np.bincount(labels, minlength=len(names))
    small = [(n, int(s)) for n, s in zip(names, sizes, strict=True) if s < config.min_client_rows]
    if small:
        raise DataError(
            Message(
                "federated.small_client",
                client=small[0][0],
                rows=small[0][1],
                least=config.min_client_rows,
            )
        )
    classes = np.unique(split.train[target]).tolist() if is_classification(task) else None
    setup = {
        "task": task,
        "target": target,
        "classes": classes,
        "numeric": [
            c for c in data.x_train.columns if pd.api.types.is_numeric_dtype(data.x_train[c])
        ],
        "seed": config.seed,
        "privacy": _client_privacy(config.privacy, len(train_rows)),
    }
    setup["categorical"] = [c for c in data.x_train.columns if c not in setup["numeric"]]
    if text:  # each client's columns are its own texts' embeddings
        setup["numeric"], setup["categorical"] = [], []
        setup["text"] = {
            "column": info.text_column,
            "base": DEFAULT_BASE,
            "max_length": TEXT_MAX_LENGTH,
        }
    settings = {
        "n_outputs": len(classes) if task == "multiclass" else 1,
        "hidden_sizes": FEDERATED_MODELS[config.model],
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "local_epochs": config.local_epochs,
        "rounds": config.rounds,
        "mu": config.mu if config.strategy == "fedprox" else 0.0,
    }
    cb.phase("training")
    with _Clients([train_rows.iloc[labels == i] for i in range(len(names))], setup) as clients:
        received = clients.ask_all("rows")
        spec = _encoding(clients.ask_all("stats"))
        shapes = clients.ask_all("encoder", spec)
        weights = _initial_weights(spec, settings, config.seed, task, train_rows[target], classes)
        history, best = [], (np.inf, 0, weights)
        for round_ in range(1, config.rounds + 1):
            answers = clients.ask_all("fit", (weights, settings))
            counts = np.array([n for _, n, _ in answers], dtype=float)
            weights = _average([from_bytes(b) for b, _, _ in answers], counts / counts.sum())
            scored = clients.ask_all("evaluate", (weights, settings))
            valid_loss = sum(s for s, _ in scored) / sum(n for _, n in scored)
            train_loss = float(np.average([loss for _, _, loss in answers], weights=counts))
            history.append(
                {
                    "round": round_,
                    "train_loss": train_loss,
                    "valid_loss": valid_loss,
                    "bytes": clients.take_bytes(),
                }
            )
            if valid_loss < best[0]:
                best = (valid_loss, round_, weights)
            if cb.step(round_, config.rounds, {"train_loss": train_loss, "valid_loss": valid_loss}):
                raise TrainingError(Message("federated.cancelled"))
        spent = clients.ask_all("privacy")
        setup_bytes = clients.take_bytes()
    privacy = _privacy(spent, names) if config.privacy is not None else None
    cb.phase("evaluating")
    network = _network(spec, settings, from_bytes(best[2]))
    X_test = encode(_inputs(data.x_test, setup), spec)
    y_test = split.test[target].to_numpy()
    federated = _score(network, X_test, y_test, task, classes)
    pooled = encode(_inputs(data.x_train, setup), spec)
    central = _centralised(
        config, settings, spec, pooled, train_rows[target].to_numpy(), task, classes
    )
    centralised = _score(central, X_test, y_test, task, classes)
    rows = []
    predictions = _predict(network, X_test, task, classes)
    for i, name in enumerate(names):
        mask = test_labels == i
        rows.append(
            {
                "name": name,
                "n_train": int(shapes[i][0] + shapes[i][1]),
                "n_test": int(mask.sum()),
                "accuracy": _accuracy(y_test[mask], predictions[mask], task),
                "fairness": _gap(split.test[mask], y_test[mask], predictions[mask], info, classes),
                "epsilon": spent[i]["epsilon"] if spent[i] is not None else None,
                "rows": received[i],
            }
        )
    result = FederatedResult(
        config=config,
        dataset_id=info.id,
        task=task,
        federated=federated,
        centralised=centralised,
        clients=rows,
        history=history,
        best_round=best[1],
        bytes_exchanged=int(sum(h["bytes"] for h in history) + setup_bytes),
        seconds=round(time.perf_counter() - start, 2),  # the stored report's: no registering
        privacy=privacy,
    )
    if config.register:
        recorded = _register(config, data, spec, settings, classes, best[2], result, workspace, cb)
        result.run_id = recorded.run_id
        result.model_name = recorded.model_name
        result.model_version = recorded.model_version
    result.seconds = round(time.perf_counter() - start, 2)
    cb.train_end()
    return result


def _register(
    config: FederatedConfig,
    data: Any,
    spec: dict[str, Any],
    settings: dict[str, Any],
    classes: list | None,
    weights: bytes,
    result: FederatedResult,
    workspace: Workspace,
    cb: CallbackList,
) -> Any:
    """Register the kept global weights as a ``federated`` model version (a ``text`` Quick
    version for a text model: see :func:`_text_model`).

    The table model is made from what the server holds: the shared encoding ``spec``, the
    classes, the columns' names and the averaged weights. Nothing is fitted on the pooled
    rows, so it reads its input exactly as the clients encoded theirs (:func:`encode`).
    """
    from lepton_core.models import FederatedModel

    info = data.info
    text = config.model == "text"
    if text:
        params: dict[str, Any] = {"mode": "quick", "base": DEFAULT_BASE}
        model = _text_model(config, data, spec, from_bytes(weights))
        family = "text"
    else:
        params = {
            "hidden_sizes": list(settings["hidden_sizes"]),
            "learning_rate": config.learning_rate,
            "batch_size": config.batch_size,
        }
        model = FederatedModel.from_federation(
            spec,
            from_bytes(weights),
            task=info.task,
            classes=classes,
            columns=list(data.x_train.columns),  # the schema's order, as every client's
            seed=config.seed,
            **params,
        )
        family = FederatedModel.family
    model.history_ = [
        {"step": h["round"], "train_loss": h["train_loss"], "valid_loss": h["valid_loss"]}
        for h in result.history
    ]
    model.best_iteration_ = result.best_round
    if result.privacy is not None:
        model.privacy_ = result.privacy  # saved with the model, as a DP MLP's is
    # A federated run is trained again (its notebook) from its "federated" report.
    train_config = TrainConfig(
        data=config.data,
        target=info.target,
        sensitive=list(info.sensitive),
        model=family,
        params=params,
        text_column=info.text_column if text else None,
        seed=config.seed,
        test_size=config.test_size,
        valid_size=0.0,
        model_name=config.model_name,
        explain_rows=config.explain_rows,
    )
    # The run says those; the privacy report is stored as a DP run's is.
    own = ("clients", "config", "run_id", "model_name", "model_version", "privacy")
    summary = {k: v for k, v in result.to_dict().items() if k not in own}
    summary["clients"] = [{k: v for k, v in c.items() if k != "rows"} for c in result.clients]
    summary["config"] = config.to_dict()
    privacy = result.privacy
    return record_run(
        workspace,
        data,
        model,
        config=train_config,
        run_name=f"{config.model_name or info.name}-federated-{config.model}",
        params={
            "federated.model": config.model,
            "federated.strategy": config.strategy,
            "federated.clients": len(result.clients),
            "federated.rounds": config.rounds,
            "federated.split_by": config.split_by or "random",
        },
        tags={"federated": config.strategy},
        reports={
            "federated": summary,
            "privacy": privacy.to_dict() if privacy is not None else None,
        },
        metrics=(
            {"privacy_epsilon": privacy.epsilon, "privacy_delta": privacy.delta}
            if privacy is not None
            else {}
        ),
        callbacks=cb,
    )


def _client_privacy(options: PrivacyOptions | None, n_train: int) -> dict[str, Any] | None:
    """The options every client trains to: one δ for the federation (the user's, else
    :func:`default_delta` of all the training rows, below one over any client's rows)."""
    if options is None:
        return None
    delta = options.delta if options.delta is not None else default_delta(n_train)
    return dataclasses.replace(options, delta=delta).to_dict()


def _privacy(spent: list[dict[str, Any] | None], names: list[str]) -> PrivacyReport:
    """The federated model's guarantee from the clients' DP-SGD reports.

    A row lives in one client, whose DP-SGD released every update made from it (its
    accountant covers all its rounds); the server only averages updates, which is
    post-processing. So each row has its client's ε, and the model the largest of them:
    that client's report, with every client's figures in ``clients``.
    """
    reports = [PrivacyReport.from_dict(r) for r in spent if r is not None]
    if len(reports) != len(names):  # cannot happen: every client trained with DP-SGD
        raise TrainingError(Message("federated.client_failed"))
    worst = max(range(len(reports)), key=lambda i: reports[i].epsilon)
    by_accountant = {
        name: max(r.epsilon_by_accountant[name] for r in reports)
        for name in reports[worst].epsilon_by_accountant
    }
    each = ", ".join(f"{n} {r.epsilon:.2f}" for n, r in zip(names, reports, strict=True))
    return dataclasses.replace(
        reports[worst],
        epsilon_by_accountant=by_accountant,
        notes=[
            Message("dp.note.federated", count=len(names), client=str(names[worst]), each=each),
            Message("dp.note.federated_validation"),
        ],
        clients=[
            {
                "name": str(name),
                "epsilon": r.epsilon,
                "delta": r.delta,
                "noise_multiplier": r.noise_multiplier,
                "sample_rate": r.sample_rate,
                "steps": r.steps,
                "n_train": r.n_train,
            }
            for name, r in zip(names, reports, strict=True)
        ],
    )


def _text_model(
    config: FederatedConfig, data: Any, spec: dict[str, Any], state: dict[str, Any]
) -> Any:
    """A Quick ``text`` model whose head is the federated one.

    The model is fitted with its deadline already past only to learn its column, classes
    and tokenizer: it embeds nothing and leaves its head untrained. The head then takes
    the federated weights with the federation's standardisation folded in, as the Quick
    probe folds its own; a binary head's one logit becomes the second class's.
    """
    import torch

    from lepton_core.models import make_model

    info = data.info
    model = make_model("text", info.task, seed=config.seed, mode="quick", base=DEFAULT_BASE)
    model.fit_deadline = 0.0
    try:
        model.fit(data.x_train, data.split.train[info.target].to_numpy())
    finally:
        del model.fit_deadline  # the class's again: no deadline
    # The federation's classes are the sorted training values, as the model's.
    assert list(model.classes_) == np.unique(data.split.train[info.target]).tolist()
    means = torch.tensor([m for m, _ in spec["numeric"].values()], dtype=torch.float32)
    stds = torch.tensor([s for _, s in spec["numeric"].values()], dtype=torch.float32)
    weight = state["0.weight"] / stds
    bias = state["0.bias"] - weight @ means
    if info.task == "binary":  # softmax over (0, logit) is the sigmoid of the logit
        weight = torch.cat([torch.zeros_like(weight), weight])
        bias = torch.cat([torch.zeros_like(bias), bias])
    head = model.final_estimator_.classifier
    with torch.no_grad():
        head.weight.copy_(weight)
        head.bias.copy_(bias)
    model.cancelled_ = False
    return model


class _Clients:
    """The client processes and their pipes; counts the bytes that cross them."""

    def __init__(self, parts: list[pd.DataFrame], setup: dict[str, Any]) -> None:
        self.parts, self.setup, self.bytes = parts, setup, 0

    def __enter__(self) -> _Clients:
        context = multiprocessing.get_context("spawn")  # no fork of the server's memory
        self.pipes, self.processes = [], []
        for part in self.parts:
            server_end, client_end = context.Pipe()
            process = context.Process(
                target=client_main, args=(client_end, part, self.setup), daemon=True
            )
            process.start()
            client_end.close()
            self.pipes.append(server_end)
            self.processes.append(process)
        self.parts = []  # the server keeps no client's rows
        return self

    def ask_all(self, kind: str, payload: Any = None) -> list[Any]:
        """Send one message to every client, then collect the answers (they work at once)."""
        for pipe in self.pipes:
            self.bytes += _size(payload)
            pipe.send((kind, payload))
        answers = []
        for pipe, process in zip(self.pipes, self.processes, strict=True):
            while not pipe.poll(0.5):
                if not process.is_alive():  # a client that died never answers
                    raise TrainingError(Message("federated.client_failed"))
            try:
                answer = pipe.recv()
            except (EOFError, OSError):  # the pipe closed or was reset under it
                raise TrainingError(Message("federated.client_failed")) from None
            self.bytes += _size(answer)
            answers.append(answer)
        failed = next((a for a in answers if isinstance(a, Failure)), None)
        if failed is not None:  # e.g. DP-SGD that cannot reach its ε in that many steps
            raise TrainingError(failed.message)
        return answers

    def take_bytes(self) -> int:
        taken, self.bytes = self.bytes, 0
        return taken

    def __exit__(self, *exc: Any) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):  # a client that already stopped
                pipe.send(("stop", None))
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.terminate()


def _size(payload: Any) -> int:
    """Bytes of the weights and statistics in a message (rows ids are not exchanged in a
    real federation: the simulation checks them)."""
    if isinstance(payload, bytes):
        return len(payload)
    if isinstance(payload, tuple):
        return sum(_size(p) for p in payload)
    if isinstance(payload, dict) and ("numeric" in payload or "categories" in payload):
        import json

        return len(json.dumps(payload, default=str).encode())
    return 0


def _test_clients(
    config: FederatedConfig, test: pd.DataFrame, names: list[str], labels: np.ndarray
) -> np.ndarray:
    """Each test row's client: by the split column's value, or at random."""
    if not config.split_by:
        return np.random.default_rng(config.seed + 1).permutation(len(test)) % len(names)
    text = test[config.split_by].astype(object).where(test[config.split_by].notna(), "(missing)")
    index = {v: i for i, v in enumerate(names) if v != _OTHER}
    return text.astype(str).map(index).fillna(len(names) - 1).astype(int).to_numpy()


def _inputs(frame: pd.DataFrame, setup: dict[str, Any]) -> pd.DataFrame:
    """The columns the network reads: the rows as they are, or their texts' embeddings."""
    text = setup.get("text")
    if text is None:
        return frame
    return embed_texts(frame[text["column"]], text["base"], text["max_length"])


def _encoding(stats: list[dict[str, Any]]) -> dict[str, Any]:
    """The shared encoding from the clients' statistics (pooled means and deviations, the
    commonest categories over all clients); its columns are those the clients counted (a
    text client's embeddings)."""
    spec: dict[str, Any] = {"numeric": {}, "categories": {}}
    for column in stats[0]["numeric"]:
        n = sum(s["numeric"][column][0] for s in stats)
        total = sum(s["numeric"][column][1] for s in stats)
        squares = sum(s["numeric"][column][2] for s in stats)
        mean = total / n if n else 0.0
        std = float(np.sqrt(max(squares / n - mean**2, 0.0))) if n else 1.0
        spec["numeric"][column] = (mean, std or 1.0)
    for column in stats[0]["categories"]:
        counts: dict[str, int] = {}
        for s in stats:
            for value, count in s["categories"][column].items():
                counts[value] = counts.get(value, 0) + count
        spec["categories"][column] = sorted(counts, key=lambda v: -counts[v])[:_MAX_CATEGORIES]
    return spec


def _network(spec: dict[str, Any], settings: dict[str, Any], state: dict | None = None) -> Any:
    from lepton_core.models import _mlp_net as net

    n_inputs = len(spec["numeric"]) + sum(len(v) for v in spec["categories"].values())
    network = net.build_network(n_inputs, settings["n_outputs"], settings["hidden_sizes"], 0.0)
    if state is not None:
        network.load_state_dict(state)
    return network.eval()


def _initial_weights(
    spec: dict, settings: dict, seed: int, task: str, y: pd.Series, classes: list | None
) -> bytes:
    import torch

    from lepton_core.models import _mlp_net as net

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = _network(spec, settings)
    if classes is not None:
        net.init_output_bias(network, pd.Index(classes).get_indexer(y.to_numpy()), task)  # type: ignore[arg-type]
    return to_bytes(network.state_dict())


def _average(states: list[dict[str, Any]], shares: np.ndarray) -> bytes:
    """FedAvg: the clients' weights averaged by their share of the rows."""
    return to_bytes(
        {k: sum(float(w) * s[k] for s, w in zip(states, shares, strict=True)) for k in states[0]}
    )


def _centralised(
    config: FederatedConfig,
    settings: dict,
    spec: dict,
    X: np.ndarray,
    y: np.ndarray,
    task: str,
    classes: list | None,
) -> Any:
    """The same network and training step on the pooled rows: the reference."""
    import torch

    from lepton_core.models import _mlp_net as net

    targets = pd.Index(classes).get_indexer(y) if classes is not None else y.astype(float)
    order = np.random.default_rng(config.seed).permutation(len(X))
    cut = max(1, round(len(X) * 0.1))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        network = _network(spec, settings).train()
        if classes is not None:
            net.init_output_bias(network, targets, task)  # type: ignore[arg-type]
        loader = net.build_loader(
            X[order[cut:]],
            targets[order[cut:]],
            task=task,
            batch_size=config.batch_size,
            seed=config.seed,  # type: ignore[arg-type]
        )
        net.train(
            network,
            net.build_optimizer(network, config.learning_rate, 0.0),
            loader,
            task=task,  # type: ignore[arg-type]
            valid=(X[order[:cut]], targets[order[:cut]]),
            max_epochs=config.rounds * config.local_epochs,
            patience=config.rounds * config.local_epochs,  # keep the best, as the server does
        )
    return network.eval()


def _predict(network: Any, X: np.ndarray, task: str, classes: list | None) -> np.ndarray:
    from lepton_core.models import _mlp_net as net

    raw = net.predict_raw(network, X)
    if classes is None:
        return raw[:, 0]
    index = (raw[:, 0] > 0).astype(int) if task == "binary" else raw.argmax(axis=1)
    return np.asarray(classes, dtype=object)[index]


def _score(network: Any, X: np.ndarray, y: np.ndarray, task: str, classes: list | None) -> dict:
    from sklearn import metrics

    from lepton_core.models import _mlp_net as net

    pred = _predict(network, X, task, classes)
    if classes is None:
        return {"r2": float(metrics.r2_score(y, pred))}
    out = {"accuracy": _accuracy(y, pred, task)}
    if task == "binary":
        raw = net.predict_raw(network, X)[:, 0]
        out["roc_auc"] = float(metrics.roc_auc_score(y == classes[1], raw))
    return out


def _accuracy(y: np.ndarray, pred: np.ndarray, task: str) -> float | None:
    if task == "regression" or len(y) == 0:
        return None
    return float(np.mean(y.astype(str) == pred.astype(str)))


def _gap(
    test: pd.DataFrame, y: np.ndarray, pred: np.ndarray, info: Any, classes: list | None
) -> float | None:
    """The largest demographic parity gap by the sensitive columns on these rows."""
    # A client made by a sensitive column holds one of its groups: nothing to compare there.
    columns = [c for c in info.sensitive if test[c].nunique(dropna=False) > 1]
    if classes is None or not columns or len(y) == 0:
        return None
    reports = fairness_reports(
        y,
        pred.astype(np.asarray(y).dtype),
        sensitive_features=test[columns].reset_index(drop=True),
        task=info.task,
        positive_label=classes[1] if info.task == "binary" else None,
    )
    gaps = [
        r.demographic_parity_difference
        for r in reports
        if r.demographic_parity_difference is not None
    ]
    return max(gaps) if gaps else None
