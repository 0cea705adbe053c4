"""A team on real servers, end to end: PostgreSQL for Lepton's tables, an MLflow tracking
server for runs and models, OIDC sign-in, and two people on two machines.

Eve (an editor) trains in the browser on the app's machine; Ana (an admin) trains from
Python on another machine (another empty workspace folder, the same two servers). Each
sees the other's model on the dashboard with its owner, Vic (a viewer) sees both and
cannot publish, and Ana's Team page shows both training jobs and Eve's publish in the
audit log.
"""

from __future__ import annotations

import os
import time

import pytest

from tests.test_browser import CHROMIUM, _no_errors, _shot, browser  # noqa: F401
from tests.test_team_signin import _sign_in, _start_app, provider  # noqa: F401
from tests.test_tracking_server import server  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium"),
]


@pytest.fixture(scope="module")
def team_database(postgres_server: str):
    """An empty database for the team on the session's PostgreSQL server."""
    import uuid

    import psycopg

    name = "team_" + uuid.uuid4().hex[:12]
    admin = postgres_server.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"{postgres_server}/{name}"


@pytest.fixture(scope="module")
def team(provider, server, team_database, tmp_path_factory):
    """The app in team mode on both servers; yields (url, the servers' environment)."""
    shared = {"LEPTON_TRACKING_URI": server.uri, "LEPTON_DATABASE_URL": team_database}
    mp = pytest.MonkeyPatch()
    for name, value in shared.items():
        mp.setenv(name, value)  # the app inherits them, and so does Ana's machine below
    proc, url, _ = _start_app(tmp_path_factory.mktemp("team-flow"), provider)
    yield url, shared
    proc.terminate()
    proc.wait(timeout=20)
    mp.undo()


def _train_in_browser(page, url: str) -> None:
    from playwright.sync_api import expect

    page.get_by_role("button", name="Load sample").click()
    expect(page.get_by_text("32,561")).to_be_visible(timeout=60_000)
    page.get_by_role("button", name="Use this data").click()
    expect(page.get_by_text("is ready")).to_be_visible(timeout=60_000)
    page.get_by_role("link", name="2 · Train").click()
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_text("trained in")).to_be_visible(timeout=240_000)


def _train_elsewhere(tmp_path_factory) -> str:
    """Ana trains from Python on another machine: an empty workspace folder, the same
    servers (from the environment), a job owned by her."""
    from lepton_core.jobs import JobStore, start_job
    from lepton_core.runs import TrainConfig
    from lepton_core.workspace import Workspace

    workspace = Workspace(tmp_path_factory.mktemp("ana-laptop"))
    config = TrainConfig(data="sample:adult", sensitive=["sex", "race"], model_name="adult-ana")
    job = start_job(config, workspace=workspace, owner="ana@example.org")
    store = JobStore(workspace)
    deadline = time.time() + 240
    while (job := store.get(job.id)).status not in ("succeeded", "failed", "cancelled"):
        assert time.time() < deadline, "Ana's training did not finish in 4 minutes"
        time.sleep(2)
    assert job.status == "succeeded", job.error
    return f"{job.model_name}:{job.model_version}"


def test_two_people_on_two_machines_share_one_workspace(team, browser, tmp_path_factory):
    from playwright.sync_api import expect

    url, _ = team
    eve = _sign_in(browser, url, "eve")
    eve.set_default_timeout(60_000)
    step = "eve trains"
    try:
        expect(eve.get_by_text("Signed in as Eve · editor")).to_be_visible(timeout=60_000)
        _train_in_browser(eve, url)
        step = "ana trains"
        ana_model = _train_elsewhere(tmp_path_factory)

        step = "eve publishes"
        eve.get_by_role("link", name="5 · Deploy").click()
        eve.get_by_role("button", name="Publish").click()
        expect(eve.locator("code").filter(has_text="/demo?token=")).to_be_visible(timeout=60_000)
        _no_errors(eve)

        step = "dashboards"
        for who, person in (("eve", eve), ("vic", _sign_in(browser, url, "vic"))):
            person.goto(f"{url}/dashboard")
            # The table's cells are drawn on a canvas: their text is in the page, not visible.
            for text in ("adult:1", ana_model, "eve@example.org", "ana@example.org"):
                expect(person.get_by_text(text, exact=True).first).to_be_attached(timeout=60_000)
            _no_errors(person)
            _shot(person, f"team-dashboard-{who}")
        vic = person
        expect(vic.get_by_role("link", name="5 · Deploy")).to_have_count(0)
        expect(vic.get_by_role("button", name="Publish", exact=True)).to_have_count(0)

        step = "audit"
        ana = _sign_in(browser, url, "ana")
        ana.get_by_role("link", name="Team").click()
        expect(ana.get_by_text("Audit log")).to_be_visible(timeout=60_000)
        for text in ("published a model", "started a job", "eve@example.org", "ana@example.org"):
            expect(ana.get_by_text(text).first).to_be_attached(timeout=30_000)
        _no_errors(ana)
        _shot(ana, "team-audit")
    except Exception:
        _shot(eve, f"team-flow-failure-{step.replace(' ', '-')}")
        raise
