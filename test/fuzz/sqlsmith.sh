#!/usr/bin/env bash
# sqlsmith (Debian's package) against a populated modelflags database:
#   bash test/fuzz/sqlsmith.sh [SECONDS]     default 60; e.g. 1800 for a long run
# Environment: SEED=n replays a run (printed as "seed n"); FUZZ_PRIVATE=1
# builds this checkout and runs it from a private copy of PostgreSQL (no
# install lock needed; see pgserver.sh), otherwise the extension installed
# system-wide is used.
#
# sqlsmith generates random queries over whatever the catalog holds; left to
# itself it would pick modelflags' functions among ~3,000 of pg_catalog's and
# hardly ever call them.  It reads routines from an unqualified pg_proc, so
# its role runs with search_path = smith_shadow, pg_catalog, in which a view
# smith_shadow.pg_proc shows every modelflags function but only pg_catalog's
# plain scalar functions and aggregates over text, booleans, numbers and
# jsonb; --exclude-catalog keeps it on the modelflags tables.  It runs as a
# role with the ops grants of README "Privileges" (not a superuser), each
# query in a transaction it rolls back, with its own 1 s statement_timeout.
#
# Fails (exit 1, FAIL: lines) on a backend crash or an internal error (XX000)
# from modelflags code in the server log (test/fuzz/checklog.py), or when no
# generated query called a modelflags function.  On failure the server log
# and the generated queries are kept in test/fuzz/out/sqlsmith-<time>/.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
top=$(pwd)
py=${PYTHON:-/usr/bin/python3}
seconds=${1:-60}
seed=${SEED:-$(( (RANDOM << 15 | RANDOM) + 1 ))}
. test/fuzz/pgserver.sh
if [ "${FUZZ_PRIVATE:-0}" = 1 ]; then
    fz_private_install || { echo "FAIL: sqlsmith: private build and install failed"; exit 1; }
fi
command -v sqlsmith >/dev/null || { echo "FAIL: sqlsmith: not installed (test/install-deps.sh installs it)"; exit 1; }
out=$top/test/fuzz/out/sqlsmith-$(date +%Y%m%d-%H%M%S)
fz_start sqlsmith "${FUZZ_PORT:-54472}" || exit 1
if ! fz_psql -d postgres -c 'CREATE DATABASE smith' ||
   ! "$py" test/fuzz/sql_fuzz.py --host "$FZ_HOST" --port "$FZ_PORT" --db smith --populate; then
    echo "FAIL: sqlsmith: could not create and populate the database (is the extension installed?)"
    exit 1
fi
if ! fz_psql -d smith >"$FZ_DIR/shadow.log" 2>&1 <<'EOF_SQL'
CREATE ROLE fuzz_smith LOGIN IN ROLE fuzz_ops;
CREATE SCHEMA smith_shadow;
CREATE VIEW smith_shadow.pg_proc AS
SELECT p.*
  FROM pg_catalog.pg_proc p
 WHERE p.pronamespace = 'modelflags'::regnamespace
    OR (p.pronamespace = 'pg_catalog'::regnamespace
        AND p.prokind IN ('f', 'a')
        AND p.proname !~ '^(pg_|lo_|txid|binary_upgrade|set_config|current_setting|nextval|setval|currval)'
        AND p.proname NOT IN ('repeat', 'lpad', 'rpad', 'overlay', 'string_agg', 'array_agg', 'json_agg',
                              'jsonb_agg', 'xmlagg')
        AND p.prorettype = ANY ('{text,boolean,integer,bigint,numeric,double precision,jsonb}'::regtype[]::oid[])
        AND p.proargtypes::oid[] <@ '{text,boolean,integer,bigint,numeric,double precision,jsonb}'::regtype[]::oid[]);
GRANT USAGE ON SCHEMA smith_shadow TO fuzz_smith;
GRANT SELECT ON smith_shadow.pg_proc TO fuzz_smith;
ALTER ROLE fuzz_smith SET search_path = smith_shadow, pg_catalog, public;
SELECT 'shadow routines: ' || count(*) FILTER (WHERE pronamespace = 'modelflags'::regnamespace)
       || ' of modelflags, ' || count(*) || ' in all' FROM smith_shadow.pg_proc;
EOF_SQL
then
    cat "$FZ_DIR/shadow.log"
    echo "FAIL: sqlsmith: could not set up its role and routine list"
    exit 1
fi
cat "$FZ_DIR/shadow.log"
funcs=$(fz_psql -d smith -c "SELECT string_agg(DISTINCT proname, ',') FROM pg_proc
                              WHERE pronamespace = 'modelflags'::regnamespace")

echo "sqlsmith for $seconds s, seed $seed (replay: SEED=$seed)"
# SIGINT makes sqlsmith print its final report (queries, error histogram).
timeout -s INT -k 10 "$seconds" sqlsmith --target="host=$FZ_HOST port=$FZ_PORT dbname=smith user=fuzz_smith" \
    --exclude-catalog --seed="$seed" --verbose --dump-all-queries >"$FZ_DIR/queries.sql" 2>"$FZ_DIR/sqlsmith.err"
src=$?
queries=$(grep -a '^queries: ' "$FZ_DIR/sqlsmith.err" | tail -1 | awk '{print $2}')
# Each generated query ends with ";" on a line of its own making; count those
# that call a modelflags function, by function.
"$py" - "$FZ_DIR/queries.sql" "$funcs" >"$FZ_DIR/calls.txt" <<'EOF_PY'
import collections, re, sys
text = open(sys.argv[1], encoding='utf-8', errors='replace').read()
funcs = sys.argv[2].split(',')
stmts = [s for s in re.split(r';\n', text) if s.strip()]
call = re.compile(r'modelflags\.(' + '|'.join(map(re.escape, funcs)) + r')\s*\(')
per = collections.Counter()
hit = 0
for s in stmts:
    found = set(call.findall(s))
    hit += bool(found)
    per.update(found)
print(len(stmts), hit, ', '.join('%s %d' % kv for kv in per.most_common()))
EOF_PY
read -r generated with_calls per_func <"$FZ_DIR/calls.txt"
echo "sqlsmith: ${queries:-?} queries run (exit $src), $generated generated; $with_calls call a modelflags function: ${per_func:-none}"
grep -a -A25 '^queries: ' "$FZ_DIR/sqlsmith.err" | tail -26 | sed 's/^/  /'

failed=0
if [ "${with_calls:-0}" -gt 0 ]; then
    echo "PASS: sqlsmith: generated queries reach modelflags functions ($with_calls of $generated)"
else
    tail -20 "$FZ_DIR/sqlsmith.err"
    echo "FAIL: sqlsmith: no generated query called a modelflags function"
    failed=1
fi
"$py" test/fuzz/checklog.py "$FZ_LOG" --src src --functions "$funcs" --label sqlsmith || failed=1
if [ "$failed" -ne 0 ]; then
    mkdir -p "$out" && cp "$FZ_DIR/queries.sql" "$FZ_DIR/sqlsmith.err" "$out/" 2>/dev/null
    fz_keep "$out"
    echo "server log and generated queries kept in $out"
fi
exit "$failed"
