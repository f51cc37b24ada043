#!/usr/bin/env bash
# Installs and starts what the test suite needs, as `.ci/run` calls it (also fine by hand):
# the servers on loopback (Redis, RabbitMQ, PostgreSQL, MariaDB), Graphviz (`--render-dot`),
# and the Python interop virtualenv. Each server is checked first and only started (or
# installed with apt-get) when it is not there. Fails when one cannot be brought up.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

up() { (echo > "/dev/tcp/127.0.0.1/$1") >/dev/null 2>&1; }

APT_UPDATED=""
apt_install() {
  if [ -z "$APT_UPDATED" ]; then
    $SUDO apt-get update -q
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "$@"
}

wait_up() { # name port seconds
  local i
  for i in $(seq 1 "$3"); do
    if up "$2"; then echo "== $1 is up on port $2"; return 0; fi
    sleep 1
  done
  echo "!! $1 did not come up on port $2 within $3 s" >&2
  return 1
}

# Redis (also used in sentinel mode by the redissentinel tests: redis-server --sentinel; the
# fault tests start private servers and use redis-cli).
command -v redis-server >/dev/null || apt_install redis-server
command -v redis-cli >/dev/null || apt_install redis-tools
if ! up 6379; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  wait_up Redis 6379 30
else
  echo "== Redis is up"
fi

# RabbitMQ.
if ! up 5672; then
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  $SUDO rabbitmq-server -detached || true
  wait_up RabbitMQ 5672 120
else
  echo "== RabbitMQ is up"
fi

# PostgreSQL (trust auth on loopback, database `test`).
if ! up 5432; then
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  wait_up PostgreSQL 5432 60
else
  echo "== PostgreSQL is up"
fi
if command -v psql >/dev/null; then
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" postgres | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" postgres
fi

# MariaDB (root without password, database `test`).
if ! up 3306; then
  command -v mariadbd >/dev/null || apt_install mariadb-server
  $SUDO start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  wait_up MariaDB 3306 60
else
  echo "== MariaDB is up"
fi
if command -v mysql >/dev/null; then
  mysql -h 127.0.0.1 -u root -e "CREATE DATABASE IF NOT EXISTS test"
fi

# Graphviz (`trace show --render-dot`) and Chromium (the `--html` page is tested in a real,
# headless browser).
command -v dot >/dev/null || apt_install graphviz
# curl: the three-services test sends its request as the README shows, with curl.
command -v curl >/dev/null || apt_install curl
command -v chromium >/dev/null || apt_install chromium
# playwright-core, which drives that Chromium in the web UI's browser tests
# (crates/osprofiler-cli/tests/ui_browser.rs), pinned by crates/osprofiler-ui/e2e/package-lock.json.
npm ci --prefix "$ROOT/crates/osprofiler-ui/e2e" --no-audit --no-fund --loglevel=error

# Python OSprofiler 4.4.0 and friends, for the interop tests.
"$ROOT/scripts/python-venv.sh"
