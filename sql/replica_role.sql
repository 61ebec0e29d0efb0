--
-- replica_role: changes applied as a logical-replication subscriber
-- (session_replication_role = replica) and rows that bypassed the foreign keys.
--
-- Proves:
--   - the invalidation trigger fires ALWAYS: a change applied in replica mode
--     (as a subscriber's apply worker does) is still seen by model_for;
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

-- Clean up the rows the foreign keys would have refused.
SET session_replication_role = replica;
DELETE FROM modelflags.routes;
DELETE FROM modelflags.models WHERE name = 'orphan';
RESET session_replication_role;
