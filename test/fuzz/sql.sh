#!/usr/bin/env bash
# The targeted SQL fuzzer (test/fuzz/sql_fuzz.py) against a throwaway server:
#   bash test/fuzz/sql.sh [SECONDS]        default 60; e.g. 1800 for a long run
# Environment: SEED=n replays a run's statements (printed as "seed n");
# SESSIONS=n concurrent sessions (default 4); KEEP_GOING=1 does not stop at
# the first crash; FUZZ_PRIVATE=1 builds this checkout and runs it from a
# private copy of PostgreSQL (no install lock needed; see pgserver.sh),
# otherwise the extension installed system-wide is used.
#
# Fails (exit 1, FAIL: lines) on a backend crash or an internal error (XX000)
# from modelflags code in the server log (test/fuzz/checklog.py), or when a
# modelflags function has no argument generator or was never called.  On
# failure the server log and each session's last statements are kept in
# test/fuzz/out/sql-<time>/.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
top=$(pwd)
# Debian's python3, whose python3-psycopg test/install-deps.sh installs (not a pyenv one).
py=${PYTHON:-/usr/bin/python3}
seconds=${1:-60}
. test/fuzz/pgserver.sh
if [ "${FUZZ_PRIVATE:-0}" = 1 ]; then
    fz_private_install || { echo "FAIL: sql fuzz: private build and install failed"; exit 1; }
fi
out=$top/test/fuzz/out/sql-$(date +%Y%m%d-%H%M%S)
fz_start sqlfuzz "${FUZZ_PORT:-54471}" || exit 1
if ! fz_psql -d postgres -c 'CREATE DATABASE fuzz' ||
   ! "$py" test/fuzz/sql_fuzz.py --host "$FZ_HOST" --port "$FZ_PORT" --db fuzz --populate; then
    echo "FAIL: sql fuzz: could not create and populate the database (is the extension installed?)"
    exit 1
fi
funcs=$(fz_psql -d fuzz -c "SELECT string_agg(DISTINCT proname, ',') FROM pg_proc
                             WHERE pronamespace = 'modelflags'::regnamespace")

args=(--host "$FZ_HOST" --port "$FZ_PORT" --db fuzz --seconds "$seconds" --server-log "$FZ_LOG"
      --sessions "${SESSIONS:-4}" --trace-dir "$FZ_DIR/trace")
[ -n "${SEED:-}" ] && args+=(--seed "$SEED")
[ "${KEEP_GOING:-0}" = 1 ] && args+=(--keep-going)
"$py" test/fuzz/sql_fuzz.py "${args[@]}" | tee "$FZ_DIR/fuzz.out"
rc=${PIPESTATUS[0]}
"$py" test/fuzz/checklog.py "$FZ_LOG" --src src --functions "$funcs" --label "sql fuzz"
lrc=$?
if [ "$rc" -eq 0 ] && [ "$lrc" -eq 0 ]; then
    echo "PASS: sql fuzz: $(grep -o '^ran .*' "$FZ_DIR/fuzz.out"), every modelflags function called"
    exit 0
fi
mkdir -p "$out" && cp -r "$FZ_DIR/trace" "$FZ_DIR/fuzz.out" "$out/" 2>/dev/null
fz_keep "$out"
echo "server log and session traces kept in $out"
[ "$rc" -ne 0 ] && [ "$lrc" -eq 0 ] && echo "FAIL: sql fuzz: the fuzzer failed (exit $rc)"
exit 1
