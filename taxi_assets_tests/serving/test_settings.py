from pathlib import Path

import pytest

from taxi_assets.registry.models import model_name
from taxi_serving.settings import settings_from_env


def test_the_api_serves_the_model_the_pipeline_registers(tmp_path: Path) -> None:
    settings = settings_from_env({"TAXI_HOME": str(tmp_path), "TAXI_SERVICE": "yellow"})
    assert settings.model_name == model_name("yellow") == "taxi-fare-yellow"
    assert settings.database_url == f"sqlite:///{tmp_path / 'platform.db'}"
    assert settings_from_env({"TAXI_HOME": str(tmp_path)}).service == "green"


def test_an_unknown_service_is_refused_at_start_naming_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown TLC service 'blue': one of green, yellow"):
        settings_from_env({"TAXI_HOME": str(tmp_path), "TAXI_SERVICE": "blue"})
    with pytest.raises(ValueError, match="one of green, yellow"):
        model_name("Green")
