"""What the compose deployment does at start that is not a service: the MLflow accounts and the database grants.

``python -m taxi_tools.deploy mlflow-users`` (the ``mlflow`` service, before its server starts) writes the
basic-auth app's configuration and sets the two MLflow accounts from the environment at every start: the
platform's (``MLFLOW_PLATFORM_USERNAME``, an MLflow admin: it registers versions and moves aliases) and the
reader's (``MLFLOW_READER_USERNAME``: the API, the dashboard and operators through the proxy only read).
Rotating a password is changing it in ``docker/.env`` and starting the stack again.

``python -m taxi_tools.deploy migrate`` (the one-shot ``migrate`` service, as the platform's database role)
brings the platform database to the newest schema and grants each other component only what it uses
(``GRANTS``): the API inserts into the prediction log, joins true fares to it and records its alerts; the
dashboard reads.

``python -m taxi_tools.deploy wait-for sc://spark-connect:15002`` waits until a server accepts connections (the
first training, before it uses a Spark Connect server that starts beside it).
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Final
from urllib.parse import urlparse

import sqlalchemy as sa

from taxi_assets.platform_db.schema import upgrade

API_ROLE_ENV: Final = "TAXI_API_DB_ROLE"
DASHBOARD_ROLE_ENV: Final = "TAXI_DASHBOARD_DB_ROLE"
# each statement is run with {api} and {dashboard} replaced by the quoted role names
GRANTS: Final = (
    "GRANT USAGE ON SCHEMA public TO {api}, {dashboard}",
    # the API's start-up check that the schema is current (it never migrates with this role)
    "GRANT SELECT ON taxi_schema_version TO {api}",
    # the log: insert, read a row back to join its true fare, and set only the true fare's columns
    "GRANT SELECT, INSERT ON prediction_log TO {api}",
    "GRANT UPDATE (actual_fare, feedback_at) ON prediction_log TO {api}",
    # an insert reads back the new row's id (RETURNING)
    "GRANT INSERT, SELECT (id) ON prediction_log_quarantine TO {api}",
    "GRANT INSERT, SELECT (id) ON alert_history TO {api}",
    "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {api}",
    "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {dashboard}",
)


def grant(engine: sa.Engine, api_role: str, dashboard_role: str) -> None:
    """Grant the API's and the dashboard's roles what they use of the platform database (PostgreSQL only)."""
    if engine.dialect.name != "postgresql":
        raise ValueError(f"grants are for PostgreSQL; this database is {engine.dialect.name}")
    quote = engine.dialect.identifier_preparer.quote_identifier
    with engine.begin() as connection:
        for statement in GRANTS:
            connection.execute(sa.text(statement.format(api=quote(api_role), dashboard=quote(dashboard_role))))


def migrate(env: Mapping[str, str]) -> str:
    """Migrate the platform database of ``TAXI_DATABASE_URL`` and apply the grants; a line saying what was done."""
    engine = sa.create_engine(env["TAXI_DATABASE_URL"])
    try:
        upgrade(engine)
        api, dashboard = env.get(API_ROLE_ENV, "api"), env.get(DASHBOARD_ROLE_ENV, "dashboard")
        grant(engine, api, dashboard)
    finally:
        engine.dispose()
    return f"platform database migrated; grants applied to {api} and {dashboard}"


def auth_config(env: Mapping[str, str]) -> str:
    """The MLflow basic-auth app's configuration (its user store in ``MLFLOW_AUTH_DATABASE_URI``)."""
    return (
        "[mlflow]\n"
        # an account with no grant of its own reads: the reader account, by default
        "default_permission = READ\n"
        f"database_uri = {env['MLFLOW_AUTH_DATABASE_URI']}\n"
        f"admin_username = {env.get('MLFLOW_PLATFORM_USERNAME', 'platform')}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )


def mlflow_users(env: Mapping[str, str]) -> str:
    """Write the auth configuration to ``MLFLOW_AUTH_CONFIG_PATH`` and set both accounts' passwords."""
    config = Path(env["MLFLOW_AUTH_CONFIG_PATH"])
    config.parent.mkdir(parents=True, exist_ok=True)
    config.touch(mode=0o600)
    config.write_text(auth_config(env))
    # mlflow.server.auth reads the configuration when it is imported
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore()
    store.init_db(env["MLFLOW_AUTH_DATABASE_URI"])
    accounts = (
        (env.get("MLFLOW_PLATFORM_USERNAME", "platform"), env["MLFLOW_PLATFORM_PASSWORD"], True),
        (env.get("MLFLOW_READER_USERNAME", "reader"), env["MLFLOW_READER_PASSWORD"], False),
    )
    for username, password, is_admin in accounts:
        if store.has_user(username):
            store.update_user(username, password=password, is_admin=is_admin)
        else:
            store.create_user(username, password, is_admin=is_admin)
    return f"MLflow accounts set: {', '.join(name for name, _, _ in accounts)}"


def wait_for(url: str, timeout: float = 180.0) -> str:
    """Wait until the server of ``url`` (``sc://host:port``, ``http://host:port``) accepts connections.

    Raises:
        TimeoutError: nothing listened there within ``timeout`` seconds.
    """
    parsed = urlparse(url)
    if parsed.hostname is None or parsed.port is None:
        raise ValueError(f"{url!r} names no host and port")
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((parsed.hostname, parsed.port), timeout=2).close()
            return f"{url} accepts connections"
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing accepted connections at {url} within {timeout:.0f} s") from None
            time.sleep(1)


def main(argv: list[str]) -> int:
    """``mlflow-users``, ``migrate`` or ``wait-for URL``."""
    commands = {"mlflow-users": mlflow_users, "migrate": migrate}
    if len(argv) == 2 and argv[0] == "wait-for":
        print(wait_for(argv[1]), flush=True)
        return 0
    if len(argv) != 1 or argv[0] not in commands:
        print(f"usage: python -m taxi_tools.deploy {{{' | '.join(commands)} | wait-for URL}}", file=sys.stderr)
        return 2
    print(commands[argv[0]](os.environ), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
