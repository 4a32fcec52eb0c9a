"""The jobs of the code location: asset selections the CLI, the sensor and the UI launch."""

import dagster as dg

from taxi_assets import run_tags
from taxi_assets.assets.features import labelled_traffic, training_set, trip_features
from taxi_assets.assets.ingestion import raw_trips, taxi_zones
from taxi_assets.assets.monitoring import reference_profile
from taxi_assets.assets.promotion import promotion_decision
from taxi_assets.assets.rollout import online_evaluation
from taxi_assets.assets.training import challenger_model
from taxi_assets.run_logging import RUN_LOG_CONFIG

# Jobs that start a Spark session carry this tag: the instance's run queue runs one of them at a time (each has a
# JVM of its own), while monitoring runs, which need no Spark, never wait behind one (dagster.yaml).
SPARK_RUN_TAGS = {run_tags.ENGINE: "spark"}
# Monitoring first: the run queue starts queued runs by Dagster's priority tag, highest first, so a closing
# window's judging takes the next free slot ahead of a live-stage judging, and both ahead of Spark runs (0).
PRIORITY = "dagster/priority"
MONITOR_RUN_TAGS = {PRIORITY: "10"}
ROLLOUT_RUN_TAGS = {PRIORITY: "5"}

ingest_job = dg.define_asset_job(
    "ingest_job",
    config=RUN_LOG_CONFIG,
    tags=SPARK_RUN_TAGS,
    selection=dg.AssetSelection.assets(raw_trips, trip_features),
    description="One month of one service: TLC file -> canonical raw trips -> model features.",
)
zones_job = dg.define_asset_job(
    "zones_job",
    config=RUN_LOG_CONFIG,
    selection=dg.AssetSelection.assets(taxi_zones),
    description="Refresh the zone lookup.",
)
reference_job = dg.define_asset_job(
    "reference_job",
    config=RUN_LOG_CONFIG,
    tags=SPARK_RUN_TAGS,
    selection=dg.AssetSelection.assets(training_set, reference_profile),
    description="One service: training window -> train/test split -> reference profile.",
)
monitor_job = dg.define_asset_job(
    "monitor_job",
    config=RUN_LOG_CONFIG,
    tags=MONITOR_RUN_TAGS,
    selection=dg.AssetSelection.assets("drift_report"),
    description="One window of the prediction log against the champion's reference, and its checks.",
)
train_job = dg.define_asset_job(
    "train_job",
    config=RUN_LOG_CONFIG,
    tags=SPARK_RUN_TAGS,
    selection=dg.AssetSelection.assets(training_set, reference_profile, challenger_model, promotion_decision),
    description="One service: split the window, fit its profile, train and register a challenger, decide on it.",
)

retrain_job = dg.define_asset_job(
    "retrain_job",
    config=RUN_LOG_CONFIG,
    tags=SPARK_RUN_TAGS,
    selection=dg.AssetSelection.assets(
        labelled_traffic, training_set, reference_profile, challenger_model, promotion_decision
    ),
    description="One service, what the retraining sensor launches: labelled traffic + the latest months -> "
    "challenger -> promotion decision on the most recent labelled traffic.",
)
rollout_job = dg.define_asset_job(
    "rollout_job",
    config=RUN_LOG_CONFIG,
    tags=ROLLOUT_RUN_TAGS,
    selection=dg.AssetSelection.assets(online_evaluation),
    description="One service: its challenger's live stage judged on the labels matured so far, and the step taken.",
)
