--
-- flipper: Flipper's ActiveRecord tables as a source of flags (issue 12;
-- sql/install/70_flipper.sql, src/flipper.c).  The rows are those Flipper
-- 0.25/0.26/1.x writes (research/flipper-tables.md §1.2, §5); the real gem
-- drives them in test/stages/55_flipper_tables.sh.
--
-- Proves: attach_flipper checks the tables' shape and refuses a second
-- attachment; a key of the features table is a persisted flag (no gate: off,
-- even with default_enabled) whose gates are Flipper's rows (boolean 'true',
-- percentages written as '25', '25.0', '12.5', the newest of duplicates,
-- actors, GitLab's ':opt_out' actors, small and large actor sets); groups
-- and expression gates are never open and explain says why; flags only in
-- modelflags keep their own gates; writes through modelflags to a Flipper
-- flag are refused (55000); every Flipper change is audited, notified and
-- reaches the cache as a delta; a failure in modelflags' trigger never fails
-- the writer; detach_flipper returns to modelflags' own gates.
--
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
INSERT INTO modelflags.providers (name) VALUES ('anthropic'), ('vertex_ai');
INSERT INTO modelflags.models (name, provider) VALUES ('claude', 'anthropic'), ('claude_vertex', 'vertex_ai');
-- GitLab's YAML definition: default_enabled true, kept in modelflags.flags.
INSERT INTO modelflags.flags (name, default_enabled) VALUES ('incident_fail_over_generation_provider', true);
INSERT INTO modelflags.flags (name, enabled) VALUES ('modelflags_only', true);
INSERT INTO modelflags.features (name) VALUES ('code_generations');
INSERT INTO modelflags.routes (feature, position, flag, model) VALUES
    ('code_generations', 1, 'incident_fail_over_generation_provider', 'claude_vertex'),
    ('code_generations', 2, NULL, 'claude');

-- GitLab's tables (db/structure.sql): no foreign key, varchar values.
CREATE TABLE public.features (id serial PRIMARY KEY, key varchar NOT NULL,
                              created_at timestamp NOT NULL, updated_at timestamp NOT NULL);
CREATE UNIQUE INDEX index_features_on_key ON public.features (key);
CREATE TABLE public.feature_gates (id serial PRIMARY KEY, feature_key varchar NOT NULL, key varchar NOT NULL,
                                   value varchar, created_at timestamp NOT NULL, updated_at timestamp NOT NULL);
CREATE UNIQUE INDEX index_feature_gates_on_feature_key_and_key_and_value
    ON public.feature_gates (feature_key, key, value);

-- Not attached yet: default_enabled applies (never set).
SELECT model FROM modelflags.model_for('code_generations', 'User:1');

-- Shape checks, then the attachment.
SELECT * FROM regress_util.try($$SELECT modelflags.attach_flipper('modelflags.routes', 'public.feature_gates')$$);
SELECT * FROM regress_util.try($$SELECT modelflags.attach_flipper('public.features', NULL)$$);
SELECT features, gates, attached_by IS NOT NULL AS by_whom
  FROM modelflags.attach_flipper('public.features', 'public.feature_gates', note => 'GitLab');
SELECT * FROM regress_util.try($$SELECT modelflags.attach_flipper('public.features', 'public.feature_gates')$$);
SELECT tgname FROM pg_trigger WHERE tgrelid = 'public.feature_gates'::regclass ORDER BY 1;

-- Flipper's add: a features row, no gate.  Persisted and off, although the
-- YAML default says on (GitLab: persisted_name? wins over default_enabled).
INSERT INTO public.features (key, created_at, updated_at)
VALUES ('incident_fail_over_generation_provider', now(), now());
SELECT model, gate FROM modelflags.model_for('code_generations', 'User:1');
SELECT last_refresh FROM modelflags.cache_info();

-- /chatops run feature set incident_fail_over_generation_provider true:
-- one transaction deleting every gate and inserting the boolean one.
BEGIN;
DELETE FROM public.feature_gates WHERE feature_key = 'incident_fail_over_generation_provider';
INSERT INTO public.feature_gates (feature_key, key, value, created_at, updated_at)
VALUES ('incident_fail_over_generation_provider', 'boolean', 'true', now(), now());
COMMIT;
SELECT model, flag, gate FROM modelflags.model_for('code_generations', 'User:1');
SELECT last_refresh FROM modelflags.cache_info();
SELECT position, decision, reason FROM modelflags.explain('code_generations', 'User:1') ORDER BY position;
-- ... audited (who and what) and notified, like any other change.
SELECT table_name, operation, key, new_row ->> 'value' AS value, note IS NULL AS no_note,
       changed_by = session_user AS by_session_user
  FROM modelflags.changes WHERE table_name IN ('public.features', 'public.feature_gates') ORDER BY id;

-- feature set ... false: the gates go, the features row stays: off.
DELETE FROM public.feature_gates WHERE feature_key = 'incident_fail_over_generation_provider';
SELECT model, gate FROM modelflags.model_for('code_generations', 'User:1');

-- Percentages as Flipper versions write them, checked against rollout_pct.
CREATE FUNCTION regress_util.rollout_ok(flag text, pct numeric) RETURNS bigint
LANGUAGE sql AS $$
SELECT count(*) FILTER (WHERE modelflags.is_enabled(flag, 'User:' || g)
                          <> (modelflags.rollout_pct(flag, 'User:' || g) * 1000 < pct::float8 * 1000))
  FROM generate_series(1, 3000) g
$$;
INSERT INTO public.feature_gates (feature_key, key, value, created_at, updated_at)
VALUES ('incident_fail_over_generation_provider', 'percentage_of_actors', '25', now(), now());
SELECT regress_util.rollout_ok('incident_fail_over_generation_provider', 25) AS wrong_at_25;
UPDATE public.feature_gates SET value = '25.0' WHERE key = 'percentage_of_actors';
SELECT regress_util.rollout_ok('incident_fail_over_generation_provider', 25) AS wrong_at_25_0;
UPDATE public.feature_gates SET value = '12.5' WHERE key = 'percentage_of_actors';
SELECT regress_util.rollout_ok('incident_fail_over_generation_provider', 12.5) AS wrong_at_12_5;
-- Two concurrent sets leave two rows: the newest (by id) wins.
INSERT INTO public.feature_gates (feature_key, key, value, created_at, updated_at)
VALUES ('incident_fail_over_generation_provider', 'percentage_of_actors', '50', now(), now());
SELECT regress_util.rollout_ok('incident_fail_over_generation_provider', 50) AS wrong_at_newest_50;
DELETE FROM public.feature_gates WHERE key = 'percentage_of_actors';

-- Actors, GitLab's opt-out convention, and an actor with both rows.
INSERT INTO public.feature_gates (feature_key, key, value, created_at, updated_at) VALUES
    ('incident_fail_over_generation_provider', 'actors', 'User:1', now(), now()),
    ('incident_fail_over_generation_provider', 'actors', 'User:2', now(), now()),
    ('incident_fail_over_generation_provider', 'actors', 'User:2:opt_out', now(), now()),
    ('incident_fail_over_generation_provider', 'boolean', 'true', now(), now()),
    ('incident_fail_over_generation_provider', 'actors', 'User:3:opt_out', now(), now());
SELECT a AS actor, modelflags.is_enabled('incident_fail_over_generation_provider', a) AS enabled
  FROM unnest(ARRAY['User:1', 'User:2', 'User:3', 'User:4']) a;
-- A large set (more than 32 rows: Bloom filter and index probes).
INSERT INTO public.feature_gates (feature_key, key, value, created_at, updated_at)
SELECT 'incident_fail_over_generation_provider', 'actors',
       'Project:' || g || CASE WHEN g % 10 = 0 THEN ':opt_out' ELSE '' END, now(), now()
  FROM generate_series(1, 500) g;
DELETE FROM public.feature_gates WHERE key = 'boolean';
SELECT count(*) FILTER (WHERE modelflags.is_enabled('incident_fail_over_generation_provider', 'Project:' || g)
                          <> (g <= 500 AND g % 10 <> 0)) AS wrong,
       count(*) FILTER (WHERE modelflags.is_enabled('incident_fail_over_generation_provider', 'Project:' || g)) AS enabled
  FROM generate_series(1, 2000) g;

-- Groups and expressions: no SQL can evaluate them: closed, and said so.
INSERT INTO public.features (key, created_at, updated_at) VALUES ('chat_beta', now(), now());
INSERT INTO public.feature_gates (feature_key, key, value, created_at, updated_at) VALUES
    ('chat_beta', 'groups', 'gitlab_team_members', now(), now());
-- (A route names a flag of modelflags.flags, where GitLab's YAML definition is loaded.)
INSERT INTO modelflags.flags (name) VALUES ('chat_beta');
INSERT INTO modelflags.routes (feature, position, flag, model) VALUES ('code_generations', 0, 'chat_beta', 'claude');
SELECT position, decision, reason FROM modelflags.explain('code_generations', 'User:9') ORDER BY position;
DELETE FROM modelflags.routes WHERE position = 0;

-- Writes through modelflags to Flipper's flags are refused; to others not.
SELECT * FROM regress_util.try($$SELECT modelflags.set_flag('incident_fail_over_generation_provider', true)$$);
SELECT * FROM regress_util.try($$SELECT modelflags.set_actor('incident_fail_over_generation_provider', 'User:9', true)$$);
SELECT * FROM regress_util.try($$SELECT modelflags.opt_out('chat_beta', 'User:9')$$);
SELECT * FROM regress_util.try($$SELECT modelflags.remove_opt_out('chat_beta', 'User:9')$$);
SELECT * FROM regress_util.try($$SELECT modelflags.delete_flag('chat_beta')$$);
SELECT * FROM regress_util.try($$SELECT modelflags.set_flag('modelflags_only', false)$$);
-- So is plain SQL that sets a gate (and load_definitions, which writes
-- through it), in one query per statement; metadata and deletes are not.
SELECT * FROM regress_util.try($$UPDATE modelflags.flags SET enabled = true WHERE name = 'chat_beta'$$);
SELECT * FROM regress_util.try($$UPDATE modelflags.flags SET percentage_of_actors = 5 WHERE name IN ('modelflags_only', 'chat_beta')$$);
SELECT * FROM regress_util.try($$INSERT INTO modelflags.flag_actors (flag, actor) VALUES ('modelflags_only', 'User:1'), ('chat_beta', 'User:1')$$);
SELECT * FROM regress_util.try($$SELECT modelflags.load_definitions('flags: [{name: chat_beta, percentage_of_time: 50}]')$$);
SELECT * FROM regress_util.try($$INSERT INTO public.features (key, created_at, updated_at) VALUES ('not_yet_defined', now(), now());
                                 INSERT INTO modelflags.flags (name, enabled) VALUES ('not_yet_defined', true)$$);
SELECT * FROM regress_util.try($$SELECT modelflags.load_definitions('flags: [{name: chat_beta, type: beta, default_enabled: true}]')$$);
UPDATE modelflags.flags SET description = 'Duo Chat beta' WHERE name = 'chat_beta';
SELECT name, type, default_enabled, enabled, description FROM modelflags.flags WHERE name = 'chat_beta';

-- A failure inside modelflags' trigger never fails the Rails write.
SET modelflags.fault_injection = 'flipper:note';
INSERT INTO public.feature_gates (feature_key, key, value, created_at, updated_at)
VALUES ('chat_beta', 'boolean', 'true', now(), now());
RESET modelflags.fault_injection;
SELECT count(*) AS written FROM public.feature_gates WHERE feature_key = 'chat_beta' AND key = 'boolean';
-- The audit is a step of its own: the failed routing note did not cost it.
SELECT count(*) AS audited FROM modelflags.changes
 WHERE table_name = 'public.feature_gates' AND new_row ->> 'feature_key' = 'chat_beta' AND new_row ->> 'key' = 'boolean';

-- Flipper's remove: the flag is no longer persisted; default_enabled again.
BEGIN;
DELETE FROM public.features WHERE key = 'incident_fail_over_generation_provider';
DELETE FROM public.feature_gates WHERE feature_key = 'incident_fail_over_generation_provider';
COMMIT;
SELECT model, gate FROM modelflags.model_for('code_generations', 'User:1');

-- Detached: back to modelflags' own gates; the triggers are gone.
INSERT INTO public.features (key, created_at, updated_at) VALUES ('modelflags_only', now(), now());
SELECT modelflags.is_enabled('modelflags_only') AS kept_by_flipper_off;
SELECT modelflags.detach_flipper();
SELECT modelflags.is_enabled('modelflags_only') AS own_gate_on,
       modelflags.is_enabled('chat_beta') AS chat_beta_own_gates_off;
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgrelid IN ('public.features'::regclass, 'public.feature_gates'::regclass);
SELECT modelflags.detach_flipper() AS detached_again;

-- Flipper keys among many flags (found by the SQL fuzzer: a segfault).  The
-- build marks Flipper's flags in an array that grows by doubling: two keys
-- naming flags 900 and 901 of 1,002 grew it to 1,802 entries, past the
-- 1,258 the state keeps, and zeroing "the rest" took a negative length.
INSERT INTO modelflags.flags (name) SELECT 'many_' || g FROM generate_series(1, 1000) g;
SELECT features, gates FROM modelflags.attach_flipper('public.features', 'public.feature_gates');
INSERT INTO public.features (key, created_at, updated_at) VALUES ('many_900', now(), now()), ('many_901', now(), now());
INSERT INTO public.feature_gates (feature_key, key, value, created_at, updated_at)
VALUES ('many_901', 'boolean', 'true', now(), now());
SELECT last_refresh FROM modelflags.cache_info();
SET modelflags.incremental_cache = off;  -- a full build, with the Flipper marks
SELECT modelflags.is_enabled('many_900') AS many_900, modelflags.is_enabled('many_901') AS many_901,
       modelflags.is_enabled('many_1000') AS many_1000;
SELECT last_refresh, flags >= 1002 AS all_flags FROM modelflags.cache_info();
RESET modelflags.incremental_cache;
SELECT modelflags.detach_flipper();
DELETE FROM modelflags.flags WHERE name LIKE 'many\_%';

DROP FUNCTION regress_util.rollout_ok(text, numeric);
DROP TABLE public.features, public.feature_gates;
