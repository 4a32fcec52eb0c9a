"""The lake on an object store: an S3 server on 127.0.0.1 (moto's), and the same commit protocol on a local folder.

Everything here that is not Spark goes through S3 for real: the raw and zone files, manifests and their commits,
the reference profile, the sensor's look for missing months. Spark reaches S3 through Hadoop's ``s3a://``
connector, which is not part of PySpark's distribution (a cluster adds it with ``spark.jars.packages``), so
the Spark assets' part is their URIs, and the ``file://`` lake test in resources/test_spark.py.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import boto3
import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto.server import ThreadedMotoServer

from taxi_assets.assets.common import HADOOP_AWS
from taxi_assets.assets.features import trip_features
from taxi_assets.assets.ingestion import raw_trips, taxi_zones
from taxi_assets.assets.monitoring import reference_profile
from taxi_assets.definitions import spark_from_env
from taxi_assets.errors import MissingInputError
from taxi_assets.features.schema import content_hash, read_feature_table
from taxi_assets.lake_storage import (
    DATA_KEY,
    MANIFEST,
    LakeLocation,
    lake_root,
    read_committed,
    read_manifest,
    staged_folder,
    write_manifest,
    write_parquet_atomic,
)
from taxi_assets.partitions import month_service_key
from taxi_assets.resources import DataLake, LocalTripSource
from taxi_assets.sensors import in_lake
from taxi_assets_tests.support import TLC_DIR, real_trip_table

pytestmark = pytest.mark.slow  # runs an S3 server and Spark on it

BUCKET = "taxi-lake"
S3_ENV = {"AWS_ACCESS_KEY_ID": "lake-test", "AWS_SECRET_ACCESS_KEY": "lake-test", "AWS_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """An S3-compatible server on a free local port, with one bucket; AWS_* variables point the clients at it."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {key: os.environ.get(key) for key in [*S3_ENV, "AWS_ENDPOINT_URL"]}
    os.environ.update(S3_ENV, AWS_ENDPOINT_URL=endpoint)
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()


@pytest.fixture
def s3_root(s3_endpoint: str, request: pytest.FixtureRequest) -> str:
    """A lake root of its own in the bucket for each test."""
    return f"s3://{BUCKET}/{request.node.name.replace('[', '-').rstrip(']')}"


@pytest.fixture(params=["s3", "local"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> LakeLocation:
    """The same tests on an S3 lake and on a local one."""
    if request.param == "s3":
        return lake_root(request.getfixturevalue("s3_root"))
    return lake_root(str(tmp_path / "lake"))


def s3_objects(prefix: str) -> set[str]:
    """The objects under ``prefix``, without the empty ``folder/`` markers pyarrow keeps for emptied folders."""
    listing = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return {item["Key"] for item in listing.get("Contents", []) if not item["Key"].endswith("/")}


def test_an_s3_root_names_its_objects_and_spark_reads_them_through_s3a(s3_root: str) -> None:
    root = lake_root(s3_root)
    table = root / "features" / "green" / "2022-01.parquet"
    assert not root.is_local
    assert root.local_path is None
    assert str(table) == f"{s3_root}/features/green/2022-01.parquet"
    assert table.spark_uri == f"s3a://{s3_root.removeprefix('s3://')}/features/green/2022-01.parquet"
    assert lake_root(s3_root + "/").uri == s3_root
    assert (table / MANIFEST).parent == table
    assert table.name == "2022-01.parquet"


def test_a_file_is_written_whole_under_its_name_and_nothing_else_is_left(root: LakeLocation) -> None:
    target = root / "drift" / "green" / "2023-01-05.json"
    assert not target.exists()
    target.write_text('{"rows": 1}')
    target.write_text('{"rows": 2}')
    assert target.is_file()
    assert json.loads(target.read_text()) == {"rows": 2}
    assert [child.name for child in target.parent.children()] == ["2023-01-05.json"]
    target.delete()
    assert not target.exists()
    target.delete()  # removing what is not there is not an error


def test_a_parquet_file_written_to_the_lake_reads_back_equal(root: LakeLocation, tmp_path: Path) -> None:
    table = real_trip_table("green", "2022-01").slice(0, 2_000)
    write_parquet_atomic(table, root / "raw" / "green" / "2022-01.parquet")
    assert pq.read_table((root / "raw" / "green" / "2022-01.parquet").path, filesystem=root.fs).equals(table)
    local = (root / "raw").as_local(tmp_path / "scratch")
    assert pq.read_table(local / "green" / "2022-01.parquet").equals(table)


def commit(target: LakeLocation, frame: pd.DataFrame) -> dict[str, object]:
    with staged_folder(target) as generation:
        write_parquet_atomic(pa.Table.from_pandas(frame, preserve_index=False), generation / "part-0.parquet")
        write_manifest(generation, {"rows": len(frame), "content_hash": content_hash(frame)})
    return read_manifest(target, "test table")


def committed_frame(target: LakeLocation) -> pd.DataFrame:
    _, data = read_committed(target, "test table")
    return pq.read_table(data.path, filesystem=data.fs).to_pandas()


def test_a_folder_output_is_committed_by_its_manifest_and_keeps_one_older_generation(root: LakeLocation) -> None:
    target = root / "features" / "green" / "2022-01.parquet"
    frames = [
        pd.DataFrame({"trip_id": [f"t{i}-{n}" for n in range(5 + i)], "fare": [1.0 * i] * (5 + i)}) for i in range(3)
    ]
    names = []
    for frame in frames:
        manifest = commit(target, frame)
        assert manifest["rows"] == len(frame)
        names.append(manifest[DATA_KEY])
        pd.testing.assert_frame_equal(committed_frame(target), frame)
    assert len(set(names)) == 3
    # the newest generation, the one before it (a reader may still be on it) and the manifest: the oldest is gone
    assert {child.name for child in target.children()} == {MANIFEST, names[2], names[1]}


def write_without_committing(target: LakeLocation, fail: bool) -> None:
    """Write data into a new generation, then fail (as a schema check does) or end without a manifest."""
    with staged_folder(target) as generation:
        write_parquet_atomic(pa.table({"trip_id": ["c"]}), generation / "part-0.parquet")
        if fail:
            raise ValueError("schema check failed")


def test_a_failed_write_leaves_the_committed_output_exactly_as_it_was(root: LakeLocation) -> None:
    target = root / "training" / "green"
    before = commit(target, pd.DataFrame({"trip_id": ["a", "b"], "fare": [5.0, 6.0]}))
    children = {child.name for child in target.children()}
    with pytest.raises(ValueError, match="schema check failed"):
        write_without_committing(target, fail=True)
    with pytest.raises(RuntimeError, match=re.escape("wrote no _manifest.json")):
        write_without_committing(target, fail=False)
    assert read_manifest(target, "training_set") == before
    assert {child.name for child in target.children()} == children
    assert list(committed_frame(target)["trip_id"]) == ["a", "b"]


def test_two_writes_of_one_output_at_once_never_remove_each_others_data(root: LakeLocation) -> None:
    target = root / "features" / "green" / "2022-02.parquet"
    commit(target, pd.DataFrame({"trip_id": ["p"], "fare": [1.0]}))
    first, second = staged_folder(target), staged_folder(target)
    first_generation, second_generation = first.__enter__(), second.__enter__()
    for generation, trip in ((first_generation, "a"), (second_generation, "b")):
        write_parquet_atomic(pa.table({"trip_id": [trip], "fare": [2.0]}), generation / "part-0.parquet")
        write_manifest(generation, {"rows": 1})
    first.__exit__(None, None, None)  # commits while the second write is still open
    assert list(committed_frame(target)["trip_id"]) == ["a"]
    second.__exit__(None, None, None)
    assert list(committed_frame(target)["trip_id"]) == ["b"]
    assert read_manifest(target, "trip_features")[DATA_KEY] == second_generation.name
    # the first write's generation is the previous one now; the original output's is older, so it went
    assert {child.name for child in target.children()} == {MANIFEST, first_generation.name, second_generation.name}


def test_a_folder_written_before_generations_is_read_in_place_then_replaced(root: LakeLocation) -> None:
    target = root / "traffic" / "green"
    write_parquet_atomic(pa.table({"trip_id": ["old"], "fare": [1.0]}), target / "split=train" / "part-0.parquet")
    write_manifest(target, {"rows": 1})
    manifest, data = read_committed(target, "labelled_traffic green")
    assert DATA_KEY not in manifest
    assert data == target
    commit(target, pd.DataFrame({"trip_id": ["new"], "fare": [2.0]}))
    assert "split=train" not in {child.name for child in target.children()}
    assert list(committed_frame(target)["trip_id"]) == ["new"]


def test_reading_an_output_that_was_never_written_names_the_step_to_run(root: LakeLocation) -> None:
    with pytest.raises(MissingInputError, match=r"training_set green is not materialized: .* has no _manifest.json"):
        read_committed(root / "training" / "green", "training_set green")


def test_raw_trips_and_zones_are_ingested_into_the_s3_lake_with_their_quarantine(
    s3_root: str, trips_dir: Path, tmp_path: Path
) -> None:
    (trips_dir / "green").mkdir()
    (trips_dir / "green" / "green_tripdata_2022-01.parquet").symlink_to(
        TLC_DIR / "green" / "green_tripdata_2022-01.parquet"
    )
    lake = DataLake(root=s3_root, scratch=str(tmp_path / "scratch"))
    resources = {"lake": lake, "trip_source": LocalTripSource(root=str(trips_dir))}
    assert dg.materialize([taxi_zones], resources=resources).success
    result = dg.materialize([raw_trips], resources=resources, partition_key=str(month_service_key("2022-01", "green")))
    assert result.success
    meta = {k: v.value for k, v in result.asset_materializations_for_node("raw_trips")[0].metadata.items()}
    prefix = s3_root.removeprefix(f"s3://{BUCKET}/")
    assert s3_objects(prefix) == {
        f"{prefix}/raw/green/2022-01.parquet",
        f"{prefix}/quarantine/green/2022-01.parquet",
        f"{prefix}/zones/taxi_zones.parquet",
    }
    raw, quarantine = lake.raw("green", "2022-01"), lake.quarantine("green", "2022-01")
    assert pq.read_table(raw.path, filesystem=raw.fs).num_rows == meta["rows_valid"] > 0
    assert pq.read_table(quarantine.path, filesystem=quarantine.fs).num_rows == meta["rows_quarantined"] > 0
    assert meta["path"] == f"{s3_root}/raw/green/2022-01.parquet"
    # the downloads cache stays on the local disk, in the scratch folder
    assert lake.downloads().parent == tmp_path / "scratch"


def test_the_reference_profile_is_fitted_from_an_s3_training_set_and_written_beside_it(
    s3_root: str, spark_features: pd.DataFrame
) -> None:
    lake = DataLake(root=s3_root)
    with staged_folder(lake.training_set("green")) as generation:
        for side, rows in (("train", spark_features.iloc[:4_000]), ("test", spark_features.iloc[4_000:])):
            table = pa.Table.from_pandas(rows.reset_index(drop=True), preserve_index=False)
            write_parquet_atomic(table, generation / f"split={side}" / "part-0.parquet")
        train_hash = content_hash(read_feature_table(generation / "split=train"))
        write_manifest(generation, {"months": ["2022-01"], "train_hash": train_hash})
    result = dg.materialize(
        [reference_profile],
        resources={"lake": lake},
        partition_key="green",
        run_config={"ops": {"reference_profile": {"config": {"sample_rows": 500}}}},
    )
    assert result.success
    folder = lake.profile_dir("green")
    profile = json.loads((folder / "reference_profile.json").read_text())
    assert profile["rows"] == 4_000
    assert profile["training_set_hash"] == train_hash
    sample = pd.read_csv(io.BytesIO((folder / "reference.csv").read_bytes()))
    assert len(sample) == 500
    assert set(sample["trip_distance"]) <= set(spark_features.iloc[:4_000]["trip_distance"])


def test_the_sensor_sees_which_retraining_months_are_missing_from_an_s3_lake(s3_root: str) -> None:
    lake = DataLake(root=s3_root)
    assert not in_lake(lake, "green", "2023-02")
    write_manifest(lake.features("green", "2023-02"), {"rows": 1})
    assert in_lake(lake, "green", "2023-02")
    assert not in_lake(lake, "yellow", "2023-02")


@pytest.fixture(scope="module")
def spark_features(spark, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """5,000 rows of real green 2022-01 features, made by the pipeline's own functions."""
    from taxi_assets_tests.support import featurize_month

    folder = featurize_month(spark, "2022-01", tmp_path_factory.mktemp("features"))
    return read_feature_table(folder).head(5_000)


def test_a_spark_step_on_an_s3_lake_without_hadoops_connector_fails_saying_what_to_add(s3_root: str) -> None:
    lake = DataLake(root=s3_root)
    write_parquet_atomic(real_trip_table("green", "2022-01").slice(0, 100), lake.raw("green", "2022-01"))
    write_parquet_atomic(pa.table({"LocationID": [1], "Borough": ["EWR"]}), lake.zones())
    result = dg.materialize(
        [trip_features],
        resources={"lake": lake, "pyspark": spark_from_env({})},
        partition_key=str(month_service_key("2022-01", "green")),
        raise_on_error=False,
    )
    assert not result.success
    failure = next(event for event in result.all_events if event.is_step_failure)
    message = failure.step_failure_data.error.message  # type: ignore[union-attr]
    assert "Spark cannot open the lake: its Hadoop has no filesystem for it" in message
    assert "org.apache.hadoop.fs.s3a.S3AFileSystem not found" in message
    assert f"spark.jars.packages={HADOOP_AWS}" in message
    assert not (lake.features("green", "2022-01") / MANIFEST).exists()
