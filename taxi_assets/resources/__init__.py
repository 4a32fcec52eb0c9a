"""Resources, one module each: the trip source, the lake, Spark, MLflow, the platform database, alerts, policies.

Every resource is a ``ConfigurableResource`` built by ``definitions.py`` from the environment; an external
system has a local implementation that tests point at ``tmp_path`` (``LocalTripSource``, a SQLite database, a
folder lake) and a real one.
"""

from taxi_assets.resources.alerts import AlertsResource
from taxi_assets.resources.database import PlatformDatabase
from taxi_assets.resources.lake import DataLake
from taxi_assets.resources.mlflow_registry import MlflowResource
from taxi_assets.resources.policies import MonitoringPolicy, RetrainingPolicy, RolloutPolicy, RolloutSettings
from taxi_assets.resources.spark import SparkResource, parse_spark_conf, spark_config
from taxi_assets.resources.trip_source import (
    ZONE_LOOKUP_FILE,
    FetchedFile,
    HttpTripSource,
    LocalTripSource,
    TripSource,
    describe_file,
    next_month,
    trip_file_name,
)

__all__ = [
    "ZONE_LOOKUP_FILE",
    "AlertsResource",
    "DataLake",
    "FetchedFile",
    "HttpTripSource",
    "LocalTripSource",
    "MlflowResource",
    "MonitoringPolicy",
    "PlatformDatabase",
    "RetrainingPolicy",
    "RolloutPolicy",
    "RolloutSettings",
    "SparkResource",
    "TripSource",
    "describe_file",
    "next_month",
    "parse_spark_conf",
    "spark_config",
    "trip_file_name",
]
