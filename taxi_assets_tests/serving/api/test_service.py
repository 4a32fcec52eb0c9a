"""Which model answers: the A/B split, shadow scoring, the rollout stage followed at each poll, client ids."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient

from taxi_assets.model.versions import CHALLENGER, CHAMPION, ModelRegistry
from taxi_assets.platform_db.prediction_log import PREDICTION_LOG
from taxi_assets.registry.rollout import AB, SHADOW, Stage
from taxi_assets_tests.champions import Trained, register
from taxi_assets_tests.serving.support import HEADERS, Served, make_settings, trip
from taxi_serving.app import create_app


@pytest.mark.slow  # seconds of traffic or of waiting: the full suite has it
def test_ab_split_is_within_tolerance_and_sticky(trained: Trained, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, challenger_share=0.3)
    registry = ModelRegistry(settings.tracking_uri, (tmp_path / "artifacts").as_uri())
    register(registry, trained, "a", CHAMPION)
    challenger_version = register(registry, trained, "b", CHALLENGER)
    app = create_app(settings)
    with TestClient(app) as client:
        body = trip(trained.holdout)
        arms = [
            client.post("/predict", json=body | {"client_id": f"c{i}"}, headers=HEADERS).json() for i in range(10_000)
        ]
        share = sum(a["arm"] == "challenger" for a in arms) / len(arms)
        assert share == pytest.approx(0.3, abs=0.02)
        assert {a["model_version"] for a in arms if a["arm"] == "challenger"} == {challenger_version}
        sticky = {
            client.post("/predict", json=body | {"client_id": "c7"}, headers=HEADERS).json()["arm"] for _ in range(20)
        }
        assert sticky == {arms[7]["arm"]}


def test_shadow_scores_the_challenger_without_returning_it(trained: Trained, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, shadow=True)
    registry = ModelRegistry(settings.tracking_uri, (tmp_path / "artifacts").as_uri())
    register(registry, trained, "a", CHAMPION)
    challenger_version = register(registry, trained, "b", CHALLENGER)
    app = create_app(settings)
    with TestClient(app) as client:
        response = client.post("/predict", json=trip(trained.holdout), headers=HEADERS).json()
        assert response["arm"] == "champion"
        app.state.serving.sink.flush()
    engine = sa.create_engine(settings.database_url)
    with engine.connect() as connection:
        rows = connection.execute(sa.select(PREDICTION_LOG.c.arm, PREDICTION_LOG.c.model_version)).all()
    engine.dispose()
    assert sorted(rows) == sorted([("champion", response["model_version"]), ("shadow", challenger_version)])


def test_the_api_follows_the_challengers_rollout_stage_at_each_poll(trained: Trained, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    registry = ModelRegistry(settings.tracking_uri, (tmp_path / "artifacts").as_uri())
    register(registry, trained, "a", CHAMPION)
    challenger_version = register(registry, trained, "b", CHALLENGER)
    app = create_app(settings)
    store, model = app.state.serving.store, settings.model_name

    def arms(clients: int) -> list[str]:
        body = trip(trained.holdout)
        return [
            client.post("/predict", json=body | {"client_id": f"c{i}"}, headers=HEADERS).json()["arm"]
            for i in range(clients)
        ]

    def logged_arms() -> list[str]:
        app.state.serving.sink.flush()
        engine = sa.create_engine(settings.database_url)
        with engine.connect() as connection:
            rows = connection.execute(sa.select(PREDICTION_LOG.c.arm)).scalars().all()
        engine.dispose()
        return list(rows)

    with TestClient(app) as client:
        # a challenger alias alone (an offline rejection keeps it) is neither scored nor served
        assert set(arms(50)) == {"champion"}
        assert "shadow" not in logged_arms()
        registry.tag_version(
            model, challenger_version, Stage(SHADOW, challenger_version, "1", datetime.now(UTC)).tags()
        )
        store.refresh()
        assert set(arms(50)) == {"champion"}
        assert logged_arms().count("shadow") == 50
        assert client.get("/model", headers=HEADERS).json()["rollout_stage"] == "shadow"
        registry.tag_version(
            model, challenger_version, Stage(AB, challenger_version, "1", datetime.now(UTC), 0.4).tags()
        )
        store.refresh()
        split = arms(2_000)
        assert split.count("challenger") / len(split) == pytest.approx(0.4, abs=0.04)
        assert logged_arms().count("shadow") == 50  # A/B answers with one model: nothing more in shadow
        info = client.get("/model", headers=HEADERS).json()
        assert (info["rollout_stage"], info["challenger_share"], info["shadow"]) == ("ab", 0.4, False)
        registry.tag_version(model, challenger_version, {"rollout.stage": "ended"})
        store.refresh()
        assert set(arms(200)) == {"champion"}
        assert client.get("/model", headers=HEADERS).json()["rollout_stage"] is None


def test_client_id_is_bounded_the_same_on_predict_and_batch(served: Served, trained: Trained) -> None:
    body = trip(trained.holdout)
    for endpoint, payload in (
        ("/predict", body | {"client_id": "c" * 129}),
        ("/predict/batch", {"trips": [body], "client_id": "c" * 129}),
        ("/predict/batch", {"trips": [body], "client_id": 7}),
    ):
        response = served.client.post(endpoint, json=payload, headers=HEADERS)
        assert response.status_code == 422
        (field,) = response.json()["fields"]
        assert field["field"] == "client_id"
        assert field["constraint"] == "a string of at most 128 characters, without control characters"
    assert served.client.post("/predict", json=body | {"client_id": "c" * 128}, headers=HEADERS).status_code == 200


def test_a_version_that_failed_a_blocking_check_is_never_loaded_or_scored(trained: Trained, tmp_path: Path) -> None:
    """Whoever points an alias at it: the challenger stays empty under shadow, the champion keeps its version."""
    settings = make_settings(tmp_path, shadow=True)
    registry = ModelRegistry(settings.tracking_uri, (tmp_path / "artifacts").as_uri())
    champion_version = register(registry, trained, "a", CHAMPION)
    failed_version = register(registry, trained, "b", CHALLENGER)
    registry.tag_version(settings.model_name, failed_version, {"check.serving_artifact_parity": "failed"})
    app = create_app(settings)
    store = app.state.serving.store
    with TestClient(app) as client:
        assert store.challenger is None
        assert store.refused == {failed_version: ["serving_artifact_parity"]}
        response = client.post("/predict", json=trip(trained.holdout), headers=HEADERS).json()
        assert (response["arm"], response["model_version"]) == ("champion", champion_version)
        # an operator moves the champion alias onto it: the API keeps serving the version it had
        registry.set_alias(settings.model_name, CHAMPION, failed_version)
        store.refresh()
        assert client.post("/predict", json=trip(trained.holdout), headers=HEADERS).json()["model_version"] == (
            champion_version
        )
        app.state.serving.sink.flush()
    engine = sa.create_engine(settings.database_url)
    with engine.connect() as connection:
        versions = connection.execute(sa.select(PREDICTION_LOG.c.model_version)).scalars().all()
    engine.dispose()
    assert set(versions) == {champion_version}  # no shadow row of the failed version
