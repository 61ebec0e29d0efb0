--
-- schema_changes: a DBA's ALTER TABLE on the columns the C code reads
-- (src/schema.h lists them, with their types).
--
-- Proves: a column retyped (percentage_of_time to float8, available to
-- text, params to json) or renamed makes the readers fail with an ERROR that
-- names it (42804, 42703) instead of misreading the datum or crashing, and
-- they answer again once it is restored; an extra column is welcome; a NULL
-- in a column whose NOT NULL was dropped is a missing name, not a crash.
--
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
INSERT INTO modelflags.providers (name) VALUES ('anthropic'), ('vertex_ai');
INSERT INTO modelflags.models (name, provider) VALUES ('claude', 'anthropic'), ('claude_vertex', 'vertex_ai');
INSERT INTO modelflags.flags (name, percentage_of_time) VALUES ('sometimes', 0);
INSERT INTO modelflags.features (name) VALUES ('code_generations');
INSERT INTO modelflags.routes (feature, position, flag, model) VALUES
    ('code_generations', 1, 'sometimes', 'claude_vertex'),
    ('code_generations', 2, NULL, 'claude');
SELECT model FROM modelflags.model_for('code_generations', 'User:1');

-- Retyped: refused by name, in every reader.
ALTER TABLE modelflags.flags DROP CONSTRAINT flags_percentage_of_time_check;
ALTER TABLE modelflags.flags ALTER COLUMN percentage_of_time TYPE float8;
SELECT * FROM regress_util.try($$SELECT modelflags.model_for('code_generations', 'User:1')$$);
SELECT * FROM regress_util.try($$SELECT modelflags.is_enabled('sometimes', 'User:1')$$);
SELECT * FROM regress_util.try($$SELECT * FROM modelflags.explain('code_generations', 'User:1')$$);
ALTER TABLE modelflags.flags ALTER COLUMN percentage_of_time TYPE numeric;
ALTER TABLE modelflags.flags ADD CONSTRAINT flags_percentage_of_time_check
    CHECK (percentage_of_time >= 0 AND percentage_of_time <= 100
           AND percentage_of_time = round(percentage_of_time, 3));
SELECT model FROM modelflags.model_for('code_generations', 'User:1');

ALTER TABLE modelflags.providers ALTER COLUMN available DROP DEFAULT;
ALTER TABLE modelflags.providers ALTER COLUMN available TYPE text;
SELECT * FROM regress_util.try($$SELECT modelflags.model_for('code_generations', 'User:1')$$);
ALTER TABLE modelflags.providers ALTER COLUMN available TYPE boolean USING available::boolean;
ALTER TABLE modelflags.providers ALTER COLUMN available SET DEFAULT true;

ALTER TABLE modelflags.routes DROP CONSTRAINT routes_params_check;
ALTER TABLE modelflags.routes ALTER COLUMN params DROP DEFAULT;
ALTER TABLE modelflags.routes ALTER COLUMN params TYPE json;
SELECT * FROM regress_util.try($$SELECT modelflags.model_for('code_generations', 'User:1')$$);
ALTER TABLE modelflags.routes ALTER COLUMN params TYPE jsonb;
ALTER TABLE modelflags.routes ALTER COLUMN params SET DEFAULT '{}';
ALTER TABLE modelflags.routes ADD CONSTRAINT routes_params_check CHECK (jsonb_typeof(params) = 'object');
SELECT model FROM modelflags.model_for('code_generations', 'User:1');

-- Renamed: 42703, naming the column.
ALTER TABLE modelflags.flag_actors RENAME COLUMN opt_out TO opted_out;
INSERT INTO modelflags.flags (name) VALUES ('gated');
SELECT * FROM regress_util.try($$SELECT modelflags.is_enabled('gated', 'User:1')$$);
ALTER TABLE modelflags.flag_actors RENAME COLUMN opted_out TO opt_out;
SELECT modelflags.is_enabled('gated', 'User:1') AS gated;

-- An extra column is welcome.
ALTER TABLE modelflags.models ADD COLUMN cost_indicator text;
SELECT model, provider FROM modelflags.model_for('code_generations', 'User:1');
ALTER TABLE modelflags.models DROP COLUMN cost_indicator;

-- NOT NULL dropped and a NULL model written: the route names no model and
-- is skipped, the next one answers.
ALTER TABLE modelflags.routes ALTER COLUMN model DROP NOT NULL;
ALTER TABLE modelflags.routes DISABLE TRIGGER routes_validate;
INSERT INTO modelflags.routes (feature, position, model) VALUES ('code_generations', 0, NULL);
SELECT model, position, skipped FROM modelflags.model_for('code_generations', 'User:1');
SELECT position, model, decision, reason FROM modelflags.explain('code_generations', 'User:1');
DELETE FROM modelflags.routes WHERE model IS NULL;
ALTER TABLE modelflags.routes ENABLE TRIGGER routes_validate;
ALTER TABLE modelflags.routes ALTER COLUMN model SET NOT NULL;
SELECT model, position, skipped FROM modelflags.model_for('code_generations', 'User:1');

-- The readers keep each table's attribute numbers until a relcache
-- invalidation of that table says to look again.  A column dropped and
-- added again gets a new number: inside the transaction that did it, the
-- new column is read; after the ROLLBACK the old one is, on the delta path
-- of the next transactions (a kept number from the rolled-back table would
-- read past its last column).
UPDATE modelflags.flags SET enabled = true, percentage_of_time = NULL WHERE name = 'sometimes';
SELECT model FROM modelflags.model_for('code_generations', 'User:1');
BEGIN;
UPDATE modelflags.providers SET available = false WHERE name = 'vertex_ai';
SELECT model FROM modelflags.model_for('code_generations', 'User:1');
ALTER TABLE modelflags.providers DROP COLUMN available;
ALTER TABLE modelflags.providers ADD COLUMN available boolean NOT NULL DEFAULT true;
SELECT count(*) AS columns_after_available FROM pg_attribute
 WHERE attrelid = 'modelflags.providers'::regclass AND attnum > (
       SELECT attnum FROM pg_attribute WHERE attrelid = 'modelflags.providers'::regclass AND attname = 'name');
SELECT model FROM modelflags.model_for('code_generations', 'User:1');
UPDATE modelflags.providers SET available = false WHERE name = 'vertex_ai';
SELECT model FROM modelflags.model_for('code_generations', 'User:1');
ROLLBACK;
SELECT model FROM modelflags.model_for('code_generations', 'User:1');
UPDATE modelflags.providers SET available = false WHERE name = 'vertex_ai';
SELECT model, last_refresh FROM modelflags.model_for('code_generations', 'User:1'), modelflags.cache_info();
UPDATE modelflags.providers SET available = true WHERE name = 'vertex_ai';
SELECT model, last_refresh FROM modelflags.model_for('code_generations', 'User:1'), modelflags.cache_info();

-- A renamed column, in a transaction rolled back: refused by name inside,
-- read again after.
BEGIN;
ALTER TABLE modelflags.providers RENAME COLUMN available TO up;
SELECT model FROM modelflags.model_for('code_generations', 'User:1');
ROLLBACK;
SELECT model FROM modelflags.model_for('code_generations', 'User:1');
