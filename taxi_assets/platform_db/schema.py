"""The platform database's schema, created and changed by versioned Alembic migrations.

Every table is declared in this package on the one ``METADATA`` below (``prediction_log``: the log and its
quarantine; ``records``: decisions, incidents, alert history); the migrations in ``migrations/versions`` create
them, and a test checks that the two agree.
``ensure_schema(engine)`` is what every user of the database calls first: one query when the schema is current,
an upgrade to the newest revision otherwise. Concurrent upgrades (several API replicas starting together) are
serialised by a PostgreSQL advisory lock, or a file lock beside a SQLite database.

The revisions are recorded in ``taxi_schema_version``, not Alembic's default ``alembic_version``, so the
platform tables can share a database with MLflow's own migrated tables.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Final

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

METADATA: Final = sa.MetaData()
VERSION_TABLE: Final = "taxi_schema_version"
MIGRATIONS_DIR: Final = Path(__file__).parent / "migrations"
# any constant 64-bit key, the same in every process that migrates this database
ADVISORY_LOCK_KEY: Final = 0x7A_58_1F_A2_E5


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An Alembic configuration for the platform migrations, optionally bound to an open connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str:
    """The newest revision in ``migrations/versions``."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at, or None when it has never been migrated (or does not exist yet)."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:" and not Path(database).exists():
        return None
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table(VERSION_TABLE):
            return None
        return connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision`` (default: the newest), holding the migration lock."""
    _prepare_sqlite_folder(engine)
    with _migration_lock(engine) as connection:
        command.upgrade(alembic_config(connection), revision)
        connection.commit()


def downgrade(engine: sa.Engine, revision: str) -> None:
    """Migrate the database behind ``engine`` down to ``revision`` (``base`` drops every platform table)."""
    with _migration_lock(engine) as connection:
        command.downgrade(alembic_config(connection), revision)
        connection.commit()


def ensure_schema(engine: sa.Engine) -> None:
    """Bring the database behind ``engine`` to the newest revision; one query when it already is."""
    _prepare_sqlite_folder(engine)
    if current_revision(engine) != head_revision():
        upgrade(engine)


def _prepare_sqlite_folder(engine: sa.Engine) -> None:
    """Create the folder of a SQLite file (SQLite creates the file, not its folder)."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def _migration_lock(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection on which only one process at a time migrates this database."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            connection.commit()
            try:
                yield connection
            finally:
                connection.rollback()
                connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
                connection.commit()
        elif engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            lock_path = Path(f"{engine.url.database}.migrate.lock")
            with lock_path.open("a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield connection
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        else:
            yield connection
