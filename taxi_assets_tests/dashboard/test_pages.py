"""Every page of the dashboard, run by Streamlit's AppTest on a data home the platform's own code filled."""

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from taxi_assets.platform_db.prediction_log import PREDICTION_LOG
from taxi_assets_tests.dashboard.screens import point_at
from taxi_assets_tests.dashboard.screens import run_screen as run
from taxi_assets_tests.dashboard.support import RETRAIN_TITLE, SHIFTED_BOROUGH, Home
from taxi_dashboard import wording


def report(home: Home) -> dict[str, object]:
    (path,) = (home.path / "lake" / "drift" / "green").glob("*.json")
    return json.loads(path.read_text())


def test_the_overview_says_how_far_off_the_fares_are_and_names_the_incident(dashboard_env: Home) -> None:
    app = run()
    summary = report(dashboard_env)["versions"][dashboard_env.version]
    mae = summary["accuracy"]["mae"]
    baseline = summary["calibrated_accuracy"]["overall"]["baseline"]
    # the shift is in one borough: overall accuracy holds (amber, not red), the segment's incident is open
    assert not app.error
    headline = app.warning[0]
    assert f"Fare estimates are off by ${mae:,.2f} on average" in headline.value
    assert f"(normally ${baseline:,.2f})" in headline.value
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Average error per trip"] == f"${mae:,.2f}"
    assert metrics["Over- or under-charging"] == wording.dollars(summary["accuracy"]["bias"])
    rejected = summary["rejected"] / (summary["rows"] + summary["rejected"])
    assert metrics["Requests rejected as invalid"] == f"{100 * rejected:.1f} %"
    texts = [element.value for element in app.markdown] + [element.value for element in app.warning]
    assert any(text.startswith("Fare estimates are less accurate (worth a look)") for text in texts)
    assert any(f"Model version {dashboard_env.promoted} answers requests since" in text for text in texts)
    assert any("Last retraining started" in text and "it promoted" in text for text in texts)
    (guardrail,) = [element.value for element in app.info]
    assert guardrail.startswith(f"Model version {dashboard_env.version}, the previous champion, is scored beside")
    assert f"if version {dashboard_env.promoted} turns out confidently worse" in guardrail


def test_the_segment_view_flags_the_shifted_borough_and_no_other(dashboard_env: Home) -> None:
    app = run("segments")
    flagged = [element.value for element in app.error]
    assert len(flagged) == 1, flagged
    assert flagged[0].startswith(f"Pickup borough {SHIFTED_BOROUGH}: fare estimates are off by")
    boroughs = app.dataframe[0].value
    # worst first: the shifted borough leads, and is the only one over its threshold
    assert boroughs["value"].iloc[0] == SHIFTED_BOROUGH
    assert boroughs["alarm"].tolist() == [True] + [False] * (len(boroughs) - 1)
    summary = report(dashboard_env)["versions"][dashboard_env.version]["accuracy_by_segment"]["pickup_borough"]
    for row in boroughs.to_dict("records"):
        assert row["average error $"] == pytest.approx(summary[row["value"]]["mae"])
        assert row["95 % low"] < row["average error $"] < row["95 % high"]
    assert {"Pickup borough", "Payment type", "Time of day"} <= {element.value for element in app.subheader}


def test_the_accuracy_page_draws_each_window_against_its_band(dashboard_env: Home) -> None:
    app = run("accuracy")
    table = app.dataframe[0].value
    overall = report(dashboard_env)["versions"][dashboard_env.version]["calibrated_accuracy"]["overall"]
    # the shift is in one borough: the window's overall error stays under its alarm
    assert table["alarm"].tolist() == [overall["value"] > table["alarm at $"].iloc[0]] == [False]
    assert table["alarm at $"].iloc[0] == pytest.approx(
        max(overall["noise_limit"], overall["baseline"] + overall["min_effect"])
    )
    charts = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    names = {trace["name"] for trace in charts[0]["data"]}
    assert names == {"normal error (holdout)", "alarm threshold", "average error"}


def test_the_drift_page_lists_every_feature_with_its_limit_and_draws_training_against_production(
    dashboard_env: Home,
) -> None:
    app = run("drift")
    table = app.dataframe[0].value
    summary = report(dashboard_env)["versions"][dashboard_env.version]
    assert set(table["feature"]) == set(summary["psi"])
    for row in table.to_dict("records"):
        assert row["PSI"] == pytest.approx(summary["psi"][row["feature"]], nan_ok=True)
        assert row["PSI limit"] == pytest.approx(summary["psi_limit"][row["feature"]])
        # what the feature adds to a fare, at training and now, from the serving version's trees
        drivers = summary["attribution"]
        assert row["adds to a fare $, now"] == pytest.approx(drivers["window"][row["feature"]])
        assert row["adds to a fare $, training"] == pytest.approx(drivers["reference"][row["feature"]])
        assert row["moves the fares"] == (row["feature"] in drivers["moving_predictions"])
    # the features that count first, each group the nearest to its limit first
    assert table["counted"].tolist() == sorted(table["counted"].tolist(), reverse=True)
    for _, group in table.groupby("counted"):
        ratios = (group["PSI"] / group["PSI limit"]).fillna(-1).tolist()
        assert ratios == sorted(ratios, reverse=True)
    specs = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    bars = next(spec for spec in specs if {t.get("name") for t in spec["data"]} == {"training", "production"})
    feature = table["feature"].iloc[0]
    assert bars["data"][0]["y"] == pytest.approx(summary["distributions"][feature]["reference"])
    # and the estimates of the window against those of the training holdout
    estimates = [spec for spec in specs if {t.get("name") for t in spec["data"]} == {"training", "production"}][1]
    assert estimates["data"][1]["y"] == pytest.approx(summary["distributions"]["prediction"]["window"])


def test_the_health_page_counts_the_logged_requests(dashboard_env: Home) -> None:
    app = run("health")
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Requests"] == "2,040"
    assert metrics["Rejected"] == f"{40 / 2040:.1%}"


def test_the_history_shows_the_retraining_and_the_promotion_linked_to_its_run(dashboard_env: Home) -> None:
    app = run("history")
    decisions, alerts, retraining = (frame.value for frame in app.dataframe)
    assert decisions["action"].tolist() == ["promote"]
    assert decisions["champion after"].tolist() == [dashboard_env.promoted]
    assert decisions["Dagster run"].tolist() == ["http://127.0.0.1:3000/runs/0123456789abcdef"]
    assert decisions["challenger RMSE"].tolist() == [3.1]
    assert decisions["rules"].tolist() == [
        "checks_passed passed (fare_behaviour ok against every check passed); holdout: labelled_traffic holdout; "
        "rmse_improvement passed (2.1 against 0.05); segments passed (no segment worse; 48 tests)"
    ]
    assert "retraining started" in alerts["what"].tolist()
    # the failed check links to the run that judged the window, the one the drift report names
    (failed,) = alerts[alerts["what"] == "a check failed"]["Dagster run"].tolist()
    assert failed == f"http://127.0.0.1:3000/runs/{report(dashboard_env)['dagster_run_id']}"
    # no Dagster to ask: the retrainings come from the alert history, and the screen says so
    assert retraining["why"].tolist() == [RETRAIN_TITLE]
    said = [c.value for c in app.caption if "the retrainings the alert history recorded instead" in c.value]
    assert len(said) == 1
    assert said[0].startswith("the Dagster webserver at http://127.0.0.1:9 did not answer")


def test_with_keys_configured_nothing_shows_before_sign_in(
    dashboard_env: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAXI_DASHBOARD_KEYS", "s3cret,other")
    app = run()
    assert not app.metric
    assert "Enter a dashboard key" in app.info[0].value
    app.sidebar.text_input[0].input("wrong").run()
    assert app.sidebar.error[0].value == "That key is not valid."
    assert not app.metric
    app.sidebar.text_input[0].input("s3cret").run()
    assert app.metric


def test_on_an_empty_data_home_every_screen_says_there_is_nothing_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_at(tmp_path, monkeypatch)
    overview = run()
    assert overview.success[0].value.startswith("No window has been judged yet")
    assert any(text.value.startswith("No model is champion yet") for text in overview.markdown)
    for screen in ("accuracy", "segments", "drift"):
        assert run(screen).info[0].value == "No window has been judged yet."
    assert run("health").info[0].value == "No request logged in the last 24 h."
    assert [element.value for element in run("history").markdown if element.value.startswith("No ")][:2] == [
        "No decision recorded yet.",
        "No alert raised yet.",
    ]
    assert sorted(path.name for path in tmp_path.iterdir()) == []  # it only read: not a file was created


def test_why_and_for_whom_explains_a_logged_fare_compares_segments_and_shows_the_card(dashboard_env: Home) -> None:
    engine = sa.create_engine(dashboard_env.url)
    with engine.connect() as connection:
        request_id, fare = connection.execute(
            sa.select(PREDICTION_LOG.c.request_id, PREDICTION_LOG.c.prediction).where(PREDICTION_LOG.c.status == "ok")
        ).first()
    engine.dispose()
    app = run("why")
    assert not any(element.value.startswith("No promotion") for element in app.info)
    app.text_input(key="request-id").input(request_id).run()
    assert not app.exception
    said = [element.value for element in app.markdown]
    assert any(f"priced this trip at **${fare:,.2f}**" in text for text in said), said
    contributions, side_by_side = (frame.value for frame in app.dataframe)
    base = float(next(text for text in said if "a base of" in text).split("a base of $")[1].split(" ")[0])
    assert base + contributions["added $"].sum() == pytest.approx(fare, abs=0.01)
    assert {"pickup_borough", "distance_band"} <= set(side_by_side["segment"])
    gap = side_by_side["challenger error $"] - side_by_side["champion error $"]
    assert (side_by_side["difference $"] - gap).abs().max() < 1e-4
    assert any(f"# taxi-fare-green version {dashboard_env.promoted}" in text for text in said)
    assert any("| pickup_borough |" in text for text in said)


def test_an_unknown_request_id_is_said_so(dashboard_env: Home) -> None:
    app = run("why")
    app.text_input(key="request-id").input("no-such-request").run()
    assert [element.value for element in app.warning] == ["No logged prediction has the request id 'no-such-request'."]
