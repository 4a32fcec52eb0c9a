"""By segment: the average error per pickup borough, payment type and time of day, window by window."""

from __future__ import annotations

import streamlit as st

from taxi_dashboard import charts, tables, view, wording

config, service = view.page()
reports, rows = view.judged_windows(config, service, "Accuracy by segment")
segments = reports.segments.merge(rows[["window", "version"]], on=["window", "version"])
newest = segments[segments["window"] == rows["window"].iloc[-1]]
failing = newest[newest["degraded"]]
for record in tables.records(failing):
    st.error(
        f"{wording.SEGMENTS.get(record['segment'], record['segment']).capitalize()} "
        f"{wording.segment_value(record['segment'], record['value'])}: fare estimates are off by "
        f"{wording.dollars(record['mae'])} on average, over its alarm threshold of "
        f"{wording.dollars(record['threshold'])}."
    )
if failing.empty:
    st.success(f"No segment raised the alarm in window {rows['window'].iloc[-1]}.")
st.caption(
    "Rows are the segment's values, the worst first; columns are windows; '!' marks a segment whose error "
    "raised the alarm (pickup borough and payment type are judged against the holdout; time of day is shown)."
)
for segment, title in wording.SEGMENTS.items():
    if segment not in set(segments["segment"]):
        continue
    st.subheader(title.capitalize())
    st.plotly_chart(charts.segment_heatmap(segments, segment), key=f"heatmap-{segment}")
    table = newest[newest["segment"] == segment].set_index("value").reindex(charts.worst_first(segments, segment))
    st.dataframe(
        table.reset_index()[["value", "rows", "mae", "mae_low", "mae_high", "threshold", "degraded"]].rename(
            columns={
                "rows": "true fares",
                "mae": "average error $",
                "mae_low": "95 % low",
                "mae_high": "95 % high",
                "threshold": "alarm at $",
                "degraded": "alarm",
            }
        ),
        hide_index=True,
        key=f"table-{segment}",
    )
