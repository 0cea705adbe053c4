"""A new user's whole flow in headless Chromium: sample → train → evaluate → explain → share."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """The real app on loopback with its own workspace; stopped after the tests."""
    port = _free_port()
    env = {**os.environ, "LEPTON_WORKSPACE": str(tmp_path_factory.mktemp("browser-ws"))}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "server.py",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
        ],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("the app did not start within 60 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _no_errors(page) -> None:
    # Must not happen anywhere in the flow: an exception box or a traceback.
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_text("Traceback")).to_have_count(0)


def test_first_request_to_a_page_goes_through_the_router(app_url, browser):
    """Right after a server start, a direct page link still gets the menu and the layout."""
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(f"{app_url}/train")
    expect(page.get_by_text("There is no data set yet")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("link", name="5 · Deploy")).to_be_visible()
    _no_errors(page)


def test_no_other_site_can_frame_the_notebook(app_url, browser, tmp_path):
    """Clickjacking: a page elsewhere that frames the notebook gets an empty frame."""
    for path in ("/", "/deploy", "/_stcore/health"):
        headers = urllib.request.urlopen(f"{app_url}{path}", timeout=10).headers
        assert headers["X-Frame-Options"] == "SAMEORIGIN"
        assert headers["Content-Security-Policy"] == "frame-ancestors 'self'"
        assert headers["X-Content-Type-Options"] == "nosniff"
    attacker = tmp_path / "attacker.html"
    attacker.write_text(f'<iframe id="f" src="{app_url}/deploy"></iframe>', encoding="utf-8")
    page = browser.new_page()
    page.goto(attacker.as_uri())
    page.wait_for_timeout(3000)
    frame = page.frame_locator("#f")
    from playwright.sync_api import expect

    expect(frame.get_by_text("Deploy")).to_have_count(0)


def test_new_user_flow_end_to_end(app_url, browser):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    page = context.new_page()
    page.set_default_timeout(60_000)
    step = "start"
    visitor = None
    try:
        step = "data"
        page.goto(app_url)
        page.get_by_role("button", name="Load sample").click()
        expect(page.get_by_text("32,561")).to_be_visible()
        expect(page.get_by_text("Target column")).to_be_visible()
        _no_errors(page)
        _shot(page, "1-data")
        page.get_by_role("button", name="Use this data").click()
        expect(page.get_by_text("is ready")).to_be_visible()

        step = "train"
        page.get_by_role("link", name="2 · Train").click()
        page.get_by_role("button", name="Start training").click()
        expect(page.get_by_text("trained in")).to_be_visible(timeout=180_000)
        _no_errors(page)
        _shot(page, "2-train")

        step = "evaluate"
        page.get_by_role("link", name="3 · Evaluate").click()
        # .first: the trade-off view's gap picker shows the same words further down.
        expect(page.get_by_text("Parity gap (DPD)").first).to_be_visible()
        expect(page.get_by_text("Accuracy", exact=True).first).to_be_visible()
        expect(page.get_by_text("Worst group by accuracy")).to_be_visible()
        _no_errors(page)
        _shot(page, "3-evaluate")

        step = "explain"
        page.get_by_role("link", name="4 · Explain").click()
        expect(page.get_by_text("Top reasons").first).to_be_visible(timeout=60_000)
        _no_errors(page)
        _shot(page, "4-explain")

        step = "deploy"
        page.get_by_role("link", name="5 · Deploy").click()
        page.get_by_role("button", name="Publish").click()
        link = page.locator("code").filter(has_text="/demo?token=")
        expect(link).to_be_visible()
        share = re.search(r"https?://\S+", link.inner_text()).group(0)
        _no_errors(page)
        _shot(page, "5-deploy")

        step = "demo"
        visitor = browser.new_context(viewport={"width": 1400, "height": 1800}).new_page()
        visitor.set_default_timeout(60_000)
        visitor.goto(share)
        visitor.get_by_role("button", name="Predict").click()
        expect(visitor.get_by_text("Prediction", exact=True)).to_be_visible()
        expect(visitor.get_by_text(re.compile(r"^(<=50K|>50K)$")).first).to_be_visible()
        # The visitor sees the demo alone: no notebook navigation.
        expect(visitor.get_by_role("link", name="2 · Train")).to_have_count(0)
        _no_errors(visitor)
        _shot(visitor, "6-demo")
    except Exception:
        _shot(visitor if step == "demo" else page, f"failure-{step}")
        raise
    finally:
        context.close()


def test_a_chinese_browser_gets_the_notebook_in_chinese(app_url, browser):
    """The tabular flow in a zh-CN browser, sample to explanation: Chinese headings, buttons,
    engine notes and chart titles, and no English text where a translation exists."""
    from playwright.sync_api import expect

    from app_pages._i18n import catalogue
    from lepton_core.core import message_catalogue

    zh, engine = catalogue("zh"), message_catalogue("zh")
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1800})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(app_url)
        expect(page.get_by_role("heading", name=zh["1 · Data"])).to_be_visible(timeout=60_000)
        page.get_by_role("button", name=zh["Load sample"]).click()
        expect(page.get_by_role("button", name=zh["Use this data"])).to_be_visible(timeout=60_000)
        # The sample's description is the engine's, from its catalogue.
        expect(page.get_by_text(engine["sample.adult.title"]).first).to_be_visible()
        expect(page.get_by_text("Adult census income")).to_have_count(0)
        page.get_by_role("button", name=zh["Use this data"]).click()
        expect(page.get_by_text(re.compile("已就绪")).first).to_be_visible(timeout=120_000)
        page.get_by_role("link", name=zh["2 · Train"]).click()
        expect(page.get_by_role("button", name=zh["Start training"])).to_be_visible(timeout=60_000)
        for english in ("Load sample", "Use this data", "Start training", "1 · Data"):
            expect(page.get_by_text(english, exact=True)).to_have_count(0)
        # The engine's words too: the default family's settings come from its catalogue.
        trees = engine["setting.lightgbm.n_estimators"]
        expect(page.get_by_text(trees, exact=True)).to_be_visible()
        expect(page.get_by_text("Number of trees", exact=True)).to_have_count(0)
        # The task in words, in the header and the sidebar: 二分类, never "binary".
        expect(page.get_by_text(re.compile(rf"（{zh['binary']}）")).first).to_be_visible()
        expect(page.get_by_text(re.compile(r"\bbinary\b"))).to_have_count(0)
        _no_errors(page)
        _shot(page, "zh-2-train")

        # Evaluate and Explain: the engine's notes and charts, and the pages' own words
        # around them, with no English left where a translation exists.
        page.get_by_role("button", name=zh["Start training"]).click()
        expect(page.get_by_text(re.compile(rf"· {zh['succeeded']}$"))).to_be_visible(
            timeout=240_000
        )
        for english in ("succeeded", "running"):
            expect(page.get_by_text(re.compile(rf"· {english}$"))).to_have_count(0)
        page.get_by_role("link", name=zh["3 · Evaluate"]).click()
        worst = zh["Worst group by {metric}"].format(metric=zh["accuracy"])
        expect(page.get_by_text(worst).first).to_be_visible(timeout=60_000)
        fairer = re.compile(re.escape(engine["tradeoff.y"]))
        expect(page.get_by_text(fairer).first).to_be_visible()
        for english in ("Worst group by accuracy", "lower is fairer", "test accuracy"):
            expect(page.get_by_text(english)).to_have_count(0)
        _no_errors(page)
        _shot(page, "zh-3-evaluate")
        page.get_by_role("link", name=zh["4 · Explain"]).click()
        expect(page.get_by_text(re.compile(r"个百分点。$")).first).to_be_visible(timeout=120_000)
        expect(page.get_by_text(re.compile(r"个百分点\.$"))).to_have_count(0)
        _no_errors(page)
        _shot(page, "zh-4-explain")
    except Exception:
        _shot(page, "zh-failure")
        raise
    finally:
        context.close()
