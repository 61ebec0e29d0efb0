# bench/lib.sh — what the benchmark scripts share (run.sh, health.sh,
# incremental.sh source it): logging, psql with results collected into R,
# and number formatting.  The caller sets PGBIN and declares R (declare -A R).

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
psqlq() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
# collect [PSQL ARGS]: runs psql -At (on stdin or -c/-f), jit off, keeping
# the caller's PGOPTIONS; lines "key=value" go into R, the others to stderr;
# a failure stops the benchmark.
collect() {
    local out line
    out=$(PGOPTIONS="${PGOPTIONS:-} -c jit=off" "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$@" 2>&1) \
        || { echo "$out" >&2; echo "psql failed" >&2; exit 1; }
    while IFS= read -r line; do
        if [[ $line =~ ^([a-z0-9_]+)=(.*)$ ]]; then
            R[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
        elif [ -n "$line" ]; then
            echo "    $line" >&2
        fi
    done <<< "$out"
}
calc() { awk "BEGIN { printf \"%s\", $* }" </dev/null; }
fmt() { awk -v v="$1" -v d="${2:-1}" 'BEGIN { printf "%.*f", d, v }'; }
grp() { awk -v v="$1" 'BEGIN { s = sprintf("%.0f", v); n = length(s); o = "";
        for (i = 1; i <= n; i++) { o = o substr(s, i, 1); if ((n - i) % 3 == 0 && i < n) o = o "," }
        print o }'; }
ok() { awk "BEGIN { exit !($*) }" </dev/null && echo yes || echo "**no**"; }
