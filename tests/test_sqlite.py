"""The one SQLite connection helper behind the jobs, API key and share link stores."""

from __future__ import annotations

import os
import sqlite3
import stat
from contextlib import closing

import pytest

from lepton_core.core import WorkspaceError, sqlite_connection
from lepton_core.jobs import JobStore
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
    for name in ("jobs.db", "apikeys.db", "sharelinks.db"):
        assert _mode(ws.root / name) == 0o600, name
        # No connection is left open: the last one to close removed the WAL file.
        assert not (ws.root / f"{name}-wal").exists(), name
        with closing(sqlite3.connect(ws.root / name)) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal", name
