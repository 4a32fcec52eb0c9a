"""Plotly figures of the frames ``sources`` loads; every trace holds only numbers from those frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from taxi_dashboard import wording

BAD, UNDER, NEUTRAL, BAND = "#c62828", "#ef6c00", "#546e7a", "rgba(198, 40, 40, 0.10)"


def accuracy_figure(rows: pd.DataFrame) -> go.Figure:
    """Average error per window with its alarm threshold and the holdout baseline; hollow marks: too few labels."""
    figure = go.Figure()
    x = rows["start"]
    figure.add_trace(go.Scatter(x=x, y=rows["baseline"], name="normal error (holdout)", line={"color": NEUTRAL}))
    figure.add_trace(
        go.Scatter(
            x=x, y=rows["threshold"], name="alarm threshold", fill="tonexty", fillcolor=BAND, line={"color": BAD}
        )
    )
    judged = rows["judged"].to_numpy(dtype=bool)
    figure.add_trace(
        go.Scatter(
            x=x,
            y=rows["mae"],
            name="average error",
            mode="lines+markers",
            line={"color": "#1565c0"},
            marker={
                "symbol": np.where(judged, "circle", "circle-open").tolist(),
                "color": np.where(rows["degraded"].to_numpy(dtype=bool), BAD, "#1565c0").tolist(),
                "size": 9,
            },
            customdata=np.stack([rows["window"], rows["labelled_rows"], rows["version"]], axis=-1),
            hovertemplate="window %{customdata[0]}<br>average error $%{y:.2f}<br>%{customdata[1]} true fares"
            "<br>model v%{customdata[2]}<extra></extra>",
        )
    )
    figure.update_layout(yaxis_title="dollars per trip", xaxis_title="window start (UTC)", hovermode="x unified")
    return figure


def bias_figure(rows: pd.DataFrame) -> go.Figure:
    """Mean (estimate - true fare) per window: red above zero (over-charging), orange below (under-charging)."""
    colours = np.where(rows["bias"].to_numpy(dtype=float) > 0, BAD, UNDER).tolist()
    figure = go.Figure(go.Bar(x=rows["start"], y=rows["bias"], marker_color=colours, name="bias"))
    figure.update_layout(yaxis_title="estimate - true fare ($)", xaxis_title="window start (UTC)")
    return figure


def worst_first(segments: pd.DataFrame, segment: str) -> list[str]:
    """Values of one segment, the worst (highest error in its newest window) first."""
    picked = segments[segments["segment"] == segment]
    newest = picked.sort_values("window").groupby("value").tail(1)
    return newest.sort_values(["degraded", "mae"], ascending=False)["value"].tolist()


def segment_heatmap(segments: pd.DataFrame, segment: str) -> go.Figure:
    """Average error per segment value (rows, worst first) and window (columns); "!" marks a failed segment."""
    picked = segments[segments["segment"] == segment]
    order = worst_first(segments, segment)
    grid = picked.pivot_table(index="value", columns="window", values="mae", aggfunc="first").reindex(order)
    marks = picked.pivot_table(index="value", columns="window", values="degraded", aggfunc="first").reindex(order)
    text = marks.reindex(columns=grid.columns).map(lambda flag: "!" if flag is True else "").to_numpy()
    labels = [wording.segment_value(segment, value) for value in order]
    figure = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(),
            x=list(grid.columns),
            y=labels,
            text=text,
            texttemplate="%{text}",
            colorscale="Reds",
            colorbar={"title": "avg error $"},
            hovertemplate="%{y}, window %{x}<br>average error $%{z:.2f}<extra></extra>",
        )
    )
    figure.update_layout(yaxis={"autorange": "reversed"}, xaxis_title="window", yaxis_title=segment)
    return figure


def drift_figure(features: pd.DataFrame, feature: str) -> go.Figure:
    """One feature's PSI per window against the limit over which it drifts."""
    picked = features[features["feature"] == feature]
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=picked["window"], y=picked["psi_limit"], name="drift limit", line={"color": BAD}))
    figure.add_trace(
        go.Scatter(
            x=picked["window"],
            y=picked["psi"],
            name="PSI",
            mode="lines+markers",
            marker={"color": np.where(picked["drifted"].to_numpy(dtype=bool), BAD, "#1565c0").tolist()},
        )
    )
    figure.update_layout(yaxis_title="PSI", xaxis_title="window")
    return figure


def distribution_figure(labels: list[str], reference: list[float], window: list[float]) -> go.Figure:
    """Training (reference) against production (window) shares over the same bins."""
    figure = go.Figure()
    figure.add_trace(go.Bar(x=labels, y=reference, name="training", marker_color=NEUTRAL))
    figure.add_trace(go.Bar(x=labels, y=window, name="production", marker_color="#1565c0"))
    figure.update_layout(barmode="group", yaxis_title="share of trips", yaxis_tickformat=".0%")
    return figure


def prediction_drift_figure(rows: pd.DataFrame) -> go.Figure:
    """PSI of the fare estimates per window."""
    figure = go.Figure(go.Scatter(x=rows["start"], y=rows["prediction_psi"], mode="lines+markers", name="PSI"))
    figure.update_layout(yaxis_title="PSI of the estimates", xaxis_title="window start (UTC)")
    return figure


def traffic_figure(health: pd.DataFrame) -> go.Figure:
    """Requests per bucket, served and rejected."""
    figure = go.Figure()
    figure.add_trace(go.Bar(x=health["bucket"], y=health["requests"] - health["rejected"], name="served"))
    figure.add_trace(go.Bar(x=health["bucket"], y=health["rejected"], name="rejected", marker_color=BAD))
    figure.update_layout(barmode="stack", yaxis_title="requests")
    return figure


def latency_figure(health: pd.DataFrame) -> go.Figure:
    """Latency percentiles of the served requests per bucket."""
    figure = go.Figure()
    for column in ("p50_ms", "p95_ms", "p99_ms"):
        figure.add_trace(go.Scatter(x=health["bucket"], y=health[column], name=column.removesuffix("_ms")))
    figure.update_layout(yaxis_title="milliseconds")
    return figure
