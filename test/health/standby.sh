#!/usr/bin/env bash
# test/health/standby.sh — model health on a real hot standby (SPEC §7 O,
# issue 11 item 7).  A primary and a standby (pg_basebackup -R), both with
# shared_preload_libraries = 'modelflags'; ONE psql session on the standby
# while things happen:
#   - report() works there (read-only), and the standby's breaker opens
#     from the standby's own reports: its model_for fails over, while the
#     primary, which got no reports, still routes to the model;
#   - the transition shows in the standby's breaker_transitions, pending:
#     no recorder runs on a standby and nothing is written there;
#   - breaker settings changed on the primary reach the same standby
#     session once replayed (a forced open, then back to automatic);
#   - after promotion, the new primary's recorder writes the transitions
#     it saw as a standby, and new ones, into breaker_events.
# Prints PASS:/FAIL: lines; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. test/cluster.sh

failures=0
pass() { echo "PASS: health standby $*"; }
fail() { echo "FAIL: health standby $*"; failures=$((failures + 1)); }

pport=54397
sport=54398
if ! cluster_start p $pport "shared_preload_libraries = 'modelflags'" "wal_level = replica" \
        "max_wal_senders = 4" "hot_standby = on"; then
    fail "setup: the primary did not start"
    exit 1
fi
if ! mf_psql p postgres >/dev/null <<'EOF'
CREATE EXTENSION modelflags;
INSERT INTO modelflags.providers (name) VALUES ('anthropic'), ('vertex_ai');
INSERT INTO modelflags.models (name, provider) VALUES ('claude', 'anthropic'), ('gemini', 'vertex_ai');
INSERT INTO modelflags.features (name) VALUES ('code_generations');
INSERT INTO modelflags.routes (feature, position, model) VALUES
    ('code_generations', 1, 'claude'), ('code_generations', 2, 'gemini');
EOF
then
    fail "setup: CREATE EXTENSION and the data on the primary"
    exit 1
fi

if ! as_pg "$PGBIN/pg_basebackup" -h "$CLUSTER_TMP" -p $pport -U postgres -D "$CLUSTER_TMP/s" \
        -R -X stream --checkpoint=fast >"$CLUSTER_TMP/basebackup.log" 2>&1; then
    cat "$CLUSTER_TMP/basebackup.log"
    fail "setup: pg_basebackup"
    exit 1
fi
echo "port = $sport" >>"$CLUSTER_TMP/s/postgresql.conf"
CLUSTER_PORT[s]=$sport
if ! as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_TMP/s" -l "$(cluster_log s)" -w -t 60 start >/dev/null 2>&1; then
    tail -n 30 "$(cluster_log s)"
    fail "setup: the standby did not start"
    exit 1
fi

# Helpers the standby session runs through \!.
cat >"$CLUSTER_TMP/wait_replay.sh" <<EOF
#!/bin/sh
target=\$("$PGBIN/psql" -X -At -h "$CLUSTER_TMP" -p $pport -U postgres -d postgres -c 'SELECT pg_current_wal_lsn()')
i=0
while [ \$i -lt 600 ]; do
    r=\$("$PGBIN/psql" -X -At -h "$CLUSTER_TMP" -p $sport -U postgres -d postgres -c "SELECT pg_last_wal_replay_lsn() >= '\$target'::pg_lsn")
    [ "\$r" = t ] && { echo "WAIT replayed"; exit 0; }
    sleep 0.1
    i=\$((i + 1))
done
echo "WAIT timed out"
EOF
cat >"$CLUSTER_TMP/on_primary.sh" <<EOF
#!/bin/sh
"$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$CLUSTER_TMP" -p $pport -U postgres -d postgres -c "\$1" | sed 's/^/PRIMARY /'
EOF
chmod 755 "$CLUSTER_TMP/wait_replay.sh" "$CLUSTER_TMP/on_primary.sh"
chown postgres: "$CLUSTER_TMP"/*.sh 2>/dev/null

cat >"$CLUSTER_TMP/session.sql" <<EOF
\\set ON_ERROR_STOP 0
SELECT 'PID ' || pg_backend_pid();
SELECT 'RECOVERY ' || pg_is_in_recovery();
SELECT 'R0 ' || model FROM modelflags.model_for('code_generations', 'User:1');
-- the standby's own reports open its breaker
SELECT count(modelflags.report('code_generations', 'claude', 'error', 800)) FROM generate_series(1, 5);
SELECT 'B1 ' || modelflags.report_batch('[{"feature": "code_generations", "model": "gemini", "outcome": "ok", "latency_ms": 300}]');
SELECT format('R1 %s %s %s', model, skipped, degraded) FROM modelflags.model_for('code_generations', 'User:1');
SELECT format('H1 %s %s %s', model, state, calls) FROM modelflags.model_health WHERE model = 'claude';
\\! $CLUSTER_TMP/on_primary.sh "SELECT 'P1 ' || model FROM modelflags.model_for('code_generations', 'User:1')"
\\! $CLUSTER_TMP/on_primary.sh "SELECT 'P2 ' || count(*) FROM modelflags.model_health"
-- recorded nowhere: no recorder on a standby
SELECT pg_sleep(2);
SELECT format('T1 %s %s %s', model, event, status) FROM modelflags.breaker_transitions;
SELECT format('S1 %s %s', transitions_pending, coalesce(recorder_pid::text, 'none')) FROM modelflags.health_status;
SELECT 'W1 ' || count(*) FROM pg_stat_activity WHERE backend_type = 'modelflags health recorder';
SELECT 'A1 ' || count(*) FROM modelflags.breaker_events;
-- settings changed on the primary reach this session once replayed
\\! $CLUSTER_TMP/on_primary.sh "SELECT 'P3 ' || override FROM modelflags.set_breaker('gemini', override => 'open')"
\\! $CLUSTER_TMP/wait_replay.sh
SELECT format('R2 %s %s %s', model, skipped, degraded) FROM modelflags.model_for('code_generations', 'User:1');
\\! $CLUSTER_TMP/on_primary.sh "SELECT 'P4 ' || coalesce(override, 'auto') FROM modelflags.set_breaker('gemini', override => 'auto')"
\\! $CLUSTER_TMP/wait_replay.sh
SELECT format('R3 %s %s %s', model, skipped, degraded) FROM modelflags.model_for('code_generations', 'User:1');
SELECT 'PID ' || pg_backend_pid();
EOF
chown postgres: "$CLUSTER_TMP/session.sql"
as_pg timeout 300 "$PGBIN/psql" -X -At -h "$CLUSTER_TMP" -p $sport -U postgres -d postgres \
    -f "$CLUSTER_TMP/session.sql" >"$CLUSTER_TMP/session.out" 2>&1
echo "--- standby session"
cat "$CLUSTER_TMP/session.out"
echo "---"
out=$CLUSTER_TMP/session.out
expect() {
    if grep -qxF -- "$2" "$out"; then pass "$1"; else fail "$1 (expected line: $2)"; fi
}
expect "the session runs on a hot standby" "RECOVERY true"
expect "before any report, the standby routes to claude" "R0 claude"
expect "report_batch works on the standby" "B1 1"
expect "the standby's breaker opens from its own reports: model_for fails over there" "R1 gemini 1 f"
expect "the standby's model_health shows claude open" "H1 claude open 5"
expect "the primary, which got no report, still routes to claude" "PRIMARY P1 claude"
expect "the primary's health is empty: reports stay on the server they were sent to" "PRIMARY P2 0"
expect "the standby's transition is listed, pending" "T1 claude open pending"
expect "no recorder on the standby: the transition stays pending" "S1 1 none"
expect "no recorder process runs on the standby" "W1 0"
expect "nothing is written on the standby" "A1 0"
expect "a forced open set on the primary reaches the standby session: every route open, claude due first, degraded" \
    "R2 claude 1 t"
expect "back to automatic on the primary: the standby session routes to gemini again" "R3 gemini 1 f"
if [ "$(grep -c '^WAIT replayed' "$out")" = 2 ] && [ "$(grep '^PID ' "$out" | sort -u | wc -l)" = 1 ]; then
    pass "one standby session throughout, every change replayed"
else
    fail "the standby session reconnected, or a change was not replayed"
fi

# Promotion: the new primary records what it saw, and what comes next.
if as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_TMP/s" -w -t 60 promote >/dev/null 2>&1; then
    mf_psql s postgres -c "SELECT count(modelflags.report('code_generations', 'gemini', 'timeout', 900)) FROM generate_series(1, 5)" >/dev/null
    rows=""
    for _ in $(seq 1 300); do
        rows=$(mf_psql s postgres -c "SELECT string_agg(model || ' ' || event, ', ' ORDER BY id) FROM modelflags.breaker_events")
        [ "$rows" = "claude open, gemini open" ] && break
        sleep 0.1
    done
    if [ "$rows" = "claude open, gemini open" ]; then
        pass "promoted: the recorder writes the transition seen as a standby and the new one ($rows)"
    else
        fail "after promotion, breaker_events holds '$rows' (want: claude open, gemini open)"
    fi
else
    fail "pg_ctl promote"
fi

if [ "$failures" -gt 0 ]; then
    tail -n 20 "$(cluster_log s)"
fi
[ "$failures" -eq 0 ]
