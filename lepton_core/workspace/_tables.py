"""Lepton's own tables, as SQLAlchemy Core ``Table`` objects for building queries.

The schema itself is made by the Alembic revisions in ``migrations/versions``; these
objects mirror the newest one (a test compares the two), so a query is checked
against real column names on every dialect.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "audit_table",
    "jobs_table",
    "keys_table",
    "links_table",
    "metadata",
    "predictions_table",
]

metadata = sa.MetaData()

jobs_table = sa.Table(
    "jobs",
    metadata,
    # Submission order: the queue's tie-break when two jobs share a creation time
    # (what SQLite's rowid was in the old per-file table).
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(32), nullable=False, unique=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("owner", sa.Text, nullable=False, server_default=""),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("command", sa.Text, nullable=False),
    sa.Column("pid", sa.Integer),
    sa.Column("created", sa.Double, nullable=False),
    sa.Column("started", sa.Double),
    sa.Column("ended", sa.Double),
    sa.Column("heartbeat", sa.Double),
    sa.Column("progress", sa.Text, nullable=False, server_default="{}"),
    sa.Column("run_id", sa.Text),
    sa.Column("model_name", sa.Text),
    sa.Column("model_version", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("kind", sa.String(16), nullable=False, server_default="train"),
    sa.Column("max_jobs", sa.Integer, nullable=False, server_default="1"),
    sa.Column("executor", sa.Text, nullable=False, server_default="local"),
    sa.Column("handle", sa.Text),
    sa.Index("ix_jobs_status_created", "status", "created"),
)

keys_table = sa.Table(
    "keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("hint", sa.Text),
    sa.Column("hash", sa.String(64), unique=True),
    sa.Column("created", sa.Double),
    sa.Column("revoked", sa.Double),
    sa.Column("last_used", sa.Double),
    sa.Column("expires", sa.Double),
    sa.Column("created_by", sa.Text, nullable=False, server_default=""),
    sa.Column("role", sa.String(16), nullable=False, server_default="full"),
)

links_table = sa.Table(
    "links",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("model", sa.Text),
    sa.Column("version", sa.Integer),
    sa.Column("created", sa.Double),
    sa.Column("expires", sa.Double),
    sa.Column("revoked", sa.Double),
    sa.Column("created_by", sa.Text, nullable=False, server_default=""),
)

audit_table = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.Text, nullable=False, server_default=""),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Index("ix_audit_action_at", "action", "at"),
)

predictions_table = sa.Table(
    "predictions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("caller", sa.Text, nullable=False, server_default=""),
    sa.Column("latency_ms", sa.Double, nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("record", sa.JSON),
    sa.Column("prediction", sa.Text),
    sa.Column("confidence", sa.Double),
    sa.Column("label", sa.Text),
    sa.Column("labelled_at", sa.DateTime(timezone=True)),
    sa.Index("ix_predictions_model_version_at", "model", "version", "at"),
)
