"""Lepton's own tables: one SQLAlchemy database, made by Alembic, on SQLite or PostgreSQL.

Every store test here runs twice: on the workspace's SQLite file and on a throw-away
PostgreSQL server (the ``postgres_url`` fixture in conftest.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sqlite3
import stat
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa

from lepton_core.core import ModelError, WorkspaceError
from lepton_core.jobs import JobStore
from lepton_core.runs import TrainConfig
from lepton_core.workspace import (
    ApiKeyStore,
    AuditLog,
    ShareLinks,
    Workspace,
    close_databases,
    database_url,
    open_database,
)
from lepton_core.workspace._database import HEAD, VERSION_TABLE


@pytest.fixture(params=["sqlite", "postgresql"])
def ws(request, tmp_path, monkeypatch) -> Workspace:
    """A new workspace whose tables are in its own lepton.db, or on a new PostgreSQL database."""
    if request.param == "postgresql":
        monkeypatch.setenv("LEPTON_DATABASE_URL", request.getfixturevalue("postgres_url"))
    return Workspace(tmp_path / "ws")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- the database and its schema ------------------------------------------------------------
def test_a_new_database_gets_the_newest_revision_and_matches_the_tables(ws):
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from lepton_core.workspace._tables import metadata

    db = open_database(ws.root)
    config = Config()
    config.set_main_option("script_location", "lepton_core:workspace/migrations")
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        assert context.get_current_revision() == HEAD
        # The Table objects the stores query are the schema the revisions made.
        assert compare_metadata(context, metadata) == []
        assert set(sa.inspect(conn).get_table_names()) == {
            "jobs",
            "keys",
            "links",
            "audit",
            "predictions",
            VERSION_TABLE,
        }


def test_the_revision_goes_down_and_up_again(ws):
    from alembic import command
    from alembic.config import Config

    db = open_database(ws.root)
    config = Config()
    config.set_main_option("script_location", "lepton_core:workspace/migrations")
    config.set_main_option("version_table", VERSION_TABLE)
    every = {"jobs", "keys", "links", "audit", "predictions"}
    for target, tables in (("base", set()), ("head", every)):
        with db.begin(lock="test") as conn:
            config.attributes["connection"] = conn
            getattr(command, "downgrade" if target == "base" else "upgrade")(config, target)
        with db.begin() as conn:
            assert set(sa.inspect(conn).get_table_names()) - {VERSION_TABLE} == tables


def test_the_default_is_an_owner_only_sqlite_file_in_the_workspace(tmp_path, monkeypatch):
    monkeypatch.delenv("LEPTON_DATABASE_URL", raising=False)
    ws = Workspace(tmp_path / "ws")
    assert database_url(ws.root) == f"sqlite:///{ws.root / 'lepton.db'}"
    db = open_database(ws.root)
    assert db.path == (ws.root / "lepton.db").resolve() and db.dialect == "sqlite"
    assert _mode(db.path) == 0o600
    with db.begin() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
    # One engine per URL for the life of the process.
    assert open_database(ws.root) is db
    monkeypatch.setenv("LEPTON_DATABASE_URL", f"sqlite:///{tmp_path / 'team.db'}")
    assert database_url(ws.root) == f"sqlite:///{tmp_path / 'team.db'}"
    assert open_database(ws.root).path == tmp_path / "team.db"


def test_an_up_to_date_database_opens_without_running_alembic(tmp_path, monkeypatch):
    import alembic.command

    ws = Workspace(tmp_path / "ws")
    open_database(ws.root)
    close_databases(database_url(ws.root))  # as a new process would find it

    def refuse(*args, **kwargs):
        raise AssertionError("migrations ran again")

    monkeypatch.setattr(alembic.command, "upgrade", refuse)
    assert open_database(ws.root).path == (ws.root / "lepton.db").resolve()


def test_a_deleted_database_file_is_made_again(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ApiKeyStore(ws).create("k")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{ws.root / 'lepton.db'}{suffix}").unlink(missing_ok=True)
    assert ApiKeyStore(ws).list() == []


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql+psycopg://lepton@127.0.0.1:1/lepton", "is not available"),
        ("not a url", "is not a database URL"),
        ("sqlite://", "in-memory SQLite database"),
        ("mysql+nosuchdriver://x@y/z", r"driver for mysql\+nosuchdriver is not installed"),
    ],
)
def test_a_database_that_cannot_be_used_says_what_to_do(tmp_path, monkeypatch, url, says):
    monkeypatch.setenv("LEPTON_DATABASE_URL", url)
    with pytest.raises(WorkspaceError, match=says) as caught:
        ApiKeyStore(Workspace(tmp_path / "ws"))
    assert "LEPTON_DATABASE_URL" in str(caught.value)
    assert "\n" not in str(caught.value)


# -- keys, links, jobs on both databases ----------------------------------------------------
def test_keys_authenticate_until_revoked_and_say_who_made_them(ws):
    store = ApiKeyStore(ws)
    key, token = store.create("ci", expires_in=3600, created_by="ann")
    assert store.verify(token).id == key.id
    assert store.verify(token).last_used == pytest.approx(time.time(), abs=5)
    assert store.verify("lk_" + "x" * 43) is None
    store.revoke(key.id, by="bob")
    assert store.verify(token) is None and store.find(token).revoked is not None
    [listed] = ApiKeyStore(ws).list()
    assert listed.id == key.id and not listed.active
    with open_database(ws.root).begin() as conn:
        assert conn.execute(sa.text("SELECT created_by FROM keys")).scalar() == "ann"


def test_links_resolve_until_revoked(ws):
    links = ShareLinks(ws)
    link = links.create("adult", 3, expires_in=60, created_by="ann")
    public = links.create("adult", 3, expires_in=None, public=True)
    assert links.verify(link.token).id == link.id
    # The token signs the stored expiry, so the float must come back bit for bit.
    assert ShareLinks(ws).list("adult", 3)[1].expires == link.expires
    links.revoke(link.id)
    with pytest.raises(ModelError, match="not valid"):
        links.verify(link.token)
    assert links.verify(public.token).id == public.id
    assert [x.id for x in links.list()] == [public.id, link.id]


def _queued(store: JobStore, limit: int) -> str:
    return store.create(TrainConfig(data="unused"), ["true"], owner="ann", limit=limit).id


def test_two_workers_never_claim_the_same_job_or_more_than_the_limit(ws):
    store = JobStore(ws)
    ids = [_queued(store, limit=3) for _ in range(8)]
    claimed: list[str] = []
    start = threading.Barrier(4)

    def worker() -> None:
        mine = JobStore(ws)  # as a worker process would: its own store, then the race
        start.wait()
        while (job := mine._claim_next()) is not None:
            claimed.append(job.id)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids[:3])  # the three oldest, each once
    assert store.running() == 3
    assert [store.queue_position(i) for i in ids[3:5]] == [1, 2]
    # A finished job frees one slot, and only one.
    store.finish(ids[0], "succeeded")
    assert [JobStore(ws)._claim_next().id, JobStore(ws)._claim_next()] == [ids[3], None]


def test_a_job_keeps_its_progress_heartbeat_and_cancel(ws):
    store = JobStore(ws)
    job_id = _queued(store, limit=1)
    assert store.status(job_id) == "queued" and store.queue_position(job_id) == 1
    assert store._claim_next().id == job_id
    store.update(job_id, progress={"step": 3, "total_steps": 10}, heartbeat=123.5, pid=4321)
    job = store._job(store._row(job_id))
    assert (job.progress.step, job.heartbeat, job.pid) == (3, 123.5, 4321)
    assert store.status(job_id) == "running"
    assert store.finish(job_id, "cancelled", error="Cancelled by the user.")
    assert not store.finish(job_id, "failed")  # it had already ended
    job = store.get(job_id)
    assert (job.status, job.error, job.owner) == ("cancelled", "Cancelled by the user.", "ann")
    assert [j.id for j in store.list(owner="ann")] == [job_id] and store.list(owner="bob") == []


# -- the audit log --------------------------------------------------------------------------
def test_the_audit_log_records_keys_links_and_jobs_with_their_actor(ws):
    key, _ = ApiKeyStore(ws).create("ci", created_by="ann")
    ApiKeyStore(ws).revoke(key.id)
    links = ShareLinks(ws)
    link = links.create("adult", 2, expires_in=60, created_by="bob")
    links.revoke(link.id, by="carol")
    links.revoke(link.id, by="carol")  # already revoked: nothing happens, nothing recorded
    job_id = _queued(JobStore(ws), limit=1)
    log = AuditLog(ws)
    entries = log.list()
    assert [(e.action, e.actor, e.target) for e in entries] == [
        ("job.started", "ann", job_id),
        ("link.revoked", "carol", "adult:2"),
        ("link.created", "bob", "adult:2"),
        ("key.revoked", "local owner", key.id),
        ("key.created", "ann", key.id),
    ]
    assert entries[0].detail == {"kind": "train", "family": "lightgbm"}
    assert entries[2].detail == {"link": link.id, "expires": link.expires}
    now = time.time()
    assert all(e.at.utcoffset().total_seconds() == 0 for e in entries)
    assert all(abs(e.at.timestamp() - now) < 60 for e in entries)
    assert [e.action for e in log.list(2)] == ["job.started", "link.revoked"]
    assert [e.actor for e in log.list(actions=["key.created", "link.created"])] == ["bob", "ann"]
    assert [e.action for e in log.list(actor="")] == ["key.revoked"]
    entry = log.record("dave", "model.published", "adult:2", {"note": "ok"})
    assert log.list(1) == [entry]
    assert type(entry).from_json(entry.to_json()) == entry


def test_publishing_and_withdrawing_a_version_is_recorded_by_its_caller(ws, monkeypatch):
    from lepton_core.runs import publish
    from lepton_core.workspace import ModelVersionInfo

    def set_published(name, version, published=True):  # MLflow's part, tested elsewhere
        return ModelVersionInfo(name, version, "run1", time.time(), published)

    monkeypatch.setattr(ws, "set_published", set_published)
    assert publish(ws, "adult", 4, actor="ann").published
    assert not publish(ws, "adult", 4, False).published
    entries = AuditLog(ws).list(actions=["model.published", "model.withdrawn"])
    assert [(e.action, e.actor, e.target) for e in entries] == [
        ("model.withdrawn", "local owner", "adult:4"),
        ("model.published", "ann", "adult:4"),
    ]


# -- a workspace written before the shared database -----------------------------------------
# The three per-store files exactly as the previous release created them.
OLD_JOBS = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    config TEXT NOT NULL,
    command TEXT NOT NULL,
    pid INTEGER,
    created REAL NOT NULL,
    started REAL,
    ended REAL,
    heartbeat REAL,
    progress TEXT NOT NULL DEFAULT '{}',
    run_id TEXT,
    model_name TEXT,
    model_version INTEGER,
    error TEXT
)
"""
OLD_JOBS_ADDED = [
    "ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'train'",
    "ALTER TABLE jobs ADD COLUMN max_jobs INTEGER NOT NULL DEFAULT 1",
    "ALTER TABLE jobs ADD COLUMN executor TEXT NOT NULL DEFAULT 'local'",
    "ALTER TABLE jobs ADD COLUMN handle TEXT",
]
OLD_KEYS = (
    "CREATE TABLE IF NOT EXISTS keys (id TEXT PRIMARY KEY, name TEXT, hint TEXT, "
    "hash TEXT UNIQUE, created REAL, revoked REAL, last_used REAL, expires REAL)"
)
OLD_LINKS = (
    "CREATE TABLE IF NOT EXISTS links (id TEXT PRIMARY KEY, model TEXT, version INT, "
    "created REAL, expires REAL, revoked REAL)"
)


def _old_file(path: Path, *statements: str, rows: dict[str, list[tuple]]) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")
        for sql in statements:
            conn.execute(sql)
        for table, values in rows.items():
            for row in values:
                marks = ", ".join("?" * len(row))
                conn.execute(f"INSERT INTO {table} VALUES ({marks})", row)
    path.chmod(0o600)


def _old_token(secret: bytes, link_id: str, model: str, version: int, expires: float | None):
    """A share token as the previous release signed it."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    claims = {"l": link_id, "m": model, "v": version, "e": expires}
    payload = b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{payload}.{b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())}"


def test_an_older_workspace_keeps_every_job_key_and_link(ws):
    root, now = ws.root, time.time()
    config = json.dumps({"data": "sample:adult", "model": "lgbm"})
    progress = json.dumps({"step": 5, "total_steps": 5})
    _old_file(
        root / "jobs.db",
        OLD_JOBS,
        *OLD_JOBS_ADDED,
        rows={
            "jobs": [
                # id, status, owner, config, command, pid, created, started, ended, heartbeat,
                # progress, run_id, model_name, model_version, error, kind, max_jobs,
                # executor, handle
                ("done1", "succeeded", "ann", config, '["python"]', 11, now - 99, now - 98,
                 now - 90, now - 90, progress, "run1", "adult", 1, None, "train", 1, "local",
                 "11"),
                ("wait2", "queued", "bob", config, '["python"]', None, now - 50, None, None,
                 None, "{}", None, None, None, None, "auto", 2, "local", None),
                ("wait1", "queued", "bob", config, '["python"]', None, now - 50, None, None,
                 None, "{}", None, None, None, None, "train", 2, "local", None),
            ]
        },
    )  # fmt: skip
    token = "lk_" + "k" * 43
    digest = hashlib.sha256(token.encode()).hexdigest()
    _old_file(
        root / "apikeys.db",
        OLD_KEYS,
        rows={
            "keys": [
                ("key1", "ci", "lk_kkkk…", digest, now - 80, None, now - 70, None),
                ("key2", "old", "lk_zzzz…", "0" * 64, now - 80, now - 60, None, now + 99),
            ]
        },
    )
    secret = os.urandom(32)
    (root / "share_secret").write_bytes(secret)
    (root / "share_secret").chmod(0o600)
    expires = now + 3600.123456789
    _old_file(
        root / "sharelinks.db",
        OLD_LINKS,
        rows={"links": [("link1", "adult", 1, now - 40, expires, None)]},
    )
    link_token = _old_token(secret, "link1", "adult", 1, expires)

    jobs = JobStore(ws)
    # Every file was copied once and set aside, owner-only, never deleted.
    for name in ("jobs.db", "apikeys.db", "sharelinks.db"):
        assert not (root / name).exists(), name
        assert _mode(root / f"{name}.migrated") == 0o600, name
    done = jobs._job(jobs._row("done1"))
    assert (done.status, done.owner, done.config["model"], done.progress.step) == (
        "succeeded",
        "ann",
        "lgbm",
        5,
    )
    assert (done.run_id, done.model_name, done.model_version, done.handle) == (
        "run1",
        "adult",
        1,
        "11",
    )
    assert done.created == now - 99 and done.ended == now - 90
    # Queued jobs keep their order (equal times: the older row first) and their limits.
    assert [jobs.queue_position(i) for i in ("wait2", "wait1")] == [1, 2]
    assert jobs._job(jobs._row("wait2")).kind == "auto"
    assert jobs._job(jobs._row("wait1")).max_jobs == 2
    # The key still authenticates; the revoked one stays revoked.
    keys = ApiKeyStore(ws)
    assert keys.verify(token).name == "ci"
    assert {k.id: k.active for k in keys.list()} == {"key1": True, "key2": False}
    # The link handed out before still opens its model version.
    links = ShareLinks(ws)
    assert links.verify(link_token).id == "link1"
    assert [x.token for x in links.list()] == [link_token]
    [imported] = AuditLog(ws).list(actions=["tables.imported"])
    assert imported.detail == {"copied": {"jobs.db": 3, "apikeys.db": 2, "sharelinks.db": 1}}

    # Nothing is copied twice, by this process or by a new one.
    close_databases()
    assert len(JobStore(ws).list()) == 3 and len(ApiKeyStore(ws).list()) == 2
    assert len(AuditLog(ws).list(actions=["tables.imported"])) == 1


def test_an_older_link_file_is_set_aside_without_its_tokens(tmp_path):
    ws = Workspace(tmp_path / "ws")
    secret = os.urandom(32)
    (ws.root / "share_secret").write_bytes(secret)
    token = _old_token(secret, "link1", "adult", 1, None)
    # The layout of the release before that one: every token in the file.
    _old_file(
        ws.root / "sharelinks.db",
        "CREATE TABLE links (id TEXT PRIMARY KEY, model TEXT, version INT, created REAL, "
        "expires REAL, token TEXT, revoked REAL)",
        rows={"links": [("link1", "adult", 1, time.time(), None, token, None)]},
    )
    assert ShareLinks(ws).verify(token).id == "link1"
    kept = (ws.root / "sharelinks.db.migrated").read_bytes()
    assert token.split(".")[1].encode() not in kept
    assert not (ws.root / "lepton.db").read_bytes().count(token.split(".")[1].encode())


def test_an_unreadable_older_file_says_what_to_do(tmp_path):
    ws = Workspace(tmp_path / "ws")
    (ws.root / "jobs.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(WorkspaceError, match="move it out of the workspace folder"):
        JobStore(ws)


def test_a_file_brought_back_later_is_copied_too_and_no_copy_is_replaced(tmp_path):
    ws = Workspace(tmp_path / "ws")
    token = "lk_" + "r" * 43
    digest = hashlib.sha256(token.encode()).hexdigest()
    for key_id, key_hash in (("first", "0" * 64), ("restored", digest)):
        _old_file(
            ws.root / "apikeys.db",
            OLD_KEYS,
            rows={"keys": [(key_id, key_id, "lk_…", key_hash, time.time(), None, None, None)]},
        )
        close_databases()  # a new process finds the file
        ApiKeyStore(ws)
    assert ApiKeyStore(ws).verify(token).id == "restored"
    assert {k.id for k in ApiKeyStore(ws).list()} == {"first", "restored"}
    assert {p.name for p in ws.root.glob("apikeys.db*")} == {
        "apikeys.db.migrated",
        "apikeys.db.migrated.2",
    }


def test_a_store_travels_to_another_process_and_opens_the_same_database(tmp_path):
    # Ray's Auto trials pickle the job's callbacks, which hold a JobStore: its engine cannot
    # travel, so the copy opens the same database where it lands.
    import pickle

    from lepton_core.jobs import JobStore
    from lepton_core.workspace import Workspace

    store = JobStore(Workspace(tmp_path / "ws"))
    copy = pickle.loads(pickle.dumps(store))
    assert copy._db.where == store._db.where and copy.list() == store.list()
