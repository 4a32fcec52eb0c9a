"""The local PostgreSQL server (127.0.0.1:5432, trust auth) for the tests of the Postgres paths.

Tests create databases of their own and drop them afterwards. Off CI, with no server answering, they skip
with that reason; with ``CI`` set, a missing server fails them.
"""

import contextlib
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg2
import sqlalchemy

from taxi_assets.platform_db.schema import ensure_schema
from taxi_assets_tests.support import needs
from taxi_tools.deploy import grant

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
    needs(postgres_reachable(), "a PostgreSQL server on 127.0.0.1:5432", "apt-get install postgresql")


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


@dataclass(frozen=True)
class RoleDatabase:
    """A database, its owner's URL, and a login role's name and URL."""

    owner_url: str
    url: str
    role: str


@contextmanager
def api_role_database(role: str) -> Iterator[RoleDatabase]:
    """A fresh database migrated by its owner and a new login role granted what the deployment grants the API.

    The database and the role are dropped afterwards.
    """
    login = f"taxi_{role}_{uuid.uuid4().hex[:8]}"
    try:
        with fresh_database(role) as owner_url:
            owner = sqlalchemy.create_engine(owner_url)
            try:
                ensure_schema(owner)
                with owner.begin() as connection:
                    connection.execute(sqlalchemy.text(f'CREATE ROLE "{login}" LOGIN'))
                grant(owner, login, login)
            finally:
                owner.dispose()
            yield RoleDatabase(owner_url, owner_url.replace("postgres@", f"{login}@"), f'"{login}"')
    finally:
        admin(f'DROP ROLE IF EXISTS "{login}"')


def as_owner(url: str, statement: str) -> None:
    """Run one statement as the database's owner (a GRANT, a REVOKE)."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text(statement))
    finally:
        engine.dispose()


class TcpProxy:
    """A TCP proxy in front of the local Postgres server that the test can cut and restore."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = threading.Event()
        self.open.set()
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=3)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Refuse new connections and kill the live ones (the database looks down)."""
        self.open.clear()
        with self.lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self.connections.clear()

    def restore(self) -> None:
        self.open.set()

    def close(self) -> None:
        self.cut()
        self.listener.close()
