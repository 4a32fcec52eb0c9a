# The platform's three Python images from one file, on the base docker/base/build.sh makes from Debian's packages:
#   platform:  LOCK=requirements-platform.lock APT_PACKAGES="openjdk-17-jre-headless procps"   (Dagster, Spark, MLflow)
#   api:       LOCK=requirements-api.lock         (the prediction API: no Java, no Spark, no Dagster)
#   dashboard: LOCK=requirements-dashboard.lock   (the monitoring dashboard: no Java, no Spark, no Dagster)
# Build from the repository root after docker/wheelhouse.sh and the project's wheel (make images does all three):
#   docker build -f docker/app.Dockerfile --build-arg LOCK=requirements-api.lock -t taxi-fare-api .
# The wheels were checked against the lock's hashes on the host; here pip installs exactly the lock's versions from
# that folder alone (--no-index: no package index is reached from inside a build).
ARG BASE=taxi-fare-base:bookworm

FROM ${BASE} AS build
ARG LOCK
COPY build/wheelhouse /wheels
COPY ${LOCK} /src/lock.txt
RUN python3 -m venv /opt/venv \
    && sed -e '/^ *--hash=/d' -e 's/ *\\$//' -e '/^#/d' /src/lock.txt > /src/pins.txt \
    && /opt/venv/bin/pip install --quiet --no-index --find-links /wheels --no-cache-dir --no-deps -r /src/pins.txt \
    && /opt/venv/bin/pip check \
    && find /opt/venv -name __pycache__ -prune -exec rm -rf {} +
# the project itself, as the wheel docker/up.sh builds from this checkout (its layer alone changes with the code)
COPY build/project/*.whl /src/project/
RUN /opt/venv/bin/pip install --quiet --no-index --no-deps --no-cache-dir /src/project/*.whl

FROM ${BASE}
ARG APT_PACKAGES=""
ARG ROLE=webserver
ARG COMMIT=unknown
RUN if [ -n "$APT_PACKAGES" ]; then \
      mkdir -p /usr/share/man/man1 \
      && apt-get update -qq && apt-get install -y -qq --no-install-recommends $APT_PACKAGES >/dev/null \
      && rm -rf /var/lib/apt/lists/* /var/cache/apt/*; \
    fi
COPY --from=build /opt/venv /opt/venv
COPY --chown=10001:10001 docker/dagster.yaml docker/workspace.yaml /opt/dagster/home/
COPY docker/entrypoint.sh /usr/local/bin/entrypoint.sh
COPY docker/deploy_secrets.py /usr/local/bin/taxi-secrets
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONHASHSEED=0 \
    DAGSTER_HOME=/opt/dagster/home \
    TAXI_HOME=/data \
    TAXI_ROLE=${ROLE} \
    TAXI_CODE_COMMIT=${COMMIT} \
    PYSPARK_PYTHON=/opt/venv/bin/python \
    SPARK_LOCAL_IP=127.0.0.1 \
    MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false \
    GIT_PYTHON_REFRESH=quiet
USER 10001:10001
WORKDIR /home/taxi
ENTRYPOINT ["tini", "--", "entrypoint.sh"]
