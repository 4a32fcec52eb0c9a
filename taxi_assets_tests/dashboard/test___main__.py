"""``python -m taxi_dashboard``: Streamlit headless on the configured address, no file watching, no statistics."""

from taxi_dashboard.__main__ import APP, arguments


def test_the_dashboard_serves_its_app_on_localhost_by_default() -> None:
    command = arguments({})
    assert command[:3] == ["streamlit", "run", str(APP)]
    options = dict(zip(command[3::2], command[4::2], strict=True))
    assert options == {
        "--server.address": "127.0.0.1",
        "--server.port": "8501",
        "--server.headless": "true",
        "--server.fileWatcherType": "none",
        "--browser.gatherUsageStats": "false",
        "--client.toolbarMode": "viewer",
    }
    assert APP.is_file()


def test_the_address_follows_its_variables() -> None:
    options = arguments({"TAXI_DASHBOARD_HOST": "0.0.0.0", "TAXI_DASHBOARD_PORT": "9000"})
    assert options[options.index("--server.address") + 1] == "0.0.0.0"
    assert options[options.index("--server.port") + 1] == "9000"
