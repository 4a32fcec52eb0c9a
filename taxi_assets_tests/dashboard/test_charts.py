"""The dashboard's charts on frames with known values: what each mark means, in colour, shape and order."""

import pandas as pd

from taxi_dashboard import charts

WINDOWS = pd.DataFrame(
    {
        "window": ["2026-03-02-10:00", "2026-03-02-11:00", "2026-03-02-12:00"],
        "start": pd.to_datetime(["2026-03-02 10:00", "2026-03-02 11:00", "2026-03-02 12:00"], utc=True),
        "baseline": [1.1, 1.1, 1.1],
        "threshold": [1.7, 1.7, 1.7],
        "mae": [1.0, 1.5, 4.0],
        "bias": [0.2, -0.3, -3.9],
        "judged": [True, False, True],
        "degraded": [False, False, True],
        "labelled_rows": [800, 40, 900],
        "version": ["1", "1", "1"],
    }
)
SEGMENTS = pd.DataFrame(
    {
        "segment": ["pickup_borough"] * 4 + ["payment_type"],
        "value": ["Queens", "Bronx", "Queens", "Bronx", "1"],
        "window": ["w1", "w1", "w2", "w2", "w2"],
        "mae": [1.0, 5.0, 6.0, 2.0, 1.0],
        "degraded": [False, True, True, False, False],
    }
)


def test_the_accuracy_chart_marks_unjudged_windows_hollow_and_failed_ones_red() -> None:
    figure = charts.accuracy_figure(WINDOWS)
    assert [trace.name for trace in figure.data] == ["normal error (holdout)", "alarm threshold", "average error"]
    errors = figure.data[2]
    assert list(errors.marker.symbol) == ["circle", "circle-open", "circle"]
    assert list(errors.marker.color) == ["#1565c0", "#1565c0", charts.BAD]


def test_bias_is_red_above_zero_and_orange_below() -> None:
    (bars,) = charts.bias_figure(WINDOWS).data
    assert list(bars.marker.color) == [charts.BAD, charts.UNDER, charts.UNDER]


def test_segments_are_ordered_by_their_newest_window_failed_first() -> None:
    assert charts.worst_first(SEGMENTS, "pickup_borough") == ["Queens", "Bronx"]
    heatmap = charts.segment_heatmap(SEGMENTS, "pickup_borough").data[0]
    assert heatmap.z.tolist() == [[1.0, 6.0], [5.0, 2.0]]
    assert heatmap.text.tolist() == [["", "!"], ["!", ""]]


def test_traffic_stacks_served_over_rejected() -> None:
    health = pd.DataFrame({"bucket": ["a", "b"], "requests": [10, 20], "rejected": [1, 0], "p50_ms": [1.0, 2.0],
                           "p95_ms": [2.0, 3.0], "p99_ms": [3.0, 4.0]})  # fmt: skip
    served, rejected = charts.traffic_figure(health).data
    assert (list(served.y), list(rejected.y)) == ([9, 20], [1, 0])
    assert [trace.name for trace in charts.latency_figure(health).data] == ["p50", "p95", "p99"]
