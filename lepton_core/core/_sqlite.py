"""The one way a SQLite file of the workspace is opened.

Lepton's own tables (``lepton.db``, through SQLAlchemy: see
``lepton_core.workspace._database``) and any store read directly open their file here.
Every connection runs in WAL mode (readers never wait for a writer), waits up to a
busy timeout for a lock instead of failing at once, and is closed when the block
ends, so no file handle outlives its use. A database file is created readable by its
owner only, and an existing one is made so: the stores hold key hashes, share links
and job commands.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lepton_core.core._exceptions import WorkspaceError

__all__ = ["BUSY_TIMEOUT_S", "open_sqlite", "sqlite_connection"]

#: Seconds a connection waits for another process's lock before giving up.
BUSY_TIMEOUT_S = 10.0


@contextmanager
def sqlite_connection(
    path: str | os.PathLike[str],
    *,
    timeout: float = BUSY_TIMEOUT_S,
    row_factory: Any = None,
    autocommit: bool = False,
) -> Iterator[sqlite3.Connection]:
    """Open the SQLite database at ``path`` for one block of work.

    The block's changes are committed when it ends normally and rolled back when
    it raises; the connection is closed either way.

    Parameters
    ----------
    path : path-like
        The database file; created with mode 0600 when missing.
    timeout : float
        Seconds to wait for a lock held by another connection.
    row_factory : callable, optional
        For example ``sqlite3.Row``; default plain tuples.
    autocommit : bool
        No implicit transactions, for a caller that issues ``BEGIN IMMEDIATE`` itself.

    Raises
    ------
    WorkspaceError
        The file cannot be created or opened.
    """
    conn = open_sqlite(path, timeout=timeout, autocommit=autocommit)
    try:
        if row_factory is not None:
            conn.row_factory = row_factory
        with conn:  # commit on success, roll back on an error
            yield conn
    finally:
        conn.close()


def open_sqlite(
    path: str | os.PathLike[str],
    *,
    timeout: float = BUSY_TIMEOUT_S,
    autocommit: bool = False,
    check_same_thread: bool = True,
) -> sqlite3.Connection:
    """A new connection to ``path`` in WAL mode, the file owner-only; the caller closes it.

    Raises
    ------
    WorkspaceError
        The file cannot be created or opened.
    """
    path = Path(path)
    conn = None
    try:
        # sqlite3 would create the file with the umask's mode; create it first, owner-only,
        # and tighten a file an older version left readable by others (SQLite gives its
        # -wal and -shm files the database file's mode).
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_mode & 0o077:
                os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
        conn = sqlite3.connect(
            path,
            timeout=timeout,
            isolation_level=None if autocommit else "",
            check_same_thread=check_same_thread,
        )
        conn.execute("PRAGMA journal_mode=WAL")
    except (OSError, sqlite3.Error) as exc:
        if conn is not None:
            conn.close()
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise WorkspaceError(
            f"The store {path} cannot be opened ({reason}); check the workspace folder's "
            "permissions."
        ) from exc
    return conn
