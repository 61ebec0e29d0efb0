
/*
 * 26_restore.sql — pg_dump and pg_restore (README.md, "Operations").
 *
 * pg_dump keeps the configuration tables and the audit (pg_extension_
 * config_dump in 00_schema.sql).  A restore runs CREATE EXTENSION, then
 * loads the rows with COPY into the new tables, whose triggers fire as for
 * any write: audited, the restore would add audit rows of its own, whose ids
 * (the sequence is set only at the end) collide with the restored history;
 * and pg_restore -j loads the tables in parallel in any order (pg_dump 15
 * orders extension tables by their foreign keys in the archive, but does
 * not record that order as a dependency), so flag_actors can arrive before
 * flags and fail its foreign key.
 *
 * So a restore runs as what it is, a replay of rows that were valid,
 * audited and notified when they were first written: each INSERT or COPY
 * into a configuration table runs with session_replication_role = replica
 * for that statement when
 *   - the session is set up as pg_dump's scripts and pg_restore set it up:
 *     search_path set to the empty string by set_config (SET search_path =
 *     '' gives '""' instead) and check_function_bodies off; and
 *   - the login role (session_user, which SET ROLE and SECURITY DEFINER do
 *     not change) is a superuser.
 * Replica mode skips the validation, audit and foreign-key triggers (they
 * fire on origin only); the cache invalidation is ENABLE ALWAYS and still
 * fires.  This gives no one a new power: a superuser can SET
 * session_replication_role, or DISABLE TRIGGER ALL, whenever it likes; any
 * other role, an ops role with INSERT rights included, is validated and
 * audited however it sets up its session.  The extension can only be
 * created by a superuser, so restores are run by one.
 *
 * The mode is set LOCAL, so it ends with the transaction at the latest; the
 * end trigger ends it with the statement, so that the rest of a
 * single-transaction restore (other extensions' tables) is not affected.
 */

-- The session is a superuser's pg_dump/pg_restore session.  Inlined into
-- the WHEN clause of the begin triggers: it must see the session's own
-- search_path, so it takes no SET clause and is written qualified.
CREATE FUNCTION modelflags._is_restore() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
RETURN pg_catalog.current_setting('search_path') OPERATOR(pg_catalog.=) ''
   AND pg_catalog.current_setting('check_function_bodies') OPERATOR(pg_catalog.=) 'off'
   AND (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) SESSION_USER);
COMMENT ON FUNCTION modelflags._is_restore() IS
    'true in a superuser''s pg_dump/pg_restore session (search_path set to '''' by set_config, check_function_bodies off): INSERT and COPY into the configuration tables then run in replica mode, without validation, audit, NOTIFY or foreign-key checks';

-- BEFORE each INSERT/COPY statement of a restore: replica mode for it.
-- SECURITY DEFINER (the extension's owner, a superuser) so that it also
-- works under pg_restore --role; it checks the login role itself, since
-- the WHEN clause belongs to the trigger, not to the function.  Not
-- executable by PUBLIC (90_privileges.sql), like _audit.
CREATE FUNCTION modelflags._restore_begin() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = session_user)
       AND current_setting('session_replication_role') = 'origin' THEN
        PERFORM set_config('modelflags_restore.active', 'on', true);
        PERFORM set_config('session_replication_role', 'replica', true);
    END IF;
    RETURN NULL;
END $$;

COMMENT ON FUNCTION modelflags._restore_begin() IS
    'BEFORE INSERT statement trigger of each configuration table, when _is_restore(): replica mode (no validation, audit, NOTIFY or foreign-key check) for that statement, for a superuser''s pg_dump/pg_restore session only; _restore_end ends it';

-- AFTER the statement: back to origin, if _restore_begin set replica mode
-- (and not if the session was in replica mode for its own reasons).  The
-- mark is a placeholder setting outside the reserved modelflags.* prefix.
CREATE FUNCTION modelflags._restore_end() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF current_setting('modelflags_restore.active', true) = 'on' THEN
        PERFORM set_config('session_replication_role', 'origin', true);
        PERFORM set_config('modelflags_restore.active', '', true);
    END IF;
    RETURN NULL;
END $$;

-- The begin trigger fires on origin only (a session already in replica mode
-- needs nothing); the end trigger fires in replica mode too (ENABLE ALWAYS).
CREATE TRIGGER providers_restore_begin BEFORE INSERT ON modelflags.providers
    FOR EACH STATEMENT WHEN (modelflags._is_restore()) EXECUTE FUNCTION modelflags._restore_begin();
CREATE TRIGGER providers_restore_end AFTER INSERT ON modelflags.providers
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._restore_end();
ALTER TABLE modelflags.providers ENABLE ALWAYS TRIGGER providers_restore_end;

CREATE TRIGGER models_restore_begin BEFORE INSERT ON modelflags.models
    FOR EACH STATEMENT WHEN (modelflags._is_restore()) EXECUTE FUNCTION modelflags._restore_begin();
CREATE TRIGGER models_restore_end AFTER INSERT ON modelflags.models
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._restore_end();
ALTER TABLE modelflags.models ENABLE ALWAYS TRIGGER models_restore_end;

CREATE TRIGGER flags_restore_begin BEFORE INSERT ON modelflags.flags
    FOR EACH STATEMENT WHEN (modelflags._is_restore()) EXECUTE FUNCTION modelflags._restore_begin();
CREATE TRIGGER flags_restore_end AFTER INSERT ON modelflags.flags
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._restore_end();
ALTER TABLE modelflags.flags ENABLE ALWAYS TRIGGER flags_restore_end;

CREATE TRIGGER flag_actors_restore_begin BEFORE INSERT ON modelflags.flag_actors
    FOR EACH STATEMENT WHEN (modelflags._is_restore()) EXECUTE FUNCTION modelflags._restore_begin();
CREATE TRIGGER flag_actors_restore_end AFTER INSERT ON modelflags.flag_actors
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._restore_end();
ALTER TABLE modelflags.flag_actors ENABLE ALWAYS TRIGGER flag_actors_restore_end;

CREATE TRIGGER features_restore_begin BEFORE INSERT ON modelflags.features
    FOR EACH STATEMENT WHEN (modelflags._is_restore()) EXECUTE FUNCTION modelflags._restore_begin();
CREATE TRIGGER features_restore_end AFTER INSERT ON modelflags.features
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._restore_end();
ALTER TABLE modelflags.features ENABLE ALWAYS TRIGGER features_restore_end;

CREATE TRIGGER routes_restore_begin BEFORE INSERT ON modelflags.routes
    FOR EACH STATEMENT WHEN (modelflags._is_restore()) EXECUTE FUNCTION modelflags._restore_begin();
CREATE TRIGGER routes_restore_end AFTER INSERT ON modelflags.routes
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._restore_end();
ALTER TABLE modelflags.routes ENABLE ALWAYS TRIGGER routes_restore_end;
