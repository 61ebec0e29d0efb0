--
-- 00_setup: installs the extension for the pg_regress tests that follow
-- (they all run in this one database, in name order).
--
-- Proves: CREATE EXTENSION works in a fresh database; the installed version
-- is the control file's default_version (one version, one place); the
-- extension lives in schema modelflags and is not relocatable; the tables
-- of SPEC §2 and the functions of SPEC §3-4 exist under their contract names.
--
CREATE EXTENSION modelflags;

-- The installed version is the control file's default_version.
SELECT extname, extversion, extrelocatable, extnamespace::regnamespace AS schema
  FROM pg_extension WHERE extname = 'modelflags';
SELECT installed_version = default_version AS installed_is_default
  FROM pg_available_extensions WHERE name = 'modelflags';

\dx modelflags

-- The SPEC §2 tables, with the key columns of the contract.
SELECT c.relname AS "table",
       (SELECT string_agg(a.attname, ', ' ORDER BY array_position(i.indkey::int2[], a.attnum))
          FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
         WHERE i.indrelid = c.oid AND i.indisprimary) AS primary_key
  FROM pg_class c
 WHERE c.relnamespace = 'modelflags'::regnamespace AND c.relkind = 'r' AND c.relname !~ '^_'
 ORDER BY c.relname;

-- The functions of SPEC §3-4 under their contract names and arguments (a
-- missing one is listed); reading is VOLATILE (percentage_of_time draws a
-- random number) except rollout_pct, a pure hash.
SELECT f AS missing_function
  FROM unnest(ARRAY['modelflags.is_enabled(text,text)', 'modelflags.rollout_pct(text,text)',
                    'modelflags.model_for(text,text)', 'modelflags.explain(text,text)',
                    'modelflags.set_flag(text,boolean,numeric,numeric,text)',
                    'modelflags.set_actor(text,text,boolean,text)',
                    'modelflags.opt_out(text,text,text)', 'modelflags.remove_opt_out(text,text,text)',
                    'modelflags.delete_flag(text,text)',
                    'modelflags.set_provider(text,boolean,text)']) AS f
 WHERE to_regprocedure(f) IS NULL;
SELECT p.proname, p.provolatile AS volatility, p.proisstrict AS strict
  FROM pg_proc p
 WHERE p.pronamespace = 'modelflags'::regnamespace
   AND p.proname IN ('is_enabled', 'rollout_pct', 'model_for', 'explain')
 ORDER BY p.proname;

-- The columns SPEC §2 names, by table (extra columns are welcome, missing ones are not).
SELECT t.tbl, t.col
  FROM (VALUES ('providers', 'available'), ('providers', 'note'),
               ('models', 'provider'), ('models', 'params'), ('models', 'enabled'),
               ('flags', 'enabled'), ('flags', 'percentage_of_actors'), ('flags', 'percentage_of_time'),
               ('flags', 'type'), ('flags', 'default_enabled'), ('flags', 'group'), ('flags', 'milestone'),
               ('flags', 'description'), ('flags', 'introduced_by_url'), ('flags', 'rollout_issue_url'),
               ('flags', 'feature_issue_url'),
               ('flag_actors', 'flag'), ('flag_actors', 'actor'), ('flag_actors', 'opt_out'),
               ('features', 'description'),
               ('routes', 'feature'), ('routes', 'position'), ('routes', 'flag'), ('routes', 'model'),
               ('routes', 'params'),
               ('changes', 'id'), ('changes', 'changed_at'), ('changes', 'changed_by'),
               ('changes', 'application_name'), ('changes', 'table_name'), ('changes', 'key'),
               ('changes', 'old_row'), ('changes', 'new_row'), ('changes', 'note')) AS t (tbl, col)
 WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a
                    WHERE a.attrelid = format('modelflags.%I', t.tbl)::regclass
                      AND a.attname = t.col AND NOT a.attisdropped);

-- A fresh install has no configuration and an empty audit.
SELECT (SELECT count(*) FROM modelflags.providers) AS providers,
       (SELECT count(*) FROM modelflags.models) AS models,
       (SELECT count(*) FROM modelflags.flags) AS flags,
       (SELECT count(*) FROM modelflags.flag_actors) AS flag_actors,
       (SELECT count(*) FROM modelflags.features) AS features,
       (SELECT count(*) FROM modelflags.routes) AS routes,
       (SELECT count(*) FROM modelflags.changes) AS changes;

-- Probes the later test files share (pg_regress runs each file in its own
-- session, so they live in a schema, not in pg_temp; outside the extension,
-- so DROP EXTENSION in reinstall.sql leaves them).
CREATE SCHEMA regress_util;
GRANT USAGE ON SCHEMA regress_util TO PUBLIC;

-- Runs one statement as the current role and returns its SQLSTATE ('00000'
-- when it succeeded) and message, cut to 200 bytes; always rolls back, so a
-- probe changes nothing.
CREATE FUNCTION regress_util.try(stmt text, OUT code text, OUT message text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    -- Undo what a successful statement did: raise and catch our own error.
    RAISE EXCEPTION 'ok' USING ERRCODE = 'MFOK0';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
    IF code = 'MFOK0' THEN
        code := '00000';
    ELSIF octet_length(message) > 200 THEN
        message := left(message, 200) || format('... (%s bytes)', octet_length(message));
    END IF;
END $$;

-- Row counts of every table and of the audit, to show nothing was half-applied.
CREATE FUNCTION regress_util.counts() RETURNS text
LANGUAGE sql AS $$
SELECT format('providers=%s models=%s flags=%s flag_actors=%s features=%s routes=%s changes=%s',
              (SELECT count(*) FROM modelflags.providers), (SELECT count(*) FROM modelflags.models),
              (SELECT count(*) FROM modelflags.flags), (SELECT count(*) FROM modelflags.flag_actors),
              (SELECT count(*) FROM modelflags.features), (SELECT count(*) FROM modelflags.routes),
              (SELECT count(*) FROM modelflags.changes))
$$;
