#!/bin/sh
# One entry point for the three Python images; the compose services pick a role by the first argument
# (the image's default: TAXI_ROLE). Every role first refuses a missing or placeholder secret, by name.
set -eu
# services log JSON lines (TAXI_LOG_FORMAT=text for readable ones), Dagster's processes as well
case "${TAXI_LOG_FORMAT:-json}" in text) dagster_log=colored ;; *) dagster_log=json ;; esac
role="${1:-$TAXI_ROLE}"
[ "$#" -gt 0 ] && shift
# the secrets each role reads (docker/deploy_secrets.py: empty, a placeholder or shorter than 16 characters is refused)
case "$role" in
  code|first-training|migrate|spark-connect)
    taxi-secrets check PLATFORM_DB_PASSWORD DAGSTER_DB_PASSWORD MLFLOW_PLATFORM_PASSWORD ;;
  webserver|daemon) taxi-secrets check DAGSTER_DB_PASSWORD ;;
  mlflow) taxi-secrets check MLFLOW_DB_PASSWORD MLFLOW_PLATFORM_PASSWORD MLFLOW_READER_PASSWORD MLFLOW_FLASK_SERVER_SECRET_KEY ;;
  api) taxi-secrets check API_DB_PASSWORD MLFLOW_READER_PASSWORD TAXI_API_KEYS ;;
  dashboard) taxi-secrets check DASHBOARD_DB_PASSWORD MLFLOW_READER_PASSWORD TAXI_DASHBOARD_KEYS ;;
esac
case "$role" in
  code)
    exec dagster api grpc --host 0.0.0.0 --port 4000 --module-name taxi_assets.definitions --attribute defs \
      --log-format "$dagster_log" "$@" ;;
  webserver)
    # behind the proxy at /dagster (the proxy asks for the operators' credentials)
    exec dagster-webserver --host 0.0.0.0 --port 3000 --path-prefix /dagster \
      --workspace /opt/dagster/home/workspace.yaml --log-format "$dagster_log" "$@" ;;
  daemon)
    exec dagster-daemon run --workspace /opt/dagster/home/workspace.yaml --log-format "$dagster_log" "$@" ;;
  mlflow)
    # basic-auth app: the platform's account (an MLflow admin) registers models and moves aliases; the reader
    # account (API, dashboard, operators through the proxy) only reads. Both passwords are set from the
    # environment at every start, so rotating one is: change it in docker/.env, then `make up`.
    python -m taxi_tools.deploy mlflow-users
    exec mlflow server --app-name basic-auth --host 0.0.0.0 --port 5000 --static-prefix /mlflow --workers 2 \
      --backend-store-uri "$MLFLOW_BACKEND_STORE_URI" \
      --serve-artifacts --artifacts-destination /data/mlflow-artifacts "$@" ;;
  migrate)
    # the platform database to the newest schema, then each component's grants (taxi_tools/deploy.py)
    exec python -m taxi_tools.deploy migrate "$@" ;;
  spark-connect)
    # a Spark Connect server (compose profile "spark"); the steps reach it through TAXI_SPARK_REMOTE
    exec spark-submit --class org.apache.spark.sql.connect.service.SparkConnectServer \
      --master "${SPARK_CONNECT_MASTER:-local[*]}" --driver-memory "${SPARK_CONNECT_DRIVER_MEMORY:-2g}" \
      --conf spark.connect.grpc.binding.address=0.0.0.0 --conf spark.connect.grpc.binding.port=15002 \
      --conf spark.ui.enabled=false "$@" ;;
  first-training)
    # the first champion (once: nothing when the service has one), through the runs `make demo SERVE=no` makes;
    # with a Spark Connect server, once it listens
    [ -z "${TAXI_SPARK_REMOTE:-}" ] || python -m taxi_tools.deploy wait-for "$TAXI_SPARK_REMOTE"
    exec python -m taxi_tools.cli demo --serve no --unless-champion "$@" ;;
  api)
    exec python -m taxi_serving --host 0.0.0.0 --port 8000 "$@" ;;
  dashboard)
    exec python -m taxi_dashboard "$@" ;;
  *)
    exec "$role" "$@" ;;
esac
