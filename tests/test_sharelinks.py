"""Signed share links: valid, expired, revoked, tampered; and the Deploy/Demo pages using them."""

from __future__ import annotations

import base64
import json
import stat
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app_pages._common import Keys
from lepton_core.core import ModelError
from lepton_core.workspace import ShareLinks, Workspace

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def links(tmp_path):
    return ShareLinks(Workspace(tmp_path / "ws"))


def test_a_valid_link_names_its_model_and_version(links):
    link = links.create("adult", 3, expires_in=3600)
    got = links.verify(link.token)
    assert (got.model, got.version, got.id) == ("adult", 3, link.id)
    assert got.expires == pytest.approx(time.time() + 3600, abs=5)


def test_the_secret_is_private_and_stable(tmp_path):
    ws = Workspace(tmp_path / "ws")
    token = ShareLinks(ws).create("m", 1, expires_in=60).token
    mode = stat.S_IMODE((ws.root / "share_secret").stat().st_mode)
    assert mode == 0o600
    assert ShareLinks(ws).verify(token).model == "m"  # a new process reads the same secret


def test_expired_links_are_not_valid(links, monkeypatch):
    link = links.create("adult", 1, expires_in=60)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 61)
    with pytest.raises(ModelError, match="not valid"):
        links.verify(link.token)


def test_revoked_links_are_not_valid_and_others_still_are(links):
    a = links.create("adult", 1, expires_in=60)
    b = links.create("adult", 1, expires_in=60)
    links.revoke(a.id)
    with pytest.raises(ModelError, match="not valid"):
        links.verify(a.token)
    assert links.verify(b.token).id == b.id
    listed = {link.id: link for link in links.list("adult", 1)}
    assert not listed[a.id].active and listed[b.id].active


def _forge(token: str, **changes) -> str:
    payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{body}.{signature}"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: _forge(t, v=2),
        lambda t: _forge(t, m="other"),
        lambda t: _forge(t, e=None),
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: t.split(".")[0],
        lambda t: t + ".x",
        lambda t: "",
        lambda t: None,
        lambda t: "a" * 5000,
        lambda t: "..",
        lambda t: "!!!.###",
    ],
)
def test_tampered_tokens_are_not_valid(links, tamper):
    token = links.create("adult", 1, expires_in=60).token
    with pytest.raises(ModelError, match="not valid"):
        links.verify(tamper(token))


def test_a_token_from_another_workspace_is_not_valid(tmp_path):
    token = ShareLinks(Workspace(tmp_path / "a")).create("adult", 1, expires_in=60).token
    with pytest.raises(ModelError, match="not valid"):
        ShareLinks(Workspace(tmp_path / "b")).verify(token)


def test_no_expiry_is_an_explicit_choice(links):
    with pytest.raises(ValueError, match="public"):
        links.create("adult", 1, expires_in=None)
    link = links.create("adult", 1, expires_in=None, public=True)
    assert links.verify(link.token).expires is None


# ------------------------------------------------------------------------ pages
def _page(name: str) -> AppTest:
    return AppTest.from_file(ROOT / "app.py", default_timeout=120).switch_page(
        f"app_pages/{name}.py"
    )


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def _demo(token: str) -> AppTest:
    demo = _page("demo")
    demo.query_params = {"token": token}
    return _ok(demo.run())


def test_deploy_page_links_keys_and_try_it(adult_run, workspace):
    from lepton_core.workspace import ApiKeyStore

    workspace.set_published(adult_run.model_name, adult_run.model_version, True)
    token = (
        ShareLinks(workspace)
        .create(adult_run.model_name, adult_run.model_version, expires_in=3600)
        .token
    )
    at = _page("deploy")
    at.session_state[Keys.RUN_ID] = adult_run.run_id
    _ok(at.run())
    assert _demo(token).title[0].value.startswith("Predicts whether")

    # The model card is on the page, and the intended use the publisher writes lands in it.
    assert any("## Fairness by group" in m.value for m in at.markdown)
    at.text_area[0].set_value("Workshop demo only.")
    next(b for b in at.button if b.label == "Save intended use").click()
    _ok(at.run())
    assert any("Workshop demo only." in m.value for m in at.markdown)

    # The API examples carry the model's real columns.
    curl = next(c.value for c in at.code if c.value.startswith("curl"))
    assert '"age"' in curl and '"education"' in curl and "Bearer $LEPTON_API_KEY" in curl

    next(b for b in at.button if b.label == "Try it").click()
    _ok(at.run())
    assert any(c.value.startswith("HTTP 200") for c in at.caption)
    assert '"predictions"' in at.json[0].value

    # A new key is shown once, stored hashed, and listed without its secret.
    next(t for t in at.text_input if t.label == "Key name").set_value("billing")
    next(b for b in at.button if b.label == "Create key").click()
    _ok(at.run())
    shown = next(c.value for c in at.code if c.value.startswith("lk_"))
    assert ApiKeyStore(workspace).verify(shown).name == "billing"
    _ok(at.run())
    assert not [c for c in at.code if c.value.startswith("lk_")]  # gone on the next run

    # Revoking the link from the page makes the demo show "not valid".
    link_id = ShareLinks(workspace).verify(token).id
    next(b for b in at.button if b.key == f"revoke-link-{link_id}").click()
    _ok(at.run())
    assert _demo(token).title[0].value == "This link is not valid"

    # Withdrawing the version invalidates every link to it.
    fresh = ShareLinks(workspace).create(
        adult_run.model_name, adult_run.model_version, expires_in=60
    )
    assert _demo(fresh.token).title[0].value != "This link is not valid"
    next(b for b in at.button if b.label == "Withdraw").click()
    _ok(at.run())
    assert _demo(fresh.token).title[0].value == "This link is not valid"


def test_demo_page_arguments_never_name_files(adult_run, workspace):
    # The page reads only ?token=; model names, versions and paths in the query do nothing.
    workspace.set_published(adult_run.model_name, adult_run.model_version, True)
    for query in (
        {"token": "../../../../etc/passwd"},
        {"token": "%2e%2e%2f%2e%2e%2fshare_secret"},
        {"token": "/etc/passwd.x"},
        {"token": "\\\\server\\share.x"},
        {"model": adult_run.model_name, "version": "1", "token": ""},
        {"model": "../artifacts", "version": "../../mlflow.db"},
    ):
        demo = _page("demo")
        demo.query_params = query
        assert _ok(demo.run()).title[0].value == "This link is not valid", query


# ------------------------------------------------------------ hardening (issue 14)
@pytest.mark.parametrize(
    "signature",
    ["é" * 43, "\ud800", "ＡＡＡ", "\u200b" + "A" * 42, "A" * 42 + "\x00"],
)
def test_a_signature_with_non_ascii_characters_is_not_valid(links, signature):
    payload = links.create("adult", 1, expires_in=60).token.split(".")[0]
    with pytest.raises(ModelError, match="not valid"):
        links.verify(f"{payload}.{signature}")
    with pytest.raises(ModelError, match="not valid"):
        links.verify(f"\ud800.{signature}")


def test_the_demo_page_says_not_valid_for_a_non_ascii_signature(adult_run, workspace):
    workspace.set_published(adult_run.model_name, adult_run.model_version, True)
    links = ShareLinks(workspace)
    token = links.create(adult_run.model_name, adult_run.model_version, expires_in=60).token
    payload = token.split(".")[0]
    assert _demo(f"{payload}.{'é' * 43}").title[0].value == "This link is not valid"


def _columns(path: Path) -> list[str]:
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(path)) as db:
        return [row[1] for row in db.execute("PRAGMA table_info(links)")]


def test_the_store_keeps_only_what_verification_needs(tmp_path):
    ws = Workspace(tmp_path / "ws")
    links = ShareLinks(ws)
    link = links.create("adult", 2, expires_in=3600)
    payload, signature = link.token.split(".")
    db = ws.root / "lepton.db"
    assert _columns(db) == [
        "id",
        "model",
        "version",
        "created",
        "expires",
        "revoked",
        "created_by",
    ]
    stored = db.read_bytes()
    assert signature.encode() not in stored and payload.encode() not in stored
    # The Deploy page still shows the link: it is signed anew from its row.
    assert [x.token for x in ShareLinks(ws).list("adult", 2)] == [link.token]
    assert ShareLinks(ws).verify(link.token).id == link.id


def test_an_older_store_loses_its_tokens_and_is_made_private(tmp_path):
    import sqlite3
    from contextlib import closing

    ws = Workspace(tmp_path / "ws")
    # Links signed with this workspace's secret, as the older Lepton made them.
    signer = ShareLinks(Workspace(tmp_path / "signer"))
    (ws.root / "share_secret").write_bytes((signer.root / "share_secret").read_bytes())
    link = signer.create("adult", 1, expires_in=3600, public=False)
    revoked = signer.create("adult", 1, expires_in=None, public=True)
    # The layout an older Lepton wrote: every token in the file, the file world-readable.
    db = ws.root / "sharelinks.db"
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "CREATE TABLE links (id TEXT PRIMARY KEY, model TEXT, version INT, created REAL, "
            "expires REAL, token TEXT, revoked REAL)"
        )
        for x, gone in ((link, None), (revoked, 1.0)):
            conn.execute(
                "INSERT INTO links VALUES (?, ?, ?, ?, ?, ?, ?)",
                (x.id, x.model, x.version, x.created, x.expires, x.token, gone),
            )
    for path in (db, ws.root / "share_secret"):
        path.chmod(0o644)
    assert link.token.encode() in db.read_bytes()

    links = ShareLinks(ws)
    # Its rows moved to lepton.db; the file is kept aside, owner-only and without tokens.
    kept = ws.root / "sharelinks.db.migrated"
    assert not db.exists() and "token" not in _columns(ws.root / "lepton.db")
    for x in (link, revoked):
        assert x.token.split(".")[1].encode() not in kept.read_bytes()
        assert x.token.split(".")[1].encode() not in (ws.root / "lepton.db").read_bytes()
    for path in (kept, ws.root / "share_secret"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    # The links an older Lepton handed out keep working (or stay revoked).
    assert links.verify(link.token).id == link.id
    with pytest.raises(ModelError, match="not valid"):
        links.verify(revoked.token)
    assert {x.id: x.token for x in links.list()} == {link.id: link.token, revoked.id: revoked.token}
    assert ShareLinks(ws).verify(link.token).id == link.id  # opening it again changes nothing


def test_every_store_file_is_made_owner_only_when_a_store_opens_it(tmp_path):
    from lepton_core.jobs import JobStore
    from lepton_core.workspace import ApiKeyStore

    ws = Workspace(tmp_path / "ws")
    opens = {
        "lepton.db": [
            lambda: ApiKeyStore(ws).list(),
            lambda: ShareLinks(ws).list(),
            lambda: JobStore(ws).list(),
        ],
        "share_secret": [lambda: ShareLinks(ws)],
    }
    for name, uses in opens.items():
        for use in uses:
            use()
            assert stat.S_IMODE((ws.root / name).stat().st_mode) == 0o600, name
            (ws.root / name).chmod(0o644)
            use()
            assert stat.S_IMODE((ws.root / name).stat().st_mode) == 0o600, name
