#!/usr/bin/env bash
# test/logical_replication.sh — an open subscriber session follows the
# publisher (issue 8, item 14).
#
# Builds a publisher (wal_level = logical) and a subscriber cluster, both
# private to a temporary directory (Unix sockets there only, no TCP), creates
# the extension on both, a publication of every modelflags table (the audit
# table changes included) and a subscription.  ONE psql session is kept open
# on the subscriber for the whole test (its backend pid is checked at the
# start and at the end); it warms its cache on the empty tables before the
# subscription exists, then, for each change made on the publisher:
#   - the initial table sync (COPY);
#   - a failover flag flipped by set_flag, and back by a plain UPDATE;
#   - a provider outage (plain UPDATE) and its end (set_provider);
#   - actor gates added to a small set and to a set of more than 32 rows
#     (large sets take the Bloom filter path), removed again, and opt-outs;
#   - a route change (UPDATE and INSERT of routes);
#   - a TRUNCATE of flag_actors, and a rollout set after it;
# it waits until the subscriber has applied the change (the publisher's WAL
# position confirmed by the subscription's walsender and the subscriber's
# tables equal to the publisher's), then checks that the open session's
# answers (model_for of two features and is_enabled of three flags for 300
# actors, as a digest) equal the publisher's, that the session's own SELECTs
# show the publisher's rows, and that the publisher's answers did change at
# that step (so a session that kept a stale cache would be caught).
# At the end: no ERROR/FATAL in either server's log, no apply or sync error
# in pg_stat_subscription_stats, the same apply worker throughout, and the
# audit rows (modelflags.changes, ids included) equal on both sides.
#
# Prints "PASS: logical replication ..." / "FAIL: logical replication ..."
# lines and exits non-zero on any failure.  Needs the extension installed
# (make install) and PostgreSQL 15's server binaries.  Runs as root (the
# servers then run as the postgres user, since initdb refuses root) or as an
# ordinary user.  Every wait is bounded (WAIT_SECONDS, default 30).
set -uo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
WAIT_SECONDS=${WAIT_SECONDS:-30}
PUB_PORT=${PUB_PORT:-54393}
SUB_PORT=${SUB_PORT:-54394}
SUBNAME=modelflags_sub
# Nothing from a surrounding pg_virtualenv or user environment may redirect us.
unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD PGSERVICE PGOPTIONS PGDATA

failures=0
pass() { echo "PASS: logical replication $*"; }
fail() { echo "FAIL: logical replication $*"; failures=$((failures + 1)); }

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

started=$(date +%s%N)
tmp=$(mktemp -d /tmp/modelflags-logrep.XXXXXX)
chmod 700 "$tmp"
[ "$(id -u)" = 0 ] && chown postgres: "$tmp"
cd "$tmp" || exit 1

cleanup() {
    local rc=$?
    # The subscriber first: its apply worker would otherwise retry the
    # vanished publisher until it is stopped.
    for d in subscriber publisher; do
        if [ -f "$tmp/$d/postmaster.pid" ]; then
            as_pg "$PGBIN/pg_ctl" -D "$tmp/$d" -m immediate -w -t "$WAIT_SECONDS" stop >/dev/null 2>&1
        fi
    done
    cd / && rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

psql_pub() { as_pg timeout "$WAIT_SECONDS" "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$tmp" -p "$PUB_PORT" -U postgres -d postgres "$@"; }
psql_sub() { as_pg timeout "$WAIT_SECONDS" "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$tmp" -p "$SUB_PORT" -U postgres -d postgres "$@"; }

show_log() { echo "--- $1.log (tail)"; tail -n 40 "$tmp/$1.log" 2>/dev/null; }

# make_server NAME PORT WAL_LEVEL
make_server() {
    if ! as_pg "$PGBIN/initdb" -D "$tmp/$1" -U postgres --auth=trust --no-sync >"$tmp/initdb-$1.log" 2>&1; then
        cat "$tmp/initdb-$1.log"
        fail "setup: initdb of the $1 failed"
        exit 1
    fi
    cat >>"$tmp/$1/postgresql.conf" <<EOF
# modelflags logical replication test: private sockets only
listen_addresses = ''
unix_socket_directories = '$tmp'
port = $2
wal_level = $3
fsync = off
shared_buffers = 16MB
logging_collector = off
EOF
    if ! as_pg "$PGBIN/pg_ctl" -D "$tmp/$1" -l "$tmp/$1.log" -w -t "$WAIT_SECONDS" start >/dev/null 2>&1; then
        show_log "$1"
        fail "setup: the $1 did not start"
        exit 1
    fi
}
make_server publisher "$PUB_PORT" logical
make_server subscriber "$SUB_PORT" replica

# GitLab-shaped routing.  code_generations: route 0 = failover to Vertex AI
# while the ops flag is on; route 1 = a model rolled out to the actors of
# duo_big_rollout (100 actor rows: more than 32, so the cache keeps a Bloom
# filter for it); route 2 = default, Claude on Anthropic; route 3 = standing
# backup on Vertex AI, used while Anthropic is down.  code_completions:
# route 1 = a small derisk flag (actor rows, opt-outs, a 50% rollout);
# route 2 = default.
if ! psql_pub >"$tmp/load.log" 2>&1 <<'EOF'
CREATE EXTENSION modelflags;
INSERT INTO modelflags.providers (name) VALUES ('anthropic'), ('vertex_ai'), ('fireworks_ai');
INSERT INTO modelflags.models (name, provider, params) VALUES
    ('claude_sonnet_4_5', 'anthropic', '{"model": "claude-sonnet-4-5-20250929"}'),
    ('claude_sonnet_4_5_vertex', 'vertex_ai', '{"model": "claude-sonnet-4-5@20250929"}'),
    ('codestral_2501_fireworks', 'fireworks_ai', '{"model": "codestral-2501"}'),
    ('codestral_2501_vertex', 'vertex_ai', '{"model": "codestral-2501"}');
INSERT INTO modelflags.flags (name, type) VALUES
    ('incident_fail_over_generation_provider', 'ops'),
    ('duo_big_rollout', 'gitlab_com_derisk'),
    ('duo_small_derisk', 'gitlab_com_derisk');
INSERT INTO modelflags.flag_actors (flag, actor)
    SELECT 'duo_big_rollout', 'User:' || g FROM generate_series(201, 300) g;
INSERT INTO modelflags.flag_actors (flag, actor) VALUES
    ('duo_small_derisk', 'User:3'), ('duo_small_derisk', 'User:4');
INSERT INTO modelflags.features (name) VALUES ('code_generations'), ('code_completions');
INSERT INTO modelflags.routes (feature, position, flag, model) VALUES
    ('code_generations', 0, 'incident_fail_over_generation_provider', 'claude_sonnet_4_5_vertex'),
    ('code_generations', 1, 'duo_big_rollout', 'codestral_2501_fireworks'),
    ('code_generations', 2, NULL, 'claude_sonnet_4_5'),
    ('code_generations', 3, NULL, 'claude_sonnet_4_5_vertex'),
    ('code_completions', 1, 'duo_small_derisk', 'codestral_2501_vertex'),
    ('code_completions', 2, NULL, 'codestral_2501_fireworks');
-- Every modelflags table, the audit table changes included: the
-- subscriber's own audit triggers do not fire for applied rows, its audit
-- rows come from here.
CREATE PUBLICATION modelflags_pub FOR TABLES IN SCHEMA modelflags;
EOF
then
    cat "$tmp/load.log"
    fail "setup: CREATE EXTENSION modelflags, the data or the publication failed on the publisher (is the extension installed?)"
    exit 1
fi
if ! psql_sub -c 'CREATE EXTENSION modelflags' >"$tmp/sub-ext.log" 2>&1; then
    cat "$tmp/sub-ext.log"
    fail "setup: CREATE EXTENSION modelflags failed on the subscriber"
    exit 1
fi
published=$(psql_pub -c "SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_publication_tables WHERE pubname = 'modelflags_pub'")
expected_tables=$(psql_pub -c "SELECT string_agg(relname, ' ' ORDER BY relname) FROM pg_class WHERE relnamespace = 'modelflags'::regnamespace AND relkind = 'r'")
if [ -n "$published" ] && [ "$published" = "$expected_tables" ] && grep -qw changes <<<"$published"; then
    pass "publication holds every modelflags table, the audit included ($published)"
else
    fail "publication holds '$published', the schema's tables are '$expected_tables'"
fi

# answers.sql: the answers of one server, as tagged lines (psql variables
# side and step).  ANS: a digest of model_for for two features and
# is_enabled for three flags, for User:1..300; TBL: a digest of the
# configuration tables as the session's own SELECTs see them; SAMPLE: a few
# answers in clear, for the reader of the log.
cat >"$tmp/answers.sql" <<'EOF'
WITH actors AS (SELECT 'User:' || g AS actor FROM generate_series(1, 300) g),
answers AS (
    SELECT format('%s %s %s %s %s %s %s', f.feature, a.actor, m.model, m.provider, m.gate,
                  m.position, m.skipped) AS line
      FROM actors a
     CROSS JOIN (VALUES ('code_generations'), ('code_completions')) f (feature)
     CROSS JOIN LATERAL modelflags.model_for(f.feature, a.actor) m
    UNION ALL
    SELECT format('%s %s %s', fl.flag, a.actor, modelflags.is_enabled(fl.flag, a.actor))
      FROM actors a
     CROSS JOIN (VALUES ('incident_fail_over_generation_provider'), ('duo_big_rollout'),
                        ('duo_small_derisk')) fl (flag))
SELECT format('ANS %s %s %s %s', :'side', :'step', md5(string_agg(line, E'\n' ORDER BY line COLLATE "C")), count(*))
  FROM answers;
SELECT format('TBL %s %s %s', :'side', :'step', md5(concat_ws(E'\n',
    (SELECT string_agg(t::text, ',' ORDER BY name) FROM modelflags.providers t),
    (SELECT string_agg(t::text, ',' ORDER BY name) FROM modelflags.models t),
    (SELECT string_agg(t::text, ',' ORDER BY name) FROM modelflags.flags t),
    (SELECT string_agg(t::text, ',' ORDER BY flag, actor) FROM modelflags.flag_actors t),
    (SELECT string_agg(t::text, ',' ORDER BY name) FROM modelflags.features t),
    (SELECT string_agg(t::text, ',' ORDER BY feature, position) FROM modelflags.routes t))));
SELECT format('SAMPLE %s %s %s', :'side', :'step', string_agg(format('%s:%s/%s', a, m.model, m.gate), ' ' ORDER BY a COLLATE "C"))
  FROM unnest(ARRAY['User:1', 'User:3', 'User:7', 'User:120', 'User:205', 'User:250']) a
 CROSS JOIN LATERAL modelflags.model_for('code_generations', a) m;
EOF

# Helpers the subscriber session runs through \!; they write to files of
# their own (pub.out, wait.out), never into the session's output.
#
# on_pub.sh STEP SQL: runs SQL (one transaction) on the publisher, then
# records the publisher's answers for STEP.
cat >"$tmp/on_pub.sh" <<EOF
#!/bin/sh
if timeout $WAIT_SECONDS "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$tmp" -p $PUB_PORT -U postgres -d postgres -c "\$2" >>"$tmp/pub-sql.out" 2>&1; then
    echo "PUBLISHER ok \$1: \$2" >>"$tmp/pub.out"
else
    echo "PUBLISHER failed \$1: \$2" >>"$tmp/pub.out"
fi
timeout $WAIT_SECONDS "$PGBIN/psql" -X -q -At -h "$tmp" -p $PUB_PORT -U postgres -d postgres \\
    -v side=PUB -v step="\$1" -f "$tmp/answers.sql" >>"$tmp/pub.out" 2>&1
EOF
# on_sub.sh SQL: runs SQL on the subscriber in a session of its own.
cat >"$tmp/on_sub.sh" <<EOF
#!/bin/sh
if timeout $WAIT_SECONDS "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$tmp" -p $SUB_PORT -U postgres -d postgres -c "\$1" >>"$tmp/sub-sql.out" 2>&1; then
    echo "SUBSCRIBER ok: \$1" >>"$tmp/pub.out"
else
    echo "SUBSCRIBER failed: \$1" >>"$tmp/pub.out"
fi
EOF
# wait_applied.sh STEP: waits until the subscription has applied everything
# the publisher has written so far: the walsender of the subscription
# reports the publisher's current WAL position as applied (what PostgreSQL's
# own TAP tests wait for), no table is still in initial sync, and the
# subscriber's tables, read in a session of their own, equal the publisher's.
cat >"$tmp/wait_applied.sh" <<EOF
#!/bin/sh
pub() { timeout $WAIT_SECONDS "$PGBIN/psql" -X -q -At -h "$tmp" -p $PUB_PORT -U postgres -d postgres "\$@"; }
sub() { timeout $WAIT_SECONDS "$PGBIN/psql" -X -q -At -h "$tmp" -p $SUB_PORT -U postgres -d postgres "\$@"; }
start=\$(date +%s%N)
target=\$(pub -c 'SELECT pg_current_wal_lsn()')
[ -n "\$target" ] || { echo "WAIT \$1 could not read the publisher's WAL position" >>"$tmp/wait.out"; exit 1; }
pubtbl=\$(pub -v side=X -v step=X -f "$tmp/answers.sql" | grep '^TBL ')
i=0
while [ \$i -lt $((WAIT_SECONDS * 20)) ]; do
    lsn=\$(pub -c "SELECT coalesce(bool_and(replay_lsn >= '\$target'::pg_lsn), false) FROM pg_stat_replication WHERE application_name = '$SUBNAME'")
    sync=\$(sub -c "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'")
    if [ "\$lsn" = t ] && [ "\$sync" = 0 ]; then
        subtbl=\$(sub -v side=X -v step=X -f "$tmp/answers.sql" | grep '^TBL ')
        if [ "\$subtbl" = "\$pubtbl" ]; then
            echo "WAIT \$1 applied \$target in \$(( (\$(date +%s%N) - start) / 1000000 )) ms" >>"$tmp/wait.out"
            exit 0
        fi
    fi
    sleep 0.05
    i=\$((i + 1))
done
echo "WAIT \$1 timed out: lsn=\$lsn sync=\$sync pub=\$pubtbl sub=\$subtbl" >>"$tmp/wait.out"
exit 1
EOF
chmod 755 "$tmp/on_pub.sh" "$tmp/on_sub.sh" "$tmp/wait_applied.sh"
touch "$tmp/pub.out" "$tmp/wait.out" "$tmp/pub-sql.out" "$tmp/sub-sql.out"
[ "$(id -u)" = 0 ] && chown -R postgres: "$tmp"

# step NAME SQL: a change on the publisher, the wait, the session's answers.
steps=()
step_sql() {
    steps+=("$1")
    printf '\\! %s/on_pub.sh %s "%s"\n' "$tmp" "$1" "$2"
    printf '\\! %s/wait_applied.sh %s\n' "$tmp" "$1"
    printf '\\set step %s\n\\i %s/answers.sql\n\n' "$1" "$tmp"
}

# The one subscriber session.  It builds its cache on the empty tables
# first, so that every answer after it must come from a rebuild.
{
    cat <<EOF
\\set ON_ERROR_STOP 0
\\set VERBOSITY terse
\\set side SUB
SELECT 'PID ' || pg_backend_pid();
SELECT 'WARM ' || modelflags.is_enabled('duo_big_rollout', 'User:250') || ' ' || (modelflags.cache_info()).valid;

-- sync: the subscription and its initial COPY of every table
\\! $tmp/on_sub.sh "CREATE SUBSCRIPTION $SUBNAME CONNECTION 'host=$tmp port=$PUB_PORT user=postgres dbname=postgres' PUBLICATION modelflags_pub"
\\! $tmp/on_pub.sh sync "SELECT 1"
\\! $tmp/wait_applied.sh sync
\\set step sync
\\i $tmp/answers.sql
\\! $tmp/on_sub.sh "SELECT 1"
SELECT 'APPLY_PID_START ' || pid FROM pg_stat_subscription WHERE subname = '$SUBNAME' AND relid IS NULL;

EOF
    step_sql flip_set_flag "SELECT modelflags.set_flag('incident_fail_over_generation_provider', true, note => 'INC-1234')"
    step_sql flip_back_update "UPDATE modelflags.flags SET enabled = false WHERE name = 'incident_fail_over_generation_provider'"
    step_sql provider_down "UPDATE modelflags.providers SET available = false WHERE name = 'anthropic'"
    step_sql provider_up "SELECT modelflags.set_provider('anthropic', true)"
    step_sql small_actor_added "SELECT modelflags.set_actor('duo_small_derisk', 'User:7', true)"
    step_sql big_actors_added "INSERT INTO modelflags.flag_actors (flag, actor) SELECT 'duo_big_rollout', 'User:' || g FROM generate_series(101, 150) g"
    step_sql big_actors_removed "DELETE FROM modelflags.flag_actors WHERE flag = 'duo_big_rollout' AND actor IN ('User:205', 'User:206', 'User:207')"
    step_sql small_actor_removed "SELECT modelflags.set_actor('duo_small_derisk', 'User:4', false)"
    step_sql small_rollout "SELECT modelflags.set_flag('duo_small_derisk', percentage_of_actors => 50)"
    step_sql opt_outs "SELECT modelflags.opt_out('duo_small_derisk', a) FROM unnest(ARRAY['User:1', 'User:2', 'User:5', 'User:6', 'User:3']) a; SELECT modelflags.opt_out('duo_big_rollout', 'User:250')"
    step_sql route_changed "UPDATE modelflags.routes SET model = 'codestral_2501_vertex' WHERE feature = 'code_generations' AND position = 2; INSERT INTO modelflags.routes (feature, position, model) VALUES ('code_completions', 0, 'claude_sonnet_4_5')"
    step_sql truncate_flag_actors "TRUNCATE modelflags.flag_actors"
    step_sql rollout_after_truncate "SELECT modelflags.set_flag('duo_big_rollout', percentage_of_actors => 25)"
    cat <<EOF
SELECT 'PID ' || pg_backend_pid();
EOF
} >"$tmp/session.sql"
[ "$(id -u)" = 0 ] && chown postgres: "$tmp/session.sql"

as_pg timeout $((WAIT_SECONDS * 20)) "$PGBIN/psql" -X -At -h "$tmp" -p "$SUB_PORT" -U postgres -d postgres \
    -f "$tmp/session.sql" >"$tmp/session.out" 2>&1
out=$tmp/session.out
echo "--- subscriber session output"
cat "$out"
echo "--- publisher answers and waits"
cat "$tmp/pub.out" "$tmp/wait.out"
echo "---"

if grep -qx 'WARM false true' "$out"; then
    pass "the session built its cache on the empty tables before the subscription"
else
    fail "the session did not warm its cache first (expected line: WARM false true)"
fi
if grep -q 'failed' "$tmp/pub.out"; then
    grep 'failed' "$tmp/pub.out"
    cat "$tmp/pub-sql.out" "$tmp/sub-sql.out"
    fail "a statement on the publisher or subscriber failed"
fi

# The answers of each step: the session's must equal the publisher's, its
# SELECTs must show the publisher's rows, and the publisher's answers must
# differ from those of the step before.
field() { grep "^$1 $2 $3 " "$4" | head -n 1 | cut -d' ' -f4-; }
prev=
for s in sync "${steps[@]}"; do
    if ! grep -q "^WAIT $s applied " "$tmp/wait.out"; then
        fail "$s: the subscriber did not apply the change within ${WAIT_SECONDS}s"
        continue
    fi
    pub_ans=$(field ANS PUB "$s" "$tmp/pub.out")
    sub_ans=$(field ANS SUB "$s" "$out")
    pub_tbl=$(field TBL PUB "$s" "$tmp/pub.out")
    sub_tbl=$(field TBL SUB "$s" "$out")
    if [ -n "$pub_tbl" ] && [ "$sub_tbl" = "$pub_tbl" ]; then
        pass "$s: the open session's SELECTs show the publisher's rows"
    else
        fail "$s: the open session's SELECTs differ from the publisher's rows ($sub_tbl vs $pub_tbl)"
    fi
    if [ -n "$pub_ans" ] && [ "$sub_ans" = "$pub_ans" ]; then
        pass "$s: the open session's model_for/is_enabled answers equal the publisher's"
    else
        fail "$s: the open session answers differently from the publisher (session: '$sub_ans'; publisher: '$pub_ans'; samples: $(field SAMPLE SUB "$s" "$out") vs $(field SAMPLE PUB "$s" "$tmp/pub.out"))"
    fi
    if [ -n "$prev" ] && [ "$pub_ans" = "$prev" ]; then
        fail "$s: the step changed none of the publisher's answers, so it proves nothing"
    fi
    prev=$pub_ans
done

# A few answers in clear, so that the digests are known to mean what they say.
expect_sample() {
    if grep -qxF "SAMPLE SUB $2 $3" "$out"; then pass "$1"; else fail "$1 (expected line: SAMPLE SUB $2 $3)"; fi
}
expect_sample "failover flag on: every actor on the failover route" flip_set_flag \
    "User:1:claude_sonnet_4_5_vertex/boolean User:120:claude_sonnet_4_5_vertex/boolean User:205:claude_sonnet_4_5_vertex/boolean User:250:claude_sonnet_4_5_vertex/boolean User:3:claude_sonnet_4_5_vertex/boolean User:7:claude_sonnet_4_5_vertex/boolean"
expect_sample "Anthropic down: the backup route, actors of the large set on theirs" provider_down \
    "User:1:claude_sonnet_4_5_vertex/default User:120:claude_sonnet_4_5_vertex/default User:205:codestral_2501_fireworks/actor User:250:codestral_2501_fireworks/actor User:3:claude_sonnet_4_5_vertex/default User:7:claude_sonnet_4_5_vertex/default"
expect_sample "actors added to the large set (over 32 rows) get its route" big_actors_added \
    "User:1:claude_sonnet_4_5/default User:120:codestral_2501_fireworks/actor User:205:codestral_2501_fireworks/actor User:250:codestral_2501_fireworks/actor User:3:claude_sonnet_4_5/default User:7:claude_sonnet_4_5/default"
expect_sample "after the TRUNCATE of flag_actors no actor gate opens (route 2 now codestral on Vertex)" truncate_flag_actors \
    "User:1:codestral_2501_vertex/default User:120:codestral_2501_vertex/default User:205:codestral_2501_vertex/default User:250:codestral_2501_vertex/default User:3:codestral_2501_vertex/default User:7:codestral_2501_vertex/default"

pids=$(grep '^PID ' "$out" | sort -u | wc -l)
if [ "$(grep -c '^PID ' "$out")" -eq 2 ] && [ "$pids" -eq 1 ]; then
    pass "all subscriber answers came from one session (one backend pid, no reconnect)"
else
    fail "the subscriber session was not one backend throughout"
fi

# The same apply worker throughout (an apply error restarts it), no error
# counted, no ERROR/FATAL/PANIC in either log.
apply_start=$(grep '^APPLY_PID_START ' "$out" | cut -d' ' -f2)
apply_end=$(psql_sub -c "SELECT pid FROM pg_stat_subscription WHERE subname = '$SUBNAME' AND relid IS NULL" 2>&1)
if [ -n "$apply_start" ] && [ "$apply_start" = "$apply_end" ]; then
    pass "one apply worker applied every change (pid $apply_end)"
else
    fail "the apply worker changed or is gone (pid '$apply_start' at the start, '$apply_end' at the end)"
fi
errors=$(psql_sub -c "SELECT apply_error_count || ' ' || sync_error_count FROM pg_stat_subscription_stats WHERE subname = '$SUBNAME'" 2>&1)
if [ "$errors" = "0 0" ]; then
    pass "pg_stat_subscription_stats counts no apply or sync error"
else
    fail "pg_stat_subscription_stats: apply and sync errors '$errors'"
fi
for srv in subscriber publisher; do
    if grep -E '(ERROR|FATAL|PANIC):' "$tmp/$srv.log" >"$tmp/errors-$srv.txt"; then
        cat "$tmp/errors-$srv.txt"
        fail "the $srv's log has errors"
    else
        pass "no ERROR, FATAL or PANIC in the $srv's log"
    fi
done

# The audit: the publisher's rows, ids included, arrived as they are; the
# subscriber's own audit triggers (ENABLE ORIGIN) wrote none.
audit_q="SELECT count(*) || ' ' || md5(coalesce(string_agg(c::text, E'\n' ORDER BY id), '')) FROM modelflags.changes c"
pub_audit=$(psql_pub -c "$audit_q" 2>&1)
sub_audit=$(psql_sub -c "$audit_q" 2>&1)
if [ "${pub_audit%% *}" -gt 0 ] 2>/dev/null && [ "$pub_audit" = "$sub_audit" ]; then
    pass "audit rows equal on both sides (${pub_audit%% *} rows, ids included)"
else
    fail "audit rows differ: publisher '$pub_audit', subscriber '$sub_audit'"
fi
truncates=$(psql_sub -c "SELECT count(*) FROM modelflags.changes WHERE table_name = 'flag_actors' AND operation = 'TRUNCATE'" 2>&1)
if [ "$truncates" -gt 0 ] 2>/dev/null; then
    pass "the publisher's TRUNCATE audit rows arrived ($truncates rows)"
else
    fail "no TRUNCATE audit row on the subscriber ($truncates)"
fi
# The identity values came from the publisher; the subscriber's sequence was
# never used (README: do not write on a subscriber, its next audit id would
# collide with a replicated one).
seq=$(psql_sub -c "SELECT is_called FROM modelflags.changes_id_seq" 2>&1)
if [ "$seq" = f ]; then
    pass "the subscriber's changes_id_seq is untouched: its audit ids are the publisher's"
else
    fail "the subscriber's changes_id_seq was used (is_called = '$seq')"
fi

echo "logical replication test took $(( ($(date +%s%N) - started) / 1000000 )) ms"
if [ "$failures" -gt 0 ]; then
    show_log publisher
    show_log subscriber
    exit 1
fi
exit 0
