"""Result shapes shared by the statistical tests (KS and chi-square)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PValueTestResult:
    """A test statistic and its p-value for one feature, with the p-value threshold applied."""

    feature: str
    statistic: float
    p_value: float
    threshold: float
    rows: int

    @property
    def drifted(self) -> bool:
        """True when the p-value is below the threshold (NaN, an empty window, is never drifted nor passed)."""
        return bool(self.p_value < self.threshold)
