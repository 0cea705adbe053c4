"""The Monitor page under AppTest: what a live model answered, and a new file compared with
its training data."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def _open(adult_run) -> AppTest:
    at = AppTest.from_file(ROOT / "app.py", default_timeout=120).switch_page("app_pages/monitor.py")
    at.run()
    at.selectbox[0].set_value(f"{adult_run.model_name}:{adult_run.model_version}").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _monitor(adult_run, records):
    """The "Check a file" tab after uploading ``records`` (other tests may have logged
    predictions of the same model, so the live tab is left alone here)."""
    at = _open(adult_run)
    at.file_uploader[0].upload("new.csv", records.to_csv(index=False).encode(), "text/csv")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at.tabs[1]


def test_records_like_the_training_data_get_a_calm_verdict(adult_run, adult_test):
    at = _monitor(adult_run, adult_test.sample(2000, random_state=0))
    assert "No column changed markedly since training" in at.success[0].value
    assert not at.warning
    assert len(at.get("plotly_chart")) == 2


def test_older_people_and_a_new_category_are_flagged(adult_run, adult_test):
    records = adult_test.sample(2000, random_state=0)
    records = records.assign(age=records["age"] + 20, workclass="Gig economy")
    at = _monitor(adult_run, records)
    warning = at.warning[0].value
    assert "changed markedly since training" in warning and "age" in warning
    assert "workclass" in warning
    assert at.metric[1].value == "2"


def test_a_file_without_the_models_columns_is_one_sentence(adult_run, adult_test):
    at = _monitor(adult_run, adult_test[["age", "sex"]].head(200))
    assert len(at.error) == 1 and "send the same columns" in at.error[0].value


def test_the_live_tab_shows_traffic_accuracy_and_fairness_and_keeps_limits(
    adult_run, adult_test, workspace
):
    from lepton_core.monitoring import workspace_limits
    from lepton_core.runs import load_bundle, predict_frame
    from lepton_core.workspace import prediction_log

    name, version = adult_run.model_name, adult_run.model_version
    bundle = load_bundle(workspace, name, version)
    rows = adult_test.sample(600, random_state=5)
    features = rows[bundle.input_schema.names]
    labels, proba = predict_frame(bundle.model, bundle.input_schema.prepare(features))
    log = prediction_log(workspace)
    ids = log.record(
        name, version, features.to_dict("records"), labels, proba.max(axis=1).tolist(),
        source="api", latency_ms=3.0,
    )  # fmt: skip
    truth = rows["Y"].astype(str).str.strip().str.rstrip(".")
    log.add_labels(name, dict(zip(ids, truth, strict=True)))
    st.cache_data.clear()  # the page keeps a live report for 30 s; earlier tests made one
    at = _open(adult_run)
    live = at.tabs[0]
    assert live.metric[0].value.replace(",", "").isdigit()
    assert int(live.metric[3].value.replace(",", "")) >= 600  # true answers received
    charts = at.get("plotly_chart")
    assert len(charts) >= 4  # traffic, accuracy, fairness, drift overview (+ one column)
    assert [s.label for s in live.selectbox][:1] == ["Fairness over time, by"]
    # An editor changes the limits; they are the model's from then on.
    at.number_input[2].set_value(0.25)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert workspace_limits(workspace, name).fairness_gap == 0.25
    workspace.set_model_setting(name, "alert_limits", None)


def test_the_dashboards_link_opens_the_version_it_names(adult_run, adult_csv, workspace):
    """The alert banner's "Open Monitor" carries ?model=NAME:VERSION; the page starts there,
    and an unknown one falls back to the first version without a fuss."""
    from lepton_core.runs import TrainConfig, train

    train(  # a second version, so that the page has a choice to make
        TrainConfig(data=str(adult_csv), target="Y", model="logistic", explain_rows=20),
        workspace=workspace,
    )

    def opened(asked: str | None):
        at = AppTest.from_file(ROOT / "app.py", default_timeout=120)
        at.switch_page("app_pages/monitor.py")
        if asked is not None:
            at.query_params["model"] = asked
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at.selectbox[0]

    options = opened(None).options
    wanted = next(o for o in options if o != options[0])  # not what opens by default
    assert opened(wanted).value == wanted
    assert opened("nobody:9").value == options[0]
