--
-- restore: how a pg_dump restore loads the tables (sql/install/26_restore.sql),
-- and that nobody else can load them that way.
--
-- Proves:
--   - a superuser session set up as pg_dump's scripts and pg_restore set it
--     up (set_config('search_path', '', false), check_function_bodies off)
--     loads rows with INSERT and COPY in replica mode: no audit row, no
--     validation trigger, no foreign-key check (pg_restore -j loads tables
--     in any order), for that statement only: session_replication_role is
--     origin again after it, also inside a transaction; CHECK constraints
--     still hold;
--   - half of that setup, or SET search_path = '' (which is '""', not ''),
--     is an ordinary write: validated and audited;
--   - a role with INSERT rights (an ops role), set up exactly like a
--     restore, is validated and audited (the bypass attempt), also when it
--     writes through a superuser's SECURITY DEFINER function;
--   - a superuser session already in replica mode stays in it;
--   - PUBLIC cannot execute the restore triggers' functions.
--   (test/stages/35_backup.sh runs real pg_dump and pg_restore.)
--
\set SHOW_CONTEXT never
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
SET client_min_messages = warning;
DROP FUNCTION IF EXISTS public.regress_definer_insert(text);
DROP ROLE IF EXISTS regress_restore_ops;
RESET client_min_messages;

INSERT INTO modelflags.flags (name) VALUES ('restored_flag');
SELECT max(id) AS base FROM modelflags.changes \gset

-- A superuser session set up as pg_dump's scripts do it.
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SELECT modelflags._is_restore() AS restore_session;
-- Rows go in without audit, validation or foreign-key checks (an actor of
-- a flag that does not exist yet: pg_restore -j may load flag_actors first).
INSERT INTO modelflags.flags (name, percentage_of_actors) VALUES ('restore_a', 10);
COPY modelflags.flag_actors (flag, actor, opt_out) FROM stdin;
restore_later	User:1	f
restored_flag	User:2	t
\.
SHOW session_replication_role;
-- ... also in one transaction (pg_restore --single-transaction): replica
-- mode lasts for the statement only.
BEGIN;
INSERT INTO modelflags.flags (name) VALUES ('restore_later');
SHOW session_replication_role;
INSERT INTO modelflags.providers (name) VALUES ('restore_provider');
COMMIT;
-- CHECK constraints are not triggers: a bad row still fails.
INSERT INTO modelflags.flags (name) VALUES ('Bad Name');
RESET search_path;
RESET check_function_bodies;
SELECT count(*) AS audit_rows_of_the_restore FROM modelflags.changes WHERE id > :base;
SELECT flag, actor, opt_out FROM modelflags.flag_actors ORDER BY flag, actor;

-- Half of the setup, or SET search_path = '' (which is '""'), is an
-- ordinary, audited write.
SELECT pg_catalog.set_config('search_path', '', false);
INSERT INTO modelflags.flags (name) VALUES ('half_a');
RESET search_path;
SET check_function_bodies = false;
INSERT INTO modelflags.flags (name) VALUES ('half_b');
SET search_path = '';
SHOW search_path;
SELECT modelflags._is_restore() AS restore_session;
INSERT INTO modelflags.flags (name) VALUES ('half_c');
RESET search_path;
RESET check_function_bodies;
SELECT key->>'name' AS audited FROM modelflags.changes WHERE id > :base ORDER BY id;

-- An ops role with INSERT rights, set up exactly like a restore: audited,
-- validated, foreign keys checked.
CREATE ROLE regress_restore_ops NOLOGIN;
GRANT USAGE ON SCHEMA modelflags TO regress_restore_ops;
GRANT SELECT, INSERT, UPDATE, DELETE ON modelflags.flags, modelflags.flag_actors TO regress_restore_ops;
SELECT max(id) AS base FROM modelflags.changes \gset
SET SESSION AUTHORIZATION regress_restore_ops;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SELECT modelflags._is_restore() AS restore_session;
INSERT INTO modelflags.flags (name) VALUES ('ops_restore_attempt');
COPY modelflags.flag_actors (flag, actor, opt_out) FROM stdin;
ops_restore_attempt	User:1	f
\.
COPY modelflags.flag_actors (flag, actor, opt_out) FROM stdin;
no_such_flag	User:1	f
\.
INSERT INTO modelflags.flags (name) VALUES ('Bad Name');
SHOW session_replication_role;
RESET search_path;
RESET check_function_bodies;
RESET SESSION AUTHORIZATION;
SELECT changed_by, table_name, operation, key FROM modelflags.changes WHERE id > :base ORDER BY id;

-- ... also through a superuser's SECURITY DEFINER function: the login role
-- decides, not the current one.
CREATE FUNCTION public.regress_definer_insert(flag_name text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = '' AS $$
    INSERT INTO modelflags.flags (name) VALUES (flag_name)
$$;
GRANT EXECUTE ON FUNCTION public.regress_definer_insert(text) TO regress_restore_ops;
SELECT max(id) AS base FROM modelflags.changes \gset
SET SESSION AUTHORIZATION regress_restore_ops;
SET check_function_bodies = false;
SELECT public.regress_definer_insert('definer_attempt');
RESET check_function_bodies;
RESET SESSION AUTHORIZATION;
SELECT changed_by, key FROM modelflags.changes WHERE id > :base ORDER BY id;

-- A superuser session in replica mode by its own choice stays in it.
SET session_replication_role = replica;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
INSERT INTO modelflags.flags (name) VALUES ('own_replica');
SHOW session_replication_role;
RESET search_path;
RESET check_function_bodies;
RESET session_replication_role;

-- The restore triggers' functions are not PUBLIC's (nor the ops role's).
SELECT p.oid::regprocedure AS function, p.prosecdef AS security_definer,
       has_function_privilege('regress_restore_ops', p.oid, 'EXECUTE') AS ops_may_execute
  FROM pg_proc p
 WHERE p.pronamespace = 'modelflags'::regnamespace AND p.proname IN ('_restore_begin', '_restore_end')
 ORDER BY 1;

DROP FUNCTION public.regress_definer_insert(text);
DROP OWNED BY regress_restore_ops;
DROP ROLE regress_restore_ops;
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
