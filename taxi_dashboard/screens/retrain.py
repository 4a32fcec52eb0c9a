"""Retrain: ask Dagster for a retraining of this service, see its run and status; signed-in users only."""

from __future__ import annotations

import streamlit as st

from taxi_dashboard import retraining, view

LAUNCHED_KEY = "launched_run"

config, service = view.page()
st.title(f"Ask for a retraining of {service}")
months = retraining.ingested_months(config.lake_root, service)[-config.retrain_months :]
st.write(
    f"Launches `retrain_job` in Dagster ({config.dagster_url}) on the labelled production traffic and the newest "
    f"months the lake holds ({', '.join(months) or 'none yet'}); the challenger it trains is promoted only if it "
    "beats the champion, as after an alarm. The request is kept in the history with who asked and why."
)
allowed = view.signed_in()
if not config.keys:
    st.info("Nobody can ask: no dashboard key is configured (TAXI_DASHBOARD_KEYS).")
elif not allowed:
    st.info("Sign in with a dashboard key (sidebar) to ask for a retraining.")
why = st.text_input("Why", placeholder="e.g. the fare increase of January", disabled=not allowed)
pressed = st.button("Retrain now", type="primary", disabled=not (allowed and months and why.strip()))
if pressed:
    who = str(st.session_state[view.SIGNED_IN_KEY])
    try:
        launched = retraining.launch_retraining(config.dagster_url, service, months, who, why.strip())
    except retraining.DagsterUnavailableError as error:
        st.error(f"Not launched: {error}")
    else:
        retraining.record_request(config.database_url, service, launched, who, why.strip())
        st.session_state[LAUNCHED_KEY] = launched.run_id
        st.cache_data.clear()
run_id = st.session_state.get(LAUNCHED_KEY)
if run_id:
    try:
        status = retraining.run_status(config.dagster_url, run_id)
    except retraining.DagsterUnavailableError as error:
        status = f"unknown ({error})"
    st.success(f"retrain_job run {run_id} is {status}.")
    st.link_button("Open the run in Dagster", config.dagster_run_url(run_id))
    st.button("Refresh the status")
