#!/bin/sh
# Creates the user and database of this run before the server serves a client: the statements go
# to mariadbd's --init-file, which it runs after opening its port and before accepting on it. The
# file is a pipe, so the password is never written to disk. Without a password it refuses to start,
# as the official image does.
set -e
if [ -z "$MARIADB_PASSWORD" ]; then
  echo "cascade-mariadb: MARIADB_PASSWORD is not set; refusing to start a database anyone may log in to" >&2
  exit 1
fi
user=${MARIADB_USER:-cascade}
db=${MARIADB_DATABASE:-cascade}
for v in "$MARIADB_PASSWORD" "$user" "$db"; do
  case "$v" in *"'"* | *'\'* | *'`'*) echo "cascade-mariadb: user, database and password may not contain quotes or backslashes" >&2; exit 1;; esac
done
# /run is empty in a new container (tmpfs on some hosts): the socket and pid file live there.
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
if [ "$1" = "mariadbd" ] || [ "$1" = "mysqld" ]; then
  init=/run/mysqld/init.sql
  rm -f "$init" && mkfifo -m 600 "$init" && chown mysql:mysql "$init"
  # Written when mariadbd opens the pipe; the writer is gone once it has read it.
  cat >"$init" <<SQL &
CREATE DATABASE IF NOT EXISTS \`$db\`;
CREATE USER IF NOT EXISTS '$user'@'%' IDENTIFIED BY '$MARIADB_PASSWORD';
ALTER USER '$user'@'%' IDENTIFIED BY '$MARIADB_PASSWORD';
GRANT ALL ON \`$db\`.* TO '$user'@'%';
SQL
  shift
  exec mariadbd --user=mysql --init-file="$init" "$@"
fi
exec "$@"
