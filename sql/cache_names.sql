--
-- cache_names: names that go and come back, through deltas (src/cache_delta.c,
-- the state's name maps: MfIdxMap in src/strmap.c).
--
-- A state's maps keep a hash and an index per name and compare names in the
-- state's arrays; a deleted name stays in its map, marked gone, with its old
-- index, and a name created again takes a new index in the same slot.
--
-- Proves, for each of flags, features, models and providers, with every
-- change applied as a delta (no full build): a deleted name is unknown at
-- once; created again, it answers with its new row; an update after that
-- reaches the new row, not the old one; other names keep their answers.
--
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
INSERT INTO modelflags.providers (name) VALUES ('anthropic'), ('vertex_ai');
INSERT INTO modelflags.models (name, provider) VALUES ('claude', 'anthropic'), ('gemini', 'vertex_ai');
INSERT INTO modelflags.flags (name, enabled) VALUES ('steady', true), ('again', true);
INSERT INTO modelflags.features (name) VALUES ('code_generations');
INSERT INTO modelflags.routes (feature, position, flag, model) VALUES
    ('code_generations', 1, NULL, 'claude');
SELECT model FROM modelflags.model_for('code_generations', 'User:1');
SELECT builds AS b0, patches AS p0 FROM modelflags.cache_info() \gset

-- A flag: deleted, created again (off), then turned on.
SELECT modelflags.is_enabled('again') AS again, modelflags.is_enabled('steady') AS steady;
DELETE FROM modelflags.flags WHERE name = 'again';
SELECT modelflags.is_enabled('again') AS again_deleted, modelflags.is_enabled('steady') AS steady;
INSERT INTO modelflags.flags (name, enabled) VALUES ('again', false);
SELECT modelflags.is_enabled('again') AS again_created_off;
UPDATE modelflags.flags SET enabled = true WHERE name = 'again';
SELECT modelflags.is_enabled('again') AS again_turned_on;
-- deleted and created again in one transaction: one delta sees only the end
BEGIN;
DELETE FROM modelflags.flags WHERE name = 'again';
INSERT INTO modelflags.flags (name, percentage_of_actors) VALUES ('again', 100);
COMMIT;
SELECT modelflags.is_enabled('again') AS no_actor, modelflags.is_enabled('again', 'User:1') AS actor;

-- A feature: deleted with its route, created again with a route to another model.
DELETE FROM modelflags.routes WHERE feature = 'code_generations';
DELETE FROM modelflags.features WHERE name = 'code_generations';
SELECT model FROM modelflags.model_for('code_generations', 'User:1');
INSERT INTO modelflags.features (name) VALUES ('code_generations');
INSERT INTO modelflags.routes (feature, position, flag, model) VALUES
    ('code_generations', 1, 'again', 'gemini'), ('code_generations', 2, NULL, 'claude');
SELECT model, provider FROM modelflags.model_for('code_generations', 'User:1');
UPDATE modelflags.flags SET percentage_of_actors = NULL WHERE name = 'again';
SELECT model, provider FROM modelflags.model_for('code_generations', 'User:1');

-- A model: its route and itself deleted, created again on another provider.
DELETE FROM modelflags.routes WHERE feature = 'code_generations' AND model = 'claude';
DELETE FROM modelflags.models WHERE name = 'claude';
SELECT model FROM modelflags.model_for('code_generations', 'User:1');
INSERT INTO modelflags.models (name, provider) VALUES ('claude', 'vertex_ai');
INSERT INTO modelflags.routes (feature, position, flag, model) VALUES ('code_generations', 2, NULL, 'claude');
SELECT model, provider FROM modelflags.model_for('code_generations', 'User:1');
UPDATE modelflags.models SET enabled = false WHERE name = 'claude';
SELECT model, provider FROM modelflags.model_for('code_generations', 'User:1');
UPDATE modelflags.models SET enabled = true WHERE name = 'claude';

-- A provider: its model moved away, the provider deleted, created again
-- unavailable, the model moved back: the route is skipped; then available.
UPDATE modelflags.models SET provider = 'vertex_ai' WHERE name = 'claude';
UPDATE modelflags.models SET provider = 'vertex_ai' WHERE name = 'gemini';
DELETE FROM modelflags.providers WHERE name = 'anthropic';
INSERT INTO modelflags.providers (name, available) VALUES ('anthropic', false);
UPDATE modelflags.models SET provider = 'anthropic' WHERE name = 'claude';
SELECT model, provider FROM modelflags.model_for('code_generations', 'User:1');
UPDATE modelflags.providers SET available = true WHERE name = 'anthropic';
SELECT model, provider FROM modelflags.model_for('code_generations', 'User:1');

-- Every change above was a delta: no full build.
SELECT builds - :b0 AS new_builds, patches - :p0 > 10 AS deltas, last_refresh
  FROM modelflags.cache_info();
-- and a fresh build of the same rows answers the same
\c
SELECT model, provider FROM modelflags.model_for('code_generations', 'User:1');
SELECT modelflags.is_enabled('again') AS again, modelflags.is_enabled('steady') AS steady;
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
