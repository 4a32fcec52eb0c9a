-- Roles, databases and passwords of the deployment's PostgreSQL, applied at every start (docker/postgres/start.sh):
-- a password changed in docker/.env takes effect at the next start. One role per component, each owning only its
-- own database; the API and the dashboard may only connect to the platform database, where the `migrate` service
-- grants them their tables (taxi_tools/deploy.py). The superuser (postgres) is for this script and for operators.
SELECT format('CREATE ROLE %I LOGIN', name)
  FROM unnest(ARRAY['platform', 'dagster', 'mlflow', 'api', 'dashboard']) AS name
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name) \gexec
ALTER ROLE postgres PASSWORD :'postgres_password';
ALTER ROLE platform LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'platform_password';
ALTER ROLE dagster LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'dagster_password';
ALTER ROLE mlflow LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'mlflow_password';
ALTER ROLE api LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'api_password';
ALTER ROLE dashboard LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'dashboard_password';
-- platform: the platform's tables; dagster: Dagster's runs and events; mlflow, mlflow_auth: tracking and registry,
-- and the MLflow server's accounts
SELECT format('CREATE DATABASE %I OWNER %I', db, owner)
  FROM (VALUES ('platform', 'platform'), ('dagster', 'dagster'), ('mlflow', 'mlflow'), ('mlflow_auth', 'mlflow'))
       AS wanted (db, owner)
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = db) \gexec
REVOKE ALL ON DATABASE platform, dagster, mlflow, mlflow_auth FROM PUBLIC;
GRANT CONNECT ON DATABASE platform TO api, dashboard;
