#!/usr/bin/env bash
# Makes (or updates) the Python interop virtualenv, .venv-interop, used by the interop tests
# (osprofiler-testkit's `python()`): Python OSprofiler 4.4.0 and the libraries its drivers
# need. Idempotent and quick when everything is already there.
#
#   scripts/python-venv.sh            # makes ./.venv-interop
#   VENV=/path scripts/python-venv.sh # elsewhere (then set OSPROFILER_TEST_PYTHON)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv-interop}"
# Pinned (the versions the interop tests were written against): a new release cannot change
# what the tests compare with. The check below re-installs when one differs.
PACKAGES=(
  "osprofiler==4.4.0"
  "redis==5.3.1"
  "oslo.messaging==18.3.1"
  "oslo.config==10.7.0"
  "SQLAlchemy==1.4.54"
  "psycopg2-binary==2.9.13"
  "PyMySQL==1.2.4"
  "prettytable==3.19.0"
  "WebOb==1.8.11"
  "requests==2.34.2"
  "graphviz==0.21"
  "opentelemetry-sdk==1.45.2"
  "opentelemetry-exporter-otlp-proto-http==1.45.2"
)
if [ ! -x "$VENV/bin/python" ]; then
  echo "== making the Python interop virtualenv in $VENV"
  python3 -m venv "$VENV"
fi
if "$VENV/bin/python" - "${PACKAGES[@]}" <<'PY' 2>/dev/null
import importlib.metadata as m, sys
import osprofiler, redis, oslo_messaging, sqlalchemy, psycopg2, pymysql, webob, requests
import graphviz, opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http.trace_exporter
pins = [p.split("==") for p in sys.argv[1:]]
sys.exit(0 if all(m.version(name) == version for name, version in pins) else 1)
PY
then
  echo "== Python interop virtualenv ready ($VENV)"
  exit 0
fi
echo "== installing ${PACKAGES[*]}"
"$VENV/bin/pip" install -q --disable-pip-version-check "${PACKAGES[@]}"
"$VENV/bin/python" -c "import importlib.metadata as m; print('osprofiler', m.version('osprofiler'), 'sqlalchemy', m.version('SQLAlchemy'))"
