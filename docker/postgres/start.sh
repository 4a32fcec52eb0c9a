#!/bin/sh
# PostgreSQL 15 from Debian's package, as the postgres user: a cluster made at the first start (scram-sha-256 for
# every network connection), then at every start the roles, databases and passwords of roles.sql from the
# environment, on a socket-only server, before the real one listens.
set -eu
taxi-secrets check POSTGRES_PASSWORD PLATFORM_DB_PASSWORD DAGSTER_DB_PASSWORD MLFLOW_DB_PASSWORD \
  API_DB_PASSWORD DASHBOARD_DB_PASSWORD
bin=/usr/lib/postgresql/15/bin
export PGDATA=/var/lib/postgresql/data
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s' "$POSTGRES_PASSWORD" > "$pwfile"
  "$bin/initdb" --username=postgres --pwfile="$pwfile" --auth-local=peer --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  echo "postgres: cluster created in $PGDATA"
fi
"$bin/pg_ctl" -o "-c listen_addresses='' -c unix_socket_directories=/tmp" -w -l /tmp/setup.log start >/dev/null
psql -h /tmp -U postgres -d postgres -X -q -v ON_ERROR_STOP=1 \
  -v postgres_password="$POSTGRES_PASSWORD" -v platform_password="$PLATFORM_DB_PASSWORD" \
  -v dagster_password="$DAGSTER_DB_PASSWORD" -v mlflow_password="$MLFLOW_DB_PASSWORD" \
  -v api_password="$API_DB_PASSWORD" -v dashboard_password="$DASHBOARD_DB_PASSWORD" \
  -f /usr/local/share/taxi/roles.sql
"$bin/pg_ctl" -m fast -w stop >/dev/null
echo "postgres: roles and databases applied"
exec "$bin/postgres" -c listen_addresses='*' -c unix_socket_directories=/tmp -c password_encryption=scram-sha-256
