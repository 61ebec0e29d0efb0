--
-- reinstall: DROP EXTENSION and CREATE EXTENSION in one session.
--
-- Proves: the backend's routing cache does not outlive the tables it was
-- built from.  After DROP EXTENSION the read functions are gone; after
-- CREATE EXTENSION, in the same session, model_for answers from the new,
-- empty tables (an old feature is unknown, 42704) and then from fresh data;
-- the same holds when drop, create and the first read share one
-- transaction, and when the drop is rolled back.  The tests after this one
-- run on the reinstalled extension.
--
\set SHOW_CONTEXT never
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;

INSERT INTO modelflags.providers (name) VALUES ('anthropic');
INSERT INTO modelflags.models (name, provider) VALUES ('claude_sonnet_4_20250514', 'anthropic');
INSERT INTO modelflags.flags (name, enabled) VALUES ('old_flag', true);
INSERT INTO modelflags.features (name) VALUES ('duo_chat');
INSERT INTO modelflags.routes (feature, position, flag, model) VALUES ('duo_chat', 0, 'old_flag', 'claude_sonnet_4_20250514');
-- The cache is built and answers.
SELECT model, flag, gate FROM modelflags.model_for('duo_chat', 'User:1');
SELECT modelflags.is_enabled('old_flag') AS old_flag;

-- A rolled-back DROP EXTENSION changes nothing.
BEGIN;
DROP EXTENSION modelflags;
ROLLBACK;
SELECT model, flag, gate FROM modelflags.model_for('duo_chat', 'User:1');

DROP EXTENSION modelflags;
-- Every object is gone (the empty schema stays: PostgreSQL does not drop a
-- schema that CREATE EXTENSION made from the control file's "schema").
SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'modelflags'::regnamespace) AS relations,
       (SELECT count(*) FROM pg_proc WHERE pronamespace = 'modelflags'::regnamespace) AS functions;
SELECT modelflags.model_for('duo_chat', 'User:1');
\echo sqlstate :SQLSTATE

CREATE EXTENSION modelflags;
-- Fresh, empty tables: the old feature and flag are gone, for the cache too.
SELECT * FROM modelflags.model_for('duo_chat', 'User:1');
\echo sqlstate :SQLSTATE
SELECT modelflags.is_enabled('old_flag') AS old_flag;
SELECT count(*) AS audit_rows FROM modelflags.changes;

-- Fresh data is served.
INSERT INTO modelflags.providers (name) VALUES ('vertex_ai');
INSERT INTO modelflags.models (name, provider, params)
VALUES ('claude_sonnet_4_5_20250929_vertex', 'vertex_ai', '{"max_tokens": 2048}');
INSERT INTO modelflags.features (name) VALUES ('duo_chat');
INSERT INTO modelflags.routes (feature, position, model) VALUES ('duo_chat', 0, 'claude_sonnet_4_5_20250929_vertex');
SELECT * FROM modelflags.model_for('duo_chat', 'User:1');
SELECT table_name, operation, key FROM modelflags.changes ORDER BY id;

-- Drop, create, load and read in one transaction.
BEGIN;
DROP EXTENSION modelflags;
CREATE EXTENSION modelflags;
SELECT * FROM modelflags.model_for('duo_chat', 'User:1');
\echo sqlstate :SQLSTATE
ROLLBACK;
BEGIN;
DROP EXTENSION modelflags;
CREATE EXTENSION modelflags;
INSERT INTO modelflags.providers (name) VALUES ('fireworks_ai');
INSERT INTO modelflags.models (name, provider) VALUES ('codestral_2501_fireworks', 'fireworks_ai');
INSERT INTO modelflags.features (name) VALUES ('code_completions');
INSERT INTO modelflags.routes (feature, position, model) VALUES ('code_completions', 0, 'codestral_2501_fireworks');
SELECT model, provider, gate FROM modelflags.model_for('code_completions', 'User:1');
COMMIT;
SELECT model, provider, gate FROM modelflags.model_for('code_completions', 'User:1');
SELECT * FROM modelflags.model_for('duo_chat', 'User:1');
\echo sqlstate :SQLSTATE

-- Leave a clean, installed extension for the tests that follow.
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
