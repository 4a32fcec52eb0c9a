"""Why and for whom: one fare explained, champion and challenger segment by segment, the serving version's card."""

from __future__ import annotations

import streamlit as st

from taxi_assets.model.versions import model_name
from taxi_dashboard import view, why, wording

config, service = view.page()
st.title("Why and for whom")

st.header("Why this fare?")
request_id = st.text_input("Request id, as the API answered it", key="request-id").strip()
if request_id:
    found = view.explained(config.database_url, config.tracking_uri, service, request_id)
    if isinstance(found, str):
        st.warning(found)
    else:
        floor = (
            f", plus {wording.dollars(found.why.floor_adjustment)} of fare floor" if found.why.floor_adjustment else ""
        )
        st.markdown(
            f"Version {found.version} priced this trip at **{wording.dollars(found.fare)}**: a base of "
            f"{wording.dollars(found.why.base_fare)} (its average fare), then what each feature added{floor}. "
            f"Mostly: {'; '.join(found.why.reasons)}."
        )
        st.dataframe(why.contribution_table(found), hide_index=True, key="contributions")

st.header("For whom: champion and challenger, segment by segment")
compared = why.segment_comparison(view.decisions(config.database_url, service))
if compared is None:
    st.info("No promotion has compared two versions segment by segment yet.")
else:
    decision, table = compared
    gate = decision["rules"]["segments"]
    verdict = (
        "no segment was worse" if gate["passed"] else f"worse for {', '.join(gate['value'])}, so it was not promoted"
    )
    st.markdown(
        f"Decision {decision['id']} ({decision['action']}): challenger version {decision['challenger_version']} "
        f"against champion version {decision['champion_version']}, both on the same holdout trips "
        f"({gate.get('tests')} tests): {verdict}."
    )
    st.caption(
        "Error is the average size of a fare estimate's miss; over-charge is how much more a segment is over-priced "
        "than trips overall (negative: under-priced). The interval is the difference's 95 % bootstrap interval."
    )
    st.dataframe(table, hide_index=True, key="segments-side-by-side")

champion = view.champion(config.tracking_uri, service)
st.header(f"The model card of version {champion}" if champion else "The model card")
card = view.card(config.tracking_uri, service, champion) if champion else None
if card is None:
    st.info("No version serves yet, or the serving version was registered before versions carried a card.")
else:
    link = config.mlflow_version_url(model_name(service), champion) if champion else None
    if link:
        st.markdown(f"[Version {champion} in MLflow]({link}): the card is `model_card.md` in its run's artifacts.")
    st.markdown(why.card_body(card))
