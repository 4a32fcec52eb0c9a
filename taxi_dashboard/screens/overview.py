"""Overview: how far off the fares are, which model answers and why, open incidents, the last retraining."""

from __future__ import annotations

import streamlit as st

from taxi_dashboard import tables, view, wording

NEWEST = 24

config, service = view.page()
# the newest day of hourly windows holds the headline's window; all of them only when none of those had labels
rows = view.reports(config.lake_root, service, newest=NEWEST).champion_rows()
judged = rows[rows["labelled_rows"] > 0] if not rows.empty else rows
if judged.empty:
    rows = view.reports(config.lake_root, service).champion_rows()
    judged = rows[rows["labelled_rows"] > 0] if not rows.empty else rows
newest = judged.iloc[-1] if not judged.empty else None

st.title(f"Taxi fare model: {service}")
incidents = view.incidents(config.database_url, service)
open_now = incidents[incidents["resolved_at"].isna()] if not incidents.empty else incidents
# red: the window's accuracy raised the alarm; amber: something else is open; green: all is well
if newest is not None and newest["degraded"]:
    st.error(wording.headline(newest), icon="⚠️")
elif not open_now.empty:
    st.warning(wording.headline(newest))
else:
    st.success(wording.headline(newest))

columns = st.columns(4)
if newest is not None:
    columns[0].metric(
        "Average error per trip",
        wording.dollars(newest["mae"]),
        help=f"MAE of the estimates on the {newest['labelled_rows']:,} trips whose true fare had arrived "
        f"(drift_report window {newest['window']}, model v{newest['version']}).",
    )
    columns[1].metric(
        "Error that raises the alarm",
        wording.dollars(newest["threshold"]),
        help="Calibrated accuracy threshold: the holdout error plus what chance and a material change allow "
        "at this window's number of labels.",
    )
    columns[2].metric(
        "Over- or under-charging",
        wording.dollars(newest["bias"]),
        help="Bias: mean of (estimate - true fare). Positive means estimates are too high.",
    )
latest = rows.iloc[-1] if not rows.empty else None
if latest is not None:
    columns[3].metric(
        "Requests rejected as invalid",
        wording.share(latest["rejection_rate"]),
        help=f"Validation failure rate of window {latest['window']}: {latest['rejected']:,} of "
        f"{latest['rows'] + latest['rejected']:,} requests.",
    )
    st.caption(wording.traffic_sentence(int(latest["rows"]), int(latest["rejected"]), latest["end"]))
if newest is not None:
    st.caption(wording.bias_sentence(newest["bias"]))

st.subheader("Which model answers")
decisions = view.decisions(config.database_url, service)
version = view.champion(config.tracking_uri, service)
made = tables.decision_that_made(decisions, version)
st.write(wording.champion_sentence(version, made))
stage = view.challenger_stage(config.tracking_uri, service)
if stage is not None:
    st.info(wording.stage_sentence(stage))

st.subheader("Open incidents")
if open_now.empty:
    st.write("None: every check passes.")
for incident in tables.records(open_now):
    message = wording.incident_sentence(incident)
    (st.error if incident["severity"] == "ERROR" else st.warning)(message)

st.subheader("Retraining")
alerts = view.alerts(config.database_url, service)
started = tables.newest(alerts, "kind", "retrain_started")
st.write(wording.retraining_sentence(started, tables.record(decisions.iloc[0]) if not decisions.empty else None))
