"""Who reaches what in the app: a share-link visitor gets the demo page and nothing else."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from app_pages._common import REFUSAL, Keys, announce_exposure, is_local_request
from lepton_core.workspace import ShareLinks

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ["data", "train", "evaluate", "explain", "deploy", "monitor", "dashboard"]
# What the notebook pages offer; a visitor's session must show none of it.
ACTIONS = {
    "Load sample",
    "Use this data",
    "Start training",
    "Publish",
    "Withdraw",
    "Create another link",
    "Create key",
    "Try it",
    "Score the file",
    "Compress into a new version",
    "Export MLflow folder (zip)",
    "Export ONNX",
}


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def _labels(at: AppTest) -> set[str]:
    return {b.label for b in at.button}


@pytest.fixture
def token(adult_run, workspace):
    workspace.set_published(adult_run.model_name, adult_run.model_version, True)
    return (
        ShareLinks(workspace)
        .create(adult_run.model_name, adult_run.model_version, expires_in=3600)
        .token
    )


def test_a_share_link_session_reaches_the_demo_page_and_nothing_else(adult_run, token):
    at = AppTest.from_file(ROOT / "app.py", default_timeout=120).switch_page("app_pages/demo.py")
    at.query_params = {"token": token}
    _ok(at.run())
    demo_title = at.title[0].value
    assert demo_title.startswith("Predicts "), demo_title  # what it predicts, not its name
    assert at.session_state[Keys.VISITOR]
    assert not at.sidebar.markdown  # no notebook menu
    # The router registered no notebook page for this session ...
    for name in NOTEBOOK:
        with pytest.raises(ValueError, match="Could not find a navigation page") as raised:
            at.switch_page(f"app_pages/{name}.py")
        known = str(raised.value).split("Known pages:")[1]
        assert "app_pages/demo.py" in known and not any(f"/{n}.py" in known for n in NOTEBOOK)
    # ... so when the session asks for a notebook page anyway, as a browser that had kept an
    # older page list would (by the page's hash), it gets one sentence and no notebook.
    for name in NOTEBOOK:
        at._page_hash = calc_hash("" if name == "data" else name)  # what a browser sends
        _ok(at.run())
        assert [e.value for e in at.error] == [REFUSAL], name
        assert not at.title, (name, [t.value for t in at.title])
        assert not _labels(at) & ACTIONS, (name, _labels(at))
        assert not at.sidebar.markdown, name
    # The demo page itself still works in that session.
    at.switch_page("app_pages/demo.py")
    _ok(at.run())
    assert [t.value for t in at.title] == [demo_title]


@pytest.mark.parametrize("name", NOTEBOOK)
def test_notebook_pages_refuse_a_visitor_session_themselves(name, adult_run):
    # Even started in a visitor's session without the router's page list, a notebook page
    # says one sentence and stops before it reads or changes anything.
    at = AppTest.from_file(ROOT / "app_pages" / f"{name}.py", default_timeout=120)
    at.session_state[Keys.ROUTED] = True
    at.session_state[Keys.VISITOR] = True
    at.session_state[Keys.RUN_ID] = adult_run.run_id
    _ok(at.run())
    assert [e.value for e in at.error] == [REFUSAL]
    assert not at.title and not at.button and not at.selectbox and not at.text_input


def test_the_owner_still_has_every_notebook_page(adult_run):
    at = AppTest.from_file(ROOT / "app.py", default_timeout=120).switch_page("app_pages/deploy.py")
    at.session_state[Keys.RUN_ID] = adult_run.run_id
    _ok(at.run())
    assert at.title[0].value == "5 · Deploy"
    assert {"Create key", "Try it"} <= _labels(at)
    assert not [e for e in at.error if e.value == REFUSAL]


@pytest.mark.parametrize(
    ("headers", "local"),
    [
        ({}, True),  # no HTTP request behind the session (AppTest)
        ({"Host": "localhost:8501"}, True),
        ({"Host": "127.0.0.1:8501"}, True),
        ({"Host": "[::1]:8501"}, True),
        ({"host": "LOCALHOST"}, True),
        ({"Host": "app.localhost:8501"}, True),
        ({"Host": "127.0.0.2"}, True),
        # A share link opened through a tunnel or a proxy, or a page rebinding its name.
        ({"Host": "lepton.example.com"}, False),
        ({"Host": "abc123.ngrok-free.app"}, False),
        ({"Host": "192.168.1.20:8501"}, False),
        ({"Host": "localhost.evil.com"}, False),
        ({"Host": "localhost:8501", "X-Forwarded-For": "203.0.113.9"}, False),
        ({"Host": "127.0.0.1", "Forwarded": "for=203.0.113.9"}, False),
        ({"Host": "127.0.0.1", "X-Real-IP": "203.0.113.9"}, False),
        ({"User-Agent": "x"}, False),  # a request with no Host at all
        ({"Host": "[::1"}, False),
    ],
)
def test_only_a_request_straight_from_this_computer_is_local(headers, local):
    assert is_local_request(headers) is local


@pytest.fixture
def address():
    """Set ``server.address`` for one test; the server log line is said once per address."""
    before = config.get_option("server.address")
    announce_exposure.clear()

    def set_to(value: str | None) -> None:
        config.set_option("server.address", value)

    yield set_to
    config.set_option("server.address", before)
    announce_exposure.clear()


def _exposure_warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if "without signing in" in w.value]


@pytest.mark.parametrize("name", NOTEBOOK)
def test_a_server_open_to_the_network_says_so_on_every_notebook_page(
    name, address, adult_run, caplog
):
    address("0.0.0.0")
    at = AppTest.from_file(ROOT / "app.py", default_timeout=120).switch_page(f"app_pages/{name}.py")
    at.session_state[Keys.RUN_ID] = adult_run.run_id
    with caplog.at_level(logging.WARNING, logger="lepton"):
        _ok(at.run())
    assert len(_exposure_warnings(at)) == 1
    assert "0.0.0.0" in _exposure_warnings(at)[0]
    assert any(
        "listening on 0.0.0.0" in r.getMessage() and "without sign-in" in r.getMessage()
        for r in caplog.records
    )


@pytest.mark.parametrize("value", ["127.0.0.1", "localhost", "::1", "[::1]"])
def test_a_server_on_loopback_says_nothing_of_the_kind(value, address, caplog):
    address(value)
    at = AppTest.from_file(ROOT / "app.py", default_timeout=120)
    with caplog.at_level(logging.WARNING, logger="lepton"):
        _ok(at.run())
    assert at.title[0].value == "1 · Data"
    assert not _exposure_warnings(at)
    assert not [r for r in caplog.records if "without sign-in" in r.getMessage()]


def test_unset_address_listens_everywhere_and_is_said(address):
    address(None)
    at = _ok(AppTest.from_file(ROOT / "app.py", default_timeout=120).run())
    assert "every network interface" in _exposure_warnings(at)[0]


def test_deploy_page_keys_expire_and_show_their_last_use(adult_run, workspace):
    import time

    from lepton_core.workspace import ApiKeyStore

    at = AppTest.from_file(ROOT / "app.py", default_timeout=120).switch_page("app_pages/deploy.py")
    at.session_state[Keys.RUN_ID] = adult_run.run_id
    _ok(at.run())
    expiry = next(s for s in at.selectbox if s.label == "Key expires after")
    assert expiry.value == "90 days"
    assert expiry.options == ["30 days", "90 days", "365 days", "Never"]
    next(t for t in at.text_input if t.label == "Key name").set_value("page-key-30")
    expiry.set_value("30 days")
    next(b for b in at.button if b.label == "Create key").click()
    _ok(at.run())
    token = next(c.value for c in at.code if c.value.startswith("lk_"))
    store = ApiKeyStore(workspace)
    key = store.verify(token)
    assert key.name == "page-key-30"
    assert key.expires == pytest.approx(time.time() + 30 * 86_400, abs=60)
    _ok(at.run())
    shown = [m.value for m in at.markdown]
    row = shown.index(next(m for m in shown if "page-key-30" in m))
    # name · created · expires · last used, in one row of the key list
    assert shown[row + 2].startswith("expires ") and shown[row + 3].startswith("last used ")
    store.revoke(key.id)
    _ok(at.run())
    shown = [m.value for m in at.markdown]
    row = shown.index(next(m for m in shown if "page-key-30" in m))
    assert shown[row + 3] == "revoked"
