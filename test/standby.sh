#!/usr/bin/env bash
# test/standby.sh — SPEC S on a real primary and hot standby.
#
# Builds a primary (wal_level = replica) and a hot standby made with
# pg_basebackup -R, both private to a temporary directory (Unix socket there
# only, no TCP), loads GitLab-shaped routing data on the primary, and then
# keeps ONE psql session open on the standby while the primary changes:
#   - the standby session answers model_for with the default route; after a
#     failover flag flipped on the primary is replayed, the same session (same
#     backend pid, no reconnect) answers with the failover route; and back;
#   - a provider outage made by a plain UPDATE on the primary is followed too;
#   - is_enabled, rollout_pct and explain run on the standby;
#   - a write function (and a plain UPDATE) on the standby fails with SQLSTATE
#     25006 (read_only_sql_transaction) while reads keep working.
# It also checks on the primary that the read functions assign no
# transaction id, i.e. write nothing.
#
# Prints "PASS: standby ..." / "FAIL: standby ..." lines and exits non-zero on
# any failure.  Needs the extension installed (make install) and
# PostgreSQL 15's server binaries.  Runs as root (the servers then run as
# the postgres user, since initdb refuses root) or as an ordinary user.
# Every wait is bounded (WAIT_SECONDS, default 30).
set -uo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
WAIT_SECONDS=${WAIT_SECONDS:-30}
PRIMARY_PORT=${PRIMARY_PORT:-54391}
STANDBY_PORT=${STANDBY_PORT:-54392}
# Nothing from a surrounding pg_virtualenv or user environment may redirect us.
unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD PGSERVICE PGOPTIONS PGDATA

failures=0
pass() { echo "PASS: standby $*"; }
fail() { echo "FAIL: standby $*"; failures=$((failures + 1)); }

if [ ! -x "$PGBIN/initdb" ]; then
    fail "setup: $PGBIN/initdb not found (set PGBIN)"
    exit 1
fi

if [ "$(id -u)" = 0 ]; then
    RUNAS=(runuser -u postgres --)
else
    RUNAS=()
fi
as_pg() { "${RUNAS[@]}" "$@"; }

tmp=$(mktemp -d /tmp/modelflags-standby.XXXXXX)
chmod 700 "$tmp"
[ "$(id -u)" = 0 ] && chown postgres: "$tmp"
cd "$tmp" || exit 1

cleanup() {
    local rc=$?
    for d in standby primary; do
        if [ -f "$tmp/$d/postmaster.pid" ]; then
            as_pg "$PGBIN/pg_ctl" -D "$tmp/$d" -m immediate -w -t "$WAIT_SECONDS" stop >/dev/null 2>&1
        fi
    done
    cd / && rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# psql against one server, quiet, unaligned, no psqlrc, no pager.
psql_p() { as_pg timeout "$WAIT_SECONDS" "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$tmp" -p "$PRIMARY_PORT" -U postgres -d postgres "$@"; }
psql_s() { as_pg timeout "$WAIT_SECONDS" "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$tmp" -p "$STANDBY_PORT" -U postgres -d postgres "$@"; }

# Shows a server's log tail after a failure to start.
show_log() { echo "--- $1.log (tail)"; tail -n 30 "$tmp/$1.log" 2>/dev/null; }

# ---------------------------------------------------------------- primary
if ! as_pg "$PGBIN/initdb" -D "$tmp/primary" -U postgres --auth=trust --no-sync >"$tmp/initdb.log" 2>&1; then
    cat "$tmp/initdb.log"
    fail "setup: initdb of the primary failed"
    exit 1
fi
cat >>"$tmp/primary/postgresql.conf" <<EOF
# modelflags standby test: private sockets only
listen_addresses = ''
unix_socket_directories = '$tmp'
port = $PRIMARY_PORT
wal_level = replica
max_wal_senders = 4
hot_standby = on
fsync = off
shared_buffers = 16MB
logging_collector = off
EOF
if ! as_pg "$PGBIN/pg_ctl" -D "$tmp/primary" -l "$tmp/primary.log" -w -t "$WAIT_SECONDS" start >/dev/null 2>&1; then
    show_log primary
    fail "setup: the primary did not start"
    exit 1
fi

# GitLab's code_generations: route 0 = failover to Claude on Vertex AI while
# the ops flag is on; route 1 = default, Claude on Anthropic; route 2 =
# standing backup on Vertex AI, used when route 1's provider is down.
if ! psql_p >"$tmp/load.log" 2>&1 <<'EOF'
CREATE EXTENSION modelflags;
INSERT INTO modelflags.providers (name) VALUES ('anthropic'), ('vertex_ai');
INSERT INTO modelflags.models (name, provider, params) VALUES
    ('claude_sonnet_4_5_20250929', 'anthropic', '{"model": "claude-sonnet-4-5-20250929", "max_tokens": 2048}'),
    ('claude_sonnet_4_5_20250929_vertex', 'vertex_ai', '{"model": "claude-sonnet-4-5@20250929", "max_tokens": 2048}');
INSERT INTO modelflags.flags (name, type, "group", description)
    VALUES ('incident_fail_over_generation_provider', 'ops', 'group::ai framework',
            'Fails code generation over to the backup provider during an incident');
INSERT INTO modelflags.features (name, description) VALUES ('code_generations', 'Duo code generation');
INSERT INTO modelflags.routes (feature, position, flag, model, params) VALUES
    ('code_generations', 0, 'incident_fail_over_generation_provider', 'claude_sonnet_4_5_20250929_vertex', '{}'),
    ('code_generations', 1, NULL, 'claude_sonnet_4_5_20250929', '{}'),
    ('code_generations', 2, NULL, 'claude_sonnet_4_5_20250929_vertex', '{}');
EOF
then
    cat "$tmp/load.log"
    fail "setup: CREATE EXTENSION modelflags and the data failed on the primary (is the extension installed?)"
    exit 1
fi

# The read functions write nothing: after them the transaction has no XID.
xid=$(psql_p 2>&1 <<'EOF'
BEGIN;
SELECT count(*) FROM modelflags.model_for('code_generations', 'User:1');
SELECT modelflags.is_enabled('incident_fail_over_generation_provider', 'User:1');
SELECT modelflags.rollout_pct('incident_fail_over_generation_provider', 'User:1');
SELECT count(*) FROM modelflags.explain('code_generations', 'User:1');
SELECT 'xid=' || coalesce(pg_current_xact_id_if_assigned()::text, 'none');
COMMIT;
EOF
)
if grep -qx 'xid=none' <<<"$xid"; then
    pass "read functions assign no transaction id on the primary"
else
    fail "read functions assigned a transaction id on the primary: $xid"
fi
primary_pct=$(psql_p -c "SELECT modelflags.rollout_pct('incident_fail_over_generation_provider', 'User:1')" 2>&1)

# ---------------------------------------------------------------- standby
if ! as_pg "$PGBIN/pg_basebackup" -h "$tmp" -p "$PRIMARY_PORT" -U postgres -D "$tmp/standby" \
        -R -X stream --checkpoint=fast >"$tmp/basebackup.log" 2>&1; then
    cat "$tmp/basebackup.log"
    fail "setup: pg_basebackup failed"
    exit 1
fi
echo "port = $STANDBY_PORT" >>"$tmp/standby/postgresql.conf"
if [ ! -f "$tmp/standby/standby.signal" ]; then
    fail "setup: pg_basebackup -R wrote no standby.signal"
    exit 1
fi
if ! as_pg "$PGBIN/pg_ctl" -D "$tmp/standby" -l "$tmp/standby.log" -w -t "$WAIT_SECONDS" start >/dev/null 2>&1; then
    show_log standby
    fail "setup: the standby did not start"
    exit 1
fi
if [ "$(psql_s -c 'SELECT pg_is_in_recovery()' 2>&1)" = t ]; then
    pass "server is up as a hot standby (pg_is_in_recovery)"
else
    show_log standby
    fail "the standby is not a hot standby in recovery"
    exit 1
fi

# wait_replay: waits until the standby has replayed everything the primary
# has written so far; run by the standby session through \!.
cat >"$tmp/wait_replay.sh" <<EOF
#!/bin/sh
target=\$(timeout $WAIT_SECONDS "$PGBIN/psql" -X -At -h "$tmp" -p $PRIMARY_PORT -U postgres -d postgres -c 'SELECT pg_current_wal_lsn()')
[ -n "\$target" ] || { echo "WAIT could not read the primary's WAL position"; exit 1; }
i=0
while [ \$i -lt $((WAIT_SECONDS * 10)) ]; do
    r=\$(timeout $WAIT_SECONDS "$PGBIN/psql" -X -At -h "$tmp" -p $STANDBY_PORT -U postgres -d postgres \\
        -c "SELECT pg_last_wal_replay_lsn() >= '\$target'::pg_lsn")
    if [ "\$r" = t ]; then echo "WAIT replayed \$target"; exit 0; fi
    sleep 0.1
    i=\$((i + 1))
done
echo "WAIT timed out waiting for the standby to replay \$target"
exit 1
EOF
# on_primary SQL: runs one statement on the primary; run through \!.
cat >"$tmp/on_primary.sh" <<EOF
#!/bin/sh
if timeout $WAIT_SECONDS "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$tmp" -p $PRIMARY_PORT -U postgres -d postgres -c "\$1" >/dev/null; then
    echo "PRIMARY ok: \$1"
else
    echo "PRIMARY failed: \$1"
fi
EOF
chmod 755 "$tmp/wait_replay.sh" "$tmp/on_primary.sh"
[ "$(id -u)" = 0 ] && chown -R postgres: "$tmp"

# The one standby session.  Each answer is printed as a tagged line;
# errors are turned into tagged lines with their SQLSTATE.
cat >"$tmp/session.sql" <<EOF
\\set ON_ERROR_STOP 0
\\set VERBOSITY terse
SELECT 'PID ' || pg_backend_pid();
SELECT 'RECOVERY ' || pg_is_in_recovery();

-- 1. default route, flag off
SELECT format('R1 %s %s %s %s %s', model, provider, gate, position, skipped)
  FROM modelflags.model_for('code_generations', 'User:1');
SELECT 'E1 ' || modelflags.is_enabled('incident_fail_over_generation_provider', 'User:1');

-- 2. the incident responder flips the failover flag on the primary
\\! $tmp/on_primary.sh "SELECT modelflags.set_flag('incident_fail_over_generation_provider', enabled => true, note => 'INC-1234')"
\\! $tmp/wait_replay.sh
SELECT format('R2 %s %s %s %s %s', model, provider, gate, position, skipped)
  FROM modelflags.model_for('code_generations', 'User:1');
SELECT 'E2 ' || modelflags.is_enabled('incident_fail_over_generation_provider', 'User:1');
SELECT format('P2 %s', params ->> 'model') FROM modelflags.model_for('code_generations', 'User:1');
SELECT format('L2 %s', last_refresh) FROM modelflags.cache_info();

-- 3. and back
\\! $tmp/on_primary.sh "SELECT modelflags.set_flag('incident_fail_over_generation_provider', enabled => false)"
\\! $tmp/wait_replay.sh
SELECT format('R3 %s %s %s %s %s', model, provider, gate, position, skipped)
  FROM modelflags.model_for('code_generations', 'User:1');

-- 4. provider outage by a plain UPDATE on the primary
\\! $tmp/on_primary.sh "UPDATE modelflags.providers SET available = false WHERE name = 'anthropic'"
\\! $tmp/wait_replay.sh
SELECT format('R4 %s %s %s %s %s', model, provider, gate, position, skipped)
  FROM modelflags.model_for('code_generations', 'User:1');
SELECT format('X4 %s %s %s', position, decision, reason)
  FROM modelflags.explain('code_generations', 'User:1') ORDER BY position;

-- 5. writes are refused on the standby; reads go on
SELECT modelflags.set_flag('incident_fail_over_generation_provider', enabled => true);
\\echo W1 :SQLSTATE
UPDATE modelflags.providers SET available = true WHERE name = 'anthropic';
\\echo W2 :SQLSTATE
SELECT format('R5 %s %s %s %s %s', model, provider, gate, position, skipped)
  FROM modelflags.model_for('code_generations', 'User:1');
SELECT 'H5 ' || modelflags.rollout_pct('incident_fail_over_generation_provider', 'User:1');

-- 6. recovery from the outage is followed as well
\\! $tmp/on_primary.sh "UPDATE modelflags.providers SET available = true WHERE name = 'anthropic'"
\\! $tmp/wait_replay.sh
SELECT format('R6 %s %s %s %s %s', model, provider, gate, position, skipped)
  FROM modelflags.model_for('code_generations', 'User:1');
SELECT 'PID ' || pg_backend_pid();
EOF
[ "$(id -u)" = 0 ] && chown postgres: "$tmp/session.sql"

as_pg timeout $((WAIT_SECONDS * 8)) "$PGBIN/psql" -X -At -h "$tmp" -p "$STANDBY_PORT" -U postgres -d postgres \
    -f "$tmp/session.sql" >"$tmp/session.out" 2>&1
echo "--- standby session output"
cat "$tmp/session.out"
echo "---"
out=$tmp/session.out

# expect NAME LINE: the session printed exactly LINE.
expect() {
    if grep -qxF -- "$2" "$out"; then pass "$1"; else fail "$1 (expected line: $2)"; fi
}

expect "session runs on a server in recovery" "RECOVERY true"
expect "model_for on the standby: default route (flag off)" \
    "R1 claude_sonnet_4_5_20250929 anthropic default 1 0"
expect "is_enabled on the standby: flag off" "E1 false"
if grep -qxF "PRIMARY ok: SELECT modelflags.set_flag('incident_fail_over_generation_provider', enabled => true, note => 'INC-1234')" "$out" &&
   [ "$(grep -c '^WAIT replayed ' "$out")" -eq 4 ]; then
    pass "failover flag flipped on the primary and every change replayed"
else
    fail "a change on the primary failed or was not replayed in ${WAIT_SECONDS}s"
fi
expect "same standby session follows the failover flipped on the primary" \
    "R2 claude_sonnet_4_5_20250929_vertex vertex_ai boolean 0 0"
expect "is_enabled on the standby follows the flip" "E2 true"
expect "model params of the failover route on the standby" "P2 claude-sonnet-4-5@20250929"
expect "the standby applied the flip as a delta, from the replayed change log" "L2 delta"
expect "same standby session follows the flag turned off again" \
    "R3 claude_sonnet_4_5_20250929 anthropic default 1 0"
expect "same standby session follows providers.available = false (plain UPDATE)" \
    "R4 claude_sonnet_4_5_20250929_vertex vertex_ai default 2 1"
expect "explain on the standby names the unavailable provider" \
    "X4 1 skipped provider anthropic unavailable"
expect "set_flag on the standby fails with SQLSTATE 25006" "W1 25006"
expect "UPDATE on the standby fails with SQLSTATE 25006" "W2 25006"
expect "model_for still answers after the refused writes" \
    "R5 claude_sonnet_4_5_20250929_vertex vertex_ai default 2 1"
expect "rollout_pct on the standby equals the primary's" "H5 $primary_pct"
expect "same standby session follows the provider back up" \
    "R6 claude_sonnet_4_5_20250929 anthropic default 1 0"
pids=$(grep '^PID ' "$out" | sort -u | wc -l)
if [ "$(grep -c '^PID ' "$out")" -eq 2 ] && [ "$pids" -eq 1 ]; then
    pass "all standby answers came from one session (one backend pid, no reconnect)"
else
    fail "the standby session was not one backend throughout"
fi

if [ "$failures" -gt 0 ]; then
    show_log primary
    show_log standby
    exit 1
fi
exit 0
