#!/usr/bin/env bash
# test/health/clients.sh — the request loop of README "Health" run for real
# (issue 11 item 5): examples/clients/request_loop.py (psycopg) and
# request_loop.rb (pg), each as a service role that may only route and
# report, against a server that preloads modelflags and a fake LLM API on
# loopback (test/health/fake_llm.py) whose provider "anthropic" fails its
# first 5 requests and then recovers.  For each client:
#   - the first 5 requests go to claude (anthropic) and fail;
#   - the very next request goes to gemini: failover, no human;
#   - after the 2-second cool-down, probes go to claude, succeed, and from
#     the first of them on every request is claude again: recovery;
#   - the recorder writes open, half_open, close for claude.
# Prints PASS:/FAIL: lines; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
top=$(pwd)
. test/cluster.sh

failures=0
pass() { echo "PASS: health clients $*"; }
fail() { echo "FAIL: health clients $*"; failures=$((failures + 1)); }

port=54400
if ! cluster_start c $port "shared_preload_libraries = 'modelflags'"; then
    fail "setup: the cluster did not start"
    exit 1
fi
mf_psql c postgres -c "CREATE DATABASE app" >/dev/null
if ! mf_psql c app >/dev/null <<'SQL'
CREATE EXTENSION modelflags;
INSERT INTO modelflags.providers (name) VALUES ('anthropic'), ('vertex_ai');
INSERT INTO modelflags.models (name, provider, params) VALUES
    ('claude', 'anthropic', '{"model": "claude-sonnet-4-5", "max_tokens": 512}'),
    ('gemini', 'vertex_ai', '{"model": "gemini-2.5-pro", "max_tokens": 512}');
INSERT INTO modelflags.features (name) VALUES ('code_generations');
INSERT INTO modelflags.routes (feature, position, model) VALUES
    ('code_generations', 1, 'claude'), ('code_generations', 2, 'gemini');
-- A short cool-down, so that the test sees the recovery within seconds.
SELECT modelflags.set_breaker('claude', open_time => '2 seconds', max_open_time => '2 seconds');
-- The service's role: it may route (PUBLIC) and report (granted), nothing else.
CREATE ROLE llm_service LOGIN;
GRANT EXECUTE ON FUNCTION modelflags.report(text, text, text, double precision, bigint, bigint) TO llm_service;
SQL
then
    fail "setup: data, settings and the service role"
    exit 1
fi
dsn="host=$CLUSTER_TMP port=$port dbname=app user=llm_service"

run_client() {
    local name=$1
    shift
    local out=$CLUSTER_TMP/$name.out fake_log=$CLUSTER_TMP/$name.fake.log fport=""
    mf_psql c app -c "SELECT modelflags.health_reset()" >/dev/null
    local base
    base=$(mf_psql c app -c "SELECT coalesce(max(id), 0) FROM modelflags.breaker_events")
    coproc FAKE { exec /usr/bin/python3 "$top/test/health/fake_llm.py" --fail anthropic:5 --max-seconds 120 2>"$fake_log"; }
    read -r -t 30 _ fport <&"${FAKE[0]}"
    if [ -z "$fport" ]; then
        fail "$name: the fake LLM API did not start"
        return
    fi
    timeout 120 "$@" --dsn "$dsn" --llm "http://127.0.0.1:$fport" --feature code_generations \
        --requests 40 --interval 0.1 >"$out" 2>&1
    local rc=$?
    kill "$FAKE_PID" 2>/dev/null
    wait "$FAKE_PID" 2>/dev/null
    if [ $rc -ne 0 ]; then
        fail "$name: the client exited $rc:"
        cat "$out"
        return
    fi

    # The sequence of "model outcome" per request.
    local seq
    seq=$(sed -n 's/^request [0-9]* model=\([a-z]*\) outcome=\([a-z_]*\) degraded=.*/\1 \2/p' "$out")
    if [ "$(wc -l <<<"$seq")" != 40 ]; then
        fail "$name: expected 40 requests, got:"
        cat "$out"
        return
    fi
    if [ "$(head -n 5 <<<"$seq" | sort -u)" = "claude error" ]; then
        pass "$name: the first 5 requests go to claude and fail (anthropic is down)"
    else
        fail "$name: the first 5 requests: $(head -n 5 <<<"$seq" | tr '\n' ';')"
    fi
    if [ "$(sed -n 6p <<<"$seq")" = "gemini ok" ]; then
        pass "$name: the very next request fails over to gemini, with no human"
    else
        fail "$name: request 6 was '$(sed -n 6p <<<"$seq")', not 'gemini ok'"
    fi
    local back
    back=$(grep -n '^claude ok$' <<<"$seq" | head -n 1 | cut -d: -f1)
    if [ -n "$back" ] && [ "$back" -gt 7 ] \
       && [ "$(sed -n "6,$((back - 1))p" <<<"$seq" | sort -u)" = "gemini ok" ] \
       && [ "$(sed -n "$back,\$p" <<<"$seq" | sort -u)" = "claude ok" ]; then
        pass "$name: gemini serves through the cool-down (requests 6-$((back - 1))), then claude's probes succeed and traffic returns (requests $back-40)"
    else
        fail "$name: no clean recovery: $(tr '\n' ';' <<<"$seq")"
    fi
    if grep -q 'degraded=true' "$out"; then
        fail "$name: an answer was degraded, though gemini was up"
    fi
    local events=""
    for _ in $(seq 1 300); do
        events=$(mf_psql c app -c "SELECT string_agg(event, ' ' ORDER BY id) FROM modelflags.breaker_events
                                    WHERE model = 'claude' AND id > $base")
        [ "$events" = "open half_open close" ] && break
        sleep 0.1
    done
    if [ "$events" = "open half_open close" ]; then
        pass "$name: the audit holds each transition: $events"
    else
        fail "$name: claude's transitions in breaker_events: '$events'"
    fi
}

run_client python /usr/bin/python3 "$top/examples/clients/request_loop.py"
run_client ruby /usr/bin/ruby "$top/examples/clients/request_loop.rb"

[ "$failures" -eq 0 ]
