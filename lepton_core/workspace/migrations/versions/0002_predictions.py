"""The prediction log: one row per prediction the API, the demo page or batch scoring made.

Revision ID: 0002
Revises: 0001
Create Date: 2027-01-10

``record`` holds the input record as JSON with personal columns hashed or left out;
``label`` and ``labelled_at`` stay empty until the true answer arrives as feedback.
The index serves every read, which names a model (and usually a version) and a time
range.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "predictions",
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
    )
    op.create_index("ix_predictions_model_version_at", "predictions", ["model", "version", "at"])


def downgrade() -> None:
    op.drop_index("ix_predictions_model_version_at", "predictions")
    op.drop_table("predictions")
