--
-- schema_catalogue: the catalogue of the configuration tables in C
-- (src/schema_catalogue.h, issue 10 item 2) and the DDL
-- (sql/install/00_schema.sql) agree.
--
-- Proves: every column of the six tables the catalogue names is in the
-- catalogue, with the same type and the same primary-key membership, and
-- the catalogue has no column the tables lack; the other tables of schema
-- modelflags are listed, so that a new one is a decision, not an
-- oversight.  The C code builds its column lists from the catalogue (the
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
-- the audit and the change log the cache reads by its own statements.
SELECT c.relname AS not_in_the_catalogue
  FROM pg_class c
 WHERE c.relnamespace = 'modelflags'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
   AND c.relname NOT IN (SELECT table_name FROM catalogue)
 ORDER BY 1;

-- Every column says what uses it.
SELECT table_name, column_name FROM catalogue WHERE coalesce(uses, '') = '';
