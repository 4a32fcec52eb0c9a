import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from taxi_assets.assets import features, ingestion, monitoring, promotion, rollout, serving, training
from taxi_assets.definitions import build_defs, defs, rollout_from_env
from taxi_assets.partitions import month_service_key
from taxi_assets.resources import HttpTripSource, LocalTripSource
from taxi_assets_tests.support import PROJECT_ROOT, TLC_DIR

EXPECTED_GROUPS = {
    "raw_trips": "ingestion",
    "taxi_zones": "ingestion",
    "trip_features": "features",
    "training_set": "features",
    "labelled_traffic": "features",
    "reference_profile": "monitoring",
    "challenger_model": "training",
    "promotion_decision": "promotion",
    "drift_report": "monitoring",
    "prediction_log": "serving",
    "served_champion": "serving",
    "online_evaluation": "rollout",
}


def test_asset_keys_groups_and_lineage(tmp_path: Path) -> None:
    graph = build_defs({"TAXI_HOME": str(tmp_path)}).resolve_asset_graph()
    assert {key.to_user_string() for key in graph.get_all_asset_keys()} == set(EXPECTED_GROUPS)
    for name, group in EXPECTED_GROUPS.items():
        assert graph.get(dg.AssetKey(name)).group_name == group
    parents = {name: {p.to_user_string() for p in graph.get(dg.AssetKey(name)).parent_keys} for name in EXPECTED_GROUPS}
    assert parents["trip_features"] == {"raw_trips", "taxi_zones"}
    assert parents["training_set"] == {"trip_features", "labelled_traffic"}
    # the loop in the lineage: the API's log feeds monitoring and retraining; the served champion follows promotion
    assert parents["labelled_traffic"] == {"prediction_log"}
    assert parents["drift_report"] == {"prediction_log"}
    assert parents["served_champion"] == {"promotion_decision"}
    assert parents["prediction_log"] == set()
    assert parents["reference_profile"] == {"training_set"}
    assert parents["challenger_model"] == {"training_set", "reference_profile"}
    assert parents["promotion_decision"] == {"challenger_model"}
    # a challenger in a live stage is judged on what the API logged
    assert parents["online_evaluation"] == {"prediction_log", "promotion_decision"}
    checks = {key.name for key in graph.asset_check_keys}
    assert checks == {
        "serving_artifact_parity",
        "fare_behaviour",
        "feature_drift",
        "prediction_drift",
        "validation_failure_rate",
        "accuracy",
        "live_scoring",
        "guardrail",
    }


ASSET_MODULES = (features, ingestion, monitoring, promotion, rollout, serving, training)


def test_each_asset_module_holds_one_group_and_is_named_for_it(tmp_path: Path) -> None:
    """The layout rule: the assets of ``taxi_assets/assets/<group>.py`` are the group ``<group>``, all of it."""
    modules: dict[str, set[str]] = {}
    for assets_def in build_defs({"TAXI_HOME": str(tmp_path)}).assets or ():
        if isinstance(assets_def, dg.SourceAsset):  # an observable source: its observe function and its group
            function, groups = assets_def.observe_fn, {assets_def.group_name}
        elif isinstance(assets_def, dg.AssetSpec):  # a spec: the module that declares it
            module = next(m for m in ASSET_MODULES if assets_def in vars(m).values()).__name__
            modules.setdefault(module.removeprefix("taxi_assets.assets."), set()).add(str(assets_def.group_name))
            continue
        else:
            assert isinstance(assets_def, dg.AssetsDefinition)
            function = assets_def.op.compute_fn.decorated_fn  # type: ignore[union-attr]
            groups = set(assets_def.group_names_by_key.values())
        module = function.__module__.removeprefix("taxi_assets.assets.")  # type: ignore[union-attr]
        modules.setdefault(module, set()).update(groups)
    assert modules == {group: {group} for group in modules}
    assert set(modules) == {"ingestion", "features", "training", "promotion", "rollout", "monitoring", "serving"}
    files = {path.stem for path in (PROJECT_ROOT / "taxi_assets" / "assets").glob("*.py")}
    assert files - set(modules) == {"__init__", "common"}


def test_partitions_month_by_service_and_per_service(tmp_path: Path) -> None:
    graph = build_defs({"TAXI_HOME": str(tmp_path)}).resolve_asset_graph()
    raw = graph.get(dg.AssetKey("raw_trips")).partitions_def
    assert isinstance(raw, dg.MultiPartitionsDefinition)
    assert {dimension.name for dimension in raw.partitions_defs} == {"month", "service"}
    keys = raw.get_partition_keys()
    assert str(month_service_key("2022-01", "green")) in keys
    assert str(month_service_key("2025-02", "yellow")) in keys
    assert graph.get(dg.AssetKey("training_set")).partitions_def.get_partition_keys() == ["green", "yellow"]


def test_training_set_of_a_service_depends_on_every_month_of_that_service_only(tmp_path: Path) -> None:
    graph = build_defs({"TAXI_HOME": str(tmp_path)}).resolve_asset_graph()
    subset = graph.get_parent_partition_keys_for_child(
        "green", dg.AssetKey("trip_features"), dg.AssetKey("training_set")
    )
    keys = subset.partitions_subset.get_partition_keys()
    assert str(month_service_key("2022-03", "green")) in keys
    assert all(key.endswith("|green") for key in keys)


def test_jobs_and_resources_follow_the_environment(tmp_path: Path) -> None:
    local = build_defs({"TAXI_HOME": str(tmp_path), "TAXI_TRIPS_DIR": str(TLC_DIR)})
    sensor = local.resolve_sensor_def("retrain_on_failed_checks")
    assert {job.name for job in sensor.jobs} == {"retrain_job", "ingest_job"}
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    jobs = {job.name for job in local.resolve_all_job_defs()}
    assert jobs >= {
        "ingest_job",
        "zones_job",
        "reference_job",
        "train_job",
        "retrain_job",
        "monitor_job",
        "rollback_job",
        "rollout_job",
    }
    rollouts = local.resolve_sensor_def("judge_live_rollouts")
    assert [job.name for job in rollouts.jobs] == ["rollout_job"]
    assert rollouts.default_status == dg.DefaultSensorStatus.RUNNING
    assert isinstance(local.resources["trip_source"], LocalTripSource)
    assert local.resources["lake"].root == str(tmp_path / "lake")
    remote = build_defs({"TAXI_HOME": str(tmp_path)})
    assert isinstance(remote.resources["trip_source"], HttpTripSource)


def test_lazy_defs_load_from_the_process_environment() -> None:
    assert isinstance(defs(), dg.Definitions)


@pytest.mark.slow
def test_the_workspace_loads_as_dagster_dev_loads_it(tmp_path: Path) -> None:
    instance = tmp_path / "dagster"  # where `make dev` puts the instance: the data home
    instance.mkdir()
    (instance / "dagster.yaml").write_text((PROJECT_ROOT / "dagster.yaml").read_text())
    completed = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", "DAGSTER_HOME": str(instance), "TAXI_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "Validation successful" in output
    # the command itself warns that `dg check defs` supersedes it; nothing else may warn
    warnings = [line for line in output.splitlines() if "Warning" in line and "SupersessionWarning" not in line]
    assert warnings == []


@pytest.mark.slow
def test_monitoring_windows_follow_the_environment(tmp_path: Path) -> None:
    hourly = build_defs({"TAXI_HOME": str(tmp_path)})
    windows = hourly.resolve_asset_graph().get(dg.AssetKey("drift_report")).partitions_def
    assert isinstance(windows, dg.MultiPartitionsDefinition)
    assert "green|2026-03-01-13:00" in windows.get_partition_keys()
    assert hourly.get_schedule_def("monitor_windows").cron_schedule == "0 * * * *"
    short = build_defs(
        {"TAXI_HOME": str(tmp_path), "TAXI_MONITOR_WINDOW_MINUTES": "5", "TAXI_MONITOR_START": "2026-03-01-00:00"}
    )
    assert short.get_schedule_def("monitor_windows").cron_schedule == "*/5 * * * *"
    keys = short.resolve_asset_graph().get(dg.AssetKey("drift_report")).partitions_def.get_partition_keys()
    assert keys[:2] == ["green|2026-03-01-00:00", "green|2026-03-01-00:05"]
    # automation that runs by itself is on by default; the freshness retraining is offered, off
    assert short.get_schedule_def("monitor_windows").default_status == dg.DefaultScheduleStatus.RUNNING
    assert short.get_schedule_def("freshness_retrain").default_status == dg.DefaultScheduleStatus.STOPPED
    on = build_defs({"TAXI_HOME": str(tmp_path), "TAXI_FRESHNESS_RETRAIN": "1", "TAXI_FRESHNESS_CRON": "0 3 * * *"})
    assert on.get_schedule_def("freshness_retrain").default_status == dg.DefaultScheduleStatus.RUNNING
    assert on.get_schedule_def("freshness_retrain").cron_schedule == "0 3 * * *"
    for sensor in ("retrain_on_failed_checks", "ingest_new_months"):
        assert short.get_sensor_def(sensor).default_status == dg.DefaultSensorStatus.RUNNING
    with pytest.raises(ValueError, match="7 minutes does not tile a day"):
        build_defs({"TAXI_HOME": str(tmp_path), "TAXI_MONITOR_WINDOW_MINUTES": "7"})


def test_spark_runs_queue_one_at_a_time_and_monitoring_never_waits_behind_them(tmp_path: Path) -> None:
    local = build_defs({"TAXI_HOME": str(tmp_path), "TAXI_TRIPS_DIR": str(TLC_DIR)})
    assets = {spec.key: spec for spec in local.resolve_all_asset_specs()}
    for job in local.resolve_all_job_defs():
        if job.name.startswith("__") or job.name == "rollback_job":
            continue
        keys = job.asset_layer.selected_asset_keys
        uses_spark = any("spark" in assets[key].kinds for key in keys)
        assert (job.tags.get("taxi/engine") == "spark") == uses_spark, job.name
        # every step of a run in the run's process: one code-location load and one Spark application per run
        assert job.executor_def is dg.in_process_executor, job.name
        # monitoring first in the queue, then the live stages, then Spark
        priority = int(job.tags.get("dagster/priority", "0"))
        assert priority == {"monitor_job": 10, "rollout_job": 5}.get(job.name, 0), job.name
    (tmp_path / "home").mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", tmp_path / "home" / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(tmp_path / "home"))
    queue = instance.get_concurrency_config().run_queue_config
    assert queue is not None
    assert queue.max_concurrent_runs >= 2
    assert queue.tag_concurrency_limits == [{"key": "taxi/engine", "value": "spark", "limit": 1}]
    # a stuck run is ended by the daemon's run monitoring (the demo has no deadline of its own)
    assert instance.run_monitoring_enabled
    assert instance.run_monitoring_max_runtime_seconds == 7200


def test_the_rollout_is_configured_per_service_and_a_bad_setting_is_named() -> None:
    policy = rollout_from_env(
        {"TAXI_ROLLOUT_STAGES": "green:shadow,ab;yellow:shadow", "TAXI_ROLLOUT_AB_SHARE": "green:0.25",
         "TAXI_ROLLOUT_MAX_LABELS": "3000", "TAXI_ROLLOUT_GUARDRAIL": "yellow:0"}
    )  # fmt: skip
    green, yellow = policy.plan("green"), policy.plan("yellow")
    assert (green.stages, green.ab_share, green.max_labels, green.guardrail) == (("shadow", "ab"), 0.25, 3000, True)
    assert (yellow.stages, yellow.ab_share, yellow.max_labels, yellow.guardrail) == (("shadow",), 0.1, 3000, False)
    # nothing set: promoted on the offline decision, with the guardrail
    default = rollout_from_env({}).plan("green")
    assert (default.stages, default.guardrail, default.alpha) == ((), True, 0.05)
    with pytest.raises(ValueError, match="ordered subset of shadow, ab, not ab,shadow"):
        rollout_from_env({"TAXI_ROLLOUT_STAGES": "ab,shadow"})
    with pytest.raises(ValueError, match="unknown TLC service 'blue'"):
        rollout_from_env({"TAXI_ROLLOUT_STAGES": "blue:shadow"})
    with pytest.raises(ValueError, match="ab_share must be in"):
        rollout_from_env({"TAXI_ROLLOUT_AB_SHARE": "1.5"})
    with pytest.raises(ValueError, match="max_labels"):
        rollout_from_env({"TAXI_ROLLOUT_MAX_LABELS": "many"})
