"""Each decision about a version is added to its model card (``model.card``), beside the record and the tags.

A promotion, a rejection, a rollout step or a rollback rewrites the card of the version it was about, with the
decision's action, reason, the version it was compared with and the evidence in short: the holdout, both RMSEs,
the segment gate's verdict, the live test's numbers. A version registered before versions carried cards is left
as it is; a card that cannot be written is logged as an error and the decision stands (it is recorded already).
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from mlflow.exceptions import MlflowException

from taxi_assets.model.card import with_decision
from taxi_assets.model.versions import ModelRegistry
from taxi_assets.registry.decisions import DecisionRecord

log = logging.getLogger(__name__)


def evidence(record: DecisionRecord) -> dict[str, Any]:
    """The decision's evidence in short: each rule's verdict and value, the segment gate's blocks, the live test."""
    found: dict[str, Any] = {}
    for name, rule in record.rules.items():
        if name == "segments" and isinstance(rule, dict) and "passed" in rule:
            found[name] = {"passed": rule["passed"], "blocked": rule.get("value", []), "tests": rule.get("tests")}
        elif name == "live" and isinstance(rule, dict):
            found[name] = rule
        elif isinstance(rule, dict) and "passed" in rule:
            found[name] = {"passed": rule["passed"], "value": rule.get("value"), "threshold": rule.get("threshold")}
        elif name in ("holdout", "holdout_rows"):
            found[name] = rule
    for role, metrics in (("challenger", record.challenger_metrics), ("champion", record.champion_metrics)):
        rmse = metrics.get("rmse", metrics.get("live_rmse"))
        if rmse is not None:
            found[f"{role}_rmse"] = rmse
    return found


def note_decision(registry: ModelRegistry, record: DecisionRecord, version: str, decision_id: int) -> bool:
    """Add ``record`` to the card of ``version``; whether a card was there to add it to (and was written)."""
    name = record.model_name
    try:
        facts = registry.card_facts(name, version)
        if facts is None:
            return False
        decision = {
            "id": decision_id,
            "at": record.decided_at.isoformat(timespec="seconds"),
            "action": record.action,
            "reason": record.reason,
            "compared_with": record.champion_version,
            "champion_after": record.new_champion_version,
            "dagster_run_id": record.dagster_run_id,
            "evidence": evidence(record),
        }
        registry.write_card(name, version, with_decision(facts, decision))
    except (MlflowException, OSError, requests.RequestException) as exc:
        log.error("decision %s on %s v%s is recorded, but its model card was not updated: %s", decision_id, name,
                  version, exc)  # fmt: skip
        return False
    return True
