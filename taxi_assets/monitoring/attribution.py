"""What drives a version's fares in a window against at training: mean absolute contributions, feature by feature.

A drifted feature matters for the fares only if the model leans on it: a shift in passenger counts the trees
barely split on changes nothing, a shift in distances changes every fare. Each window's report therefore keeps,
per feature, the mean absolute contribution (exact TreeSHAP, ``model.explain``) over a seeded sample of the
window's answered trips, beside the same over the version's reference sample (its training trips). A drifted
feature whose contribution moved by at least ``MOVE_SHARE`` of its training value (and ``MOVE_USD``) is named
as moving the predictions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from taxi_assets.model.explain import FareExplainer
from taxi_assets.model.fare_model import FareModel

# trips explained per side and window: 100 of each cost about 2 s with 80 trees (9 ms a trip)
ATTRIBUTION_ROWS: Final = 100
MOVE_SHARE: Final = 0.25
MOVE_USD: Final = 0.10


@dataclass(frozen=True)
class Attribution:
    """Mean absolute contribution per feature in USD, at training and in the window, and the trips behind each."""

    reference: dict[str, float]
    window: dict[str, float]
    reference_rows: int
    window_rows: int

    def movers(self, drifted: list[str]) -> list[str]:
        """The drifted features whose contribution to the fares moved materially since training."""
        moved = []
        for name in drifted:
            before, now = self.reference.get(name), self.window.get(name)
            if before is None or now is None:
                continue
            change = abs(now - before)
            if change >= MOVE_USD and change >= MOVE_SHARE * before:
                moved.append(name)
        return moved


def mean_contributions(
    model: FareModel, explainer: FareExplainer, rows: pd.DataFrame, seed: int = 0
) -> tuple[dict[str, float], int]:
    """Mean absolute contribution of each feature over up to ``ATTRIBUTION_ROWS`` seeded rows of ``rows``."""
    if rows.empty:
        return {}, 0
    picked = np.random.default_rng(seed).choice(len(rows), size=min(ATTRIBUTION_ROWS, len(rows)), replace=False)
    encoded = model.encode(rows.iloc[np.sort(picked)].reset_index(drop=True))
    phi = np.abs(np.array([explainer.contributions(row.tolist()) for row in encoded]))
    return dict(zip(model.spec.columns, phi.mean(axis=0).tolist(), strict=True)), len(picked)


def attribution(
    model: FareModel | None, explainer: FareExplainer | None, window: pd.DataFrame, reference: pd.DataFrame | None
) -> Attribution | None:
    """The window's attribution beside the reference's; None for a version without trees or a reference sample."""
    if model is None or explainer is None or reference is None or window.empty:
        return None
    before, reference_rows = mean_contributions(model, explainer, reference)
    now, window_rows = mean_contributions(model, explainer, window)
    return Attribution(before, now, reference_rows, window_rows)
