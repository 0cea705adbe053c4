"""Exports: the MLflow folder as a zip, ONNX with its agreement, int8 compression's cost."""

from __future__ import annotations

import zipfile

import onnx
import pytest

from lepton_core.exceptions import ModelError
from lepton_core.export import compress, export_mlflow_zip, export_onnx
from lepton_core.training import TrainConfig, train


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


@pytest.mark.parametrize("method", ["torch-int8", "onnx-int8"])
def test_int8_compression_reports_size_accuracy_and_fairness(small_runs, workspace, method):
    run = small_runs["mlp"]
    report = compress(workspace, run.model_name, run.model_version, method=method)
    assert report.after.size_bytes < report.before.size_bytes
    assert report.label_agreement > 0.95
    assert report.after.metrics["accuracy"] == pytest.approx(
        report.before.metrics["accuracy"], abs=0.03
    )
    assert set(report.before.fairness) == set(report.after.fairness) == {"sex"}
    assert report.after.fairness["sex"]["demographic_parity_difference"] is not None
    if method == "torch-int8":
        # The original figures are the ones training measured on the same rows.
        assert report.before.metrics["accuracy"] == pytest.approx(
            run.evaluation.metrics["accuracy"]
        )


def test_compression_refuses_what_it_cannot_do(adult_run, small_runs, workspace):
    with pytest.raises(ModelError, match="no weight matrices"):
        compress(workspace, adult_run.model_name, adult_run.model_version, method="onnx-int8")
    run = small_runs["logistic"]
    with pytest.raises(ModelError, match="neural network"):
        compress(workspace, run.model_name, run.model_version, method="torch-int8")
