"""The retrain button: retrain_job launched through the Dagster webserver's GraphQL API, who asked and why kept."""

from pathlib import Path

import dagster as dg
import pytest
from streamlit.testing.v1 import AppTest

from taxi_assets.alerting import Alerter
from taxi_assets.lake_storage import lake_root, write_manifest
from taxi_assets_tests.dashboard.screens import run_screen
from taxi_assets_tests.dashboard.services import running_webserver
from taxi_assets_tests.dashboard.support import Home
from taxi_assets_tests.serving.servers import free_port


def signed_in_on_retrain(key: str | None, screen: str = "retrain") -> AppTest:
    app = run_screen(screen)
    if key is not None:
        app.sidebar.text_input[0].input(key).run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def committed_month(home: Home, month: str) -> None:
    """A month of features as the ingestion commits it (the button trains on the lake's newest months)."""
    write_manifest(lake_root(str(home.path / "lake")) / "features" / "green" / f"{month}.parquet", {"rows": 1})


def button(app: AppTest, label: str) -> object:
    return next(b for b in app.button if b.label == label)


def test_without_a_key_the_button_is_disabled(dashboard_env: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    committed_month(dashboard_env, "2023-02")
    monkeypatch.setenv("TAXI_DASHBOARD_KEYS", "alice:s3cret")
    app = signed_in_on_retrain(key=None)
    assert "Retrain now" not in [b.label for b in app.button]  # the screen is not shown at all before sign-in
    app = signed_in_on_retrain(key="s3cret")
    assert button(app, "Retrain now").disabled  # signed in, but no reason given yet
    app.text_input[0].input("the fare increase").run()
    assert not button(app, "Retrain now").disabled


def test_with_dagster_down_nothing_is_launched_and_nothing_recorded(
    dashboard_env: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    committed_month(dashboard_env, "2023-02")
    monkeypatch.setenv("TAXI_DASHBOARD_KEYS", "alice:s3cret")
    monkeypatch.setenv("TAXI_DAGSTER_URL", f"http://127.0.0.1:{free_port()}")
    app = signed_in_on_retrain("s3cret")
    app.text_input[0].input("the fare increase").run()
    button(app, "Retrain now").click().run()
    assert app.error[0].value.startswith("Not launched: the Dagster webserver at http://127.0.0.1:")
    kinds = [row["kind"] for row in Alerter(dashboard_env.url).history("green")]
    assert "retrain_requested" not in kinds


@pytest.mark.slow
def test_the_button_launches_retrain_job_through_graphql_and_records_who_asked(
    dashboard_env: Home, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    committed_month(dashboard_env, "2023-01")
    committed_month(dashboard_env, "2023-02")
    monkeypatch.setenv("TAXI_DASHBOARD_KEYS", "bob:other,alice:s3cret")
    with running_webserver(dashboard_env.path, tmp_path / "webserver.log") as dagster:
        monkeypatch.setenv("TAXI_DAGSTER_URL", dagster.url)
        app = signed_in_on_retrain("s3cret")
        app.text_input[0].input("the fare increase").run()
        button(app, "Retrain now").click().run()
        assert not app.error, [e.value for e in app.error]
        (shown,) = app.success
        with dg.DagsterInstance.from_config(str(dashboard_env.path / "dagster")) as instance:
            (record,) = instance.get_run_records(filters=dg.RunsFilter(job_name="retrain_job"))
        run = record.dagster_run
        assert shown.value == f"retrain_job run {run.run_id} is QUEUED."  # no daemon here to dequeue it
        assert run.tags["dagster/partition"] == "green"
        assert run.tags["taxi/requested_by"] == "alice"
        assert run.tags["taxi/reason"] == "asked for on the dashboard by alice: the fare increase"
        assert run.run_config["ops"]["training_set"]["config"]["months"] == ["2023-01", "2023-02"]
        # the history lists the run as Dagster knows it, linked to it
        retrainings = signed_in_on_retrain("s3cret", "history").dataframe[2].value
        assert retrainings["status"].tolist() == ["QUEUED"]
        assert retrainings["launched by"].tolist() == ["alice"]
        assert retrainings["Dagster run"].tolist() == [f"http://127.0.0.1:3000/runs/{run.run_id}"]
    (alert,) = [row for row in Alerter(dashboard_env.url).history("green") if row["kind"] == "retrain_requested"]
    assert alert["title"] == "retraining green asked for by alice: the fare increase"
    assert alert["details"]["dagster_run_id"] == run.run_id
