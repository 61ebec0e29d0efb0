--
-- schema_catalogue: the catalogue of the configuration tables in C
-- (src/schema_catalogue.h, issue 10 item 2) and the DDL
-- (sql/install/00_schema.sql) agree.
--
-- Proves: every column of the six tables the catalogue names is in the
-- catalogue, with the same type and the same primary-key membership, and
-- the catalogue has no column the tables lack; the other tables of schema
-- modelflags are listed, so that a new one is a decision, not an
-- oversight; every column of the catalogue survives dump_definitions and
-- load_definitions, in YAML and in JSON.  The C code builds its column lists from the catalogue (the
-- routing cache's reads, load_definitions' and dump_definitions' SQL, the
-- rows of the parser), so a column added to or renamed in the DDL alone
-- fails here rather than in a backend.
--
-- The catalogue comes from test/build/schema_catalogue, which the Makefile
-- builds from the C header before the regression tests run (REGRESS_PREP).
--
\set catalogue `test/build/schema_catalogue`
CREATE TEMP TABLE catalogue AS
  SELECT * FROM pg_catalog.jsonb_to_recordset(:'catalogue'::jsonb)
    AS c(table_name text, column_name text, data_type text, key boolean, cache boolean, uses text);

CREATE TEMP TABLE ddl AS
  SELECT c.table_name::text, c.column_name::text, c.data_type::text,
         EXISTS (SELECT 1
                   FROM information_schema.table_constraints t
                   JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name)
                  WHERE t.constraint_type = 'PRIMARY KEY' AND t.table_schema = 'modelflags'
                    AND k.table_name = c.table_name AND k.column_name = c.column_name) AS key
    FROM information_schema.columns c
   WHERE c.table_schema = 'modelflags'
     AND c.table_name IN (SELECT table_name FROM catalogue);

SELECT count(*) AS columns, count(DISTINCT table_name) AS tables,
       count(*) FILTER (WHERE key) AS key_columns, count(*) FILTER (WHERE cache) AS read_by_the_cache
  FROM catalogue;

-- Every column in both, with the same type and key: no row.
SELECT coalesce(d.table_name, c.table_name) AS table_name,
       coalesce(d.column_name, c.column_name) AS column_name,
       d.data_type AS ddl_type, c.data_type AS catalogue_type,
       d.key AS ddl_key, c.key AS catalogue_key
  FROM ddl d FULL JOIN catalogue c USING (table_name, column_name)
 WHERE d.column_name IS NULL OR c.column_name IS NULL
    OR d.data_type IS DISTINCT FROM c.data_type OR d.key IS DISTINCT FROM c.key
 ORDER BY 1, 2;

-- Each of the catalogue's tables exists.
SELECT DISTINCT table_name AS missing_table FROM catalogue
 WHERE to_regclass('modelflags.' || quote_ident(table_name)) IS NULL;

-- The tables of schema modelflags the catalogue leaves out, on purpose:
-- the audit and the change log the cache reads by its own statements,
-- flipper_source, the attached Flipper tables (read by flipper.c), and
-- model health's (50_health.sql): breaker_settings, whose columns health.c
-- checks by name and type as it reads them (mf_settings_cols: a clear
-- ERROR, never a crash), breaker_events, written by the recorder's own
-- statement, and the health views, which read only C functions.
SELECT c.relname AS not_in_the_catalogue
  FROM pg_class c
 WHERE c.relnamespace = 'modelflags'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
   AND c.relname NOT IN (SELECT table_name FROM catalogue)
 ORDER BY 1;

-- Every column says what uses it.
SELECT table_name, column_name FROM catalogue WHERE coalesce(uses, '') = '';

--
-- Every column of the catalogue survives dump_definitions and
-- load_definitions, in YAML and in JSON: rows in which each column takes
-- at least two values (so one is not its default) are dumped, the tables
-- emptied and the dump loaded; the rows, compared whole (to_jsonb, so a
-- new column is compared too), are the same.  A column the catalogue gains
-- is caught twice: the rows below do not vary it until they are told to,
-- and then a dump or load that does not carry it changes the rows.
--
CREATE FUNCTION pg_temp.catalogue_rows() RETURNS TABLE (table_name text, r jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT DISTINCT c.table_name FROM catalogue c ORDER BY 1 LOOP
        RETURN QUERY EXECUTE format('SELECT %L::text, to_jsonb(x) FROM modelflags.%I x', t, t);
    END LOOP;
END $$;

BEGIN;
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
INSERT INTO modelflags.providers (name, available, note)
VALUES ('anthropic', true, NULL), ('vertex_ai', false, 'an outage');
INSERT INTO modelflags.models (name, provider, params, enabled, description)
VALUES ('claude', 'anthropic', '{"max_tokens": 64000, "temperature": 0.5}', true, NULL),
       ('gemini', 'vertex_ai', '{}', false, 'the backup');
INSERT INTO modelflags.flags (name, enabled, percentage_of_actors, percentage_of_time, type,
                              default_enabled, "group", milestone, description, introduced_by_url,
                              rollout_issue_url, feature_issue_url, log_state_changes)
VALUES ('failover', true, NULL, NULL, 'ops', false, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
       ('migration', false, 12.5, 0.125, 'beta', true, 'group::ai', '18.1', 'to the new model',
        'https://example.com/mr/1', 'https://example.com/issue/2', 'https://example.com/issue/3', true);
INSERT INTO modelflags.flag_actors (flag, actor, opt_out)
VALUES ('migration', 'User:1', false), ('migration', 'User:2', true), ('failover', 'User:3', false);
INSERT INTO modelflags.features (name, description)
VALUES ('chat', NULL), ('code_generations', 'generates code');
INSERT INTO modelflags.routes (feature, position, flag, model, params, note)
VALUES ('code_generations', 1, 'failover', 'gemini', '{"direct_access": false}', 'failover first'),
       ('code_generations', 4, NULL, 'claude', '{}', NULL),
       ('chat', 0, NULL, 'claude', '{}', NULL);

-- Columns the rows do not vary: none.
SELECT c.table_name, c.column_name AS not_varied
  FROM catalogue c
 WHERE (SELECT count(DISTINCT x.r -> c.column_name) FROM pg_temp.catalogue_rows() x
         WHERE x.table_name = c.table_name) < 2
 ORDER BY 1, 2;

CREATE TEMP TABLE catalogue_before AS SELECT * FROM pg_temp.catalogue_rows();
SELECT modelflags.dump_definitions() AS catalogue_yaml \gset
SELECT modelflags.dump_definitions('json') AS catalogue_json \gset

TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
SELECT format, definitions FROM modelflags.load_definitions(:'catalogue_yaml');
-- Rows lost or changed, rows gained: none.
(SELECT 'lost' AS yaml, * FROM catalogue_before EXCEPT SELECT 'lost', * FROM pg_temp.catalogue_rows())
UNION ALL
(SELECT 'gained', * FROM pg_temp.catalogue_rows() EXCEPT SELECT 'gained', * FROM catalogue_before)
ORDER BY 1, 2, 3;

TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
SELECT format, definitions FROM modelflags.load_definitions(:'catalogue_json');
(SELECT 'lost' AS json, * FROM catalogue_before EXCEPT SELECT 'lost', * FROM pg_temp.catalogue_rows())
UNION ALL
(SELECT 'gained', * FROM pg_temp.catalogue_rows() EXCEPT SELECT 'gained', * FROM catalogue_before)
ORDER BY 1, 2, 3;
ROLLBACK;
