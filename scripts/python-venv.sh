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
PACKAGES=(
  "osprofiler==4.4.0"
  "redis>=4,<6"
  "oslo.messaging"
  "oslo.config"
  "SQLAlchemy<2"
  "psycopg2-binary"
  "PyMySQL"
  "prettytable"
  "WebOb"
  "requests"
  "graphviz"
  "opentelemetry-sdk==1.45.2"
  "opentelemetry-exporter-otlp-proto-http==1.45.2"
)
if [ ! -x "$VENV/bin/python" ]; then
  echo "== making the Python interop virtualenv in $VENV"
  python3 -m venv "$VENV"
fi
if "$VENV/bin/python" - <<'PY' 2>/dev/null
import importlib.metadata as m, sys
import osprofiler, redis, oslo_messaging, sqlalchemy, psycopg2, pymysql, webob, requests
import graphviz, opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http.trace_exporter
sys.exit(0 if m.version("osprofiler") == "4.4.0" and sqlalchemy.__version__ < "2"
         and m.version("opentelemetry-sdk") == "1.45.2" else 1)
PY
then
  echo "== Python interop virtualenv ready ($VENV)"
  exit 0
fi
echo "== installing ${PACKAGES[*]}"
"$VENV/bin/pip" install -q --disable-pip-version-check "${PACKAGES[@]}"
"$VENV/bin/python" -c "import osprofiler, oslo_messaging, sqlalchemy; print('osprofiler', osprofiler.__version__ if hasattr(osprofiler, '__version__') else '4.4.0', 'sqlalchemy', sqlalchemy.__version__)"
