"""In headless Chromium: upload a table with e-mails, see them flagged, hash them, train."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.test_browser import CHROMIUM, _no_errors, _shot, app_url, browser  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not __import__("os").path.exists(CHROMIUM), reason="needs chromium"),
]


def _people_csv(path):
    rng = np.random.default_rng(1)
    n = 400
    pd.DataFrame(
        {
            "email": [f"person{i}@example.org" for i in range(n)],
            "age": rng.integers(18, 90, n),
            "sex": rng.choice(["F", "M"], n),
            "hours": rng.integers(10, 60, n),
            "approved": rng.choice(["yes", "no"], n),
        }
    ).to_csv(path, index=False)
    return path


def test_upload_flag_hash_and_train(app_url, browser, tmp_path):
    from playwright.sync_api import expect

    page = browser.new_context(viewport={"width": 1400, "height": 2400}).new_page()
    page.set_default_timeout(60_000)
    step = "upload"
    try:
        page.goto(app_url)
        page.get_by_text("Upload a file", exact=True).click()
        page.locator("input[type=file]").first.set_input_files(str(_people_csv(tmp_path / "p.csv")))
        page.get_by_role("button", name="Load file").click()
        step = "flagged"
        expect(page.get_by_text("Personal data", exact=True)).to_be_visible()
        expect(page.get_by_text("advisory, not a compliance guarantee")).to_be_visible()
        expect(page.get_by_text("Rows in groups below 5 (before)")).to_be_visible()
        _no_errors(page)
        _shot(page, "privacy-1-findings")
        step = "hash"
        page.get_by_role("button", name="Apply actions").click()
        expect(page.get_by_text("email → hash")).to_be_visible()
        expect(page.get_by_text("Rows in groups below 5 (after)")).to_be_visible()
        # Must not happen: a raw e-mail address still on screen after hashing.
        expect(page.get_by_text("person0@example.org")).to_have_count(0)
        _no_errors(page)
        _shot(page, "privacy-2-hashed")
        step = "confirm"
        target = page.get_by_text("Target column")
        expect(target).to_be_visible()
        page.get_by_role("button", name="Use this data").click()
        expect(page.get_by_text("is ready")).to_be_visible()
        step = "train"
        page.get_by_role("link", name="2 · Train").click()
        page.get_by_role("button", name="Start training").click()
        expect(page.get_by_text("trained in")).to_be_visible(timeout=180_000)
        _no_errors(page)
        _shot(page, "privacy-3-trained")
    except Exception:
        _shot(page, f"privacy-failure-{step}")
        raise
