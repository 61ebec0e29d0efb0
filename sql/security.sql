--
-- security: nothing a less privileged role plants runs in someone else's
-- session (issue 8, item 3).
--
-- Proves:
--   - CREATE EXTENSION refuses a schema modelflags that another role made
--     beforehand (42501), one that other roles may create objects in
--     (42501) and one that is not empty (55000), and installs nothing then;
--     an empty schema owned by a superuser is fine (pg_dump's restores make
--     one: CREATE SCHEMA, ALTER SCHEMA OWNER TO, CREATE EXTENSION);
--   - the planted look-alike is real: 1.0's install script, run into the
--     planted schema, calls it as the superuser;
--   - with look-alikes of every built-in function, aggregate, operator and
--     type the extension's code uses, planted by a role that only owns a
--     schema on the victims' search_path, and that schema first on it (also
--     before pg_catalog), the write functions, plain DML on every table
--     (valid and invalid rows, COPY, TRUNCATE, the refused changes to the
--     audit), load_definitions, dump_definitions and the read functions run
--     none of them, as a superuser and as an ops role; while the same
--     expressions outside the extension do run them (they really are better
--     or earlier matches than pg_catalog's);
--   - every function of the extension pins search_path, or is one of those
--     written schema-qualified, or is C that runs no SQL.
--
\set SHOW_CONTEXT never
SELECT current_database() AS regress_db \gset
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;

-- (Leftovers of an interrupted earlier run, if any, go quietly.)
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_security_guard;
DROP SCHEMA IF EXISTS regress_plant CASCADE;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_sec_ops') THEN
        DROP OWNED BY regress_sec_ops;
    END IF;
END $$;
DROP ROLE IF EXISTS regress_sec_ops, regress_planter, regress_mallory, regress_installer;
RESET client_min_messages;

--
-- 1. The install guard, in a database of its own.
--
CREATE ROLE regress_installer SUPERUSER NOLOGIN;   -- the DBA who installs
CREATE ROLE regress_mallory NOLOGIN;               -- may create schemas, nothing else
CREATE DATABASE regress_security_guard;
GRANT CREATE ON DATABASE regress_security_guard TO regress_mallory;
\c regress_security_guard

-- mallory prepares schema modelflags with a look-alike of format() that
-- 1.0's script calls as format('REVOKE EXECUTE ON FUNCTION %s FROM
-- PUBLIC', f) with f a regprocedure: a better match than pg_catalog's
-- format(text, VARIADIC "any").
SET ROLE regress_mallory;
CREATE SCHEMA modelflags;
CREATE FUNCTION modelflags.format(fmt text, arg regprocedure) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    RAISE WARNING 'planted modelflags.format ran as a superuser: %',
        (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user);
    RETURN pg_catalog.format(fmt, arg);
END $$;
RESET ROLE;

SET ROLE regress_installer;
-- 1.0 installs into it and runs the plant with superuser rights ...
BEGIN;
CREATE EXTENSION modelflags VERSION '1.0';
ROLLBACK;
-- ... the current version refuses before anything else, and leaves nothing.
CREATE EXTENSION modelflags;
SELECT count(*) AS extensions FROM pg_extension WHERE extname = 'modelflags';
SELECT p.oid::regprocedure AS in_schema FROM pg_proc p WHERE p.pronamespace = 'modelflags'::regnamespace;

-- A superuser's schema that others may create objects in: refused.
DROP SCHEMA modelflags CASCADE;
CREATE SCHEMA modelflags;
GRANT CREATE ON SCHEMA modelflags TO regress_mallory;
CREATE EXTENSION modelflags;
GRANT CREATE ON SCHEMA modelflags TO PUBLIC;
CREATE EXTENSION modelflags;
REVOKE CREATE ON SCHEMA modelflags FROM regress_mallory, PUBLIC;

-- Not empty: refused, naming what is there.
CREATE TABLE modelflags.leftover (id int);
CREATE FUNCTION modelflags.length(text) RETURNS int LANGUAGE sql RETURN 0;
CREATE EXTENSION modelflags;
SELECT count(*) AS extensions FROM pg_extension WHERE extname = 'modelflags';
DROP TABLE modelflags.leftover;
DROP FUNCTION modelflags.length(text);

-- Empty and owned by another superuser (what a restore by another
-- superuser than the original owner does): installed.
RESET ROLE;
ALTER SCHEMA modelflags OWNER TO CURRENT_USER;
SET ROLE regress_installer;
CREATE EXTENSION modelflags;
SELECT e.extversion = (SELECT default_version FROM pg_available_extensions WHERE name = 'modelflags') AS installed,
       pg_get_userbyid(e.extowner) AS extension_owner, n.nspowner <> e.extowner AS schema_owned_by_other_superuser
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'modelflags';
DROP EXTENSION modelflags;
DROP SCHEMA modelflags;
-- No schema at all: CREATE EXTENSION makes it, owned by the installer.
CREATE EXTENSION modelflags;
SELECT pg_get_userbyid(n.nspowner) AS schema_owner
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'modelflags';
RESET ROLE;

\c :regress_db
\set SHOW_CONTEXT never
DROP DATABASE regress_security_guard;

--
-- 2. Look-alikes on the search_path at run time.
--
-- regress_planter owns schema regress_plant (as a role with CREATE on
-- public would own what it makes there) and fills it with look-alikes, each
-- of which raises a WARNING naming itself and counts in regress_plant.ran
-- (a sequence: counted even when the statement then fails).
CREATE ROLE regress_planter NOLOGIN;
CREATE SCHEMA regress_plant AUTHORIZATION regress_planter;
GRANT USAGE ON SCHEMA regress_plant TO PUBLIC;
SET ROLE regress_planter;
CREATE SEQUENCE regress_plant.ran;
GRANT USAGE, UPDATE ON SEQUENCE regress_plant.ran TO PUBLIC;

-- Records one run of a look-alike.
CREATE FUNCTION regress_plant.ran(what text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.nextval('regress_plant.ran');
    RAISE WARNING 'planted % ran', what;
    RETURN true;
END $$;

SET search_path = pg_catalog;   -- so that the generated definitions name pg_catalog's types
-- Every function the extension's SQL calls by name (in function bodies,
-- SPI queries, WHEN and CHECK clauses, defaults): a look-alike of each
-- pg_catalog signature that PL/pgSQL can take, which records and then calls
-- the original.  (Signatures with "any", internal or cstring are left out:
-- PL/pgSQL cannot take them; better matches for those follow below.)
DO $do$
DECLARE
    p      record;
    body   text;
    call   text;
BEGIN
    FOR p IN
        SELECT f.oid, f.proname, f.pronargs, f.proretset, f.prorettype,
               pg_get_function_arguments(f.oid) AS args, pg_get_function_result(f.oid) AS result
          FROM pg_proc f
         WHERE f.pronamespace = 'pg_catalog'::regnamespace AND f.prokind = 'f'
           AND f.proname IN ('aclexplode', 'concat', 'current_setting', 'format', 'jsonb_array_elements_text',
                             'jsonb_build_object', 'jsonb_each', 'jsonb_to_recordset', 'jsonb_typeof', 'left',
                             'length', 'now', 'octet_length', 'pg_current_xact_id', 'pg_describe_object',
                             'pg_get_userbyid', 'pg_has_role', 'pg_notify', 'quote_ident', 'quote_literal',
                             'round', 'set_config', 'to_jsonb', 'trunc', 'nextval', 'regexp_replace')
    LOOP
        call := format('pg_catalog.%I(%s)', p.proname,
                       (SELECT coalesce(string_agg('$' || i, ', '), '') FROM generate_series(1, p.pronargs) AS i));
        body := CASE WHEN p.proretset THEN format('RETURN QUERY SELECT * FROM %s;', call)
                     WHEN p.prorettype = 'void'::regtype THEN format('PERFORM %s;', call)
                     ELSE format('RETURN %s;', call) END;
        BEGIN
            EXECUTE format($f$CREATE FUNCTION regress_plant.%I(%s) RETURNS %s LANGUAGE plpgsql AS $b$
                              BEGIN PERFORM regress_plant.ran(%L); %s END $b$$f$,
                           p.proname, p.args, p.result, format('%s(%s)', p.proname, p.args), body);
        EXCEPTION WHEN feature_not_supported THEN
            NULL;   -- a signature PL/pgSQL cannot take ("any", internal, cstring)
        END;
    END LOOP;
END $do$;

-- Better matches than pg_catalog's variadic format, concat and
-- jsonb_build_object for the argument lists the extension passes.
DO $do$
DECLARE
    sig text;
BEGIN
    FOREACH sig IN ARRAY ARRAY['format(text, text)', 'format(text, text, text)', 'format(text, text, integer)',
                               'format(text, text, text, text)', 'format(text, regprocedure)',
                               'format(text, regclass)', 'format(text, bigint)', 'format(text, numeric)',
                               'concat(text, text, text)',
                               'jsonb_build_object(text, text)', 'jsonb_build_object(text, text, text, text)',
                               'jsonb_build_object(text, text, text, integer)']
    LOOP
        EXECUTE format($f$CREATE FUNCTION regress_plant.%s RETURNS %s LANGUAGE plpgsql AS $b$
                          BEGIN PERFORM regress_plant.ran(%L); RETURN NULL; END $b$$f$,
                       sig, CASE WHEN sig LIKE 'jsonb%' THEN 'jsonb' ELSE 'text' END, sig);
    END LOOP;
END $do$;

-- The aggregates (look-alikes that record; their results do not matter).
CREATE FUNCTION regress_plant.agg_count(s bigint) RETURNS bigint
LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_plant.ran('count(*)'); RETURN s; END $$;
CREATE AGGREGATE regress_plant.count(*) (SFUNC = regress_plant.agg_count, STYPE = bigint, INITCOND = 0);
CREATE FUNCTION regress_plant.agg_count_any(s bigint, v anyelement) RETURNS bigint
LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_plant.ran('count(anyelement)'); RETURN s; END $$;
CREATE AGGREGATE regress_plant.count(anyelement) (SFUNC = regress_plant.agg_count_any, STYPE = bigint, INITCOND = 0);
CREATE FUNCTION regress_plant.agg_minmax(s bigint, v bigint) RETURNS bigint
LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_plant.ran('min/max(bigint)'); RETURN v; END $$;
CREATE AGGREGATE regress_plant.min(bigint) (SFUNC = regress_plant.agg_minmax, STYPE = bigint);
CREATE AGGREGATE regress_plant.max(bigint) (SFUNC = regress_plant.agg_minmax, STYPE = bigint);
CREATE FUNCTION regress_plant.agg_minmax4(s integer, v integer) RETURNS integer
LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_plant.ran('min/max(integer)'); RETURN v; END $$;
CREATE AGGREGATE regress_plant.min(integer) (SFUNC = regress_plant.agg_minmax4, STYPE = integer);
CREATE AGGREGATE regress_plant.max(integer) (SFUNC = regress_plant.agg_minmax4, STYPE = integer);
CREATE FUNCTION regress_plant.agg_string(s text, v text, d text) RETURNS text
LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_plant.ran('string_agg(text, text)'); RETURN v; END $$;
CREATE AGGREGATE regress_plant.string_agg(text, text) (SFUNC = regress_plant.agg_string, STYPE = text);
CREATE FUNCTION regress_plant.agg_jsonb(s jsonb, v anyelement) RETURNS jsonb
LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_plant.ran('jsonb_agg(anyelement)'); RETURN s; END $$;
CREATE AGGREGATE regress_plant.jsonb_agg(anyelement) (SFUNC = regress_plant.agg_jsonb, STYPE = jsonb);

-- Every binary operator of pg_catalog the extension's code could use by
-- name, over the types it uses: a look-alike that records and then calls
-- the original's function.
DO $do$
DECLARE
    o record;
BEGIN
    FOR o IN
        SELECT op.oid, op.oprname, op.oprleft::regtype AS l, op.oprright::regtype AS r,
               op.oprresult::regtype AS res, p.proname AS fn
          FROM pg_operator op JOIN pg_proc p ON p.oid = op.oprcode
         WHERE op.oprnamespace = 'pg_catalog'::regnamespace AND op.oprkind = 'b'
           AND op.oprname IN ('=', '<>', '<', '>', '<=', '>=', '~', '!~', '||', '+', '-', '->', '->>', '@>', '?')
           AND op.oprleft::regtype::text IN ('text', 'name', 'smallint', 'integer', 'bigint', 'numeric', 'boolean',
                                             'jsonb', 'oid', 'xid8', 'timestamp with time zone', '"char"',
                                             'anynonarray', 'anyelement', 'anyarray', 'anycompatiblearray',
                                             'anycompatible', 'aclitem', 'regclass')
           AND op.oprright::regtype::text IN ('text', 'name', 'smallint', 'integer', 'bigint', 'numeric', 'boolean',
                                              'jsonb', 'oid', 'xid8', 'timestamp with time zone', '"char"',
                                              'anynonarray', 'anyelement', 'anyarray', 'anycompatiblearray',
                                              'anycompatible', 'aclitem', 'regclass', 'text[]')
    LOOP
        EXECUTE format($f$CREATE FUNCTION regress_plant.op_%s(l %s, r %s) RETURNS %s LANGUAGE plpgsql AS $b$
                          BEGIN PERFORM regress_plant.ran(%L); RETURN pg_catalog.%I(l, r); END $b$$f$,
                       o.oid, o.l, o.r, o.res, format('operator %s(%s, %s)', o.oprname, o.l, o.r), o.fn);
        EXECUTE format('CREATE OPERATOR regress_plant.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = regress_plant.op_%s)',
                       o.oprname, o.l, o.r, o.oid);
    END LOOP;
END $do$;

-- The type names the code uses that are not SQL keywords (a keyword such as
-- integer always means pg_catalog's): domains that record when a value is
-- cast to them.
CREATE DOMAIN regress_plant.text AS pg_catalog.text CHECK (regress_plant.ran('type text'));
CREATE DOMAIN regress_plant.jsonb AS pg_catalog.jsonb CHECK (regress_plant.ran('type jsonb'));
CREATE DOMAIN regress_plant.regclass AS pg_catalog.regclass CHECK (regress_plant.ran('type regclass'));
RESET search_path;
RESET ROLE;

-- Every name has a look-alike (none missing), and so has each signature
-- the extension's code calls.
SELECT sig AS missing_look_alike
  FROM unnest(ARRAY['octet_length(text)', 'length(text)', 'left(text,integer)', 'format(text)',
                    'format(text,text)', 'format(text,text,text)', 'format(text,regprocedure)',
                    'jsonb_typeof(jsonb)', 'jsonb_each(jsonb)', 'round(numeric,integer)', 'trunc(numeric)',
                    'set_config(text,text,boolean)', 'current_setting(text)', 'current_setting(text,boolean)',
                    'pg_has_role(name,oid,text)', 'to_jsonb(anyelement)', 'pg_notify(text,text)',
                    'jsonb_to_recordset(jsonb)', 'jsonb_array_elements_text(jsonb)', 'now()',
                    'pg_current_xact_id()', 'jsonb_build_object(text,text,text,text)']) AS sig
 WHERE to_regprocedure('regress_plant.' || sig) IS NULL;
SELECT sig AS missing_operator
  FROM unnest(ARRAY['=(text,text)', '<>(text,text)', '>(integer,integer)', '<=(integer,integer)',
                    '<(integer,integer)', '<(numeric,numeric)', '>(numeric,numeric)', '<>(numeric,numeric)',
                    '=(numeric,numeric)', '!~(text,text)', '~(text,text)', '!~(name,text)', '||(text,text)',
                    '||(text,anynonarray)', '=(name,name)', '<>(name,name)', '=(oid,oid)', '<>(oid,oid)',
                    '=(jsonb,jsonb)', '+(integer,integer)', '-(bigint,integer)', '=(bigint,bigint)',
                    '>=(bigint,bigint)', '<=(bigint,bigint)', '=(xid8,xid8)', '<>(text,text)']) AS sig
 WHERE to_regoperator('regress_plant.' || sig) IS NULL;
SELECT n AS missing_look_alike
  FROM unnest(ARRAY['aclexplode', 'concat', 'current_setting', 'format', 'jsonb_array_elements_text',
                    'jsonb_build_object', 'jsonb_each', 'jsonb_to_recordset', 'jsonb_typeof', 'left', 'length',
                    'now', 'octet_length', 'pg_current_xact_id', 'pg_describe_object', 'pg_get_userbyid',
                    'pg_has_role', 'pg_notify', 'quote_ident', 'quote_literal', 'round', 'set_config', 'to_jsonb',
                    'trunc', 'nextval', 'count', 'min', 'max', 'string_agg', 'jsonb_agg']) AS n
 WHERE NOT EXISTS (SELECT 1 FROM pg_proc p WHERE p.pronamespace = 'regress_plant'::regnamespace AND p.proname = n);
SELECT n AS missing_operator
  FROM unnest(ARRAY['=', '<>', '<', '>', '<=', '>=', '~', '!~', '||', '+', '-', '->', '->>', '@>', '?']) AS n
 WHERE NOT EXISTS (SELECT 1 FROM pg_operator o WHERE o.oprnamespace = 'regress_plant'::regnamespace AND o.oprname = n);

-- An ops role as README.md makes one.
CREATE ROLE regress_sec_ops NOLOGIN;
GRANT USAGE ON SCHEMA modelflags TO regress_sec_ops;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA modelflags TO regress_sec_ops;
REVOKE INSERT, UPDATE, DELETE ON modelflags.changes FROM regress_sec_ops;
GRANT EXECUTE ON FUNCTION modelflags.set_flag(text, boolean, numeric, numeric, text),
                          modelflags.set_actor(text, text, boolean, text),
                          modelflags.opt_out(text, text, text),
                          modelflags.remove_opt_out(text, text, text),
                          modelflags.delete_flag(text, text),
                          modelflags.set_provider(text, boolean, text),
                          modelflags.load_definitions(text, boolean, text),
                          modelflags.dump_definitions(text, boolean)
   TO regress_sec_ops;

--
-- The victims: from here to the count below, every statement runs with the
-- look-alikes first on search_path, before pg_catalog.  The statements
-- themselves use no operator, so that only the extension's code could
-- reach a look-alike.
--
SET search_path = regress_plant, pg_catalog;

-- A superuser: plain DML on every table, valid rows (validation, audit,
-- NOTIFY, invalidation, foreign keys) ...
INSERT INTO modelflags.providers (name, note) VALUES ('anthropic', 'a'), ('vertex_ai', NULL);
INSERT INTO modelflags.models (name, provider, params) VALUES
    ('claude_sonnet_4_5', 'anthropic', '{"model": "claude", "max_tokens": 64, "temperature": 0.5, "stop": ["x"], "direct_access": true}'),
    ('claude_vertex', 'vertex_ai', '{"max_retries": 1, "top_p": 0.9}');
INSERT INTO modelflags.flags (name, type, percentage_of_actors) VALUES ('sec_beta', 'beta', 12.5), ('sec_failover', 'ops', NULL);
INSERT INTO modelflags.flag_actors (flag, actor) SELECT 'sec_beta', pg_catalog.concat('User:', i) FROM generate_series(1, 40) AS i;
INSERT INTO modelflags.features (name) VALUES ('sec_feature');
INSERT INTO modelflags.routes (feature, position, flag, model, params) VALUES
    ('sec_feature', 0, 'sec_failover', 'claude_vertex', '{"direct_access": false}'),
    ('sec_feature', 1, 'sec_beta', 'claude_vertex', '{}'),
    ('sec_feature', 2, NULL, 'claude_sonnet_4_5', '{}');
COPY modelflags.flag_actors (flag, actor, opt_out) FROM stdin;
sec_beta	Group:1	t
sec_beta	Project:2	f
\.
UPDATE modelflags.providers SET note = 'b' WHERE name IS NOT NULL;
UPDATE modelflags.models SET enabled = true WHERE enabled;
UPDATE modelflags.flags SET milestone = '18.0' WHERE type IS NOT NULL;
UPDATE modelflags.flag_actors SET opt_out = false WHERE opt_out;
UPDATE modelflags.features SET description = 'x' WHERE description IS NULL;
UPDATE modelflags.routes SET note = 'n' WHERE note IS NULL;
UPDATE modelflags.features SET name = 'sec_feature_v2' WHERE description IS NOT NULL;   -- a rename: cascades
DELETE FROM modelflags.flag_actors WHERE opt_out;
-- ... invalid rows (each validation error path, with its message) ...
INSERT INTO modelflags.providers (name) VALUES ('Bad Name');
INSERT INTO modelflags.providers (name) VALUES (repeat('a', 300));
INSERT INTO modelflags.models (name, provider, params) VALUES ('m1', 'anthropic', '{"max_tokens": 1.5}');
INSERT INTO modelflags.models (name, provider, params) VALUES ('m1', 'anthropic', '[1]');
INSERT INTO modelflags.models (name, provider, params) VALUES ('m1', NULL, '{}');
INSERT INTO modelflags.models (name, provider, params) VALUES ('m1', 'anthropic', '{"stop": 1}');
INSERT INTO modelflags.flags (name) VALUES ('Bad-Flag');
INSERT INTO modelflags.flags (name, percentage_of_actors) VALUES ('f1', 12.3456);
INSERT INTO modelflags.flags (name, percentage_of_time) VALUES ('f1', 101);
INSERT INTO modelflags.flags (name, type) VALUES ('f1', 'nope');
INSERT INTO modelflags.flag_actors (flag, actor) VALUES ('sec_beta', '');
INSERT INTO modelflags.flag_actors (flag, actor) VALUES ('sec_beta', repeat('x', 2000));
INSERT INTO modelflags.flag_actors (flag, actor) VALUES (NULL, 'User:1');
INSERT INTO modelflags.features (name) VALUES ('Bad Feature');
INSERT INTO modelflags.routes (feature, position, model) VALUES ('sec_feature_v2', -1, 'claude_vertex');
INSERT INTO modelflags.routes (feature, position, model) VALUES ('sec_feature_v2', NULL, 'claude_vertex');
INSERT INTO modelflags.routes (feature, position, model, params) VALUES ('sec_feature_v2', 7, 'claude_vertex', '{"temperature": "hot"}');
-- ... the audit refuses changes ...
UPDATE modelflags.changes SET note = 'forged' WHERE note IS NULL;
DELETE FROM modelflags.changes WHERE note IS NULL;
TRUNCATE modelflags.changes;
-- ... every write function, and its refusals ...
SELECT (modelflags.set_flag('sec_failover', true, note => 'INC-1')).enabled;
SELECT (modelflags.set_flag('sec_failover', false)).enabled;
SELECT (modelflags.set_flag('sec_beta', percentage_of_actors => 25, percentage_of_time => 1)).percentage_of_actors;
SELECT (modelflags.set_flag('sec_new_flag', percentage_of_actors => 100)).enabled;
SELECT (modelflags.set_flag('sec_new_flag', percentage_of_actors => 5)).enabled;
SELECT (modelflags.set_flag('sec_beta', true, percentage_of_actors => 5)).enabled;
SELECT modelflags.set_actor('sec_beta', 'User:99', true, note => 'add');
SELECT modelflags.set_actor('sec_beta', 'User:99', false);
SELECT modelflags.opt_out('sec_beta', 'User:98');
SELECT modelflags.set_actor('sec_beta', 'User:98', true);
SELECT modelflags.remove_opt_out('sec_beta', 'User:98');
SELECT modelflags.set_actor('sec_fresh', 'User:1', true);
SELECT modelflags.delete_flag('sec_beta');
SELECT modelflags.delete_flag('sec_new_flag');
SELECT (modelflags.set_provider('anthropic', false, note => 'outage')).available;
SELECT (modelflags.set_provider('anthropic', true)).available;
SELECT (modelflags.set_provider('nope', true)).available;
-- ... definitions as code ...
SELECT * FROM modelflags.load_definitions($$
providers: [{name: bedrock, available: false}]
models: [{name: claude_bedrock, provider: bedrock, params: {max_tokens: 8}}]
flags: [{name: sec_loaded, percentage_of_actors: 3, actors: ['User:1'], opt_outs: ['User:2']}]
features: [{name: sec_loaded_feature, routes: [{flag: sec_loaded, model: claude_bedrock}, {model: claude_vertex}]}]
$$, note => 'loaded');
SELECT * FROM modelflags.load_definitions('{"flags": [{"name": "sec_loaded", "actors": ["User:3"]}]}');
SELECT * FROM modelflags.load_definitions('{"flags": [{"name": "sec_loaded", "actors": ["User:2"]}]}');
SELECT * FROM modelflags.load_definitions('{"providers": [{"name": "spare"}]}');
SELECT * FROM modelflags.load_definitions('{"providers": [{"name": "anthropic"}, {"name": "vertex_ai"}, {"name": "bedrock"}]}',
                                          prune => true);
SELECT * FROM modelflags.load_definitions('{"providers": [{"name": "bedrock"}]}', prune => true);
SELECT pg_catalog.length(modelflags.dump_definitions()) OPERATOR(pg_catalog.>) 0 AS dumped;
SELECT pg_catalog.length(modelflags.dump_definitions('json', false)) OPERATOR(pg_catalog.>) 0 AS dumped;
-- ... the read functions, which rebuild the cache after the writes above.
SELECT model, gate, position FROM modelflags.model_for('sec_feature_v2', 'User:1');
SELECT model, gate, position FROM modelflags.model_for('sec_loaded_feature', 'User:1');
SELECT modelflags.is_enabled('sec_loaded', 'User:1'), modelflags.is_enabled('sec_loaded', 'User:2'),
       modelflags.rollout_pct('sec_loaded', 'User:1');
SELECT position, decision FROM modelflags.explain('sec_feature_v2', 'User:1');
SELECT valid FROM modelflags.cache_info();
SELECT * FROM modelflags.model_for('sec_nope', 'User:1');
-- TRUNCATE of every configuration table (audited before it goes).
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags, modelflags.flag_actors,
         modelflags.features, modelflags.routes;

-- The ops role, with the same search_path: the runbook.
SET ROLE regress_sec_ops;
INSERT INTO modelflags.providers (name) VALUES ('anthropic');
INSERT INTO modelflags.models (name, provider) VALUES ('claude', 'anthropic');
INSERT INTO modelflags.features (name) VALUES ('ops_feature');
INSERT INTO modelflags.routes (feature, position, model) VALUES ('ops_feature', 1, 'claude');
SELECT (modelflags.set_flag('ops_failover', true, note => 'INC-2')).enabled;
SELECT modelflags.set_actor('ops_beta', 'User:1', true);
SELECT modelflags.opt_out('ops_beta', 'User:2');
SELECT modelflags.remove_opt_out('ops_beta', 'User:2');
UPDATE modelflags.flags SET enabled = false WHERE enabled;
INSERT INTO modelflags.flags (name, percentage_of_time) VALUES ('ops_bad', -1);
SELECT (modelflags.set_provider('anthropic', false)).available;
SELECT * FROM modelflags.load_definitions('{"flags": [{"name": "ops_loaded", "enabled": true}]}');
SELECT pg_catalog.length(modelflags.dump_definitions()) OPERATOR(pg_catalog.>) 0 AS dumped;
SELECT modelflags.delete_flag('ops_loaded');
DELETE FROM modelflags.routes WHERE position IS NOT NULL;
SELECT model FROM modelflags.model_for('ops_feature', 'User:1');
RESET ROLE;
RESET search_path;

-- None of the look-alikes ran (no WARNING above, and the count is untouched) ...
SELECT last_value, is_called AS any_look_alike_ran FROM regress_plant.ran;
-- ... while the code they would have shadowed did run: audit rows with the notes.
SELECT note, count(*) AS audit_rows FROM modelflags.changes
 WHERE note IN ('INC-1', 'add', 'outage', 'loaded', 'INC-2') GROUP BY note ORDER BY note;

--
-- They are real: the same kind of expressions, outside the extension, run
-- them.  With pg_catalog searched first (its usual place), a better match
-- wins: format(unknown, text) is 1.0's _validate_model call, per row.
--
SET search_path = regress_plant;
SELECT format('model "%s"', 'claude'::pg_catalog.text) AS formatted;
-- With pg_catalog after them, even an exact match wins: an operator, a
-- function, an aggregate and a type.
SET search_path = regress_plant, pg_catalog;
SELECT octet_length('abc') > 255 AS too_long;
SELECT count(*) AS n FROM pg_catalog.generate_series(1, 1);
SELECT 'x'::text AS typed;
RESET search_path;
SELECT is_called AS look_alikes_ran_outside FROM regress_plant.ran;

--
-- 3. Every function of the extension resolves names safely: it pins
-- search_path, or is one of the functions written schema-qualified (the
-- per-row validation path and the SQL helpers, see 00_install_guard.sql),
-- or is C that runs no SQL.  A new function that does none of these is
-- listed here.
--
SELECT p.oid::regprocedure AS unprotected_function
  FROM pg_proc p
 WHERE p.pronamespace = 'modelflags'::regnamespace
   AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)
   AND p.oid::regprocedure::text NOT IN (
        -- written schema-qualified
        'modelflags._quote_abbrev(text)', 'modelflags._check_name(text,text)',
        'modelflags._check_percentage(text,text,numeric)', 'modelflags._check_params(text,jsonb)',
        'modelflags._validate_provider()', 'modelflags._validate_model()', 'modelflags._validate_flag()',
        'modelflags._validate_flag_actor()', 'modelflags._validate_feature()', 'modelflags._validate_route()',
        'modelflags._pop_note(text)', 'modelflags._is_restore()',
        -- C, no SQL (_invalidate's PRE_COMMIT log row is written qualified, as the log's owner)
        'modelflags.is_enabled(text,text)', 'modelflags.rollout_pct(text,text)', 'modelflags.model_for(text,text)',
        'modelflags.explain(text,text)', 'modelflags.cache_info()', 'modelflags._invalidate()',
        -- model health (C, no SQL: shared memory, and a heap scan of the breaker settings)
        'modelflags.report(text,text,text,double precision,bigint,bigint)', 'modelflags.report_batch(jsonb)',
        'modelflags.health_reset(text)', 'modelflags._health_entries()', 'modelflags._health_status()',
        'modelflags._health_transitions()', 'modelflags._latency_quantile(bigint[],double precision)',
        'modelflags._latency_bounds()', 'modelflags._breaker_settings_changed()')
 ORDER BY 1;
-- ... and the C ones run no SQL: they are C, and take no SET clause (the hot path).
SELECT p.proname, l.lanname, p.proconfig
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'modelflags'::regnamespace
   AND p.proname IN ('is_enabled', 'rollout_pct', 'model_for', 'explain', 'cache_info', '_invalidate')
 ORDER BY 1;

-- Clean up.
SET client_min_messages = warning;
DROP SCHEMA regress_plant CASCADE;
RESET client_min_messages;
DROP OWNED BY regress_sec_ops;
DROP ROLE regress_sec_ops, regress_planter, regress_mallory, regress_installer;
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
