"""docker/: the compose file validates, its variables and Dagster's agree, and what the images run exists."""

import re
import shutil
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import pytest
import yaml

from taxi_assets_tests.postgres import create_database, drop_database, require_postgres
from taxi_assets_tests.support import PROJECT_ROOT, needs

DOCKER = PROJECT_ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"
PLATFORM_SERVICES = ("mlflow", "code", "webserver", "daemon", "trainer", "spark-connect")


def env_example() -> dict[str, str]:
    pairs = [line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if line and not line.startswith("#")]
    return {key: value for key, value in pairs}


def compose() -> dict[str, dict[str, dict[str, object]]]:
    return yaml.safe_load(COMPOSE.read_text())


def test_the_compose_file_validates() -> None:
    needs(shutil.which("docker-compose") is not None, "docker-compose", "apt-get install docker-compose")
    result = subprocess.run(
        ["docker-compose", "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) == {
        "postgres",
        "mlflow",
        "code",
        "webserver",
        "daemon",
        "trainer",
        "api",
        "dashboard",
        "spark-connect",
    }
    assert resolved["services"]["postgres"]["healthcheck"]["test"]
    assert resolved["services"]["webserver"]["depends_on"]["code"]["condition"] == "service_healthy"
    assert resolved["services"]["spark-connect"]["profiles"] == ["spark"]  # only with --profile spark
    dashboard = resolved["services"]["dashboard"]
    assert dashboard["build"]["target"] == "dashboard"
    assert "/_stcore/health" in " ".join(dashboard["healthcheck"]["test"])
    assert dashboard["environment"]["TAXI_DAGSTER_URL"] == "http://webserver:3000"


def test_every_variable_of_env_example_is_used_and_none_is_missing() -> None:
    text = COMPOSE.read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_]+)", text))
    assert used == set(env_example())


def test_dagster_yaml_reads_what_compose_sets() -> None:
    needed = set(re.findall(r"\{env: ([A-Z_]+)\}", (DOCKER / "dagster.yaml").read_text()))
    assert needed
    services = compose()["services"]
    for name in PLATFORM_SERVICES:
        environment = services[name]["environment"]
        assert isinstance(environment, dict)
        assert needed <= set(environment), name


def test_what_the_images_run_exists() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, flags=re.MULTILINE):
        for path in source.split():
            assert (PROJECT_ROOT / path).exists(), path
    entrypoint = DOCKER / "entrypoint-platform.sh"
    assert entrypoint.stat().st_mode & stat.S_IXUSR
    script = entrypoint.read_text()
    for name in PLATFORM_SERVICES:
        (role,) = compose()["services"][name]["command"]  # type: ignore[misc]
        assert f"  {role})" in script, role
    assert '["python", "-m", "taxi_serving"' in dockerfile  # the launcher: workers whose metrics add up
    from taxi_assets.definitions import defs
    from taxi_serving.__main__ import main

    assert callable(defs)
    assert callable(main)


@pytest.mark.slow  # starts each Dagster command six times
@pytest.mark.parametrize(("log_format", "dagster_format"), [("", "json"), ("text", "colored")])
def test_the_dagster_services_log_in_the_platform_format(log_format: str, dagster_format: str) -> None:
    """Each Dagster role of the image accepts the log format it is given (click rejects an unknown option)."""
    bin_dir = str(Path(sys.executable).parent)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "TAXI_LOG_FORMAT": log_format}
    for role in ("code", "webserver", "daemon"):
        shown = subprocess.run(
            ["sh", "-x", str(DOCKER / "entrypoint-platform.sh"), role, "--help"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=True,
        )
        assert f"--log-format {dagster_format} --help" in shown.stderr, shown.stderr[-500:]
        assert "--log-format" in shown.stdout


@pytest.mark.slow
def test_the_deployment_instance_config_runs_on_postgres(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_postgres()
    database = f"taxi_docker_{uuid.uuid4().hex[:10]}"
    create_database(database)
    config = (DOCKER / "dagster.yaml").read_text().replace("/data/dagster", str(tmp_path / "dagster"))
    (tmp_path / "dagster.yaml").write_text(config)
    for key, value in {
        "DAGSTER_PG_USERNAME": "postgres",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_DB": database,
    }.items():
        monkeypatch.setenv(key, value)

    @dg.asset
    def probe() -> int:
        return 1

    try:
        with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert dg.materialize([probe], instance=instance).success
            assert instance.get_latest_materialization_event(dg.AssetKey("probe")) is not None
    finally:
        drop_database(database)


def _closure(requirements: list[str]) -> set[str]:
    """Every distribution the requirements pull in, walked through the installed packages' own metadata."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    pending = [(Requirement(text), "") for text in requirements]
    while pending:
        requirement, extra = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        key = f"{name}[{','.join(sorted(requirement.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        for text in metadata.requires(name) or []:
            nested = Requirement(text)
            pending.append((nested, ""))
            pending.extend((nested, wanted) for wanted in requirement.extras)
    return {key.split("[")[0] for key in seen}


def _locked(name: str) -> dict[str, str]:
    """A hashed lock's pins, ``{distribution: version}``; each pin must carry at least one sha256."""
    text = (PROJECT_ROOT / name).read_text()
    pins = re.findall(
        r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+) \\\n((?:    --hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)", text, re.M
    )
    requirement_lines = [line for line in text.splitlines() if line and not line.startswith(("#", " "))]
    assert len(pins) == len(requirement_lines), f"{name}: a pin without its hashes"
    from packaging.utils import canonicalize_name

    return {canonicalize_name(pin): version for pin, version, _ in pins}


def test_each_image_installs_its_hashed_lock_and_the_api_holds_no_dagster_or_spark() -> None:
    import tomllib

    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    dockerfile = (DOCKER / "Dockerfile").read_text()
    stages = dict(re.findall(r"^FROM base AS (\S+)\n(.*?)(?=^FROM |\Z)", dockerfile, flags=re.MULTILINE | re.DOTALL))
    images = (
        ("api-build", "requirements-api.lock"),
        ("platform-build", "requirements-platform.lock"),
        ("dashboard-build", "requirements-dashboard.lock"),
    )
    for stage, lock in images:
        install = stages[stage].index(f"pip install --require-hashes -r {lock}")
        assert install < stages[stage].index("COPY taxi_assets") < stages[stage].index("pip install --no-deps .")
    assert "grep" not in dockerfile
    api = _closure(project["dependencies"] + extras["api"])
    platform = _closure(project["dependencies"] + extras["platform"])
    dashboard = _closure(project["dependencies"] + extras["dashboard"])
    assert {"streamlit", "plotly", "mlflow"} <= dashboard
    assert not {name for name in dashboard if name.startswith(("dagster", "pyspark", "py4j"))}, sorted(dashboard)
    assert {"litestar", "uvicorn", "mlflow", "onnxruntime"} <= api
    assert not {name for name in api if name.startswith(("dagster", "pyspark", "py4j"))}, sorted(api)
    assert {"dagster", "pyspark", "mlflow"} <= platform
    # one resolution: the venv's lock pins every distribution any extra installs, each image's lock what its
    # extra needs, all at the same versions
    venv = _locked("requirements.lock")
    everything = _closure(project["dependencies"] + [r for reqs in extras.values() for r in reqs])
    assert everything - set(venv) == set(), sorted(everything - set(venv))
    locks = (
        ("requirements-api.lock", api),
        ("requirements-platform.lock", platform),
        ("requirements-dashboard.lock", dashboard),
    )
    for name, needed in locks:
        image = _locked(name)
        assert needed - set(image) == set(), (name, sorted(needed - set(image)))
        assert {pin: venv[pin] for pin in image} == image
    for lock in ("requirements-api.lock", "requirements-dashboard.lock"):
        assert not {pin for pin in _locked(lock) if pin.startswith(("dagster", "pyspark", "py4j"))}, lock
