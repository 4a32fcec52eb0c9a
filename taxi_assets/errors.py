"""Domain errors raised by the code without Dagster; assets let them fail the run with their message."""

from __future__ import annotations

from pathlib import Path


class TaxiDataError(Exception):
    """Base class for data problems that must stop a run with a clear message."""


class NotTripDataError(TaxiDataError):
    """A file handed in as TLC trip data is not TLC trip data."""

    def __init__(self, source: Path | str, reason: str) -> None:
        self.source = str(source)
        self.reason = reason
        super().__init__(f"{self.source} is not TLC trip data: {reason}")


class TooManyInvalidRowsError(TaxiDataError):
    """More rows broke the value rules than the configured maximum share allows."""

    def __init__(self, source: Path | str, invalid: int, total: int, max_share: float, by_rule: dict[str, int]):
        self.source = str(source)
        rules = ", ".join(f"{rule}: {count}" for rule, count in sorted(by_rule.items()) if count)
        share = invalid / total if total else 1.0
        super().__init__(
            f"{self.source}: {invalid} of {total} rows ({share:.1%}) break the value rules, more than the "
            f"allowed {max_share:.1%} (max_invalid_share); rows per rule: {rules}"
        )


class SourceUnavailableError(TaxiDataError):
    """A trip file could not be fetched from its source."""


class MissingInputError(TaxiDataError):
    """An upstream partition the step needs has not been materialized."""


class InvalidConfigError(TaxiDataError):
    """A run's configuration is outside the values the step can work with."""
