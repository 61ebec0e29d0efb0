--
-- two_phase: PREPARE TRANSACTION (two-phase commit).
--
-- Every change to the tables sends NOTIFY modelflags, and PostgreSQL cannot
-- prepare a transaction that notified.  So a transaction that changed
-- modelflags tables is refused at PREPARE, with modelflags' own message
-- (0A000) before PostgreSQL's, and nothing of it is applied; a transaction
-- that only read, or whose change was rolled back to a savepoint, prepares
-- and commits as usual.  (The test cluster runs with max_prepared_transactions
-- > 0, see test/stages/20_regress.sh.)
--
\set SHOW_CONTEXT never
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
INSERT INTO modelflags.providers (name) VALUES ('anthropic');
INSERT INTO modelflags.models (name, provider) VALUES ('claude', 'anthropic');
INSERT INTO modelflags.features (name) VALUES ('code_generations');
INSERT INTO modelflags.routes (feature, position, model) VALUES ('code_generations', 1, 'claude');
SELECT count(*) AS changes_before FROM modelflags.changes \gset

-- Reading only: prepares and commits.
BEGIN;
SELECT model FROM modelflags.model_for('code_generations', 'User:1');
PREPARE TRANSACTION 'modelflags_read';
COMMIT PREPARED 'modelflags_read';

-- Writing: refused at PREPARE, and rolled back.
BEGIN;
SELECT name, enabled FROM modelflags.set_flag('two_phase_flag', true);
PREPARE TRANSACTION 'modelflags_write';
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS prepared FROM pg_prepared_xacts WHERE gid LIKE 'modelflags%';
SELECT count(*) AS flags, (SELECT count(*) FROM modelflags.changes) - :changes_before AS new_audit_rows
  FROM modelflags.flags WHERE name = 'two_phase_flag';

-- Plain DML too.
BEGIN;
UPDATE modelflags.providers SET available = false WHERE name = 'anthropic';
PREPARE TRANSACTION 'modelflags_update';
\echo :LAST_ERROR_SQLSTATE
SELECT available FROM modelflags.providers WHERE name = 'anthropic';

-- A change rolled back to a savepoint is no change: the transaction prepares.
BEGIN;
SAVEPOINT s;
SELECT name, enabled FROM modelflags.set_flag('two_phase_flag', true);
ROLLBACK TO SAVEPOINT s;
SELECT model FROM modelflags.model_for('code_generations', 'User:1');
PREPARE TRANSACTION 'modelflags_rolled_back';
COMMIT PREPARED 'modelflags_rolled_back';
SELECT count(*) AS flags FROM modelflags.flags WHERE name = 'two_phase_flag';
