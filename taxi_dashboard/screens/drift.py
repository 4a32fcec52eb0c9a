"""Drift: each feature's score against its limit over time, the worst first, and training against production."""

from __future__ import annotations

import streamlit as st

from taxi_dashboard import charts, view

config, service = view.page()
reports, rows = view.judged_windows(config, service, "Drift: do today's trips look like the training trips?")
features = reports.features.merge(rows[["window", "version"]], on=["window", "version"])
window = st.selectbox("Window", rows["window"].tolist()[::-1], help="The drift report of this window.")
version = rows.loc[rows["window"] == window, "version"].iloc[0]
shown = features[features["window"] == window].assign(ratio=lambda f: f["psi"] / f["psi_limit"])
# counted features first (the ones that can raise the alarm), each group the nearest to its limit first
shown = shown.sort_values(["counted", "ratio"], ascending=False)
drifted = shown[shown["drifted"]]["feature"].tolist()
st.write(
    f"Drifted (counted) in window {window}: {', '.join(drifted) or 'none'}. "
    "Calendar features a window this short cannot match are shown but not counted."
)
news = rows.loc[rows["window"] == window, "new_categories"].iloc[0]
for feature, categories in news.items():
    st.warning(f"New values of {feature} never seen in training: {', '.join(map(str, categories))}")
moving = shown[shown["moves_fares"]]["feature"].tolist()
if drifted:
    st.write(
        f"Of those, moving the fare estimates: {', '.join(moving)}."
        if moving
        else "None of them moves the fare estimates much: the model leans on them as much as at training."
    )
st.dataframe(
    shown[
        [
            "feature",
            "psi",
            "psi_limit",
            "js",
            "js_limit",
            "counted",
            "drifted",
            "at_training_usd",
            "now_usd",
            "moves_fares",
        ]
    ].rename(
        columns={
            "psi": "PSI",
            "psi_limit": "PSI limit",
            "js": "JS",
            "js_limit": "JS limit",
            "at_training_usd": "adds to a fare $, training",
            "now_usd": "adds to a fare $, now",
            "moves_fares": "moves the fares",
        }
    ),
    hide_index=True,
)
st.caption(
    "What a feature adds to a fare is its average absolute contribution (exact TreeSHAP on the serving version's "
    "trees) over 100 trips of the window, beside 100 of its training trips: a drifted feature the model barely "
    "uses changes little."
)
feature = st.selectbox("Feature", shown["feature"].tolist(), help="Drill down: its score over time and its shares.")
st.plotly_chart(charts.drift_figure(features, feature), key="drift")
distribution = reports.distributions.get((window, version), {}).get(feature)
if distribution:
    st.subheader(f"{feature}: training against production in window {window}")
    st.plotly_chart(
        charts.distribution_figure(distribution["labels"], distribution["reference"], distribution["window"]),
        key="distribution",
    )
st.subheader("Fare estimates over time")
st.caption("PSI of the estimates against the estimates on the training holdout: a shift in what the model says.")
st.plotly_chart(charts.prediction_drift_figure(rows), key="predictions")
estimates = reports.distributions.get((window, version), {}).get("prediction")
if estimates:
    st.caption(f"The estimates of window {window} against those on the training holdout, over the same bins.")
    st.plotly_chart(
        charts.distribution_figure(estimates["labels"], estimates["reference"], estimates["window"]),
        key="prediction-distribution",
    )
