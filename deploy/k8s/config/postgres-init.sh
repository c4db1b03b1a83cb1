#!/bin/sh
# Run once by the official postgres image when it creates the cluster (/docker-entrypoint-initdb.d/), for
# deploy/compose.yml and deploy/k8s: what ops/infra/postgres.py bootstrap() does for `make up PROFILE=prod`.
# The `careline` role logs in with CARELINE_PG_PASSWORD and is no superuser; it owns the shop database
# (careline) and the conversations (careline_tracker). The superuser `postgres` keeps POSTGRES_PASSWORD,
# which no Careline process gets. The password is read from the environment by psql (\getenv), never
# written on a command line.
set -eu
if [ "${#CARELINE_PG_PASSWORD}" -lt 16 ]; then
    echo "postgres-init: CARELINE_PG_PASSWORD must be set to 16 or more characters" >&2
    exit 1
fi
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres <<'SQL'
\getenv careline_password CARELINE_PG_PASSWORD
CREATE ROLE careline WITH LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB PASSWORD :'careline_password';
CREATE DATABASE careline OWNER careline ENCODING 'UTF8';
CREATE DATABASE careline_tracker OWNER careline ENCODING 'UTF8';
SQL
echo "postgres-init: created role careline and databases careline, careline_tracker"
