"""What the dashboard tests share besides fixtures; ``conftest.py`` holds the fixtures, and no test imports it."""

from dataclasses import dataclass
from pathlib import Path

SHIFTED_BOROUGH = "Manhattan"


RETRAIN_TITLE = "retraining green after accuracy failed"


@dataclass(frozen=True)
class Home:
    """The data home and what was put in it."""

    path: Path
    version: str
    promoted: str
    metadata: dict[str, object]

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path / 'platform.db'}"
