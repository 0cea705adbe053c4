"""End to end in the core: data → train → evaluate + fairness → SHAP → workspace."""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

from lepton_core.core import DataError, ModelError, TrainerCallback, TrainingError
from lepton_core.runs import TrainConfig, TrainResult, load_explanation, load_run_reports, train


def test_adult_lightgbm_defaults_match_the_plain_library(adult_run, adult_test):
    assert adult_run.evaluation.n_rows == len(adult_test)
    assert adult_run.evaluation.metrics["accuracy"] >= 0.865
    assert adult_run.evaluation.metrics["roc_auc"] >= 0.92
    assert [r.attribute for r in adult_run.fairness] == ["sex", "race", "age"]


def test_fairness_by_sex_equals_fairlearn(adult_run, workspace, adult_test):
    model = workspace.load_model(adult_run.model_name, adult_run.model_version)
    schema = workspace.load_input_schema(adult_run.run_id)
    y_pred = model.predict(schema.prepare(adult_test))
    y_true = adult_test["Y"].to_numpy()
    sex = adult_test["sex"]
    report = adult_run.fairness[0]
    pos = (y_true == ">50K").astype(int), (y_pred == ">50K").astype(int)
    assert report.demographic_parity_difference == pytest.approx(
        demographic_parity_difference(*pos, sensitive_features=sex), abs=1e-12
    )
    assert report.equalized_odds_difference == pytest.approx(
        equalized_odds_difference(*pos, sensitive_features=sex), abs=1e-12
    )


def test_run_is_stored_and_reloads(adult_run, workspace):
    runs = {r.run_id: r for r in workspace.list_runs()}
    run = runs[adult_run.run_id]
    assert run.model_name == "adult" and run.model_version == adult_run.model_version
    assert run.metrics["test_accuracy"] == pytest.approx(adult_run.evaluation.metrics["accuracy"])
    reports = load_run_reports(workspace, adult_run.run_id)
    assert reports.evaluation == adult_run.evaluation
    expl = load_explanation(workspace, adult_run.run_id)
    assert len(expl.values) == 500
    assert expl.additivity_error() < 1e-6
    assert TrainResult.from_json(adult_run.to_json()) == adult_run


def test_every_family_trains_from_a_csv(adult_csv, workspace):
    for family in ("logistic", "tree", "mlp"):
        result = train(
            TrainConfig(
                data=str(adult_csv),
                target="Y",
                sensitive=["sex"],
                model=family,
                params={"max_epochs": 6} if family == "mlp" else {},
                explain_rows=50,
            ),
            workspace=workspace,
        )
        assert result.family == family
        assert result.evaluation.metrics["accuracy"] > 0.75, family
        model = workspace.load_model(result.model_name, result.model_version)
        assert model.family == family


def test_callbacks_see_every_step_and_can_cancel(adult_csv, workspace):
    steps: list[int] = []

    class Stop(TrainerCallback):
        def on_step_end(self, state, control):
            steps.append(state.step)
            control.should_stop = state.step >= 3

    with pytest.raises(TrainingError, match="cancelled"):
        train(TrainConfig(data=str(adult_csv), target="Y"), callbacks=[Stop()], workspace=workspace)
    assert steps[:3] == [1, 2, 3]


def test_headline_figures_are_on_hand_before_explaining(adult_csv, workspace):
    """The Train page shows a job's figures while it explains and saves: callbacks get them
    with the "explaining" phase, equal to the finished run's."""
    seen: dict[str, dict] = {}

    class Watch(TrainerCallback):
        def on_phase(self, state, control):
            seen[state.phase] = dict(state.figures)

    config = TrainConfig(data=str(adult_csv), target="Y", sensitive=["sex"], explain_rows=20)
    result = train(config, callbacks=[Watch()], workspace=workspace)
    assert seen["evaluating"] == {}
    assert seen["explaining"] == result.headline() and "accuracy" in seen["explaining"]
    assert "demographic_parity_difference" in seen["explaining"]


def test_regression_and_multiclass_samples(workspace):
    for sample, metric in (("diabetes", "r2"), ("wine", "accuracy")):
        result = train(TrainConfig(data=f"sample:{sample}", explain_rows=50), workspace=workspace)
        assert np.isfinite(result.evaluation.metrics[metric])


@pytest.mark.parametrize(
    ("config", "error", "message"),
    [
        (dict(model="xgboost"), TrainingError, "no model family 'xgboost'"),
        (dict(target="nope"), DataError, "nope"),
        (dict(target="Y", sensitive=["nope"]), DataError, "nope"),
        (dict(params={"seed": 3}), TrainingError, "'seed' is a setting of the whole run"),
        (dict(params={"depth": 3}), TrainingError, "Unknown parameter 'depth' for lightgbm"),
    ],
)
def test_bad_configs_say_what_to_do(adult_csv, workspace, config, error, message):
    with pytest.raises(error, match=message):
        train(TrainConfig(data=str(adult_csv), **config), workspace=workspace)


def test_unknown_model_name(workspace):
    with pytest.raises(ModelError, match="no model named 'missing'"):
        workspace.load_model("missing")
