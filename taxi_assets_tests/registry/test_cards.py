"""Each decision about a version lands on its model card in MLflow; the card reads back offline from its files."""

import logging
from pathlib import Path

import pytest

from taxi_assets.features.columns import FEATURES, TARGET
from taxi_assets.model.card import CARD_FILE, card_facts, front_matter
from taxi_assets.model.fare_model import FareModel
from taxi_assets.model.versions import CHAMPION, PREVIOUS_CHAMPION, ModelRegistry, model_name
from taxi_assets.registry.cards import evidence, note_decision
from taxi_assets.registry.champion import rollback
from taxi_assets.registry.decisions import DecisionRecord, DecisionStore
from taxi_assets_tests.champions import Trained, register, tiny_champions

NAME = model_name("green")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    return tiny_champions(tmp_path_factory.mktemp("tiny"))


def carded(registry: ModelRegistry, trained: Trained, model: str, alias: str | None) -> str:
    """Register one of the tiny models with the card training would give it."""
    version = register(registry, trained, model, alias=alias)
    rows = trained.holdout
    predicted = FareModel.load(trained.serving_dirs[model]).predict(rows)
    identity = {"model": NAME, "version": version, "service": "green", "run_id": "-"}
    extra = {"params": {}, "checks": {}, "features": list(FEATURES), "importance": None}
    manifest = {"months": ["2022-01"], "rows_train": 2_400}
    registry.write_card(NAME, version, card_facts(identity, manifest, rows, rows[TARGET].to_numpy(), predicted, extra))
    return version


def record(action: str, version: str, against: str | None) -> DecisionRecord:
    rules = {
        "rmse_improvement": {"passed": True, "value": 0.7, "threshold": 0.5},
        "segments": {"passed": True, "value": [], "tests": 48, "segments": [{"segment": "pickup_borough"}] * 40},
        "holdout": "training_set test split (2023-01)",
        "holdout_rows": 12_000,
    }
    return DecisionRecord(
        "green", NAME, action, "RMSE 3.1 vs 3.8", version, against, version, rules, {"rmse": 3.1}, {"rmse": 3.8}
    )


def test_a_decision_is_added_to_the_card_with_its_evidence_in_short(tmp_path: Path, trained: Trained) -> None:
    registry = ModelRegistry(f"sqlite:///{tmp_path / 'mlflow.db'}", (tmp_path / "artifacts").as_uri())
    version = carded(registry, trained, "a", alias=None)
    assert note_decision(registry, record("promote", version, None), version, 11)
    facts = registry.card_facts(NAME, version)
    assert facts is not None
    (decision,) = facts["decisions"]
    assert (decision["id"], decision["action"], decision["reason"]) == (11, "promote", "RMSE 3.1 vs 3.8")
    assert decision["evidence"]["segments"] == {"passed": True, "blocked": [], "tests": 48}
    assert decision["evidence"]["challenger_rmse"] == 3.1
    assert decision["evidence"]["holdout_rows"] == 12_000
    card = registry.card(NAME, version)
    assert card is not None
    assert front_matter(card) == facts
    assert "**promote**: RMSE 3.1 vs 3.8" in card
    tags = registry.version_tags(NAME, version)
    assert tags["model_card"].endswith(f"/{CARD_FILE}")
    # offline: the card is a file in the artifact store
    assert any(path.read_text() == card for path in (tmp_path / "artifacts").rglob(CARD_FILE))


def test_a_rollback_is_added_to_the_card_of_the_version_rolled_back(tmp_path: Path, trained: Trained) -> None:
    registry = ModelRegistry(f"sqlite:///{tmp_path / 'mlflow.db'}", (tmp_path / "artifacts").as_uri())
    old = carded(registry, trained, "a", alias=PREVIOUS_CHAMPION)
    new = carded(registry, trained, "b", alias=CHAMPION)
    store = DecisionStore(f"sqlite:///{tmp_path / 'platform.db'}")
    done = rollback(registry, store, "green", NAME, None)
    store.dispose()
    facts = registry.card_facts(NAME, new)
    assert facts is not None
    assert [(d["action"], d["id"]) for d in facts["decisions"]] == [("rollback", done.decision_id)]
    assert registry.card_facts(NAME, old)["decisions"] == []  # type: ignore[index]


def test_a_version_without_a_card_is_left_as_it_is(tmp_path: Path, trained: Trained) -> None:
    registry = ModelRegistry(f"sqlite:///{tmp_path / 'mlflow.db'}", (tmp_path / "artifacts").as_uri())
    version = register(registry, trained, "a", alias=None)
    assert registry.card(NAME, version) is None
    assert not note_decision(registry, record("reject", version, "1"), version, 2)
    assert "model_card" not in registry.version_tags(NAME, version)


def test_a_card_that_cannot_be_written_is_logged_and_the_decision_stands(
    tmp_path: Path, trained: Trained, caplog: pytest.LogCaptureFixture
) -> None:
    registry = ModelRegistry(f"sqlite:///{tmp_path / 'mlflow.db'}", (tmp_path / "artifacts").as_uri())
    version = carded(registry, trained, "a", alias=None)
    (card,) = (tmp_path / "artifacts").rglob(CARD_FILE)
    card.unlink()
    card.mkdir()  # the store cannot write the card there, whoever runs it
    with caplog.at_level(logging.ERROR):
        assert not note_decision(registry, record("promote", version, None), version, 5)
    assert f"decision 5 on {NAME} v{version} is recorded, but its model card was not updated" in caplog.text
    facts = registry.card_facts(NAME, version)
    assert facts is not None
    assert facts["decisions"] == []  # the facts stay as the card last said


def test_the_evidence_keeps_each_rule_short_and_the_live_test_whole() -> None:
    live = {"stage": "shadow", "labels": 812, "mean_difference": 1.2, "low": 0.3, "high": 2.1}
    found = evidence(record("promote", "3", "2"))
    assert set(found["segments"]) == {"passed", "blocked", "tests"}
    assert found["rmse_improvement"] == {"passed": True, "value": 0.7, "threshold": 0.5}
    live_record = DecisionRecord("green", NAME, "promote", "live", "3", "2", "3", {"live": live}, {"live_rmse": 2.0})
    assert evidence(live_record) == {"live": live, "challenger_rmse": 2.0}
