"""Exports: the MLflow folder as a zip, ONNX with its agreement, int8 compression's cost."""

from __future__ import annotations

import zipfile

import numpy as np
import onnx
import pytest

from lepton_core.core import ModelError
from lepton_core.runs import (
    TrainConfig,
    compress,
    export_mlflow_zip,
    export_onnx,
    load_test_rows,
    model_card,
    onnx_scorer,
    to_onnx,
    train,
)


@pytest.fixture(scope="module")
def small_runs(adult_csv, workspace):
    """A logistic model and a small MLP on the 3,000-row Adult sample."""
    runs = {}
    for family, params in (("logistic", {}), ("mlp", {"max_epochs": 5})):
        runs[family] = train(
            TrainConfig(
                data=str(adult_csv),
                target="Y",
                sensitive=["sex"],
                model=family,
                params=params,
                model_name=f"export-{family}",
                explain_rows=20,
            ),
            workspace=workspace,
        )
    return runs


def test_lightgbm_onnx_reproduces_the_model(adult_run, workspace, tmp_path):
    result = export_onnx(workspace, adult_run.model_name, adult_run.model_version, tmp_path)
    onnx.checker.check_model(onnx.load(result.path))
    assert result.n_rows == adult_run.n_test
    assert result.label_agreement == 1.0
    assert result.max_abs_diff < 1e-5
    assert result.output == "probabilities"


def test_onnx_scorer_answers_records_as_the_model_does(adult_run, workspace):
    model = workspace.load_model(adult_run.model_name, adult_run.model_version)
    schema = workspace.load_input_schema(adult_run.run_id)
    scorer = onnx_scorer(model, *to_onnx(model))
    records = [schema.defaults(), {**schema.defaults(), "age": None, "workclass": "Unseen"}]
    labels, proba = scorer.predict_records(records, schema)
    model_labels, model_proba = model.predict_records(records, schema)
    assert list(labels) == list(model_labels)
    np.testing.assert_allclose(proba, model_proba, atol=1e-5)
    text_age = [{**records[0], "age": "37"}]  # the table path, as for the model
    assert (
        scorer.predict_records(text_age, schema)[0][0]
        == model.predict(schema.to_frame(text_age))[0]
    )


@pytest.mark.parametrize("family", ["logistic", "mlp"])
def test_linear_and_mlp_onnx_agree(small_runs, workspace, tmp_path, family):
    run = small_runs[family]
    result = export_onnx(workspace, run.model_name, run.model_version, tmp_path)
    onnx.checker.check_model(onnx.load(result.path))
    assert result.family == family
    assert result.label_agreement >= 0.999
    assert result.max_abs_diff < 1e-4


def test_mlflow_zip_holds_the_model_folder(adult_run, workspace, tmp_path):
    path = export_mlflow_zip(workspace, adult_run.model_name, adult_run.model_version, tmp_path)
    names = zipfile.ZipFile(path).namelist()
    assert "model/MLmodel" in names
    assert any(n.startswith("model/artifacts/lepton_model/") for n in names)


@pytest.fixture(scope="module")
def compressed(small_runs, workspace):
    """Both int8 versions of the MLP."""
    run = small_runs["mlp"]
    return {
        method: compress(workspace, run.model_name, run.model_version, method=method)
        for method in ("torch-int8", "onnx-int8")
    }


@pytest.mark.parametrize("method", ["torch-int8", "onnx-int8"])
def test_int8_compression_reports_size_accuracy_and_fairness(small_runs, compressed, method):
    run, report = small_runs["mlp"], compressed[method]
    assert report.after.size_bytes < report.before.size_bytes
    assert report.label_agreement > 0.95
    assert report.after.metrics["accuracy"] == pytest.approx(
        report.before.metrics["accuracy"], abs=0.03
    )
    assert set(report.before.fairness) == set(report.after.fairness) == {"sex"}
    assert report.after.fairness["sex"]["demographic_parity_difference"] is not None
    # The original figures are the ones training measured on the same rows.
    assert report.before.metrics == run.evaluation.metrics
    assert report.latency_rows > 0 and report.after.latency_ms > 0


@pytest.mark.parametrize("method", ["torch-int8", "onnx-int8"])
def test_compression_registers_a_new_version_that_loads_compressed(
    small_runs, compressed, workspace, method
):
    from lepton_core.runs import load_run_reports

    run, report = small_runs["mlp"], compressed[method]
    assert report.new_version > run.model_version
    model = workspace.load_model(run.model_name, report.new_version)
    assert model.family == "mlp" and model.compression_.method == method
    stored = load_run_reports(workspace, report.run_id)
    assert stored.evaluation.metrics == report.after.metrics
    assert workspace.load_report(report.run_id, "compression")["parent"] == (
        f"{run.model_name}:{run.model_version}"
    )
    # The loaded version predicts what the measured one did, on the same test rows.
    X, _, _ = load_test_rows(workspace, run.run_id)
    labels = workspace.load_report(report.run_id, "test_predictions")["y_pred"]
    assert model.predict(X).tolist() == labels
    parent = workspace.load_model(run.model_name, run.model_version)
    assert parent.compression_ is None
    card = model_card(workspace, run.model_name, report.new_version).to_markdown()
    assert "int8-compressed version of" in card


def test_onnx_int8_version_exports_its_graph_and_torch_int8_says_why_not(
    small_runs, compressed, workspace, tmp_path
):
    run = small_runs["mlp"]
    result = export_onnx(workspace, run.model_name, compressed["onnx-int8"].new_version, tmp_path)
    assert result.size_bytes == compressed["onnx-int8"].after.size_bytes
    assert result.label_agreement == 1.0
    with pytest.raises(ModelError, match="no ONNX form"):
        export_onnx(workspace, run.model_name, compressed["torch-int8"].new_version, tmp_path)


def test_compression_refuses_what_it_cannot_do(adult_run, small_runs, compressed, workspace):
    with pytest.raises(ModelError, match="neural network"):
        compress(workspace, adult_run.model_name, adult_run.model_version, method="onnx-int8")
    run = small_runs["logistic"]
    with pytest.raises(ModelError, match="neural network"):
        compress(workspace, run.model_name, run.model_version, method="torch-int8")
    mlp = small_runs["mlp"]
    with pytest.raises(ModelError, match="already compressed"):
        compress(workspace, mlp.model_name, compressed["torch-int8"].new_version)


def test_cli_compress_prints_the_new_version(small_runs, workspace, capsys):
    from lepton_core.cli import main

    run = small_runs["mlp"]
    ref = f"{run.model_name}:{run.model_version}"
    assert main(["--workspace", str(workspace.root), "compress", "--model", ref]) == 0
    out = capsys.readouterr().out
    assert f"model {run.model_name}:" in out and "PyTorch int8" in out and "accuracy" in out
