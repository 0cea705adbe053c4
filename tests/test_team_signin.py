"""Team mode in Chromium: a real OIDC sign-in, and what each role can and cannot do.

An OIDC provider (``oidc-provider-mock``) runs in the test on loopback with a registered
client; the real app runs with an ``[auth]`` section pointing at it and a team file:
ana is an admin, eve an editor, vic a viewer through the group "readers", and sam has
no role. A second app with a wrong client secret shows what a broken set-up looks like.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
import pytest

from tests.test_browser import CHROMIUM, _free_port, _no_errors, _shot, browser  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium"),
]
TEAM = """\
admins = ["ana@example.org"]
editors = ["eve@example.org"]
viewers = ["group:readers"]
"""
NOTEBOOK = [
    "1 · Data",
    "2 · Train",
    "3 · Evaluate",
    "4 · Explain",
    "5 · Deploy",
    "6 · Monitor",
    "Dashboard",
]


@pytest.fixture(scope="module")
def provider():
    """An OIDC provider on loopback that knows four people; stopped after the tests."""
    pytest.importorskip("oidc_provider_mock")
    from oidc_provider_mock import User, run_server_in_thread

    users = [
        User(sub="ana", claims={"email": "ana@example.org", "name": "Ana"}),
        User(sub="eve", claims={"email": "eve@example.org", "name": "Eve"}),
        User(sub="vic", claims={"email": "vic@outside.net", "groups": ["readers"]}),
        User(sub="sam", claims={"email": "sam@nowhere.net"}),
    ]
    mp = pytest.MonkeyPatch()
    mp.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # plain http on loopback, for the test
    with run_server_in_thread(require_client_registration=True, user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"
    mp.undo()


def _start_app(tmp: Path, provider: str, *, wrong_secret: bool = False):
    """The real app in team mode with its own workspace, secrets and team file."""
    port = _free_port()
    callback = f"http://127.0.0.1:{port}/oauth2callback"
    client = httpx.post(f"{provider}/oauth2/clients", json={"redirect_uris": [callback]}).json()
    workspace = tmp / "ws"
    workspace.mkdir()
    (workspace / "team.toml").write_text(TEAM)
    secret = "not-the-secret" if wrong_secret else client["client_secret"]
    (tmp / "secrets.toml").write_text(
        "[auth]\n"
        f'redirect_uri = "{callback}"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        f'client_id = "{client["client_id"]}"\n'
        f'client_secret = "{secret}"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
    )
    env = {**os.environ, "LEPTON_WORKSPACE": str(workspace)}
    env.pop("AUTHLIB_INSECURE_TRANSPORT", None)
    env.pop("LEPTON_TEAM_FILE", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "server.py",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--server.headless", "true", "--secrets.files", str(tmp / "secrets.toml")],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
            return proc, url, workspace
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("the app did not start within 120 s")


@pytest.fixture(scope="module")
def team_app(provider, tmp_path_factory):
    proc, url, workspace = _start_app(tmp_path_factory.mktemp("team"), provider)
    yield url, workspace
    proc.terminate()
    proc.wait(timeout=20)


def _sign_in(browser, url: str, who: str):
    """A fresh browser (no cookies) signs in as ``who`` through the provider's form."""
    from playwright.sync_api import expect

    page = browser.new_context().new_page()
    page.goto(url)
    expect(page.get_by_text("Sign in to open your team's workspace.")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name=who, exact=True).click()  # the provider's user list
    page.wait_for_url(f"{url}/**", timeout=30_000)
    return page


def _menu(page) -> set[str]:
    """The pages in the sidebar's menu (after it has drawn: Dashboard is in every menu)."""
    from playwright.sync_api import expect

    links = page.get_by_test_id("stSidebar").get_by_role("link")
    expect(links.filter(has_text="Dashboard")).to_have_count(1, timeout=30_000)
    # Each link's text starts with its icon's name (a font ligature): keep the title.
    titles = set()
    for i in range(links.count()):
        text = links.nth(i).inner_text().strip()
        titles |= {name for name in [*NOTEBOOK, "Team"] if text.endswith(name)}
    return titles


def test_an_editor_gets_every_step_and_can_train(team_app, browser):
    from playwright.sync_api import expect

    url, _ = team_app
    page = _sign_in(browser, url, "eve")
    expect(page.get_by_text("Signed in as Eve · editor")).to_be_visible(timeout=30_000)
    assert set(NOTEBOOK) <= _menu(page) and "Team" not in _menu(page)
    page.get_by_role("link", name="2 · Train").click()
    expect(
        page.get_by_role("heading", name="2 · Train")
        .or_(page.get_by_text("There is no data set yet"))
        .first
    ).to_be_visible(timeout=30_000)
    _no_errors(page)
    _shot(page, "team-editor")


def test_a_viewer_reads_results_but_cannot_reach_data_train_or_deploy(team_app, browser):
    from playwright.sync_api import expect

    url, _ = team_app
    page = _sign_in(browser, url, "vic")
    expect(page.get_by_text("Signed in as vic@outside.net · viewer")).to_be_visible(timeout=30_000)
    assert _menu(page) == {"Dashboard", "3 · Evaluate", "4 · Explain", "6 · Monitor"}
    for path in ("train", "deploy", "team"):  # typed into the address bar
        page.goto(f"{url}/{path}")
        expect(
            page.get_by_text("Your role in this workspace does not include this page")
        ).to_be_visible(timeout=30_000)
        for action in ("Start training", "Publish", "Load sample"):
            expect(page.get_by_role("button", name=action)).to_have_count(0)
    _no_errors(page)
    _shot(page, "team-viewer")


def test_an_admin_sees_the_team_page(team_app, browser):
    from playwright.sync_api import expect

    url, _ = team_app
    page = _sign_in(browser, url, "ana")
    expect(page.get_by_text("Signed in as Ana · admin")).to_be_visible(timeout=30_000)
    page.get_by_role("link", name="Team").click()
    expect(page.get_by_text("group:readers")).to_be_visible(timeout=30_000)
    _no_errors(page)
    _shot(page, "team-admin")


def test_someone_without_a_role_is_told_so_in_one_sentence(team_app, browser):
    from playwright.sync_api import expect

    url, _ = team_app
    page = _sign_in(browser, url, "sam")
    expect(
        page.get_by_text("Your account sam@nowhere.net has no role in this workspace")
    ).to_be_visible(timeout=30_000)
    expect(page.get_by_role("link", name="Dashboard")).to_have_count(0)
    _no_errors(page)


def test_an_expired_sign_in_asks_to_sign_in_again(team_app, browser):
    from playwright.sync_api import expect

    url, workspace = team_app
    page = _sign_in(browser, url, "eve")
    expect(page.get_by_text("Signed in as Eve · editor")).to_be_visible(timeout=30_000)
    team = workspace / "team.toml"
    try:
        team.write_text(TEAM + "sign_in_hours = 0.0003\n")  # about a second
        time.sleep(2)
        page.reload()
        expect(page.get_by_text("Your sign-in has expired; sign in again to go on.")).to_be_visible(
            timeout=30_000
        )
        expect(page.get_by_role("link", name="Dashboard")).to_have_count(0)
    finally:
        team.write_text(TEAM)


def test_a_wrong_client_secret_gets_one_clear_sentence(provider, browser, tmp_path):
    from playwright.sync_api import expect

    proc, url, _ = _start_app(tmp_path, provider, wrong_secret=True)
    try:
        page = browser.new_context().new_page()
        page.goto(url)
        page.get_by_role("button", name="Sign in").click(timeout=30_000)
        page.get_by_role("button", name="eve", exact=True).click()
        expect(
            page.get_by_text("The sign-in service did not accept Lepton's client ID or secret")
        ).to_be_visible(timeout=30_000)
        _no_errors(page)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
