"""API keys for the REST API: created and revoked on the Deploy page, stored hashed.

A key is shown once when it is created; the workspace keeps only its SHA-256
(a key is 256 random bits, so a fast hash is enough: there is nothing to
guess) in the ``keys`` table of Lepton's database (``<workspace>/lepton.db``, mode
0600, or the team's server: see :mod:`lepton_core.workspace._database`), with who
created it; creating and revoking a key are recorded in the audit log. Requests send it as
``Authorization: Bearer <key>``. A key may expire (chosen when it is created)
and records when it was last used, at most once a minute so that a busy client
does not turn every request into a write.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

import sqlalchemy as sa

from lepton_core.core import JsonMixin
from lepton_core.workspace._audit import record_in
from lepton_core.workspace._database import open_database
from lepton_core.workspace._tables import keys_table
from lepton_core.workspace._workspace import Workspace

__all__ = ["KEY_EXPIRY_CHOICES", "KEY_ROLES", "ApiKey", "ApiKeyStore"]

_PREFIX = "lk_"
_DAY = 86_400.0
#: Expiry choices offered on the Deploy page, in seconds (None: the key never expires).
KEY_EXPIRY_CHOICES: dict[str, float | None] = {
    "30 days": 30 * _DAY,
    "90 days": 90 * _DAY,
    "365 days": 365 * _DAY,
    "Never": None,
}
#: What a key may do. ``predict``: call the published model versions (predict, explain,
#: batch, their schema) and list those; ``full``: every route, any version, published or
#: not (the team's own scripts and tests). Keys made before roles existed are ``full``.
KEY_ROLES = ("predict", "full")
#: Seconds between two writes of a key's last-used time.
LAST_USED_EVERY_S = 60.0
_LISTED = [
    keys_table.c[name]
    for name in (
        "id",
        "name",
        "hint",
        "created",
        "revoked",
        "last_used",
        "expires",
        "role",
        "created_by",
    )
]


@dataclass
class ApiKey(JsonMixin):
    """One API key as listed: never the key itself, only its first characters.

    Attributes
    ----------
    created, revoked, last_used, expires : float or None
        Unix times; ``expires`` None means the key never expires, ``last_used`` is
        precise to a minute.
    role : str
        One of :data:`KEY_ROLES`.
    created_by : str
        Who created it (empty: the local owner).
    """

    id: str
    name: str
    hint: str
    created: float
    revoked: float | None = None
    last_used: float | None = None
    expires: float | None = None
    role: str = "full"
    created_by: str = ""

    @property
    def expired(self) -> bool:
        return self.expires is not None and self.expires <= time.time()

    @property
    def active(self) -> bool:
        return self.revoked is None and not self.expired


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class ApiKeyStore:
    """The workspace's API keys.

    Parameters
    ----------
    workspace : Workspace
        Keys live in its database (``lepton.db`` in its folder by default).
    """

    def __init__(self, workspace: Workspace):
        self._db = open_database(workspace.root)
        #: The SQLite file the keys are in; None on a database server.
        self.path: Path | None = self._db.path

    def create(
        self,
        name: str = "",
        *,
        expires_in: float | None = None,
        created_by: str = "",
        role: str = "full",
    ) -> tuple[ApiKey, str]:
        """Create a key; return its listing and the key itself (shown once, never stored).

        Parameters
        ----------
        name : str
            A label for the list on the Deploy page.
        expires_in : float or None
            Seconds until the key stops working; None for a key that never expires.
        created_by : str
            Who asked for it, for the audit log (empty: the local owner).
        role : str
            What it may do: ``"predict"`` or ``"full"`` (see :data:`KEY_ROLES`).
        """
        if expires_in is not None and not expires_in > 0:
            raise ValueError(f"expires_in must be positive, got {expires_in}")
        if role not in KEY_ROLES:
            raise ValueError(f"role must be one of {KEY_ROLES}, got {role!r}")
        token = _PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        key = ApiKey(
            id=secrets.token_hex(6),
            name=(name or "key").strip()[:80],
            hint=token[: len(_PREFIX) + 4] + "…",
            created=now,
            expires=None if expires_in is None else now + expires_in,
            role=role,
            created_by=created_by,
        )
        with self._db.begin() as conn:
            conn.execute(
                sa.insert(keys_table).values(
                    id=key.id,
                    name=key.name,
                    hint=key.hint,
                    hash=_hash(token),
                    created=key.created,
                    expires=key.expires,
                    created_by=created_by,
                    role=role,
                )
            )
            record_in(
                conn,
                created_by,
                "key.created",
                key.id,
                {"name": key.name, "expires": key.expires, "role": role},
            )
        return key, token

    def list(self) -> list[ApiKey]:
        """Every key, newest first, revoked and expired ones included."""
        query = sa.select(*_LISTED).order_by(keys_table.c.created.desc())
        with self._db.begin() as conn:
            rows = conn.execute(query).all()
        return [ApiKey(*row) for row in rows]

    def revoke(self, key_id: str, *, by: str = "") -> None:
        """Revoke a key: requests sending it get 401 from then on.

        ``by`` is who revoked it, for the audit log (empty: the local owner).
        """
        with self._db.begin() as conn:
            done = conn.execute(
                sa.update(keys_table)
                .where(keys_table.c.id == key_id, keys_table.c.revoked.is_(None))
                .values(revoked=time.time())
            )
            if done.rowcount:
                record_in(conn, by, "key.revoked", key_id)

    def find(self, token: str | None) -> ApiKey | None:
        """The key matching ``token`` whatever its state (revoked, expired), or None.

        Records nothing: use :meth:`verify` to let a request in.
        """
        if not _plausible(token):
            return None
        with self._db.begin() as conn:
            return _lookup(conn, token)

    def verify(self, token: str | None) -> ApiKey | None:
        """The active (unrevoked, unexpired) key matching ``token``, or None; records its use."""
        if not _plausible(token):
            return None
        with self._db.begin() as conn:
            key = _lookup(conn, token)
            if key is None or not key.active:
                return None
            now = time.time()
            if key.last_used is None or now - key.last_used >= LAST_USED_EVERY_S:
                conn.execute(
                    sa.update(keys_table).where(keys_table.c.id == key.id).values(last_used=now)
                )
                key.last_used = now
        return key


def _plausible(token: str | None) -> TypeGuard[str]:
    return token is not None and token.startswith(_PREFIX) and len(token) <= 200


def _lookup(conn: sa.Connection, token: str) -> ApiKey | None:
    # Looked up by hash: the comparison never touches the secret itself.
    row = conn.execute(sa.select(*_LISTED).where(keys_table.c.hash == _hash(token))).first()
    return None if row is None else ApiKey(*row)
