"""Benchmark the model: Spark GBT training time and memory, and scoring latency ONNX vs Spark.

Usage: python scripts/bench_model.py [TLC folder]   (``make bench-model``)

1. Features of every full green month are built through ``dagster.materialize`` in a temporary data home.
2. The default GBT (constants.py) is trained on each month and on green 2022-01..03 together; the wall time,
   the training rows per second, the JVM's peak resident memory and a linear projection to a 3-million-row
   yellow month are printed.
3. The model trained on 2022-01..03 is exported; single-row p50/p99 and a 1,000-row batch are timed for the
   ONNX artifact, for MLflow's pyfunc of it, and for Spark ``PipelineModel.transform`` (warm session), all in
   this process, and the ratios printed.
"""

import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import mlflow
import numpy as np
import pandas as pd
from benchutil import Figure, cpu_model, record
from pyspark.sql import SparkSession

from taxi_assets import constants
from taxi_assets.assets.features import trip_features
from taxi_assets.assets.ingestion import raw_trips, taxi_zones
from taxi_assets.assets.training import ChallengerConfig
from taxi_assets.definitions import build_resources
from taxi_assets.features.columns import FEATURES
from taxi_assets.features.schema import read_feature_table
from taxi_assets.model.fare_model import FareModel
from taxi_assets.model.pyfunc import serving_example, signature_types
from taxi_assets.model.versions import ModelRegistry
from taxi_assets.partitions import month_service_key
from taxi_assets.resources import DataLake
from taxi_assets.training.export import export_pipeline
from taxi_assets.training.pipeline import fit_pipeline

YELLOW_MONTH_ROWS = 3_000_000
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
DEFAULT_PARAMS = ChallengerConfig().params()  # what challenger_model trains with


def jvm_peak_rss_mb() -> float:
    """Peak resident memory (VmHWM) of the JVM child of this process, in MB."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[1]) != os.getpid() or (entry / "comm").read_text().strip() != "java":
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            continue
    return float("nan")


def percentiles_ms(timings: list[float]) -> tuple[float, float]:
    """p50 and p99 of timings given in seconds, in milliseconds."""
    return float(np.percentile(timings, 50)) * 1e3, float(np.percentile(timings, 99)) * 1e3


def build_features(folder: Path, home: str) -> list[str]:
    """Materialize raw -> features for every green month in the folder; return the months."""
    months = sorted(
        p.name.removeprefix("green_tripdata_").removesuffix(".parquet") for p in folder.rglob("green_*.parquet")
    )
    resources = build_resources({"TAXI_HOME": home, "TAXI_TRIPS_DIR": str(folder)})
    instance = dg.DagsterInstance.ephemeral()
    dg.materialize([taxi_zones], resources=resources, instance=instance, run_config=QUIET)
    for month in months:
        key = str(month_service_key(month, "green"))
        dg.materialize(
            [raw_trips, trip_features], resources=resources, instance=instance, partition_key=key, run_config=QUIET
        )
    return months


def main(folder: Path) -> int:
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"GBT: {DEFAULT_PARAMS}")
    with tempfile.TemporaryDirectory() as home:
        months = build_features(folder, home)
        lake = DataLake(root=str(Path(home) / "lake"))
        spark = SparkSession.builder.getOrCreate()  # the session the assets started (constants.SPARK_CONFIG)
        windows = [[month] for month in months] + [[m for m in months if m.startswith("2022")]]
        print(f"\n{'training window':<26}{'rows':>9}{'fit s':>8}{'rows/s':>9}")
        rate = float("nan")
        for window in windows:
            frame = spark.read.parquet(*(lake.committed_features("green", month).spark_uri for month in window)).cache()
            rows = frame.count()
            started = time.perf_counter()
            model = fit_pipeline(frame, DEFAULT_PARAMS)
            seconds = time.perf_counter() - started
            rate = rows / seconds
            print(f"{','.join(window):<26}{rows:>9,}{seconds:>8.1f}{rate:>9,.0f}")
            frame.unpersist()
        driver = constants.SPARK_CONFIG["spark.driver.memory"]
        print(f"JVM peak resident memory: {jvm_peak_rss_mb():,.0f} MB (driver memory {driver})")
        print(
            f"projected fit for a {YELLOW_MONTH_ROWS:,}-row yellow month: {YELLOW_MONTH_ROWS / rate / 60:.1f} min "
            f"(linear in rows from the {windows[-1][0]}..{windows[-1][-1]} run)"
        )

        work = Path(home) / "model"
        model.write().overwrite().save(str(work / "spark"))
        export_pipeline(work / "spark", work / "serving")
        onnx_model = FareModel.load(work / "serving")
        sample = read_feature_table(lake.committed_features("green", windows[-1][-1])).head(1_000)
        records = [{str(k): v for k, v in r.items()} for r in sample[list(FEATURES)].to_dict("records")]

        tracking = f"sqlite:///{Path(home) / 'mlflow.db'}"
        registry = ModelRegistry(tracking, (Path(home) / "artifacts").as_uri())
        with registry.run("bench", "bench", tags={}):
            uri = registry.log_fare_model(work / "serving", work / "spark", serving_example(sample))
        pyfunc = mlflow.pyfunc.load_model(uri)

        def time_calls(call, inputs, repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
            call(inputs[0])
            timings = []
            for repeat in range(repeats):
                started = time.perf_counter()
                call(inputs[repeat % len(inputs)])
                timings.append(time.perf_counter() - started)
            return timings

        typed = signature_types(sample)  # the pyfunc takes what its signature declares
        one_row_frames = [sample.iloc[[i]] for i in range(200)]
        typed_frames = [typed.iloc[[i]] for i in range(200)]
        spark_rows = [spark.createDataFrame(frame) for frame in one_row_frames[:60]]
        results = {
            "ONNX artifact (FareModel.predict_row)": time_calls(onnx_model.predict_row, records, 5_000),
            "MLflow pyfunc of the ONNX artifact": time_calls(pyfunc.predict, typed_frames, 1_000),
            "Spark PipelineModel.transform": time_calls(lambda df: model.transform(df).collect(), spark_rows, 60),
        }
        batch_spark = spark.createDataFrame(sample)
        batch = {
            "ONNX artifact (FareModel.predict_row)": time_calls(onnx_model.predict, [sample], 50),
            "MLflow pyfunc of the ONNX artifact": time_calls(pyfunc.predict, [typed], 20),
            "Spark PipelineModel.transform": time_calls(lambda df: model.transform(df).collect(), [batch_spark], 10),
        }
        print(f"\n{'scoring':<40}{'1 row p50 ms':>13}{'p99 ms':>9}{'1,000 rows p50 ms':>19}")
        spark_p50 = percentiles_ms(results["Spark PipelineModel.transform"])[0]
        for name in results:
            p50, p99 = percentiles_ms(results[name])
            print(f"{name:<40}{p50:>13.4f}{p99:>9.4f}{percentiles_ms(batch[name])[0]:>19.3f}")
        onnx_p50 = percentiles_ms(results["ONNX artifact (FareModel.predict_row)"])[0]
        print(f"\nsingle-row p50: Spark / ONNX artifact = {spark_p50 / onnx_p50:,.0f}x")
        print(f"pandas {pd.__version__}, mlflow {mlflow.__version__}")
        pyfunc_p50 = percentiles_ms(results["MLflow pyfunc of the ONNX artifact"])[0]
    record(
        "model",
        {
            f"fit rate, {','.join(windows[-1])}": Figure(rate, "rows/s", "higher"),
            "ONNX single row p50": Figure(onnx_p50, "ms", "lower"),
            "MLflow pyfunc single row p50": Figure(pyfunc_p50, "ms", "lower"),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data/tlc")))
