#!/usr/bin/env bash
# The modelflags demo: a throwaway PostgreSQL server with the extension and
# the GitLab Duo-shaped definitions of examples/gitlab-duo.yml, then the
# questions a service asks and the changes an incident responder makes, and
# an outage that model health handles with no human: errors reported for the
# primary model, routes fail over, probes succeed, traffic returns, and the
# audit shows each transition.
#
#   bash examples/demo.sh
#
# Installs what it needs (Debian 12, as root), builds and installs the
# extension, and leaves nothing running behind.
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/install-deps.sh
make -s >/dev/null && make -s install >/dev/null

# shared_preload_libraries: model health keeps its counters in shared memory.
pg_virtualenv -t -v 15 -o shared_preload_libraries=modelflags bash -s <<'DEMO'
set -euo pipefail
q() { echo; echo "-- $1"; shift; psql -X -q -v ON_ERROR_STOP=1 -P pager=off "$@"; }
psql -X -q -c "CREATE EXTENSION modelflags"
q "load the GitLab Duo-shaped definitions" -c \
  "SELECT modelflags.load_definitions(\$\$$(cat examples/gitlab-duo.yml)\$\$) AS loaded"

q "a service asks: which model for code generation, for User:42?" -c \
  "SELECT model, provider, params, gate FROM modelflags.model_for('code_generations', 'User:42')"
q "and for code completion?" -c \
  "SELECT model, provider, params, gate FROM modelflags.model_for('code_completions', 'User:42')"

q "the migration flag is at 25% of actors: who gets the newer model? (in at 25 exactly when rollout_pct < 25)" -c \
  "SELECT a AS actor, modelflags.rollout_pct('code_generations_claude_sonnet_4_6', a) AS rollout_pct,
          m.model, m.gate
     FROM unnest(ARRAY['User:1','User:3','User:5','User:6','User:42','Project:7']) a,
          LATERAL modelflags.model_for('code_generations', a) m"
q "of 1000 users, how many are in at 25%?" -c \
  "SELECT count(*) FILTER (WHERE m.model = 'claude_sonnet_4_6_vertex') AS on_new_model, count(*) AS users
     FROM generate_series(1, 1000) i, LATERAL modelflags.model_for('code_generations', 'User:' || i) m"
q "roll out further: /chatops run feature set code_generations_claude_sonnet_4_6 50 --actors" -c \
  "SELECT name, percentage_of_actors FROM modelflags.set_flag('code_generations_claude_sonnet_4_6', percentage_of_actors => 50)"
q "same actors at 50%: User:6 keeps the new model, User:3 and User:5 join it" -c \
  "SELECT a AS actor, m.model, m.gate
     FROM unnest(ARRAY['User:1','User:3','User:5','User:6','User:42','Project:7']) a,
          LATERAL modelflags.model_for('code_generations', a) m"

q "outage! /chatops run feature set incident_fail_over_completion_provider true" -c \
  "SELECT name, enabled FROM modelflags.set_flag('incident_fail_over_completion_provider', true, note => 'INC-1234: primary completion provider down')"
q "every service's next transaction: completions fail over, direct access forbidden" -c \
  "SELECT model, provider, params->'direct_access' AS direct_access, flag, gate FROM modelflags.model_for('code_completions', 'User:42')"
q "explain shows every route's decision" -c \
  "SELECT position, model, provider, decision, reason FROM modelflags.explain('code_completions', 'User:42')"

q "a DBA can fail over generation with one plain UPDATE too" -c \
  "UPDATE modelflags.flags SET enabled = true WHERE name = 'incident_fail_over_generation_provider'"
q "code generation now" -c \
  "SELECT model, provider, flag, gate, skipped FROM modelflags.model_for('code_generations', 'User:42')"

q "primary back: /chatops run feature set incident_fail_over_completion_provider false" -c \
  "SELECT name, enabled FROM modelflags.set_flag('incident_fail_over_completion_provider', false);
   UPDATE modelflags.flags SET enabled = false WHERE name = 'incident_fail_over_generation_provider';"
q "back on the primaries" -c \
  "SELECT f AS feature, m.model, m.provider, m.gate
     FROM unnest(ARRAY['code_generations','code_completions']) f,
          LATERAL modelflags.model_for(f, 'User:42') m"

q "the audit trail of all this" -c \
  "SELECT id, changed_by, table_name, operation, key->>'name' AS name,
          old_row->>'enabled' AS old_enabled, new_row->>'enabled' AS new_enabled,
          new_row->>'percentage_of_actors' AS new_pct, note
     FROM modelflags.changes WHERE table_name = 'flags' AND operation = 'UPDATE' ORDER BY id"

echo
echo "==== an outage nobody has noticed yet: model health closes the loop"
q "a standing fallback after the default route: only a skip reaches it" -c \
  "INSERT INTO modelflags.routes (feature, position, model, note)
   VALUES ('code_generations', 4, 'claude_sonnet_4_5_20250929_vertex', 'fallback: Vertex AI')"
q "services route, call the model, and report each call (here: 20 good calls)" -c \
  "SELECT count(modelflags.report('code_generations', m.model, 'ok', 700 + i * 10))
     FROM generate_series(1, 20) i, LATERAL modelflags.model_for('code_generations', 'User:42') m"
q "the Anthropic API starts failing: the next 5 calls report errors" -c \
  "SELECT count(modelflags.report('code_generations', 'claude_sonnet_4_5_20250929', 'error', 1500))
     FROM generate_series(1, 5)"
q "no human, no flag: the very next call fails over to Vertex AI" -c \
  "SELECT model, provider, position, skipped, degraded FROM modelflags.model_for('code_generations', 'User:42')"
q "explain says why" -c \
  "SELECT position, model, decision, reason FROM modelflags.explain('code_generations', 'User:42')"
q "the dashboards' view" -c \
  "SELECT model, provider, state, to_char(open_until, 'HH24:MI:SS') AS open_until, reason, calls, failure_rate, latency_p95_ms
     FROM modelflags.model_health ORDER BY model"
q "30 s later (the demo moves the health clock; services just keep calling): probes go to the primary, which is back" -c \
  "SET modelflags.health_clock_offset = '31s';
   DO \$\$
   DECLARE
       m text;
       breaker text;
   BEGIN
       FOR i IN 1 .. 3 LOOP
           SELECT model INTO m FROM modelflags.model_for('code_generations', 'User:42');
           SELECT state INTO breaker FROM modelflags.model_health WHERE model = m;
           PERFORM modelflags.report('code_generations', m, 'ok', 800);
           RAISE NOTICE 'call %: % (breaker %): the call succeeds, reported ok', i, m, breaker;
       END LOOP;
   END \$\$;
   SELECT model, state FROM modelflags.model_health WHERE model = 'claude_sonnet_4_5_20250929';"
q "three good probes: traffic is back on the primary" -c \
  "SELECT model, provider, position, skipped FROM modelflags.model_for('code_generations', 'User:42')"
# (the recorder writes within milliseconds; wait for it, at most 10 s)
psql -X -q -c "DO \$\$ BEGIN FOR i IN 1 .. 100 LOOP
                 EXIT WHEN (SELECT count(*) FROM modelflags.breaker_events) >= 3;
                 PERFORM pg_sleep(0.1); END LOOP; END \$\$" 
q "the audit trail of the outage, written by the health recorder (and notified on channel modelflags)" -c \
  "SELECT id, to_char(at, 'HH24:MI:SS') AS at, model, event, from_state, to_state, reason FROM modelflags.breaker_events ORDER BY id"
DEMO
