"""Accuracy over time: the average error per window from the true fares that arrived, against its alarm band."""

from __future__ import annotations

import streamlit as st

from taxi_dashboard import charts, view, wording

config, service = view.page()
_, rows = view.judged_windows(config, service, "Accuracy over time")
st.write(
    "Each point is one monitoring window, measured on the trips whose true fare had arrived when it was judged. "
    "The red band runs from the model's normal error (on trips held out from training) to the error that raises "
    "the alarm; a red point is a window that raised it."
)
incomplete = rows[~rows["judged"]]
if not incomplete.empty:
    st.caption(
        f"Hollow points ({len(incomplete)} window(s), newest {incomplete['window'].iloc[-1]}): too few true fares "
        "had arrived to judge them (label delay); their error is shown, not judged."
    )
st.plotly_chart(charts.accuracy_figure(rows), key="accuracy")
st.subheader("Over- or under-charging")
st.caption(wording.bias_sentence(rows["bias"].iloc[-1]) + " Bars above zero over-charge.")
st.plotly_chart(charts.bias_figure(rows), key="bias")
table = rows[["window", "version", "labelled_rows", "mae", "threshold", "bias", "judged", "degraded"]]
st.dataframe(
    table.rename(
        columns={
            "labelled_rows": "true fares",
            "mae": "average error $",
            "threshold": "alarm at $",
            "bias": "bias $",
            "degraded": "alarm",
        }
    ),
    hide_index=True,
)
