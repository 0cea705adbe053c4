"""The Monitor page in headless Chromium after a week of logged predictions went wrong."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from test_browser import CHROMIUM, _free_port, _no_errors, _shot, browser  # noqa: F401
from test_browser_deploy import _start

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium"),
]


@pytest.fixture(scope="module")
def app_after_replay(tmp_path_factory, adult_csv, adult_test):
    """A model trained on the Adult sample and six days of its answers, the last three to
    older callers whose true answers changed for women; the app on loopback."""
    from lepton_core.runs import TrainConfig, load_bundle, train
    from lepton_core.workspace import Workspace, prediction_log

    ws = Workspace(tmp_path_factory.mktemp("monitor-ws"))
    run = train(
        TrainConfig(data=str(adult_csv), target="Y", sensitive=["sex"], explain_rows=50),
        workspace=ws,
    )
    bundle = load_bundle(ws, run.model_name, run.model_version)
    log = prediction_log(ws)
    rng = np.random.default_rng(0)
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for day in range(6):
        rows = adult_test.sample(300, random_state=day)
        truth = rows["Y"].astype(str).str.strip().str.rstrip(".").to_numpy()
        if day >= 3:
            rows = rows.assign(age=rows["age"] + 15)
            women = rows["sex"].astype(str).str.strip().eq("Female").to_numpy()
            flip = women & (rng.random(len(rows)) < 0.5)
            truth[flip] = np.where(truth[flip] == ">50K", "<=50K", ">50K")
        features = rows[bundle.input_schema.names]
        labels, proba = bundle.model.predict_scored(bundle.input_schema.prepare(features))
        ids = log.record(
            run.model_name, run.model_version, features.to_dict("records"),
            [str(v) for v in labels], proba.max(axis=1).tolist(), source="api",
            latency_ms=float(rng.gamma(2.0, 3.0)), at=start - timedelta(days=5 - day, hours=-9),
        )  # fmt: skip
        log.add_labels(run.model_name, dict(zip(ids, truth, strict=True)))
    log.close()
    port = _free_port()
    proc = _start(
        [
            *("-m", "streamlit", "run", "server.py", "--server.address", "127.0.0.1"),
            *("--server.port", str(port), "--server.headless", "true"),
        ],
        {**os.environ, "LEPTON_WORKSPACE": str(ws.root), "LEPTON_WARM_WORKER": "0"},
        f"http://127.0.0.1:{port}/_stcore/health",
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_the_monitor_page_shows_what_went_wrong(app_after_replay, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 3200})
    page.goto(f"{app_after_replay}/monitor")
    expect(page.get_by_role("heading", name="6 · Monitor")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("limit(s) broken in the latest predictions")).to_be_visible(
        timeout=90_000
    )
    expect(page.get_by_text("'age' has drifted from training")).to_be_visible()
    expect(page.get_by_text("Accuracy fell")).to_be_visible()
    # 1,800 requests, every one with its true answer back.
    expect(page.get_by_text("1,800", exact=True)).to_have_count(2)
    charts = page.get_by_test_id("stPlotlyChart")
    expect(charts.nth(3)).to_be_attached(timeout=30_000)  # traffic, accuracy, fairness, drift
    expect(page.get_by_text("How often each group of sex gets")).to_be_visible()
    _no_errors(page)
    _shot(page, "monitor-live")
    page.get_by_role("tab", name="Check a file").click()
    expect(page.get_by_text("New records: a table with the columns")).to_be_visible()
    _no_errors(page)
