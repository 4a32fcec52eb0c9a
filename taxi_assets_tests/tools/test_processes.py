"""The demo's API process: started on the champion, asked for a fare, followed to a new version, stopped."""

import os
from pathlib import Path

import pytest

from taxi_assets_tests.champions import Trained, tiny_champions
from taxi_assets_tests.monitored import champion
from taxi_assets_tests.serving.servers import free_port
from taxi_tools.processes import running_api, show_sample_request, wait_for_swap
from taxi_tools.runner import CommandFailedError

pytestmark = pytest.mark.slow  # a real API process


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    return tiny_champions(tmp_path_factory.mktemp("tiny-champions"))


def env_for(home: Path, port: int) -> dict[str, str]:
    return {**os.environ, "TAXI_HOME": str(home), "TAXI_API_PORT": str(port), "TAXI_API_KEYS": "demo-key"}


def test_the_api_serves_the_champion_and_follows_the_alias_to_a_new_version(
    trained: Trained, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, _ = champion(tmp_path, trained, "a")
    with running_api(env_for(tmp_path, free_port()), "green", poll_seconds=0.3) as api:
        assert api.ready()["champion_version"] == first
        show_sample_request(api)
        printed = capsys.readouterr().out
        assert "-H 'X-API-Key: demo-key'" in printed
        assert f'"model_version":"{first}"' in printed
        second, _ = champion(tmp_path, trained, "b")
        assert wait_for_swap(api, second) > 0
        assert api.predict({"trip_distance": 2.0}).status_code == 422
        process = api.process
    assert process.poll() is not None  # stopped on exit
    assert second != first


def test_an_api_that_cannot_start_is_named_not_waited_for(trained: Trained, tmp_path: Path) -> None:
    env = env_for(tmp_path, free_port()) | {"TAXI_LOG_FORMAT": "yaml"}
    stopped = r"the API to be ready after \d+ s: it stopped"
    with pytest.raises(CommandFailedError, match=stopped), running_api(env, "green"):
        pass
