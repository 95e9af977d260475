#!/usr/bin/env bash
# The SCIM benchmark (issue 6 §8): koppel on SQLite and on PostgreSQL, and the peers, in one run on this machine.
#
#   bench/scim/run.sh                      # N=2000 users, G=20 groups, C=8, peers below
#   N=10000 PEERS="scim2_server_asgi" bench/scim/run.sh
#
# koppel runs under uvicorn (one process, uvloop + httptools) pinned to CPU 1, the harness
# (../shared/bench/scim_load.py, raw client) on CPU 0, with --server-pid so the server's CPU
# milliseconds per request are measured; on PostgreSQL the postmaster and its backends count as server
# CPU too. PostgreSQL is the shared throwaway cluster (peers/run_postgres.sh) on port 5433.
# Results: bench/scim/results/*-$TAG.json and a table from the shared summarize.py.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=${SHARED_BENCH:-$(cd "$HERE/../../../shared/bench" 2>/dev/null && pwd || echo /work/shared/bench)}
N=${N:-2000}; G=${G:-20}; C=${C:-8}
TAG=${TAG:-$(date +%Y%m%d-%H%M%S)}
PEERS=${PEERS:-"scim2_server_asgi django_scim2 django_scim2_pg"}
KOPPEL_DBS=${KOPPEL_DBS:-"sqlite postgresql"}
PGPORT=${PGPORT:-5433}
HARNESS_VENV=${HARNESS_VENV:-/tmp/scimbench/venv-harness}
RESULTS=$HERE/results
mkdir -p "$RESULTS" /tmp/scimbench/logs
if [ ! -x "$HARNESS_VENV/bin/python" ] || ! "$HARNESS_VENV/bin/python" -c 'import httpx' 2>/dev/null; then
  python3.11 -m venv "$HARNESS_VENV" && "$HARNESS_VENV/bin/pip" install -q 'httpx==0.28.1'
fi

wait_port() { for _ in $(seq 1 240); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.5; done; return 1; }

PG=""; PGPID=""
start_pg() {
  [ -n "$PG" ] && return 0
  PGPORT=$PGPORT bash "$SHARED/peers/run_postgres.sh" >/tmp/scimbench/logs/postgres.log 2>&1 &
  PG=$!
  wait_port "$PGPORT"; sleep 1
  PGPID=$(head -1 /tmp/scimbench/pgdata/postmaster.pid)
}
stop_pg() { [ -n "$PGPID" ] && kill -INT "$PGPID" 2>/dev/null; [ -n "$PG" ] && wait "$PG" 2>/dev/null; PG=""; PGPID=""; }
trap stop_pg EXIT

run_koppel() {  # sqlite | postgresql
  local db=$1 pids
  [ "$db" = postgresql ] && start_pg
  PORT=8120 KOPPEL_DB=$db PG_URL="postgresql://postgres@127.0.0.1:$PGPORT/koppel_bench" \
    bash "$HERE/run_koppel.sh" >/tmp/scimbench/logs/koppel-$db.log 2>&1 &
  local spid=$!
  wait_port 8120 || { echo "koppel ($db) did not start; see /tmp/scimbench/logs/koppel-$db.log" >&2; return 1; }
  sleep 1
  pids=$spid${PGPID:+,$PGPID}
  [ "$db" = sqlite ] && pids=$spid
  echo "=== koppel ($db) pid $spid" >&2
  taskset -c 0 "$HARNESS_VENV/bin/python" "$SHARED/scim_load.py" http://127.0.0.1:8120/scim/v2/bench \
    --token bench-token --label "koppel-$db" --server-pid "$pids" --users "$N" --groups "$G" --concurrency "$C" \
    --json-out "$RESULTS/koppel_$db-$TAG.json" >/dev/null 2> >(grep -E '^\[|errors by|sample|checks' >&2)
  kill "$spid"; wait "$spid" 2>/dev/null || true
}

for db in $KOPPEL_DBS; do run_koppel "$db"; done
for peer in $PEERS; do
  case "$peer" in *_pg) start_pg; export SCIM_PG_PORT=$PGPORT PGDATA=/tmp/scimbench/pgdata ;; esac
  echo "=== $peer" >&2
  (cd "$SHARED" && TAG=$TAG ./bench_peer.sh "$peer" --users "$N" --groups "$G" --concurrency "$C" >/dev/null \
     2> >(grep -E '^\[|errors by|died' >&2)) || echo "   ($peer failed)" >&2
  cp "$SHARED/results/$peer-$TAG.json" "$RESULTS/" 2>/dev/null || true
  sleep 2
done
stop_pg
python3 "$SHARED/summarize.py" "$RESULTS"/*-"$TAG".json
