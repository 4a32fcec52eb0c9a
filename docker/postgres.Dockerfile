# PostgreSQL 15 from Debian's package on the project's base image (no registry image): docker/postgres/start.sh
# makes the cluster at the first start and applies roles.sql at every start. Runs as the postgres user.
# Build with docker/ as the context: docker build -f docker/postgres.Dockerfile -t taxi-fare-postgres docker
ARG BASE=taxi-fare-base:bookworm
FROM ${BASE}
RUN mkdir -p /etc/postgresql-common \
    && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf \
    && apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends postgresql-15 postgresql-client-15 >/dev/null \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* \
    && install -d -o postgres -g postgres -m 700 /var/lib/postgresql/data
COPY postgres/roles.sql /usr/local/share/taxi/roles.sql
COPY postgres/start.sh /usr/local/bin/start-postgres
COPY deploy_secrets.py /usr/local/bin/taxi-secrets
ENV PATH=/usr/lib/postgresql/15/bin:$PATH
USER postgres
WORKDIR /var/lib/postgresql
EXPOSE 5432
ENTRYPOINT ["tini", "--", "start-postgres"]
