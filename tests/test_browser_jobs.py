"""Training jobs in headless Chromium: a reload mid-run keeps the job; Auto and text jobs run
to the end without Streamlit's exception box ever appearing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.test_browser import (  # noqa: F401
    CHROMIUM,
    _free_port,
    _no_errors,
    _shot,
    app_url,
    browser,
)

pytestmark = [pytest.mark.browser]


def test_reload_mid_run_keeps_the_job_and_its_curves(app_url, browser, tmp_path_factory):
    from playwright.sync_api import expect

    page = browser.new_context(viewport={"width": 1400, "height": 2400}).new_page()
    page.set_default_timeout(60_000)
    page.goto(app_url)
    page.get_by_role("button", name="Load sample").click()
    page.get_by_role("button", name="Use this data").click()
    expect(page.get_by_text("is ready")).to_be_visible()
    page.get_by_role("link", name="2 · Train").click()

    # A slower family, so that the reload lands while it trains.
    page.get_by_test_id("stSelectbox").filter(has_text="Model family").click()
    page.get_by_role("option", name="Neural network (PyTorch MLP)").click()
    epochs = page.get_by_role("spinbutton", name="Passes over the data, at most")
    epochs.fill("40")
    epochs.press("Enter")
    page.get_by_role("button", name="Start training").click()
    heading = page.get_by_role("heading", name=re.compile(r"Job \w+ · Neural network"))
    expect(heading).to_contain_text("running")
    job_id = re.search(r"Job (\w+)", heading.inner_text()).group(1)
    curves = page.locator(".js-plotly-plot")
    expect(curves.first).to_be_visible(timeout=120_000)  # at least one epoch logged
    expect(heading).to_contain_text(re.compile("running|succeeded"))
    assert f"job={job_id}" in page.url
    _shot(page, "jobs-1-before-reload")

    page.reload()
    heading = page.get_by_role("heading", name=re.compile(rf"Job {job_id} · "))
    # On a fast machine the job may finish during the reload; either way it is the same job.
    expect(heading).to_contain_text(re.compile("running|succeeded"))
    # Mid-run: the curves come back with the job, drawn from what the worker wrote.
    expect(curves.first).to_be_visible()
    _shot(page, "jobs-2-after-reload")
    expect(page.get_by_text("trained in")).to_be_visible(timeout=240_000)
    expect(heading).to_contain_text("succeeded")
    expect(curves.first).to_be_visible()
    # Must not happen: an error box, or a second job started by the reload.
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)
    page.get_by_text("Recent jobs").click()
    expect(page.get_by_text(job_id).last).to_be_visible()
    _no_errors(page)
    _shot(page, "jobs-3-finished")
    # The app's own jobs table (its workspace is one of this session's browser-ws folders).
    from lepton_core.jobs import JobStore
    from lepton_core.workspace import Workspace

    folders = tmp_path_factory.getbasetemp().glob("browser-ws[0-9]*")  # not the *current link
    stores = [JobStore(Workspace(p)) for p in folders if (p / "lepton.db").exists()]
    store = next(s for s in stores if job_id in {j.id for j in s.list()})
    jobs = store.list()
    assert [j.id for j in jobs] == [job_id] and jobs[0].status == "succeeded"
    assert len(jobs[0].progress.history) >= 2  # epoch curves kept with the job


# -- no exception box, ever, while a job runs ----------------------------------------------

# Installed in every page before Streamlit's own scripts: records any exception box the
# moment it is drawn, so one that shows for a fraction of a second is caught too.
_WATCH = """(() => {
  window.__leptonExceptions = window.__leptonExceptions || [];
  const look = () => document.querySelectorAll('[data-testid="stException"]').forEach(
    (el) => window.__leptonExceptions.push(el.innerText.slice(0, 500)));
  new MutationObserver(look).observe(document, {childList: true, subtree: true});
})();"""


@pytest.fixture(scope="module")
def seeded_app(tmp_path_factory):
    """The real app on loopback, and its workspace, which the tests fill with data sets."""
    from lepton_core.workspace import Workspace

    root = tmp_path_factory.mktemp("browser-ws")
    port = _free_port()
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true"]
    command += ["--server.address", "127.0.0.1", "--server.port", str(port)]
    proc = subprocess.Popen(
        command,
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "LEPTON_WORKSPACE": str(root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                assert time.time() < deadline, "the app did not start within 60 s"
                time.sleep(0.5)
        yield url, Workspace(root)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _dataset(workspace, tmp_path, name: str, frame: pd.DataFrame, target: str, **config):
    """``frame`` confirmed as the workspace's newest data set (the one a new session shows)."""
    from lepton_core.runs import TrainConfig, resolve_dataset

    path = tmp_path / f"{name}.csv"
    frame.to_csv(path, index=False)
    info, _, _ = resolve_dataset(TrainConfig(data=str(path), target=target, **config), workspace)
    return info


def _train_page(chromium, url: str):
    context = chromium.new_context(viewport={"width": 1400, "height": 2000})
    context.add_init_script(_WATCH)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{url}/train")
    return page


def _watch_until_trained(page, timeout_s: float) -> set[str]:
    """Poll the page until the model is trained; fail the moment an exception box appears.

    Returns the progress lines seen on the way.
    """
    from playwright.sync_api import expect

    lines: set[str] = set()
    deadline = time.time() + timeout_s
    while not page.get_by_text("trained in").count():
        boxes = page.evaluate("window.__leptonExceptions")
        assert not boxes, f"Streamlit's exception box appeared: {boxes}"
        # No waiting: the bar may be gone by the time it would be read (the job finished).
        lines.update(page.get_by_test_id("stProgress").all_inner_texts())
        assert time.time() < deadline, f"not trained within {timeout_s:.0f} s; saw {lines}"
        page.wait_for_timeout(150)
    assert not page.evaluate("window.__leptonExceptions")
    expect(page.get_by_test_id("stException")).to_have_count(0)
    return lines


def test_an_auto_job_never_shows_the_exception_box(seeded_app, browser, tmp_path):
    from playwright.sync_api import expect

    url, workspace = seeded_app
    rng = np.random.default_rng(0)
    income = rng.integers(10_000, 90_000, 600)
    loans = pd.DataFrame(
        {
            "income": income,
            "age": rng.integers(18, 80, 600),
            "approved": np.where(income + rng.normal(0, 15_000, 600) > 50_000, "yes", "no"),
        }
    )
    info = _dataset(workspace, tmp_path, "loans", loans, "approved")
    page = _train_page(browser, url)
    try:
        expect(page.get_by_text(f"Data set {info.name}")).to_be_visible()
        page.get_by_test_id("stSelectbox").filter(has_text="Model family").click()
        page.get_by_role("option", name=re.compile("^Auto")).click()
        budget = page.get_by_role("spinbutton", name="Time budget (s)")
        budget.fill("10")
        budget.press("Enter")
        page.get_by_role("button", name="Start training").click()
        heading = page.get_by_role("heading", name=re.compile(r"Job \w+ · Auto search"))
        expect(heading).to_be_visible()
        # A 10 s search, then the refit, the report and SHAP: minutes on a loaded machine.
        lines = _watch_until_trained(page, timeout_s=300)
        assert any(line.startswith("trying models") for line in lines), lines
        expect(page.get_by_text("Leaderboard", exact=True)).to_be_visible()
        _shot(page, "jobs-auto-finished")
    except Exception:
        _shot(page, "failure-jobs-auto")
        raise
    finally:
        page.context.close()


def test_a_text_job_never_shows_the_exception_box(seeded_app, browser, tmp_path):
    from playwright.sync_api import expect

    url, workspace = seeded_app
    good = ["a warm and funny film", "brilliant acting, a moving story", "a gorgeous delight"]
    bad = ["a dull and tedious mess", "boring plot, wooden acting", "a clumsy lifeless bore"]
    reviews = pd.DataFrame(
        {
            "review": [f"{(good if i % 2 else bad)[i % 3]} ({i})" for i in range(200)],
            "sentiment": ["positive" if i % 2 else "negative" for i in range(200)],
        }
    )
    _dataset(workspace, tmp_path, "reviews", reviews, "sentiment", text_column="review")
    page = _train_page(browser, url)
    try:
        expect(page.get_by_text("The model learns to classify the text column")).to_be_visible()
        # The n-gram family: a text job of a few seconds (the transformer's takes minutes).
        page.get_by_test_id("stSelectbox").filter(has_text="Model family").click()
        page.get_by_role("option", name=re.compile("n-grams")).click()
        page.get_by_role("button", name="Start training").click()
        expect(page.get_by_role("heading", name=re.compile(r"Job \w+ · Text"))).to_be_visible()
        _watch_until_trained(page, timeout_s=90)
        _no_errors(page)
        _shot(page, "jobs-text-finished")
    except Exception:
        _shot(page, "failure-jobs-text")
        raise
    finally:
        page.context.close()
