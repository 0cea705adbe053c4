"""The owner titles the demo on the Deploy page; the visitor sees it as plain text, or the
automatic title when none is set."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from app_pages._common import Keys
from lepton_core.runs import load_bundle
from lepton_core.workspace import ShareLinks

ROOT = Path(__file__).resolve().parents[1]
AUTOMATIC = "Predicts whether the answer is >50K or <=50K"
NASTY = "**x** <script>alert(1)</script> [click](http://e.vil) :smile: $x$ # 1. <b>"


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [(e.value, e.stack_trace) for e in at.exception]
    return at


def _page(name: str) -> AppTest:
    at = AppTest.from_file(ROOT / "app.py", default_timeout=120)
    return at.switch_page(f"app_pages/{name}.py")


def _shown(markdown: str) -> str:
    """What a markdown renderer shows for ``markdown``: its text, with any markup left over."""
    rendered = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)
    inner = rendered.strip().removeprefix("<h1>").removeprefix("<p>")
    inner = inner.removesuffix("</h1>").removesuffix("</p>")
    assert "<" not in inner, rendered  # no tag: emphasis, link, HTML or heading
    return html.unescape(inner).replace("\u2060", "")  # the word joiner is invisible


@pytest.fixture
def published(adult_run, workspace):
    """The Adult version, published, with a share link; its demo text cleared after."""
    name, version = adult_run.model_name, adult_run.model_version
    workspace.set_published(name, version, True)
    token = ShareLinks(workspace).create(name, version, expires_in=3600).token
    yield name, version, token
    workspace.set_demo_text(name, version)


def _demo(token: str) -> AppTest:
    at = _page("demo")
    at.query_params = {"token": token}
    return _ok(at.run())


def _deploy(adult_run) -> AppTest:
    at = _page("deploy")
    at.session_state[Keys.RUN_ID] = adult_run.run_id
    return _ok(at.run())


def _input(at: AppTest, label: str):
    return next(t for t in at.text_input if t.label == label)


# ----------------------------------------------------------------- the engine
def test_demo_text_is_one_capped_line_of_plain_text(published, workspace):
    name, version, _ = published
    stored = workspace.set_demo_text(
        name, version, title="Who\x00 earns\n\tmore\u202e?  " + "x" * 200, description="a\rb"
    )
    assert stored == workspace.demo_text(name, version)
    title, description = stored
    assert title.startswith("Who earns more ? x") and len(title) == workspace.DEMO_TITLE_MAX
    assert description == "a b"
    # The version info the demo reads carries it.
    bundle = load_bundle(workspace, name, version)
    assert (bundle.demo_title, bundle.demo_description) == stored
    workspace.set_demo_text(name, version)
    assert workspace.demo_text(name, version) == ("", "")


# ------------------------------------------------------------------- the pages
def test_the_owner_sets_the_title_on_the_deploy_page_and_the_visitor_sees_it(
    published, adult_run, workspace
):
    name, version, token = published
    at = _deploy(adult_run)
    title = _input(at, "Demo page title")
    assert title.value == AUTOMATIC  # prefilled with the automatic title
    title.set_value("Does this person earn more than 50K a year?")
    _input(at, "One-line description (optional)").set_value("Trained on the 1994 US census.")
    next(b for b in at.button if b.label == "Save title and description").click()
    _ok(at.run())
    assert workspace.demo_text(name, version) == (
        "Does this person earn more than 50K a year?",
        "Trained on the 1994 US census.",
    )
    assert _input(at, "Demo page title").value == "Does this person earn more than 50K a year?"

    demo = _demo(token)
    assert [_shown(t.value) for t in demo.title] == ["Does this person earn more than 50K a year?"]
    (description,) = [m.value for m in demo.markdown if "1994" in m.value]
    assert _shown(description) == "Trained on the 1994 US census."


def test_keeping_the_suggestion_keeps_the_automatic_title(published, adult_run, workspace):
    name, version, token = published
    workspace.set_demo_text(name, version, title="An old title", description="Old words.")
    at = _deploy(adult_run)
    _input(at, "Demo page title").set_value(AUTOMATIC)
    _input(at, "One-line description (optional)").set_value("")
    next(b for b in at.button if b.label == "Save title and description").click()
    _ok(at.run())
    # Stored as "automatic", so a visitor reads it in their own language.
    assert workspace.demo_text(name, version) == ("", "")
    demo = _demo(token)
    assert [t.value for t in demo.title] == [AUTOMATIC]
    assert not any("Old words" in m.value for m in demo.markdown)


def test_the_demo_falls_back_to_the_automatic_title(published):
    *_, token = published
    demo = _demo(token)
    assert [t.value for t in demo.title] == [AUTOMATIC]


def test_a_title_with_markup_shows_literally(published, workspace):
    name, version, token = published
    workspace.set_demo_text(name, version, title=NASTY, description=f"Also {NASTY}")
    demo = _demo(token)
    (title,) = demo.title
    assert title.value != NASTY  # escaped for markdown ...
    assert _shown(title.value) == NASTY[: workspace.DEMO_TITLE_MAX].rstrip()  # ... shown as is
    # Emoji codes, colours and icons are Streamlit's own: broken by an invisible joiner.
    assert not re.search(r":[a-z_/]+:", title.value)
    (description,) = [m.value for m in demo.markdown if m.value.startswith("Also")]
    assert _shown(description) == f"Also {NASTY}"
