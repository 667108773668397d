#!/bin/sh
# Installs MediaWiki with its own installer against the database the scenario links, points its
# object caches at memcached, imports a few pages, then runs Apache (mod_php) in the foreground.
#
# Addresses come from the harness's link variables (<DEP>_ADDR=host:port, the Toxiproxy address
# when the link is proxied), with the scenario's plain service names as the fallback:
#   database  MW_DB_ADDR, else DB_ADDR, else db:5432 (mysql: db:3306)
#   memcached MW_MEMCACHED_ADDR, else MEMCACHED_ADDR, else CACHE_ADDR, else memcached:11211
# MW_DBTYPE      postgres (default) or mysql
# MW_DB_USER, MW_DB_NAME   both "cascade" by default, as the harness's Postgres makes them
# password       PGPASSWORD (the harness gives it to services linked to its Postgres), else
#                MYSQL_PWD, else MW_DB_PASSWORD
# MW_MEMCACHED_PERSISTENT  1: keep memcached connections across requests (default 0: MediaWiki's
#                own client then opens new ones on every view — connection churn, as in seed 000)
# MW_WORKERS     Apache prefork workers, all forked at start (default 20; Debian allows up to 150)
#
# One installer per database: run one replica of this image per database (or its installers race
# on the same tables). A restarted container (same writable layer) finds its LocalSettings.php and
# skips the installation.
set -eu

log() { echo "cascade-mediawiki: $*" >&2; }
MW=/usr/share/mediawiki
SETTINGS=/etc/mediawiki/LocalSettings.php
DBTYPE=${MW_DBTYPE:-postgres}
case "$DBTYPE" in
  postgres) defport=5432 ;;
  mysql) defport=3306 ;;
  *) log "MW_DBTYPE must be postgres or mysql, not $DBTYPE"; exit 2 ;;
esac
db_addr=${MW_DB_ADDR:-${DB_ADDR:-db:$defport}}
db_host=${db_addr%:*}
db_port=${db_addr##*:}
[ "$db_port" = "$db_addr" ] && db_port=$defport
mc_addr=${MW_MEMCACHED_ADDR:-${MEMCACHED_ADDR:-${CACHE_ADDR:-memcached:11211}}}
db_user=${MW_DB_USER:-cascade}
db_name=${MW_DB_NAME:-cascade}
db_pass=${PGPASSWORD:-${MYSQL_PWD:-${MW_DB_PASSWORD:-}}}
[ -n "$db_pass" ] || { log "no database password (PGPASSWORD, MYSQL_PWD or MW_DB_PASSWORD)"; exit 2; }
case "${MW_MEMCACHED_PERSISTENT:-0}" in 1 | true) persistent=true ;; *) persistent=false ;; esac
workers=${MW_WORKERS:-20}

# The values reach PHP through this file: Apache clears the environment of its workers.
export CMW_DBTYPE="$DBTYPE" CMW_HOST="$db_host" CMW_PORT="$db_port" CMW_USER="$db_user" CMW_NAME="$db_name" CMW_PASS="$db_pass"

if [ ! -e "$SETTINGS" ]; then
  t0=$(date +%s.%N)
  # The dependencies are up when the harness starts us, but a proxied link answers before the
  # database does; wait (60 s at most) until a login works.
  php -r '
    $t = getenv("CMW_DBTYPE") === "postgres" ? "pgsql" : "mysql";
    $dsn = "$t:host=" . getenv("CMW_HOST") . ";port=" . getenv("CMW_PORT") . ";dbname=" . getenv("CMW_NAME");
    for ($i = 0; $i < 120; $i++) {
      try { new PDO($dsn, getenv("CMW_USER"), getenv("CMW_PASS")); exit(0); }
      catch (PDOException $e) { $err = $e->getMessage(); usleep(500000); }
    }
    fwrite(STDERR, "database not reachable: $err\n"); exit(1);'
  admin_pass=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20)
  # MediaWiki's own installer: creates the tables, the admin user and the Main Page, and writes
  # LocalSettings.php (with $wgMainCacheType = CACHE_NONE: the cache settings come after it).
  php "$MW/maintenance/install.php" --dbtype "$DBTYPE" --dbserver "$db_host" --dbport "$db_port" \
    --dbname "$db_name" --dbuser "$db_user" --dbpass "$db_pass" \
    --installdbuser "$db_user" --installdbpass "$db_pass" \
    --server "http://${MW_SERVER_NAME:-localhost}" --scriptpath "" --lang en \
    --pass "$admin_pass" --confpath "$(dirname "$SETTINGS")" "Cascade Wiki" Admin >/tmp/install.log 2>&1 \
    || { cat /tmp/install.log >&2; exit 1; }
  t1=$(date +%s.%N)
  cat >>"$SETTINGS" <<EOF

## Appended by cascade-mediawiki, after the installer's own settings (which set CACHE_NONE).
\$wgMainCacheType = CACHE_MEMCACHED;
\$wgParserCacheType = CACHE_MEMCACHED;
\$wgMessageCacheType = CACHE_MEMCACHED;
\$wgSessionCacheType = CACHE_MEMCACHED;
\$wgMemCachedServers = [ '$mc_addr' ];
\$wgMemCachedPersistent = $persistent;
# Localisation from files in the container, not from the database's l10n_cache table: a view
# then reads the database for pages, not for interface messages.
\$wgCacheDirectory = '/var/cache/mediawiki';
\$wgLocalisationCacheConf['store'] = 'files';
# Jobs run here at start, never during a page view (a view would otherwise run one now and then).
\$wgJobRunRate = 0;
EOF
  mkdir -p /var/cache/mediawiki && chown www-data:www-data /var/cache/mediawiki
  # A few pages, so a view reads page, revision and text rows (and, warm, the parser cache).
  php "$MW/maintenance/importTextFiles.php" --overwrite --bot -s "Cascade test pages" \
    /usr/local/share/cascade-wiki/pages/* >/tmp/import.log 2>&1 || { cat /tmp/import.log >&2; exit 1; }
  php "$MW/maintenance/runJobs.php" >/dev/null 2>&1 || log "runJobs failed (views will still work)"
  chown -R www-data:www-data /var/cache/mediawiki
  t2=$(date +%s.%N)
  log "installed on $DBTYPE at $db_host:$db_port in $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s;" \
    "pages imported in $(awk "BEGIN { printf \"%.1f\", $t2 - $t1 }") s; memcached at $mc_addr (persistent: $persistent)"
else
  log "$SETTINGS exists: installed before, starting Apache"
fi

# Every worker forked at start and kept: a prefork Apache that forks children as load rises looks,
# from its cgroup, like processes restarting (the analysis read 3-15 "processes started" as restarts).
cat >/etc/apache2/mods-available/mpm_prefork.conf <<EOF
<IfModule mpm_prefork_module>
  ServerLimit $workers
  StartServers $workers
  MinSpareServers $workers
  MaxSpareServers $((workers + 1))
  MaxRequestWorkers $workers
  MaxConnectionsPerChild 0
</IfModule>
EOF
set +u # Debian's envvars reads variables that may be unset
. /etc/apache2/envvars
mkdir -p "$APACHE_RUN_DIR" "$APACHE_LOCK_DIR" "$APACHE_LOG_DIR"
exec /usr/sbin/apache2 -DFOREGROUND
