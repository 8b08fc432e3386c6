#!/usr/bin/env bash
# Two `mlp-tui sweep` workers against a real PostgreSQL server, as two machines would share one.
#
# Installs PostgreSQL from the system's package manager if it is missing (and psycopg from PyPI), makes
# a throwaway cluster in a temporary folder on a loopback port, runs two workers (each its own
# `mlp-tui sweep` process, one worker each) on the same study, prints the leaderboard, and removes the
# cluster. PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user (runuser).
#
#   bash bench/sweep_postgres.sh            (TRIALS=8 STEPS=20000 PORT=55432 to change)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3)}
MLP=("$PY" -c "import sys; from tui.cli import main; sys.exit(main())")
TRIALS=${TRIALS:-8}
STEPS=${STEPS:-20000}
PORT=${PORT:-55432}

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
  echo "installing PostgreSQL (apt-get)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
BIN=${BIN:-$(dirname "$(command -v initdb)")}
"$PY" -c "import psycopg" 2>/dev/null || "$PY" -m pip install -q 'psycopg[binary]>=3.1'

DIR=$(mktemp -d /tmp/mlp-tui-pg.XXXXXX)
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$DIR"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi
cleanup() {
  as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT

as_pg "$BIN/initdb" -D "$DIR/data" -U postgres -A trust >/dev/null
as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
  -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1" start >/dev/null
as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres sweeps
echo "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT, cluster in $DIR"

URL="postgresql://postgres@127.0.0.1:$PORT/sweeps"
RUNS="$DIR/runs"
ARGS=(sweep --data names --study pg-demo --storage "$URL" --runs-dir "$RUNS" --trials "$TRIALS"
      --trial-steps "$STEPS" --workers 1 --space lr,n_hidden,n_embd,block_size --seed 1)
"${MLP[@]}" "${ARGS[@]}" > "$DIR/worker1.out" 2>&1 &
first=$!
sleep 2  # the first worker makes the study; the second joins it, as a second machine would
"${MLP[@]}" "${ARGS[@]}" > "$DIR/worker2.out" 2>&1 &
second=$!
wait "$first" "$second"
echo "--- worker 1"; cat "$DIR/worker1.out"
echo "--- worker 2"; cat "$DIR/worker2.out"
echo "--- mlp-tui sweep show pg-demo --storage $URL"
"${MLP[@]}" sweep show pg-demo --storage "$URL" --runs-dir "$RUNS"
"$PY" - "$RUNS" <<'PY'
import collections, json, pathlib, sys
pids = collections.Counter(json.loads(p.read_text())["pid"] for p in pathlib.Path(sys.argv[1]).glob("*/run.json"))
print(f"--- trials per worker process (the pid in each trial's run.json): {sorted(pids.values())}")
PY
