"""The audit log: who published, shared, keyed or trained what, and when.

One row per action in Lepton's database (see :mod:`lepton_core.workspace._database`),
written in the same transaction as the change it records where there is one, so a
change is never left unrecorded. Recorded today:

- ``model.published`` / ``model.withdrawn``: a model version is published or withdrawn;
- ``link.created`` / ``link.revoked``: a share link is created or revoked;
- ``key.created`` / ``key.revoked``: an API key is created or revoked;
- ``job.started``: a training (Auto, mitigation) job is submitted.

The actor is the owner string the caller passes (a signed-in user's name in team
mode); an empty one is the single local owner.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from lepton_core.core import JsonMixin
from lepton_core.workspace._database import open_database, utcnow
from lepton_core.workspace._tables import audit_table
from lepton_core.workspace._workspace import Workspace

__all__ = ["AUDIT_ACTIONS", "LOCAL_OWNER", "AuditEntry", "AuditLog"]

#: The actor recorded when none is given: Lepton without sign-in has one owner.
LOCAL_OWNER = "local owner"
AUDIT_ACTIONS = (
    "model.published",
    "model.withdrawn",
    "link.created",
    "link.revoked",
    "key.created",
    "key.revoked",
    "job.started",
)


@dataclass
class AuditEntry(JsonMixin):
    """One recorded action.

    Attributes
    ----------
    at : datetime
        When, in UTC (timezone-aware).
    actor : str
        Who: the owner string passed in, ``"local owner"`` without sign-in.
    action : str
        One of :data:`AUDIT_ACTIONS`, e.g. ``"link.created"``.
    target : str
        What: ``model:version`` for models and links, a key's or a job's id.
    detail : dict
        Anything else worth keeping (a key's name, a link's expiry), JSON values only.
    """

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "at": self.at.isoformat()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditEntry:
        entry = super().from_dict(data)
        if isinstance(entry.at, str):
            entry.at = datetime.fromisoformat(entry.at)
        return entry


class AuditLog:
    """Record and read the audit log of a workspace (or of the team's database)."""

    def __init__(self, workspace: Workspace) -> None:
        self._db = open_database(workspace.root)

    def record(
        self, actor: str, action: str, target: str = "", detail: dict[str, Any] | None = None
    ) -> AuditEntry:
        """Add one entry now and return it."""
        with self._db.begin() as conn:
            return record_in(conn, actor, action, target, detail)

    def list(
        self, limit: int = 100, *, actions: Iterable[str] | None = None, actor: str | None = None
    ) -> list[AuditEntry]:
        """The newest ``limit`` entries first, of some ``actions`` or one ``actor`` if given."""
        query = sa.select(audit_table).order_by(audit_table.c.id.desc()).limit(limit)
        if actions is not None:
            query = query.where(audit_table.c.action.in_(list(actions)))
        if actor is not None:
            query = query.where(audit_table.c.actor == (actor or LOCAL_OWNER))
        with self._db.begin() as conn:
            rows = conn.execute(query).mappings().all()
        return [_entry(row) for row in rows]


def record_in(
    conn: sa.Connection,
    actor: str,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an entry inside the caller's transaction (the change and its record commit together)."""
    values = {
        "at": utcnow(),
        "actor": actor or LOCAL_OWNER,
        "action": action,
        "target": target,
        "detail": detail or {},
    }
    entry_id = conn.execute(sa.insert(audit_table).values(values)).inserted_primary_key[0]
    return AuditEntry(id=int(entry_id), **values)


def _entry(row: Any) -> AuditEntry:
    at = row["at"]
    if at.tzinfo is None:  # SQLite keeps no zone; every entry is written in UTC
        at = at.replace(tzinfo=UTC)
    return AuditEntry(row["id"], at, row["actor"], row["action"], row["target"], row["detail"])
