"""docker/: the compose file validates, its variables and Dagster's agree, and what the images run exists."""

import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from taxi_assets_tests.support import PROJECT_ROOT, needs, script_module

deploy_secrets = script_module(PROJECT_ROOT / "docker" / "deploy_secrets.py")

DOCKER = PROJECT_ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"
ENTRYPOINT = DOCKER / "entrypoint.sh"
PLATFORM_SERVICES = ("migrate", "mlflow", "code", "webserver", "daemon", "trainer", "spark-connect")
IMAGES = {"platform", "api", "dashboard", "postgres", "proxy"}


def env_example() -> dict[str, str]:
    pairs = [line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if line and not line.startswith("#")]
    return {key: value for key, value in pairs}


def compose() -> dict[str, dict[str, dict[str, object]]]:
    return yaml.safe_load(COMPOSE.read_text())


def generated_env(tmp_path: Path) -> Path:
    """docker/.env as `make up` writes it: the example with every secret made random."""
    out = tmp_path / ".env"
    assert deploy_secrets.main(["generate", str(ENV_EXAMPLE), str(out)]) == 0
    return out


def resolved(env_file: Path) -> dict[str, dict[str, dict[str, object]]]:
    needs(shutil.which("docker-compose") is not None, "docker-compose", "apt-get install docker-compose")
    result = subprocess.run(
        ["docker-compose", "--env-file", str(env_file), "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_the_compose_file_validates_and_publishes_only_the_proxy(tmp_path: Path) -> None:
    services = resolved(generated_env(tmp_path))["services"]
    assert set(services) == {
        "postgres",
        "migrate",
        "mlflow",
        "code",
        "webserver",
        "daemon",
        "trainer",
        "api",
        "dashboard",
        "proxy",
        "spark-connect",
    }
    published = {name: service["ports"] for name, service in services.items() if service.get("ports")}
    assert list(published) == ["proxy"]
    assert published["proxy"] == ["127.0.0.1:8443:8443/tcp"]
    # every service runs one of the project's five images, none pulled from a registry and none built by compose
    assert {str(service["image"]).removeprefix("taxi-fare-").split(":")[0] for service in services.values()} == IMAGES
    assert not [name for name, service in services.items() if "build" in service]
    assert services["code"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"  # type: ignore[index]
    assert services["webserver"]["depends_on"]["code"]["condition"] == "service_healthy"  # type: ignore[index]
    assert services["spark-connect"]["profiles"] == ["spark"]  # only with --profile spark
    dashboard = services["dashboard"]["environment"]
    assert dashboard["TAXI_DAGSTER_URL"] == "http://webserver:3000/dagster"  # type: ignore[index]
    assert dashboard["STREAMLIT_SERVER_BASE_URL_PATH"] == "dashboard"  # type: ignore[index]


def test_each_component_reaches_the_database_and_mlflow_as_its_own_account(tmp_path: Path) -> None:
    services = resolved(generated_env(tmp_path))["services"]

    def role(name: str) -> str:
        url = str(services[name]["environment"]["TAXI_DATABASE_URL"])  # type: ignore[index]
        return url.split("//", 1)[1].split(":", 1)[0]

    assert {name: role(name) for name in ("code", "api", "dashboard")} == {
        "code": "platform",
        "api": "api",
        "dashboard": "dashboard",
    }
    users = {name: services[name]["environment"]["MLFLOW_TRACKING_USERNAME"] for name in ("code", "api", "dashboard")}  # type: ignore[index]
    assert users == {"code": "platform", "api": "reader", "dashboard": "reader"}
    mlflow = services["mlflow"]["environment"]
    assert "postgres:5432/mlflow_auth" in str(mlflow["MLFLOW_AUTH_DATABASE_URI"])  # type: ignore[index]


def test_every_variable_of_env_example_is_used_and_none_is_missing() -> None:
    text = COMPOSE.read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_]+)", text))
    assert used == set(env_example())


def test_every_secret_of_env_example_is_a_placeholder_that_is_refused() -> None:
    secrets = {name: value for name, value in env_example().items() if name in deploy_secrets.SECRETS}
    assert set(secrets) == set(deploy_secrets.SECRETS)
    refused = deploy_secrets.problems(secrets, list(secrets))
    assert len(refused) == len(secrets)
    assert all("placeholder" in line for line in refused), refused


def test_dagster_yaml_reads_what_compose_sets() -> None:
    needed = set(re.findall(r"\{env: ([A-Z_]+)\}", (DOCKER / "dagster.yaml").read_text()))
    assert needed
    services = compose()["services"]
    for name in ("code", "webserver", "daemon", "trainer"):
        environment = services[name].get("environment") or {}
        anchored = yaml.safe_load(COMPOSE.read_text())["x-platform-env"]
        assert needed <= set(environment) | set(anchored), name


def test_what_the_images_copy_and_run_exists() -> None:
    contexts = {"app.Dockerfile": PROJECT_ROOT, "postgres.Dockerfile": DOCKER, "proxy.Dockerfile": DOCKER}
    for dockerfile, context in contexts.items():
        text = (DOCKER / dockerfile).read_text()
        assert re.search(r"^USER (10001|postgres)", text, flags=re.MULTILINE), f"{dockerfile} runs as root"
        assert "FROM ${BASE}" in text
        assert "ARG BASE=taxi-fare-base:bookworm" in text
        for source in re.findall(r"^COPY (?!--from)(?:--chown=\S+ )?(.+) \S+$", text, flags=re.MULTILINE):
            for path in source.split():
                if path != "${LOCK}" and not path.startswith("build/"):
                    assert (context / path).exists(), (dockerfile, path)
    for script in (ENTRYPOINT, DOCKER / "up.sh", DOCKER / "wheelhouse.sh", DOCKER / "base" / "build.sh"):
        assert script.stat().st_mode & stat.S_IXUSR, script
    for script in (DOCKER / "postgres" / "start.sh", DOCKER / "proxy" / "start.sh", DOCKER / "deploy_secrets.py"):
        assert script.stat().st_mode & stat.S_IXUSR, script
    entrypoint = ENTRYPOINT.read_text()
    services = compose()["services"]
    for name in (*PLATFORM_SERVICES,):
        (role,) = services[name]["command"]  # type: ignore[misc]
        assert f"  {role})" in entrypoint, role
    for role in ("api", "dashboard"):
        assert f"  {role})" in entrypoint, role
    assert "exec python -m taxi_serving" in entrypoint  # the launcher: workers whose metrics add up
    from taxi_assets.definitions import defs
    from taxi_serving.__main__ import main

    assert callable(defs)
    assert callable(main)


def test_the_build_context_sends_only_what_the_images_copy() -> None:
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[1] == "*"
    allowed = {line[1:] for line in ignored if line.startswith("!")}
    assert {"build/project/*.whl", "build/wheelhouse/*.whl", "docker/entrypoint.sh"} <= allowed
    assert not {".venv", ".taxi", ".git"} & allowed


# the click command behind each Dagster role's executable and its first arguments
DAGSTER_COMMANDS = {
    "code": ("dagster api grpc", "dagster._cli.api", "grpc_command"),
    "webserver": ("dagster-webserver", "dagster_webserver.cli", "dagster_webserver"),
    "daemon": ("dagster-daemon run", "dagster._daemon.cli", "run_command"),
}


@pytest.mark.parametrize(("log_format", "dagster_format"), [("", "json"), ("text", "colored")])
def test_the_dagster_services_log_in_the_platform_format(log_format: str, dagster_format: str, tmp_path: Path) -> None:
    """Each Dagster role runs its command with a log format that command accepts (click rejects an unknown one).

    The executables are shims that print their arguments; the choices are read from the pinned Dagster's own
    click options. The stack runs the real ones (test_deployment.py).
    """
    import importlib

    for name in ("dagster", "dagster-webserver", "dagster-daemon", "taxi-secrets"):
        shim = tmp_path / name
        shim.write_text(f'#!/bin/sh\necho "{name} $*"\n')
        shim.chmod(0o755)
    secrets = {name: "s3cret-0123456789abcdef" for name in deploy_secrets.SECRETS}
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "TAXI_LOG_FORMAT": log_format, **secrets}
    for role, (executable, module, attribute) in DAGSTER_COMMANDS.items():
        shown = subprocess.run(
            ["sh", str(ENTRYPOINT), role], capture_output=True, text=True, env=env, timeout=30, check=True
        )
        command = shown.stdout.splitlines()[-1]
        assert command.startswith(f"{executable} "), command
        given = re.search(r"--log-format (\S+)", command)
        assert given is not None, command
        assert given.group(1) == dagster_format
        click_command = getattr(importlib.import_module(module), attribute)
        (option,) = [param for param in click_command.params if "--log-format" in param.opts]
        assert given.group(1) in option.type.choices, (role, option.type.choices)


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
    dockerfile = (DOCKER / "app.Dockerfile").read_text()
    build = dockerfile[dockerfile.index("AS build") : dockerfile.index("FROM ${BASE}\n")]
    # the lock's pins, from the wheelhouse alone, before the code
    assert build.index("COPY ${LOCK}") < build.index("--no-index --find-links /wheels") < build.index("/src/project")
    up = (DOCKER / "up.sh").read_text()
    for image, lock in (("platform", "platform"), ("api", "api"), ("dashboard", "dashboard")):
        assert re.search(rf"LOCK=requirements-{lock}\.lock .*-t taxi-fare-{image}:latest", up, flags=re.DOTALL), image
    wheelhouse = (DOCKER / "wheelhouse.sh").read_text()
    assert "--require-hashes" in wheelhouse
    assert all(f"requirements-{lock}.lock" in wheelhouse for lock in ("platform", "api", "dashboard"))
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


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("POSTGRES_PASSWORD", "", "POSTGRES_PASSWORD is not set"),
        ("POSTGRES_PASSWORD", "change-me", "POSTGRES_PASSWORD is a placeholder"),
        ("POSTGRES_PASSWORD", "ChangeMe-0123456789", "POSTGRES_PASSWORD is a placeholder"),
        ("POSTGRES_PASSWORD", "password", "POSTGRES_PASSWORD is a placeholder"),
        ("POSTGRES_PASSWORD", "Xy7-short", "POSTGRES_PASSWORD is shorter than 16 characters"),
        ("POSTGRES_PASSWORD", "0123456789abcdef@host", "POSTGRES_PASSWORD holds characters other than"),
        ("TAXI_API_KEYS", "0123456789abcdefgh,change-me-too", "TAXI_API_KEYS is a placeholder"),
        ("PROXY_USERS", "ops:0123456789abcdefgh,dev:secret", "PROXY_USERS (user 'dev') is a placeholder"),
        ("TAXI_DASHBOARD_KEYS", "0123456789abcdefgh", "TAXI_DASHBOARD_KEYS: each entry must be name:secret"),
    ],
)
def test_a_missing_or_placeholder_secret_is_refused_by_name_without_its_value(
    name: str, value: str, problem: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    assert deploy_secrets.main(["check", name]) == 1
    err = capsys.readouterr().err
    assert f"refusing to start: {problem}" in err
    assert not value or value not in err


def test_generated_secrets_pass_and_are_all_different(tmp_path: Path) -> None:
    env_file = generated_env(tmp_path)
    assert env_file.stat().st_mode & 0o077 == 0  # readable by its owner only
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if line and line[0] != "#")
    assert deploy_secrets.problems(values, list(deploy_secrets.SECRETS)) == []
    secrets = [values[name].rpartition(":")[2] for name in deploy_secrets.SECRETS]
    assert len(set(secrets)) == len(secrets)
    assert values["TAXI_PUBLISH_ADDRESS"] == "127.0.0.1"  # settings that are not secrets are kept
    # a second generation never overwrites the secrets in place
    assert deploy_secrets.main(["generate", str(ENV_EXAMPLE), str(env_file)]) == 1
    assert dict(line.split("=", 1) for line in env_file.read_text().splitlines() if line and line[0] != "#") == values


def test_the_proxys_password_file_verifies_each_password_and_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    import base64
    import hashlib

    monkeypatch.setenv("PROXY_USERS", "ops:0123456789abcdefgh,alice:zyxwvutsrqponmlk")
    lines = deploy_secrets.htpasswd("ops:0123456789abcdefgh,alice:zyxwvutsrqponmlk").splitlines()
    stored = dict(line.split(":", 1) for line in lines)
    assert set(stored) == {"ops", "alice"}

    def verifies(user: str, password: str) -> bool:
        raw = base64.b64decode(stored[user].removeprefix("{SSHA}"))
        digest, salt = raw[:20], raw[20:]
        return hashlib.sha1(password.encode() + salt).digest() == digest

    assert verifies("ops", "0123456789abcdefgh")
    assert verifies("alice", "zyxwvutsrqponmlk")
    assert not verifies("ops", "zyxwvutsrqponmlk")
    assert "0123456789abcdefgh" not in "\n".join(lines)


def test_the_check_before_building_sees_what_compose_will_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compose takes a variable from the shell over the env file's: so does `make up`'s check, naming it."""
    env_file = generated_env(tmp_path)
    monkeypatch.delenv("TAXI_API_KEYS", raising=False)
    assert deploy_secrets.main(["check", "--env-file", str(env_file), "TAXI_API_KEYS", "PROXY_USERS"]) == 0
    monkeypatch.setenv("TAXI_API_KEYS", "dev-key")
    assert deploy_secrets.main(["check", "--env-file", str(env_file), "TAXI_API_KEYS", "PROXY_USERS"]) == 1
    assert "refusing to start: TAXI_API_KEYS is shorter than 16 characters" in capsys.readouterr().err
