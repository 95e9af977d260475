#!/usr/bin/env bash
# Start koppel for the SCIM benchmark on 127.0.0.1:$PORT, database recreated, pinned to CPU ${PIN_CPU-1}.
#   PORT (8120)  SCIM_TOKEN (bench-token)  KOPPEL_DB (sqlite | postgresql)  PG_URL (for postgresql)
# Runs in the foreground (uvicorn, one process, uvloop + httptools); stop it by its PID.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=${KOPPEL_PYTHON:-$ROOT/.venv/bin/python}
PORT=${PORT:-8120}
DATA=${KOPPEL_BENCH_DIR:-/tmp/scimbench/koppel}
rm -rf "$DATA"; mkdir -p "$DATA"
if [ "${KOPPEL_DB:-sqlite}" = postgresql ]; then
  URL=${PG_URL:-postgresql://postgres@127.0.0.1:5433/koppel_bench}
else
  URL="sqlite:///$DATA/koppel.db"
fi
"$PY" "$HERE/setup_koppel.py" "$URL" "${SCIM_TOKEN:-bench-token}"
export KOPPEL_DATA_DIR=$DATA KOPPEL_DATABASE_URL=$URL KOPPEL_BASE_URL="http://127.0.0.1:$PORT" \
  KOPPEL_SECRET_KEY=bench-secret-key-not-for-production-0123456789 KOPPEL_LOG_LEVEL=WARNING
PIN=${PIN_CPU-1}
exec ${PIN:+taskset -c "$PIN"} "$PY" -c "
import gc
import uvicorn
from koppel.app import create_app
from koppel.settings import load_settings
app = create_app(load_settings())
gc.freeze()  # as koppel serve does
uvicorn.run(app, host='127.0.0.1', port=$PORT, log_level='warning', access_log=False,
            loop='uvloop', http='httptools')
"
