import os
import subprocess
import sys
from pathlib import Path

import pytest

from taxi_assets.model.versions import model_name
from taxi_serving.settings import launcher_from_env, settings_from_env


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


def test_the_launcher_reads_its_address_workers_and_log_from_the_environment(tmp_path: Path) -> None:
    default = launcher_from_env({"TAXI_HOME": str(tmp_path)})
    assert (default.host, default.port, default.workers, default.home) == ("127.0.0.1", 8000, 1, tmp_path)
    assert (default.log_format, default.log_level) == ("json", "INFO")
    chosen = launcher_from_env({"TAXI_API_PORT": "9001", "TAXI_API_WORKERS": "4", "TAXI_LOG_FORMAT": "Text"})
    assert (chosen.port, chosen.workers, chosen.log_format) == (9001, 4, "text")


def test_a_launcher_with_an_unknown_log_format_does_not_start() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "taxi_serving", "--help"],
        env={**os.environ, "TAXI_LOG_FORMAT": "xml"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == "error: TAXI_LOG_FORMAT='xml': one of json, text\n"  # the setting named, no traceback
