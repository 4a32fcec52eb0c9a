from pathlib import Path

import pytest

from taxi_assets.alerting import Kind, Severity
from taxi_assets.errors import MissingInputError
from taxi_assets.model.checks import BEHAVIOUR_CHECK, PARITY_CHECK
from taxi_assets.model.versions import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION, ModelRegistry, model_name
from taxi_assets.registry.champion import Comparison, Rollback, decision_alert, require_challenger, rollback
from taxi_assets.registry.decisions import DecisionRecord, DecisionStore
from taxi_assets.registry.promotion import Evidence, PromotionRules, decide
from taxi_assets.registry.stages import start_guardrail

RULES = PromotionRules(min_rmse_improvement=0.5, latency_tolerance_ratio=0.5, latency_tolerance_ms=1.0)
PASSED = {PARITY_CHECK: True, BEHAVIOUR_CHECK: True}


def comparison(challenger_rmse: float, champion_rmse: float) -> Comparison:
    challenger = Evidence("3", {"rmse": challenger_rmse}, 0.1, 0.2, PASSED)
    champion = Evidence("2", {"rmse": champion_rmse}, 0.1, 0.2, PASSED)
    decision = decide(challenger, champion, RULES)
    return Comparison("taxi-fare-green", challenger, champion, decision, "labelled_traffic holdout", 2_400)


def record_of(compared: Comparison) -> DecisionRecord:
    after = "3" if compared.promoted else "2"
    return DecisionRecord("green", compared.name, compared.decision.action, compared.decision.reason, "3", "2", after)


def test_a_promotion_alerts_as_info_with_both_models_and_the_holdout() -> None:
    compared = comparison(3.5, 5.8)
    assert compared.promoted
    alert = decision_alert("green", compared, record_of(compared), "run-1")
    assert (alert.severity, alert.kind) == (Severity.INFO, Kind.PROMOTED)
    assert alert.title == "taxi-fare-green: challenger v3 promoted"
    assert alert.details["champion_before"] == "2"
    assert alert.details["champion_after"] == "3"
    assert (alert.details["challenger_rmse"], alert.details["champion_rmse"]) == (3.5, 5.8)
    assert alert.details["holdout"] == "labelled_traffic holdout (2400 rows)"


def test_a_rejection_keeps_the_champion_and_warns_with_the_rule_that_failed() -> None:
    compared = comparison(5.6, 5.8)
    assert not compared.promoted
    alert = decision_alert("green", compared, record_of(compared), "run-1")
    assert (alert.severity, alert.kind) == (Severity.WARNING, Kind.REJECTED)
    assert alert.details["champion_after"] == "2"
    assert "RMSE improvement" in str(alert.details["reason"])


def test_a_rollback_says_which_version_replaced_which() -> None:
    assert Rollback("4", "3", 7).reason == "rollback: champion v4 replaced by previous champion v3"


@pytest.mark.slow
def test_promotion_needs_a_challenger_in_the_registry(tmp_path: Path) -> None:
    registry = ModelRegistry(f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "artifacts"))
    with pytest.raises(MissingInputError, match="taxi-fare-green has no 'challenger' version"):
        require_challenger(registry, "taxi-fare-green")


def test_a_rollback_during_the_guardrail_ends_it(tmp_path: Path) -> None:
    registry = ModelRegistry(f"sqlite:///{tmp_path / 'mlflow.db'}")
    name = model_name("green")
    registry.client.create_registered_model(name)
    for _ in range(2):
        registry.client.create_model_version(name, source=str(tmp_path / "model"))
    registry.set_alias(name, CHAMPION, "2")
    registry.set_alias(name, PREVIOUS_CHAMPION, "1")
    start_guardrail(registry, name, "1", "2")
    store = DecisionStore(f"sqlite:///{tmp_path / 'platform.db'}")
    done = rollback(registry, store, "green", name, None)
    store.dispose()
    assert (done.current, done.previous) == ("2", "1")
    assert {alias: registry.alias(name, alias) for alias in (CHAMPION, PREVIOUS_CHAMPION, CHALLENGER)} == {
        CHAMPION: "1",
        PREVIOUS_CHAMPION: None,
        CHALLENGER: None,
    }
