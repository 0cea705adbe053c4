"""An entity model in headless Chromium: 300 WNUT-17 sentences (CoNLL) → the fast CRF as
a background job → Evaluate (scores per kind of name) → Explain (the words behind one name
found) → Deploy (the REST call answers spans) → the demo link highlights names.

With ``LEPTON_SCREENS=docs/screens`` the pages are also saved there, as the image flow does.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from test_browser import CHROMIUM, _no_errors, app_url, browser  # noqa: F401
from test_browser_images import _screen

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium"),
]
WNUT = Path(__file__).resolve().parents[2] / "shared" / "data" / "wnut17_en" / "train.conll"
#: Sentences of the slice: enough for the CRF to find names in a few test sentences.
SENTENCES = 300


def _slice(folder: Path) -> Path:
    """The first sentences of WNUT-17's training file, or made-up ones without it."""
    if WNUT.exists():
        blocks = WNUT.read_text(encoding="utf-8").strip().split("\n\n")[:SENTENCES]
    else:  # the same shape: people and places in short sentences
        people, places = ["Alice", "Bob", "Carol", "Dmitri", "Eve"], ["Paris", "Lagos", "Oslo"]
        blocks = [
            f"{people[i % 5]}\tB-person\nflew\tO\nto\tO\n{places[i % 3]}\tB-location\n.\tO"
            for i in range(SENTENCES)
        ]
    path = folder / "tweets.conll"
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return path


def test_entity_flow_train_explain_and_share(app_url, browser, tmp_path):
    from playwright.sync_api import expect

    data = _slice(tmp_path)
    context = browser.new_context(viewport={"width": 1400, "height": 2000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    step, visitor = "data", None
    try:
        page.goto(app_url)
        page.get_by_text("Upload a file", exact=True).click()
        page.locator("input[type=file]").first.set_input_files(str(data))
        expect(page.get_by_text(f"{SENTENCES} sentences", exact=False).first).to_be_visible()
        expect(page.get_by_text("Names of each kind")).to_be_visible()
        _no_errors(page)
        _screen(page, "ner-browser-1-data")
        page.get_by_role("button", name="Use this data").click()
        expect(page.get_by_text("is ready")).to_be_visible()

        step = "train"
        page.get_by_role("link", name="2 · Train").click()
        page.get_by_role("button", name="Start training").click()
        expect(page.get_by_text("trained in")).to_be_visible(timeout=300_000)
        _no_errors(page)

        step = "evaluate"
        page.get_by_role("link", name="3 · Evaluate").click()
        expect(page.get_by_text("Scores for each kind of name")).to_be_visible()
        expect(page.get_by_text("Which kinds of name it mixes up")).to_be_visible()
        _no_errors(page)
        _screen(page, "ner-browser-3-evaluate")

        step = "explain"
        page.get_by_role("link", name="4 · Explain").click()
        expect(page.get_by_text("Why the model found a name")).to_be_visible()
        # The first test sentence with a name found is explained at once: its top reasons.
        expect(page.get_by_text("Top reasons").first).to_be_visible(timeout=120_000)
        # The sentence picked, shown with its names highlighted: its words without the kinds.
        found = page.locator("div[style*='line-height']").first.evaluate(
            "e => { const c = e.cloneNode(true); c.querySelectorAll('b').forEach(b => b.remove());"
            " return c.textContent.replace(/\\s+/g, ' ').trim(); }"
        )
        _no_errors(page)
        _screen(page, "ner-browser-4-explain")

        step = "deploy"
        page.get_by_role("link", name="5 · Deploy").click()
        page.get_by_role("button", name="Publish").click()
        link = page.locator("code").filter(has_text="/demo?token=")
        expect(link).to_be_visible()
        share = re.search(r"https?://\S+", link.inner_text()).group(0)
        page.get_by_role("button", name="Try it").click()
        # The first call loads the model into the page's REST app: seconds on a loaded machine.
        expect(page.get_by_text("HTTP 200")).to_be_visible(timeout=60_000)
        expect(page.get_by_text('"entities"').first).to_be_visible()
        _no_errors(page)

        step = "demo"
        visitor = browser.new_context(viewport={"width": 1400, "height": 1200}).new_page()
        visitor.set_default_timeout(60_000)
        visitor.goto(share)
        expect(visitor.get_by_text("Finds names in text", exact=False)).to_be_visible()
        visitor.get_by_role("textbox").fill(found)  # a sentence the model finds a name in
        visitor.get_by_role("button", name="Predict").click()
        expect(visitor.locator("span[style*='border-radius']").first).to_be_visible()
        expect(visitor.get_by_role("link", name="2 · Train")).to_have_count(0)
        _no_errors(visitor)
        _screen(visitor, "ner-browser-6-demo")
    except Exception:
        _screen(visitor if step == "demo" else page, f"failure-ner-{step}")
        raise
    finally:
        context.close()
