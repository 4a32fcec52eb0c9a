"""The platform database's migrations, on SQLite and on the local PostgreSQL server."""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from taxi_assets.alerting import Alert, Alerter, Kind, Severity
from taxi_assets.monitoring import incidents
from taxi_assets.platform_db.prediction_log import labelled_query, read_labelled, rejected_count_query, served_query
from taxi_assets.platform_db.schema import (
    METADATA,
    VERSION_TABLE,
    current_revision,
    downgrade,
    ensure_schema,
    head_revision,
    upgrade,
)
from taxi_assets.registry import decisions
from taxi_assets_tests.postgres import fresh_database
from taxi_tools import cli

TABLES = {"prediction_log", "promotion_decisions", "alert_history", "monitoring_incidents"}
MONITORING_INDEXES = {
    "ix_prediction_log_service_status_logged_at",
    "ix_prediction_log_labelled_service_logged_at",
    "ix_promotion_decisions_service_decided_at",
    "ix_alert_history_service_raised_at",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An empty platform database of each kind."""
    if request.param == "sqlite":
        created = sa.create_engine(f"sqlite:///{tmp_path / 'platform.db'}")
        yield created
        created.dispose()
        return
    with fresh_database("schema") as url:
        created = sa.create_engine(url)
        yield created
        created.dispose()


def index_names(engine: sa.Engine) -> set[str]:
    inspector = sa.inspect(engine)
    present = TABLES & set(inspector.get_table_names())
    return {index["name"] for table in present for index in inspector.get_indexes(table) if index["name"]}


def test_the_migrations_build_exactly_the_declared_tables(engine: sa.Engine) -> None:
    assert current_revision(engine) is None
    ensure_schema(engine)
    assert current_revision(engine) == head_revision() == "0005"
    assert TABLES | {VERSION_TABLE} <= set(sa.inspect(engine).get_table_names())
    assert index_names(engine) >= MONITORING_INDEXES
    with engine.connect() as connection:
        differences = compare_metadata(
            MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}), METADATA
        )
    assert decisions.DECISIONS.name in METADATA.tables
    assert incidents.INCIDENTS.name in METADATA.tables
    assert differences == []


def test_a_sqlite_database_gets_its_folder(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'new' / 'folder' / 'platform.db'}")
    ensure_schema(engine)
    engine.dispose()
    assert (tmp_path / "new" / "folder" / "platform.db").is_file()


def test_the_migrate_command_reports_the_revisions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TAXI_DATABASE_URL", f"sqlite:///{tmp_path / 'platform.db'}")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert cli.main(["migrate"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"schema revision none -> {head_revision()}")
    assert cli.main(["migrate"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"at {head_revision()}")


def test_downgrade_removes_the_indexes_then_the_tables_and_upgrade_restores_them(engine: sa.Engine) -> None:
    upgrade(engine)
    downgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    assert not MONITORING_INDEXES & index_names(engine)
    downgrade(engine, "base")
    assert not TABLES & set(sa.inspect(engine).get_table_names())
    ensure_schema(engine)
    assert index_names(engine) >= MONITORING_INDEXES


def test_a_database_made_before_migrations_is_adopted_with_its_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    alerter = Alerter(url)
    alerter.send(Alert(Severity.INFO, Kind.PROMOTED, "green", "v2 promoted", {"rmse": 3.6}))
    engine = sa.create_engine(url)
    # what a database of the previous release looks like: the tables, no version table, no new indexes
    downgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP TABLE {VERSION_TABLE}"))
    assert current_revision(engine) is None
    ensure_schema(engine)
    assert current_revision(engine) == head_revision()
    assert index_names(engine) >= MONITORING_INDEXES
    engine.dispose()
    assert [row["title"] for row in alerter.history()] == ["v2 promoted"]


def test_replicas_starting_together_migrate_once_without_errors(engine: sa.Engine) -> None:
    errors: list[BaseException] = []

    def start_replica() -> None:
        replica = sa.create_engine(engine.url)
        try:
            ensure_schema(replica)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            replica.dispose()

    threads = [threading.Thread(target=start_replica) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with engine.connect() as connection:
        versions = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    assert versions == [head_revision()]


def test_the_monitoring_queries_are_answered_from_the_indexes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    now = datetime.now(UTC)
    read_labelled(url, "green", now)  # migrates the new database
    engine = sa.create_engine(url)
    statements = [
        served_query(now, now + timedelta(days=1), "green"),
        rejected_count_query(now, now + timedelta(days=1), "green"),
        labelled_query("green", now - timedelta(days=7)),
    ]
    with engine.connect() as connection:
        for statement in statements:
            compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
            plan = " ".join(row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
            # a SEARCH through one of the monitoring indexes, never a SCAN of the whole log
            assert plan.startswith("SEARCH prediction_log USING"), plan
            assert any(index in plan for index in MONITORING_INDEXES), plan
    engine.dispose()


def test_postgres_reads_labelled_rows_through_the_partial_index() -> None:
    with fresh_database("plan") as url:
        engine = sa.create_engine(url)
        ensure_schema(engine)
        # a month of traffic, one row in twenty with its true fare: what the log looks like while feedback lags
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO prediction_log (request_id, logged_at, endpoint, status, status_code, actual_fare, "
                    "service) SELECT 'r' || n, now() - n * interval '1 minute', 'predict', 'ok', 200, "
                    "CASE WHEN n % 20 = 0 THEN 12.5 END, CASE WHEN n % 2 = 0 THEN 'green' ELSE 'yellow' END "
                    "FROM generate_series(1, 43200) AS n"
                )
            )
            connection.exec_driver_sql("ANALYZE prediction_log")
        since = datetime.now(UTC) - timedelta(days=7)
        compiled = labelled_query("green", since).compile(engine, compile_kwargs={"literal_binds": True})
        with engine.connect() as connection:
            plan = " ".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {compiled}"))
        engine.dispose()
    assert "ix_prediction_log_labelled_service_logged_at" in plan, plan


def test_downgrade_to_0002_takes_the_service_column_away_and_upgrade_brings_it_back(engine: sa.Engine) -> None:
    upgrade(engine)
    downgrade(engine, "0002")
    assert "service" not in {column["name"] for column in sa.inspect(engine).get_columns("prediction_log")}
    assert {"ix_prediction_log_status_logged_at", "ix_prediction_log_labelled_logged_at"} <= index_names(engine)
    upgrade(engine)
    assert "service" in {column["name"] for column in sa.inspect(engine).get_columns("prediction_log")}
    assert index_names(engine) >= MONITORING_INDEXES
