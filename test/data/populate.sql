--
-- populate.sql — a GitLab-shaped modelflags database with some history, for
-- the upgrade (test/stages/30_upgrade.sh) and backup (35_backup.sh) stages.
--
-- Uses only what every released version has (the tables, load_definitions
-- and the write functions of 1.0), so that it fills any version before
-- ALTER EXTENSION UPDATE.  Deterministic: no percentage of time other than
-- 0 or 100, so that two databases filled by it give the same answers.
-- psql variables: defs (the text of examples/gitlab-duo.yml), actors (the
-- size of the large actor gate).
--

SELECT * FROM modelflags.load_definitions(:'defs', note => 'populate: GitLab Duo definitions');

-- A provider that is down, with a model on it.
BEGIN;
SET LOCAL modelflags.note = 'INC-1: bedrock outage';
INSERT INTO modelflags.providers (name, available, note) VALUES ('bedrock', false, 'AWS Bedrock');
INSERT INTO modelflags.models (name, provider, params, description)
VALUES ('claude_sonnet_4_5_bedrock', 'bedrock', '{"model": "claude-sonnet-4-5", "max_tokens": 4096}',
        'Claude on Bedrock');
COMMIT;

-- A beta flag with many actor gates (more than the 32 a backend keeps as a
-- list: the Bloom filter path), a percentage of actors and opt-outs.
BEGIN;
SET LOCAL modelflags.note = 'duo beta cohort';
INSERT INTO modelflags.flags (name, type, percentage_of_actors, description)
VALUES ('duo_chat_beta', 'beta', 12.5, 'Duo Chat beta');
INSERT INTO modelflags.flag_actors (flag, actor)
SELECT 'duo_chat_beta', 'User:' || i FROM generate_series(1, :actors, 7) AS i;
COMMIT;
SELECT modelflags.opt_out('duo_chat_beta', 'User:8', note => 'asked to leave');
SELECT modelflags.opt_out('duo_chat_beta', 'User:9');
SELECT modelflags.opt_out('duo_chat_beta', 'Group:9970');

-- A small actor gate (a list), a flag fully on by percentage of time, a
-- flag on by default with no gate set, one fully on.
SELECT modelflags.set_actor('duo_chat_experimental', a, true, note => 'experiment')
  FROM unnest(ARRAY['User:1', 'User:2', 'Project:7', 'Namespaces::UserNamespace:3']) AS a;
SELECT name FROM modelflags.set_flag('duo_chat_everyone', percentage_of_time => 100);
INSERT INTO modelflags.flags (name, default_enabled, type) VALUES ('duo_chat_default_on', true, 'development');
SELECT name FROM modelflags.set_flag('duo_chat_on', true, note => 'GA');

-- A feature routed by those flags; route 0 is on the downed provider.
INSERT INTO modelflags.features (name, description) VALUES ('duo_chat', 'Duo Chat');
INSERT INTO modelflags.routes (feature, position, flag, model, params, note) VALUES
    ('duo_chat', 0, 'duo_chat_beta', 'claude_sonnet_4_5_bedrock', '{}', 'bedrock trial'),
    ('duo_chat', 1, 'duo_chat_experimental', 'claude_sonnet_4_6_vertex', '{"max_tokens": 100}', NULL),
    ('duo_chat', 2, 'duo_chat_beta', 'claude_sonnet_4_6_vertex', '{"temperature": 0.2}', 'beta'),
    ('duo_chat', 3, 'duo_chat_default_on', 'codestral_2508_fireworks', '{}', NULL),
    ('duo_chat', 9, NULL, 'claude_sonnet_4_5_20250929', '{}', 'default');

-- History: rollouts moved, a failover flipped and back, an update, a
-- rename, a deletion, a scratch flag created and deleted.
SELECT name FROM modelflags.set_flag('code_generations_claude_sonnet_4_6', percentage_of_actors => 50,
                                     note => 'rollout 50%');
SELECT name FROM modelflags.set_flag('incident_fail_over_completion_provider', true, note => 'INC-2');
SELECT name FROM modelflags.set_flag('incident_fail_over_completion_provider', false, note => 'INC-2 over');
SELECT name FROM modelflags.set_provider('fireworks_ai', false, note => 'INC-3');
SELECT name FROM modelflags.set_provider('fireworks_ai', true, note => 'INC-3 over');
UPDATE modelflags.models SET params = params || '{"max_retries": 2}' WHERE name = 'claude_sonnet_4_5_20250929';
UPDATE modelflags.features SET name = 'duo_chat_v2' WHERE name = 'duo_chat';
SELECT name FROM modelflags.set_flag('scratch_flag', percentage_of_actors => 1);
SELECT modelflags.delete_flag('scratch_flag', note => 'cleanup');
SELECT modelflags.set_actor('duo_chat_experimental', 'User:2', false);
SELECT modelflags.remove_opt_out('duo_chat_beta', 'User:9');
