#!/usr/bin/env bash
# `make up`: the compose deployment from nothing on a Debian or Ubuntu machine.
#   1. the engine and compose: installed from the distribution's packages when absent, the engine started when
#      it does not answer (systemd when it runs, else dockerd in the background, its log in /var/log/dockerd.log)
#   2. docker/.env with strong random secrets when there is none (docker/deploy_secrets.py), and every secret checked
#   3. the images: the Debian base (docker/base/build.sh), the wheelhouse (docker/wheelhouse.sh), then the
#      platform, API, dashboard, PostgreSQL and proxy images (make images: these three steps alone)
#   4. `up -d`, then a wait until every service is healthy (TAXI_UP_TIMEOUT seconds, 900), and where each UI is
# Usage: docker/up.sh [images|up]   (COMPOSE_PROJECT_NAME, default taxi-fare-platform)
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-up}"
project="${COMPOSE_PROJECT_NAME:-taxi-fare-platform}"
env_file="${TAXI_ENV_FILE:-docker/.env}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

say() { printf '%s\n' "$*"; }

install_packages() {
  say "installing $* from the distribution's packages"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_engine() {
  local wanted=()
  command -v dockerd >/dev/null 2>&1 || wanted+=(docker.io)
  docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 || wanted+=(docker-compose)
  command -v mmdebstrap >/dev/null 2>&1 || wanted+=(mmdebstrap)
  if [ "${#wanted[@]}" -gt 0 ]; then install_packages "${wanted[@]}"; fi
  if docker info >/dev/null 2>&1; then return; fi
  if [ -d /run/systemd/system ]; then
    $SUDO systemctl start docker
  else
    say "starting the Docker engine (dockerd, its log in /var/log/dockerd.log)"
    $SUDO sh -c 'nohup dockerd >>/var/log/dockerd.log 2>&1 &'
  fi
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && return
    sleep 1
  done
  say "error: the Docker engine did not answer within 60 s (see /var/log/dockerd.log)" >&2
  exit 1
}

compose() {
  if docker compose version >/dev/null 2>&1; then
    docker compose -p "$project" --env-file "$env_file" -f docker/compose.yaml "$@"
  else
    docker-compose -p "$project" --env-file "$env_file" -f docker/compose.yaml "$@"
  fi
}

ensure_secrets() {
  if [ ! -f "$env_file" ]; then
    python3 docker/deploy_secrets.py generate docker/.env.example "$env_file"
  fi
  # every secret the services read, checked before anything is built (each service checks its own again); as
  # compose does, a variable set in the shell wins over the file's
  (python3 docker/deploy_secrets.py check --env-file "$env_file" POSTGRES_PASSWORD PLATFORM_DB_PASSWORD \
    DAGSTER_DB_PASSWORD MLFLOW_DB_PASSWORD API_DB_PASSWORD DASHBOARD_DB_PASSWORD MLFLOW_PLATFORM_PASSWORD \
    MLFLOW_READER_PASSWORD MLFLOW_FLASK_SERVER_SECRET_KEY TAXI_API_KEYS TAXI_DASHBOARD_KEYS PROXY_USERS)
}

# docker build, its output shown only when it fails (the legacy builder's deprecation notice is not news)
build_quiet() {
  local log
  log=$(mktemp)
  if ! docker "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
}

build_images() {
  local start
  start=$(date +%s)
  docker/base/build.sh
  docker/wheelhouse.sh
  # the project's own wheel, from this checkout; the images record its commit as the code version
  rm -rf build/project
  "${PYTHON:-python3.11}" -m pip wheel --quiet --disable-pip-version-check --no-deps -w build/project . \
    2> >(grep -v "^WARNING: Location .* is ignored" >&2)
  rm -rf build/lib build/bdist.*  # setuptools' scratch copies of the packages
  local app="build --quiet -f docker/app.Dockerfile --build-arg COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  build_quiet $app --build-arg LOCK=requirements-platform.lock --build-arg APT_PACKAGES="openjdk-17-jre-headless procps" \
    --build-arg ROLE=webserver -t taxi-fare-platform:latest .
  build_quiet $app --build-arg LOCK=requirements-api.lock --build-arg ROLE=api -t taxi-fare-api:latest .
  build_quiet $app --build-arg LOCK=requirements-dashboard.lock --build-arg ROLE=dashboard -t taxi-fare-dashboard:latest .
  build_quiet build --quiet -f docker/postgres.Dockerfile -t taxi-fare-postgres:latest docker
  build_quiet build --quiet -f docker/proxy.Dockerfile -t taxi-fare-proxy:latest docker
  say "images built in $(( $(date +%s) - start )) s:"
  docker image ls --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' 'taxi-fare-*'
}

wait_healthy() {
  local deadline=$(( $(date +%s) + ${TAXI_UP_TIMEOUT:-900} ))
  while :; do
    local waiting=()
    local id name state health
    for id in $(compose ps -q); do
      read -r name state health < <(docker inspect -f \
        '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id")
      case "$name:$state:$health" in
        migrate:exited:*|trainer:exited:*)
          code=$(docker inspect -f '{{.State.ExitCode}}' "$id")
          if [ "$code" != 0 ]; then
            say "error: the $name service failed (exit $code); its log:" >&2
            docker logs --tail 30 "$id" >&2
            exit 1
          fi ;;
        *:running:healthy|*:running:none) ;;
        *:exited:*|*:dead:*|*:restarting:*)
          say "error: the $name service stopped ($state); its log:" >&2
          docker logs --tail 30 "$id" >&2
          exit 1 ;;
        *) waiting+=("$name") ;;
      esac
    done
    [ "${#waiting[@]}" -eq 0 ] && return
    if [ "$(date +%s)" -ge "$deadline" ]; then
      say "error: still not healthy after ${TAXI_UP_TIMEOUT:-900} s: ${waiting[*]}" >&2
      exit 1
    fi
    sleep 3
  done
}

ensure_engine
if [ "$what" = images ]; then
  build_images
  exit 0
fi
ensure_secrets
build_images
start=$(date +%s)
compose up -d --remove-orphans
wait_healthy
# shellcheck disable=SC1090
host=$(set -a; . "$env_file"; echo "${TAXI_PUBLIC_HOST:-localhost}:${TAXI_HTTPS_PORT:-8443}")
say "every service healthy in $(( $(date +%s) - start )) s (the trainer trains the first champion in the background)"
say ""
say "  API        https://$host/            (key: TAXI_API_KEYS in $env_file; docs at /schema)"
say "  Dagster    https://$host/dagster/    (user and password: PROXY_USERS in $env_file)"
say "  MLflow     https://$host/mlflow/     (read-only; same credentials)"
say "  dashboard  https://$host/dashboard/  (same credentials, then a key of TAXI_DASHBOARD_KEYS)"
say ""
say "The certificate is self-signed unless you provided one (docs/operations/deployment.md); stop with: make down"
