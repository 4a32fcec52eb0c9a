"""The live steps carried out on a real MLflow registry: which aliases move, which tags change, what is recorded."""

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from taxi_assets.model.versions import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION, ModelRegistry, model_name
from taxi_assets.registry.decisions import DecisionStore
from taxi_assets.registry.live_evidence import LiveEvaluation, evaluate_shadow
from taxi_assets.registry.rollout import (
    ENDED,
    GUARDRAIL,
    PROMOTE_LIVE,
    REJECT_LIVE,
    ROLLBACK_LIVE,
    SHADOW,
    STAGE_TAG,
    RolloutPlan,
    Stage,
    Step,
)
from taxi_assets.registry.stages import carry_out, current_stage, start_guardrail, step_alert
from taxi_assets_tests.champions import Trained, register, tiny_champions

NAME = model_name("green")
PLAN = RolloutPlan(stages=(SHADOW,))


pytestmark = pytest.mark.slow  # a real MLflow registry with two versions, moved through each step


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    return tiny_champions(tmp_path_factory.mktemp("tiny-champions"))


@pytest.fixture
def registry(trained: Trained, tmp_path: Path) -> ModelRegistry:
    """Version 1 champion, version 2 in shadow beside it."""
    models = ModelRegistry(f"sqlite:///{tmp_path / 'mlflow.db'}", (tmp_path / "artifacts").as_uri())
    register(models, trained, "a")
    register(models, trained, "b", alias=CHALLENGER)
    models.tag_version(NAME, "2", Stage(SHADOW, "2", "1", datetime.now(UTC)).tags())
    return models


def evaluation(better_by: float) -> LiveEvaluation:
    rng = np.random.default_rng(0)
    actual = rng.gamma(4.0, 4.0, 400)
    pairs = pd.DataFrame(
        {
            "actual_fare": actual,
            "champion_prediction": actual + rng.normal(0, 3.0, 400),
            "challenger_prediction": actual + rng.normal(0, 3.0 - better_by, 400),
            "pickup_borough": rng.choice(["Queens", "Bronx"], 400),
            "payment_type": rng.choice([1, 2], 400),
        }
    )
    return evaluate_shadow(pairs, PLAN.rule(SHADOW))


def test_the_stage_lives_on_the_challengers_tags(registry: ModelRegistry) -> None:
    stage = current_stage(registry, NAME)
    assert stage is not None
    assert (stage.name, stage.version, stage.against) == (SHADOW, "2", "1")


def test_a_live_promotion_moves_the_aliases_records_the_evidence_and_starts_the_guardrail(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    store = DecisionStore(f"sqlite:///{tmp_path / 'platform.db'}")
    stage = current_stage(registry, NAME)
    assert stage is not None
    step = Step(PROMOTE_LIVE, "confidently better")
    record, decision_id = carry_out(registry, store, "green", NAME, step, stage, evaluation(1.0), PLAN, "run-1")
    assert (registry.alias(NAME, CHAMPION), registry.alias(NAME, PREVIOUS_CHAMPION)) == ("2", "1")
    guardrail = current_stage(registry, NAME)  # the old champion, scored in shadow beside the new one
    assert guardrail is not None
    assert (guardrail.name, guardrail.version, guardrail.against) == (GUARDRAIL, "1", "2")
    assert (record.action, record.new_champion_version, record.dagster_run_id) == ("promote", "2", "run-1")
    assert record.rules["live"]["labels"] == 400
    assert set(record.rules["segments"]) == {"pickup_borough", "payment_type"}
    tags = registry.version_tags(NAME, "2")
    assert (tags["decision"], tags["decision.id"], tags[STAGE_TAG]) == ("promote", str(decision_id), ENDED)
    (stored,) = store.history("green")
    assert stored.reason == "confidently better"
    store.dispose()


def test_a_rejection_ends_the_stage_and_leaves_the_champion(registry: ModelRegistry, tmp_path: Path) -> None:
    store = DecisionStore(f"sqlite:///{tmp_path / 'platform.db'}")
    stage = current_stage(registry, NAME)
    assert stage is not None
    step = Step(REJECT_LIVE, "confidently worse")
    record, _ = carry_out(registry, store, "green", NAME, step, stage, evaluation(-1.0), PLAN, None)
    assert (registry.alias(NAME, CHAMPION), registry.alias(NAME, CHALLENGER)) == ("1", None)
    assert registry.version_tags(NAME, "2")[STAGE_TAG] == ENDED
    alert = step_alert("green", NAME, stage, step, record, "run-2")
    assert alert.severity.value == "WARNING"
    assert alert.title == f"{NAME}: shadow of v2 beside champion v1 ends in reject"
    store.dispose()


def test_a_rollback_in_the_guardrail_gives_the_old_champion_back(registry: ModelRegistry, tmp_path: Path) -> None:
    registry.set_alias(NAME, PREVIOUS_CHAMPION, "1")
    registry.set_alias(NAME, CHAMPION, "2")
    stage = start_guardrail(registry, NAME, old="1", new="2")
    store = DecisionStore(f"sqlite:///{tmp_path / 'platform.db'}")
    step = Step(ROLLBACK_LIVE, "the new champion does worse")
    record, _ = carry_out(registry, store, "green", NAME, step, stage, evaluation(1.0), PLAN, "run-3")
    assert record.new_champion_version == "1"
    assert (registry.alias(NAME, CHAMPION), registry.alias(NAME, CHALLENGER)) == ("1", None)
    assert "rolled_back_at" in registry.version_tags(NAME, "2")
    assert registry.version_tags(NAME, "2")["decision"] == "rollback"  # the guardrail's decision is the new one's
    store.dispose()
