--
-- health_shared_state: the colder parts of compiled routing states, kept
-- once per server (src/cache_share.c, modelflags.shared_state).
--
-- Proves:
--   - with the library preloaded, a full build's names, params, routes and
--     name maps are read from shared memory: the state's memory context says
--     so, and the backend keeps less, by about as much as it shares, than
--     with modelflags.shared_state off; the answers are the same;
--   - a flag flip changes no shared part: the flag gets a copy of its own,
--     which the routes then read; deltas that change a part (a flag
--     created or deleted, a feature created or deleted, routes changed)
--     make that part the backend's own first, and every answer after them
--     is the answer of a full build;
--   - an ERROR before the reference is taken (fault share:before) leaves the
--     state the backend's own; one after it (build:adopt) gives the
--     reference back (the next build counts two, its own and the replaced
--     state's, not three); an ERROR while a
--     delta copies a part (share:own) leaves the state as it was.
--
\set SHOW_CONTEXT never
-- 400 flags, 120 features of three routes (a flag, a model with params
-- merged with the route's, a fallback).
INSERT INTO modelflags.flags (name, enabled, percentage_of_actors)
    SELECT 'share_flag_' || i, i % 3 = 0, CASE WHEN i % 5 = 0 THEN 50 END FROM generate_series(1, 400) i;
INSERT INTO modelflags.models (name, provider, params) VALUES
    ('share_model', 'anthropic', '{"max_tokens": 2048, "temperature": 0.2}');
INSERT INTO modelflags.features (name) SELECT 'share_feature_' || i FROM generate_series(1, 120) i;
INSERT INTO modelflags.routes (feature, position, flag, model, params)
    SELECT 'share_feature_' || i, 1, 'share_flag_' || i, 'share_model', jsonb_build_object('route', i)
      FROM generate_series(1, 120) i
    UNION ALL
    SELECT 'share_feature_' || i, 2, 'share_flag_' || (i + 200), 'gemini', '{}' FROM generate_series(1, 120) i
    UNION ALL
    SELECT 'share_feature_' || i, 3, NULL, 'claude', '{}' FROM generate_series(1, 120) i;

-- Every feature's answer for 10 actors, as a table.
CREATE FUNCTION regress_h.shared_answers()
RETURNS TABLE (feature text, actor text, model text, provider text, params text)
LANGUAGE sql AS $$
    SELECT f.name, 'User:' || a, (c).model, (c).provider, (c).params::text
      FROM modelflags.features f, generate_series(1, 10) a,
           LATERAL (SELECT modelflags.model_for(f.name, 'User:' || a) AS c) m
$$;
-- The routing state's memory context: what it keeps, what it says it shares.
CREATE FUNCTION regress_h.state_context(OUT bytes bigint, OUT ident text)
LANGUAGE sql AS $$
    SELECT total_bytes, ident FROM pg_backend_memory_contexts
     WHERE name = 'modelflags routing cache'
$$;
-- How the state came, and what it shares: all of it, or what deltas made
-- its own ("; own: routes") and how many flags they copied.
CREATE FUNCTION regress_h.state_status(OUT last_refresh text, OUT all_shared boolean,
                                       OUT own text, OUT copied text)
LANGUAGE sql AS $$
    SELECT i.last_refresh, c.ident !~ 'own', substring(c.ident from '; own: [a-z ,]*'),
           substring(c.ident from 'flags copied: [0-9]+')
      FROM modelflags.cache_info() i, regress_h.state_context() c
$$;
-- The next read builds in full: incremental caches off, then a change to
-- an actor gate (which the shared parts do not hold: the flags, routes and
-- their order in the tables stay as they were).
CREATE FUNCTION regress_h.force_build() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    SET modelflags.incremental_cache = off;
    IF EXISTS (SELECT FROM modelflags.flag_actors WHERE flag = 'share_toggle') THEN
        DELETE FROM modelflags.flag_actors WHERE flag = 'share_toggle';
    ELSE
        INSERT INTO modelflags.flag_actors (flag, actor) VALUES ('share_toggle', 'User:toggle');
    END IF;
END $$;
-- Whether answers of a state brought up by deltas are those of a full build.
CREATE FUNCTION regress_h.same_as_full_build() RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    differ bigint;
BEGIN
    CREATE TEMP TABLE by_delta AS SELECT * FROM regress_h.shared_answers();
    PERFORM regress_h.force_build();
    SELECT count(*) INTO differ FROM
        ((SELECT * FROM by_delta EXCEPT SELECT * FROM regress_h.shared_answers())
         UNION ALL
         (SELECT * FROM regress_h.shared_answers() EXCEPT SELECT * FROM by_delta)) d;
    DROP TABLE by_delta;
    RETURN differ = 0;
END $$;

INSERT INTO modelflags.flags (name) VALUES ('share_toggle');

-- Off: the state is the backend's own.
SET modelflags.shared_state = off;
SELECT regress_h.force_build();
CREATE TEMP TABLE answers_own AS SELECT * FROM regress_h.shared_answers();
SELECT bytes AS own_bytes, ident IS NULL AS nothing_shared FROM regress_h.state_context() \gset
SELECT :'nothing_shared' AS nothing_shared;

-- On: the same answers, from a state that shares its colder parts.
SET modelflags.shared_state = on;
SELECT regress_h.force_build();
SELECT count(*) AS differ FROM
    ((SELECT * FROM answers_own EXCEPT SELECT * FROM regress_h.shared_answers())
     UNION ALL (SELECT * FROM regress_h.shared_answers() EXCEPT SELECT * FROM answers_own)) d;
SELECT ident ~ '^shares [0-9]+ bytes: entry [0-9]+, references 1$' AS shares,
       :own_bytes - bytes > 0.75 * substring(ident from '^shares ([0-9]+) bytes')::bigint
           AS keeps_less_by_what_it_shares
  FROM regress_h.state_context();

-- Deltas from here on.
SET modelflags.incremental_cache = on;

-- A flip and a provider outage change no shared part: the flipped flag
-- gets a copy of its own (20 bytes), the rest stay shared.
SELECT (modelflags.set_flag('share_flag_7', true)).enabled AS flipped;
SELECT (modelflags.set_provider('vertex_ai', false)).available AS outage;
SELECT model FROM modelflags.model_for('share_feature_7', 'User:1');
SELECT last_refresh, all_shared, copied FROM regress_h.state_status();
SELECT modelflags.is_enabled('share_flag_7') AS flipped_on, modelflags.is_enabled('share_flag_8') AS other;
SELECT (modelflags.set_flag('share_flag_7', false)).enabled AS flipped_back;
SELECT model FROM modelflags.model_for('share_feature_7', 'User:1');
SELECT modelflags.is_enabled('share_flag_7') AS flipped_off,
       substring(ident from 'flags copied: [0-9]+') AS copied FROM regress_h.state_context();
-- Flipping it again reuses its copy: the state allocates nothing more.
SELECT used_bytes AS flips_bytes FROM pg_backend_memory_contexts
 WHERE name = 'modelflags routing cache' \gset
SELECT (modelflags.set_flag('share_flag_7', true)).enabled AS again_on;
SELECT modelflags.is_enabled('share_flag_7') AS flipped_on_again;
SELECT (modelflags.set_flag('share_flag_7', false)).enabled AS again_off;
SELECT modelflags.is_enabled('share_flag_7') AS flipped_off_again;
SELECT s.last_refresh, c.used_bytes = :flips_bytes AS no_growth
  FROM regress_h.state_status() s, pg_backend_memory_contexts c
 WHERE c.name = 'modelflags routing cache';
SELECT (modelflags.set_provider('vertex_ai', true)).available AS back;
SELECT regress_h.same_as_full_build() AS same_after_flip;

-- A flag created: the flag names and the flag map become the backend's own.
SELECT regress_h.force_build();
SELECT model FROM modelflags.model_for('share_feature_1', 'User:1');
SET modelflags.incremental_cache = on;
SELECT last_refresh, all_shared FROM regress_h.state_status();
INSERT INTO modelflags.flags (name, enabled) VALUES ('share_new_flag', true);
UPDATE modelflags.routes SET flag = 'share_new_flag' WHERE feature = 'share_feature_1' AND position = 1;
SELECT model, flag FROM modelflags.model_for('share_feature_1', 'User:1');
SELECT modelflags.is_enabled('share_new_flag') AS new_flag, modelflags.is_enabled('share_flag_3') AS old_flag;
SELECT last_refresh, own, copied FROM regress_h.state_status();
SELECT regress_h.same_as_full_build() AS same_after_new_flag;

-- A flag deleted (its routes with it): the flag map and the routes.
SELECT regress_h.force_build();
SELECT model FROM modelflags.model_for('share_feature_1', 'User:1');
SET modelflags.incremental_cache = on;
SELECT last_refresh, all_shared FROM regress_h.state_status();
DELETE FROM modelflags.routes WHERE flag = 'share_flag_2';
DELETE FROM modelflags.flags WHERE name = 'share_flag_2';
SELECT modelflags.is_enabled('share_flag_2') AS deleted_flag, modelflags.is_enabled('share_flag_3') AS old_flag;
SELECT model FROM modelflags.model_for('share_feature_2', 'User:1');
SELECT last_refresh, own, copied FROM regress_h.state_status();
SELECT regress_h.same_as_full_build() AS same_after_deleted_flag;

-- A feature created and one deleted: the feature map only.
SELECT regress_h.force_build();
SELECT model FROM modelflags.model_for('share_feature_1', 'User:1');
SET modelflags.incremental_cache = on;
SELECT last_refresh, all_shared FROM regress_h.state_status();
DELETE FROM modelflags.routes WHERE feature = 'share_feature_4';
DELETE FROM modelflags.features WHERE name = 'share_feature_4';
INSERT INTO modelflags.features (name) VALUES ('share_feature_new');
SELECT (regress_h.try($$SELECT modelflags.model_for('share_feature_4', 'User:1')$$)).code AS deleted_feature;
SELECT (regress_h.try($$SELECT modelflags.model_for('share_feature_new', 'User:1')$$)).code AS no_route_yet;
SELECT last_refresh, own, copied FROM regress_h.state_status();
-- ... and its route: the routes too.
INSERT INTO modelflags.routes (feature, position, model) VALUES ('share_feature_new', 1, 'share_model');
SELECT model, params FROM modelflags.model_for('share_feature_new', 'User:1');
SELECT model, params FROM modelflags.model_for('share_feature_5', 'User:15');
SELECT last_refresh, own, copied FROM regress_h.state_status();
SELECT regress_h.same_as_full_build() AS same_after_features;

-- A route changed: the routes only.
SELECT regress_h.force_build();
SELECT model FROM modelflags.model_for('share_feature_1', 'User:1');
SET modelflags.incremental_cache = on;
SELECT last_refresh, all_shared FROM regress_h.state_status();
UPDATE modelflags.routes SET params = '{"route": "changed"}' WHERE feature = 'share_feature_9' AND position = 1;
UPDATE modelflags.flags SET enabled = true WHERE name = 'share_flag_9';
SELECT model, params FROM modelflags.model_for('share_feature_9', 'User:1');
SELECT last_refresh, own, copied FROM regress_h.state_status();
SELECT regress_h.same_as_full_build() AS same_after_route;

-- Errors.  Before the reference is taken: the state stays the backend's
-- own, and the rebuild after it shares as usual.  A rebuild of unchanged
-- tables finds the copy the state it replaces holds: two references.
SELECT regress_h.force_build();
SELECT model FROM modelflags.model_for('share_feature_1', 'User:1');
SELECT regress_h.force_build();
SET modelflags.fault_injection = 'share:before';
SELECT (regress_h.try($$SELECT modelflags.model_for('share_feature_1', 'User:1')$$)).message;
RESET modelflags.fault_injection;
SELECT model FROM modelflags.model_for('share_feature_1', 'User:1');
SELECT substring(ident from 'references .*') AS refs FROM regress_h.state_context();
-- After it (the half-adopted state is freed by the ERROR): the reference is
-- given back, so the next rebuild counts two again, not three.
SELECT regress_h.force_build();
SET modelflags.fault_injection = 'build:adopt';
SELECT (regress_h.try($$SELECT modelflags.model_for('share_feature_1', 'User:1')$$)).message;
RESET modelflags.fault_injection;
SELECT model FROM modelflags.model_for('share_feature_1', 'User:1');
SELECT substring(ident from 'references .*') AS refs FROM regress_h.state_context();
-- While a delta copies a part: nothing changed, the next read brings it.
SET modelflags.incremental_cache = on;
SET modelflags.fault_injection = 'share:own';
INSERT INTO modelflags.flags (name, enabled) VALUES ('share_newer_flag', true);
SELECT (regress_h.try($$SELECT modelflags.is_enabled('share_newer_flag')$$)).message;
SELECT last_refresh, all_shared FROM regress_h.state_status();
RESET modelflags.fault_injection;
SELECT modelflags.is_enabled('share_newer_flag') AS newer_flag;
SELECT last_refresh, own, copied FROM regress_h.state_status();
SELECT regress_h.same_as_full_build() AS same_after_errors;

-- Clean up for the tests that follow.
RESET modelflags.incremental_cache;
DELETE FROM modelflags.routes WHERE feature LIKE 'share\_%';
DELETE FROM modelflags.features WHERE name LIKE 'share\_%';
DELETE FROM modelflags.models WHERE name = 'share_model';
DELETE FROM modelflags.flags WHERE name LIKE 'share\_%';
DROP FUNCTION regress_h.shared_answers(), regress_h.state_status(), regress_h.state_context(),
    regress_h.force_build(), regress_h.same_as_full_build();
