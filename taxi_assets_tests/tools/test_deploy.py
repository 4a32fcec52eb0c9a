"""taxi_tools/deploy.py: each component's grants hold on a real PostgreSQL, and the MLflow accounts rotate."""

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from taxi_assets.alerting import Alert, Alerter, Kind, Severity
from taxi_assets.platform_db.prediction_log import LOG_COLUMNS
from taxi_assets_tests.postgres import create_database, drop_database, require_postgres
from taxi_serving.prediction_log.store import LogStore
from taxi_tools import deploy


@pytest.fixture
def platform_database() -> Iterator[tuple[str, str, str]]:
    """A fresh database and two fresh login roles (the API's, the dashboard's) on the local server."""
    require_postgres()
    suffix = uuid.uuid4().hex[:8]
    database, api, dashboard = f"taxi_deploy_{suffix}", f"api_{suffix}", f"dashboard_{suffix}"
    create_database(database)
    admin = sa.create_engine("postgresql+psycopg2://postgres@127.0.0.1:5432/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for role in (api, dashboard):
            connection.execute(sa.text(f"CREATE ROLE {role} LOGIN"))
    try:
        yield database, api, dashboard
    finally:
        drop_database(database)
        with admin.connect() as connection:
            for role in (api, dashboard):
                connection.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()


def as_role(database: str, role: str) -> sa.Engine:
    return sa.create_engine(f"postgresql+psycopg2://{role}@127.0.0.1:5432/{database}")


def test_the_api_inserts_and_joins_fares_and_the_dashboard_only_reads(platform_database: tuple[str, str, str]) -> None:
    database, api, dashboard = platform_database
    said = deploy.migrate(
        {
            "TAXI_DATABASE_URL": f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}",
            deploy.API_ROLE_ENV: api,
            deploy.DASHBOARD_ROLE_ENV: dashboard,
        }
    )
    assert said == f"platform database migrated; grants applied to {api} and {dashboard}"
    # the API's own code paths, as the API's role: the log's bulk insert, a true fare joined, a quarantined
    # record, an alert recorded
    api_url = f"postgresql+psycopg2://{api}@127.0.0.1:5432/{database}"
    store = LogStore(api_url)
    row = {name: None for name in LOG_COLUMNS} | {
        "request_id": "r1",
        "logged_at": "2026-12-06 10:00:00.000000+00:00",
        "endpoint": "predict",
        "status": "ok",
        "status_code": 200,
        "prediction": 12.5,
        "service": "green",
    }
    try:
        store.insert([tuple(row[name] for name in LOG_COLUMNS)])
        assert store.record_feedback("r1", 13.0) == ("ok", 12.5)
        store.quarantine(b'{"request_id": "r2"}', "a test", "green")
    finally:
        store.dispose()
    Alerter(api_url).send(Alert(Severity.INFO, Kind.LOG_QUARANTINED, "green", "a test alert"))
    api_engine, dashboard_engine = as_role(database, api), as_role(database, dashboard)
    try:
        refused_to_api = (
            "UPDATE prediction_log SET prediction = 1",  # what was served is not the API's to rewrite
            "DELETE FROM prediction_log",
            "SELECT * FROM promotion_decisions",
            "INSERT INTO monitoring_incidents (service) VALUES ('green')",
            "CREATE TABLE mine (x int)",
        )
        for statement in refused_to_api:
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), api_engine.begin() as connection:
                connection.execute(sa.text(statement))
        with dashboard_engine.connect() as connection:
            assert connection.execute(sa.text("SELECT actual_fare FROM prediction_log")).scalar() == 13.0
            assert connection.execute(sa.text("SELECT count(*) FROM promotion_decisions")).scalar() == 0
            assert connection.execute(sa.text("SELECT count(*) FROM alert_history")).scalar() == 1
            assert connection.execute(sa.text("SELECT count(*) FROM prediction_log_quarantine")).scalar() == 1
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), dashboard_engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM alert_history"))
    finally:
        api_engine.dispose()
        dashboard_engine.dispose()


def test_grants_are_for_postgresql_only(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'platform.db'}")
    with pytest.raises(ValueError, match="grants are for PostgreSQL; this database is sqlite"):
        deploy.grant(engine, "api", "dashboard")


def test_the_mlflow_accounts_are_set_at_every_start_so_a_password_rotates(tmp_path: Path) -> None:
    env = {
        "MLFLOW_AUTH_CONFIG_PATH": str(tmp_path / "auth" / "basic_auth.ini"),
        "MLFLOW_AUTH_DATABASE_URI": f"sqlite:///{tmp_path / 'auth.db'}",
        "MLFLOW_PLATFORM_PASSWORD": "platform-0123456789ab",
        "MLFLOW_READER_PASSWORD": "reader-0123456789abcd",
    }
    assert deploy.mlflow_users(env) == "MLflow accounts set: platform, reader"
    config = Path(env["MLFLOW_AUTH_CONFIG_PATH"])
    assert config.stat().st_mode & 0o077 == 0
    assert "default_permission = READ" in config.read_text()
    assert "admin_username = platform" in config.read_text()
    deploy.mlflow_users({**env, "MLFLOW_READER_PASSWORD": "rotated-0123456789abc"})
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore()
    store.init_db(env["MLFLOW_AUTH_DATABASE_URI"])
    assert store.get_user("platform").is_admin
    assert not store.get_user("reader").is_admin
    assert store.authenticate_user("reader", "rotated-0123456789abc")
    assert not store.authenticate_user("reader", "reader-0123456789abcd")
    assert store.authenticate_user("platform", "platform-0123456789ab")


def test_the_command_line_names_its_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert deploy.main(["nothing"]) == 2
    assert "mlflow-users | migrate | wait-for URL" in capsys.readouterr().err


def test_waiting_for_a_server_returns_once_it_listens_and_names_it_when_it_never_does() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert deploy.wait_for(f"sc://127.0.0.1:{port}") == f"sc://127.0.0.1:{port} accepts connections"
    with pytest.raises(TimeoutError, match=f"nothing accepted connections at sc://127.0.0.1:{port} within 1 s"):
        deploy.wait_for(f"sc://127.0.0.1:{port}", timeout=1)
    with pytest.raises(ValueError, match="names no host and port"):
        deploy.wait_for("sc://spark-connect")
