"""Lepton's own tables: jobs, API keys, share links and the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-12-06

The jobs, keys and links columns are those of the per-file SQLite stores before
(``jobs.db``, ``apikeys.db``, ``sharelinks.db``), plus ``jobs.seq`` (submission
order, the old rowid), ``created_by`` on keys and links, and ``role`` on keys
(``full`` for the keys copied in: what every key could do before). The columns are
spelled out here rather than taken from ``_tables.py``: a revision must keep
creating the same schema when the live tables change.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
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
    )
    op.create_index("ix_jobs_status_created", "jobs", ["status", "created"])
    op.create_table(
        "keys",
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
    op.create_table(
        "links",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("model", sa.Text),
        sa.Column("version", sa.Integer),
        sa.Column("created", sa.Double),
        sa.Column("expires", sa.Double),
        sa.Column("revoked", sa.Double),
        sa.Column("created_by", sa.Text, nullable=False, server_default=""),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.Text, nullable=False, server_default=""),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_action_at", "audit", ["action", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_action_at", "audit")
    op.drop_table("audit")
    op.drop_table("links")
    op.drop_table("keys")
    op.drop_index("ix_jobs_status_created", "jobs")
    op.drop_table("jobs")
