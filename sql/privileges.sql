--
-- privileges: SPEC §3 P.
--
-- Proves:
--   - a plain role with no table privilege can call is_enabled, rollout_pct,
--     model_for and explain, including when the call has to rebuild the
--     backend's routing cache and load actor gates (so the rebuild needs no
--     privilege), and gets 42501 for SELECT, INSERT, UPDATE, DELETE and
--     TRUNCATE on every table and for EXECUTE on every write function;
--   - the only functions PUBLIC may execute, besides the internal "_" helpers,
--     are the read functions;
--   - the README's ops-role GRANTs (copied below, verbatim) let a responder run
--     set_flag and the plain-UPDATE failover, are audited under the login role
--     (changed_by), and still give no right to write the audit table;
--   - every SECURITY DEFINER function of the schema pins search_path, and
--     PUBLIC cannot execute it (so nobody can attach the audit trigger
--     function to a table of their own and forge audit rows).
--
\set SHOW_CONTEXT never
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;

-- (Leftovers of an interrupted earlier run, if any, go quietly.)
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS regress_probe CASCADE;
DROP ROLE IF EXISTS regress_modelflags_reader;
DROP ROLE IF EXISTS alice;
DROP ROLE IF EXISTS modelflags_ops;
RESET client_min_messages;

-- A schema the reader may create tables in (for the forged-audit probe).
CREATE SCHEMA regress_probe;
GRANT USAGE ON SCHEMA regress_probe TO PUBLIC;
GRANT CREATE ON SCHEMA regress_probe TO PUBLIC;

-- Configuration, written by the superuser.
INSERT INTO modelflags.providers (name) VALUES ('anthropic'), ('vertex_ai');
INSERT INTO modelflags.models (name, provider, params) VALUES
    ('claude_sonnet_4_20250514', 'anthropic', '{"max_tokens": 2048}'),
    ('claude_sonnet_4_5_20250929_vertex', 'vertex_ai', '{"max_tokens": 2048}');
INSERT INTO modelflags.flags (name, type) VALUES ('incident_fail_over_generation_provider', 'ops');
INSERT INTO modelflags.flags (name, enabled) VALUES ('beta_testers', false);
-- 100 actor gates: more than the exact list a backend keeps, so reading them
-- takes the Bloom filter and the index probe.
INSERT INTO modelflags.flag_actors (flag, actor) SELECT 'beta_testers', 'User:' || i FROM generate_series(1, 100) AS i;
INSERT INTO modelflags.features (name) VALUES ('code_generations');
INSERT INTO modelflags.routes (feature, position, flag, model) VALUES
    ('code_generations', 0, 'incident_fail_over_generation_provider', 'claude_sonnet_4_5_20250929_vertex'),
    ('code_generations', 1, 'beta_testers', 'claude_sonnet_4_5_20250929_vertex'),
    ('code_generations', 2, NULL, 'claude_sonnet_4_20250514');

CREATE ROLE regress_modelflags_reader NOLOGIN;

--
-- A role with no privilege at all reads.  The configuration changed in this
-- session's last statements, so its first call rebuilds the cache, as that
-- role, and then loads beta_testers' actor gates, as that role.
--
SET ROLE regress_modelflags_reader;
SELECT (modelflags.cache_info()).valid AS cache_valid_before;
SELECT model, provider, flag, gate, position FROM modelflags.model_for('code_generations', 'User:42');
SELECT (modelflags.cache_info()).valid AS cache_valid_after;
SELECT model, gate FROM modelflags.model_for('code_generations', 'User:4200');
SELECT modelflags.is_enabled('beta_testers', 'User:7') AS user_7, modelflags.is_enabled('beta_testers', 'User:700') AS user_700,
       modelflags.rollout_pct('some_feature', 'User:42') AS rollout_pct;
SELECT position, decision, reason FROM modelflags.explain('code_generations', 'User:42');
RESET ROLE;
-- The superuser flips the failover; the reader's next call rebuilds again.
UPDATE modelflags.flags SET enabled = true WHERE name = 'incident_fail_over_generation_provider';
SET ROLE regress_modelflags_reader;
SELECT (modelflags.cache_info()).valid AS cache_valid_before;
SELECT model, gate, position FROM modelflags.model_for('code_generations', 'User:4200');

-- ... but it can neither read nor write a table, nor call a write function.
SELECT t.tbl, r1.code AS "select", r2.code AS "insert", r3.code AS "update", r4.code AS "delete",
       r5.code AS "truncate"
  FROM unnest(ARRAY['providers', 'models', 'flags', 'flag_actors', 'features', 'routes', 'changes'])
       WITH ORDINALITY AS t (tbl, n),
       LATERAL regress_util.try(format('SELECT * FROM modelflags.%I', t.tbl)) AS r1,
       LATERAL regress_util.try(format('INSERT INTO modelflags.%I DEFAULT VALUES', t.tbl)) AS r2,
       LATERAL regress_util.try(format('UPDATE modelflags.%I SET %I = %I', t.tbl,
                                        CASE t.tbl WHEN 'flag_actors' THEN 'actor' WHEN 'routes' THEN 'model'
                                                   WHEN 'changes' THEN 'note' ELSE 'name' END,
                                        CASE t.tbl WHEN 'flag_actors' THEN 'actor' WHEN 'routes' THEN 'model'
                                                   WHEN 'changes' THEN 'note' ELSE 'name' END)) AS r3,
       LATERAL regress_util.try(format('DELETE FROM modelflags.%I', t.tbl)) AS r4,
       LATERAL regress_util.try(format('TRUNCATE modelflags.%I CASCADE', t.tbl)) AS r5
 ORDER BY t.n;
SELECT f.call, r.code AS sqlstate, r.message
  FROM (VALUES (1, $q$SELECT modelflags.set_flag('incident_fail_over_generation_provider', false)$q$),
               (2, $q$SELECT modelflags.set_actor('beta_testers', 'User:42', true)$q$),
               (3, $q$SELECT modelflags.opt_out('beta_testers', 'User:1')$q$),
               (4, $q$SELECT modelflags.remove_opt_out('beta_testers', 'User:1')$q$),
               (5, $q$SELECT modelflags.delete_flag('beta_testers')$q$),
               (6, $q$SELECT modelflags.set_provider('anthropic', false)$q$),
               (7, $q$SELECT modelflags.load_definitions('{"providers": [{"name": "anthropic"}]}')$q$),
               (8, $q$SELECT modelflags.dump_definitions()$q$)) AS f (n, call),
       LATERAL regress_util.try(f.call) AS r
 ORDER BY f.n;
-- ... nor forge audit rows by attaching the SECURITY DEFINER audit trigger
-- function to a table of its own (it may create tables in regress_probe).
SELECT r.code AS sqlstate, r.message
  FROM regress_util.try($q$CREATE TABLE regress_probe.flags (name text);
                           CREATE TRIGGER forge AFTER INSERT ON regress_probe.flags
                               REFERENCING NEW TABLE AS new_rows
                               FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit()$q$) AS r;
RESET ROLE;

-- What PUBLIC may execute, besides the internal "_" helpers: reading only.
SELECT p.proname
  FROM pg_proc p
 WHERE p.pronamespace = 'modelflags'::regnamespace AND p.proname !~ '^_'
   AND has_function_privilege('regress_modelflags_reader', p.oid, 'EXECUTE')
 ORDER BY p.proname COLLATE "C";
-- ... and no table or sequence.
SELECT c.relname
  FROM pg_class c
 WHERE c.relnamespace = 'modelflags'::regnamespace AND c.relkind IN ('r', 'S')
   AND (has_table_privilege('regress_modelflags_reader', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE')
        OR (c.relkind = 'S' AND has_sequence_privilege('regress_modelflags_reader', c.oid, 'USAGE, SELECT, UPDATE')));

-- Every SECURITY DEFINER function of the schema pins search_path.
SELECT p.oid::regprocedure AS security_definer_function, p.proconfig
  FROM pg_proc p
 WHERE p.pronamespace = 'modelflags'::regnamespace AND p.prosecdef
 ORDER BY 1;
SELECT p.oid::regprocedure AS definer_executable_by_public
  FROM pg_proc p
 WHERE p.pronamespace = 'modelflags'::regnamespace AND p.prosecdef
   AND has_function_privilege('regress_modelflags_reader', p.oid, 'EXECUTE');
SELECT count(*) AS definer_without_search_path
  FROM pg_proc p
 WHERE p.pronamespace = 'modelflags'::regnamespace AND p.prosecdef
   AND NOT coalesce(p.proconfig::text[] && ARRAY['search_path=pg_catalog, pg_temp', 'search_path=pg_catalog,pg_temp'], false);

--
-- The ops role, exactly as README.md shows it:
--
-- README: ops role
CREATE ROLE modelflags_ops NOLOGIN;
GRANT USAGE ON SCHEMA modelflags TO modelflags_ops;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA modelflags TO modelflags_ops;
REVOKE INSERT, UPDATE, DELETE ON modelflags.changes FROM modelflags_ops;
GRANT EXECUTE ON FUNCTION modelflags.set_flag(text, boolean, numeric, numeric, text),
                          modelflags.set_actor(text, text, boolean, text),
                          modelflags.opt_out(text, text, text),
                          modelflags.remove_opt_out(text, text, text),
                          modelflags.delete_flag(text, text),
                          modelflags.set_provider(text, boolean, text),
                          modelflags.load_definitions(text, boolean, text),
                          modelflags.dump_definitions(text, boolean)
   TO modelflags_ops;
CREATE ROLE alice NOLOGIN;       -- (the test's responder; LOGIN in real life)
GRANT modelflags_ops TO alice;   -- a responder
-- end README

-- alice, a responder, logs in (session_user = alice) and runs the runbook.
SELECT coalesce(max(id), 0) AS base FROM modelflags.changes \gset
SET SESSION AUTHORIZATION alice;
SELECT session_user, current_user;
-- ChatOps: feature set incident_fail_over_generation_provider false, then true.
SELECT name, enabled FROM modelflags.set_flag('incident_fail_over_generation_provider', false, note => 'INC-7 over');
SELECT name, enabled FROM modelflags.set_flag('incident_fail_over_generation_provider', true, note => 'INC-8');
-- The plain-UPDATE failover: an outage of vertex_ai, then back.
UPDATE modelflags.providers SET available = false WHERE name = 'vertex_ai';
SELECT model, provider, gate, position, skipped FROM modelflags.model_for('code_generations', 'User:4200');
UPDATE modelflags.providers SET available = true WHERE name = 'vertex_ai';
-- Actor gates, opt-outs, a new flag and its deletion.
SELECT modelflags.set_actor('beta_testers', 'User:4200', true);
SELECT modelflags.opt_out('beta_testers', 'User:1');
SELECT modelflags.remove_opt_out('beta_testers', 'User:1');
SELECT name FROM modelflags.set_flag('ops_scratch_flag', percentage_of_actors => 5);
SELECT modelflags.delete_flag('ops_scratch_flag') AS deleted;
SELECT name, available FROM modelflags.set_provider('anthropic', true);
-- Definitions as code: a load and a dump.
SELECT * FROM modelflags.load_definitions('{"providers": [{"name": "bedrock", "available": false}]}',
                                          note => 'INC-9 bedrock staged');
SELECT position('name: bedrock' IN modelflags.dump_definitions()) > 0 AS dump_has_bedrock;
-- alice reads the audit, but cannot write it, nor TRUNCATE a table.
SELECT count(*) > 0 AS can_read_changes FROM modelflags.changes;
SELECT r.code AS sqlstate, r.message
  FROM regress_util.try($q$INSERT INTO modelflags.changes (table_name, operation, key) VALUES ('flags', 'DELETE', '{}')$q$) AS r;
SELECT r.code AS sqlstate, r.message FROM regress_util.try($q$DELETE FROM modelflags.changes$q$) AS r;
SELECT r.code AS sqlstate, r.message FROM regress_util.try($q$TRUNCATE modelflags.flags CASCADE$q$) AS r;
RESET SESSION AUTHORIZATION;

-- Everything alice did is audited under her name, with her notes.
SELECT id - :base AS n, changed_by, table_name, operation, key, note
  FROM modelflags.changes WHERE id > :base ORDER BY id;

-- Clean up the roles (DROP OWNED revokes their grants).
DROP OWNED BY alice, modelflags_ops, regress_modelflags_reader;
DROP ROLE alice;
DROP ROLE modelflags_ops;
DROP ROLE regress_modelflags_reader;
DROP SCHEMA regress_probe CASCADE;
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
