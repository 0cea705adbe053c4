"""ONNX for the ensemble family: one graph with every member's, scored like the ensemble."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from lepton_core.core import ModelError
from lepton_core.models import EnsembleModel, MitigatedModel, make_model
from lepton_core.runs import TrainConfig, export_onnx, load_test_rows, train_ensemble


@pytest.fixture(scope="module")
def parts(adult_small):
    X, y = adult_small.drop(columns=["Y"]), adult_small["Y"].to_numpy()
    return X.iloc[:600], y[:600], X.iloc[600:900]


@pytest.fixture(scope="module")
def lightgbm(parts):
    X, y, _ = parts
    return make_model("lightgbm", "binary", n_estimators=30).fit(X, y)


def test_one_graph_gives_the_ensembles_probabilities(parts, lightgbm):
    X, y, rows = parts
    members = [
        lightgbm,
        make_model("logistic", "binary").fit(X, y),
        make_model("mlp", "binary", hidden_sizes=(16,), max_epochs=3).fit(X, y),
    ]
    model = EnsembleModel().fit(members=members, weights=[0.5, 0.3, 0.2])
    graph, output = model.to_onnx()
    assert output == "probabilities"
    proto = onnx.load_from_string(graph)
    # Each member reads its own encoding of the table: LightGBM's codes, the others' one-hot.
    assert [i.name for i in proto.graph.input] == [f"member{i}_input" for i in range(3)]
    widths = [i.type.tensor_type.shape.dim[1].dim_value for i in proto.graph.input]
    assert widths[0] == len(lightgbm.feature_names_out_) != widths[1]
    scorer = model.onnx_scorer(graph, output)
    expected = model.predict_proba(rows)
    np.testing.assert_allclose(scorer.predict_proba(rows), expected, rtol=0, atol=1e-5)
    assert (scorer.predict(rows) == model.predict(rows)).all()
    # Not just one member: the average differs from each member's own probabilities.
    assert all(np.abs(m.predict_proba(rows) - expected).max() > 1e-3 for m in members)


def test_regression_ensemble_averages_the_values(parts):
    X, _, rows = parts
    features, target = X.drop(columns=["age"]), X["age"].to_numpy(dtype=float)
    members = [
        make_model("lightgbm", "regression", n_estimators=30).fit(features, target),
        make_model("logistic", "regression").fit(features, target),
    ]
    model = EnsembleModel(task="regression").fit(members=members, weights=[0.7, 0.3])
    graph, output = model.to_onnx()
    assert output == "value"
    scorer = model.onnx_scorer(graph, output)
    ours = model.predict(rows.drop(columns=["age"]))
    np.testing.assert_allclose(scorer.predict(rows.drop(columns=["age"])), ours, rtol=1e-5)


def test_a_member_without_onnx_is_named_in_one_sentence(parts, lightgbm):
    X, y, _ = parts
    fairer = MitigatedModel(method="threshold_dp", sensitive="sex").fit(X, y, base=lightgbm)
    model = EnsembleModel().fit(members=[lightgbm, fairer], weights=[0.5, 0.5])
    with pytest.raises(ModelError) as caught:
        model.to_onnx()
    message = str(caught.value)
    assert message.startswith("Model 2 of the ensemble (Fairness-mitigated model) cannot be")
    assert message.count(".") == 1 and "Traceback" not in message


def test_export_writes_the_graph_and_agrees_on_the_test_rows(
    workspace, adult_small, tmp_path_factory
):
    path = tmp_path_factory.mktemp("data") / "ensemble_onnx.csv"
    adult_small.iloc[:800].to_csv(path, index=False)
    members = [
        {"family": "logistic", "params": {}, "weight": 0.4},
        {"family": "lightgbm", "params": {"n_estimators": 20}, "weight": 0.6},
    ]
    config = TrainConfig(
        data=str(path), target="Y", sensitive=["sex"], model_name="ens-onnx", explain_rows=10
    )
    run = train_ensemble(config, members, workspace=workspace)
    result = export_onnx(workspace, "ens-onnx", run.model_version, tmp_path_factory.mktemp("out"))
    assert result.family == "ensemble" and result.output == "probabilities"
    assert Path(result.path).stat().st_size == result.size_bytes > 0
    assert result.n_rows > 0 and result.label_agreement == 1.0
    assert result.max_abs_diff < 1e-5
    # The API's path (``lepton serve --runtime onnx``): request records, checked first.
    model = workspace.load_model("ens-onnx", run.model_version)
    schema = workspace.load_input_schema(run.run_id)
    rows = load_test_rows(workspace, run.run_id)[0].head(8).astype(object)
    records = rows.where(rows.notna(), None).to_dict("records")  # a request sends null
    labels, proba = model.onnx_scorer(*model.to_onnx()).predict_records(records, schema)
    ours_labels, ours = model.predict_records(records, schema)
    assert (labels == ours_labels).all()
    np.testing.assert_allclose(proba, ours, rtol=0, atol=1e-5)
