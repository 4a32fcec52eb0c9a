"""The API on a champion trained by Spark: its answers are the Spark pipeline's to the sixth decimal."""

import sqlalchemy as sa
from pyspark.sql import SparkSession

from taxi_assets.platform_db.prediction_log import PREDICTION_LOG
from taxi_assets_tests.champions import Trained, spark_predictions
from taxi_assets_tests.serving.support import HEADERS, Served, trip


def test_predict_returns_the_champion_and_matches_spark(served: Served, trained: Trained, spark: SparkSession) -> None:
    rows = trained.holdout.head(40)
    expected = spark_predictions(spark, trained, "a", rows)
    for index in range(len(rows)):
        response = served.client.post("/predict", json=trip(rows, index), headers=HEADERS)
        assert response.status_code == 200
        body = response.json()
        assert body["model_version"] == served.champion_version
        assert body["arm"] == "champion"
        assert abs(body["fare"] - expected[index]) <= 1e-6
    served.app.state.serving.sink.flush()
    engine = sa.create_engine(f"sqlite:///{served.home / 'platform.db'}")
    with engine.connect() as connection:
        logged = [dict(row) for row in connection.execute(sa.select(PREDICTION_LOG)).mappings()]
    engine.dispose()
    logged = [row for row in logged if row["status"] == "ok"]
    assert len(logged) == len(rows)
    assert logged[0]["trip_distance"] == rows.iloc[0]["trip_distance"]
