"""A training job in headless Chromium: reload the page mid-run, the job carries on."""

from __future__ import annotations

import re

import pytest

from tests.test_browser import CHROMIUM, _no_errors, _shot, app_url, browser  # noqa: F401

pytestmark = [pytest.mark.browser]


def test_reload_mid_run_keeps_the_job_and_its_curves(app_url, browser, tmp_path_factory):  # noqa: F811
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
    epochs = page.get_by_label("Maximum epochs")
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
    stores = [JobStore(Workspace(p)) for p in folders if (p / "jobs.db").exists()]
    store = next(s for s in stores if job_id in {j.id for j in s.list()})
    jobs = store.list()
    assert [j.id for j in jobs] == [job_id] and jobs[0].status == "succeeded"
    assert len(jobs[0].progress.history) >= 2  # epoch curves kept with the job
