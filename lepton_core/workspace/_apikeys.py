"""API keys for the REST API: created and revoked on the Deploy page, stored hashed.

A key is shown once when it is created; the workspace keeps only its SHA-256
(a key is 256 random bits, so a fast hash is enough: there is nothing to
guess) in ``<workspace>/apikeys.db``. Requests send it as
``Authorization: Bearer <key>``.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from lepton_core.core import JsonMixin, sqlite_connection
from lepton_core.workspace._workspace import Workspace

__all__ = ["ApiKey", "ApiKeyStore"]

_PREFIX = "lk_"


@dataclass
class ApiKey(JsonMixin):
    """One API key as listed: never the key itself, only its first characters."""

    id: str
    name: str
    hint: str
    created: float
    revoked: float | None = None
    last_used: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked is None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


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
                "hash TEXT UNIQUE, created REAL, revoked REAL, last_used REAL)"
            )

    def create(self, name: str = "") -> tuple[ApiKey, str]:
        """Create a key; return its listing and the key itself (shown once, never stored)."""
        token = _PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            id=secrets.token_hex(6),
            name=(name or "key").strip()[:80],
            hint=token[: len(_PREFIX) + 4] + "…",
            created=time.time(),
        )
        with sqlite_connection(self.path) as db:
            db.execute(
                "INSERT INTO keys VALUES (?, ?, ?, ?, ?, NULL, NULL)",
                (key.id, key.name, key.hint, _hash(token), key.created),
            )
        return key, token

    def list(self) -> list[ApiKey]:
        """Every key, newest first, revoked ones included."""
        with sqlite_connection(self.path) as db:
            rows = db.execute(
                "SELECT id, name, hint, created, revoked, last_used FROM keys ORDER BY created DESC"
            ).fetchall()
        return [ApiKey(*row) for row in rows]

    def revoke(self, key_id: str) -> None:
        """Revoke a key: requests sending it get 401 from then on."""
        with sqlite_connection(self.path) as db:
            db.execute(
                "UPDATE keys SET revoked = ? WHERE id = ? AND revoked IS NULL",
                (time.time(), key_id),
            )

    def verify(self, token: str | None) -> ApiKey | None:
        """The active key matching ``token``, or None."""
        if not token or not token.startswith(_PREFIX) or len(token) > 200:
            return None
        # Looked up by hash: the comparison never touches the secret itself.
        with sqlite_connection(self.path) as db:
            row = db.execute(
                "SELECT id, name, hint, created, revoked, last_used FROM keys WHERE hash = ?",
                (_hash(token),),
            ).fetchone()
            if row is None or row[4] is not None:
                return None
            now = time.time()
            if row[5] is None or now - row[5] > 60:  # bounded writes under load
                db.execute("UPDATE keys SET last_used = ? WHERE id = ?", (now, row[0]))
        return ApiKey(*row)
