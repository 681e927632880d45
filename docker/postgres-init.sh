#!/bin/sh
# Run once by the postgres image on an empty data directory (/docker-entrypoint-initdb.d): the roles
# the services use instead of the superuser. `callcenter` owns the database (the middleware and its
# migrations); `asterisk_cdr` may only insert Asterisk's own CDR rows (granted by migration 0013).
set -eu
callcenter_pw=$(cat /run/secrets/callcenter_db_password)
cdr_pw=$(cat /run/secrets/asterisk_cdr_password)
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v callcenter_pw="$callcenter_pw" -v cdr_pw="$cdr_pw" <<'SQL'
CREATE ROLE callcenter LOGIN PASSWORD :'callcenter_pw';
CREATE ROLE asterisk_cdr LOGIN PASSWORD :'cdr_pw';
ALTER DATABASE callcenter OWNER TO callcenter;
ALTER SCHEMA public OWNER TO callcenter;
REVOKE ALL ON DATABASE callcenter FROM PUBLIC;
GRANT CONNECT ON DATABASE callcenter TO callcenter, asterisk_cdr;
SQL
