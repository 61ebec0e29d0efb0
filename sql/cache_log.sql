--
-- cache_log: the change log the caches read their deltas from
-- (sql/install/22_cache_log.sql, src/change_log.c) is pruned by writers.
--
-- Proves:
--   - a prune keeps the newest rows and leaves a '*' marker naming the
--     newest txid it deleted;
--   - a transaction whose only changes are Flipper's (its log rows written
--     by the trigger already) prunes too: a database that only sees Flipper
--     writes does not grow the log for ever;
--   - a reader whose state is older than the marker rebuilds in full, says
--     why in cache_info(), and answers with the change;
--   - an ERROR while pruning costs only the prune: the write commits with
--     its audit and log rows (a ChatOps command never fails on our
--     housekeeping), and the log is pruned by a later writer.
--
-- Production prunes at one commit in 1,024 and keeps 4,096 rows;
-- modelflags.fault_injection = 'force:log:prune' makes every commit prune.
--
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
INSERT INTO modelflags.providers (name) VALUES ('anthropic'), ('vertex_ai');
INSERT INTO modelflags.models (name, provider) VALUES ('claude', 'anthropic'), ('claude_vertex', 'vertex_ai');
INSERT INTO modelflags.flags (name) VALUES ('modelflags_only'), ('cl_fail_over');
INSERT INTO modelflags.features (name) VALUES ('code_generations');
INSERT INTO modelflags.routes (feature, position, flag, model) VALUES
    ('code_generations', 1, 'cl_fail_over', 'claude_vertex'),
    ('code_generations', 2, NULL, 'claude');

-- Flipper's tables (the gem's naming), attached.
CREATE TABLE public.cl_flipper_features (id serial PRIMARY KEY, key varchar NOT NULL UNIQUE,
                                         created_at timestamp NOT NULL, updated_at timestamp NOT NULL);
CREATE TABLE public.cl_flipper_gates (id serial PRIMARY KEY, feature_key varchar NOT NULL,
                                      key varchar NOT NULL, value text,
                                      created_at timestamp NOT NULL, updated_at timestamp NOT NULL,
                                      UNIQUE (feature_key, key, value));
SELECT features FROM modelflags.attach_flipper('public.cl_flipper_features', 'public.cl_flipper_gates');
INSERT INTO public.cl_flipper_features (key, created_at, updated_at) VALUES ('cl_fail_over', now(), now());

-- This session's state, read now and not again until after the prune: it
-- is older than every row the prune deletes.
SELECT model FROM modelflags.model_for('code_generations', 'User:1');
SELECT builds AS b0 FROM modelflags.cache_info() \gset

-- 5,000 older log rows (one transaction's, as a bulk of writers would
-- leave): more than a prune keeps.
INSERT INTO modelflags._cache_log (txid, table_name, keys)
SELECT pg_current_xact_id(), 'flags', ARRAY['modelflags_only'] FROM generate_series(1, 5000);
SELECT count(*) > 5000 AS log_is_long FROM modelflags._cache_log;

-- An ERROR while pruning (a timeout, a cancel, out of memory; here
-- injected) costs only the prune: the Flipper write commits with its audit
-- and log rows, and the log keeps every old row.
SELECT count(*) AS log_before FROM modelflags._cache_log \gset
SELECT count(*) AS audit_before FROM modelflags.changes \gset
SET modelflags.fault_injection = 'log:prune';
INSERT INTO public.cl_flipper_gates (feature_key, key, value, created_at, updated_at)
VALUES ('cl_fail_over', 'boolean', 'true', now(), now());
RESET modelflags.fault_injection;
SELECT (SELECT count(*) FROM public.cl_flipper_gates) AS gates,
       (SELECT count(*) FROM modelflags._cache_log) - :log_before AS new_log_rows,
       (SELECT count(*) FROM modelflags._cache_log WHERE table_name = '*') AS markers,
       (SELECT count(*) FROM modelflags.changes) - :audit_before AS new_audit_rows;

-- Another Flipper write, a prune forced at its commit: a transaction with
-- only Flipper rows prunes the log down to the newest rows and a marker.
SET modelflags.fault_injection = 'force:log:prune';
INSERT INTO public.cl_flipper_gates (feature_key, key, value, created_at, updated_at)
VALUES ('cl_fail_over', 'actors', 'User:7', now(), now());
RESET modelflags.fault_injection;
SELECT count(*) AS log_rows,
       count(*) FILTER (WHERE table_name = '*') AS markers,
       count(*) FILTER (WHERE table_name = '*' AND keys[1]::xid8 < txid) AS markers_name_an_older_txid
  FROM modelflags._cache_log;

-- This session's state is older than the marker: a full build, which says
-- why, and the Flipper gate routes.
SELECT model, gate FROM modelflags.model_for('code_generations', 'User:1');
SELECT builds - :b0 AS new_builds, last_refresh, last_refresh_reason FROM modelflags.cache_info();

-- Clean up.
SELECT modelflags.detach_flipper();
DROP TABLE public.cl_flipper_gates, public.cl_flipper_features;

-- Each delta's memory is counted: a state patched again and again is
-- rebuilt in full once what the deltas allocated passes half of what the
-- build did (at least 1 MB), and says why; between those builds, every
-- refresh is a delta.  A flag flip allocates nothing (the state's copy of
-- the snapshot is reused): 1,500 flips are 1,500 deltas and no build.  A
-- changed route compiles its feature's routes anew, in new memory: 1,500
-- of them pass the bound.  A procedure: each change and each read is a
-- transaction of its own.
CREATE TEMP TABLE cl_refreshes (what text, how text, why text);
CREATE PROCEDURE pg_temp.cl_change_and_read(what text, n int) LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..n LOOP
        IF what = 'flip' THEN
            UPDATE modelflags.flags SET enabled = (i % 2 = 0) WHERE name = 'modelflags_only';
        ELSE
            UPDATE modelflags.routes SET model = CASE WHEN i % 2 = 0 THEN 'claude' ELSE 'claude_vertex' END
             WHERE feature = 'code_generations' AND position = 2;
        END IF;
        COMMIT;
        PERFORM modelflags.model_for('code_generations', 'User:1');
        INSERT INTO cl_refreshes SELECT what, last_refresh, last_refresh_reason FROM modelflags.cache_info();
        COMMIT;
    END LOOP;
END $$;
SELECT model FROM modelflags.model_for('code_generations', 'User:1');  -- after detach_flipper's full change
SELECT patches AS p0 FROM modelflags.cache_info() \gset
CALL pg_temp.cl_change_and_read('flip', 1500);
SELECT how, why, count(*) AS refreshes FROM cl_refreshes GROUP BY how, why ORDER BY how, why;
SELECT (SELECT patches FROM modelflags.cache_info()) - :p0 AS deltas;
SELECT patches AS p0 FROM modelflags.cache_info() \gset
CALL pg_temp.cl_change_and_read('route', 1500);
SELECT how, why, count(*) > 0 AS seen FROM cl_refreshes WHERE what = 'route' GROUP BY how, why ORDER BY how, why;
SELECT count(*) FILTER (WHERE how = 'build') BETWEEN 1 AND 3 AS a_few_builds,
       (SELECT patches FROM modelflags.cache_info()) - :p0 >= 1497 AS the_rest_deltas
  FROM cl_refreshes WHERE what = 'route';
-- The route's model as the last change left it (1,500: even, claude).
SELECT model FROM modelflags.routes WHERE feature = 'code_generations' AND position = 2;
