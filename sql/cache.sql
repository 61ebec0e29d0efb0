--
-- cache: the compiled routing cache and its actor sets (src/cache.c).
--
-- Proves:
--   - steady state: repeated reads do not rebuild (builds stays put);
--   - a change to a few rows is applied as a delta at the next statement
--     (patches, not builds: src/cache_delta.c), and cache_info() says so;
--   - actor sets are loaded lazily, per flag, and survive a change to
--     another table (a failover flip must not reload millions of actor
--     gates), with answers still right;
--   - a change to a flag's actor gates drops that flag's set only, and the
--     new actor is seen; a bulk change (a TRUNCATE) builds in full;
--   - large sets (over 32 rows) answer exactly, through the Bloom filter and
--     the index probe, for members, non-members and opt-outs;
--   - name and key columns are COLLATE "C";
--   - the cache's memory per feature and route stays small.
--
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
INSERT INTO modelflags.providers (name) VALUES ('anthropic'), ('vertex_ai');
INSERT INTO modelflags.models (name, provider) VALUES ('claude', 'anthropic'), ('claude_vertex', 'vertex_ai');
INSERT INTO modelflags.flags (name) VALUES ('beta_small'), ('beta_big'), ('incident_fail_over_generation_provider');
INSERT INTO modelflags.flag_actors (flag, actor) SELECT 'beta_small', 'User:' || i FROM generate_series(1, 3) i;
INSERT INTO modelflags.flag_actors (flag, actor, opt_out)
    SELECT 'beta_big', 'User:' || i, i % 100 = 0 FROM generate_series(1, 5000) i;
INSERT INTO modelflags.features (name) VALUES ('code_generations');
INSERT INTO modelflags.routes (feature, position, flag, model) VALUES
    ('code_generations', 1, 'incident_fail_over_generation_provider', 'claude_vertex'),
    ('code_generations', 2, NULL, 'claude');

-- First read builds; later reads in later statements do not.
SELECT model FROM modelflags.model_for('code_generations', 'User:1');
SELECT builds AS b0 FROM modelflags.cache_info() \gset
SELECT model FROM modelflags.model_for('code_generations', 'User:2');
SELECT valid, builds - :b0 AS new_builds, actor_sets_loaded FROM modelflags.cache_info();

-- Actor sets load on first use: one small, one large.
SELECT modelflags.is_enabled('beta_small', 'User:2') AS small_member,
       modelflags.is_enabled('beta_small', 'User:9') AS small_other,
       modelflags.is_enabled('beta_big', 'User:4999') AS big_member,
       modelflags.is_enabled('beta_big', 'User:5000') AS big_opted_out,
       modelflags.is_enabled('beta_big', 'User:5001') AS big_other;
SELECT builds - :b0 AS new_builds, actor_sets_loaded FROM modelflags.cache_info();
-- Every member and non-member of the large set answers exactly (no false
-- positive of the Bloom filter gets through the index probe).
SELECT count(*) FILTER (WHERE modelflags.is_enabled('beta_big', 'User:' || i) <> (i <= 5000 AND i % 100 <> 0)) AS wrong,
       count(*) FILTER (WHERE modelflags.is_enabled('beta_big', 'User:' || i)) AS enabled
  FROM generate_series(1, 20000) i;

-- A failover flip is a delta: no build, and the actor sets stay.
SELECT patches AS p0 FROM modelflags.cache_info() \gset
SELECT name, enabled FROM modelflags.set_flag('incident_fail_over_generation_provider', true);
SELECT model, gate FROM modelflags.model_for('code_generations', 'User:1');
SELECT modelflags.is_enabled('beta_big', 'User:4999') AS big_member;
SELECT builds - :b0 AS new_builds, patches - :p0 AS new_patches, actor_sets_loaded, last_refresh
  FROM modelflags.cache_info();

-- A new actor gate drops that flag's set only; the new actor is seen.
SELECT modelflags.set_actor('beta_big', 'User:77777', true);
SELECT modelflags.is_enabled('beta_big', 'User:77777') AS new_member,
       modelflags.is_enabled('beta_small', 'User:3') AS small_member;
SELECT builds - :b0 AS new_builds, patches - :p0 AS new_patches, actor_sets_loaded
  FROM modelflags.cache_info();

-- A provider outage, a model change and a new route: deltas too.
UPDATE modelflags.providers SET available = false WHERE name = 'vertex_ai';
SELECT model, position, skipped FROM modelflags.model_for('code_generations', 'User:1');
UPDATE modelflags.providers SET available = true WHERE name = 'vertex_ai';
UPDATE modelflags.models SET params = '{"max_tokens": 7}' WHERE name = 'claude_vertex';
SELECT model, params FROM modelflags.model_for('code_generations', 'User:1');
INSERT INTO modelflags.routes (feature, position, flag, model) VALUES ('code_generations', 0, 'beta_small', 'claude');
SELECT model, position FROM modelflags.model_for('code_generations', 'User:2');
SELECT builds - :b0 AS new_builds, patches - :p0 AS new_patches, last_refresh FROM modelflags.cache_info();
DELETE FROM modelflags.routes WHERE feature = 'code_generations' AND position = 0;
UPDATE modelflags.models SET params = '{}' WHERE name = 'claude_vertex';

-- A bulk change builds in full, and cache_info() says why.
TRUNCATE modelflags.flag_actors;
INSERT INTO modelflags.flag_actors (flag, actor) SELECT 'beta_small', 'User:' || i FROM generate_series(1, 3) i;
INSERT INTO modelflags.flag_actors (flag, actor, opt_out)
    SELECT 'beta_big', 'User:' || i, i % 100 = 0 FROM generate_series(1, 5000) i;
SELECT modelflags.is_enabled('beta_big', 'User:4999') AS big_member;
SELECT last_refresh, last_refresh_reason FROM modelflags.cache_info();
TRUNCATE modelflags.routes;
INSERT INTO modelflags.routes (feature, position, flag, model) VALUES
    ('code_generations', 1, 'incident_fail_over_generation_provider', 'claude_vertex'),
    ('code_generations', 2, NULL, 'claude');
SELECT model FROM modelflags.model_for('code_generations', 'User:1');
SELECT last_refresh, last_refresh_reason FROM modelflags.cache_info();

-- Every name and key column compares bytes (COLLATE "C"), whatever the
-- database's locale: the actor probe's index descent runs memcmp instead of
-- strcoll, dumps sort the same everywhere, and a libc or ICU upgrade never
-- calls for a REINDEX of these tables.
SELECT c.relname, a.attname, co.collname
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_collation co ON co.oid = a.attcollation
 WHERE c.relnamespace = 'modelflags'::regnamespace AND c.relkind = 'r' AND a.attnum > 0
   AND a.attname IN ('name', 'provider', 'flag', 'actor', 'feature', 'model')
 ORDER BY 1, 2;

-- Memory: the cache keeps a few hundred bytes per feature and route.  Merging
-- a route's params over its model's must not leave jsonb_concat's scratch
-- (about 2 kB per merged route) in the long-lived cache context.
UPDATE modelflags.models SET params = '{"model": "claude-sonnet-4", "max_tokens": 2048, "temperature": 0}'
 WHERE name = 'claude';
SELECT model FROM modelflags.model_for('code_generations', 'User:1');
SELECT memory_bytes AS m0 FROM modelflags.cache_info() \gset
INSERT INTO modelflags.features (name) SELECT 'feature_' || i FROM generate_series(1, 4000) i;
INSERT INTO modelflags.routes (feature, position, model, params)
    SELECT 'feature_' || i, 0, 'claude', '{"direct_access": false}' FROM generate_series(1, 4000) i;
SELECT model, params FROM modelflags.model_for('feature_4000', 'User:1');
SELECT features, routes, (memory_bytes - :m0) / 4000 < 1000 AS under_1000_bytes_per_feature
  FROM modelflags.cache_info();

-- A read above a Gather node runs in parallel mode, where no new snapshot
-- can be taken: a stale cache is still brought up to date (sqlsmith found
-- "cannot update SecondarySnapshot during a parallel operation" here).
CREATE TABLE regress_util.parallel_rows AS SELECT g FROM generate_series(1, 20000) g;
ANALYZE regress_util.parallel_rows;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
UPDATE modelflags.flags SET enabled = NOT coalesce(enabled, false) WHERE name = 'beta_small';
EXPLAIN (COSTS OFF)
SELECT count(*) FILTER (WHERE modelflags.is_enabled('beta_small', 'User:' || s.g))
  FROM (SELECT g FROM regress_util.parallel_rows WHERE g % 2 = 0) s;
SELECT count(*) FILTER (WHERE modelflags.is_enabled('beta_small', 'User:' || s.g)) AS enabled,
       count(*) AS actors
  FROM (SELECT g FROM regress_util.parallel_rows WHERE g % 2 = 0) s;
-- The transaction's own changes (A2) in parallel mode: the read snapshot's
-- command id cannot be moved there by UpdateActiveSnapshotCommandId()
-- (XX000 "cannot modify commandid in active snapshot during a parallel
-- operation", found by the SQL fuzzer); the state's own copy is moved.
-- With force_parallel_mode, a query of PARALLEL RESTRICTED calls alone runs
-- in parallel mode too.
BEGIN;
SELECT modelflags.is_enabled('beta_big', 'User:999999') AS before_insert;
INSERT INTO modelflags.flag_actors (flag, actor) VALUES ('beta_big', 'User:999999');
UPDATE modelflags.flags SET enabled = true WHERE name = 'incident_fail_over_generation_provider';
SELECT count(*) FILTER (WHERE modelflags.is_enabled('beta_big', 'User:' || s.g)) AS enabled,
       count(*) AS actors, bool_or(modelflags.is_enabled('beta_big', 'User:999999')) AS own_actor
  FROM (SELECT g FROM regress_util.parallel_rows WHERE g % 2 = 0) s;
SET LOCAL force_parallel_mode = on;
SELECT modelflags.is_enabled('beta_big', 'User:999999') AS own_actor;
SELECT model, position FROM modelflags.model_for('code_generations', 'User:1');
SELECT flag, applies, decision FROM modelflags.explain('code_generations', 'User:1') WHERE position = 1;
ROLLBACK;
SELECT modelflags.is_enabled('beta_big', 'User:999999') AS after_rollback;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE regress_util.parallel_rows;

-- Changes to a large flag's actor gates, one per transaction: each reloads
-- the flag's set (a 6 kB filter here) and leaves the old one allocated (an
-- older state may point to it) until the forgotten sets take 1 MB and half
-- of the collection; then a new collection is started.  Before, they piled
-- up until the next full build: 2.6 MB after these 400 changes.
CREATE PROCEDURE regress_util.add_actors(n integer) LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..n LOOP
        INSERT INTO modelflags.flag_actors (flag, actor) VALUES ('beta_big', 'Added:' || i);
        COMMIT;
        IF NOT modelflags.is_enabled('beta_big', 'Added:' || i)
           OR modelflags.is_enabled('beta_big', 'Added:' || (i + 1)) THEN
            RAISE EXCEPTION 'actor Added:% not seen as the only one added', i;
        END IF;
        COMMIT;
    END LOOP;
END $$;
SELECT builds AS builds0 FROM modelflags.cache_info() \gset
CALL regress_util.add_actors(400);
SELECT builds - :builds0 AS builds, patches >= 400 AS deltas FROM modelflags.cache_info();
SELECT count(*) AS collections, sum(total_bytes) < 1500000 AS under_1_5_mb
  FROM pg_backend_memory_contexts WHERE name = 'modelflags actor sets';
SELECT count(*) FILTER (WHERE modelflags.is_enabled('beta_big', 'User:' || g)) AS enabled_of_5000
  FROM generate_series(1, 5000) g;
DELETE FROM modelflags.flag_actors WHERE actor LIKE 'Added:%';
DROP PROCEDURE regress_util.add_actors(integer);

-- A setting made before the library is loaded (PGOPTIONS, ALTER ROLE ... SET,
-- postgresql.conf) survives its loading: a new backend, then the first call.
\c -reuse-previous=on "options='-c modelflags.incremental_cache=off'"
SHOW modelflags.incremental_cache;
SELECT model FROM modelflags.model_for('code_generations', 'User:1');
SHOW modelflags.incremental_cache;
