--
-- replica_role: changes applied as a logical-replication subscriber
-- (session_replication_role = replica) and rows that bypassed the foreign keys.
--
-- Proves:
--   - the statement invalidation trigger fires ALWAYS: a change made in
--     replica mode by a session is still seen by model_for (an apply worker
--     fires no statement trigger: test/logical_replication.sh covers it);
--   - the row-level invalidation triggers (25_replication.sql) exist on every
--     table, ENABLE REPLICA (tgenabled = 'R'), and invalidate on their own:
--     with the statement trigger of providers disabled (as it is, in effect,
--     for an apply worker, which fires no statement trigger), a change made
--     in replica mode is still seen by the next transaction; the BEFORE
--     triggers hand the row back (an UPDATE in replica mode changes it) and
--     the AFTER DELETE trigger lets the DELETE happen;
--   - ordinary triggers (audit) stay origin-only in replica mode: the
--     subscriber receives the origin's audit rows instead;
--   - routes naming a flag, model or provider that does not exist (possible
--     only with foreign keys bypassed) never crash the server: such a route
--     never applies (missing flag) or is skipped (missing model or
--     provider), and explain and the MF001 error name what is missing.
--
\set SHOW_CONTEXT never
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;

INSERT INTO modelflags.providers (name) VALUES ('anthropic');
INSERT INTO modelflags.models (name, provider) VALUES ('claude', 'anthropic');
INSERT INTO modelflags.features (name) VALUES ('code_generations');
INSERT INTO modelflags.routes (feature, position, model) VALUES ('code_generations', 2, 'claude');
SELECT model, gate, position, skipped FROM modelflags.model_for('code_generations', 'User:1');

SELECT count(*) AS audit_rows_before FROM modelflags.changes \gset
SET session_replication_role = replica;
-- As a subscriber: a new provider and model, and a failover route using them.
INSERT INTO modelflags.providers (name) VALUES ('vertex_ai');
INSERT INTO modelflags.models (name, provider) VALUES ('claude_vertex', 'vertex_ai');
INSERT INTO modelflags.flags (name, enabled) VALUES ('incident_fail_over_generation_provider', true);
INSERT INTO modelflags.routes (feature, position, flag, model)
    VALUES ('code_generations', 1, 'incident_fail_over_generation_provider', 'claude_vertex');
RESET session_replication_role;
-- Seen at once (invalidation fired), and no audit rows were written here.
SELECT model, flag, gate, position FROM modelflags.model_for('code_generations', 'User:1');
SELECT count(*) - :audit_rows_before AS audit_rows_written_in_replica_mode FROM modelflags.changes;

-- The row-level triggers an apply worker fires: every table, INSERT and
-- UPDATE before the row, DELETE after it, all ENABLE REPLICA.
SELECT c.relname, t.tgname, t.tgenabled, pg_get_triggerdef(t.oid) ~ 'FOR EACH ROW' AS row_level,
       regexp_replace(pg_get_triggerdef(t.oid), '^CREATE TRIGGER \S+ (.*) ON .*$', '\1') AS fires,
       t.tgfoid::regproc AS function
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'modelflags'::regnamespace AND t.tgname LIKE '%invalidate_replica%'
 ORDER BY c.relname, t.tgname;
-- They alone invalidate: the statement trigger of providers disabled (the
-- ALTER's own invalidation is consumed by the next statement), a change in
-- replica mode is seen by the next transaction.
ALTER TABLE modelflags.providers DISABLE TRIGGER providers_invalidate_update;
SELECT model, provider, position, skipped FROM modelflags.model_for('code_generations', 'User:1');
SET session_replication_role = replica;
UPDATE modelflags.providers SET available = false WHERE name = 'vertex_ai';
RESET session_replication_role;
SELECT name, available FROM modelflags.providers ORDER BY name;
SELECT model, provider, position, skipped FROM modelflags.model_for('code_generations', 'User:1');
SET session_replication_role = replica;
UPDATE modelflags.providers SET available = true WHERE name = 'vertex_ai';
RESET session_replication_role;
SELECT model, provider, position, skipped FROM modelflags.model_for('code_generations', 'User:1');
ALTER TABLE modelflags.providers ENABLE ALWAYS TRIGGER providers_invalidate_update;
-- A DELETE in replica mode (AFTER ROW trigger) deletes and is seen.
SET session_replication_role = replica;
DELETE FROM modelflags.routes WHERE position = 1;
RESET session_replication_role;
SELECT model, flag, gate, position FROM modelflags.model_for('code_generations', 'User:1');
SET session_replication_role = replica;
INSERT INTO modelflags.routes (feature, position, flag, model)
    VALUES ('code_generations', 1, 'incident_fail_over_generation_provider', 'claude_vertex');
RESET session_replication_role;
SELECT model, flag, gate, position FROM modelflags.model_for('code_generations', 'User:1');
SELECT count(*) - :audit_rows_before AS audit_rows_written_in_replica_mode FROM modelflags.changes;

-- Dangling references, which only a bypass of the foreign keys can make.
SET session_replication_role = replica;
INSERT INTO modelflags.routes (feature, position, flag, model) VALUES
    ('code_generations', 0, 'ghost_flag', 'claude'),
    ('code_generations', 3, NULL, 'ghost_model');
INSERT INTO modelflags.models (name, provider) VALUES ('orphan', 'ghost_provider');
INSERT INTO modelflags.routes (feature, position, model) VALUES ('code_generations', 4, 'orphan');
RESET session_replication_role;
SELECT position, flag, model, provider, applies, decision, reason
  FROM modelflags.explain('code_generations', 'User:1');
UPDATE modelflags.flags SET enabled = false;
UPDATE modelflags.providers SET available = false WHERE name = 'anthropic';
SELECT * FROM modelflags.model_for('code_generations', 'User:1');

-- dump_definitions reads the same rows: routes of a feature that is gone
-- are left out (they route nothing), dangling names are written as they are;
-- no internal error (the SQL fuzzer found one here).
SET session_replication_role = replica;
INSERT INTO modelflags.routes (feature, position, model) VALUES ('ghost_feature', 1, 'claude');
RESET session_replication_role;
SELECT position(E'ghost_feature' IN modelflags.dump_definitions()) = 0 AS ghost_feature_left_out,
       position(E'ghost_model' IN modelflags.dump_definitions()) > 0 AS ghost_model_written,
       position(E'ghost_feature' IN modelflags.dump_definitions('json')) = 0 AS json_too;

-- Clean up the rows the foreign keys would have refused.
SET session_replication_role = replica;
DELETE FROM modelflags.routes;
DELETE FROM modelflags.models WHERE name = 'orphan';
RESET session_replication_role;
