"""A data home the platform's own code filled, and the dashboard pointed at it.

A champion, a judged window with a fare shift in one borough, a retraining and a promotion recorded by the
platform's own stores.
"""

from datetime import UTC, datetime

import numpy as np
import pytest

from taxi_assets.alerting import Alert, Alerter, Kind, Severity
from taxi_assets.features.columns import FEATURES
from taxi_assets.model.card import card_facts
from taxi_assets.model.fare_model import FareModel
from taxi_assets.model.versions import CHALLENGER, ModelRegistry
from taxi_assets.registry.decisions import DecisionRecord, DecisionStore
from taxi_assets.registry.rollout import GUARDRAIL, Stage
from taxi_assets.registry.segment_gate import SegmentRules, segment_gate
from taxi_assets_tests.champions import register, synthetic_trips, tiny_champions
from taxi_assets_tests.dashboard.screens import point_at
from taxi_assets_tests.dashboard.support import RETRAIN_TITLE, SHIFTED_BOROUGH, Home
from taxi_assets_tests.monitored import champion, judge, log_traffic


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    path = tmp_path_factory.mktemp("dashboard-home")
    tiny = tiny_champions(path / "tiny")
    version, _ = champion(path, tiny)
    rows = synthetic_trips(2_000, seed=7)
    predictions = FareModel.load(tiny.serving_dirs["a"]).predict(rows)
    actual = rows["fare_amount"].to_numpy().copy()
    # the fare increase, in one borough only
    actual[(rows["pickup_borough"] == SHIFTED_BOROUGH).to_numpy()] *= 1.6
    log_traffic(path, rows, predictions, version, actual, rejected=40)
    _, metadata = judge(path, min_segment_labels=50)
    url = f"sqlite:///{path / 'platform.db'}"
    # the retraining's challenger, promoted: the champion alias moves to it, the decision is recorded
    registry = ModelRegistry(f"sqlite:///{path / 'mlflow' / 'mlflow.db'}", (path / "mlflow" / "artifacts").as_uri())
    promoted = register(registry, tiny, "b")
    holdout = synthetic_trips(3_000, seed=8)
    scored = {name: FareModel.load(tiny.serving_dirs[name]).predict(holdout) for name in ("a", "b")}
    actual = holdout["fare_amount"].to_numpy()
    for name, number in (("a", version), ("b", promoted)):
        identity = {"model": "taxi-fare-green", "version": number, "service": "green", "run_id": "-"}
        extra = {"params": {}, "checks": {"fare_behaviour": "passed"}, "features": list(FEATURES), "importance": None}
        facts = card_facts(identity, {"months": ["2022-01"], "rows_train": 2_400}, holdout, actual, scored[name], extra)
        registry.write_card("taxi-fare-green", number, facts)
    gate = segment_gate(holdout, actual, scored["b"], scored["a"], SegmentRules(200, 0.5, 1.0, 0.05, 200))
    # as a promotion leaves it: the old champion scored beside the new one, for the guardrail
    registry.set_alias("taxi-fare-green", CHALLENGER, version)
    registry.tag_version("taxi-fare-green", version, Stage(GUARDRAIL, version, promoted, datetime.now(UTC)).tags())
    Alerter(url).send(Alert(Severity.INFO, Kind.RETRAIN_STARTED, "green", RETRAIN_TITLE, {"months": "2023-02"}))
    DecisionStore(url).record(
        DecisionRecord(
            service="green",
            model_name="taxi-fare-green",
            action="promote",
            reason="the challenger's RMSE 3.10 beats the champion's 5.20 by more than 1 %",
            challenger_version=promoted,
            champion_version=version,
            new_champion_version=promoted,
            rules={
                "checks_passed": {"passed": True, "value": {"fare_behaviour": True}, "threshold": "every check passed"},
                "rmse_improvement": {"passed": True, "value": 2.1, "threshold": 0.05},
                "holdout": "labelled_traffic holdout",
                "segments": gate.as_record(),
            },
            challenger_metrics={"version": promoted, "rmse": 3.1, "p50_ms": 0.4, "p99_ms": 1.2},
            champion_metrics={"version": version, "rmse": 5.2, "p50_ms": 0.4, "p99_ms": 1.1},
            dagster_run_id="0123456789abcdef",
        )
    )
    assert np.isfinite(float(str(metadata["rmse"])))
    return Home(path, version, promoted, metadata)


@pytest.fixture
def dashboard_env(home: Home, monkeypatch: pytest.MonkeyPatch) -> Home:
    point_at(home.path, monkeypatch)
    return home
