"""The local PostgreSQL server (127.0.0.1:5432, trust auth) for the tests of the Postgres paths.

Tests create databases of their own and drop them afterwards. Off CI, with no server answering, they skip
with that reason; with ``CI`` set, a missing server fails them.
"""

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import pytest

POSTGRES = ("127.0.0.1", 5432)
SERVER = "postgresql://postgres@127.0.0.1:5432"


def postgres_reachable() -> bool:
    try:
        socket.create_connection(POSTGRES, timeout=2).close()
    except OSError:
        return False
    return True


def require_postgres() -> None:
    """Skip (off CI) or fail (on CI) when no server answers."""
    if not postgres_reachable():
        if os.environ.get("CI"):
            pytest.fail("CI is set but no PostgreSQL server answers on 127.0.0.1:5432")
        pytest.skip("no PostgreSQL server reachable at 127.0.0.1:5432")


def admin(statement: str) -> None:
    """Run one statement outside a transaction (CREATE / DROP DATABASE) on the server's ``test`` database."""
    connection = psycopg2.connect(f"{SERVER}/test")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(statement)
    connection.close()


def create_database(name: str) -> None:
    admin(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def fresh_database(role: str) -> Iterator[str]:
    """A new, empty database for the duration of the block; its psycopg2 SQLAlchemy URL."""
    require_postgres()
    name = f"taxi_{role}_{uuid.uuid4().hex[:10]}"
    create_database(name)
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        drop_database(name)
