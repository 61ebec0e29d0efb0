#!/usr/bin/env bash
# Model health (SPEC §7 O, issue 11) with the library preloaded, on a
# throwaway cluster (shared_preload_libraries = 'modelflags'): the stage
# 20_regress.sh cannot, its server does not preload (sql/health_off.sql
# tests that case there).
#   1. pg_regress: test/health/sql/*.sql -> test/health/expected/, in the
#      order of test/health/schedule;
#   2. pg_isolation_regress: test/health/specs/*.spec (two sessions:
#      probes, settings, the shared counters);
#   3. the recorder: a listening session gets NOTIFY modelflags for a
#      transition, and the audit row carries its figures;
#   4. a restart starts healthy (windows and breakers empty, tables kept);
#   5. a crash (a backend killed with SIGKILL) loses only the health
#      windows: the tables, the audit and the settings are whole.
# Prints PASS:/FAIL: lines; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
top=$(pwd)
. test/cluster.sh

failures=0
pass() { echo "PASS: health $*"; }
fail() { echo "FAIL: health $*"; failures=$((failures + 1)); }
pgxs=$("$PGBIN/pg_config" --pkglibdir)/pgxs/src/test

port=54395
if ! cluster_start h $port "shared_preload_libraries = 'modelflags'" \
        "modelflags.health_max_entries = 40" "max_worker_processes = 8"; then
    fail "setup: the cluster with shared_preload_libraries = 'modelflags' did not start"
    exit 1
fi
work=$CLUSTER_TMP/work
mkdir -p "$work" && chmod 777 "$work"

# 1. pg_regress over the preloaded server.
out=$work/regress
mkdir -p "$out" && chmod 777 "$out"
as_pg timeout 600 "$pgxs/regress/pg_regress" --inputdir="$top/test/health" --outputdir="$out" \
    --host="$CLUSTER_TMP" --port=$port --user=postgres --dbname=health_regress \
    --schedule="$top/test/health/schedule" >"$work/regress.log" 2>&1
rc=$?
cat "$work/regress.log"
sed -n 's/^\(test\| \)*\([a-z_0-9]*\) *\.\.\. *ok.*/PASS: health regress \2/p; s/^\(test\| \)*\([a-z_0-9]*\) *\.\.\. *FAILED.*/FAIL: health regress \2/p' \
    "$work/regress.log"
failures=$((failures + $(grep -c 'FAILED' "$work/regress.log")))
[ -f "$out/regression.diffs" ] && head -n 300 "$out/regression.diffs"
# HEALTH_RESULTS=dir keeps the results (for writing expected files).
[ -n "${HEALTH_RESULTS:-}" ] && mkdir -p "$HEALTH_RESULTS" && cp -r "$out/results/." "$HEALTH_RESULTS/"
if [ $rc -ne 0 ] && ! grep -q FAILED "$work/regress.log"; then
    fail "pg_regress exited $rc"
fi

# 2. Isolation specs.
specs=$(cd test/health/specs 2>/dev/null && ls *.spec 2>/dev/null | sed 's/\.spec$//')
if [ -n "$specs" ]; then
    iout=$work/isolation
    mkdir -p "$iout" && chmod 777 "$iout"
    # shellcheck disable=SC2086
    as_pg timeout 600 "$pgxs/isolation/pg_isolation_regress" --inputdir="$top/test/health" \
        --outputdir="$iout" --host="$CLUSTER_TMP" --port=$port --user=postgres \
        --dbname=health_isolation $specs >"$work/isolation.log" 2>&1
    rc=$?
    cat "$work/isolation.log"
    sed -n 's/^\(test\| \)*\([a-z_0-9]*\) *\.\.\. *ok.*/PASS: health isolation \2/p; s/^\(test\| \)*\([a-z_0-9]*\) *\.\.\. *FAILED.*/FAIL: health isolation \2/p' \
        "$work/isolation.log"
    failures=$((failures + $(grep -c 'FAILED' "$work/isolation.log")))
    [ -f "$iout/regression.diffs" ] && head -n 200 "$iout/regression.diffs"
    [ -n "${HEALTH_RESULTS:-}" ] && cp -r "$iout/results/." "$HEALTH_RESULTS/"
    if [ $rc -ne 0 ] && ! grep -q FAILED "$work/isolation.log"; then
        fail "pg_isolation_regress exited $rc"
    fi
fi

# A database for the shell checks below.
q() { mf_psql h loop "$@"; }
mf_psql h postgres -c "CREATE DATABASE loop" >/dev/null
q >/dev/null <<'EOF'
CREATE EXTENSION modelflags;
INSERT INTO modelflags.providers (name) VALUES ('anthropic'), ('vertex_ai');
INSERT INTO modelflags.models (name, provider) VALUES ('claude', 'anthropic'), ('gemini', 'vertex_ai');
INSERT INTO modelflags.features (name) VALUES ('code_generations');
INSERT INTO modelflags.routes (feature, position, model) VALUES
    ('code_generations', 1, 'claude'), ('code_generations', 2, 'gemini');
SELECT modelflags.set_breaker('gemini', min_calls => 4);
EOF

# 3. NOTIFY and the audit row: a session listening throughout gets the
# recorder's notification for the transition another session causes.
listen_log=$work/listen.log
as_pg timeout 90 "$PGBIN/psql" -X -q -h "$CLUSTER_TMP" -p $port -U postgres -d loop >"$listen_log" 2>&1 <<'EOF' &
LISTEN modelflags;
SELECT 'listening';
DO $$
BEGIN
    FOR i IN 1 .. 600 LOOP
        PERFORM pg_sleep(0.1);
        EXIT WHEN EXISTS (SELECT 1 FROM modelflags.breaker_events WHERE model = 'claude');
    END LOOP;
END $$;
SELECT pg_sleep(0.5);
SELECT 'done';
EOF
listener=$!
for _ in $(seq 1 100); do grep -q listening "$listen_log" && break; sleep 0.1; done
q -c "SELECT modelflags.report('code_generations', 'claude', 'error', 900) FROM generate_series(1, 5)" >/dev/null
wait $listener
if grep -q 'Asynchronous notification "modelflags" with payload "{"table": "breaker_events", "operation": "INSERT", "rows": 1, .*"keys": \[{"model": "claude", "event": "open", "to_state": "open"}\]}"' "$listen_log"; then
    pass "a transition is notified: NOTIFY modelflags names breaker_events, the model and its new state"
else
    fail "no notification of the transition reached a listening session:"
    cat "$listen_log"
fi
row=$(q -c "SELECT event, from_state, to_state, reason, calls, failures, level, open_until > at FROM modelflags.breaker_events WHERE model = 'claude'")
if [ "$row" = "open|closed|open|5 consecutive failures|5|5|1|t" ]; then
    pass "the recorder's audit row carries the figures: $row"
else
    fail "the audit row of the transition: '$row'"
fi
if [ "$(q -c "SELECT model FROM modelflags.model_for('code_generations', 'User:1')")" = gemini ]; then
    pass "the open model is skipped: code_generations goes to gemini"
else
    fail "model_for after 5 failures of claude did not skip it"
fi
q -c "SELECT modelflags.report('code_generations', 'gemini', 'ok', 300) FROM generate_series(1, 3)" >/dev/null

# modelflags.breaker = off (postgresql.conf, a reload): routing ignores the
# breakers, which still count; on again, the open model is skipped again.
set_breaker_guc() {
    mf_psql h postgres -c "ALTER SYSTEM SET modelflags.breaker = $1" -c "SELECT pg_reload_conf()" >/dev/null
    for _ in $(seq 1 100); do
        [ "$(q -c 'SHOW modelflags.breaker')" = "$1" ] && return 0
        sleep 0.1
    done
    return 1
}
if set_breaker_guc off; then
    off=$(q -c "SELECT model FROM modelflags.model_for('code_generations', 'User:1')" \
            -c "SELECT state || ' ' || breaker FROM modelflags.model_health, modelflags.health_status WHERE model = 'claude'" | tr '\n' ' ')
    set_breaker_guc on
    on=$(q -c "SELECT model FROM modelflags.model_for('code_generations', 'User:1')")
    if [ "$off" = "claude open false " ] && [ "$on" = gemini ]; then
        pass "modelflags.breaker = off: routing ignores the open breaker (claude), which stays open; on again: gemini"
    else
        fail "modelflags.breaker off/on: '$off' then '$on' (want 'claude open false ' then gemini)"
    fi
else
    fail "ALTER SYSTEM SET modelflags.breaker = off was not in effect after a reload"
fi
mf_psql h postgres -c "ALTER SYSTEM RESET modelflags.breaker" -c "SELECT pg_reload_conf()" >/dev/null

# Two sessions reporting into the same model at the same time lose no count
# (each entry's spinlock), and the window and the totals agree.
q -c "SELECT modelflags.health_reset('gemini')" >/dev/null
for _ in 1 2; do
    q -c "SELECT count(modelflags.report('code_generations', 'gemini', CASE WHEN i % 10 = 0 THEN 'client_error' ELSE 'ok' END, i % 700))
            FROM generate_series(1, 50000) i" >/dev/null &
done
wait
counts=$(q -c "SELECT calls, ok, client_errors, total_ok + total_client_errors, latency_count FROM modelflags.model_health WHERE model = 'gemini'")
if [ "$counts" = "100000|90000|10000|100000|100000" ]; then
    pass "two sessions reporting 50,000 calls each into one model at once: every one counted ($counts)"
else
    fail "concurrent reports into one model: '$counts' (want 100000|90000|10000|100000|100000)"
fi

# pg_dump keeps the breaker settings and the transition audit; a restore
# writes no audit row of its own and sends no transition.
mf_tool h pg_dump -Fc -f "$work/loop.dump" loop
mf_psql h postgres -c "CREATE DATABASE loop_restored" >/dev/null
mf_tool h pg_restore --exit-on-error -d loop_restored "$work/loop.dump" >"$work/restore.log" 2>&1
dumped() {
    mf_psql h "$1" -c "SELECT string_agg(format('%s %s %s', model, min_calls, override), ';' ORDER BY model) FROM modelflags.breaker_settings" \
                   -c "SELECT string_agg(format('%s %s %s %s', id, model, event, reason), ';' ORDER BY id) FROM modelflags.breaker_events" \
                   -c "SELECT count(*) FROM modelflags.changes WHERE table_name = 'breaker_settings'"
}
a=$(dumped loop 2>&1)
b=$(dumped loop_restored 2>&1)
if [ -n "$a" ] && [ "$a" = "$b" ] && grep -q 'gemini 4' <<<"$a" && grep -q 'claude open' <<<"$a"; then
    pass "pg_dump and pg_restore keep breaker_settings, breaker_events and their audit ($(tr '\n' ' ' <<<"$a"))"
else
    fail "dump and restore of the health tables: before '$a', after '$b'"
    cat "$work/restore.log"
fi

# A database still at 1.0 (the library updated, ALTER EXTENSION not yet run)
# keeps 1.0's seven-column model_for.
mf_psql h postgres -c "CREATE DATABASE old_version" >/dev/null
old=$(mf_psql h old_version -c "CREATE EXTENSION modelflags VERSION '1.0'" \
        -c "INSERT INTO modelflags.providers (name) VALUES ('anthropic')" \
        -c "INSERT INTO modelflags.models (name, provider) VALUES ('claude', 'anthropic')" \
        -c "INSERT INTO modelflags.features (name) VALUES ('f')" \
        -c "INSERT INTO modelflags.routes (feature, position, model) VALUES ('f', 1, 'claude')" \
        -c "SELECT * FROM modelflags.model_for('f', 'User:1')" 2>&1)
if [ "$old" = "claude|anthropic|{}||default|1|0" ]; then
    pass "a database still at 1.0 gets model_for's seven 1.0 columns from the new library"
else
    fail "model_for in a 1.0 database with the new library: '$old'"
fi

# 4. A restart starts healthy; the tables are kept.
before=$(q -c "SELECT count(*) FROM modelflags.breaker_events")
if ! as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_TMP/h" -m fast -w -t 60 restart -l "$(cluster_log h)" >/dev/null 2>&1; then
    fail "restart: the server did not come back"
    exit 1
fi
state=$(q -c "SELECT count(*) FROM modelflags.model_health" \
          -c "SELECT model FROM modelflags.model_for('code_generations', 'User:1')" \
          -c "SELECT count(*) FROM modelflags.breaker_events" \
          -c "SELECT min_calls FROM modelflags.breaker_settings WHERE model = 'gemini'" | tr '\n' ' ')
if [ "$state" = "0 claude $before 4 " ]; then
    pass "a restart starts healthy: no health entries, claude routed again; audit ($before rows) and settings kept"
else
    fail "after a restart: '$state' (want: 0 claude $before 4)"
fi

# 5. A crash loses the windows, nothing else.
q -c "SELECT modelflags.report('code_generations', 'claude', 'error', 900) FROM generate_series(1, 5)" >/dev/null
q -c "SELECT modelflags.set_flag('crash_marker', true)" >/dev/null
opened=$(q -c "SELECT state FROM modelflags.model_health WHERE model = 'claude'")
as_pg timeout 60 "$PGBIN/psql" -X -q -h "$CLUSTER_TMP" -p $port -U postgres -d loop \
    -c "SELECT pg_sleep(30)" >/dev/null 2>&1 &
sleeper=$!
victim=""
for _ in $(seq 1 100); do
    victim=$(q -c "SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'")
    [ -n "$victim" ] && break
    sleep 0.1
done
kill -9 "$victim" 2>/dev/null
wait $sleeper 2>/dev/null
up=""
for _ in $(seq 1 300); do
    up=$(q -c "SELECT 1" 2>/dev/null) && [ "$up" = 1 ] && break
    sleep 0.2
done
state=$(q -c "SELECT count(*) FROM modelflags.model_health" \
          -c "SELECT model FROM modelflags.model_for('code_generations', 'User:1')" \
          -c "SELECT enabled FROM modelflags.flags WHERE name = 'crash_marker'" \
          -c "SELECT count(*) >= $before FROM modelflags.breaker_events" \
          -c "SELECT min_calls FROM modelflags.breaker_settings WHERE model = 'gemini'" 2>&1 | tr '\n' ' ')
if [ "$opened" = open ] && [ "$state" = "0 claude t t 4 " ] \
   && grep -q 'terminated by signal 9' "$(cluster_log h)"; then
    pass "a crash (backend $victim killed) loses only the health windows: claude was open, is routed again; flags, audit and settings whole"
else
    fail "after a crash: claude was '$opened', then '$state' (want: open, then 0 claude t t 4)"
    tail -n 20 "$(cluster_log h)"
fi

# 6. modelflags.shared_filter_memory too small for a filter (16 kB: 4 pages,
# the filter takes 7): the backend keeps its own copy, says so once in the
# server log, and answers the same; 0 turns shared filters off.
for mem in 16kB 0; do
    name=f$mem
    if ! cluster_start "$name" $((port + 1)) "shared_preload_libraries = 'modelflags'" \
            "modelflags.shared_filter_memory = '$mem'"; then
        fail "setup: a cluster with modelflags.shared_filter_memory = $mem did not start"
        continue
    fi
    got=$(mf_psql "$name" postgres -c "CREATE EXTENSION modelflags" \
          -c "INSERT INTO modelflags.flags (name) VALUES ('wide_rollout')" \
          -c "INSERT INTO modelflags.flag_actors (flag, actor, opt_out)
                  SELECT 'wide_rollout', 'User:' || i, i % 100 = 0 FROM generate_series(1, 20000) i" \
          -c "SELECT count(*) FILTER (WHERE modelflags.is_enabled('wide_rollout', 'User:' || g))
                FROM generate_series(1, 40000) g" \
          -c "SELECT sum(total_bytes) > 25000 FROM pg_backend_memory_contexts WHERE name = 'modelflags actor sets'" \
          -c "SELECT shared_filters, shared_filter_memory FROM modelflags.health_status" 2>&1 | tr '\n' ' ')
    logged=$(grep -c 'modelflags.shared_filter_memory is full' "$(cluster_log "$name")")
    case $mem in
        16kB) want="19800 t 0|16384 "; want_logged=1 ;;
        0) want="19800 t 0|0 "; want_logged=0 ;;
    esac
    if [ "$got" = "$want" ] && [ "$logged" = "$want_logged" ]; then
        pass "modelflags.shared_filter_memory = $mem: the backend keeps its own filter and answers the same (log lines: $logged)"
    else
        fail "modelflags.shared_filter_memory = $mem: got '$got' (want '$want'), $logged log lines (want $want_logged)"
    fi
    as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_TMP/$name" -m fast -w stop >/dev/null 2>&1
done

[ "$failures" -eq 0 ]
