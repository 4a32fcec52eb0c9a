"""History: alerts, retraining runs, promotion decisions and rollbacks, each linked to its runs."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from taxi_assets.model.versions import model_name
from taxi_dashboard import retraining, view, wording

config, service = view.page()
st.title("History")
link = st.column_config.LinkColumn

st.subheader("Promotion decisions and rollbacks")
decisions = view.decisions(config.database_url, service)
if decisions.empty:
    st.write("No decision recorded yet.")
else:
    name = model_name(service)
    table = pd.DataFrame(
        {
            "decided": decisions["decided_at"].map(wording.when),
            "action": decisions["action"],
            "challenger": decisions["challenger_version"],
            "champion before": decisions["champion_version"],
            "champion after": decisions["new_champion_version"],
            # offline decisions measure RMSE on a holdout; live ones on the true fares of the trips both scored
            "challenger RMSE": decisions["challenger_metrics"].map(lambda m: m.get("rmse", m.get("live_rmse"))),
            "champion RMSE": decisions["champion_metrics"].map(lambda m: m.get("rmse", m.get("live_rmse"))),
            "live labels": decisions["rules"].map(lambda r: r.get("live", {}).get("labels")),
            "reason": decisions["reason"],
            "rules": decisions["rules"].map(wording.rules_sentence),
            "Dagster run": decisions["dagster_run_id"].map(lambda run: view.run_link(config, run)),
            "MLflow model": decisions["challenger_version"].map(
                lambda v: config.mlflow_version_url(name, str(v)) if v else None
            ),
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        column_config={"Dagster run": link(display_text="run"), "MLflow model": link(display_text="version")},
        key="decisions",
    )

st.subheader("Alerts")
alerts = view.alerts(config.database_url, service)
if alerts.empty:
    st.write("No alert raised yet.")
else:
    severities = st.multiselect("Severity", sorted(alerts["severity"].unique()), default=None)
    kinds = st.multiselect(
        "Kind", sorted(alerts["kind"].unique()), default=None, format_func=lambda kind: wording.KINDS.get(kind, kind)
    )
    shown = alerts[
        alerts["severity"].isin(severities or alerts["severity"]) & alerts["kind"].isin(kinds or alerts["kind"])
    ]
    table = pd.DataFrame(
        {
            "raised": shown["raised_at"].map(wording.when),
            "severity": shown["severity"],
            "what": shown["kind"].map(lambda kind: wording.KINDS.get(kind, kind)),
            "title": shown["title"],
            "Dagster run": shown["details"].map(lambda d: view.run_link(config, d.get("dagster_run_id"))),
        }
    )
    st.dataframe(table, hide_index=True, column_config={"Dagster run": link(display_text="run")}, key="alerts")

st.subheader("Retraining runs")
runs: pd.DataFrame | None
try:
    runs = view.retraining_runs(config.dagster_url, service)
except retraining.DagsterUnavailableError as error:
    runs = None
    st.caption(f"{error}; the retrainings the alert history recorded instead:")
if runs is not None and not runs.empty:
    st.dataframe(
        pd.DataFrame(
            {
                "started": runs["started"].map(wording.when),
                "status": runs["status"],
                "launched by": runs["launched_by"],
                "why": runs["reason"],
                "months": runs["months"],
                "Dagster run": runs["run_id"].map(lambda run: view.run_link(config, run)),
            }
        ),
        hide_index=True,
        column_config={"Dagster run": link(display_text="run")},
        key="retraining",
    )
elif runs is not None:
    st.write("Dagster has no retraining run of this service.")
else:
    started = alerts[alerts["kind"].isin(["retrain_started", "retrain_failed"])] if not alerts.empty else alerts
    if started.empty:
        st.write("No retraining started yet.")
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    "started": started["raised_at"].map(wording.when),
                    "what": started["kind"].map(lambda kind: wording.KINDS.get(kind, kind)),
                    "why": started["title"],
                    "months": started["details"].map(lambda d: d.get("months", "")),
                    "window": started["details"].map(lambda d: d.get("window", "")),
                }
            ),
            hide_index=True,
            key="retraining",
        )
