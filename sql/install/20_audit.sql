
/*
 * 20_audit.sql — audit, NOTIFY and cache invalidation (SPEC A and C).
 *
 * Every change to a configuration table, by any path (the write functions,
 * plain DML, TRUNCATE, cascaded foreign-key actions, load_definitions),
 * passes through three statement-level triggers:
 *   - _audit writes one modelflags.changes row per changed row, reading the
 *     statement's transition tables, so a bulk INSERT costs one trigger call;
 *   - it then sends one NOTIFY modelflags per statement with a JSON payload
 *     naming the table, the operation, the row count, the change ids and (when
 *     they fit) the keys; NOTIFY is delivered at commit and never on rollback;
 *   - _invalidate (C) queues a relcache invalidation of the table, which
 *     marks every backend's compiled routing cache stale: this backend at its
 *     next statement, others at their next transaction after the commit, hot
 *     standbys when they replay the commit record.
 */

-- Writes the audit rows for one statement and sends its notification.
-- SECURITY DEFINER so that an ops role needs no privilege on changes; the
-- login role is still recorded (changed_by defaults to session_user).
-- The statements are static, so PL/pgSQL plans each once per session and
-- trigger (a flag flip's audit cost about 1 ms of parsing and planning when
-- they were built as strings and EXECUTEd); only TRUNCATE, which names the
-- table itself, is still EXECUTEd.
CREATE FUNCTION modelflags._audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    note     text := nullif(current_setting('modelflags.note', true), '');
    -- The row's primary key, as a JSON object taken from the row's image:
    -- its one or two key columns, inline in each statement (a helper
    -- function called per row would cost more than the rest of the audit).
    k1       text := CASE TG_TABLE_NAME WHEN 'flag_actors' THEN 'flag' WHEN 'routes' THEN 'feature'
                                        WHEN 'breaker_settings' THEN 'model' ELSE 'name' END;
    k2       text := CASE TG_TABLE_NAME WHEN 'flag_actors' THEN 'actor' WHEN 'routes' THEN 'position' END;
    first_id bigint;
    last_id  bigint;
    nrows    bigint;
    keys     jsonb;
    payload  text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH ins AS (
            INSERT INTO modelflags.changes (table_name, operation, key, new_row, note)
            SELECT TG_TABLE_NAME, 'INSERT',
                   CASE WHEN k2 IS NULL THEN jsonb_build_object(k1, s.j -> k1)
                        ELSE jsonb_build_object(k1, s.j -> k1, k2, s.j -> k2) END,
                   s.j, note
              FROM (SELECT to_jsonb(r) AS j FROM new_rows r) s
            RETURNING id)
        SELECT count(*), min(ins.id), max(ins.id) INTO nrows, first_id, last_id FROM ins;
    ELSIF TG_OP = 'UPDATE' THEN
        -- Old and new rows are paired by key; a row whose key changed (a
        -- rename) is recorded as its old image and its new image.  Rows the
        -- UPDATE left as they were are not changes and are not recorded.
        WITH o AS (
            SELECT CASE WHEN k2 IS NULL THEN jsonb_build_object(k1, s.j -> k1)
                        ELSE jsonb_build_object(k1, s.j -> k1, k2, s.j -> k2) END AS k, s.j
              FROM (SELECT to_jsonb(r) AS j FROM old_rows r) s
        ), n AS (
            SELECT CASE WHEN k2 IS NULL THEN jsonb_build_object(k1, s.j -> k1)
                        ELSE jsonb_build_object(k1, s.j -> k1, k2, s.j -> k2) END AS k, s.j
              FROM (SELECT to_jsonb(r) AS j FROM new_rows r) s
        ), ins AS (
            INSERT INTO modelflags.changes (table_name, operation, key, old_row, new_row, note)
            SELECT TG_TABLE_NAME, 'UPDATE', coalesce(n.k, o.k), o.j, n.j, note
              FROM o FULL JOIN n ON o.k = n.k
             WHERE o.j IS DISTINCT FROM n.j
            RETURNING id)
        SELECT count(*), min(ins.id), max(ins.id) INTO nrows, first_id, last_id FROM ins;
    ELSIF TG_OP = 'DELETE' THEN
        WITH ins AS (
            INSERT INTO modelflags.changes (table_name, operation, key, old_row, note)
            SELECT TG_TABLE_NAME, 'DELETE',
                   CASE WHEN k2 IS NULL THEN jsonb_build_object(k1, s.j -> k1)
                        ELSE jsonb_build_object(k1, s.j -> k1, k2, s.j -> k2) END,
                   s.j, note
              FROM (SELECT to_jsonb(r) AS j FROM old_rows r) s
            RETURNING id)
        SELECT count(*), min(ins.id), max(ins.id) INTO nrows, first_id, last_id FROM ins;
    ELSE
        -- TRUNCATE has no transition table: this trigger runs BEFORE it and
        -- records every row about to go.
        EXECUTE format('WITH ins AS (
                            INSERT INTO modelflags.changes (table_name, operation, key, old_row, note)
                            SELECT $1, ''TRUNCATE'',
                                   CASE WHEN $3 IS NULL THEN jsonb_build_object($2, s.j -> $2)
                                        ELSE jsonb_build_object($2, s.j -> $2, $3, s.j -> $3) END,
                                   s.j, $4
                              FROM (SELECT to_jsonb(r) AS j FROM %s r) s
                            RETURNING id)
                        SELECT count(*), min(ins.id), max(ins.id) FROM ins', TG_RELID::regclass)
            INTO nrows, first_id, last_id
            USING TG_TABLE_NAME::text, k1, k2, note;
    END IF;

    IF nrows = 0 THEN
        RETURN NULL;            -- an UPDATE that changed nothing is no change
    END IF;
    -- Other sessions may take ids between first_id and last_id; this
    -- statement's rows are those of the range written by this transaction.
    IF nrows <= 20 THEN
        SELECT jsonb_agg(c.key ORDER BY c.id) INTO keys
          FROM modelflags.changes c
         WHERE c.id BETWEEN first_id AND last_id AND c.txid = pg_current_xact_id();
    END IF;
    payload := jsonb_build_object('table', TG_TABLE_NAME, 'operation', TG_OP, 'rows', nrows,
                                  'first_change_id', first_id, 'last_change_id', last_id,
                                  'keys', keys)::text;
    IF octet_length(payload) > 7900 THEN
        -- NOTIFY payloads are limited to 8000 bytes: name the rows by id only.
        payload := jsonb_build_object('table', TG_TABLE_NAME, 'operation', TG_OP, 'rows', nrows,
                                      'first_change_id', first_id, 'last_change_id', last_id)::text;
    END IF;
    PERFORM pg_notify('modelflags', payload);
    RETURN NULL;
END $$;

-- Marks every backend's routing cache stale (see src/triggers.c).
CREATE FUNCTION modelflags._invalidate() RETURNS trigger
AS 'MODULE_PATHNAME', 'modelflags_invalidate' LANGUAGE C;

-- changes is append-only.
CREATE FUNCTION modelflags._changes_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'modelflags.changes is append-only'
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = format('%s on the audit table is refused.', TG_OP),
              HINT = 'To prune old history, ALTER TABLE modelflags.changes DISABLE TRIGGER changes_append_only first, and enable it again after.';
END $$;
CREATE TRIGGER changes_append_only BEFORE UPDATE OR DELETE ON modelflags.changes
    FOR EACH ROW EXECUTE FUNCTION modelflags._changes_append_only();
CREATE TRIGGER changes_append_only_truncate BEFORE TRUNCATE ON modelflags.changes
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._changes_append_only();

/*
 * Per table and event: the audit trigger, and the invalidation trigger,
 * each with the statement's transition tables (so that the invalidation can
 * skip a statement that changed no row).  TRUNCATE has no transition table:
 * its audit runs BEFORE and reads the rows about to go.  The invalidation
 * is ENABLE ALWAYS: a logical-replication apply worker
 * (session_replication_role = replica) must still invalidate the
 * subscriber's caches, while audit stays origin-only (the subscriber
 * receives the origin's audit rows).  Written out one by one, so that grep
 * finds every trigger by name.
 */
-- providers
CREATE TRIGGER providers_audit_insert AFTER INSERT ON modelflags.providers
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER providers_audit_update AFTER UPDATE ON modelflags.providers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER providers_audit_delete AFTER DELETE ON modelflags.providers
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER providers_audit_truncate BEFORE TRUNCATE ON modelflags.providers
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER providers_invalidate_insert AFTER INSERT ON modelflags.providers
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER providers_invalidate_update AFTER UPDATE ON modelflags.providers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER providers_invalidate_delete AFTER DELETE ON modelflags.providers
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER providers_invalidate_truncate AFTER TRUNCATE ON modelflags.providers
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
ALTER TABLE modelflags.providers ENABLE ALWAYS TRIGGER providers_invalidate_insert;
ALTER TABLE modelflags.providers ENABLE ALWAYS TRIGGER providers_invalidate_update;
ALTER TABLE modelflags.providers ENABLE ALWAYS TRIGGER providers_invalidate_delete;
ALTER TABLE modelflags.providers ENABLE ALWAYS TRIGGER providers_invalidate_truncate;

-- models
CREATE TRIGGER models_audit_insert AFTER INSERT ON modelflags.models
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER models_audit_update AFTER UPDATE ON modelflags.models
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER models_audit_delete AFTER DELETE ON modelflags.models
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER models_audit_truncate BEFORE TRUNCATE ON modelflags.models
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER models_invalidate_insert AFTER INSERT ON modelflags.models
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER models_invalidate_update AFTER UPDATE ON modelflags.models
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER models_invalidate_delete AFTER DELETE ON modelflags.models
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER models_invalidate_truncate AFTER TRUNCATE ON modelflags.models
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
ALTER TABLE modelflags.models ENABLE ALWAYS TRIGGER models_invalidate_insert;
ALTER TABLE modelflags.models ENABLE ALWAYS TRIGGER models_invalidate_update;
ALTER TABLE modelflags.models ENABLE ALWAYS TRIGGER models_invalidate_delete;
ALTER TABLE modelflags.models ENABLE ALWAYS TRIGGER models_invalidate_truncate;

-- flags
CREATE TRIGGER flags_audit_insert AFTER INSERT ON modelflags.flags
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER flags_audit_update AFTER UPDATE ON modelflags.flags
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER flags_audit_delete AFTER DELETE ON modelflags.flags
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER flags_audit_truncate BEFORE TRUNCATE ON modelflags.flags
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER flags_invalidate_insert AFTER INSERT ON modelflags.flags
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER flags_invalidate_update AFTER UPDATE ON modelflags.flags
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER flags_invalidate_delete AFTER DELETE ON modelflags.flags
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER flags_invalidate_truncate AFTER TRUNCATE ON modelflags.flags
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
ALTER TABLE modelflags.flags ENABLE ALWAYS TRIGGER flags_invalidate_insert;
ALTER TABLE modelflags.flags ENABLE ALWAYS TRIGGER flags_invalidate_update;
ALTER TABLE modelflags.flags ENABLE ALWAYS TRIGGER flags_invalidate_delete;
ALTER TABLE modelflags.flags ENABLE ALWAYS TRIGGER flags_invalidate_truncate;

-- flag_actors
CREATE TRIGGER flag_actors_audit_insert AFTER INSERT ON modelflags.flag_actors
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER flag_actors_audit_update AFTER UPDATE ON modelflags.flag_actors
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER flag_actors_audit_delete AFTER DELETE ON modelflags.flag_actors
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER flag_actors_audit_truncate BEFORE TRUNCATE ON modelflags.flag_actors
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER flag_actors_invalidate_insert AFTER INSERT ON modelflags.flag_actors
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER flag_actors_invalidate_update AFTER UPDATE ON modelflags.flag_actors
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER flag_actors_invalidate_delete AFTER DELETE ON modelflags.flag_actors
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER flag_actors_invalidate_truncate AFTER TRUNCATE ON modelflags.flag_actors
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
ALTER TABLE modelflags.flag_actors ENABLE ALWAYS TRIGGER flag_actors_invalidate_insert;
ALTER TABLE modelflags.flag_actors ENABLE ALWAYS TRIGGER flag_actors_invalidate_update;
ALTER TABLE modelflags.flag_actors ENABLE ALWAYS TRIGGER flag_actors_invalidate_delete;
ALTER TABLE modelflags.flag_actors ENABLE ALWAYS TRIGGER flag_actors_invalidate_truncate;

-- features
CREATE TRIGGER features_audit_insert AFTER INSERT ON modelflags.features
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER features_audit_update AFTER UPDATE ON modelflags.features
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER features_audit_delete AFTER DELETE ON modelflags.features
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER features_audit_truncate BEFORE TRUNCATE ON modelflags.features
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER features_invalidate_insert AFTER INSERT ON modelflags.features
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER features_invalidate_update AFTER UPDATE ON modelflags.features
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER features_invalidate_delete AFTER DELETE ON modelflags.features
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER features_invalidate_truncate AFTER TRUNCATE ON modelflags.features
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
ALTER TABLE modelflags.features ENABLE ALWAYS TRIGGER features_invalidate_insert;
ALTER TABLE modelflags.features ENABLE ALWAYS TRIGGER features_invalidate_update;
ALTER TABLE modelflags.features ENABLE ALWAYS TRIGGER features_invalidate_delete;
ALTER TABLE modelflags.features ENABLE ALWAYS TRIGGER features_invalidate_truncate;

-- routes
CREATE TRIGGER routes_audit_insert AFTER INSERT ON modelflags.routes
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER routes_audit_update AFTER UPDATE ON modelflags.routes
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER routes_audit_delete AFTER DELETE ON modelflags.routes
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER routes_audit_truncate BEFORE TRUNCATE ON modelflags.routes
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER routes_invalidate_insert AFTER INSERT ON modelflags.routes
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER routes_invalidate_update AFTER UPDATE ON modelflags.routes
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER routes_invalidate_delete AFTER DELETE ON modelflags.routes
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER routes_invalidate_truncate AFTER TRUNCATE ON modelflags.routes
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate();
ALTER TABLE modelflags.routes ENABLE ALWAYS TRIGGER routes_invalidate_insert;
ALTER TABLE modelflags.routes ENABLE ALWAYS TRIGGER routes_invalidate_update;
ALTER TABLE modelflags.routes ENABLE ALWAYS TRIGGER routes_invalidate_delete;
ALTER TABLE modelflags.routes ENABLE ALWAYS TRIGGER routes_invalidate_truncate;
