#!/usr/bin/env bash
# bench/run.sh — the modelflags benchmark (SPEC §5, issues 3 and 9), one command:
#
#     bash bench/run.sh            # BENCH_SECONDS=8 BENCH_ROUNDS=3 by default
#
# Installs what it needs (Debian 12, as root), builds this checkout into a
# private copy of PostgreSQL 15 (BENCH_PGROOT, /tmp/modelflags-bench-pg),
# starts a throw-away cluster from it, and measures, side by side,
# modelflags.model_for against bench_plpgsql.model_for (the PL/pgSQL router
# of bench/plpgsql_router.sql, over the same tables):
#   1. pgbench -M prepared -c 2 -j 2: SELECT 1, model_for, the PL/pgSQL
#      router; tps of each and ratio to SELECT 1 (medians over BENCH_ROUNDS
#      interleaved rounds of BENCH_SECONDS runs), and CPU per transaction;
#   2. in-backend µs per call: one statement making 1,000,000 calls (20,000
#      for the PL/pgSQL router), minus the same statement calling textcat()
#      with the same arguments, fastest of 5 after a warm-up, on-CPU time;
#   3. both again on the large set (bench/data_large.sql: 10,000 flags,
#      1,000 features, 1,000,000 actor gates);
#   4. the first call after a committed change on the large set;
#   5. backend memory after routing every feature once on the large set;
#   6. the 1,000,000-row actor-gate INSERT, with its audit rows and NOTIFY;
# and ends with a markdown table: measure | modelflags | baseline | ratio | goal | met?
# Then bench/incremental.sh (issue 9) measures what a change costs the
# readers, with incremental caches and with 1.0's full rebuild, and prints
# its own tables: the first call after a change, reader throughput under
# writes, propagation of a failover flip, memory of 200 and 500 backends.
# BENCH_PARTS="base incremental" (the default) chooses the parts; the large
# set is loaded either way.  Takes about 13 minutes on the 2-core development
# machine (6 for the base part).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
SECS=${BENCH_SECONDS:-8}
ROUNDS=${BENCH_ROUNDS:-3}
PARTS=${BENCH_PARTS:-base incremental}
PGROOT=${BENCH_PGROOT:-/tmp/modelflags-bench-pg}
started=$(date +%s)
. bench/lib.sh

part() { [[ " $PARTS " == *" $1 "* ]]; }

bash test/install-deps.sh          # the suite's installer: one list of packages

# A private PostgreSQL: this checkout built and installed into a copy of the
# server's tree (test/fuzz/pgserver.sh's fz_private_install), so that a run of
# many minutes neither takes the shared install lock nor measures whatever
# another checkout installed system-wide meanwhile.  One bench at a time per
# copy: they would disturb each other's figures anyway.
exec 9>"$PGROOT.lock"
flock -n 9 || { log "waiting for another bench run ($PGROOT.lock)"; flock 9; }
log "building and installing the extension into $PGROOT"
# (FZ_PRIVATE_ROOT set on its own line: a prefix assignment to "." would
# not outlive the sourcing, and the fuzzers' default root would be used)
FZ_PRIVATE_ROOT=$PGROOT
# shellcheck source=../test/fuzz/pgserver.sh
. test/fuzz/pgserver.sh
fz_private_install >/tmp/modelflags-bench-build.log 2>&1 || { cat /tmp/modelflags-bench-build.log >&2; exit 1; }
[[ $PGBIN == "$PGROOT"/* ]] || { echo "installed into $PGBIN, not under $PGROOT" >&2; exit 1; }
log "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# A throw-away cluster run by the postgres user from those binaries, on a
# Unix socket in its own directory, removed on exit.  fsync is off (as in
# pg_virtualenv clusters); shared_buffers holds the large set; 600
# connections for the memory figures of bench/incremental.sh.  Autovacuum
# is off so that no worker runs during a measurement; VACUUM ANALYZE runs
# after loading.
srv=$(mktemp -d /tmp/modelflags-bench-srv.XXXXXX)
chmod 755 "$srv"
[ "$(id -u)" = 0 ] && chown postgres: "$srv"
stop_server() {
    if [ -f "$srv/data/postmaster.pid" ]; then
        fz_as_pg "$PGBIN/pg_ctl" -D "$srv/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
            fz_as_pg "$PGBIN/pg_ctl" -D "$srv/data" -m immediate -w stop >/dev/null 2>&1
    fi
    rm -rf "$srv"
}
trap stop_server EXIT
trap 'exit 130' INT TERM
fz_as_pg "$PGBIN/initdb" -D "$srv/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C.UTF-8 \
    >"$srv/initdb.log" 2>&1 || { cat "$srv/initdb.log" >&2; exit 1; }
cat >>"$srv/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$srv'
port = 5439
max_connections = 600
shared_buffers = 1GB
max_wal_size = 8GB
checkpoint_timeout = 1h
work_mem = 64MB
autovacuum = off
fsync = off
EOF
fz_as_pg "$PGBIN/pg_ctl" -D "$srv/data" -l "$srv/server.log" -w -t 60 start >/dev/null \
    || { tail -n 30 "$srv/server.log" >&2; exit 1; }
export PGHOST=$srv PGPORT=5439 PGUSER=postgres PGDATABASE=postgres PGBIN

# ---------------------------------------------------------------- measurements
work=$(mktemp -d /tmp/modelflags-bench.XXXXXX)
chmod 755 "$work"
declare -A R                  # results: key -> value (bench/lib.sh's collect)

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
log "server: $("$PGBIN/psql" -X -At -c 'SELECT version()')"
psqlq -c 'CREATE EXTENSION modelflags'
psqlq -f bench/harness.sql
log "loading the tiny data set (bench/data_small.sql)"
psqlq -f bench/data_small.sql
log "installing the PL/pgSQL router and asserting it answers as model_for"
psqlq -At -f bench/plpgsql_router.sql | sed 's/^/    pairs compared on the tiny set, all the same: /' >&2

# ---- pgbench scripts
cat > "$work/select1.sql" <<'EOF'
\set uid random(1, 5000000)
SELECT 1;
EOF
# The same eight columns as a constant, with the same actor parameter: what
# any implementation of model_for costs at the least.
cat > "$work/constrow.sql" <<'EOF'
\set uid random(1, 5000000)
SELECT * FROM (VALUES ('claude_sonnet_4_20250514'::text, 'anthropic'::text,
    '{"model": "claude-sonnet-4-20250514", "timeout": 60, "max_tokens": 2048, "max_retries": 1, "temperature": 0.0}'::jsonb,
    NULL::text, 'default'::text, 2, 0, false)) AS v(model, provider, params, flag, gate, "position", skipped, degraded)
 WHERE 'User:' || :uid <> '';
EOF
cat > "$work/mf_tiny.sql" <<'EOF'
\set uid random(1, 5000000)
SELECT * FROM modelflags.model_for('code_generations', 'User:' || :uid);
EOF
sed 's/modelflags\.model_for/bench_plpgsql.model_for/' "$work/mf_tiny.sql" > "$work/pl_tiny.sql"
cat > "$work/mf_large.sql" <<'EOF'
\set uid random(1, 5000000)
\set f random(1, 1000)
SELECT * FROM modelflags.model_for('feature_' || :f, 'User:' || :uid);
EOF
sed 's/modelflags\.model_for/bench_plpgsql.model_for/' "$work/mf_large.sql" > "$work/pl_large.sql"

# The postmaster's children CPU time (its backends, once they exited), in ticks.
pm_pid=$("$PGBIN/psql" -X -At -c 'SHOW data_directory' | xargs -I{} head -1 {}/postmaster.pid)
tick=$(getconf CLK_TCK)
pm_ticks() { awk '{ print $16 + $17 }' "/proc/$pm_pid/stat"; }

# run_pgbench FILE: prints "tps server_us client_us": throughput, and the CPU
# time per transaction of the two backends (from the postmaster's cutime and
# cstime once they exited) and of pgbench itself (from the shell's times).
run_pgbench() {
    local before after out n tps client
    before=$(pm_ticks)
    out=$( { "$PGBIN/pgbench" -n -M prepared -c 2 -j 2 -T "$SECS" -f "$1" 2>&1; times; } )
    sleep 0.3                       # let the postmaster reap the backends
    after=$(pm_ticks)
    n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<< "$out")
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' <<< "$out")
    [ -n "$n" ] && [ -n "$tps" ] || { echo "$out" >&2; echo "pgbench failed on $1" >&2; exit 1; }
    client=$(tail -1 <<< "$out" | awk '{ split($1, u, "m"); split($2, s, "m"); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }')
    awk -v n="$n" -v tps="$tps" -v a="$after" -v b="$before" -v t="$tick" -v c="$client" \
        'BEGIN { printf "%s %.3f %.3f", tps, (a - b) / t * 1e6 / n, c * 1e6 / n }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# pgbench_set SET QUERIES...: ROUNDS rounds, each running every query once in
# turn (the first query is SELECT 1).  Keeps each query's median tps
# (R[tps_Q_SET]), the median over rounds of its tps over SELECT 1's in the same
# round (R[rt_Q_SET]: neighbouring runs share the machine's load), and its
# least CPU per transaction, server plus client (R[cpu_Q_SET]).
pgbench_set() {
    local set=$1 r q tps sv cl file; shift
    local -A all ratios
    for q in "$@"; do R[cpu_${q}_$set]=1e9; done
    for ((r = 1; r <= ROUNDS; r++)); do
        for q in "$@"; do
            file=$work/${q}_$set.sql
            [ -f "$file" ] || file=$work/$q.sql
            read -r tps sv cl <<< "$(run_pgbench "$file")"
            log "  pgbench $set round $r: $q $(grp "$tps") tps, CPU per transaction: server $(fmt "$sv" 1) µs + pgbench $(fmt "$cl" 1) µs"
            all[$q]="${all[$q]:-} $tps"
            [ "$q" = "$1" ] && R[tps_first_round]=$tps
            ratios[$q]="${ratios[$q]:-} $(calc "$tps / ${R[tps_first_round]}")"
            if awk -v a="$(calc "$sv + $cl")" -v b="${R[cpu_${q}_$set]}" 'BEGIN { exit !(a < b) }'; then
                R[cpu_${q}_$set]=$(calc "$sv + $cl")
            fi
        done
    done
    for q in "$@"; do
        # shellcheck disable=SC2086
        R[tps_${q}_$set]=$(median ${all[$q]})
        # shellcheck disable=SC2086
        R[rt_${q}_$set]=$(median ${ratios[$q]})
    done
}

# per_call SET FEATURE_EXPR KEY: µs per call, both routers, target-list and LATERAL forms.
per_call() {
    local set=$1 fexpr=$2
    collect <<EOF
SELECT 'us_mf_$set=' || bench.per_call_us(
    \$q\$SELECT count(modelflags.model_for($fexpr, 'User:' || g)) FROM generate_series(1, %s) g\$q\$,
    \$q\$SELECT count(textcat($fexpr, 'User:' || g)) FROM generate_series(1, %s) g\$q\$, 1000000);
SELECT 'us_pl_$set=' || bench.per_call_us(
    \$q\$SELECT count(bench_plpgsql.model_for($fexpr, 'User:' || g)) FROM generate_series(1, %s) g\$q\$,
    \$q\$SELECT count(textcat($fexpr, 'User:' || g)) FROM generate_series(1, %s) g\$q\$, 20000);
SELECT 'uslat_mf_$set=' || bench.per_call_us(
    \$q\$SELECT count(*) FROM generate_series(1, %s) g, LATERAL modelflags.model_for($fexpr, 'User:' || g) m\$q\$,
    \$q\$SELECT count(*) FROM generate_series(1, %s) g, LATERAL textcat($fexpr, 'User:' || g) m\$q\$, 1000000);
SELECT 'uslat_pl_$set=' || bench.per_call_us(
    \$q\$SELECT count(*) FROM generate_series(1, %s) g, LATERAL bench_plpgsql.model_for($fexpr, 'User:' || g) m\$q\$,
    \$q\$SELECT count(*) FROM generate_series(1, %s) g, LATERAL textcat($fexpr, 'User:' || g) m\$q\$, 20000);
EOF
    log "  µs/call $set: model_for ${R[us_mf_$set]} (LATERAL ${R[uslat_mf_$set]}), PL/pgSQL ${R[us_pl_$set]} (LATERAL ${R[uslat_pl_$set]})"
}

if part base; then
log "1. pgbench, tiny set (${ROUNDS} rounds of ${SECS}s per query)"
pgbench_set tiny select1 constrow mf pl
log "2. in-backend µs per call, tiny set"
per_call tiny "'code_generations'"
collect -c "SELECT FROM modelflags.model_for('code_generations', 'User:1')" \
        -c "SELECT 'cache_tiny=' || bench.cache_bytes()"

fi

log "6. bulk write: loading the large set, then 1,000,000 actor gates in one INSERT"
psqlq -f bench/data_large.sql
cat > "$work/bulk.sql" <<EOF
\\set ON_ERROR_STOP on
SELECT 'changes_before=' || count(*) FROM modelflags.changes WHERE table_name = 'flag_actors';
SELECT 'notify_queue_before=' || pg_notification_queue_usage();
LISTEN modelflags;
\\timing on
\\i $top/bench/data_large_actors.sql
\\timing off
SELECT 'changes_after=' || count(*) FROM modelflags.changes WHERE table_name = 'flag_actors';
SELECT 'actor_rows=' || count(*) FROM modelflags.flag_actors;
EOF
"$PGBIN/psql" -X -At -f "$work/bulk.sql" > "$work/bulk.out" 2>&1 || { cat "$work/bulk.out" >&2; exit 1; }
R[bulk_ms]=$(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' "$work/bulk.out" | head -1)
R[bulk_notifies]=$(grep -c '^Asynchronous notification "modelflags"' "$work/bulk.out" || true)
R[bulk_notify_rows]=$(sed -n 's/^Asynchronous notification "modelflags" with payload ".*"rows": \([0-9]*\).*/\1/p' "$work/bulk.out" | head -1)
for k in changes_before changes_after actor_rows; do
    R[$k]=$(sed -n "s/^$k=//p" "$work/bulk.out")
done
R[bulk_changes]=$(( ${R[changes_after]} - ${R[changes_before]} ))
log "  INSERT of 1,000,000 actor gates: $(fmt "$(calc "${R[bulk_ms]} / 1000")" 1) s, ${R[bulk_changes]} audit rows, ${R[bulk_notifies]} NOTIFY (rows: ${R[bulk_notify_rows]:-?})"
log "  VACUUM ANALYZE"
psqlq -c 'VACUUM ANALYZE' -c 'CHECKPOINT'
collect -c "SELECT 'large_flags=' || count(*) FROM modelflags.flags" \
        -c "SELECT 'large_features=' || count(*) FROM modelflags.features" \
        -c "SELECT 'large_routes=' || count(*) FROM modelflags.routes" \
        -c "SELECT 'large_actors=' || count(*) FROM modelflags.flag_actors"
log "  large set: ${R[large_flags]} flags, ${R[large_features]} features, ${R[large_routes]} routes, ${R[large_actors]} actor gates"
if part base; then
log "  asserting the two routers agree on the large set"
collect -c "SELECT 'pairs_large=' || bench_plpgsql.assert_same(300, 100, ARRAY['code_generations', 'code_completions',
        'duo_chat', 'feature_1', 'feature_2', 'feature_3', 'feature_6', 'feature_7', 'feature_50', 'feature_106',
        'feature_107', 'feature_500', 'feature_999', 'feature_1000'])"
log "  ${R[pairs_large]} (feature, actor) pairs compared, all the same"

log "3. the same on the large set"
pgbench_set large select1 mf pl
per_call large "'code_generations'"
per_call largeall "'feature_' || (mod(g, 1000) + 1)"
per_call largebig "'feature_1'"

log "4. first call after a committed change (large set)"
allq="SELECT count(*) FROM modelflags.features f, LATERAL modelflags.model_for(f.name, 'User:42') m"
allq_pl="SELECT count(*) FROM modelflags.features f, LATERAL bench_plpgsql.model_for(f.name, 'User:42') m"
q_small="SELECT * FROM modelflags.model_for('code_generations', 'User:42')"
q_big="SELECT * FROM modelflags.model_for('feature_1', 'User:42')"
q_pl="SELECT * FROM bench_plpgsql.model_for('code_generations', 'User:42')"
change="\\! $PGBIN/psql -X -q -c \"UPDATE modelflags.flags SET description = 'changed ' || clock_timestamp() WHERE name = 'flag_9999'\""
# first KEY QUERY: the least wall time of QUERY's first call after a change, over 3 changes.
first() {
    local i
    for i in 1 2 3; do
        echo "$change"
        echo "SELECT '$1_$i=' || bench.once_ms(\$q\$$2\$q\$);"
    done
}
collect <<EOF
SELECT 'warm_all_ms=' || bench.once_ms(\$q\$$allq\$q\$);
SELECT 'steady_small_ms=' || bench.best_ms(\$q\$$q_small\$q\$, 20);
$(first first_small "$q_small")
SELECT 'steady_big_ms=' || bench.best_ms(\$q\$$q_big\$q\$, 20);
$(first first_big "$q_big")
SELECT 'steady_all_ms=' || bench.best_ms(\$q\$$allq\$q\$, 3);
$(first first_all "$allq")
SELECT 'pl_warm_all_ms=' || bench.once_ms(\$q\$$allq_pl\$q\$);
SELECT 'pl_steady_small_ms=' || bench.best_ms(\$q\$$q_pl\$q\$, 20);
$(first pl_first_small "$q_pl")
SELECT 'pl_steady_all_ms=' || bench.best_ms(\$q\$$allq_pl\$q\$, 3);
EOF
for k in first_small first_big first_all pl_first_small; do
    R[${k}_ms]=$(printf '%s\n' "${R[${k}_1]}" "${R[${k}_2]}" "${R[${k}_3]}" | sort -g | head -1)
done
log "  code_generations: first call ${R[first_small_ms]} ms, steady ${R[steady_small_ms]} ms; feature_1 (200k actor gates): first ${R[first_big_ms]} ms, steady ${R[steady_big_ms]} ms"
log "  every feature once: first ${R[first_all_ms]} ms, steady ${R[steady_all_ms]} ms (PL/pgSQL steady ${R[pl_steady_all_ms]} ms)"

log "5. backend memory after routing every feature once (large set, fresh backends)"
for impl in mf pl; do
    q=$allq; [ "$impl" = pl ] && q=$allq_pl
    collect <<EOF
SELECT FROM (SELECT bench.once_ms('SELECT 1'), bench.backend_bytes(), bench.cache_bytes()) s;
SELECT bench.backend_bytes() AS b0 \\gset
SELECT 'mem_cold_ms_$impl=' || bench.once_ms(\$q\$$q\$q\$);
SELECT 'mem_growth_$impl=' || (bench.backend_bytes() - :b0);
SELECT 'cache_large_$impl=' || bench.cache_bytes();
EOF
done
log "  growth: model_for $(grp "${R[mem_growth_mf]}") B (cache context $(grp "${R[cache_large_mf]}") B), PL/pgSQL $(grp "${R[mem_growth_pl]}") B"

fi

if part incremental; then
    BENCH_WORK=$work INC_PHASE_SECONDS=${INC_PHASE_SECONDS:-$SECS} bash bench/incremental.sh > "$work/incremental.md"
    # The memory figures again with the library preloaded, as model health
    # needs it: large actor sets' Bloom filters are then kept once per
    # server (src/shared_filters.c).  Last, since it restarts the server.
    if [[ " ${INC_PARTS:-memory} " == *" memory "* ]]; then
        log "restarting the server with shared_preload_libraries = 'modelflags' for the memory figures"
        echo "shared_preload_libraries = 'modelflags'" >>"$srv/data/postgresql.conf"
        fz_as_pg "$PGBIN/pg_ctl" -D "$srv/data" -l "$srv/server.log" -m fast -w -t 120 restart >/dev/null \
            || { tail -n 30 "$srv/server.log" >&2; exit 1; }
        mkdir -p "$work/preloaded"
        BENCH_WORK=$work/preloaded INC_PARTS=memory bash bench/incremental.sh >> "$work/incremental.md"
    fi
fi

# ---------------------------------------------------------------- the table
if part base; then
mb() { fmt "$(calc "$1 / 1048576")" 2; }
# pgbench rows: tps ratio to SELECT 1 (median of rounds), and the same ratio from CPU per transaction.
for set in tiny large; do
    for q in mf pl constrow; do
        [ -n "${R[tps_${q}_$set]:-}" ] || continue
        R[rc_${q}_$set]=$(calc "${R[cpu_select1_$set]} / ${R[cpu_${q}_$set]}")
    done
done
x_tiny=$(calc "${R[us_pl_tiny]} / ${R[us_mf_tiny]}")
x_large=$(calc "${R[us_pl_large]} / ${R[us_mf_large]}")
x_all=$(calc "${R[us_pl_largeall]} / ${R[us_mf_largeall]}")
x_big=$(calc "${R[us_pl_largebig]} / ${R[us_mf_largebig]}")
tps_cell() { echo "$(grp "${R[tps_$1_$2]}") tps = $(fmt "${R[rt_$1_$2]}" 2)× SELECT 1"; }
cpu_cell() { echo "$(fmt "${R[cpu_$1_$2]}" 1) µs = $(fmt "${R[rc_$1_$2]}" 2)× SELECT 1"; }
{
echo
echo "modelflags benchmark, $(date -u +%Y-%m-%d), PostgreSQL $("$PGBIN/psql" -X -At -c 'SHOW server_version'), $(nproc) cores, load average before/after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg); pgbench $ROUNDS rounds × ${SECS}s"
echo
echo "| measure | modelflags | baseline (PL/pgSQL router) | ratio | goal | met? |"
echo "|---|---|---|---|---|---|"
echo "| pgbench tps, tiny set (SELECT 1: $(grp "${R[tps_select1_tiny]}") tps) | $(tps_cell mf tiny) | $(tps_cell pl tiny) | $(fmt "$(calc "${R[tps_mf_tiny]} / ${R[tps_pl_tiny]}")" 1)× | ≥ 0.90× SELECT 1 | $(ok "${R[rt_mf_tiny]} >= 0.9") |"
echo "| … CPU per transaction, server + pgbench (SELECT 1: $(fmt "${R[cpu_select1_tiny]}" 1) µs; the same 8 columns as a constant, with the actor parameter: $(cpu_cell constrow tiny)) | $(cpu_cell mf tiny) | $(cpu_cell pl tiny) | $(fmt "$(calc "${R[cpu_pl_tiny]} / ${R[cpu_mf_tiny]}")" 1)× | ≥ 0.90× SELECT 1 | $(ok "${R[rc_mf_tiny]} >= 0.9") |"
echo "| µs per call in-backend, tiny set | $(fmt "${R[us_mf_tiny]}" 3) | $(fmt "${R[us_pl_tiny]}" 1) | $(fmt "$x_tiny" 0)× | ≤ 1 µs, ≥ 30× | $(ok "${R[us_mf_tiny]} <= 1 && $x_tiny >= 30") |"
echo "| pgbench tps, large set, random feature (SELECT 1: $(grp "${R[tps_select1_large]}") tps) | $(tps_cell mf large) | $(tps_cell pl large) | $(fmt "$(calc "${R[tps_mf_large]} / ${R[tps_pl_large]}")" 1)× | ≥ 0.90× SELECT 1 | $(ok "${R[rt_mf_large]} >= 0.9") |"
echo "| … CPU per transaction (SELECT 1: $(fmt "${R[cpu_select1_large]}" 1) µs) | $(cpu_cell mf large) | $(cpu_cell pl large) | $(fmt "$(calc "${R[cpu_pl_large]} / ${R[cpu_mf_large]}")" 1)× | ≥ 0.90× SELECT 1 | $(ok "${R[rc_mf_large]} >= 0.9") |"
echo "| µs per call, large set, code_generations | $(fmt "${R[us_mf_large]}" 3) ($(fmt "$(calc "${R[us_mf_large]} / ${R[us_mf_tiny]}")" 2)× tiny) | $(fmt "${R[us_pl_large]}" 1) | $(fmt "$x_large" 0)× | ≤ 2× tiny, ≥ 30× | $(ok "${R[us_mf_large]} <= 2 * ${R[us_mf_tiny]} && $x_large >= 30") |"
echo "| µs per call, large set, all 1,000 features in turn | $(fmt "${R[us_mf_largeall]}" 3) ($(fmt "$(calc "${R[us_mf_largeall]} / ${R[us_mf_tiny]}")" 2)× tiny) | $(fmt "${R[us_pl_largeall]}" 1) | $(fmt "$x_all" 0)× | ≤ 2× tiny, ≥ 30× | $(ok "${R[us_mf_largeall]} <= 2 * ${R[us_mf_tiny]} && $x_all >= 30") |"
echo "| µs per call, large set, feature_1 (its flag has 200,000 actor gates) | $(fmt "${R[us_mf_largebig]}" 3) ($(fmt "$(calc "${R[us_mf_largebig]} / ${R[us_mf_tiny]}")" 2)× tiny) | $(fmt "${R[us_pl_largebig]}" 1) | $(fmt "$x_big" 0)× | ≤ 2× tiny, ≥ 30× | $(ok "${R[us_mf_largebig]} <= 2 * ${R[us_mf_tiny]} && $x_big >= 30") |"
echo "| first call after a change, large set, code_generations (steady state: $(fmt "${R[steady_small_ms]}" 3) ms) | $(fmt "${R[first_small_ms]}" 2) ms | $(fmt "${R[pl_first_small_ms]}" 2) ms (steady state $(fmt "${R[pl_steady_small_ms]}" 3) ms) | | (report) | |"
echo "| first call after a change, large set, feature_1 (200,000 actor gates; steady state $(fmt "${R[steady_big_ms]}" 3) ms) | $(fmt "${R[first_big_ms]}" 2) ms | | | (report) | |"
echo "| routing all 1,000 features once, first time after a change (steady state: $(fmt "${R[steady_all_ms]}" 1) ms) | $(fmt "${R[first_all_ms]}" 1) ms | $(fmt "${R[pl_steady_all_ms]}" 1) ms (steady state) | | (report) | |"
echo "| routing cache context, tiny set | $(grp "${R[cache_tiny]}") B | | | | |"
echo "| backend memory growth after routing every feature once, large set (routing cache context: $(mb "${R[cache_large_mf]}") MB) | $(mb "${R[mem_growth_mf]}") MB | $(mb "${R[mem_growth_pl]}") MB | | < 8 MB | $(ok "${R[mem_growth_mf]} < 8388608") |"
echo "| INSERT 1,000,000 actor gates, one statement, audit + NOTIFY on | $(fmt "$(calc "${R[bulk_ms]} / 1000")" 1) s | | | seconds, not minutes | $(ok "${R[bulk_ms]} < 60000") |"
echo "| … its audit rows / NOTIFYs (rows in payload) | $(grp "${R[bulk_changes]}") / ${R[bulk_notifies]} ($(grp "${R[bulk_notify_rows]:-0}")) | | | 1,000,000 / 1 | $(ok "${R[bulk_changes]} == 1000000 && ${R[bulk_notifies]} == 1") |"
echo
echo "- pgbench: -n -M prepared -c 2 -j 2 -T $SECS, actor 'User:' || random(1, 5000000) (the large-set runs also pick"
echo "  feature_ || random(1, 1000); each run opens new connections, so it includes each backend's first build of"
echo "  the routing cache and loading of actor gates).  $ROUNDS rounds, each running every query once in turn; tps is the"
echo "  median over rounds, and its ratio the median of the per-round ratios to SELECT 1.  CPU per transaction = CPU"
echo "  time of the two backends (the postmaster's cutime + cstime after they exit) plus pgbench's, divided by"
echo "  transactions, least of the rounds: on a CPU-bound 2-core machine tps ∝ 1 / CPU per transaction, and CPU time"
echo "  is far less disturbed than tps by other load on the machine."
echo "- µs per call: (fastest of 5 runs of SELECT count(f(feature, 'User:' || g)) FROM generate_series(1, N) g, minus"
echo "  the same with textcat(feature, 'User:' || g)) / N, with N = 1,000,000 for model_for and 20,000 for the PL/pgSQL"
echo "  router, jit off.  In-backend times are the backend's on-CPU time (/proc/self/schedstat) around an EXECUTE, so"
echo "  waiting for a CPU behind other work does not count.  The LATERAL form (FROM generate_series(1, N) g,"
echo "  LATERAL f(...), minus LATERAL textcat(...)) gives: tiny $(fmt "${R[uslat_mf_tiny]}" 3) vs $(fmt "${R[uslat_pl_tiny]}" 1) µs; large code_generations"
echo "  $(fmt "${R[uslat_mf_large]}" 3) vs $(fmt "${R[uslat_pl_large]}" 1); large all features $(fmt "${R[uslat_mf_largeall]}" 3) vs $(fmt "${R[uslat_pl_largeall]}" 1); feature_1 $(fmt "${R[uslat_mf_largebig]}" 3) vs $(fmt "${R[uslat_pl_largebig]}" 1)."
echo "- First call after a change: wall time of one call in the backend, in the transaction after another session"
echo "  committed an UPDATE of one flag (which invalidates every backend's routing cache), least of 3 such changes;"
echo "  steady state: fastest of 20 calls (3 for the 1,000 features), timed the same way."
echo "- Memory: sum of total_bytes over pg_backend_memory_contexts in a fresh backend, before and after routing every"
echo "  feature once for one actor (which loads the actor gates of every flag the routes use)."
} | tee "$work/table.md"
fi
if part incremental; then
    [ -n "${R[tps_select1_tiny]:-}" ] || echo "modelflags benchmark, $(date -u +%Y-%m-%d), PostgreSQL $("$PGBIN/psql" -X -At -c 'SHOW server_version'), $(nproc) cores, load average before/after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg)"
    tee -a "$work/table.md" < "$work/incremental.md"
fi
log "took $(( ($(date +%s) - started) / 60 )) min $(( ($(date +%s) - started) % 60 )) s; tables in $work/table.md"
