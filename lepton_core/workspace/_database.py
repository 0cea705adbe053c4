"""Lepton's own tables (jobs, API keys, share links, audit, predictions) in one SQLAlchemy database.

By default the database is ``<workspace>/lepton.db``, a SQLite file (mode 0600: it
holds key hashes and job commands) opened through
:func:`lepton_core.core.open_sqlite` (WAL, busy timeout). ``$LEPTON_DATABASE_URL``
points a team's Lepton at a server instead, e.g.
``postgresql+psycopg://lepton@db.example.org/lepton``.

The schema is made by the Alembic revisions in ``migrations/``, applied when a process
first opens a database, under the database's write lock so two processes never both
apply them. A workspace written before this module (``jobs.db``, ``apikeys.db``,
``sharelinks.db``) has its rows copied in once, in one transaction, and its old
files kept as ``*.db.migrated``.

One engine per URL lives as long as the process, so a page polling the jobs table
once a second pays for one query, not for an engine or a migration check.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import NullPool

from lepton_core.core import WorkspaceError, open_sqlite
from lepton_core.workspace._tables import audit_table, jobs_table, keys_table, links_table

__all__ = [
    "DATABASE_FILE",
    "ENV_DATABASE_URL",
    "LEGACY_FILES",
    "Database",
    "close_databases",
    "database_url",
    "open_database",
    "utcnow",
]

#: Environment variable naming the database server (a SQLAlchemy URL).
ENV_DATABASE_URL = "LEPTON_DATABASE_URL"
#: The workspace's own database file when no server is named.
DATABASE_FILE = "lepton.db"
#: Alembic's bookkeeping table; not ``alembic_version``, which an MLflow database uses.
VERSION_TABLE = "lepton_alembic_version"
#: The newest revision in ``migrations/versions`` (a test checks they agree): a database
#: already there is opened without importing Alembic.
HEAD = "0002"
#: The per-store files of older workspaces, the table each held, and where its rows go.
LEGACY_FILES: dict[str, tuple[str, sa.Table]] = {
    "jobs.db": ("jobs", jobs_table),
    "apikeys.db": ("keys", keys_table),
    "sharelinks.db": ("links", links_table),
}
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_LOCK_OPTION = "lepton_lock"


@dataclass(frozen=True)
class Database:
    """One database of Lepton's own tables: an engine and, for SQLite, its file.

    Attributes
    ----------
    engine : sqlalchemy.Engine
        Shared by every store of the process that uses this URL.
    path : Path or None
        The SQLite file; None for a database server.
    """

    engine: sa.Engine
    path: Path | None

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        # An engine cannot be pickled, and a store that holds one travels to other
        # processes (Ray's Auto trials carry the job's callbacks): the copy opens the same
        # URL there.
        if self.path is not None:  # the engine's own URL does not name the file it opens
            url = sa.URL.create("sqlite", database=str(self.path)).render_as_string()
        else:
            url = self.engine.url.render_as_string(hide_password=False)
        return (_reopen, (url,))

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"`` (or another SQLAlchemy dialect's name)."""
        return self.engine.dialect.name

    @property
    def where(self) -> str:
        """The database for a message: its file, or its URL without the password."""
        if self.path is not None:
            return str(self.path)
        return self.engine.url.render_as_string(hide_password=True)

    @contextlib.contextmanager
    def begin(self, *, lock: str | None = None) -> Iterator[sa.Connection]:
        """A connection in a transaction, committed when the block ends normally.

        Parameters
        ----------
        lock : str, optional
            Serialise the whole block with every other block that names a lock: SQLite
            takes its write lock at once (``BEGIN IMMEDIATE``), PostgreSQL an advisory
            lock named by this string, held until the transaction ends.

        Raises
        ------
        WorkspaceError
            The database cannot be reached, or stayed locked past the busy timeout.
        """
        try:
            with self.engine.connect() as conn:
                if lock is not None:
                    conn = conn.execution_options(**{_LOCK_OPTION: lock})
                with conn.begin():
                    if lock is not None and self.dialect == "postgresql":
                        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(lock))))
                    yield conn
        except sa.exc.OperationalError as exc:
            raise WorkspaceError(
                f"Lepton's database {self.where} is not available ({_reason(exc)}); check "
                f"that it is running and reachable, or unset {ENV_DATABASE_URL}."
                if self.path is None
                else f"Lepton's database {self.where} cannot be used ({_reason(exc)}); try "
                "again, and if it keeps happening check the workspace folder's permissions "
                "and free disk space."
            ) from exc


def database_url(root: str | os.PathLike[str]) -> str:
    """``$LEPTON_DATABASE_URL`` if set, else the SQLite file ``lepton.db`` in ``root``."""
    configured = os.environ.get(ENV_DATABASE_URL, "").strip()
    if configured:
        return configured
    return sa.URL.create("sqlite", database=str(Path(root) / DATABASE_FILE)).render_as_string()


_lock = threading.Lock()
_databases: dict[str, Database] = {}
_imported: set[tuple[str, Path]] = set()


def open_database(root: str | os.PathLike[str]) -> Database:
    """The database of the workspace at ``root``, migrated and with older files copied in.

    Cheap after the first call in a process: the engine is cached per URL, the schema is
    checked once per URL and older files are looked for once per workspace.

    Raises
    ------
    WorkspaceError
        The URL is not one Lepton can use, or the database cannot be reached.
    """
    root = Path(root)
    url = database_url(root)
    with _lock:
        db = _open_url(url)
        if (url, root) not in _imported:
            _import_legacy(db, root)
            _imported.add((url, root))
    return db


def _open_url(url: str) -> Database:
    """The cached, migrated database at ``url`` (the caller holds ``_lock``)."""
    db = _databases.get(url)
    # A SQLite file deleted under a running process (a workspace removed and made
    # again) must get its tables back.
    if db is None or (db.path is not None and not db.path.exists()):
        if db is not None:
            db.engine.dispose()
        db = _connect(url)
        _migrate(db)  # cached only once migrated: a failed open is tried again next time
        _databases[url] = db
        _imported.difference_update({k for k in _imported if k[0] == url})
    return db


def _reopen(url: str) -> Database:
    """A pickled Database, opened again in the process that unpickles it."""
    with _lock:
        return _open_url(url)


def _after_fork() -> None:
    # A forked child (a DataLoader worker, say) must not use or close its parent's pooled
    # server connections: it would break them for the parent. It opens its own if needed.
    for db in _databases.values():
        db.engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork)


def close_databases(url: str | None = None) -> None:
    """Close the cached engines (every one, or ``url``'s); the next open connects anew."""
    with _lock:
        for key in [k for k in _databases if url is None or k == url]:
            _databases.pop(key).engine.dispose()
        _imported.difference_update({k for k in _imported if url is None or k[0] == url})


def _connect(url: str) -> Database:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise WorkspaceError(
            f"{ENV_DATABASE_URL} is not a database URL ({url!r}); set it to one such as "
            "postgresql+psycopg://user@host/lepton, or unset it."
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    if parsed.drivername in ("postgresql", "postgres"):  # psycopg (3) is the driver Lepton ships
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        engine = sa.create_engine(parsed, pool_size=5, max_overflow=10, pool_recycle=1800)
    except (ImportError, sa.exc.NoSuchModuleError) as exc:
        raise WorkspaceError(
            f"The database driver for {parsed.drivername} is not installed ({exc}); install "
            "it (for PostgreSQL: pip install 'psycopg[binary]') or unset "
            f"{ENV_DATABASE_URL}."
        ) from exc
    return Database(engine, None)


def _sqlite_engine(url: sa.URL) -> Database:
    if not url.database or url.database == ":memory:":
        raise WorkspaceError(
            f"{ENV_DATABASE_URL} names an in-memory SQLite database, which no other process "
            "can see; name a file (sqlite:////path/to/lepton.db) or unset it."
        )
    path = Path(url.database).resolve()
    # NullPool: a connection lives for one block, as the per-file stores' did. Opening a
    # SQLite file costs microseconds, no handle survives a fork or a deleted workspace,
    # and the last close folds the WAL back into the file.
    engine = sa.create_engine(
        "sqlite://",
        creator=lambda: open_sqlite(path, check_same_thread=False),
        poolclass=NullPool,
    )

    # The driver begins a transaction at the first write, as the per-file stores did, so
    # a block that reads and then writes never holds a read snapshot that another
    # writer makes stale ("database is locked" at once, whatever the busy timeout). A
    # block that names a lock begins with BEGIN IMMEDIATE instead: the write lock comes
    # before its first read, which a claim of the next queued job needs.
    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        if conn.get_execution_options().get(_LOCK_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return Database(engine, path)


def _migrate(db: Database) -> None:
    """Bring the schema to :data:`HEAD`, under the database's write lock."""
    with contextlib.suppress(WorkspaceError), db.begin() as conn:
        if _revision(conn) == HEAD:
            return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("version_table", VERSION_TABLE)
    with db.begin(lock="lepton.migrate") as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def _revision(conn: sa.Connection) -> str | None:
    try:
        return conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    except sa.exc.DBAPIError:  # a new database: no version table yet (the block rolls back)
        return None


def _import_legacy(db: Database, root: Path) -> None:
    """Copy the rows of an older workspace's per-store files in once, then set them aside."""
    found, rows = [], {}
    for file_name, (name, table) in LEGACY_FILES.items():
        path = root / file_name
        if path.is_file() and (read := _read_legacy(path, name, table)) is not None:
            found.append((path, name, table))
            rows[table.name] = read
    if not found:
        return
    with db.begin(lock="lepton.import") as conn:
        copied = {}
        for path, _, table in found:
            batch = rows[table.name]
            ids = [row["id"] for row in batch]
            have = set(conn.execute(sa.select(table.c.id).where(table.c.id.in_(ids))).scalars())
            new = [row for row in batch if row["id"] not in have]
            if new:
                conn.execute(sa.insert(table), new)
            copied[path.name] = len(new)
        conn.execute(
            sa.insert(audit_table).values(
                at=utcnow(),
                actor="Lepton",
                action="tables.imported",
                target=str(root),
                detail={"copied": copied},
            )
        )
    for path, name, _ in found:
        _set_aside(path, name)


def _read_legacy(path: Path, name: str, table: sa.Table) -> list[dict[str, Any]] | None:
    """The rows of an older store, oldest first; None when another process set it aside."""
    columns = set(table.c.keys()) - {"seq"}
    try:
        with contextlib.closing(_open_existing(path)) as conn:
            conn.row_factory = sqlite3.Row
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
            ).fetchone()
            if exists is None:
                return []
            # Oldest first, so the jobs queue keeps its order (new seq values follow rowid).
            found = conn.execute(f"SELECT * FROM {name} ORDER BY rowid").fetchall()
    except FileNotFoundError:
        return None
    except sqlite3.Error as exc:
        raise WorkspaceError(
            f"The older store {path} cannot be read ({exc}); move it out of the workspace "
            "folder to go on without its rows."
        ) from exc
    return [{k: v for k, v in dict(row).items() if k in columns} for row in found]


def _set_aside(path: Path, name: str) -> None:
    """Keep an imported file as ``<name>.migrated``, owner-only and with no share tokens."""
    try:
        if name == "links":
            # An older Lepton stored each link's token; a kept copy must not hold them.
            with contextlib.closing(_open_existing(path)) as conn:
                columns = {row[1] for row in conn.execute("PRAGMA table_info(links)")}
                if "token" in columns:
                    conn.execute("UPDATE links SET token = NULL")
                    conn.execute("VACUUM")  # freed pages would still hold the tokens
        target = path.with_name(path.name + ".migrated")
        for n in range(2, 100):  # never replace a copy set aside before
            if not target.exists():
                break
            target = path.with_name(f"{path.name}.migrated.{n}")
        path.rename(target)
        target.chmod(0o600)
    except FileNotFoundError:  # another process set it aside first
        return
    except (OSError, sqlite3.Error) as exc:
        raise WorkspaceError(
            f"The older store {path} was copied into Lepton's database but cannot be set "
            f"aside ({exc}); rename it to {path.name}.migrated."
        ) from exc


def _open_existing(path: Path) -> sqlite3.Connection:
    """A connection to an existing file; FileNotFoundError, not a new empty file, if gone."""
    try:
        uri = f"{path.resolve().as_uri()}?mode=rw"
        return sqlite3.connect(uri, uri=True, isolation_level=None)
    except sqlite3.OperationalError:
        if not path.exists():
            raise FileNotFoundError(path) from None
        raise


def _lock_key(name: str) -> int:
    # A stable signed 64-bit key: Python's hash() differs between processes.
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _reason(exc: sa.exc.DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)


def utcnow() -> datetime:
    """Now, in UTC, as the audit log stores it."""
    return datetime.now(UTC)
