"""The dashboard's entry point: ``streamlit run taxi_dashboard/app.py`` (``make dashboard``)."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Taxi fare model", layout="wide")
# each screen draws the sidebar and checks the sign-in itself (view.page)
screens = [
    st.Page("screens/overview.py", title="Overview", default=True),
    st.Page("screens/accuracy.py", title="Accuracy over time"),
    st.Page("screens/segments.py", title="By segment"),
    st.Page("screens/why.py", title="Why and for whom"),
    st.Page("screens/drift.py", title="Drift"),
    st.Page("screens/health.py", title="Service health"),
    st.Page("screens/history.py", title="History"),
    st.Page("screens/retrain.py", title="Retrain"),
]
st.navigation(screens).run()
