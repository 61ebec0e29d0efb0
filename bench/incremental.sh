#!/usr/bin/env bash
# bench/incremental.sh — what a change costs the readers (issue 9), each
# figure with incremental caches and with modelflags.incremental_cache = off
# (1.0's full rebuild after every change), in the same run, on the large set:
#   1. the first call after a committed change (a failover flip, a provider
#      outage, an actor gate added, a route changed) in a backend that had
#      routed every feature, against a steady-state call;
#   2. pgbench reader throughput (2 and 50 connections) while another session
#      flips one failover flag at 0, 1, 10 and 50 writes per second;
#   3. propagation of a failover flip to 50 looping readers: stale answers,
#      and the time from COMMIT to each reader's first new answer;
#   4. memory of 200 and 500 idle backends that routed every feature, and of
#      as many that ran SELECT 1.
# Run by bench/run.sh once the large set is loaded (bench/data_large*.sql),
# with PGBIN, PGHOST, PGPORT, PGUSER and PGDATABASE pointing at its server
# (a superuser: pgbench and psql read /proc of the backends through it, and
# bench/mfclient reads /proc/PID/smaps_rollup, so it runs on the server's
# machine as root or the server's user).  Prints markdown tables on stdout,
# progress on stderr.  Settings: INC_PHASE_SECONDS (8) per write rate,
# INC_FLIPS (10) measured failover flips per mode, INC_MEMORY_STEPS (200,500).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
: "${PGBIN:?run by bench/run.sh}"
PHASE=${INC_PHASE_SECONDS:-8}
FLIPS=${INC_FLIPS:-10}
MEM_STEPS=${INC_MEMORY_STEPS:-200,500}
PARTS=${INC_PARTS:-first propagation throughput memory}   # a subset, to look at one part
RATES="0 1 10 50 0 50 10 1 0"   # writes per second, one phase each (throughput)
part() { [[ " $PARTS " == *" $1 "* ]]; }
OFF='-c modelflags.incremental_cache=off'
# logs and outputs stay there (run.sh passes its own log directory)
work=${BENCH_WORK:-$(mktemp -d /tmp/modelflags-bench.XXXXXX)}/incremental
mkdir -p "$work"
declare -A R
pgb_pid=
probe_pid=

cleanup() {
    local p
    for p in $pgb_pid $probe_pid; do
        kill -TERM "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
}
trap cleanup EXIT
# collect_kv PROGRAM...: its key=value lines, prefixed, into R.
collect_kv() {
    local prefix=$1 line; shift
    while IFS= read -r line; do
        [[ $line =~ ^([a-z0-9_]+)=(.*)$ ]] && R[${prefix}${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
    done < <("$@")
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mode_name() { [ "$1" = inc ] && echo "incremental" || echo "full rebuild (off)"; }
mode_opts() { [ "$1" = inc ] && echo "" || echo "$OFF"; }

log "incremental: preparing (failover flags off and without actor gates, the writer)"
"$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -f bench/incremental.sql >/dev/null
gcc -O2 -Wall -o "$work/mfclient" bench/mfclient.c -I"$(pg_config --includedir)" -L"$(pg_config --libdir)" -lpq

# Route every feature once: the readers' warm-up, and what the memory part runs.
allq="SELECT count(*) FROM (SELECT (modelflags.model_for('feature_' || i, 'User:' || i)).model FROM generate_series(1, 1000) i) s"

# ------------------------------------------------------------------ 1. first call
if part first; then
log "7. first call after a committed change, in a backend that routed every feature (large set)"
q500="SELECT * FROM modelflags.model_for('feature_500', 'User:42')"
# An even number of each: the flips, the outages and the route changes each
# undo the one before, and the data ends as it began.
REPS=${INC_FIRST_REPS:-20}   # even (medians of 6 moved by up to 40% between runs)
declare -A CHANGE=(
    [flip]="SELECT modelflags.set_flag('incident_fail_over_f500', NOT coalesce((SELECT enabled FROM modelflags.flags WHERE name = 'incident_fail_over_f500'), false))"
    [outage]="SELECT modelflags.set_provider('fireworks_ai', NOT (SELECT available FROM modelflags.providers WHERE name = 'fireworks_ai'))"
    [actor]="SELECT modelflags.set_actor('migrate_f500', 'User:' || (9000000 + (SELECT count(*) FROM modelflags.changes)), true)"
    [route]="UPDATE modelflags.routes SET model = CASE model WHEN 'model_3' THEN 'model_6' ELSE 'model_3' END WHERE feature = 'feature_500' AND position = 2"
)
KINDS="flip outage actor route"
# As bench/data_large.sql made them (a run stopped half-way may have left
# them otherwise): route 2 of feature_500 on model_3 (anthropic, never
# down here), so that it answers through every outage of fireworks_ai.
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -c "SELECT modelflags.set_provider('fireworks_ai', true)" \
    -c "UPDATE modelflags.routes SET model = 'model_3' WHERE feature = 'feature_500' AND position = 2 AND model <> 'model_3'" >/dev/null
for mode in inc off; do
    {
        echo "SELECT 'warm_ms=' || bench.once_ms(\$q\$$allq\$q\$);"
        echo "SELECT 'steady_${mode}_ms=' || bench.best_ms(\$q\$$q500\$q\$, 20);"
        echo "SELECT 'probe_ms=' || bench.best_ms(\$q\$SELECT 1 FROM modelflags.flags WHERE name = 'incident_fail_over_f500'\$q\$, 20);"
    } > "$work/steady_$mode.sql"
    PGOPTIONS=$(mode_opts $mode) collect -f "$work/steady_$mode.sql"
    args=()
    for k in $KINDS; do args+=("$k=${CHANGE[$k]}"); done
    PGOPTIONS=$(mode_opts $mode) collect_kv "" "$work/mfclient" first "$REPS" "$allq" "$q500" "${args[@]}"
    for k in $KINDS; do
        for what in first base; do
            vals=()
            for ((i = 1; i <= REPS; i++)); do vals+=("${R[${what}_${k}_$i]}"); done
            R[${what}_${mode}_${k}]=$(median "${vals[@]}")
            R[${what}_${mode}_${k}_min]=$(printf '%s\n' "${vals[@]}" | sort -g | head -1)
            R[${what}_${mode}_${k}_max]=$(printf '%s\n' "${vals[@]}" | sort -g | tail -1)
            [ "$what" = first ] && firsts="${vals[*]}"
        done
        R[how_${mode}_${k}]=${R[how_$k]}
        log "  $(mode_name $mode), $k: first call median $(fmt "${R[first_${mode}_${k}]}" 3) ms ($firsts), after the same work rolled back $(fmt "${R[base_${mode}_${k}]}" 3) ms; ${R[how_$k]}"
    done
    log "  $(mode_name $mode): steady state $(fmt "${R[steady_${mode}_ms]}" 3) ms, one primary-key probe $(fmt "${R[probe_ms]}" 3) ms"
done

fi

# ------------------------------------------------------------------ 3. propagation
if part propagation; then
log "8. propagation of a failover flip to 50 looping readers ($FLIPS flips per mode, 2 more as warm-up)"
for mode in inc off; do
    # two warm-up flips first, not timed: every backend has done its first
    # refresh (which fills catalog caches, of the change log say)
    PGOPTIONS=$(mode_opts $mode) "$work/mfclient" propagate 50 2 "$FLIPS" feature_500 incident_fail_over_f500 \
        > "$work/prop_$mode.out" 2> "$work/prop_$mode.err" || { cat "$work/prop_$mode.err" >&2; exit 1; }
    sed 's/^/  /' "$work/prop_$mode.err" >&2
    collect_kv "prop_${mode}_" cat "$work/prop_$mode.out"
    log "  $(mode_name $mode): stale readers ${R[prop_${mode}_stale_readers]}, median $(fmt "${R[prop_${mode}_median_ms]}" 2) ms, max $(fmt "${R[prop_${mode}_max_ms]}" 2) ms, readers' calls ${R[prop_${mode}_calls_per_s]}/s"
done

fi

# ------------------------------------------------------------------ 2. throughput
if part throughput; then
log "9. pgbench readers while one session flips failover flags (phases of ${PHASE}s: $(echo $RATES | sed 's/ /, /g') writes/s)"
cat > "$work/readers.sql" <<'EOF'
\if :warm = 0
SELECT count(*), nextval('bench.warmed') FROM (SELECT (modelflags.model_for('feature_' || i, 'User:' || i)).model FROM generate_series(1, 1000) i) s;
\set warm 1
\else
\set uid random(1, 5000000)
\set f random(1, 1000)
SELECT * FROM modelflags.model_for('feature_' || :f, 'User:' || :uid);
\endif
EOF
for ((i = 0; i < 3000; i++)); do
    echo "SELECT FROM modelflags.model_for('feature_' || (random() * 999 + 1)::int, 'User:42');"
    echo "SELECT extract(epoch FROM clock_timestamp()), builds, patches, last_refresh, last_refresh_reason FROM modelflags.cache_info();"
    echo "SELECT pg_sleep(0.2);"
done | grep -v '^$' > "$work/probe.sql"
# The CPU time, in clock ticks, of the server (the postmaster, its children,
# and those that exited) and of pgbench: on a saturated 2-core machine, tps is
# about 1 / CPU per transaction, and CPU time is far less disturbed than tps
# by other work on the machine.
pm_pid=$(head -1 "$("$PGBIN/psql" -X -At -c 'SHOW data_directory')/postmaster.pid")
tick=$(getconf CLK_TCK)
cpu_ticks() {
    local f sum=0 stat
    for f in /proc/[0-9]*/stat; do
        read -r stat 2>/dev/null < "$f" || continue
        # fields after the command: state ppid ... utime(14) stime(15) cutime cstime
        set -- ${stat##*) }
        if [ "$2" = "$pm_pid" ] || [ "${f#/proc/}" = "$pm_pid/stat" ] || [ "${f#/proc/}" = "$pgb_pid/stat" ]; then
            sum=$(( sum + ${12} + ${13} ))
            [ "${f#/proc/}" = "$pm_pid/stat" ] && sum=$(( sum + ${14} + ${15} ))
        fi
    done
    echo "$sum"
}
# throughput READERS MODE: one pgbench run; its first transaction in every
# connection routes every feature once (loading the actor sets that random
# features would otherwise load during the measurement); once all have, the
# writer runs one phase per rate (0, 1, 10, 50, 0 writes/s), each
# INC_PHASE_SECONDS long.  A phase's tps is the mean of pgbench's per-second
# progress over the phase, its first second left out; its CPU per
# transaction is the CPU time of the server and pgbench over the same
# seconds, divided by the transactions.
throughput() {
    local readers=$1 mode=$2 label="r$1_$2" warmed=0 t0 secs i rate wp c0 c1 s0 s1 ts te n tps
    secs=$(( 600 + 12 * PHASE ))
    "$PGBIN/psql" -X -q -c "ALTER SEQUENCE bench.warmed RESTART" -c "DELETE FROM bench.phases WHERE label LIKE '${label}_%'"
    # Every run starts from the same state: all failover flags off, the
    # writer at flag 1, so that each write turns one more flag on.  Left as
    # the previous run left them, some flags would be on while the readers
    # warm up (they would then never route through that feature's rollout
    # flag), and a write turning one off would make every reader load that
    # rollout flag's actor set for the first time — up to 200,000 actors
    # each — which is a first load, not what a change costs (README,
    # "Performance").
    "$PGBIN/psql" -X -q -c "SELECT count(modelflags.set_flag('incident_fail_over_f' || i, false, note => 'bench: failover flags off')) FROM generate_series(1, 1000) i" \
        -c "ALTER SEQUENCE bench.write_seq RESTART" >/dev/null
    t0=$(date +%s)
    PGOPTIONS=$(mode_opts "$mode") "$PGBIN/pgbench" -n -M prepared -c "$readers" -j 2 -T "$secs" -D warm=0 \
        -P 1 --progress-timestamp -f "$work/readers.sql" > "$work/pgbench_$label.out" 2>&1 &
    pgb_pid=$!
    while [ "$warmed" -lt "$readers" ]; do
        sleep 0.5
        kill -0 "$pgb_pid" 2>/dev/null || { cat "$work/pgbench_$label.out" >&2; echo "pgbench failed" >&2; exit 1; }
        warmed=$("$PGBIN/psql" -X -At -c "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM bench.warmed")
        [ $(( $(date +%s) - t0 )) -lt 300 ] || { echo "readers not warm after 300 s" >&2; exit 1; }
    done
    log "  $readers readers, $(mode_name "$mode"): warm after $(( $(date +%s) - t0 )) s"
    # A probe: one more reader, 5 calls a second, noting how its cache was
    # brought up to date (cache_info), to tell in the log what the readers do.
    PGOPTIONS=$(mode_opts "$mode") "$PGBIN/psql" -X -q -At -F '|' -f "$work/probe.sql" > "$work/probe_$label.out" 2>&1 &
    probe_pid=$!
    sleep 2
    i=0
    for rate in $RATES; do
        "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -c "CALL bench.writer('${label}_$i', '{$rate}', $PHASE)" &
        wp=$!
        sleep 1
        c0=$(cpu_ticks); s0=$(date +%s.%N)
        wait "$wp" || { echo "the writer failed" >&2; exit 1; }
        c1=$(cpu_ticks); s1=$(date +%s.%N)
        read -r ts te n < <("$PGBIN/psql" -X -At -F ' ' -c "SELECT t_start, t_end, writes FROM bench.phases WHERE label = '${label}_$i'")
        tps=$(awk -v a="$ts" -v b="$te" '
            /^progress: / { t = $2 + 0; v = $4 + 0; if (t - 1 >= a + 1 && t <= b + 0.05) { s += v; c++ } }
            END { if (c) printf "%.1f", s / c; else print "nan" }' "$work/pgbench_$label.out")
        [ "$tps" != nan ] || { cat "$work/pgbench_$label.out" >&2; echo "no pgbench progress in phase $i" >&2; exit 1; }
        R[tps_${label}_$i]=$tps
        R[cpu_${label}_$i]=$(calc "($c1 - $c0) / $tick * 1e6 / ($tps * ($s1 - $s0))")
        R[writes_${label}_$i]=$(calc "$n / ($te - $ts)")
        log "  $readers readers, $(mode_name "$mode"), $rate writes/s asked, $(fmt "${R[writes_${label}_$i]}" 1) done: $(grp "$tps") tps, CPU per transaction $(fmt "${R[cpu_${label}_$i]}" 1) µs (server + pgbench)"
        awk -F'|' -v a="$ts" -v b="$te" '$1 >= a && $1 <= b {
                if (!n++) { b0 = $2; p0 = $3 } b1 = $2; p1 = $3; how[$4 ($5 != "" ? " (" $5 ")" : "")]++ }
            END { printf "    probe: %d calls, %d full builds, %d deltas; last refresh seen:", n, b1 - b0, p1 - p0;
                  for (h in how) printf " %s ×%d;", h, how[h]; printf "\n" }' "$work/probe_$label.out" >&2
        i=$((i + 1))
    done
    kill -TERM "$pgb_pid" "$probe_pid" 2>/dev/null || true   # (a background job ignores SIGINT)
    wait "$pgb_pid" "$probe_pid" 2>/dev/null || true
    pgb_pid= probe_pid=
    # Each rate is measured twice, on the way up and on the way down, with
    # no writes before, between and after: a rate's figure is the mean of
    # its phases, the baseline the mean of the 0-writes phases, so that a
    # drift of the machine during the run weighs on both alike.
    local w j sum_t sum_c sum_w n
    for w in 0 1 10 50; do
        sum_t=0 sum_c=0 sum_w=0 n=0 j=0
        for rate in $RATES; do
            if [ "$rate" = "$w" ]; then
                sum_t=$(calc "$sum_t + ${R[tps_${label}_$j]}")
                sum_c=$(calc "$sum_c + ${R[cpu_${label}_$j]}")
                sum_w=$(calc "$sum_w + ${R[writes_${label}_$j]}")
                n=$((n + 1))
            fi
            j=$((j + 1))
        done
        R[tps_${label}_w$w]=$(calc "$sum_t / $n")
        R[cpu_${label}_w$w]=$(calc "$sum_c / $n")
        R[wr_${label}_w$w]=$(calc "$sum_w / $n")
    done
}
for readers in ${INC_READERS:-2 50}; do
    for mode in inc off; do
        throughput "$readers" "$mode"
    done
done

fi

# ------------------------------------------------------------------ 4. memory
if part memory; then
log "10. memory of idle backends ($MEM_STEPS), half with incremental caches, half off"
ulimit -n 4096 2>/dev/null || true
# Every failover flag off, as the throughput runs start: routing every
# feature then goes through every rollout flag and loads every actor set
# (the most memory; with a failover flag on, its feature's rollout set is
# never needed, and the figure would depend on what the runs before left on).
"$PGBIN/psql" -X -q -c "SELECT count(modelflags.set_flag('incident_fail_over_f' || i, false, note => 'bench: failover flags off')) FROM generate_series(1, 1000) i" >/dev/null
for what in routed select1; do
    q=$allq; flip=incident_fail_over_f500
    [ "$what" = select1 ] && { q="SELECT 1"; flip=; }
    "$work/mfclient" memory "$MEM_STEPS" "$q" $flip > "$work/mem_$what.out" 2> "$work/mem_$what.err" \
        || { cat "$work/mem_$what.err" >&2; exit 1; }
    sed 's/^/  /' "$work/mem_$what.err" >&2
    collect_kv "mem_${what}_" cat "$work/mem_$what.out"
done

fi

# ------------------------------------------------------------------ tables
kb_mb() { fmt "$(calc "$1 / 1024")" "${2:-2}"; }
{
echo
echo "### What a change costs the readers (issue 9): incremental caches vs 1.0's full rebuild (\`modelflags.incremental_cache = off\`)"
echo
echo "Large set (10,000 flags, 1,000 features, ~1,000,000 actor gates), same server and run."
echo
if part first; then
echo "**First call after a change committed by another session**, in a backend that had routed every feature"
echo "(\`model_for('feature_500', 'User:42')\`, timed in the backend; median of $REPS changes, min–max). Each is set against the"
echo "same call after the same writer's work rolled back (nothing changed, the same other backend's work on the same"
echo "two cores just before: the steady-state call as the first call meets it); goal: ≤ 2 × that + 3 primary-key probes"
echo "of \`flags\` by SQL ($(fmt "${R[probe_ms]}" 3) ms each, fastest of 20). Back-to-back calls with nothing in between are faster"
echo "(fastest of 20: incremental $(fmt "${R[steady_inc_ms]}" 3) ms, off $(fmt "${R[steady_off_ms]}" 3) ms); by that yardstick the budget would be"
strict=$(calc "2 * ${R[steady_inc_ms]} + 3 * ${R[probe_ms]}")
echo "$(fmt "$strict" 3) ms, shown in the last column:"
echo
echo "| change | incremental | after the same work rolled back | added by the change | how | full rebuild (off) | how | off / incremental | goal met? | ≤ $(fmt "$strict" 3) ms? |"
echo "|---|---|---|---|---|---|---|---|---|---|"
declare -A KIND_NAME=([flip]="failover flag flipped (set_flag)" [outage]="provider outage / back (set_provider)"
                      [actor]="actor gate added (set_actor)" [route]="route's model changed (UPDATE routes)")
for k in $KINDS; do
    budget=$(calc "2 * ${R[base_inc_$k]} + 3 * ${R[probe_ms]}")
    echo "| ${KIND_NAME[$k]} | $(fmt "${R[first_inc_$k]}" 3) ms ($(fmt "${R[first_inc_${k}_min]}" 3)–$(fmt "${R[first_inc_${k}_max]}" 3)) | $(fmt "${R[base_inc_$k]}" 3) ms | $(fmt "$(calc "${R[first_inc_$k]} - ${R[base_inc_$k]}")" 3) ms | ${R[how_inc_$k]} | $(fmt "${R[first_off_$k]}" 2) ms ($(fmt "${R[first_off_${k}_min]}" 2)–$(fmt "${R[first_off_${k}_max]}" 2)) | ${R[how_off_$k]} | $(fmt "$(calc "${R[first_off_$k]} / ${R[first_inc_$k]}")" 0)× | $(ok "${R[first_inc_$k]} <= $budget") (≤ $(fmt "$budget" 3)) | $(ok "${R[first_inc_$k]} <= $strict") |"
done
echo
fi
if part throughput; then
echo "**Reader throughput under writes**: pgbench -M prepared -j 2, \`model_for('feature_' || random(1, 1000), 'User:' || random(1, 5000000))\`,"
echo "while one session flips a failover flag (set_flag, N rotating over 1..1000) at a steady rate, in phases of ${PHASE}s at"
echo "$(echo $RATES | sed 's/ /, /g') writes/s; each rate's figure is the mean of its phases (up and down), the baseline the mean of"
echo "the three 0-writes phases. tps and its ratio to no writes, and the same ratio from CPU per transaction (server +"
echo "pgbench; no writes ÷ with writes), which other work on the machine disturbs far less:"
echo
echo "| readers | writes/s (done) | incremental tps | × no writes | by CPU | full rebuild (off) tps | × no writes | by CPU | goal: ≥ 0.8× (50 readers, 10 and 50 writes/s) |"
echo "|---|---|---|---|---|---|---|---|---|"
for readers in 2 50; do
    for w in 0 1 10 50; do
        li=r${readers}_inc lo=r${readers}_off
        ri=$(calc "${R[tps_${li}_w$w]} / ${R[tps_${li}_w0]}")
        ro=$(calc "${R[tps_${lo}_w$w]} / ${R[tps_${lo}_w0]}")
        ci=$(calc "${R[cpu_${li}_w0]} / ${R[cpu_${li}_w$w]}")
        co=$(calc "${R[cpu_${lo}_w0]} / ${R[cpu_${lo}_w$w]}")
        done_w=""
        [ "$w" != 0 ] && done_w=" ($(fmt "${R[wr_${li}_w$w]}" 1) / $(fmt "${R[wr_${lo}_w$w]}" 1))"
        goal=""
        if [ "$readers" = 50 ] && { [ "$w" = 10 ] || [ "$w" = 50 ]; }; then
            goal="tps $(ok "$ri >= 0.8"), CPU $(ok "$ci >= 0.8")"
        fi
        if [ "$w" = 0 ]; then
            echo "| $readers | 0 | $(grp "${R[tps_${li}_w0]}") | 1 | $(fmt "${R[cpu_${li}_w0]}" 1) µs/tx | $(grp "${R[tps_${lo}_w0]}") | 1 | $(fmt "${R[cpu_${lo}_w0]}" 1) µs/tx | |"
        else
            echo "| $readers | $w$done_w | $(grp "${R[tps_${li}_w$w]}") | $(fmt "$ri" 2)× | $(fmt "$ci" 2)× | $(grp "${R[tps_${lo}_w$w]}") | $(fmt "$ro" 3)× | $(fmt "$co" 3)× | $goal |"
        fi
    done
done
echo
fi
if part propagation; then
echo "**Propagation of a failover flip** to 50 readers looping \`model_for('feature_500', actor)\` ($FLIPS flips, on and off):"
echo
echo "| | incremental | full rebuild (off) | goal | met? |"
echo "|---|---|---|---|---|"
echo "| readers whose first call started after COMMIT returned still got the old route | ${R[prop_inc_stale_readers]} of $(( 50 * FLIPS )) | ${R[prop_off_stale_readers]} of $(( 50 * FLIPS )) | 0 | $(ok "${R[prop_inc_stale_readers]} == 0 && ${R[prop_off_stale_readers]} == 0") |"
echo "| … stale calls started after COMMIT / old route after a new one (flaps) / wrong between flips | ${R[prop_inc_stale_calls]} / ${R[prop_inc_flaps]} / ${R[prop_inc_wrong_between_flips]} | ${R[prop_off_stale_calls]} / ${R[prop_off_flaps]} / ${R[prop_off_wrong_between_flips]} | 0 | $(ok "${R[prop_inc_stale_calls]} + ${R[prop_inc_flaps]} + ${R[prop_inc_wrong_between_flips]} + ${R[prop_off_stale_calls]} + ${R[prop_off_flaps]} + ${R[prop_off_wrong_between_flips]} == 0") |"
echo "| COMMIT → a reader's first new answer, median | $(fmt "${R[prop_inc_median_ms]}" 2) ms | $(fmt "${R[prop_off_median_ms]}" 2) ms | ≤ 5 ms | $(ok "${R[prop_inc_median_ms]} <= 5") |"
echo "| … 90th percentile | $(fmt "${R[prop_inc_p90_ms]}" 2) ms | $(fmt "${R[prop_off_p90_ms]}" 2) ms | | |"
echo "| … maximum | $(fmt "${R[prop_inc_max_ms]}" 2) ms | $(fmt "${R[prop_off_max_ms]}" 2) ms | ≤ 20 ms | $(ok "${R[prop_inc_max_ms]} <= 20") |"
echo "| … worst flip's median | $(fmt "${R[prop_inc_worst_flip_median_ms]}" 2) ms | $(fmt "${R[prop_off_worst_flip_median_ms]}" 2) ms | | |"
echo "| set_flag's own time (send → result), mean | $(fmt "${R[prop_inc_commit_ms]}" 1) ms | $(fmt "${R[prop_off_commit_ms]}" 1) ms | | |"
echo "| readers' calls per second, all 50 | $(grp "${R[prop_inc_calls_per_s]}") | $(grp "${R[prop_off_calls_per_s]}") | | |"
echo
fi
if part memory; then
preload=$("$PGBIN/psql" -X -At -c 'SHOW shared_preload_libraries')
echo "**Memory of idle backends**, shared_preload_libraries = '$preload'$([ -n "$preload" ] && echo " (compiled states' colder parts and large actor sets' Bloom filters kept once per server)")"
echo "(/proc/PID/smaps_rollup; per backend = total / backends; half the backends with incremental"
echo "caches, half off; \"routed\" = ran \`$allq\` once):"
echo
echo "| backends | what they ran | PSS total | PSS per backend | Private_Dirty total | Private_Dirty per backend (max) | goal ≤ 2 MB private per backend |"
echo "|---|---|---|---|---|---|---|"
IFS=, read -r -a steps <<< "$MEM_STEPS"
mem_row() {   # mem_row LABEL WHAT KEY [GOAL]
    local pss=0 pd=0 n=0 pdmax=0 m
    for m in inc off; do
        pss=$(( pss + ${R[mem_$2_$1_${m}_pss_kb]} ))
        pd=$(( pd + ${R[mem_$2_$1_${m}_private_dirty_kb]} ))
        n=$(( n + ${R[mem_$2_$1_${m}_n]} ))
        [ "${R[mem_$2_$1_${m}_private_dirty_max_kb]}" -gt "$pdmax" ] && pdmax=${R[mem_$2_$1_${m}_private_dirty_max_kb]}
    done
    local goal=""
    [ -n "${4:-}" ] && goal=$(ok "$pd / $n <= 2048")
    echo "| $n | $3 | $(kb_mb "$pss" 0) MB | $(kb_mb "$(calc "$pss / $n")") MB | $(kb_mb "$pd" 0) MB | $(kb_mb "$(calc "$pd / $n")") MB ($(kb_mb "$pdmax")) | $goal |"
}
for n in "${steps[@]}"; do
    mem_row "n$n" select1 "SELECT 1"
    mem_row "n$n" routed "routed every feature" goal
done
last=${steps[${#steps[@]}-1]}
for m in inc off; do
    echo "| ${R[mem_routed_n${last}_flip_${m}_n]} | routed every feature, then again after one failover flip: $(mode_name $m) | $(kb_mb "${R[mem_routed_n${last}_flip_${m}_pss_kb]}" 0) MB | $(kb_mb "$(calc "${R[mem_routed_n${last}_flip_${m}_pss_kb]} / ${R[mem_routed_n${last}_flip_${m}_n]}")") MB | $(kb_mb "${R[mem_routed_n${last}_flip_${m}_private_dirty_kb]}" 0) MB | $(kb_mb "$(calc "${R[mem_routed_n${last}_flip_${m}_private_dirty_kb]} / ${R[mem_routed_n${last}_flip_${m}_n]}")") MB ($(kb_mb "${R[mem_routed_n${last}_flip_${m}_private_dirty_max_kb]}")) | |"
done
for n in "${steps[@]}"; do
    ext=$(calc "(${R[mem_routed_n${n}_inc_private_dirty_kb]} + ${R[mem_routed_n${n}_off_private_dirty_kb]}) / (${R[mem_routed_n${n}_inc_n]} + ${R[mem_routed_n${n}_off_n]}) - (${R[mem_select1_n${n}_inc_private_dirty_kb]} + ${R[mem_select1_n${n}_off_private_dirty_kb]}) / (${R[mem_select1_n${n}_inc_n]} + ${R[mem_select1_n${n}_off_n]})")
    R[mem_ext_$n]=$ext
done
echo
echo -n "Routing every feature adds, per backend, Private_Dirty:"
for n in "${steps[@]}"; do echo -n " $(kb_mb "${R[mem_ext_$n]}") MB at $n backends;"; done
echo " the rest of a backend's private memory is PostgreSQL's own (SELECT 1 rows)."
fi
} > "$work/tables.md"
cat "$work/tables.md"
