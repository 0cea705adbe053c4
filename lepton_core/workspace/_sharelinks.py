"""Signed share links to a model version's demo page.

A link carries a token ``<payload>.<signature>``: the payload names the link,
the model, the version and the expiry; the signature is HMAC-SHA256 with a
secret kept in ``<workspace>/share_secret`` (mode 0600). The links are listed
in the ``links`` table of Lepton's database (``<workspace>/lepton.db``, mode 0600,
or the team's server) so they can be revoked; it holds only what verification
needs (id, model, version, times, revocation) and who created the link, never a
token: the Deploy page shows a link's URL again by signing its row anew, which
only the holder of the secret can do. A link never expires only when the user
asks for that (``public``). Creating and revoking a link are recorded in the audit log.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from lepton_core.core import JsonMixin, ModelError, WorkspaceError
from lepton_core.workspace._audit import record_in
from lepton_core.workspace._database import open_database
from lepton_core.workspace._tables import links_table
from lepton_core.workspace._workspace import Workspace

__all__ = ["EXPIRY_CHOICES", "ShareLink", "ShareLinks"]

#: Expiry choices offered on the Deploy page, in seconds (None: public, no expiry).
EXPIRY_CHOICES: dict[str, float | None] = {
    "1 day": 86_400.0,
    "7 days": 7 * 86_400.0,
    "30 days": 30 * 86_400.0,
    "Public, no expiry": None,
}
_INVALID = "This link is not valid; ask the person who shared it for a new link."
_LISTED = [
    links_table.c[name] for name in ("id", "model", "version", "created", "expires", "revoked")
]


@dataclass
class ShareLink(JsonMixin):
    """One share link: the model version it opens, when it expires, whether it is revoked.

    ``token`` is signed anew from the other fields whenever a link is read; it is never stored.
    """

    id: str
    model: str
    version: int
    created: float
    expires: float | None
    token: str
    revoked: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked is None and (self.expires is None or self.expires > time.time())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _owner_only(path: Path) -> None:
    """Tighten a file an older Lepton (or a copy) left readable by others to mode 0600."""
    try:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)
    except OSError as exc:
        raise WorkspaceError(
            f"{path} is readable by other users and cannot be made private ({exc.strerror}); "
            "make its owner run Lepton, or run chmod 600 on it."
        ) from exc


class ShareLinks:
    """Create, verify, list and revoke a workspace's share links."""

    def __init__(self, workspace: Workspace):
        self.root: Path = workspace.root
        self._secret = self._load_secret()
        self._db = open_database(self.root)

    def _load_secret(self) -> bytes:
        path = self.root / "share_secret"
        try:
            # O_EXCL: two processes starting at once must not both write a secret.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            _owner_only(path)
            secret = path.read_bytes()
            if len(secret) < 32:
                raise WorkspaceError(
                    f"The share-link secret {path} is damaged; delete it (every link will "
                    "stop working) and publish again."
                ) from None
            return secret
        except OSError as exc:
            raise WorkspaceError(
                f"The share-link secret cannot be created in {self.root} ({exc.strerror}); "
                "check the workspace folder's permissions."
            ) from exc
        secret = secrets.token_bytes(32)
        with os.fdopen(fd, "wb") as f:
            f.write(secret)
        return secret

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode("ascii"), hashlib.sha256).digest())

    def _token(self, link_id: str, model: str, version: int, expires: float | None) -> str:
        # Deterministic: the same row always signs to the same token, so none is stored.
        claims = {"l": link_id, "m": model, "v": int(version), "e": expires}
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}"

    def _link(self, row: tuple) -> ShareLink:
        link_id, model, version, created, expires, revoked = row
        token = self._token(link_id, model, version, expires)
        return ShareLink(link_id, model, version, created, expires, token, revoked)

    def create(
        self,
        model: str,
        version: int,
        *,
        expires_in: float | None,
        public: bool = False,
        created_by: str = "",
    ) -> ShareLink:
        """Create a link to ``model`` version ``version``.

        Parameters
        ----------
        expires_in : float or None
            Seconds until the link stops working; None only together with ``public=True``.
        public : bool
            The user's explicit choice of a link that never expires.
        created_by : str
            Who shared it, for the audit log (empty: the local owner).
        """
        if expires_in is None and not public:
            raise ValueError("a link without expiry must be asked for with public=True")
        if expires_in is not None and expires_in <= 0:
            raise ValueError(f"expires_in must be positive, got {expires_in}")
        now = time.time()
        link_id = secrets.token_hex(8)
        expires = None if expires_in is None else now + expires_in
        token = self._token(link_id, model, version, expires)
        link = ShareLink(link_id, model, int(version), now, expires, token)
        with self._db.begin() as conn:
            conn.execute(
                sa.insert(links_table).values(
                    id=link.id,
                    model=link.model,
                    version=link.version,
                    created=link.created,
                    expires=link.expires,
                    created_by=created_by,
                )
            )
            record_in(
                conn,
                created_by,
                "link.created",
                f"{link.model}:{link.version}",
                {"link": link.id, "expires": link.expires},
            )
        return link

    def verify(self, token: str | None) -> ShareLink:
        """The link a token stands for.

        Raises
        ------
        ModelError
            The token is malformed, tampered with, expired, revoked or unknown.
        """
        # A real token is base64url and one dot; anything else (non-ASCII, which
        # hmac.compare_digest refuses as str) is not valid before any work is done.
        if not token or len(token) > 1000 or not token.isascii() or token.count(".") != 1:
            raise ModelError(_INVALID)
        payload, signature = token.split(".")
        if not hmac.compare_digest(self._sign(payload).encode(), signature.encode()):
            raise ModelError(_INVALID)
        try:
            claims = json.loads(_unb64(payload))
        except (ValueError, binascii.Error):
            raise ModelError(_INVALID) from None
        if not isinstance(claims, dict):
            raise ModelError(_INVALID)
        query = sa.select(*_LISTED).where(links_table.c.id == str(claims.get("l")))
        with self._db.begin() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise ModelError(_INVALID)
        link = self._link(row)
        # The signed claims and the stored link must agree; either alone is not enough.
        if (claims.get("m"), claims.get("v"), claims.get("e")) != (
            link.model,
            link.version,
            link.expires,
        ):
            raise ModelError(_INVALID)
        if not link.active:
            raise ModelError(_INVALID)
        return link

    def list(self, model: str | None = None, version: int | None = None) -> list[ShareLink]:
        """Links, newest first (of one model, or one version), revoked and expired included."""
        query = sa.select(*_LISTED).order_by(links_table.c.created.desc())
        if model is not None:
            query = query.where(links_table.c.model == model)
        if version is not None:
            query = query.where(links_table.c.version == int(version))
        with self._db.begin() as conn:
            rows = conn.execute(query).all()
        return [self._link(row) for row in rows]

    def revoke(self, link_id: str, *, by: str = "") -> None:
        """Revoke a link: it shows "this link is not valid" from then on.

        ``by`` is who revoked it, for the audit log (empty: the local owner).
        """
        with self._db.begin() as conn:
            done = conn.execute(
                sa.update(links_table)
                .where(links_table.c.id == link_id, links_table.c.revoked.is_(None))
                .values(revoked=time.time())
            )
            if done.rowcount:
                row = conn.execute(
                    sa.select(links_table.c.model, links_table.c.version).where(
                        links_table.c.id == link_id
                    )
                ).one()
                record_in(conn, by, "link.revoked", f"{row.model}:{row.version}", {"link": link_id})
