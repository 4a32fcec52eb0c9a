"""The compose deployment, built and started from no images by `docker/up.sh` (what `make up` runs).

Probed as a stranger and as an operator would: only the proxy published, nobody root, every control plane closed
without credentials, placeholder secrets refused, a killed API container losing no answered row, and `down` then
`up` keeping the champion, the registry, the log and Dagster's runs.

The stack runs as a compose project of its own (``taxi-fare-test``) on a free port, with secrets generated for it,
and is removed with its volumes at the end. Under CI the project's images are removed first, so the build is
measured from nothing but Debian's archive and the package index; elsewhere images already built are reused.
"""

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import urllib3

from taxi_assets.features.columns import EXAMPLE_TRIP
from taxi_assets_tests.serving.servers import Load, free_port
from taxi_assets_tests.support import PROJECT_ROOT, TLC_DIR, needs, script_module

pytestmark = pytest.mark.slow

PROJECT = "taxi-fare-test"
DOCKER = PROJECT_ROOT / "docker"
IMAGES = ("platform", "api", "dashboard", "postgres", "proxy")
deploy_secrets = script_module(DOCKER / "deploy_secrets.py")
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # the proxy's self-signed certificate
TRIP = EXAMPLE_TRIP  # the README's sample trip


@dataclass
class Stack:
    """The running test stack: where it answers, its settings and secrets, and the seconds its starts took."""

    base: str
    env_file: Path
    settings: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def api_key(self) -> str:
        return self.settings["TAXI_API_KEYS"].split(",")[0]

    @property
    def operator(self) -> tuple[str, str]:
        user, _, password = self.settings["PROXY_USERS"].split(",")[0].partition(":")
        return user, password

    def up(self, env_file: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(DOCKER / "up.sh"), "up"],
            env=up_env(env_file or self.env_file),
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )

    def compose(self, *args: str) -> str:
        return compose(self.env_file, *args)

    def container(self, service: str) -> str:
        (container,) = self.compose("ps", "-q", service).split()
        return container

    def sql(self, query: str) -> str:
        """A query on the platform database, as its superuser inside the database container."""
        psql = ["psql", "-h", "/tmp", "-U", "postgres", "-d", "platform", "-At", "-v", "ON_ERROR_STOP=1"]
        result = subprocess.run(
            ["docker", "exec", "-i", self.container("postgres"), *psql],
            input=query,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return result.stdout.strip()

    def served(self, timeout: float) -> bool:
        """Whether the API answers a trip 200 through the proxy within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if self.predict().status_code == 200:
                    return True
            time.sleep(2)
        return False

    def predict(self) -> requests.Response:
        return requests.post(
            f"{self.base}/predict", json=TRIP, headers={"X-API-Key": self.api_key}, verify=False, timeout=30
        )


# the Spark Connect profile: the platform's Spark work (the first training, the retraining) runs on its server
PROFILES = {"COMPOSE_PROFILES": "spark"}


def clean_env(env_file: Path) -> dict[str, str]:
    """This process's environment without the env file's variables.

    Compose prefers the shell's value of a variable to the file's, and other tests of the session set some.
    """
    names = set(read_env(env_file))
    return {name: value for name, value in os.environ.items() if name not in names}


def up_env(env_file: Path) -> dict[str, str]:
    return {
        **clean_env(env_file),
        **PROFILES,
        "COMPOSE_PROJECT_NAME": PROJECT,
        "TAXI_ENV_FILE": str(env_file),
        "TAXI_UP_TIMEOUT": "900",
    }


def compose(env_file: Path, *args: str) -> str:
    command = ["docker-compose", "-p", PROJECT, "--env-file", str(env_file), "-f", str(DOCKER / "compose.yaml")]
    result = subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**clean_env(env_file), **PROFILES},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def read_env(env_file: Path) -> dict[str, str]:
    lines = [line for line in env_file.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def write_env(env_file: Path, settings: dict[str, str]) -> None:
    env_file.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))


def wait_for_champion(stack: Stack, timeout: float) -> str:
    """The version the API serves once the trainer has trained and promoted the first champion."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = json.loads(
            subprocess.check_output(["docker", "inspect", "-f", "{{json .State}}", stack.container("trainer")])
        )
        if state["Status"] == "exited":
            assert state["ExitCode"] == 0, stack.compose("logs", "--tail", "60", "trainer")
            response = stack.predict()
            if response.status_code == 200:
                return str(response.json()["model_version"])
        time.sleep(5)
    raise AssertionError(
        f"no champion served after {timeout:.0f} s:\n{stack.compose('logs', '--tail', '40', 'trainer')}"
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    needs(
        shutil.which("docker") is not None and (os.geteuid() == 0 or shutil.which("sudo") is not None),
        "a Docker client and the right to install and start the engine",
        "apt-get install docker.io docker-compose mmdebstrap",
    )
    folder = tmp_path_factory.mktemp("deployment")
    env_file = folder / ".env"
    assert deploy_secrets.main(["generate", str(DOCKER / ".env.example"), str(env_file)]) == 0
    settings = read_env(env_file) | {
        "TAXI_HTTPS_PORT": str(free_port()),
        "TAXI_TRIPS_DIR_HOST": str(TLC_DIR),
        # the demo's pace: one-minute windows from today, accuracy on the last minute's fares, one month retrained,
        # promotion on the offline decision, the API polling each second
        "TAXI_MONITOR_WINDOW_MINUTES": "1",
        "TAXI_MONITOR_START": time.strftime("%Y-%m-%d-00:00", time.gmtime()),
        "TAXI_MONITOR_ACCURACY_HOURS": str(1 / 60),
        "TAXI_RETRAIN_MONTHS": "1",
        "TAXI_RETRAIN_COOLDOWN_SECONDS": "60",
        "TAXI_MODEL_POLL_SECONDS": "1",
        "TAXI_ROLLOUT_STAGES": "",
        "TAXI_SPARK_REMOTE": "sc://spark-connect:15002",
    }
    write_env(env_file, settings)
    stack = Stack(f"https://127.0.0.1:{settings['TAXI_HTTPS_PORT']}", env_file, settings)
    if os.environ.get("CI"):
        images = [f"taxi-fare-{name}:latest" for name in IMAGES] + ["taxi-fare-base:bookworm"]
        subprocess.run(["docker", "rmi", "--force", *images], capture_output=True, check=False, timeout=300)
        # the build stages the tags kept alive, so nothing of an earlier build is reused
        subprocess.run(["docker", "image", "prune", "--force"], capture_output=True, check=False, timeout=300)
        shutil.rmtree(PROJECT_ROOT / "build" / "wheelhouse", ignore_errors=True)
    # an interrupted earlier run may have left this project's containers and volumes: start from nothing (before
    # the first `make up` there is no compose, or no engine running, to ask)
    with contextlib.suppress(AssertionError, subprocess.TimeoutExpired, FileNotFoundError):
        compose(env_file, "down", "-v", "--remove-orphans")
    start = time.monotonic()
    started = stack.up()
    stack.timings["cold"] = time.monotonic() - start
    try:
        assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        stack.settings["champion"] = wait_for_champion(stack, timeout=1200)
        stack.timings["champion"] = time.monotonic() - start
        print(
            f"\ncompose deployment: healthy {stack.timings['cold']:.0f} s after `up.sh up`, first champion "
            f"served after {stack.timings['champion']:.0f} s\n{started.stdout}"
        )
        yield stack
    finally:
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            compose(env_file, "down", "-v", "--remove-orphans")


def test_only_the_proxy_is_published_and_no_container_runs_as_root(stack: Stack) -> None:
    ids = stack.compose("ps", "-q").split()
    published = {}
    for container in ids:
        info = json.loads(subprocess.check_output(["docker", "inspect", container]))[0]
        service = info["Config"]["Labels"]["com.docker.compose.service"]
        assert info["Config"]["User"] not in ("", "root", "0", "0:0"), service
        top = subprocess.run(["docker", "top", container, "-o", "user"], capture_output=True, text=True, check=False)
        if top.returncode == 0:
            assert "root" not in top.stdout.split()[1:], (service, top.stdout)  # the processes, not only the setting
        bindings = {port: hosts for port, hosts in (info["HostConfig"]["PortBindings"] or {}).items() if hosts}
        if bindings:
            published[service] = bindings
    assert published == {
        "proxy": {"8443/tcp": [{"HostIp": "127.0.0.1", "HostPort": stack.settings["TAXI_HTTPS_PORT"]}]}
    }


def test_without_credentials_every_control_plane_refuses(stack: Stack) -> None:
    launch = {
        "query": "mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename } }",
        "variables": {
            "p": {
                "selector": {
                    "repositoryLocationName": "taxi_assets",
                    "repositoryName": "__repository__",
                    "jobName": "retrain_job",
                },
                "executionMetadata": {"tags": [{"key": "taxi/requested_by", "value": "ops"}]},
            }
        },
    }
    alias = {"name": "taxi-fare-green", "alias": "champion", "version": "1"}
    strangers = {
        "Dagster GraphQL launchRun": requests.post(
            f"{stack.base}/dagster/graphql", json=launch, verify=False, timeout=30
        ),
        "Dagster UI": requests.get(f"{stack.base}/dagster/", verify=False, timeout=30),
        "MLflow alias move": requests.post(
            f"{stack.base}/mlflow/api/2.0/mlflow/registered-models/alias", json=alias, verify=False, timeout=30
        ),
        "dashboard": requests.get(f"{stack.base}/dashboard/", verify=False, timeout=30),
        "/predict": requests.post(f"{stack.base}/predict", json=TRIP, verify=False, timeout=30),
    }
    assert {name: response.status_code for name, response in strangers.items()} == dict.fromkeys(strangers, 401)
    assert requests.get(f"{stack.base}/metrics", verify=False, timeout=30).status_code == 404
    # an operator reads MLflow through the proxy, as the reader account: moving the alias is still refused
    operator = stack.operator
    moved = requests.post(
        f"{stack.base}/mlflow/api/2.0/mlflow/registered-models/alias",
        json=alias,
        auth=operator,
        verify=False,
        timeout=30,
    )
    assert moved.status_code == 403, moved.text
    models = requests.get(
        f"{stack.base}/mlflow/api/2.0/mlflow/registered-models/search", auth=operator, verify=False, timeout=30
    )
    assert models.status_code == 200
    assert "taxi-fare-green" in models.text
    # and with the credentials, each UI answers through the one published port
    for path in ("/dagster/", "/mlflow/", "/dashboard/"):
        assert requests.get(f"{stack.base}{path}", auth=operator, verify=False, timeout=30).status_code == 200, path
    version = requests.post(
        f"{stack.base}/dagster/graphql", json={"query": "{ version }"}, auth=operator, verify=False, timeout=30
    )
    assert version.json()["data"]["version"]
    served = stack.predict()
    assert served.status_code == 200
    assert served.json()["model_version"] == stack.settings["champion"]


def test_the_spark_work_ran_on_the_spark_connect_server(stack: Stack) -> None:
    server = subprocess.run(["docker", "logs", stack.container("spark-connect")], capture_output=True, text=True)
    assert "Stage class: GBTRegressor" in server.stdout + server.stderr  # the first champion was fitted there
    steps = stack.compose("logs", "--no-color", "trainer")
    assert "sc://spark-connect:15002 accepts connections" in steps


def test_placeholder_secrets_stop_the_stack_and_each_service_names_its_own(stack: Stack, tmp_path: Path) -> None:
    placeholders = tmp_path / ".env"
    write_env(placeholders, stack.settings | {"API_DB_PASSWORD": "change-me", "PROXY_USERS": "ops:password"})
    refused = stack.up(placeholders)
    assert refused.returncode != 0
    assert "refusing to start: API_DB_PASSWORD is a placeholder" in refused.stderr
    assert "refusing to start: PROXY_USERS (user 'ops') is a placeholder" in refused.stderr
    # each image checks its own secrets at start, whoever starts it
    checks = {
        "api": {"API_DB_PASSWORD": "change-me", "MLFLOW_READER_PASSWORD": "", "TAXI_API_KEYS": "x" * 20},
        "postgres": {name: "0123456789abcdefgh" for name in ("PLATFORM_DB_PASSWORD", "DAGSTER_DB_PASSWORD")},
        "proxy": {"PROXY_USERS": "ops:change-me", "MLFLOW_READER_PASSWORD": "0123456789abcdefgh"},
    }
    expected = {
        "api": ["API_DB_PASSWORD is a placeholder", "MLFLOW_READER_PASSWORD is not set"],
        "postgres": ["POSTGRES_PASSWORD is not set", "MLFLOW_DB_PASSWORD is not set"],
        "proxy": ["PROXY_USERS (user 'ops') is a placeholder"],
    }
    for image, env in checks.items():
        flags = [part for name, value in env.items() for part in ("-e", f"{name}={value}")]
        result = subprocess.run(
            ["docker", "run", "--rm", *flags, f"taxi-fare-{image}:latest"], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 1, (image, result.stdout, result.stderr)
        for problem in expected[image]:
            assert f"refusing to start: {problem}" in result.stderr, (image, result.stderr)
        assert "change-me" not in result.stderr.replace("placeholder", "")  # the value itself is never printed


def test_the_whole_loop_runs_inside_the_stack(stack: Stack, tmp_path: Path) -> None:
    """The demo's story against the deployment.

    Replayed through the proxy, judged by the daemon container, retrained by its sensor, promoted, served by the API
    container and shown by the dashboard container.
    """
    # the replay reaches the API through the proxy, trusting the certificate the proxy made
    trust = ["-e", "SSL_CERT_FILE=/certs/tls.crt", "-e", "REQUESTS_CA_BUNDLE=/certs/tls.crt"]
    demo = ["python", "-m", "taxi_tools.cli", "demo", "--deployment", "https://proxy:8443"]
    story = subprocess.run(
        ["docker", "exec", "-e", f"TAXI_API_KEYS={stack.api_key}", *trust, stack.container("code"), *demo],
        capture_output=True,
        text=True,
        timeout=2400,
        check=False,
    )
    (tmp_path / "story.log").write_text(story.stdout + story.stderr)
    print(story.stdout[story.stdout.find("== summary") :])
    assert story.returncode == 0, story.stdout[-4000:] + story.stderr[-4000:]
    summary = story.stdout[story.stdout.find("== summary") :]
    champion = stack.settings["champion"]
    assert f"1. champion v{champion} trained on green" in summary
    assert "accuracy FAILED" in summary
    assert "the sensor started retrain_job run" in summary
    promoted = re.search(r"5\. promote v(\d+)", summary)
    assert promoted, summary
    new = promoted.group(1)
    assert f"6. the API serves v{new}" in summary
    # the API container serves it through the proxy, and the dashboard container says so in a real browser
    assert stack.predict().json()["model_version"] == new
    stack.settings["champion"] = new
    shown = browsed(stack, tmp_path)
    assert f"Model version {new} answers requests since" in shown, shown


def browsed(stack: Stack, tmp_path: Path) -> str:
    """The three UIs through the proxy, in Debian's chromium, as an operator: the dashboard overview's serving line.

    Dagster's UI lists the sensor's retraining and MLflow's the model (each under its path behind the proxy).
    """
    from playwright.sync_api import expect, sync_playwright

    chromium = Path("/usr/bin/chromium")
    needs(chromium.exists(), "Debian's chromium", "apt-get install -y chromium")
    user, password = stack.operator
    key = stack.settings["TAXI_DASHBOARD_KEYS"].split(",")[0].partition(":")[2]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        context = browser.new_context(
            ignore_https_errors=True, http_credentials={"username": user, "password": password}
        )
        page = context.new_page()
        page.goto(f"{stack.base}/dashboard/")
        page.get_by_label("Dashboard key", exact=True).fill(key)
        page.get_by_label("Dashboard key", exact=True).press("Enter")
        line = page.get_by_text(re.compile(r"^Model version \d+ answers requests")).first
        expect(line).to_be_visible(timeout=60_000)
        page.screenshot(path=tmp_path / "overview.png", full_page=True)
        text = line.inner_text()
        page.goto(f"{stack.base}/dagster/runs")
        expect(page.get_by_text("retrain_job").first).to_be_visible(timeout=60_000)
        page.goto(f"{stack.base}/mlflow/#/models")
        expect(page.get_by_text("taxi-fare-green").first).to_be_visible(timeout=60_000)
        browser.close()
    return text


def missing_from_the_log(stack: Stack, answered: list[str], timeout: float = 180) -> set[str]:
    """The answered request ids the prediction log still lacks after ``timeout`` seconds of shipping."""
    deadline = time.monotonic() + timeout
    missing = set(answered)
    while missing and time.monotonic() < deadline:
        missing -= set(stack.sql("SELECT request_id FROM prediction_log").split())
        time.sleep(3)
    return missing


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(2)
    return True


def test_api_replicas_share_the_load_and_a_killed_one_loses_no_answered_row(stack: Stack) -> None:
    """Two replicas behind the proxy; one killed mid-load and its journal shipped by the other; then restarted."""
    stack.compose("up", "-d", "--no-recreate", "--scale", "api=2", "api")
    replicas = stack.compose("ps", "-q", "api").split()
    assert len(replicas) == 2
    assert wait_until(lambda: all(healthy(replica) for replica in replicas), timeout=120)
    time.sleep(12)  # the proxy asks Docker's DNS again every 10 s
    killed = replicas[0]
    with Load(stack.base, dict(TRIP), clients=4, headers={"X-API-Key": stack.api_key}, verify=False) as load:
        time.sleep(10)
        served = {replica: predictions_served(replica) for replica in replicas}
        assert all(count > 0 for count in served.values()), served  # the proxy spreads requests over both
        subprocess.run(["docker", "kill", "--signal", "KILL", killed], check=True, capture_output=True, timeout=60)
        killed_at = len(load.answered)
        assert load.wait_for(killed_at + 200, timeout=120), (killed_at, len(load.answered))  # the other one serves
        # while the killed replica stays dead, only the survivor can have shipped the journal folders it left
        while_dead = missing_from_the_log(stack, list(load.answered))
        assert container_status(killed) == "exited"
        subprocess.run(["docker", "start", killed], check=True, capture_output=True, timeout=60)
        # the restarted replica answers again once its workers have loaded the champion (about half a minute)
        assert wait_until(lambda: healthy(killed) and predictions_served(killed) > 0, timeout=180)
        restarted_at = len(load.answered)
        assert load.wait_for(restarted_at + 100, timeout=60)
    missing = missing_from_the_log(stack, load.answered)
    print(
        f"\nkill -9 of one of two API replicas mid-load, then its restart: {len(load.answered)} answered 200 "
        f"({killed_at} before the kill; {served} served per replica before), {load.failed} refused or cut, "
        f"{len(while_dead)} answered rows missing from the log while it was dead, {len(missing)} at the end"
    )
    assert not while_dead, f"{len(while_dead)} answered rows not shipped while the killed replica was down"
    assert not missing, f"{len(missing)} of {len(load.answered)} answered rows are not in the prediction log"
    stack.compose("up", "-d", "--scale", "api=1", "api")


def container_status(container: str) -> str:
    return subprocess.check_output(["docker", "inspect", "-f", "{{.State.Status}}", container], text=True).strip()


def healthy(container: str) -> bool:
    state = subprocess.check_output(["docker", "inspect", "-f", "{{.State.Health.Status}}", container], text=True)
    return state.strip() == "healthy"


def predictions_served(container: str) -> float:
    """The replica's own count of predictions (its workers summed), read from its /metrics inside the network."""
    metrics = subprocess.check_output(
        ["docker", "exec", container, "curl", "-fsS", "http://127.0.0.1:8000/metrics"], text=True, timeout=30
    )
    counts = re.findall(r"^taxi_api_predictions_total\{[^}]*\} (\S+)$", metrics, flags=re.MULTILINE)
    return sum(float(count) for count in counts)


def test_down_then_up_keeps_the_champion_registry_log_and_dagster_runs(stack: Stack) -> None:
    operator = stack.operator

    def state() -> dict[str, object]:
        runs = requests.post(
            f"{stack.base}/dagster/graphql",
            json={"query": "{ runsOrError { ... on Runs { results { runId status } } } }"},
            auth=operator,
            verify=False,
            timeout=30,
        ).json()["data"]["runsOrError"]["results"]
        versions = requests.get(
            f"{stack.base}/mlflow/api/2.0/mlflow/model-versions/search",
            params={"filter": "name='taxi-fare-green'"},
            auth=operator,
            verify=False,
            timeout=30,
        ).json()["model_versions"]
        return {
            "champion": stack.predict().json()["model_version"],
            "versions": sorted(version["version"] for version in versions),
            "log rows": int(stack.sql("SELECT count(*) FROM prediction_log")),
            # a run the `down` stopped midway is recorded as failed after the `up`: the runs are kept, not their state
            "runs": sorted(run["runId"] for run in runs),
        }

    assert stack.served(timeout=120)
    time.sleep(3)  # the journal ships within a second or two
    before = state()
    assert before["runs"]
    assert before["log rows"]
    stack.compose("down")
    start = time.monotonic()
    restarted = stack.up()
    stack.timings["warm"] = time.monotonic() - start
    assert restarted.returncode == 0, restarted.stdout[-3000:] + restarted.stderr[-3000:]
    assert stack.served(timeout=120)
    after = state()
    print(f"\ncompose deployment, images built: down, then healthy {stack.timings['warm']:.0f} s after `up.sh up`")
    assert after["champion"] == before["champion"]
    assert after["versions"] == before["versions"]
    assert after["log rows"] >= before["log rows"]  # the probe above adds one
    assert set(before["runs"]) <= set(after["runs"])  # type: ignore[arg-type]
    # the one-shot trainer found the champion and trained nothing (it may still be starting when the API serves:
    # the API does not wait for it, having a champion already)
    deadline = time.monotonic() + 180
    trainer_log = stack.compose("logs", "--no-color", "trainer")
    while "nothing to train (--unless-champion)" not in trainer_log and time.monotonic() < deadline:
        time.sleep(2)
        trainer_log = stack.compose("logs", "--no-color", "trainer")
    assert "nothing to train (--unless-champion)" in trainer_log, trainer_log[-3000:]
