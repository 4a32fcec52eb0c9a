"""What the tools read from the environment: the API they drive and the Dagster instance they use."""

from pathlib import Path

from taxi_tools.settings import ApiAddress, instance_home


def test_the_api_is_this_host_on_its_port_with_the_local_key_unless_told_otherwise() -> None:
    local = ApiAddress.from_env({})
    assert local.base_url == "http://127.0.0.1:8000"
    assert local.key == "local-dev-key"
    elsewhere = ApiAddress.from_env({"TAXI_API_URL": "https://api.example", "TAXI_API_KEYS": "k1,k2"})
    assert elsewhere.base_url == "https://api.example"
    assert elsewhere.key == "k1"


def test_the_instance_lives_in_the_data_home_unless_dagster_home_says_otherwise(tmp_path: Path) -> None:
    assert instance_home({"TAXI_HOME": str(tmp_path)}) == tmp_path / "dagster"
    assert (tmp_path / "dagster").is_dir()
    assert instance_home({"TAXI_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "own")}) == tmp_path / "own"
