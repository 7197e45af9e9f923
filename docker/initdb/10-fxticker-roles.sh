#!/usr/bin/env bash
# Runs once, when the timescaledb container initialises an empty volume (docker-entrypoint-initdb.d):
# the login roles of the web tier and of Grafana, members of the SELECT-only fxticker_reader role that
# `fxticker migrate` grants to. Passwords come from the container's environment (docker-compose.yml,
# filled from .env), never from this repository. Safe to run again: existing roles get the new password.
set -euo pipefail
: "${FXTICKER_WEB_DB_PASSWORD:?}" "${FXTICKER_GRAFANA_DB_PASSWORD:?}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
    -v web_pw="$FXTICKER_WEB_DB_PASSWORD" -v grafana_pw="$FXTICKER_GRAFANA_DB_PASSWORD" \
    -v db="${POSTGRES_DB:-postgres}" <<'SQL'
SELECT 'CREATE ROLE fxticker_reader NOLOGIN'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fxticker_reader') \gexec
SELECT 'CREATE ROLE fxticker_web LOGIN IN ROLE fxticker_reader'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fxticker_web') \gexec
SELECT 'CREATE ROLE fxticker_grafana LOGIN IN ROLE fxticker_reader'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fxticker_grafana') \gexec
ALTER ROLE fxticker_web PASSWORD :'web_pw';
ALTER ROLE fxticker_grafana PASSWORD :'grafana_pw';
-- PUBLIC may create temporary tables in a new database; the reading logins write nothing, not even
-- those (the embedded cluster revokes the same, storage/cluster.py).
REVOKE TEMPORARY ON DATABASE :"db" FROM PUBLIC;
-- Grafana's queries are bounded so that a dashboard cannot hold the database.
ALTER ROLE fxticker_grafana SET statement_timeout = '30s';
SQL
