#!/bin/sh
# Sets the cascade role's password from POSTGRES_PASSWORD (single-user mode: nothing listens yet),
# then runs the server. Without a password it refuses to start, as the official image does.
set -e
if [ -z "$POSTGRES_PASSWORD" ]; then
  echo "cascade-postgres: POSTGRES_PASSWORD is not set; refusing to start a database anyone may log in to" >&2
  exit 1
fi
case "$POSTGRES_PASSWORD" in *"'"*) echo "cascade-postgres: POSTGRES_PASSWORD may not contain a quote" >&2; exit 1;; esac
echo "ALTER ROLE cascade PASSWORD '$POSTGRES_PASSWORD';" | postgres --single -D "$PGDATA" -j cascade >/dev/null
exec "$@"
