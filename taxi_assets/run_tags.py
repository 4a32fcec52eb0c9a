"""The tags the platform puts on Dagster runs: why a run started, for what window, months and evaluation.

One home for every ``taxi/...`` tag, so the sensors and schedules that write them, and the demo, the CLI and the
dashboard that read them, name them alike. Dagster shows them on each run in its UI.
"""

from typing import Final

# what started the run: a check's name, "window_closed", "new_month", "labels_matured" or "manual"
TRIGGER: Final = "taxi/trigger"
# the run's reason in a sentence, for the UI and the dashboard's history
REASON: Final = "taxi/reason"
# the monitoring window (YYYY-MM-DD-HH:MM) a run judges or was started for
WINDOW: Final = "taxi/window"
# the months a retraining trains on, comma-separated; and those it wanted but could not ingest
MONTHS: Final = "taxi/months"
MISSING_MONTHS: Final = "taxi/missing_months"
# the check evaluation a retraining answers: a failure is acted on once
EVALUATION_ID: Final = "taxi/evaluation_id"
# requests logged in the window a monitoring run judges
REQUESTS: Final = "taxi/requests"
# the trip source's version of a month an ingestion run fetched
SOURCE_VERSION: Final = "taxi/source_version"
# the live rollout stage and the labels it had when its evaluation was requested
STAGE: Final = "taxi/stage"
LABELS: Final = "taxi/labels"
# who asked for a manual retraining on the dashboard
REQUESTED_BY: Final = "taxi/requested_by"
# runs whose steps start Spark
ENGINE: Final = "taxi/engine"
