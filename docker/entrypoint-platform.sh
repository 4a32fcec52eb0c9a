#!/bin/sh
# One image, several roles: the compose services pick theirs by the first argument.
set -eu
# services log JSON lines (TAXI_LOG_FORMAT=text for readable ones), Dagster's processes as well
case "${TAXI_LOG_FORMAT:-json}" in text) dagster_log=colored ;; *) dagster_log=json ;; esac
role="${1:-webserver}"
[ "$#" -gt 0 ] && shift
case "$role" in
  code)
    exec dagster api grpc --host 0.0.0.0 --port 4000 --module-name taxi_assets.definitions --attribute defs --log-format "$dagster_log" "$@" ;;
  webserver)
    exec dagster-webserver --host 0.0.0.0 --port 3000 --workspace /opt/dagster/home/workspace.yaml \
      --log-format "$dagster_log" "$@" ;;
  daemon)
    exec dagster-daemon run --workspace /opt/dagster/home/workspace.yaml --log-format "$dagster_log" "$@" ;;
  mlflow)
    exec mlflow server --host 0.0.0.0 --port 5000 \
      --backend-store-uri "$MLFLOW_BACKEND_STORE_URI" \
      --serve-artifacts --artifacts-destination /data/mlflow-artifacts "$@" ;;
  spark-connect)
    # a Spark Connect server (compose profile "spark"); the steps reach it through TAXI_SPARK_REMOTE
    exec spark-submit --class org.apache.spark.sql.connect.service.SparkConnectServer \
      --master "${SPARK_CONNECT_MASTER:-local[*]}" \
      --conf spark.connect.grpc.binding.port=15002 "$@" ;;
  first-training)
    # the first champion, through the same runs `make demo SERVE=no` makes, recorded in the Postgres instance
    exec python -m taxi_tools.cli demo --serve no "$@" ;;
  *)
    exec "$role" "$@" ;;
esac
