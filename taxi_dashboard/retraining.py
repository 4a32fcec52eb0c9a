"""Asking for a retraining: ``retrain_job`` launched through the Dagster webserver's GraphQL API.

The dashboard never imports the job: it names it, as any client of the webserver would, with the months to train
on (the newest ones the lake holds), who asked and why as run tags. The request is recorded in the alert history
like every other event of the loop, and the run's status is read back by its id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import pandas as pd
import requests

from taxi_assets import run_tags
from taxi_assets.alerting import Alert, Alerter, Kind, Severity
from taxi_assets.lake_storage import MANIFEST, lake_root

JOB: Final = "retrain_job"
LOCATION: Final = "taxi_assets"
REPOSITORY: Final = "__repository__"
TIMEOUT_SECONDS: Final = 15.0
# a screen that only reads waits less for an answer
READ_TIMEOUT_SECONDS: Final = 3.0
LAUNCH: Final = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on Error { message }
  }
}
"""
RUNS: Final = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter, limit: 50) {
    __typename
    ... on Runs { results { runId status startTime endTime tags { key value } } }
    ... on Error { message }
  }
}
"""
STATUS: Final = """
query Status($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status }
    ... on Error { message }
  }
}
"""


class DagsterUnavailableError(RuntimeError):
    """The webserver did not answer, or refused the launch; the message says which and why."""


@dataclass(frozen=True)
class Launched:
    """A run the webserver accepted."""

    run_id: str
    status: str
    months: list[str]


def ingested_months(root: str, service: str) -> list[str]:
    """The months whose features the lake holds for ``service`` (committed: a manifest), oldest first."""
    folder = lake_root(root) / "features" / service
    months = [child.name.removesuffix(".parquet") for child in folder.children()]
    return sorted(month for month in months if (folder / f"{month}.parquet" / MANIFEST).is_file())


def launch_params(service: str, months: list[str], who: str, why: str) -> dict[str, Any]:
    """The GraphQL ``ExecutionParams`` of one manual retraining of ``service`` on ``months``."""
    tags = {
        "dagster/partition": service,
        run_tags.TRIGGER: "manual",
        run_tags.REQUESTED_BY: who,
        run_tags.REASON: f"asked for on the dashboard by {who}: {why}",
        run_tags.MONTHS: ",".join(months),
    }
    config = {"months": months, "include_traffic": True, "expected_months": len(months)}
    return {
        "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": JOB},
        "runConfigData": {"ops": {"training_set": {"config": config}}},
        "executionMetadata": {"tags": [{"key": key, "value": value} for key, value in tags.items()]},
    }


def _graphql(
    dagster_url: str, query: str, variables: dict[str, Any], timeout: float = TIMEOUT_SECONDS
) -> dict[str, Any]:
    try:
        body = {"query": query, "variables": variables}
        response = requests.post(f"{dagster_url}/graphql", json=body, timeout=timeout)
    except requests.RequestException as error:
        raise DagsterUnavailableError(f"the Dagster webserver at {dagster_url} did not answer: {error}") from error
    if response.status_code != 200:
        raise DagsterUnavailableError(f"the Dagster webserver at {dagster_url} answered HTTP {response.status_code}")
    answer = response.json()
    if answer.get("errors"):
        raise DagsterUnavailableError("; ".join(str(error.get("message")) for error in answer["errors"]))
    return dict(answer["data"])


def launch_retraining(dagster_url: str, service: str, months: list[str], who: str, why: str) -> Launched:
    """Launch ``retrain_job`` for ``service`` through GraphQL.

    Raises:
        DagsterUnavailableError: the webserver is down or refused the run (the message is its own).
    """
    data = _graphql(dagster_url, LAUNCH, {"params": launch_params(service, months, who, why)})["launchRun"]
    if data["__typename"] != "LaunchRunSuccess":
        errors = [error["message"] for error in data.get("errors", [])] or [data.get("message", "")]
        raise DagsterUnavailableError(f"Dagster refused the run ({data['__typename']}): {'; '.join(errors)}")
    return Launched(data["run"]["runId"], data["run"]["status"], months)


def run_status(dagster_url: str, run_id: str) -> str:
    """The status Dagster reports for a run (``QUEUED``, ``STARTED``, ``SUCCESS``, ...).

    Raises:
        DagsterUnavailableError: the webserver is down or does not know the run.
    """
    data = _graphql(dagster_url, STATUS, {"runId": run_id})["runOrError"]
    if data["__typename"] != "Run":
        raise DagsterUnavailableError(f"run {run_id}: {data.get('message', data['__typename'])}")
    return str(data["status"])


def retraining_runs(dagster_url: str, service: str) -> pd.DataFrame:
    """The newest ``retrain_job`` runs of ``service`` as Dagster knows them: id, status, times, who and why.

    Raises:
        DagsterUnavailableError: the webserver is down or refused the query.
    """
    selector = {"pipelineName": JOB, "tags": [{"key": "dagster/partition", "value": service}]}
    data = _graphql(dagster_url, RUNS, {"filter": selector}, timeout=READ_TIMEOUT_SECONDS)["runsOrError"]
    if data["__typename"] != "Runs":
        raise DagsterUnavailableError(f"Dagster refused the query: {data.get('message', data['__typename'])}")
    rows = []
    for run in data["results"]:
        tags = {tag["key"]: tag["value"] for tag in run["tags"]}
        rows.append(
            {
                "run_id": run["runId"],
                "status": run["status"],
                "started": pd.to_datetime(run["startTime"], unit="s", utc=True) if run["startTime"] else pd.NaT,
                "ended": pd.to_datetime(run["endTime"], unit="s", utc=True) if run["endTime"] else pd.NaT,
                "launched_by": tags.get("dagster/sensor_name") or tags.get(run_tags.REQUESTED_BY) or "by hand",
                "reason": tags.get(run_tags.REASON, ""),
                "months": tags.get(run_tags.MONTHS, ""),
            }
        )
    columns = ["run_id", "status", "started", "ended", "launched_by", "reason", "months"]
    return pd.DataFrame(rows, columns=columns)


def record_request(database_url: str, service: str, launched: Launched, who: str, why: str) -> None:
    """The request in the alert history (and the log), beside the platform's own events."""
    details = {"dagster_run_id": launched.run_id, "requested_by": who, "why": why, "months": ",".join(launched.months)}
    title = f"retraining {service} asked for by {who}: {why}"
    Alerter(database_url).send(Alert(Severity.INFO, Kind.RETRAIN_REQUESTED, service, title, details))
