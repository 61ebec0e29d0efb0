--
-- routing: SPEC §3 R, model_for(feature, actor) and explain(feature, actor).
--
-- Proves:
--   - model_for answers one row with the 7 columns model, provider, params,
--     flag, gate, position, skipped;
--   - params are the model's params with the route's merged over them (a
--     route key replaces the model's, e.g. direct_access false);
--   - gate names the gate that opened the route: default (no flag), boolean,
--     actor, percentage_of_actors, percentage_of_time, default_enabled;
--   - routes are walked by position, whatever order they were inserted in;
--   - an applying route whose model is disabled or whose provider is
--     unavailable is skipped and counted; a route whose flag is off is not
--     counted;
--   - errors: unknown feature 42704, invalid feature name 22023, no route left
--     MF001 naming the feature and the skipped routes, a feature with no
--     routes MF001;
--   - explain gives one row per route with its decision and the reason.
--
\set SHOW_CONTEXT never
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;

INSERT INTO modelflags.providers (name) VALUES ('anthropic'), ('vertex'), ('fireworks');
INSERT INTO modelflags.models (name, provider, params) VALUES
    ('claude_sonnet_4_20250514', 'anthropic',
     '{"model": "claude-sonnet-4-20250514", "temperature": 0.1, "max_tokens": 2048, "direct_access": true}'),
    ('claude_sonnet_4_5_20250929_vertex', 'vertex',
     '{"model": "claude-sonnet-4-5@20250929", "max_tokens": 2048, "stop": ["</new_code>"]}'),
    ('codestral_2501_fireworks', 'fireworks', '{"model": "codestral-2501", "timeout": 5}'),
    ('model_without_params', 'vertex', '{}');
INSERT INTO modelflags.features (name, description) VALUES
    ('duo_chat', 'routes inserted out of position order'),
    ('code_completions', 'every gate kind'),
    ('no_routes', 'a feature with no route at all');
INSERT INTO modelflags.flags (name, enabled, percentage_of_actors, percentage_of_time, default_enabled) VALUES
    ('chat_new_model', NULL, 25, NULL, false),
    ('chat_beta_testers', false, NULL, NULL, false),
    ('chat_always_on', true, NULL, NULL, false),
    ('chat_default_on', NULL, NULL, NULL, true),
    ('chat_random', NULL, NULL, 100, false),
    ('chat_never_set', NULL, NULL, NULL, false);
INSERT INTO modelflags.flag_actors (flag, actor, opt_out) VALUES
    ('chat_beta_testers', 'User:1000', false),
    ('chat_new_model', 'User:7', true);

-- duo_chat: positions inserted in the order 30, 10, 0, 20, 40 (with gaps).
INSERT INTO modelflags.routes (feature, position, flag, model, params) VALUES
    ('duo_chat', 30, NULL, 'claude_sonnet_4_20250514', '{}'),
    ('duo_chat', 10, 'chat_new_model', 'claude_sonnet_4_5_20250929_vertex', '{"temperature": 0.2}'),
    ('duo_chat', 0, 'chat_beta_testers', 'codestral_2501_fireworks', '{"max_tokens": 512}'),
    ('duo_chat', 20, 'chat_never_set', 'codestral_2501_fireworks', '{}'),
    ('duo_chat', 40, NULL, 'model_without_params', '{}');

-- Actors used below and their rollout positions for chat_new_model (25%):
-- in exactly when rollout_pct < 25.
SELECT a.actor, modelflags.rollout_pct('chat_new_model', a.actor) AS rollout_pct
  FROM (VALUES ('User:3'), ('User:4'), ('User:7'), ('User:1000')) AS a (actor)
 ORDER BY a.actor COLLATE "C";

-- One row, seven columns.  User:1000 has an actor gate on chat_beta_testers
-- (boolean false is no veto), so position 0 wins, with the route's
-- max_tokens merged over the model's params.
SELECT * FROM modelflags.model_for('duo_chat', 'User:1000');
-- User:3 is inside the 25% (see above): position 10, percentage_of_actors.
SELECT * FROM modelflags.model_for('duo_chat', 'User:3');
-- User:4 is outside: chat_never_set is never set (default false), so
-- the first flagless route, position 30, wins with gate "default".
SELECT * FROM modelflags.model_for('duo_chat', 'User:4');
-- User:7 is inside the 25% too, but opted out: position 30.
SELECT modelflags.rollout_pct('chat_new_model', 'User:7') < 25 AS user_7_inside,
       (modelflags.model_for('duo_chat', 'User:7')).position AS user_7_position;
-- No actor: no actor gate, no percentage of actors.
SELECT * FROM modelflags.model_for('duo_chat');
SELECT * FROM modelflags.model_for('duo_chat', NULL);
-- model_for as a scalar composite, and as one column of it.
SELECT modelflags.model_for('duo_chat', 'User:4');
SELECT (modelflags.model_for('duo_chat', 'User:3')).params ->> 'temperature' AS temperature;

-- Position order does not depend on insert order: moving the flagless route
-- from 30 to 5 makes it win for everyone who is not a beta tester.
UPDATE modelflags.routes SET position = 5 WHERE feature = 'duo_chat' AND position = 30;
SELECT a.actor, m.position, m.model, m.gate
  FROM (VALUES ('User:1000'), ('User:3'), ('User:4')) AS a (actor),
       LATERAL modelflags.model_for('duo_chat', a.actor) AS m
 ORDER BY a.actor COLLATE "C";
UPDATE modelflags.routes SET position = 30 WHERE feature = 'duo_chat' AND position = 5;

--
-- Every gate name, one route each.
--
INSERT INTO modelflags.routes (feature, position, flag, model, params) VALUES
    ('code_completions', 1, 'chat_always_on', 'claude_sonnet_4_20250514', '{"direct_access": false}'),
    ('code_completions', 2, 'chat_beta_testers', 'claude_sonnet_4_5_20250929_vertex', '{}'),
    ('code_completions', 3, 'chat_new_model', 'claude_sonnet_4_5_20250929_vertex', '{}'),
    ('code_completions', 4, 'chat_random', 'codestral_2501_fireworks', '{}'),
    ('code_completions', 5, 'chat_default_on', 'codestral_2501_fireworks', '{}'),
    ('code_completions', 6, NULL, 'model_without_params', '{"max_tokens": 64}');
-- boolean; the route's direct_access false replaces the model's true.
SELECT * FROM modelflags.model_for('code_completions', 'User:4');
-- Walk down by deleting each winner in a transaction that is rolled back.
BEGIN;
DELETE FROM modelflags.routes WHERE feature = 'code_completions' AND position = 1;
SELECT model, flag, gate, position FROM modelflags.model_for('code_completions', 'User:1000');  -- actor
SELECT model, flag, gate, position FROM modelflags.model_for('code_completions', 'User:3');     -- percentage_of_actors
SELECT model, flag, gate, position FROM modelflags.model_for('code_completions', 'User:4');     -- percentage_of_time (100)
DELETE FROM modelflags.routes WHERE feature = 'code_completions' AND position IN (2, 3, 4);
SELECT model, flag, gate, position FROM modelflags.model_for('code_completions', 'User:4');     -- default_enabled
DELETE FROM modelflags.routes WHERE feature = 'code_completions' AND position = 5;
SELECT * FROM modelflags.model_for('code_completions', 'User:4');                             -- default, params {} || route
ROLLBACK;

--
-- Skipping: a disabled model, an unavailable provider.  Only applying
-- routes count as skipped.
--
UPDATE modelflags.models SET enabled = false WHERE name = 'claude_sonnet_4_20250514';
SELECT * FROM modelflags.model_for('code_completions', 'User:4');
UPDATE modelflags.providers SET available = false WHERE name = 'fireworks';
SELECT * FROM modelflags.model_for('code_completions', 'User:4');
-- explain: one row per route, in position order, with the decision and why.
SELECT position, flag, model, provider, applies, gate, decision, reason
  FROM modelflags.explain('code_completions', 'User:4');
SELECT position, flag, model, provider, applies, gate, decision, reason
  FROM modelflags.explain('duo_chat', 'User:7');
SELECT position, flag, model, params, applies, gate, decision, reason
  FROM modelflags.explain('duo_chat', 'User:1000');

-- No route left: MF001, naming the feature and every skipped route.
UPDATE modelflags.models SET enabled = false WHERE name = 'model_without_params';
SELECT * FROM modelflags.model_for('code_completions', 'User:4');
\echo sqlstate :SQLSTATE
-- explain still answers when model_for cannot.
SELECT position, decision, reason FROM modelflags.explain('code_completions', 'User:4');
-- No applying route at all (every flag off): MF001 too.
BEGIN;
DELETE FROM modelflags.routes WHERE flag IS NULL;
UPDATE modelflags.flags SET enabled = false, percentage_of_time = NULL, percentage_of_actors = NULL;
SELECT * FROM modelflags.model_for('duo_chat', 'User:4');
\echo sqlstate :SQLSTATE
ROLLBACK;
-- Recovery is one UPDATE away.
UPDATE modelflags.providers SET available = true WHERE name = 'fireworks';
SELECT model, provider, gate, position, skipped FROM modelflags.model_for('code_completions', 'User:4');
UPDATE modelflags.models SET enabled = true;

-- A feature with 25 skipped routes: the detail names 20 and counts the rest,
-- so that thousands of routes do not become megabytes in the client and the log.
BEGIN;
INSERT INTO modelflags.features (name) VALUES ('many_routes');
INSERT INTO modelflags.routes (feature, position, model)
    SELECT 'many_routes', i, 'model_without_params' FROM generate_series(1, 25) i;
UPDATE modelflags.models SET enabled = false WHERE name = 'model_without_params';
SELECT * FROM modelflags.model_for('many_routes', 'User:4');
\echo sqlstate :SQLSTATE
ROLLBACK;

-- A feature with no routes: MF001.
SELECT * FROM modelflags.model_for('no_routes', 'User:4');
\echo sqlstate :SQLSTATE
SELECT count(*) AS explain_rows FROM modelflags.explain('no_routes', 'User:4');
-- An unknown feature: 42704; an impossible feature name: 22023.
SELECT * FROM modelflags.model_for('no_such_feature', 'User:4');
\echo sqlstate :SQLSTATE
SELECT * FROM modelflags.explain('no_such_feature', 'User:4');
\echo sqlstate :SQLSTATE
SELECT * FROM modelflags.model_for('Duo Chat', 'User:4');
\echo sqlstate :SQLSTATE
SELECT * FROM modelflags.explain('Duo Chat');
\echo sqlstate :SQLSTATE

-- Routing follows renames (ON UPDATE CASCADE): a renamed model, flag and
-- feature are found under their new names.
UPDATE modelflags.models SET name = 'codestral_2501_fireworks_v2' WHERE name = 'codestral_2501_fireworks';
UPDATE modelflags.flags SET name = 'chat_beta_testers_v2' WHERE name = 'chat_beta_testers';
UPDATE modelflags.features SET name = 'duo_chat_v2' WHERE name = 'duo_chat';
SELECT model, flag, gate, position FROM modelflags.model_for('duo_chat_v2', 'User:1000');
SELECT * FROM modelflags.model_for('duo_chat', 'User:1000');
\echo sqlstate :SQLSTATE

TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
