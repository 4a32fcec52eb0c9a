"""Service health from the prediction log: requests, latency percentiles, rejections by reason."""

from __future__ import annotations

import streamlit as st

from taxi_dashboard import charts, view

config, service = view.page()
st.title("Service health")
hours = st.select_slider("Period", options=[1, 6, 24, 72, 168], value=24, format_func=lambda h: f"last {h} h")
bucket = max(1, min(config.window_minutes, int(hours * 60 / 48)))
health, rejections = view.health(config.database_url, service, float(hours), bucket)
if health.empty:
    st.info(f"No request logged in the last {hours} h.")
    st.stop()
total, rejected = int(health["requests"].sum()), int(health["rejected"].sum())
columns = st.columns(3)
columns[0].metric(
    "Requests", f"{total:,}", help=f"Rows of prediction_log in the last {hours} h (shadow scores left out)."
)
columns[1].metric("Rejected", f"{rejected / total:.1%}", help="Requests answered 4xx (status 'rejected').")
columns[2].metric(
    "Slowest 1 % of answers",
    "n/a" if health["p99_ms"].isna().all() else f"{health['p99_ms'].max():.1f} ms",
    help=f"Highest p99 of latency_ms over {bucket}-minute buckets.",
)
st.plotly_chart(charts.traffic_figure(health), key="traffic")
st.plotly_chart(charts.latency_figure(health), key="latency")
st.subheader("Why requests were rejected")
if rejections.empty:
    st.write("No request was rejected.")
else:
    st.dataframe(rejections, hide_index=True)
