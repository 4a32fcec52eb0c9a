"""challenger_model materialized for real: MLflow run, registered version, checks, reproducibility."""

import json
import subprocess
import sys

import mlflow
import numpy as np
import pytest

from taxi_assets.features.schema import read_feature_table
from taxi_assets.lake_storage import read_committed
from taxi_assets.model.checks import BEHAVIOUR_CHECK, PARITY_CHECK
from taxi_assets_tests.assets.support import Lifecycle, materialization_metadata

pytestmark = pytest.mark.slow  # trains a real model


def test_challenger_metadata_and_checks(lifecycle: Lifecycle) -> None:
    meta = materialization_metadata(lifecycle.runs["v1"], "challenger_model")
    assert meta["model_name"] == "taxi-fare-green"
    assert meta["model_version"] == "1"
    assert 2.0 < float(meta["rmse"]) < 6.0  # type: ignore[arg-type]
    assert float(meta["parity_max_abs_diff"]) <= 1e-6  # type: ignore[arg-type]
    assert set(meta["rmse_by_pickup_borough"]) >= {"Manhattan", "Brooklyn", "Queens"}  # type: ignore[arg-type]
    evaluations = {e.check_name: e for e in lifecycle.runs["v1"].get_asset_check_evaluations()}
    assert set(evaluations) == {PARITY_CHECK, BEHAVIOUR_CHECK}
    parity = evaluations[PARITY_CHECK]
    assert parity.passed
    assert parity.metadata["max_abs_diff_usd"].value <= 1e-6
    assert parity.metadata["rows"].value == meta["rows_test"]
    assert parity.metadata["min_prediction"].value >= 0
    # the trees exported for explanations price every test row as the ONNX file does
    assert parity.metadata["explain_max_abs_diff_usd"].value <= 1e-9
    behaviour = evaluations[BEHAVIOUR_CHECK]
    assert behaviour.passed
    assert behaviour.metadata["deterministic"].value is True


def test_same_config_on_same_data_gives_identical_metrics(lifecycle: Lifecycle) -> None:
    first = materialization_metadata(lifecycle.runs["v1"], "challenger_model")
    second = materialization_metadata(lifecycle.runs["v2"], "challenger_model")
    assert second["model_version"] == "2"
    for metric in ("rmse", "mae", "r2", "mape", "bias"):
        assert second[metric] == first[metric], metric


def test_the_mlflow_run_records_params_metrics_lineage_and_artifacts(lifecycle: Lifecycle) -> None:
    registry = lifecycle.registry()
    version = registry.client.get_model_version("taxi-fare-green", "1")
    run = registry.client.get_run(version.run_id)
    dagster_run_id = lifecycle.runs["v1"].run_id
    assert run.info.status == "FINISHED"
    assert run.info.run_name.endswith(dagster_run_id[:8])
    assert registry.client.get_experiment(run.info.experiment_id).name == "taxi-fare-green"
    assert run.data.tags["dagster.run_id"] == dagster_run_id
    assert run.data.tags["training_months"] == "2022-01"
    assert {"max_iter", "max_depth", "step_size", "subsampling_rate", "seed", "split_seed"} <= set(run.data.params)
    assert run.data.params["max_iter"] == "10"
    assert run.data.metrics["rmse"] == materialization_metadata(lifecycle.runs["v1"], "challenger_model")["rmse"]
    artifacts = {item.path for item in registry.client.list_artifacts(version.run_id)}
    assert {"spark_model", "lineage.json"} <= artifacts
    tags = version.tags
    assert tags["check.serving_artifact_parity"] == "passed"
    assert tags["check.fare_behaviour"] == "passed"
    assert tags["dagster_run_id"] == dagster_run_id
    assert len(tags["train_hash"]) == 64
    assert str(lifecycle.home) in registry.client.get_experiment(run.info.experiment_id).artifact_location
    wrapper = registry.load_pyfunc("taxi-fare-green", "1")
    assert wrapper.profile is not None
    assert wrapper.profile.training_set_hash == tags["train_hash"]
    assert wrapper.prediction_profile is not None
    # a tree ensemble predicts a finite set of values, so duplicate quantile edges merge: at most 20 bins
    assert 10 <= len(wrapper.prediction_profile.shares) <= 20
    # the version carries its trees for explanations: base + contributions is the fare it serves
    assert wrapper.explainer is not None
    assert wrapper.model is not None
    _, data = read_committed(lifecycle.lake.training_set("green"), "training_set")
    matrix = wrapper.model.encode(read_feature_table(data / "split=test").head(200))
    fares = wrapper.model.predict_matrix(matrix)
    for x, fare in zip(matrix.tolist(), fares, strict=True):
        total = wrapper.explainer.base + sum(wrapper.explainer.contributions(x))
        assert max(total, 0.0) == pytest.approx(fare, abs=1e-6)
    assert sum(wrapper.prediction_profile.shares) == pytest.approx(1.0)


SCORE_WITHOUT_SPARK = """
import json, os, sys
import mlflow, pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.pyfunc.load_model("models:/taxi-fare-green@champion")
rows = pd.read_parquet(sys.argv[2])
predictions = model.predict(rows)
from pyspark import SparkContext
children = []
for entry in os.listdir("/proc"):
    if entry.isdigit():
        try:
            fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            children.append(open(f"/proc/{entry}/comm").read().strip())
print(json.dumps({
    "predictions": [float(p) for p in predictions[:50]],
    "spark_context": SparkContext._active_spark_context is not None,
    "gateway": SparkContext._gateway is not None,
    "children": children,
}))
"""


def test_the_champion_loads_by_alias_and_scores_without_a_jvm(lifecycle: Lifecycle, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, data = read_committed(lifecycle.lake.training_set("green"), "training_set")
    test = read_feature_table(data / "split=test").head(50)
    rows_path = tmp_path / "rows.parquet"
    test.to_parquet(rows_path)
    tracking_uri = lifecycle.registry().tracking_uri
    completed = subprocess.run(
        [sys.executable, "-c", SCORE_WITHOUT_SPARK, tracking_uri, str(rows_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["spark_context"] is False
    assert result["gateway"] is False
    assert "java" not in result["children"]
    champion = lifecycle.registry().alias("taxi-fare-green", "champion")
    expected = lifecycle.registry().load_fare_model("taxi-fare-green", str(champion)).predict(test)
    assert np.allclose(result["predictions"], expected, atol=1e-12)
    assert mlflow.get_tracking_uri() is not None


def test_the_code_version_names_the_commit_an_image_was_built_from(monkeypatch: pytest.MonkeyPatch) -> None:
    from taxi_assets.assets.training import code_version

    monkeypatch.setenv("TAXI_CODE_COMMIT", "1a2b3c4")
    assert code_version().endswith("+1a2b3c4")
    monkeypatch.delenv("TAXI_CODE_COMMIT")
    checkout = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    assert code_version().endswith(f"+{checkout.stdout.strip() or 'unknown'}")
