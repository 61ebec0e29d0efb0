--
-- failover: GitLab's incident runbook and model-migration process (SPEC §1),
-- written as the SQL an incident responder or a DBA would type.
--
-- Proves:
--   - with GitLab's two ops flags and routes (code_generations,
--     code_completions; research/gitlab-and-flipper.md §3.4), the ChatOps
--     command "feature set incident_fail_over_generation_provider true" —
--     set_flag(..., true) — moves every actor's code_generations to the
--     Vertex model in one call;
--   - one plain UPDATE of modelflags.flags does the same for completions,
--     and the completion failover route forbids direct access
--     (direct_access false), as GitLab does while completions fail over;
--   - one plain UPDATE of modelflags.providers (an outage) moves every
--     route off that provider at once, with skipped = 1;
--   - rolling back (set_flag false, provider available again) restores the
--     primaries; the audit holds the incident's timeline with its notes;
--   - a 25% model migration sends exactly the actors with
--     rollout_pct < 25 (plus the explicitly enabled ones) to the new model,
--     raising to 50% keeps all of them, and the rollback and the final
--     "make the new model the default and delete the flag" work.
--
\set SHOW_CONTEXT never
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
SELECT coalesce(max(id), 0) AS base FROM modelflags.changes \gset

-- The setup GitLab Duo runs with (model names are AI gateway gitlab_identifiers).
INSERT INTO modelflags.providers (name) VALUES ('fireworks_ai'), ('anthropic'), ('vertex_ai');
INSERT INTO modelflags.models (name, provider, params) VALUES
    ('codestral_2501_fireworks', 'fireworks_ai',
     '{"model": "codestral-2501", "max_tokens": 64, "direct_access": true}'),
    ('claude_sonnet_4_20250514', 'anthropic',
     '{"model": "claude-sonnet-4-20250514", "max_tokens": 2048}'),
    ('claude_sonnet_4_5_20250929', 'anthropic',
     '{"model": "claude-sonnet-4-5-20250929", "max_tokens": 2048}'),
    ('claude_sonnet_4_5_20250929_vertex', 'vertex_ai',
     '{"model": "claude-sonnet-4-5@20250929", "max_tokens": 2048, "vertex_location": "global", "stop": ["</new_code>"]}');
INSERT INTO modelflags.flags (name, type, default_enabled, "group", milestone, introduced_by_url) VALUES
    ('incident_fail_over_generation_provider', 'ops', false, 'group::code creation', '17.8',
     'https://gitlab.com/gitlab-org/gitlab/-/merge_requests/176672'),
    ('incident_fail_over_completion_provider', 'ops', false, 'group::code creation', '17.6',
     'https://gitlab.com/gitlab-org/gitlab/-/merge_requests/171210');
INSERT INTO modelflags.features (name) VALUES ('code_generations'), ('code_completions');
INSERT INTO modelflags.routes (feature, position, flag, model, params, note) VALUES
    ('code_generations', 0, 'incident_fail_over_generation_provider', 'claude_sonnet_4_5_20250929_vertex', '{}',
     'prompt 2.0.0: vertex while the generation provider fails over'),
    ('code_generations', 1, NULL, 'claude_sonnet_4_20250514', '{}', 'primary'),
    ('code_completions', 0, 'incident_fail_over_completion_provider', 'claude_sonnet_4_5_20250929',
     '{"direct_access": false}', 'Claude needs prompt v3, which direct access does not support'),
    ('code_completions', 1, NULL, 'codestral_2501_fireworks', '{}', 'primary'),
    ('code_completions', 2, NULL, 'claude_sonnet_4_5_20250929', '{"direct_access": false}',
     'static backup when fireworks is down');

-- What three users get, feature by feature; the runbook reruns this after each step.
CREATE TEMP VIEW routing AS
SELECT f.feature, a.actor, m.model, m.provider, m.params ->> 'direct_access' AS direct_access,
       m.gate, m.position, m.skipped
  FROM (VALUES ('code_generations'), ('code_completions')) AS f (feature),
       (VALUES ('User:1'), ('User:42'), ('Project:7')) AS a (actor),
       LATERAL modelflags.model_for(f.feature, a.actor) AS m
 ORDER BY f.feature COLLATE "C", a.actor COLLATE "C";

-- Normal operation: the primaries.
SELECT * FROM routing;

-- Incident 1: the generation provider is failing.
-- ChatOps: /chatops run feature set incident_fail_over_generation_provider true
SELECT name, enabled FROM modelflags.set_flag('incident_fail_over_generation_provider', true,
                                              note => 'INC-1001 anthropic errors on generations');
-- Every actor's code_generations is on Vertex now; completions unchanged.
SELECT * FROM routing;

-- Incident 2: completions fail over too, this time with one plain UPDATE;
-- the failover route forbids direct access.
BEGIN;
SET LOCAL modelflags.note = 'INC-1002 fireworks latency';
UPDATE modelflags.flags SET enabled = true WHERE name = 'incident_fail_over_completion_provider';
COMMIT;
SELECT * FROM routing;

-- Both incidents are over: ChatOps "feature set ... false" and the same UPDATE back.
SELECT name, enabled FROM modelflags.set_flag('incident_fail_over_generation_provider', false,
                                              note => 'INC-1001 resolved');
UPDATE modelflags.flags SET enabled = false WHERE name = 'incident_fail_over_completion_provider';
SELECT * FROM routing;

-- Incident 3: a provider outage, declared with one UPDATE of providers.
-- No flag is needed: routes to fireworks_ai are skipped (skipped = 1) and
-- completions fall through to the static backup, without direct access.
UPDATE modelflags.providers SET available = false, note = 'INC-1003 outage' WHERE name = 'fireworks_ai';
SELECT * FROM routing;
SELECT position, model, decision, reason FROM modelflags.explain('code_completions', 'User:42');
-- Anthropic down as well: completions have nothing left (MF001, naming the
-- skipped routes); generations are moved to Vertex by their ops flag.
UPDATE modelflags.providers SET available = false WHERE name = 'anthropic';
SELECT * FROM modelflags.model_for('code_completions', 'User:42');
\echo sqlstate :SQLSTATE
SELECT name, enabled FROM modelflags.set_flag('incident_fail_over_generation_provider', true);
SELECT model, provider, gate, position, skipped FROM modelflags.model_for('code_generations', 'User:42');
-- Everything back.
UPDATE modelflags.providers SET available = true, note = NULL;
SELECT name, enabled FROM modelflags.set_flag('incident_fail_over_generation_provider', false);
SELECT * FROM routing;

-- The incident timeline, from the audit.
SELECT id - :base AS n, table_name, operation, key ->> 'name' AS name,
       (SELECT jsonb_object_agg(k, new_row -> k) FROM jsonb_object_keys(new_row) AS k
         WHERE new_row -> k IS DISTINCT FROM old_row -> k) AS changed,
       note
  FROM modelflags.changes
 WHERE id > :base AND operation = 'UPDATE' ORDER BY id;

--
-- Model migration: duo_chat moves from claude_sonnet_4_20250514 to
-- claude_sonnet_4_5_20250929 behind a flag.
--
INSERT INTO modelflags.features (name) VALUES ('duo_chat');
INSERT INTO modelflags.flags (name, type, default_enabled) VALUES ('duo_chat_claude_sonnet_4_5', 'gitlab_com_derisk', false);
INSERT INTO modelflags.routes (feature, position, flag, model) VALUES
    ('duo_chat', 0, 'duo_chat_claude_sonnet_4_5', 'claude_sonnet_4_5_20250929'),
    ('duo_chat', 1, NULL, 'claude_sonnet_4_20250514');
CREATE TEMP TABLE migration_actors (actor text PRIMARY KEY);
INSERT INTO migration_actors VALUES
    ('User:1'), ('User:2'), ('User:3'), ('User:4'), ('User:5'), ('User:6'), ('User:7'), ('User:8'),
    ('User:42'), ('Project:7'), ('Group:9'), ('Namespaces::UserNamespace:3');

-- Step 1: a few named actors (ChatOps: feature set duo_chat_claude_sonnet_4_5 true --user=...).
SELECT modelflags.set_actor('duo_chat_claude_sonnet_4_5', 'User:42', true);
SELECT a.actor, m.model, m.gate
  FROM migration_actors a, LATERAL modelflags.model_for('duo_chat', a.actor) m
 ORDER BY a.actor COLLATE "C";

-- Step 2: 25% of actors (ChatOps: feature set duo_chat_claude_sonnet_4_5 25 --actors).
-- The actors who get the new model are exactly those with rollout_pct < 25,
-- plus User:42 by its actor gate.
SELECT name, percentage_of_actors FROM modelflags.set_flag('duo_chat_claude_sonnet_4_5', percentage_of_actors => 25);
CREATE TEMP TABLE at_25 AS
SELECT a.actor, modelflags.rollout_pct('duo_chat_claude_sonnet_4_5', a.actor) AS rollout_pct,
       m.model, m.gate
  FROM migration_actors a, LATERAL modelflags.model_for('duo_chat', a.actor) m;
SELECT actor, rollout_pct, model, gate,
       (model = 'claude_sonnet_4_5_20250929') = (rollout_pct < 25 OR actor = 'User:42') AS as_expected
  FROM at_25 ORDER BY rollout_pct;

-- Step 3: 50%.  Nobody who had the new model at 25% loses it.
SELECT name, percentage_of_actors FROM modelflags.set_flag('duo_chat_claude_sonnet_4_5', percentage_of_actors => 50);
SELECT a.actor, a.rollout_pct, a.model AS model_at_25, m.model AS model_at_50,
       (m.model = 'claude_sonnet_4_5_20250929') = (a.rollout_pct < 50 OR a.actor = 'User:42') AS as_expected
  FROM at_25 a, LATERAL modelflags.model_for('duo_chat', a.actor) m
 ORDER BY a.rollout_pct;
SELECT count(*) AS lost_new_model_when_raised
  FROM at_25 a, LATERAL modelflags.model_for('duo_chat', a.actor) m
 WHERE a.model = 'claude_sonnet_4_5_20250929' AND m.model <> 'claude_sonnet_4_5_20250929';
-- Over 10,000 actors the share is about half, and exactly the hash's.
SELECT count(*) FILTER (WHERE m.model = 'claude_sonnet_4_5_20250929') BETWEEN 4800 AND 5200 AS about_half,
       count(*) FILTER (WHERE (m.model = 'claude_sonnet_4_5_20250929')
                              <> (modelflags.rollout_pct('duo_chat_claude_sonnet_4_5', 'User:' || i) < 50)) AS mismatches
  FROM generate_series(100001, 110000) AS i,
       LATERAL modelflags.model_for('duo_chat', 'User:' || i) AS m;

-- Error ratio goes up: roll back with one call; everyone is on the old model.
SELECT name, enabled, percentage_of_actors FROM modelflags.set_flag('duo_chat_claude_sonnet_4_5', false,
                                                                     note => 'error ratio up, rolling back');
SELECT count(*) FILTER (WHERE m.model = 'claude_sonnet_4_5_20250929') AS on_new_model
  FROM migration_actors a, LATERAL modelflags.model_for('duo_chat', a.actor) m;

-- Finally: make the new model the default, drop the flagged route and the flag.
BEGIN;
UPDATE modelflags.routes SET model = 'claude_sonnet_4_5_20250929' WHERE feature = 'duo_chat' AND position = 1;
DELETE FROM modelflags.routes WHERE feature = 'duo_chat' AND position = 0;
SELECT modelflags.delete_flag('duo_chat_claude_sonnet_4_5', note => 'migration done') AS flag_deleted;
COMMIT;
SELECT * FROM modelflags.model_for('duo_chat', 'User:42');

DROP TABLE at_25, migration_actors;
DROP VIEW routing;
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
