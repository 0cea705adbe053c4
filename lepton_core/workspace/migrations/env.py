"""Alembic's entry point: migrate the connection Lepton hands over, inside its transaction.

Lepton runs the upgrade itself (``lepton_core.workspace._database``) on a connection
that already holds the database's write lock, so two processes opening a new
workspace at once never both create the tables. Run by hand (``alembic -c …``) it
connects to ``sqlalchemy.url`` instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from lepton_core.workspace._tables import metadata

config = context.config
connection = config.attributes.get("connection")
version_table = config.get_main_option("version_table", "lepton_alembic_version")


def _run(conn: sa.Connection) -> None:
    context.configure(
        connection=conn,
        target_metadata=metadata,
        version_table=version_table,
        render_as_batch=conn.dialect.name == "sqlite",  # SQLite alters tables by copying
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        _run(conn)
