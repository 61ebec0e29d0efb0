--
-- populate_flipper.sql — GitLab's Flipper tables attached to a database
-- populate.sql filled (issue 12), for the upgrade (test/stages/30_upgrade.sh:
-- after ALTER EXTENSION UPDATE, and on the fresh install alike) and backup
-- (35_backup.sh) stages.  Needs attach_flipper (1.1).
--
-- GitLab's features/feature_gates with rows as Flipper writes them (research/
-- flipper-tables.md §1.2): some before attach_flipper (not audited, as in a
-- GitLab database that had them for years), some after (audited).  Two
-- flags kept by Flipper that GitLab's YAML definitions define (so routes may
-- name them), one that only Flipper knows, one with a groups gate (never
-- open); actor gates past the 32 a backend keeps as a list, an opt-out, the
-- percentage formats '12.5' and '25.0', and a duplicate percentage row.
-- Deterministic: no percentage of time.
--

CREATE TABLE public.features (id serial PRIMARY KEY, key varchar NOT NULL,
                              created_at timestamp NOT NULL, updated_at timestamp NOT NULL);
CREATE UNIQUE INDEX index_features_on_key ON public.features (key);
CREATE TABLE public.feature_gates (id serial PRIMARY KEY, feature_key varchar NOT NULL, key varchar NOT NULL,
                                   value varchar, created_at timestamp NOT NULL, updated_at timestamp NOT NULL);
CREATE UNIQUE INDEX index_feature_gates_on_feature_key_and_key_and_value
    ON public.feature_gates (feature_key, key, value);

-- Before attach_flipper: years of Rails writes.
INSERT INTO public.features (key, created_at, updated_at)
SELECT k, '2024-01-01', '2024-01-01'
  FROM unnest(ARRAY['duo_workflow_enabled', 'some_rails_flag', 'chat_team_preview']) k;
INSERT INTO public.feature_gates (feature_key, key, value, created_at, updated_at)
SELECT 'duo_workflow_enabled', 'actors', 'User:' || i, '2024-01-02', '2024-01-02'
  FROM generate_series(1, 40) i;
INSERT INTO public.feature_gates (feature_key, key, value, created_at, updated_at) VALUES
    ('duo_workflow_enabled', 'actors', 'User:3:opt_out', '2024-01-03', '2024-01-03'),
    ('duo_workflow_enabled', 'percentage_of_actors', '12.5', '2024-01-03', '2024-01-03'),
    ('some_rails_flag', 'boolean', 'true', '2024-01-04', '2024-01-04'),
    ('chat_team_preview', 'groups', 'gitlab_team_members', '2024-01-05', '2024-01-05');

-- GitLab's YAML definitions of the flags routes name.
SELECT * FROM modelflags.load_definitions($$
---
name: duo_workflow_enabled
description: Duo Workflow for the beta cohort.
milestone: '17.4'
group: group::duo workflow
type: beta
default_enabled: true
$$);
SELECT * FROM modelflags.load_definitions($$
---
name: code_suggestions_claude_4_6_rollout
milestone: '18.9'
group: group::ai framework
type: gitlab_com_derisk
default_enabled: false
$$);
SELECT * FROM modelflags.load_definitions($$
---
name: chat_team_preview
milestone: '18.0'
group: group::duo chat
type: wip
default_enabled: false
$$);
INSERT INTO modelflags.features (name, description) VALUES ('duo_workflow', 'Duo Workflow');
INSERT INTO modelflags.routes (feature, position, flag, model, params, note) VALUES
    ('duo_workflow', 1, 'chat_team_preview', 'codestral_2508_fireworks', '{}', 'groups: never open'),
    ('duo_workflow', 2, 'code_suggestions_claude_4_6_rollout', 'claude_sonnet_4_6_vertex', '{}', 'migration'),
    ('duo_workflow', 3, 'duo_workflow_enabled', 'claude_sonnet_4_5_20250929_vertex', '{"max_tokens": 2048}', 'beta'),
    ('duo_workflow', 4, NULL, 'claude_sonnet_4_5_20250929', '{}', 'default');

SELECT features, gates FROM modelflags.attach_flipper('public.features', 'public.feature_gates', note => 'GitLab');

-- After: ChatOps, as Flipper writes it.  feature set
-- code_suggestions_claude_4_6_rollout 25.0 --actors (add, then the gate).
BEGIN;
INSERT INTO public.features (key, created_at, updated_at) VALUES ('code_suggestions_claude_4_6_rollout', now(), now());
COMMIT;
BEGIN;
DELETE FROM public.feature_gates WHERE feature_key = 'code_suggestions_claude_4_6_rollout' AND key = 'percentage_of_actors';
INSERT INTO public.feature_gates (feature_key, key, value, created_at, updated_at)
VALUES ('code_suggestions_claude_4_6_rollout', 'percentage_of_actors', '25.0', now(), now());
COMMIT;
-- A concurrent set left a second row (the newer one, 30, answers).
INSERT INTO public.feature_gates (feature_key, key, value, created_at, updated_at)
VALUES ('code_suggestions_claude_4_6_rollout', 'percentage_of_actors', '30', now(), now());
-- feature set duo_workflow_enabled false --user=User:2 (disable_actor).
DELETE FROM public.feature_gates WHERE feature_key = 'duo_workflow_enabled' AND value = 'User:2';
