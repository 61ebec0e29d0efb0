
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
CREATE FUNCTION modelflags._audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    note     text := nullif(current_setting('modelflags.note', true), '');
    first_id bigint;
    last_id  bigint;
    nrows    bigint;
    keys     jsonb;
    payload  text;
    key_expr text;
    sql      text;
BEGIN
    -- The row's primary key as JSON, written out per table: calling a
    -- helper function per row would cost more than the rest of the audit.
    key_expr := CASE TG_TABLE_NAME
        WHEN 'flag_actors' THEN 'jsonb_build_object(''flag'', r.flag, ''actor'', r.actor)'
        WHEN 'routes' THEN 'jsonb_build_object(''feature'', r.feature, ''position'', r.position)'
        WHEN 'breaker_settings' THEN 'jsonb_build_object(''model'', r.model)'
        ELSE 'jsonb_build_object(''name'', r.name)' END;

    IF TG_OP = 'INSERT' THEN
        sql := format('INSERT INTO modelflags.changes (table_name, operation, key, new_row, note)
                       SELECT %L, ''INSERT'', %s, to_jsonb(r), $1 FROM new_rows r',
                      TG_TABLE_NAME, key_expr);
    ELSIF TG_OP = 'UPDATE' THEN
        -- Old and new rows are paired by key; a row whose key changed (a
        -- rename) is recorded as its old image and its new image.  Rows the
        -- UPDATE left as they were are not changes and are not recorded.
        sql := format('INSERT INTO modelflags.changes (table_name, operation, key, old_row, new_row, note)
                       SELECT %L, ''UPDATE'', coalesce(n.k, o.k), o.j, n.j, $1
                         FROM (SELECT %2$s AS k, to_jsonb(r) AS j FROM old_rows r) o
                         FULL JOIN (SELECT %2$s AS k, to_jsonb(r) AS j FROM new_rows r) n ON o.k = n.k
                        WHERE o.j IS DISTINCT FROM n.j',
                      TG_TABLE_NAME, key_expr);
    ELSIF TG_OP = 'DELETE' THEN
        sql := format('INSERT INTO modelflags.changes (table_name, operation, key, old_row, note)
                       SELECT %L, ''DELETE'', %s, to_jsonb(r), $1 FROM old_rows r',
                      TG_TABLE_NAME, key_expr);
    ELSE
        -- TRUNCATE has no transition table: this trigger runs BEFORE it and
        -- records every row about to go.
        sql := format('INSERT INTO modelflags.changes (table_name, operation, key, old_row, note)
                       SELECT %L, ''TRUNCATE'', %s, to_jsonb(r), $1 FROM %s r',
                      TG_TABLE_NAME, key_expr, TG_RELID::regclass);
    END IF;
    EXECUTE 'WITH ins AS (' || sql || ' RETURNING id) SELECT count(*), min(id), max(id) FROM ins'
        INTO nrows, first_id, last_id
        USING note;

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
