"""A text model in headless Chromium: SST-2 sample → quick train → token highlights → share."""

from __future__ import annotations

import os
import re

import pytest
from test_browser import CHROMIUM, _no_errors, _shot, app_url, browser  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium"),
]


def test_text_flow_train_explain_and_share(app_url, browser):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    page = context.new_page()
    page.set_default_timeout(60_000)
    step, visitor = "data", None
    try:
        page.goto(app_url)
        page.get_by_test_id("stSelectbox").filter(has_text="Sample").click()
        page.get_by_role("option", name="sst2").click()
        page.get_by_role("button", name="Load sample").click()
        # The personal-data scan of free text loads its language model the first time.
        expect(page.get_by_text("Texts are cut at")).to_be_visible(timeout=60_000)
        _no_errors(page)
        _shot(page, "text-1-data")
        page.get_by_role("button", name="Use this data").click()
        expect(page.get_by_text("is ready")).to_be_visible()

        step = "train"
        page.get_by_role("link", name="2 · Train").click()
        # Texts start on the fast n-gram family (the default in every language).
        expect(page.get_by_text("N-grams", exact=True)).to_be_visible(timeout=30_000)
        page.get_by_role("button", name="Start training").click()
        expect(page.get_by_text("trained in")).to_be_visible(timeout=300_000)
        _no_errors(page)
        _shot(page, "text-2-train")

        step = "explain"
        page.get_by_role("link", name="4 · Explain").click()
        expect(page.get_by_text("One text")).to_be_visible()
        expect(page.locator("span[title]").first).to_be_visible()  # highlighted tokens
        _no_errors(page)
        _shot(page, "text-3-explain")

        step = "deploy"
        page.get_by_role("link", name="5 · Deploy").click()
        page.get_by_role("button", name="Publish").click()
        link = page.locator("code").filter(has_text="/demo?token=")
        expect(link).to_be_visible()
        share = re.search(r"https?://\S+", link.inner_text()).group(0)

        step = "demo"
        visitor = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
        visitor.set_default_timeout(60_000)
        visitor.goto(share)
        box = visitor.get_by_role("textbox")
        box.fill("a gorgeous , funny and deeply moving film")
        visitor.get_by_role("button", name="Predict").click()
        # The visitor's session loads the model first: seconds on a busy machine.
        expect(visitor.get_by_text(re.compile(r"^(positive|negative)$"))).to_be_visible(
            timeout=60_000
        )
        expect(visitor.locator("span[title]").filter(has_text="gorgeous")).to_be_visible()
        _no_errors(visitor)
        _shot(visitor, "text-4-demo")
    except Exception:
        _shot(visitor if step == "demo" else page, f"failure-text-{step}")
        raise
    finally:
        context.close()
