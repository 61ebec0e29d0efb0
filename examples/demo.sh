#!/usr/bin/env bash
# The modelflags demo: a throwaway PostgreSQL server with the extension and
# the GitLab Duo-shaped definitions of examples/gitlab-duo.yml, then the
# questions a service asks and the changes an incident responder makes.
#
#   bash examples/demo.sh
#
# Installs what it needs (Debian 12, as root), builds and installs the
# extension, and leaves nothing running behind.
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/install-deps.sh
make -s >/dev/null && make -s install >/dev/null

pg_virtualenv -t -v 15 bash -s <<'DEMO'
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
DEMO
