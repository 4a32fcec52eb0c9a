"""The retraining sensor's cursor: per service, the newest evaluation handled and the last launch."""

import json

from taxi_assets import constants


class SensorCursor:
    """Per service: the newest evaluation handled and when its last retraining started (JSON in the cursor)."""

    def __init__(self, services: dict[str, dict[str, float]]) -> None:
        """``services`` maps a service to ``{"last_id": ..., "last_launch": ...}``."""
        self.services = services

    @classmethod
    def parse(cls, text: str | None) -> "SensorCursor":
        """Read a cursor; one written before services were kept apart applies to every service."""
        state = json.loads(text) if text else {}
        if "services" in state:
            return cls({name: dict(values) for name, values in state["services"].items()})
        legacy = {"last_id": float(state.get("last_id", 0)), "last_launch": float(state.get("last_launch", 0.0))}
        return cls({service: dict(legacy) for service in constants.SERVICES})

    def last_id(self, service: str) -> int:
        """The newest evaluation handled for ``service``."""
        return int(self.services.get(service, {}).get("last_id", 0))

    def last_launch(self, service: str) -> float:
        """When this sensor last launched a retraining of ``service`` (epoch seconds)."""
        return float(self.services.get(service, {}).get("last_launch", 0.0))

    def oldest_handled(self) -> int:
        """The evaluation after which any service may have something new."""
        return min((self.last_id(service) for service in constants.SERVICES), default=0)

    def handled(self, service: str, evaluation_id: int, launched: float) -> None:
        """Record that ``service``'s failures up to ``evaluation_id`` are dealt with."""
        self.services[service] = {"last_id": evaluation_id, "last_launch": max(launched, self.last_launch(service))}

    def describe(self) -> str:
        """The handled evaluations, for a skip reason."""
        return ", ".join(f"{service} {self.last_id(service)}" for service in constants.SERVICES)

    def dumps(self) -> str:
        """The cursor as stored."""
        return json.dumps({"services": self.services}, sort_keys=True)
