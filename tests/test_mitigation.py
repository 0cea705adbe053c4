"""Fairness mitigation: new registered versions, lower DPD, deployable and explainable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lepton_core.core import ModelError
from lepton_core.models import MitigatedModel, load_model, make_model
from lepton_core.runs import load_bundle, mitigate_run, model_card


@pytest.fixture(scope="module")
def small_run(workspace, adult_csv):
    from lepton_core.runs import TrainConfig, train

    return train(
        TrainConfig(data=str(adult_csv), sensitive=["sex", "race"], explain_rows=50),
        workspace=workspace,
    )


def _dpd(result, attribute="sex"):
    return next(
        r for r in result.fairness if r.attribute == attribute
    ).demographic_parity_difference


def test_threshold_optimizer_lowers_dpd_and_registers_a_version(workspace, small_run):
    result = mitigate_run(workspace, small_run.run_id, sensitive="sex", method="threshold_dp")
    assert result.model_name == small_run.model_name
    assert result.model_version == small_run.model_version + 1
    assert _dpd(result) < _dpd(small_run)
    rows = {r["metric"]: r for r in result.rows}
    assert rows["demographic_parity_difference"]["before"] == pytest.approx(_dpd(small_run))
    assert rows["demographic_parity_difference"]["after"] == pytest.approx(_dpd(result))
    assert rows["accuracy"]["before"] == pytest.approx(small_run.evaluation.metrics["accuracy"])
    assert set(rows) == {
        "accuracy",
        "roc_auc",
        "demographic_parity_difference",
        "equalized_odds_difference",
        "worst_group_accuracy",
        "worst_group",
    }
    # Deployable: loads through the registry and scores through the demo bundle.
    model = workspace.load_model(result.model_name, result.model_version)
    assert isinstance(model, MitigatedModel)
    bundle = load_bundle(workspace, result.model_name, result.model_version)
    records = [{k: v for k, v in r.items() if k != "Y"} for r in _records(workspace, small_run)]
    predictions = bundle.predict(records)
    assert len(predictions) == 2 and predictions[0].probabilities is not None
    assert sum(predictions[0].probabilities.values()) == pytest.approx(1.0)
    assert predictions[0].explanation.values  # explained by model-agnostic SHAP
    stored = workspace.load_report(result.run_id, "mitigation")
    assert stored["parent_run_id"] == small_run.run_id and stored["method"] == "threshold_dp"
    assert workspace.get_run(result.run_id).family == "mitigated"
    card = model_card(workspace, result.model_name, result.model_version).to_markdown()
    assert f"fairness-mitigated version of {small_run.model_name}:{small_run.model_version}" in card


def _records(workspace, run):
    df, _ = workspace.load_dataset(run.dataset_id)
    return df.head(2).to_dict(orient="records")


def test_exponentiated_gradient_lowers_dpd(workspace, small_run):
    result = mitigate_run(
        workspace, small_run.run_id, sensitive="sex", method="expgrad_dp", max_iter=4
    )
    assert _dpd(result) < _dpd(small_run)
    model = workspace.load_model(result.model_name, result.model_version)
    assert model.final_estimator_["kind"] == "ExponentiatedGradient"
    assert len(model.predictors_) == len(model.final_estimator_["weights"]) >= 1


def test_saved_model_predicts_the_same_after_loading(tmp_path, adult_small):
    X = adult_small.drop(columns=["Y"]).iloc[:1500]
    y = adult_small["Y"].to_numpy()[:1500]
    base = make_model("lightgbm", "binary", n_estimators=20).fit(X, y)
    model = MitigatedModel(method="threshold_eo", sensitive="sex").fit(X, y, base=base)
    model.save(tmp_path / "m")
    again = load_model(tmp_path / "m")
    rows = adult_small.drop(columns=["Y"]).iloc[1500:1700]
    np.testing.assert_allclose(again.predict_proba(rows), model.predict_proba(rows))
    assert (again.predict(rows) == model.predict(rows)).all()  # the draw is per row, fixed
    assert (model.predict(rows) == model.predict(rows)).all()


def test_numeric_attribute_is_banded_like_the_report(adult_small):
    X = adult_small.drop(columns=["Y"]).iloc[:1500]
    y = adult_small["Y"].to_numpy()[:1500]
    base = make_model("lightgbm", "binary", n_estimators=20).fit(X, y)
    model = MitigatedModel(method="threshold_dp", sensitive="age").fit(X, y, base=base)
    assert model.cuts_ is not None and len(model.final_estimator_["interpolation"]) >= 3


def test_refusals(workspace, small_run, adult_small):
    X = adult_small.drop(columns=["Y", "sex"]).iloc[:500]
    y = adult_small["Y"].to_numpy()[:500]
    base = make_model("logistic", "binary").fit(X, y)
    with pytest.raises(ModelError, match="does not take 'sex' as an input"):
        MitigatedModel(method="threshold_dp", sensitive="sex").fit(
            X, y, base=base, sensitive_features=adult_small["sex"].iloc[:500]
        )
    with pytest.raises(ModelError, match="retrains LightGBM"):
        MitigatedModel(method="expgrad_dp", sensitive="sex").fit(
            X, y, base=base, sensitive_features=adult_small["sex"].iloc[:500]
        )
    with pytest.raises(ModelError, match="no column 'nope'"):
        mitigate_run(workspace, small_run.run_id, sensitive="nope")
    regression = make_model("lightgbm", "regression", n_estimators=5).fit(
        X[["age"]] if "age" in X else X.iloc[:, :1], pd.Series(np.arange(500.0))
    )
    with pytest.raises(ModelError, match="binary"):
        MitigatedModel(sensitive="race").fit(X.iloc[:, :1], np.arange(500.0), base=regression)


def test_pareto_front_by_hand():
    from types import SimpleNamespace

    from lepton_core.evaluation import tradeoff, tradeoff_figure

    def run(i, acc, gap, eps=None):
        metrics = {"test_accuracy": acc, "fairness_sex_demographic_parity_difference": gap}
        if eps is not None:
            metrics["privacy_epsilon"] = eps
        return SimpleNamespace(
            run_id=f"r{i}", dataset_id="d", metrics=metrics, model_name="m", model_version=i,
            family="lightgbm",
        )  # fmt: skip

    runs = [run(1, 0.87, 0.18), run(2, 0.85, 0.01), run(3, 0.84, 0.05), run(4, 0.86, 0.18, 3.0)]
    ws = SimpleNamespace(list_runs=lambda: [*runs, SimpleNamespace(dataset_id="other")])
    trade = tradeoff(ws, "d", attribute="sex")
    assert {p.run_id for p in trade.front} == {"r1", "r2"}  # r3 and r4 are dominated
    assert [p.epsilon for p in trade.points] == [None, None, None, 3.0]
    fig = tradeoff_figure(trade)
    assert sorted(fig.data[1].customdata) == ["r1", "r2"]


def test_unfitted_mitigated_model_says_how_to_make_it(adult_small):
    from lepton_core.core import NotFittedError

    with pytest.raises(NotFittedError, match="mitigate_run"):
        MitigatedModel().predict(adult_small.head(2))


def test_mitigation_runs_as_a_background_job(workspace, small_run):
    import time

    from lepton_core.jobs import JobStore, start_job
    from lepton_core.runs import MitigationConfig

    job = start_job(
        MitigationConfig(run_id=small_run.run_id, sensitive="sex", method="threshold_eo"),
        workspace=workspace,
        owner="m",
    )
    assert job.kind == "mitigate" and job.family == "mitigated"
    assert job.command[3] == "mitigate"
    store = JobStore(workspace)
    deadline = time.time() + 180
    while store.get(job.id).active and time.time() < deadline:
        time.sleep(0.5)
    done = store.get(job.id)
    assert done.status == "succeeded", store.read_log(job.id)
    assert done.model_name == small_run.model_name
    assert workspace.get_run(done.run_id).family == "mitigated"
    assert done.progress.phase == "done"
    report = workspace.load_report(done.run_id, "mitigation")
    assert report["sensitive"] == "sex" and report["parent_run_id"] == small_run.run_id


def test_mitigate_cli_needs_a_run_and_a_column(capsys):
    from lepton_core.cli import main

    assert main(["mitigate", "--run", "abc"]) == 2
    assert "--run RUN_ID --sensitive COLUMN" in capsys.readouterr().err
