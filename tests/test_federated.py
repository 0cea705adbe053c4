"""Federated training: FedAvg over client processes that keep their own rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lepton_core.core import DataError
from lepton_core.data import split_table
from lepton_core.models import _mlp_net as net
from lepton_core.runs._fed_client import _local_epochs, from_bytes, to_bytes
from lepton_core.runs._federated import FederatedConfig, _average, assign_clients, run_federated


def _local_step(X, y, state):
    network = net.build_network(X.shape[1], 1, (8,), 0.0)
    network.load_state_dict(state)
    loader = net.build_loader(X, y, task="binary", batch_size=32, seed=0)
    settings = {"mu": 0.0, "learning_rate": 1e-2, "local_epochs": 2}
    _local_epochs(net, network, loader, "binary", settings, None)
    return network.state_dict()


def test_fedavg_of_identical_clients_is_the_centralised_step():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = (X[:, 0] + 0.5 * rng.normal(size=200) > 0).astype(int)
    torch.manual_seed(0)
    start = net.build_network(5, 1, (8,), 0.0).state_dict()
    clients = [_local_step(X, y, start) for _ in range(3)]
    averaged = from_bytes(_average(clients, np.full(3, 1 / 3)))
    central = _local_step(X, y, start)
    for key, value in central.items():
        torch.testing.assert_close(averaged[key], value)
        assert not torch.equal(value, start[key])  # training moved the weights


def test_weights_round_trip_through_bytes():
    state = net.build_network(4, 2, (3,), 0.0).state_dict()
    again = from_bytes(to_bytes(state))
    assert all(torch.equal(again[k], v) for k, v in state.items())


@pytest.fixture(scope="module")
def table(adult_small, tmp_path_factory):
    path = tmp_path_factory.mktemp("fed") / "adult.csv"
    adult_small.head(1500).assign(site="only one").to_csv(path, index=False)
    return str(path)


def test_rows_never_leave_their_client(table, workspace):
    result = run_federated(
        FederatedConfig(
            data=table, target="Y", sensitive=["race"], split_by="sex", clients=2, rounds=2
        ),
        workspace=workspace,
    )
    received = [set(c["rows"]) for c in result.clients]
    assert received[0].isdisjoint(received[1])
    assert sum(len(r) for r in received) == sum(c["n_train"] for c in result.clients)
    df, test = workspace.load_dataset(result.dataset_id)
    train = split_table(df, "Y", task="binary", test=test, valid_size=0.0, seed=0).train
    assert set().union(*received) == set(train.index)  # every training row, once
    for client, rows in zip(result.clients, received, strict=True):
        assert set(train.loc[sorted(rows), "sex"]) == {client["name"]}  # by its own value only
    assert [h["round"] for h in result.history] == [1, 2]
    assert result.bytes_exchanged > 0 and all(h["bytes"] > 0 for h in result.history)
    assert 0.7 < result.federated["accuracy"] <= 1 and 0.7 < result.centralised["accuracy"] <= 1
    assert all(c["accuracy"] is not None for c in result.clients)


def test_bad_splits_get_one_clear_sentence(table, workspace):
    with pytest.raises(DataError, match="has one value"):
        run_federated(FederatedConfig(data=table, target="Y", split_by="site"), workspace=workspace)
    with pytest.raises(DataError, match="fewer than"):
        run_federated(
            FederatedConfig(data=table, target="Y", split_by="race", min_client_rows=500),
            workspace=workspace,
        )
    with pytest.raises(DataError, match="no column 'nope'"):
        run_federated(FederatedConfig(data=table, target="Y", split_by="nope"), workspace=workspace)


def test_clients_by_column_keep_the_commonest_values_apart():
    import pandas as pd

    values = pd.Series(["a"] * 5 + ["b"] * 4 + ["c"] * 2 + ["d"], name="site")
    labels, names = assign_clients(values, len(values), 3, seed=0)
    assert names == ["a", "b", "other values"]
    assert labels.tolist() == [0] * 5 + [1] * 4 + [2] * 3
    labels, names = assign_clients(None, 10, 3, seed=0)
    assert sorted(np.bincount(labels).tolist()) == [3, 3, 4]


@pytest.fixture(scope="module")
def small(adult_small, tmp_path_factory):
    path = tmp_path_factory.mktemp("fed_small") / "adult.csv"
    adult_small.head(400).to_csv(path, index=False)
    return str(path)


def test_a_private_federated_version_carries_its_privacy_report(small, workspace):
    from lepton_core.dp import PrivacyOptions, load_privacy
    from lepton_core.runs import model_card

    target = 2.0
    result = run_federated(
        FederatedConfig(
            data=small, target="Y", clients=2, rounds=2, min_client_rows=10,
            privacy=PrivacyOptions(epsilon=target), register=True, model_name="fed-dp",
            explain_rows=10,
        ),
        workspace=workspace,
    )  # fmt: skip
    stored = load_privacy(workspace, result.run_id)
    assert stored is not None and stored == result.privacy
    spent = [c["epsilon"] for c in result.clients]
    assert all(0 < e <= target + 1e-6 for e in spent)
    # Every row is in one client: the model's ε is the largest a client spent.
    assert stored.epsilon == pytest.approx(max(spent))
    assert [c["epsilon"] for c in stored.clients] == pytest.approx(spent)
    assert [c["name"] for c in stored.clients] == ["client 1", "client 2"]
    assert {c["delta"] for c in stored.clients} == {stored.delta} == {1e-3}  # one δ: 1/320 rows
    assert stored.accountant == "prv" and set(stored.epsilon_by_accountant) == {"prv", "rdp"}
    assert max(stored.epsilon_by_accountant.values()) == pytest.approx(stored.epsilon)
    assert [n.id for n in stored.notes] == ["dp.note.federated", "dp.note.federated_validation"]
    run = workspace.get_run(result.run_id)
    assert run.metrics["privacy_epsilon"] == pytest.approx(stored.epsilon)
    assert run.metrics["privacy_delta"] == stored.delta
    card = model_card(workspace, "fed-dp", result.model_version, n_resamples=10)
    assert any("differential privacy" in str(fact) for fact in card.privacy)
    model = workspace.load_model("fed-dp", result.model_version)  # the report saved with it
    assert model.family == "federated" and model.privacy_.epsilon == stored.epsilon


def test_a_client_error_reaches_the_server_as_its_one_sentence(monkeypatch):
    import threading
    from multiprocessing import Pipe

    import pandas as pd

    from lepton_core.core import TrainingError
    from lepton_core.runs import _fed_client
    from lepton_core.runs._federated import _Clients

    class Unreachable:  # a client whose DP-SGD cannot reach its ε (slow to reach for real)
        def __init__(self, rows, setup):
            pass

        def answer(self, kind, payload):
            raise TrainingError("No noise level reaches ε = 1e-09; raise ε.")

        def close(self):
            pass

    monkeypatch.setattr(_fed_client, "_ClientState", Unreachable)
    server_end, client_end = Pipe()
    client = threading.Thread(
        target=_fed_client.client_main, args=(client_end, pd.DataFrame(), {}), daemon=True
    )
    client.start()
    clients = _Clients([], {})
    clients.pipes, clients.processes = [server_end], [client]
    with pytest.raises(TrainingError, match=r"^No noise level reaches ε = 1e-09; raise ε\.$"):
        clients.ask_all("fit", (b"", {}))
    clients.__exit__(None, None, None)  # the server stops its clients, the failed one too
    client.join(5)
    assert not client.is_alive()


# -- the registered version: the ``federated`` family -----------------------------------


@pytest.fixture(scope="module")
def registered(small, workspace):
    """A federated MLP registered as a version, and what the server held when it made it
    (the shared encoding, the kept weights, the data); fitting any model fails it."""
    from lepton_core.models import LeptonModel, MLPModel
    from lepton_core.runs import _federated

    held = {}
    register = _federated._register

    def spy(config, data, spec, settings, classes, weights, *rest):
        held.update(data=data, spec=spec, settings=settings, weights=weights)
        return register(config, data, spec, settings, classes, weights, *rest)

    def pooled_fit(*args, **kwargs):
        raise AssertionError("a model was fitted on the pooled rows")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_federated, "_register", spy)
        patch.setattr(LeptonModel, "fit", pooled_fit)
        patch.setattr(MLPModel, "_fit", pooled_fit)
        result = run_federated(
            FederatedConfig(
                data=small, target="Y", sensitive=["sex"], model="mlp", clients=2, rounds=2,
                min_client_rows=10, register=True, model_name="fed-mlp", explain_rows=10,
            ),
            workspace=workspace,
        )  # fmt: skip
    return result, held, workspace.load_model("fed-mlp", result.model_version)


def test_a_federated_version_is_its_own_family_made_without_fitting(registered, workspace):
    from lepton_core.core import TrainingError
    from lepton_core.models import FederatedModel, family_names, family_title

    result, held, model = registered
    assert type(model) is FederatedModel and model.family == "federated"
    assert workspace.get_run(result.run_id).family == "federated"
    assert workspace.load_report(result.run_id, "config")["model"] == "federated"
    assert family_title("federated") == "Neural network (trained federated)"
    assert "federated" not in family_names()  # made by a federation, never trained directly
    assert model.spec_["categories"] == held["spec"]["categories"]
    assert model.hidden_sizes == (64, 32) and len(model.history_) == 2
    assert model.best_iteration_ == result.best_round
    with pytest.raises(TrainingError, match="run federated training again"):
        model.fit(held["data"].x_train, held["data"].split.train["Y"].to_numpy())


def test_a_federated_version_predicts_as_the_kept_weights_on_the_shared_encoding(
    registered, workspace
):
    from lepton_core.runs._fed_client import encode

    result, held, model = registered
    X = held["data"].x_test
    inputs = encode(X, held["spec"])
    network = net.build_network(inputs.shape[1], 1, held["settings"]["hidden_sizes"], 0.0)
    network.load_state_dict(from_bytes(held["weights"]))
    expected = net.predict_raw(network.eval(), inputs)[:, 0]
    np.testing.assert_array_equal(model.transform(X), inputs)
    np.testing.assert_allclose(model.raw_output(X), expected, rtol=1e-6, atol=1e-6)
    run = workspace.get_run(result.run_id)
    assert run.metrics["test_accuracy"] == pytest.approx(result.federated["accuracy"])


def test_a_federated_version_saves_without_pickle_and_exports_to_onnx(
    registered, workspace, tmp_path
):
    from lepton_core.models import load_model
    from lepton_core.runs import export_onnx

    result, held, model = registered
    X = held["data"].x_test
    assert sorted(model.save(tmp_path / "m")) == ["model.json", "weights.safetensors"]
    again = load_model(tmp_path / "m")
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    assert again.spec_ == model.spec_ and again.feature_groups_ == model.feature_groups_
    exported = export_onnx(workspace, "fed-mlp", result.model_version, tmp_path / "onnx")
    assert exported.label_agreement == 1.0 and exported.max_abs_diff < 1e-4


def test_a_federated_versions_shap_values_are_by_original_column(registered, workspace):
    result, held, model = registered
    explanation = workspace.load_report(result.run_id, "explanation")
    assert explanation["feature_names"] == model.feature_names_in_ == list(held["data"].features)
    # Each text column's one-hot inputs are one group: SHAP adds them up into the column.
    assert model.categorical_features_
    for column in model.categorical_features_:
        names = [model.feature_names_out_[i] for i in model.feature_groups_[column]]
        assert names == [f"{column} = {v}" for v in held["spec"]["categories"][column]]
    flat = sorted(i for group in model.feature_groups_.values() for i in group)
    assert flat == list(range(len(model.feature_names_out_)))
    values = np.asarray(explanation["values"])
    assert values.shape[:2] == (10, len(model.feature_names_in_))
    total = np.asarray(explanation["base_values"]) + values.sum(axis=1)
    np.testing.assert_allclose(total, np.asarray(explanation["model_output"]).reshape(total.shape))
