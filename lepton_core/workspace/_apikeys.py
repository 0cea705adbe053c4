"""API keys for the REST API: created and revoked on the Deploy page, stored hashed.

A key is shown once when it is created; the workspace keeps only its SHA-256
(a key is 256 random bits, so a fast hash is enough: there is nothing to
guess) in ``<workspace>/apikeys.db`` (mode 0600). Requests send it as
``Authorization: Bearer <key>``. A key may expire (chosen when it is created)
and records when it was last used, at most once a minute so that a busy client
does not turn every request into a write.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

from lepton_core.core import JsonMixin, sqlite_connection
from lepton_core.workspace._workspace import Workspace

__all__ = ["KEY_EXPIRY_CHOICES", "ApiKey", "ApiKeyStore"]

_PREFIX = "lk_"
_DAY = 86_400.0
#: Expiry choices offered on the Deploy page, in seconds (None: the key never expires).
KEY_EXPIRY_CHOICES: dict[str, float | None] = {
    "30 days": 30 * _DAY,
    "90 days": 90 * _DAY,
    "365 days": 365 * _DAY,
    "Never": None,
}
#: Seconds between two writes of a key's last-used time.
LAST_USED_EVERY_S = 60.0
_COLUMNS = "id, name, hint, created, revoked, last_used, expires"


@dataclass
class ApiKey(JsonMixin):
    """One API key as listed: never the key itself, only its first characters.

    Attributes
    ----------
    created, revoked, last_used, expires : float or None
        Unix times; ``expires`` None means the key never expires, ``last_used`` is
        precise to a minute.
    """

    id: str
    name: str
    hint: str
    created: float
    revoked: float | None = None
    last_used: float | None = None
    expires: float | None = None

    @property
    def expired(self) -> bool:
        return self.expires is not None and self.expires <= time.time()

    @property
    def active(self) -> bool:
        return self.revoked is None and not self.expired


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a key file written by an older Lepton up to the current columns."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(keys)")}
    if "expires" not in columns:  # before key expiry: those keys never expire
        db.execute("ALTER TABLE keys ADD COLUMN expires REAL")


class ApiKeyStore:
    """The workspace's API keys.

    Parameters
    ----------
    workspace : Workspace
        Keys live in ``apikeys.db`` in its folder.
    """

    def __init__(self, workspace: Workspace):
        self.path: Path = workspace.root / "apikeys.db"
        with sqlite_connection(self.path) as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS keys (id TEXT PRIMARY KEY, name TEXT, hint TEXT, "
                "hash TEXT UNIQUE, created REAL, revoked REAL, last_used REAL, expires REAL)"
            )
            _migrate(db)

    def create(self, name: str = "", *, expires_in: float | None = None) -> tuple[ApiKey, str]:
        """Create a key; return its listing and the key itself (shown once, never stored).

        Parameters
        ----------
        name : str
            A label for the list on the Deploy page.
        expires_in : float or None
            Seconds until the key stops working; None for a key that never expires.
        """
        if expires_in is not None and not expires_in > 0:
            raise ValueError(f"expires_in must be positive, got {expires_in}")
        token = _PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        key = ApiKey(
            id=secrets.token_hex(6),
            name=(name or "key").strip()[:80],
            hint=token[: len(_PREFIX) + 4] + "…",
            created=now,
            expires=None if expires_in is None else now + expires_in,
        )
        with sqlite_connection(self.path) as db:
            db.execute(
                "INSERT INTO keys (id, name, hint, hash, created, expires) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (key.id, key.name, key.hint, _hash(token), key.created, key.expires),
            )
        return key, token

    def list(self) -> list[ApiKey]:
        """Every key, newest first, revoked and expired ones included."""
        with sqlite_connection(self.path) as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM keys ORDER BY created DESC").fetchall()
        return [ApiKey(*row) for row in rows]

    def revoke(self, key_id: str) -> None:
        """Revoke a key: requests sending it get 401 from then on."""
        with sqlite_connection(self.path) as db:
            db.execute(
                "UPDATE keys SET revoked = ? WHERE id = ? AND revoked IS NULL",
                (time.time(), key_id),
            )

    def find(self, token: str | None) -> ApiKey | None:
        """The key matching ``token`` whatever its state (revoked, expired), or None.

        Records nothing: use :meth:`verify` to let a request in.
        """
        if not _plausible(token):
            return None
        with sqlite_connection(self.path) as db:
            return _lookup(db, token)

    def verify(self, token: str | None) -> ApiKey | None:
        """The active (unrevoked, unexpired) key matching ``token``, or None; records its use."""
        if not _plausible(token):
            return None
        with sqlite_connection(self.path) as db:
            key = _lookup(db, token)
            if key is None or not key.active:
                return None
            now = time.time()
            if key.last_used is None or now - key.last_used >= LAST_USED_EVERY_S:
                db.execute("UPDATE keys SET last_used = ? WHERE id = ?", (now, key.id))
                key.last_used = now
        return key


def _plausible(token: str | None) -> TypeGuard[str]:
    return token is not None and token.startswith(_PREFIX) and len(token) <= 200


def _lookup(db: sqlite3.Connection, token: str) -> ApiKey | None:
    # Looked up by hash: the comparison never touches the secret itself.
    row = db.execute(f"SELECT {_COLUMNS} FROM keys WHERE hash = ?", (_hash(token),)).fetchone()
    return None if row is None else ApiKey(*row)
