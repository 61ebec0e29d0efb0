#!/usr/bin/env bash
# The Prometheus exporter (issue 11 item 4): Debian's real
# prometheus-postgres-exporter with examples/prometheus/modelflags-queries.yaml
# against a throwaway cluster that preloads modelflags, scraped on loopback;
# the modelflags series must be there with the values the reports imply, and
# the exporter must log no error for our queries.
# Prints PASS:/FAIL: lines; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
top=$(pwd)
. test/cluster.sh

failures=0
pass() { echo "PASS: health exporter $*"; }
fail() { echo "FAIL: health exporter $*"; failures=$((failures + 1)); }

exporter=/usr/bin/prometheus-postgres-exporter
if [ ! -x "$exporter" ]; then
    fail "prometheus-postgres-exporter is not installed (test/install-deps.sh installs it)"
    exit 1
fi
if ! cluster_start x 54399 "shared_preload_libraries = 'modelflags'"; then
    fail "setup: the cluster did not start"
    exit 1
fi
mf_psql x postgres -c "CREATE DATABASE app" >/dev/null
if ! mf_psql x app >/dev/null <<'SQL'
CREATE EXTENSION modelflags;
INSERT INTO modelflags.providers (name) VALUES ('anthropic'), ('vertex_ai');
INSERT INTO modelflags.models (name, provider) VALUES ('claude', 'anthropic'), ('gemini', 'vertex_ai');
INSERT INTO modelflags.features (name) VALUES ('code_generations');
INSERT INTO modelflags.routes (feature, position, model) VALUES
    ('code_generations', 1, 'claude'), ('code_generations', 2, 'gemini');
SELECT count(modelflags.report('code_generations', 'gemini', 'ok', 250, 1000, 200)) FROM generate_series(1, 40);
SELECT count(modelflags.report('code_generations', 'claude', 'ok', 900)) FROM generate_series(1, 3);
SELECT count(modelflags.report('code_generations', 'claude', 'error', 1500)) FROM generate_series(1, 5);
SQL
then
    fail "setup: data and reports"
    exit 1
fi

# A free loopback port for the exporter.
port=""
for p in $(seq 19187 19287); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { fail "setup: no free loopback port"; exit 1; }

cp "$top/examples/prometheus/modelflags-queries.yaml" "$CLUSTER_TMP/queries.yaml"
chmod 644 "$CLUSTER_TMP/queries.yaml"
DATA_SOURCE_NAME="host=$CLUSTER_TMP port=54399 user=postgres dbname=app sslmode=disable" \
    timeout 120 "$exporter" --web.listen-address="127.0.0.1:$port" \
    --extend.query-path="$CLUSTER_TMP/queries.yaml" --disable-settings-metrics \
    >"$CLUSTER_TMP/exporter.log" 2>&1 &
exporter_pid=$!
metrics=$CLUSTER_TMP/metrics.txt
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/metrics" >"$metrics" 2>/dev/null && grep -q '^modelflags_' "$metrics" && break
    sleep 0.2
done
kill "$exporter_pid" 2>/dev/null
wait "$exporter_pid" 2>/dev/null

# has NAME REGEX: the scrape has a line matching REGEX (grep -E).  The
# exporter adds a label server="host:port" to every series.
has() {
    if grep -Eq -- "$2" "$metrics"; then pass "$1"; else fail "$1 (no line matching: $2)"; fi
}
if ! grep -q '^modelflags_' "$metrics" 2>/dev/null; then
    fail "the scrape has no modelflags series; exporter log:"
    cat "$CLUSTER_TMP/exporter.log"
    exit 1
fi
pass "scraped http://127.0.0.1:$port/metrics: $(grep -c '^modelflags_' "$metrics") modelflags series"
has "claude's breaker is open (2)" '^modelflags_model_breaker_state\{datname="app",model="claude",provider="anthropic",server="[^"]*"\} 2$'
has "gemini's breaker is closed (0)" '^modelflags_model_breaker_state\{datname="app",model="gemini",provider="vertex_ai",server="[^"]*"\} 0$'
has "claude's deadline is a unix time" '^modelflags_model_breaker_open_until_seconds\{datname="app",model="claude",provider="anthropic",server="[^"]*"\} [0-9]\.[0-9]+e\+09$'
has "claude opened once" '^modelflags_model_breaker_opens_total\{datname="app",model="claude",provider="anthropic",server="[^"]*"\} 1$'
has "calls by outcome: claude 5 errors" '^modelflags_model_calls_total\{datname="app",model="claude",outcome="error",provider="anthropic",server="[^"]*"\} 5$'
has "calls by outcome: gemini 40 ok" '^modelflags_model_calls_total\{datname="app",model="gemini",outcome="ok",provider="vertex_ai",server="[^"]*"\} 40$'
has "claude's failure ratio over the window: 5 of 8" '^modelflags_model_window_failure_ratio\{datname="app",model="claude",provider="anthropic",server="[^"]*"\} 0\.625$'
has "latency quantiles: gemini's p95 in 250 ms's bin" '^modelflags_model_latency_p95_ms\{datname="app",model="gemini",provider="vertex_ai",server="[^"]*"\} 2[0-9][0-9](\.[0-9]+)?$'
has "tokens: gemini 40,000 in" '^modelflags_model_tokens_in_total\{datname="app",model="gemini",provider="vertex_ai",server="[^"]*"\} 40000$'
has "per feature: code_generations to claude, 8 calls in the window" '^modelflags_feature_window_calls\{datname="app",feature="code_generations",model="claude",provider="anthropic",server="[^"]*"\} 8$'
has "latency histogram: claude's +Inf bucket holds its 8 calls" '^modelflags_latency_ms_bucket\{datname="app",le="\+Inf",model="claude",server="[^"]*"\} 8$'
has "latency histogram: gemini's 256 ms bucket holds its 40" '^modelflags_latency_ms_bucket\{datname="app",le="256\.000",model="gemini",server="[^"]*"\} 40$'
has "health capacity" '^modelflags_health_capacity\{datname="app",server="[^"]*"\} 1000$'
has "no report dropped" '^modelflags_health_reports_dropped_total\{datname="app",server="[^"]*"\} 0$'
has "shared filter memory: 64 MB" '^modelflags_health_shared_filter_memory_bytes\{datname="app",server="[^"]*"\} 6\.7108864e\+07$'
if grep -Eq 'level=(error|warn)' "$CLUSTER_TMP/exporter.log"; then
    fail "the exporter logged errors or warnings:"
    grep -E 'level=(error|warn)' "$CLUSTER_TMP/exporter.log" | head -5
else
    pass "the exporter logged no error or warning"
fi
if [ "$failures" -gt 0 ]; then
    echo "--- the modelflags series scraped:"
    grep '^modelflags_' "$metrics" | head -n 80
fi
[ "$failures" -eq 0 ]
