"""Deploy in headless Chromium: publish, create a key, call the API, share, revoke, reload;
and a share-link visitor, on this computer or through another name, gets the demo alone."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from test_browser import CHROMIUM, FLAGS, _free_port, _no_errors, _shot, browser  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium"),
]


def _start(args: list[str], env: dict, health: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if httpx.get(health, timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError(f"{args[:3]} did not start within 90 s")


@pytest.fixture(scope="module")
def servers(tmp_path_factory, adult_csv):
    """A workspace with a trained model, the app and the API on loopback; stopped after."""
    from lepton_core.runs import TrainConfig, train
    from lepton_core.workspace import Workspace

    ws = Workspace(tmp_path_factory.mktemp("deploy-ws"))
    run = train(
        TrainConfig(data=str(adult_csv), target="Y", sensitive=["sex"], explain_rows=50),
        workspace=ws,
    )
    env = {**os.environ, "LEPTON_WORKSPACE": str(ws.root)}
    app_port, api_port = _free_port(), _free_port()
    procs = []
    try:
        procs.append(
            _start(
                [
                    *("-m", "streamlit", "run", "server.py", "--server.address", "127.0.0.1"),
                    *("--server.port", str(app_port), "--server.headless", "true"),
                ],
                env,
                f"http://127.0.0.1:{app_port}/_stcore/health",
            )
        )
        procs.append(
            _start(
                ["-m", "lepton_core", "serve", "--port", str(api_port)],
                env,
                f"http://127.0.0.1:{api_port}/health",
            )
        )
        yield f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{api_port}", run, ws
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=20)


def test_publish_key_api_share_revoke(servers, browser):
    from playwright.sync_api import expect

    app, api, run, _ = servers
    context = browser.new_context(viewport={"width": 1400, "height": 2400})
    page = context.new_page()
    page.set_default_timeout(90_000)
    visitor = None
    try:
        page.goto(f"{app}/deploy")
        page.get_by_role("button", name="Publish").click()
        link = page.locator("code").filter(has_text="/demo?token=")
        expect(link).to_be_visible(timeout=90_000)
        share = re.search(r"https?://\S+", link.inner_text()).group(0)

        page.get_by_label("Key name").fill("browser-test")
        page.get_by_role("button", name="Create key").click()
        shown = page.locator("code").filter(has_text=re.compile(r"lk_[\w-]{20,}"))
        expect(shown).to_be_visible(timeout=90_000)
        key = shown.inner_text().strip()
        _no_errors(page)
        _shot(page, "deploy-1-published")

        # The key works against the real API; no key, or a wrong one, gets 401.
        url = f"{api}/models/{run.model_name}/versions/{run.model_version}/predict"
        anonymous = httpx.get(f"{api}/models/{run.model_name}/versions/latest", timeout=60)
        assert anonymous.status_code == 401
        meta = httpx.get(
            f"{api}/models/{run.model_name}/versions/latest",
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,  # the first call loads the model
        ).json()
        record = {f["name"]: f["default"] for f in meta["inputs"]}
        response = httpx.post(
            url, json={"records": [record]}, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )
        assert response.status_code == 200, response.text
        assert response.json()["predictions"][0]["label"] in {"<=50K", ">50K"}
        wrong = httpx.post(
            url, json={"records": [record]}, headers={"Authorization": "Bearer x"}, timeout=60
        )
        assert wrong.status_code == 401

        # A visitor opens the share link alone and gets a prediction.
        visitor = browser.new_context(viewport={"width": 1400, "height": 1800}).new_page()
        visitor.set_default_timeout(90_000)
        visitor.goto(share)
        visitor.get_by_role("button", name="Predict").click()
        expect(visitor.get_by_text(re.compile(r"^(<=50K|>50K)$")).first).to_be_visible(
            timeout=90_000
        )
        _no_errors(visitor)

        # The publisher revokes the link; the visitor reloads and sees nothing of the model.
        links = page.get_by_test_id("stExpander").filter(has_text="Links to this version")
        links.get_by_text("Links to this version").click()
        links.get_by_role("button", name="Revoke").click()
        # The rerun folds the list back up; the row now says "revoked".
        expect(links.get_by_text("revoked", exact=True)).to_have_count(1, timeout=90_000)
        visitor.reload()
        expect(visitor.get_by_text("This link is not valid")).to_be_visible(timeout=90_000)
        expect(visitor.get_by_role("button", name="Predict")).to_have_count(0)
        expect(visitor.get_by_role("heading", name=re.compile(r"^Predicts "))).to_have_count(0)
        _shot(visitor, "deploy-2-revoked")
    except Exception:
        _shot(visitor or page, "deploy-failure")
        raise
    finally:
        context.close()


# A name that is not this computer's but leads to it, as a tunnel or a proxy would.
REMOTE = "lepton-share.test"
NOTEBOOK = ["/", "/train", "/deploy"]


def _idle(page) -> None:
    """Wait until the app has finished drawing the page (no script running, no spinner)."""
    from playwright.sync_api import expect

    busy = '[data-testid="stStatusWidgetRunningIcon"], [data-testid="stSpinner"]'
    expect(page.locator(busy)).to_have_count(0, timeout=90_000)


def _only_the_demo(page) -> None:
    """Must not happen: any notebook page, its menu, or one of its actions."""
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name=re.compile(r"^[1-5] · "))).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile(r"^[1-5] · "))).to_have_count(0)
    for action in ("Publish", "Create key", "Start training", "Load sample", "Withdraw"):
        expect(page.get_by_role("button", name=action)).to_have_count(0)
    expect(page.get_by_text("Workspace:")).to_have_count(0)
    _no_errors(page)


def test_a_share_link_opens_the_demo_page_and_nothing_else(servers, browser):
    from playwright.sync_api import expect

    from lepton_core.workspace import ShareLinks

    app, _, run, ws = servers
    ws.set_published(run.model_name, run.model_version, True)
    token = ShareLinks(ws).create(run.model_name, run.model_version, expires_in=3600).token
    refused = re.compile("This page is part of the Lepton notebook|This link is not valid")
    title = re.compile(r"^Predicts ")  # the demo says what it predicts

    # On this computer: the session that came in through the link keeps to the demo page,
    # whichever notebook address it moves to (the back and forward buttons, a typed
    # path the page handles itself).
    context = browser.new_context(viewport={"width": 1400, "height": 1400})
    try:
        for path in NOTEBOOK:
            visitor = context.new_page()
            visitor.set_default_timeout(60_000)
            visitor.goto(f"{app}/demo?token={token}")
            expect(visitor.get_by_role("heading", name=title)).to_be_visible(timeout=90_000)
            visitor.evaluate(
                "path => { history.pushState(null, '', path);"
                " dispatchEvent(new PopStateEvent('popstate')); }",
                path,
            )
            expect(visitor.get_by_text(refused).first).to_be_visible(timeout=30_000)
            _only_the_demo(visitor)
            visitor.close()
    finally:
        context.close()

    # Through another name (a tunnel, a proxy): the link works, and every notebook address
    # opened afterwards in the same browser says it is not for this visitor.
    remote_browser = browser.browser_type.launch(
        executable_path=CHROMIUM, args=[*FLAGS, f"--host-resolver-rules=MAP {REMOTE} 127.0.0.1"]
    )
    remote = remote_browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
    remote.set_default_timeout(60_000)
    here = app.replace("127.0.0.1", REMOTE)
    try:
        remote.goto(f"{here}/demo?token={token}")
        expect(remote.get_by_role("heading", name=title)).to_be_visible(timeout=90_000)
        _idle(remote)  # a click while the first run still draws the page can be lost
        remote.get_by_role("button", name="Predict").click()
        expect(remote.get_by_text(re.compile(r"^(<=50K|>50K)$")).first).to_be_visible(
            timeout=90_000
        )
        _only_the_demo(remote)
        _shot(remote, "visitor-demo")
        for path in NOTEBOOK:
            remote.goto(f"{here}{path}")
            expect(remote.get_by_text("This page is part of the Lepton notebook")).to_be_visible(
                timeout=30_000
            )
            _only_the_demo(remote)
            if path == "/train":
                _shot(remote, "visitor-train-refused")
    except Exception:
        _shot(remote, "visitor-failure")
        raise
    finally:
        remote_browser.close()
