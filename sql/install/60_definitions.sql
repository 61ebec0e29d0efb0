/*
 * 60_definitions.sql — definitions as code (README.md, "Definitions as
 * code"): load_definitions reads YAML or JSON (our format, or GitLab's
 * feature-flag definitions, models.yml and unit_primitives.yml) and applies
 * it in the caller's transaction; dump_definitions writes the tables back
 * in our format.  Both are C (src/definitions_api.c over the pure parser
 * src/def_*.c).
 *
 * SECURITY INVOKER: load_definitions writes with plain INSERT/UPDATE/DELETE,
 * so the caller needs the same table privileges as for those, and the
 * validation, audit and NOTIFY triggers fire as for any write.  Neither
 * function is granted to PUBLIC (90_privileges.sql).
 *
 * Both run SPI queries (src/definitions_api.c) that call built-in functions
 * and operators by name: SET search_path pins them to pg_catalog, whatever
 * the caller's search_path holds.  (The read functions run no SQL and take
 * no SET clause: they are the hot path.)
 */

-- VOLATILE and PARALLEL UNSAFE (the default): it writes.  Not STRICT: a
-- NULL document is an error (22004); NULL prune means false, NULL note none.
CREATE FUNCTION modelflags.load_definitions(document text,
                                            prune boolean DEFAULT false,
                                            note text DEFAULT NULL,
                                            OUT format text,
                                            OUT definitions integer,
                                            OUT changed bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'modelflags_load_definitions'
LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION modelflags.load_definitions(text, boolean, text) IS
    'applies a YAML or JSON definitions document (ours, or a GitLab feature-flag file, models.yml or unit_primitives.yml) all or nothing; returns its format, how many definitions it holds and how many rows changed';

-- STABLE: reads the tables only, the same answer within a statement.
-- PARALLEL SAFE: its SPI queries are read-only.  Not STRICT: NULL arguments
-- are errors.
CREATE FUNCTION modelflags.dump_definitions(format text DEFAULT 'yaml',
                                            state boolean DEFAULT true)
RETURNS text
AS 'MODULE_PATHNAME', 'modelflags_dump_definitions'
LANGUAGE C STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION modelflags.dump_definitions(text, boolean) IS
    'the definitions in the tables as YAML or JSON in load_definitions'' format; state => false leaves out provider availability, flag gates, actors and opt-outs';
