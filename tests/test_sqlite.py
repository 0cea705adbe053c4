"""The one SQLite connection helper, behind Lepton's own tables in ``lepton.db``."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from contextlib import closing

import pytest

from lepton_core.core import WorkspaceError, sqlite_connection
from lepton_core.jobs import JobStore
from lepton_core.runs import TrainConfig
from lepton_core.workspace import ApiKeyStore, ShareLinks, Workspace


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_connection_is_wal_owner_only_and_closed_after_use(tmp_path):
    path = tmp_path / "store.db"
    with sqlite_connection(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000
        conn.execute("CREATE TABLE t (x INTEGER)")
        conn.execute("INSERT INTO t VALUES (1)")
    assert _mode(path) == 0o600
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        conn.execute("SELECT 1")
    # Committed by the block that wrote it; the last close folds the WAL back in.
    assert not (tmp_path / "store.db-wal").exists()
    with sqlite_connection(path) as conn:
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]


def test_an_error_rolls_back_and_still_closes(tmp_path):
    path = tmp_path / "store.db"
    with sqlite_connection(path) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
    with pytest.raises(RuntimeError), sqlite_connection(path) as conn:
        conn.execute("INSERT INTO t VALUES (1)")
        raise RuntimeError("stop")
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        conn.execute("SELECT 1")
    with sqlite_connection(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0


def test_a_store_that_cannot_be_created_says_what_to_check(tmp_path):
    missing = tmp_path / "missing" / "store.db"
    with (
        pytest.raises(WorkspaceError, match="check the workspace folder's permissions"),
        sqlite_connection(missing),
    ):
        pass


def test_every_store_opens_its_file_through_it(tmp_path):
    ws = Workspace(tmp_path / "ws")
    store = JobStore(ws)
    store.list()
    keys = ApiKeyStore(ws)
    keys.verify(keys.create("k")[1])
    links = ShareLinks(ws)
    links.verify(links.create("m", 1, expires_in=60).token)
    # One database for the three stores, none of the old per-store files.
    assert sorted(p.name for p in ws.root.glob("*.db*")) == ["lepton.db"]
    path = ws.root / "lepton.db"
    assert _mode(path) == 0o600
    # No connection is left open: the last one to close removed the WAL file.
    assert not (ws.root / "lepton.db-wal").exists()
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # A file left readable by others is made owner-only again when a store opens it.
    path.chmod(0o644)
    keys.list()
    assert _mode(path) == 0o600


def test_concurrent_writers_wait_instead_of_failing(tmp_path):
    ws = Workspace(tmp_path / "ws")
    keys, links, jobs = ApiKeyStore(ws), ShareLinks(ws), JobStore(ws)
    job_id = jobs.create(TrainConfig(data="unused"), ["true"]).id
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def write(i: int) -> None:
        start.wait()
        try:
            for n in range(15):
                if i % 3 == 0:
                    keys.verify(keys.create(f"k{i}-{n}")[1])
                elif i % 3 == 1:
                    links.revoke(links.create("m", n + 1, expires_in=60).id)
                else:
                    jobs.update(job_id, heartbeat=float(n), progress={"step": n})
        except BaseException as exc:  # "database is locked" would land here
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(keys.list()) == 30 and len(links.list()) == 30
