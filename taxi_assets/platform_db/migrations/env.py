"""Alembic environment of the platform database.

Run programmatically by ``taxi_assets.platform_db.schema`` (which passes an open connection), or by the
Alembic command line for a new revision:
``alembic -c taxi_assets/platform_db/migrations/alembic.ini -x url=sqlite:///.taxi/platform.db revision -m "..."``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from taxi_assets.platform_db import prediction_log, records  # noqa: F401  (they declare the tables on METADATA)
from taxi_assets.platform_db.schema import METADATA, VERSION_TABLE


def run() -> None:
    """Run the migrations on the given connection, or on one opened from ``-x url=...``."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("give the database: alembic ... -x url=<SQLAlchemy URL>")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as opened:
            _migrate(opened)
    finally:
        engine.dispose()


def _migrate(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=METADATA,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    )
    with context.begin_transaction():
        context.run_migrations()


run()
