#!/usr/bin/env bash
# bench/health.sh — how much model health costs (SPEC §5 last bullet, §7 O;
# issue 11 item 8), one command, side by side in one run:
#
#     bash bench/health.sh          # BENCH_SECONDS=8 BENCH_ROUNDS=3 by default
#
# Installs what it needs (Debian 12, as root), builds and installs the
# extension, starts a throw-away PostgreSQL 15 with shared_preload_libraries
# = 'modelflags' (pg_virtualenv), loads bench/data_small.sql, and measures:
#   1. pgbench -M prepared -c 2 -j 2: SELECT 1; SELECT modelflags.report(...)
#      with both clients reporting into the same model (contention on one
#      entry's spinlock) and into a model each; the scalar model_for with
#      modelflags.breaker on and off (medians over interleaved rounds, and
#      CPU per transaction);
#   2. in-backend µs per call: report(), report_batch() per report, and
#      model_for with health checks on and off (one statement making
#      1,000,000 calls, minus the same statement calling a trivial function
#      with the same arguments, fastest of 5, on-CPU);
#   3. failover delay: the calls, and the µs, from the report that crosses
#      the threshold to the first answer that routes around the model, in
#      the same session and in another session polling model_for.
# and ends with a markdown table.  bench/run.sh's figures for model_for are
# without preload; "breaker off" here is the same code path (no health
# callback), in a preloaded server.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
SECS=${BENCH_SECONDS:-8}
ROUNDS=${BENCH_ROUNDS:-3}
PGBIN=/usr/lib/postgresql/15/bin
. bench/lib.sh


if [ -z "${MODELFLAGS_BENCH_INSIDE:-}" ]; then
    bash test/install-deps.sh
    log "building and installing the extension"
    make -s >/tmp/modelflags-bench-build.log 2>&1 && make -s install >>/tmp/modelflags-bench-build.log 2>&1 \
        || { cat /tmp/modelflags-bench-build.log >&2; exit 1; }
    log "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    export MODELFLAGS_BENCH_INSIDE=1
    exec pg_virtualenv -t -v 15 -o shared_preload_libraries=modelflags -o shared_buffers=256MB \
        -o autovacuum=off bash "$0" "$@"
fi

# ---------------------------------------------------------------- inside
work=$(mktemp -d /tmp/modelflags-bench-health.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
declare -A R

yes_no() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN { r = (op == ">=") ? (a >= b) : (a <= b); print r ? "yes" : "**no**" }'; }

# breaker on|off: modelflags.breaker for new sessions (a SIGHUP setting).
breaker() {
    psqlq -c "ALTER SYSTEM SET modelflags.breaker = $1" -c "SELECT pg_reload_conf()" >/dev/null
    for _ in $(seq 1 100); do
        [ "$("$PGBIN/psql" -X -At -c 'SHOW modelflags.breaker')" = "$1" ] && return 0
        sleep 0.1
    done
    echo "modelflags.breaker did not become $1" >&2
    exit 1
}

log "server: $("$PGBIN/psql" -X -At -c 'SELECT version()')"
log "shared_preload_libraries: $("$PGBIN/psql" -X -At -c 'SHOW shared_preload_libraries')"
psqlq -c 'CREATE EXTENSION modelflags'
psqlq -f bench/harness.sql
psqlq -f bench/data_small.sql
# A standing fallback after code_generations' default route, as GitLab's
# runbook would add: only a skip (an open breaker) reaches it.
psqlq -c "INSERT INTO modelflags.routes (feature, position, model, note)
          VALUES ('code_generations', 3, 'claude_sonnet_4_5_20250929_vertex', 'fallback')" >/dev/null

# ---- pgbench scripts
cat > "$work/select1.sql" <<'EOF'
\set lat random(100, 3000)
SELECT 1;
EOF
# The same statement with a trivial built-in function in place of report():
# what any function taking these arguments costs at the least.
cat > "$work/floor.sql" <<'EOF'
\set lat random(100, 3000)
SELECT num_nulls('code_generations'::text, 'claude_sonnet_4_20250514'::text, 'ok'::text, (:lat)::float8);
EOF
# Both clients into one model: the same two entries (model, and feature-model).
cat > "$work/report_same.sql" <<'EOF'
\set lat random(100, 3000)
SELECT modelflags.report('code_generations', 'claude_sonnet_4_20250514', 'ok', :lat);
EOF
# A model each (client 0 and 1): no shared entry.
cat > "$work/report_own.sql" <<'EOF'
\set lat random(100, 3000)
SELECT modelflags.report('code_generations', CASE (:client_id)::int WHEN 0 THEN 'claude_sonnet_4_20250514' ELSE 'claude_sonnet_4_5_20250929' END, 'ok', :lat);
EOF
cat > "$work/mf_on.sql" <<'EOF'
\set uid random(1, 5000000)
SELECT (modelflags.model_for('code_generations', 'User:' || :uid)).model;
EOF
cp "$work/mf_on.sql" "$work/mf_off.sql"

pm_pid=$("$PGBIN/psql" -X -At -c 'SHOW data_directory' | xargs -I{} head -1 {}/postmaster.pid)
tick=$(getconf CLK_TCK)
pm_ticks() { awk '{ print $16 + $17 }' "/proc/$pm_pid/stat"; }
run_pgbench() {
    local before after out n tps client
    before=$(pm_ticks)
    out=$( { "$PGBIN/pgbench" -n -M prepared -c 2 -j 2 -T "$SECS" -f "$1" 2>&1; times; } )
    sleep 0.3
    after=$(pm_ticks)
    n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<< "$out")
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' <<< "$out")
    [ -n "$n" ] && [ -n "$tps" ] || { echo "$out" >&2; echo "pgbench failed on $1" >&2; exit 1; }
    client=$(tail -1 <<< "$out" | awk '{ split($1, u, "m"); split($2, s, "m"); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }')
    awk -v n="$n" -v tps="$tps" -v a="$after" -v b="$before" -v t="$tick" -v c="$client" \
        'BEGIN { printf "%s %.3f %.3f", tps, (a - b) / t * 1e6 / n, c * 1e6 / n }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

log "1. pgbench (${ROUNDS} interleaved rounds of ${SECS}s per query, 2 clients, prepared)"
declare -A all ratios
queries=(select1 floor report_same report_own mf_on mf_off)
for q in "${queries[@]}"; do R[cpu_$q]=1e9; done
for ((r = 1; r <= ROUNDS; r++)); do
    for q in "${queries[@]}"; do
        case $q in mf_on) breaker on ;; mf_off) breaker off ;; esac
        read -r tps sv cl <<< "$(run_pgbench "$work/$q.sql")"
        log "  round $r: $q $(grp "$tps") tps, CPU per transaction: server $(fmt "$sv" 1) µs + pgbench $(fmt "$cl" 1) µs"
        all[$q]="${all[$q]:-} $tps"
        [ "$q" = select1 ] && first=$tps
        ratios[$q]="${ratios[$q]:-} $(calc "$tps / $first")"
        if awk -v a="$(calc "$sv + $cl")" -v b="${R[cpu_$q]}" 'BEGIN { exit !(a < b) }'; then
            R[cpu_$q]=$(calc "$sv + $cl")
        fi
    done
done
breaker on
for q in "${queries[@]}"; do
    # shellcheck disable=SC2086
    R[tps_$q]=$(median ${all[$q]})
    # shellcheck disable=SC2086
    R[rt_$q]=$(median ${ratios[$q]})
done
# model_for on against off, in the same rounds
R[rt_mf_onoff]=$(calc "${R[tps_mf_off]} / ${R[tps_mf_on]}")
R[cpu_mf_onoff]=$(calc "${R[cpu_mf_on]} / ${R[cpu_mf_off]}")

log "2. in-backend µs per call (1,000,000 calls in one statement, minus a trivial function's, fastest of 5, on-CPU)"
psqlq -c "SELECT modelflags.health_reset()" >/dev/null
collect <<'EOF'
SELECT 'us_report=' || bench.per_call_us(
    $q$SELECT count(modelflags.report('code_generations', 'claude_sonnet_4_20250514', 'ok', mod(g, 3000))) FROM generate_series(1, %s) g$q$,
    $q$SELECT count(num_nulls('code_generations', 'claude_sonnet_4_20250514', 'ok', mod(g, 3000))) FROM generate_series(1, %s) g$q$,
    1000000);
SELECT 'us_report_batch=' || bench.per_call_us(
    $q$SELECT sum(modelflags.report_batch(b)) FROM (SELECT jsonb_agg(jsonb_build_object('feature', 'code_generations',
        'model', 'claude_sonnet_4_20250514', 'outcome', 'ok', 'latency_ms', mod(g, 3000))) b
        FROM generate_series(1, %s) g GROUP BY mod(g, 1000)) s$q$,
    $q$SELECT sum(jsonb_array_length(b)) FROM (SELECT jsonb_agg(jsonb_build_object('feature', 'code_generations',
        'model', 'claude_sonnet_4_20250514', 'outcome', 'ok', 'latency_ms', mod(g, 3000))) b
        FROM generate_series(1, %s) g GROUP BY mod(g, 1000)) s$q$,
    1000000);
EOF
for mode in on off; do
    breaker $mode
    collect <<EOF
SELECT 'us_mf_$mode=' || bench.per_call_us(
    \$q\$SELECT count(modelflags.model_for('code_generations', 'User:' || g)) FROM generate_series(1, %s) g\$q\$,
    \$q\$SELECT count(textcat('code_generations', 'User:' || g)) FROM generate_series(1, %s) g\$q\$, 1000000);
EOF
done
breaker on
# The default route's model open: the skip, and the fallback chosen.
collect <<'EOF'
SELECT count(modelflags.report('code_generations', 'claude_sonnet_4_20250514', 'error', 1000)) FROM generate_series(1, 5);
SELECT 'us_mf_open=' || bench.per_call_us(
    $q$SELECT count(modelflags.model_for('code_generations', 'User:' || g)) FROM generate_series(1, %s) g$q$,
    $q$SELECT count(textcat('code_generations', 'User:' || g)) FROM generate_series(1, %s) g$q$, 1000000);
EOF
psqlq -c "SELECT modelflags.health_reset()" >/dev/null
R[r_mf_onoff]=$(calc "${R[us_mf_on]} / ${R[us_mf_off]}")
log "  report ${R[us_report]} µs, report_batch ${R[us_report_batch]} µs per report; model_for on ${R[us_mf_on]} µs, off ${R[us_mf_off]} µs"

log "3. failover delay"
# An actor whom code_generations sends to its default route (not in the 25% migration).
actor=$("$PGBIN/psql" -X -At -c "SELECT a FROM generate_series(1, 1000) g, LATERAL (SELECT 'User:' || g AS a) x
                                  WHERE (modelflags.model_for('code_generations', a)).model = 'claude_sonnet_4_20250514'
                                  ORDER BY g LIMIT 1")
# Same session: report errors one at a time, ask model_for after each.
out=$("$PGBIN/psql" -X -q -At -c "SELECT modelflags.health_reset()" -c "
DO \$\$
DECLARE t0 timestamptz; t1 timestamptz; m text;
BEGIN
    FOR i IN 1 .. 10 LOOP
        t0 := clock_timestamp();
        PERFORM modelflags.report('code_generations', 'claude_sonnet_4_20250514', 'error', 1200);
        t1 := clock_timestamp();
        SELECT model INTO m FROM modelflags.model_for('code_generations', '$actor');
        IF m <> 'claude_sonnet_4_20250514' THEN
            RAISE NOTICE 'reports_to_reroute=%', i;
            RAISE NOTICE 'us_crossing_report=%', round(1e6 * extract(epoch FROM t1 - t0));
            RAISE NOTICE 'us_rerouted_call=%', round(1e6 * extract(epoch FROM clock_timestamp() - t1), 1);
            EXIT;
        END IF;
    END LOOP;
END \$\$" 2>&1)
R[reports_to_reroute]=$(sed -n 's/.*reports_to_reroute=\([0-9]*\).*/\1/p' <<< "$out")
R[us_crossing_report]=$(sed -n 's/.*us_crossing_report=\([0-9.]*\).*/\1/p' <<< "$out")
R[us_rerouted_call]=$(sed -n 's/.*us_rerouted_call=\([0-9.]*\).*/\1/p' <<< "$out")
# Another session polls model_for while this one reports: from the end of the
# crossing report to the poller's first rerouted answer, and how many answers
# in between still named the failing model.
psqlq -c "SELECT modelflags.health_reset()" >/dev/null
"$PGBIN/psql" -X -q -At -c "SET statement_timeout = '30s'" -c "
DO \$\$
DECLARE m text; n bigint := 0;
BEGIN
    LOOP
        SELECT model INTO m FROM modelflags.model_for('code_generations', '$actor');
        EXIT WHEN m <> 'claude_sonnet_4_20250514';
        n := n + 1;
    END LOOP;
    RAISE NOTICE 'poller_rerouted_at=% polls=%', extract(epoch FROM clock_timestamp()), n;
END \$\$" >"$work/poller.out" 2>&1 &
poller=$!
sleep 1
"$PGBIN/psql" -X -q -At -c "SELECT 'reporter_done_at=' || max(t) FROM (SELECT extract(epoch FROM clock_timestamp()) AS t,
        modelflags.report('code_generations', 'claude_sonnet_4_20250514', 'error', 1200) FROM generate_series(1, 5)) s" \
    >"$work/reporter.out" 2>&1
wait $poller
done_at=$(sed -n 's/^reporter_done_at=//p' "$work/reporter.out")
rerouted_at=$(sed -n 's/.*poller_rerouted_at=\([0-9.]*\).*/\1/p' "$work/poller.out")
R[us_reroute_other]=$(calc "($rerouted_at - $done_at) * 1e6")
psqlq -c "SELECT modelflags.health_reset()" >/dev/null
log "  same session: rerouted after report ${R[reports_to_reroute]} (the 5th crosses the threshold); that report ${R[us_crossing_report]} µs, the rerouted model_for ${R[us_rerouted_call]} µs"
log "  other session: first rerouted answer $(fmt "${R[us_reroute_other]}" 0) µs after the crossing report began"

# ---- the table
cat <<EOF

### Model health (bench/health.sh), PostgreSQL 15, $(nproc) cores, shared_preload_libraries = 'modelflags'

| measure | figure | against | ratio | goal | met? |
|---|---|---|---|---|---|
| pgbench tps, \`SELECT modelflags.report(...)\`, 2 clients into one model | $(grp "${R[tps_report_same]}") tps | \`SELECT 1\`: $(grp "${R[tps_select1]}") tps | $(fmt "${R[rt_report_same]}" 2)× | ≥ 0.90× | $(yes_no "${R[rt_report_same]}" ">=" 0.9) |
| … 2 clients into a model each (no shared entry) | $(grp "${R[tps_report_own]}") tps | \`SELECT 1\` | $(fmt "${R[rt_report_own]}" 2)× | (contention: same vs own) | |
| … CPU per transaction, server + pgbench, into one model | $(fmt "${R[cpu_report_same]}" 1) µs | \`SELECT 1\`: $(fmt "${R[cpu_select1]}" 1) µs | $(fmt "$(calc "${R[cpu_select1]} / ${R[cpu_report_same]}")" 2)× | ≥ 0.90× | $(yes_no "$(calc "${R[cpu_select1]} / ${R[cpu_report_same]}")" ">=" 0.9) |
| … the same statement with a trivial function (\`num_nulls\`, same arguments): the floor | $(grp "${R[tps_floor]}") tps, $(fmt "${R[cpu_floor]}" 1) µs CPU | \`SELECT 1\` | $(fmt "${R[rt_floor]}" 2)× | | |
| … report() against that floor | | | $(fmt "$(calc "${R[rt_report_same]} / ${R[rt_floor]}")" 2)× tps, $(fmt "$(calc "${R[cpu_floor]} / ${R[cpu_report_same]}")" 2)× CPU | | |
| µs per call in-backend, \`report()\` | $(fmt "${R[us_report]}" 3) | \`model_for\`, breaker on: $(fmt "${R[us_mf_on]}" 3) | $(fmt "$(calc "${R[us_report]} / ${R[us_mf_on]}")" 2)× | ≤ 1× model_for | $(yes_no "${R[us_report]}" "<=" "${R[us_mf_on]}") |
| µs per report in-backend, \`report_batch()\` of 1,000 | $(fmt "${R[us_report_batch]}" 3) | | | (report) | |
| µs per call in-backend, \`model_for\`, health checks on | $(fmt "${R[us_mf_on]}" 3) | off: $(fmt "${R[us_mf_off]}" 3) | $(fmt "${R[r_mf_onoff]}" 2)× | ≤ 1.10× | $(yes_no "${R[r_mf_onoff]}" "<=" 1.1) |
| pgbench tps, \`SELECT (model_for(...)).model\`, health checks on | $(grp "${R[tps_mf_on]}") tps | off: $(grp "${R[tps_mf_off]}") tps | $(fmt "${R[rt_mf_onoff]}" 2)× off/on | ≤ 1.10× | $(yes_no "${R[rt_mf_onoff]}" "<=" 1.1) |
| … CPU per transaction, on / off | $(fmt "${R[cpu_mf_on]}" 1) µs | $(fmt "${R[cpu_mf_off]}" 1) µs | $(fmt "${R[cpu_mf_onoff]}" 2)× | ≤ 1.10× | $(yes_no "${R[cpu_mf_onoff]}" "<=" 1.1) |
| µs per call, \`model_for\` when the default route's model is open (skip, fallback route) | $(fmt "${R[us_mf_open]}" 3) | closed: $(fmt "${R[us_mf_on]}" 3) | $(fmt "$(calc "${R[us_mf_open]} / ${R[us_mf_on]}")" 2)× | (report) | |
| reports until model_for routes around a failing model (5 in a row open it) | ${R[reports_to_reroute]} | | | the next call after the 5th | $([ "${R[reports_to_reroute]}" = 5 ] && echo yes || echo "**no**") |
| … µs of the crossing report (it queues the transition and wakes the recorder), same session | ${R[us_crossing_report]} | | | (report) | |
| … µs of the next model_for, which routes around the model | ${R[us_rerouted_call]} | | | (report) | |
| … µs from the start of the crossing report to another session's first rerouted answer (a session polling model_for) | $(fmt "${R[us_reroute_other]}" 0) | | | (report) | |

How each figure is taken: pgbench rows are medians over ${ROUNDS} interleaved rounds of ${SECS} s
(\`-M prepared -c 2 -j 2\`), the ratio being the median of each round's ratio to \`SELECT 1\` (or to
breaker on); CPU per transaction is the least over rounds of the two backends' CPU (from the
postmaster's cutime/cstime once they exit) plus pgbench's, per transaction. In-backend µs per call is
one statement making 1,000,000 calls minus the same statement calling \`num_nulls\`/\`textcat\` with the
same arguments, fastest of 5 after a warm-up, on-CPU time (/proc/self/schedstat). "Health checks off"
is \`modelflags.breaker = off\` in the same preloaded server: model_for then runs no health code at all,
as without preload. The other session's delay is the difference of two \`clock_timestamp()\`s taken in
two backends (the crossing report's statement end, the poller's first rerouted answer).
EOF
