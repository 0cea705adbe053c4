"""An image model in headless Chromium: a zip of 40 chest X-rays (two classes) → Quick
training → Evaluate → Explain (heat map) → Deploy → the demo link with an uploaded picture.

With ``LEPTON_SCREENS=docs/screens`` the pages are also saved there, downscaled as
``bench/ui.py`` saves its screens.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_browser import CHROMIUM, _no_errors, _shot, app_url, browser  # noqa: F401
from test_images_pages import PNEUMONIA, xray_zip

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium"),
    pytest.mark.skipif(not PNEUMONIA.exists(), reason="needs shared/data/pneumoniamnist"),
]
ROOT = Path(__file__).resolve().parents[1]


def _screen(page, name: str) -> None:
    """The test's screenshot; also a small one for the docs when ``LEPTON_SCREENS`` is set."""
    _shot(page, name)
    folder = os.environ.get("LEPTON_SCREENS")
    if folder:
        spec = importlib.util.spec_from_file_location("bench_ui", ROOT / "bench" / "ui.py")
        ui = sys.modules.setdefault("bench_ui", importlib.util.module_from_spec(spec))
        if not hasattr(ui, "_shot"):  # its dataclasses look their module up while defined
            spec.loader.exec_module(ui)
        ui._shot(page, ROOT / folder, name)
        (ROOT / folder / f"{name}.raw.png").unlink(missing_ok=True)


@pytest.fixture(scope="module", autouse=True)
def _coarse_maps():
    """Fewer network passes per heat map in the app and its jobs: seconds, not minutes, on
    a busy machine (the maps are coarser; what is checked here is the flow)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("LEPTON_IMAGE_SHAP_EVALS", os.environ.get("LEPTON_IMAGE_SHAP_EVALS", "24"))
    yield
    mp.undo()


def test_image_flow_train_explain_and_share(app_url, browser, tmp_path):
    from playwright.sync_api import expect

    archive = tmp_path / "xrays.zip"
    # 20-pixel pictures: the network reads them at its smallest size, 96 pixels.
    archive.write_bytes(xray_zip(per_class=20, side=20))
    with np.load(PNEUMONIA) as npz:
        picture = tmp_path / "patient.png"
        Image.fromarray(npz["test_images"][0]).resize((20, 20)).save(picture)
    context = browser.new_context(viewport={"width": 1400, "height": 2400})
    page = context.new_page()
    page.set_default_timeout(60_000)
    step, visitor = "data", None
    try:
        page.goto(app_url)
        page.get_by_text("Images", exact=True).click()
        page.locator("input[type=file]").first.set_input_files(str(archive))
        page.get_by_role("button", name="Load images").click()
        expect(page.get_by_text("Class balance")).to_be_visible(timeout=60_000)
        expect(page.get_by_test_id("stImage").first).to_be_visible()
        expect(page.locator(".js-plotly-plot")).to_have_count(1, timeout=60_000)  # class balance
        _no_errors(page)
        _screen(page, "images-1-data")
        page.get_by_role("button", name="Use these images").click()
        expect(page.get_by_text("is ready")).to_be_visible()

        step = "train"
        page.get_by_role("link", name="2 · Train").click()
        page.get_by_text("Quick: train only the final layer", exact=False).click()
        page.get_by_role("button", name="Start training").click()
        expect(page.get_by_text("trained in")).to_be_visible(timeout=480_000)
        _no_errors(page)
        _screen(page, "images-2-train")

        step = "evaluate"
        page.get_by_role("link", name="3 · Evaluate").click()
        expect(page.get_by_text("Accuracy").first).to_be_visible(timeout=60_000)
        _no_errors(page)
        _screen(page, "images-3-evaluate")

        step = "explain"
        page.get_by_role("link", name="4 · Explain").click()
        expect(page.get_by_text("One test image")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Where the model looks, per class")).to_be_visible()
        expect(page.locator(".js-plotly-plot")).to_have_count(
            2, timeout=60_000
        )  # heat map, class maps
        _no_errors(page)
        _screen(page, "images-4-explain")

        step = "deploy"
        page.get_by_role("link", name="5 · Deploy").click()
        page.get_by_role("button", name="Publish").click()
        link = page.locator("code").filter(has_text="/demo?token=")
        expect(link).to_be_visible(timeout=60_000)
        share = re.search(r"https?://\S+", link.inner_text()).group(0)
        page.get_by_role("button", name="Try it").click()
        expect(page.get_by_text("HTTP 200")).to_be_visible(timeout=60_000)
        _no_errors(page)
        _screen(page, "images-5-deploy")

        step = "demo"
        visitor = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
        visitor.set_default_timeout(60_000)
        visitor.goto(share)
        visitor.locator("input[type=file]").first.set_input_files(str(picture))
        # The visitor's session loads the model and explains the picture: seconds when busy.
        chance = visitor.get_by_text(re.compile(r"^Chance of (normal|pneumonia)$"))
        expect(chance).to_be_visible(timeout=120_000)
        expect(visitor.locator(".js-plotly-plot").first).to_be_visible(timeout=60_000)
        _no_errors(visitor)
        _screen(visitor, "images-6-demo")
    except Exception:
        _shot(visitor if step == "demo" else page, f"failure-images-{step}")
        raise
    finally:
        context.close()
