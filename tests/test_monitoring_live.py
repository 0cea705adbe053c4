"""The live views of a deployed model: traffic, drift, accuracy and fairness from its log,
read against the training-time figures, and the alerts its limits raise."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lepton_core.core import DataError, LeptonError
from lepton_core.evaluation import fairness_report
from lepton_core.monitoring import (
    CONFIDENCE,
    LABEL,
    PREDICTION,
    TIME,
    Alert,
    Limits,
    LiveReport,
    TrafficWindow,
    last_check,
    live_report,
    save_check,
    send_alerts,
    traffic_windows,
    workspace_limits,
)
from lepton_core.plots import (
    drift_column_figure,
    fairness_trend_figure,
    live_report_html,
    performance_trend_figure,
    traffic_figure,
)
from lepton_core.runs import load_bundle, predict_frame


@pytest.fixture(scope="module")
def served(adult_run, adult_test, workspace):
    """Six days of Adult test rows answered by the trained model; from day 3 on, the
    callers are 15 years older and the true answers of women arrive flipped."""
    bundle = load_bundle(workspace, adult_run.model_name, adult_run.model_version)
    rows = adult_test.sample(3000, random_state=3).reset_index(drop=True)
    features = bundle.input_schema.names
    day = np.repeat(np.arange(6), len(rows) // 6)
    late = day >= 3
    rows.loc[late, "age"] = rows.loc[late, "age"] + 15
    labels, proba = predict_frame(bundle.model, bundle.input_schema.prepare(rows[features]))
    truth = rows["Y"].astype(str).str.strip().str.rstrip(".")
    women = (rows["sex"].astype(str).str.strip() == "Female").to_numpy()
    flipped = np.where(truth == ">50K", "<=50K", ">50K")
    truth = np.where(late & women, flipped, truth)
    rng = np.random.default_rng(0)
    log = rows[features].assign(
        **{
            TIME: pd.Timestamp("2026-11-01", tz="UTC")
            + pd.to_timedelta(day, unit="D")
            + pd.to_timedelta(rng.integers(0, 86_000, len(rows)), unit="s"),
            PREDICTION: labels,
            CONFIDENCE: proba.max(axis=1),
            LABEL: truth,
            "latency_ms": rng.gamma(2.0, 3.0, len(rows)),
            "status": "ok",
        }
    )
    return log, day


def test_traffic_counts_every_request_and_its_percentiles():
    log = pd.DataFrame(
        {
            TIME: pd.to_datetime(
                ["2026-11-01 10:00", "2026-11-01 11:00", "2026-11-01 12:00", "2026-11-02 09:00"],
                utc=True,
            ),
            "latency_ms": [10.0, 20.0, None, 5.0],
            "status": ["ok", "ok", "error", "ok"],
        }
    )
    first, second = traffic_windows(log, "1D")
    assert (first.requests, first.errors, second.requests, second.errors) == (3, 1, 1, 0)
    assert first.p50_ms == pytest.approx(15.0)
    assert first.p99_ms == pytest.approx(np.quantile([10.0, 20.0], 0.99))
    assert traffic_windows(log.iloc[:0]) == []
    with pytest.raises(DataError, match="not a length of time"):
        traffic_windows(log, "fortnightly")


def test_a_live_report_reads_the_log_against_training(served, adult_run, workspace):
    log, day = served
    model = f"{adult_run.model_name}:{adult_run.model_version}"
    report = live_report(workspace, model, log, every="1D")
    assert isinstance(report, LiveReport) and report.rows == len(log) and not report.sampled
    assert [w.requests for w in report.traffic] == [500] * 6
    # The ages moved; the answers follow (older callers earn more).
    assert report.drift is not None and report.drift.features[0].column == "age"
    assert "age" in report.drift.drifted
    assert report.answers is not None and report.answers.column == PREDICTION
    # Accuracy per window is that of the window's rows, against training's figure.
    performance = report.performance
    assert performance.baseline["accuracy"] == pytest.approx(
        adult_run.evaluation.metrics["accuracy"]
    )
    for i, window in enumerate(performance.windows):
        rows = log[day == i]
        assert window.figures["accuracy"] == pytest.approx((rows[PREDICTION] == rows[LABEL]).mean())
        assert window.estimated_accuracy == pytest.approx(rows[CONFIDENCE].mean())
    assert performance.windows[-1].figures["accuracy"] < performance.windows[0].figures["accuracy"]
    # Fairness per window: fairlearn's figures on those rows, against training's gap.
    by_column = {trend.attribute: trend for trend in report.fairness}
    assert set(by_column) == {"sex", "race", "age"}
    sex = by_column["sex"]
    training = next(r for r in adult_run.fairness if r.attribute == "sex")
    assert sex.baseline_parity_difference == pytest.approx(training.demographic_parity_difference)
    rows = log[day == 4]
    expected = fairness_report(
        rows[LABEL].to_numpy(),
        rows[PREDICTION].to_numpy(),
        sensitive_features=rows["sex"].astype(str).str.strip().reset_index(drop=True),
        task="binary",
        positive_label=">50K",
    )
    assert sex.windows[4].equalized_odds_difference == pytest.approx(
        expected.equalized_odds_difference
    )
    # Women's true answers flipped from day 3: accuracy and the error-rate gap break limits.
    kinds = {(a.kind, a.subject) for a in report.alerts}
    assert ("accuracy", "accuracy") in kinds and ("drift", "age") in kinds
    assert ("odds", "sex") in kinds  # the gap in error rates widened far beyond chance
    assert all(0 < w.odds_error < 0.2 and 0 < w.parity_error < 0.1 for w in sex.windows)
    assert "limit" in report.summary()
    # The figures draw.
    assert len(traffic_figure(report.traffic).data) == 4
    assert performance_trend_figure(performance, language="zh").layout.title.text
    assert {t.name for t in fairness_trend_figure(sex).data} >= {"Female", "Male"}
    page = live_report_html(report, language="zh")
    assert page.startswith("<!DOCTYPE html>") and page.count("plotly.js v") == 1
    assert "监控报告" in page and "Plotly.newPlot" in page


def test_before_the_change_nothing_breaks_a_limit(served, adult_run, workspace):
    log, day = served
    model = f"{adult_run.model_name}:{adult_run.model_version}"
    report = live_report(workspace, model, log[day < 3], every="1D")
    # Small groups of race make its gaps noisy in 500-row windows; sex's groups are large.
    assert [(a.kind, a.subject) for a in report.alerts if a.subject != "race"] == []


def test_the_dashboard_shows_the_stored_check_without_computing_one(
    served, adult_run, workspace, monkeypatch
):
    """A check (the Monitor page's or ``lepton monitor --live``'s) is stored with the
    version; the dashboard's banner reads it rather than computing a live report."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    import lepton_core.monitoring as monitoring

    log, _ = served
    name, version = adult_run.model_name, adult_run.model_version
    model = f"{name}:{version}"
    report = live_report(workspace, model, log, every="1D")
    assert report.alerts
    saved = save_check(workspace, report)
    check = last_check(workspace, model)
    assert check is not None and check.alerts == report.alerts[:20] and check.age_s < 60
    assert check.at == saved.at

    real, computed = monitoring.live_from_log, []

    def counted(workspace, ref, **kwargs):  # other tests' published versions get checked
        computed.append(ref)
        return real(workspace, ref, **kwargs)

    monkeypatch.setattr(monitoring, "live_from_log", counted)
    workspace.set_published(name, version, True)
    st.cache_data.clear()
    try:
        at = AppTest.from_file(Path(__file__).parents[1] / "app.py", default_timeout=120)
        at.switch_page("app_pages/dashboard.py").run()
        assert not at.exception, [e.value for e in at.exception]
        banner = next(w.value for w in at.warning if f"**{model}**" in w.value)
        assert f"checked {saved.at[:10]}" in banner and str(report.alerts[0].subject) in banner
        assert model not in computed  # its stored check was fresh
    finally:
        workspace.set_published(name, version, False)
        workspace.set_model_setting(name, f"last_check_v{version}", None)
        st.cache_data.clear()


def test_limits_are_kept_per_model(adult_run, workspace):
    name = adult_run.model_name
    assert workspace_limits(workspace, name) == Limits()
    mine = Limits(psi=0.3, accuracy_drop=0.02, fairness_gap=0.2)
    workspace.set_model_setting(name, "alert_limits", mine.to_dict())
    try:
        assert workspace_limits(workspace, name) == mine
    finally:
        workspace.set_model_setting(name, "alert_limits", Limits().to_dict())


def test_a_model_with_no_prediction_yet_says_so(adult_run, workspace):
    model = f"{adult_run.model_name}:{adult_run.model_version}"
    empty = pd.DataFrame({TIME: pd.Series(dtype="datetime64[ns, UTC]"), PREDICTION: []})
    report = live_report(workspace, model, empty)
    assert report.rows == 0 and report.traffic == [] and report.drift is None
    assert "no request yet" in report.summary()


def test_alerts_reach_a_webhook_as_json_and_failures_are_one_sentence():
    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(204 if self.path == "/ok" else 500)
            self.end_headers()

        def log_message(self, *args):  # quiet
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        alert = Alert("parity", "sex", 0.31, 0.27, "2026-11-04T00:00:00+00:00")
        send_alerts(f"{url}/ok", "adult:1", [alert])
        (body,) = received
        assert body["model"] == "adult:1" and body["alerts"][0]["kind"] == "parity"
        assert "T00:00" not in body["text"]
        assert "in the window from 2026-11-04 (limit 0.270)" in body["text"]
        with pytest.raises(LeptonError, match="answered with error 500"):
            send_alerts(f"{url}/broken", "adult:1", [alert])
    finally:
        server.shutdown()
    with pytest.raises(LeptonError, match="could not be reached"):
        send_alerts(url + "/ok", "adult:1", [alert], timeout=2)
    with pytest.raises(LeptonError, match="must start with https://"):
        send_alerts("file:///etc/passwd", "adult:1", [alert])


def test_the_live_report_reads_the_workspace_prediction_log(served, adult_run, workspace):
    from lepton_core.monitoring import live_from_log
    from lepton_core.workspace import prediction_log

    log, _ = served
    name, version = adult_run.model_name, adult_run.model_version
    rows = log.iloc[:400]
    fields = [c for c in rows.columns if c not in (TIME, PREDICTION, CONFIDENCE, LABEL)]
    store = prediction_log(workspace)
    since = pd.Timestamp.now(tz="UTC")  # other tests may log predictions of this model too
    ids = store.record(
        name, version,
        rows[fields].drop(columns=["latency_ms", "status"]).to_dict("records"),
        rows[PREDICTION].tolist(), rows[CONFIDENCE].tolist(),
        source="api", caller="key-1", latency_ms=4.0,
    )  # fmt: skip
    store.record_error(name, version, source="api", latency_ms=1.0)
    store.add_labels(name, dict(zip(ids, rows[LABEL], strict=True)))
    report = live_from_log(workspace, f"{name}:{version}", every="1h", since=since)
    assert report.rows == 400 and not report.sampled
    assert sum(w.requests for w in report.traffic) == 401
    assert sum(w.errors for w in report.traffic) == 1
    (window,) = report.performance.windows
    assert window.labelled == 400
    assert window.figures["accuracy"] == pytest.approx((rows[PREDICTION] == rows[LABEL]).mean())
    assert {t.attribute for t in report.fairness} == {"sex", "race", "age"}
    assert live_from_log(workspace, f"{name}:{version}", since=since, max_rows=100).sampled


def test_the_cli_reports_the_live_model_and_fails_a_check_on_a_broken_limit(
    served, adult_run, workspace, capsys
):
    from lepton_core.cli import CHECK_FAILED, main
    from lepton_core.workspace import prediction_log

    log, day = served
    name, version = adult_run.model_name, adult_run.model_version
    model = f"{name}:{version}"
    root = ["--workspace", str(workspace.root)]
    older = log[day >= 3]
    fields = [c for c in older.columns if c not in (TIME, PREDICTION, CONFIDENCE, LABEL)]
    prediction_log(workspace).record(
        name, version,
        older[fields].drop(columns=["latency_ms", "status"]).to_dict("records"),
        older[PREDICTION].tolist(), older[CONFIDENCE].tolist(),
        source="batch", latency_ms=2.0,
    )  # fmt: skip
    prediction_log(workspace).flush()
    code = main(["monitor", *root, "--model", model, "--live", "--check", "--every", "1h"])
    assert code == CHECK_FAILED
    assert "'age' has drifted from training" in capsys.readouterr().out
    assert main(["monitor", *root, "--model", "nobody", "--live"]) == 2  # a user error
    assert "There is no model named 'nobody'" in capsys.readouterr().err


def test_one_window_of_traffic_spans_its_whole_window():
    # Right after going live all requests fall in one window; its bar covers that window
    # (plotly alone would stretch one point over a millisecond's axis).
    window = TrafficWindow("2026-12-06T00:00:00+00:00", requests=5, errors=0, p50_ms=3.0)
    fig = traffic_figure([window], every="1D")
    low, high = (pd.Timestamp(x) for x in fig.layout.xaxis.range)
    assert pd.Timedelta(days=1) < high - low < pd.Timedelta(days=2)
    start = pd.Timestamp(window.start)
    assert low < start and start + pd.Timedelta(days=1) < high
    bars = [t for t in fig.data if t.type == "bar"]
    assert bars[0].xperiod == pd.Timedelta(days=1).total_seconds() * 1000


def test_the_answers_chart_says_what_it_compares():
    from lepton_core.monitoring import FeatureDrift

    answers = FeatureDrift(
        column="prediction", kind="category", psi=0.5, level="major", test="chi2",
        statistic=9.0, p_value=0.003, bins=["PER", "(none)"], reference_share=[0.5, 0.5],
        current_share=[0.9, 0.1],
    )  # fmt: skip
    fig = drift_column_figure(answers, answers=True)
    assert [t.name for t in fig.data] == ["On its test part", "Since it went live"]
    assert "training" not in fig.layout.title.text
