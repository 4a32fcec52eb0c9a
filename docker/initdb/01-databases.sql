-- One server, one database per store: Dagster's instance, MLflow's tracking and registry, the platform's tables.
CREATE DATABASE dagster;
CREATE DATABASE mlflow;
