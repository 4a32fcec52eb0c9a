from taxi_assets.registry.promotion import PROMOTE, REJECT, Evidence, PromotionRules, decide

RULES = PromotionRules(min_rmse_improvement=0.5, latency_tolerance_ratio=0.5, latency_tolerance_ms=0.05)
PASSED = {"serving_artifact_parity": True, "fare_behaviour": True}


def evidence(version: str, rmse: float, p99_ms: float = 0.01, checks: dict[str, bool] | None = None) -> Evidence:
    return Evidence(
        version, {"rmse": rmse}, p50_ms=p99_ms / 2, p99_ms=p99_ms, checks=PASSED if checks is None else checks
    )


def test_first_model_with_passing_checks_becomes_champion() -> None:
    decision = decide(evidence("1", 3.5), None, RULES)
    assert decision.action == PROMOTE
    assert "first champion" in decision.reason


def test_first_model_with_a_failed_check_is_rejected() -> None:
    decision = decide(
        evidence("1", 3.5, checks={"serving_artifact_parity": False, "fare_behaviour": True}), None, RULES
    )
    assert decision.action == REJECT
    assert "serving_artifact_parity" in decision.reason


def test_a_model_without_recorded_checks_is_not_promoted() -> None:
    assert decide(evidence("1", 3.5, checks={}), None, RULES).action == REJECT


def test_improvement_exactly_at_the_margin_promotes_and_just_below_rejects() -> None:
    champion = evidence("1", 6.0)
    assert decide(evidence("2", 5.5), champion, RULES).action == PROMOTE
    rejected = decide(evidence("2", 5.51), champion, RULES)
    assert rejected.action == REJECT
    assert rejected.rules["rmse_improvement"]["passed"] is False
    assert rejected.rules["rmse_improvement"]["threshold"] == 0.5
    assert "RMSE improvement 0.490 < required 0.5" in rejected.reason


def test_a_slower_challenger_is_rejected_even_when_more_accurate() -> None:
    champion = evidence("1", 6.0, p99_ms=0.010)
    # allowed: 0.010 * 1.5 + 0.05 = 0.065 ms
    assert decide(evidence("2", 4.0, p99_ms=0.064), champion, RULES).action == PROMOTE
    decision = decide(evidence("2", 4.0, p99_ms=0.070), champion, RULES)
    assert decision.action == REJECT
    assert decision.rules["latency_p99"]["threshold"] == 0.065
    assert "p99 0.070 ms > allowed 0.065 ms" in decision.reason


def test_every_failed_rule_is_named() -> None:
    decision = decide(
        evidence("2", 5.9, p99_ms=1.0, checks={"serving_artifact_parity": True, "fare_behaviour": False}),
        evidence("1", 6.0),
        RULES,
    )
    assert decision.action == REJECT
    assert [name for name, result in decision.rules.items() if not result["passed"]] == [
        "checks_passed",
        "rmse_improvement",
        "latency_p99",
    ]
    assert "fare_behaviour" in decision.reason
