
/*
 * 70_flipper.sql — Flipper's ActiveRecord tables as a source of flags
 * (SPEC §7 FL; README "GitLab"): attach_flipper, detach_flipper.
 *
 * Once attached, a flag whose name is a key of the Flipper features table
 * takes its gates from Flipper's gate rows (src/flipper.c reads them, with
 * the same snapshot as everything else); flags only in modelflags work as
 * before, and default_enabled still comes from modelflags.flags (GitLab's
 * YAML definitions, load_definitions).  Flipper is the authority for those
 * flags: the write functions refuse to change them (_refuse_flipper_owned).
 *
 * attach_flipper puts statement triggers on the two tables.  They record each
 * change in modelflags.changes (who and what), send NOTIFY modelflags and log
 * the flag names for the routing caches (_note_flipper, src/flipper.c) —
 * and never let an error reach the writer: a failing ChatOps command during
 * an incident is the worst outcome, so everything they do runs in an
 * exception block that turns any failure into a WARNING.
 */

-- The attached tables: at most one row.  Kept by pg_dump (the tables are
-- restored by name); changed only through attach_flipper/detach_flipper.
CREATE TABLE modelflags.flipper_source (
    features    regclass NOT NULL,
    gates       regclass NOT NULL,
    attached_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    attached_by text NOT NULL DEFAULT SESSION_USER
);
CREATE UNIQUE INDEX flipper_source_one_row ON modelflags.flipper_source ((true));
COMMENT ON TABLE modelflags.flipper_source IS
    'the Flipper ActiveRecord tables (features, gates) whose flags modelflags follows; set by attach_flipper';
SELECT pg_catalog.pg_extension_config_dump('modelflags.flipper_source', '');

-- Logs changed flag names for the routing caches (NULL: everything) and
-- invalidates them; see src/flipper.c.  Internal.
CREATE FUNCTION modelflags._note_flipper(names text[]) RETURNS void
AS 'MODULE_PATHNAME', 'modelflags_note_flipper'
LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;

-- The trigger of the attached tables.  TG_ARGV[0] is 'features' or 'gates'.
-- SECURITY DEFINER: the Rails role needs no privilege on modelflags; the
-- login role is still recorded (changed_by is session_user).
--
-- Two steps, each in an exception block of its own, so that neither can
-- fail the Rails write and a failure of one does not cost the other:
--   1. the routing caches (_note_flipper), which an incident needs most;
--   2. the audit row(s) and the NOTIFY.
-- Waiting for a lock is bounded (a DBA's CREATE INDEX or LOCK TABLE on
-- modelflags.changes, say): at most 1 s per lock (the SET clause's
-- lock_timeout), and at most a quarter of what is left of the writer's
-- statement_timeout, whose cancel no exception block may catch.  A NOTIFY
-- queue half full is not added to: its overflow would fail the COMMIT.
CREATE FUNCTION modelflags._flipper_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET lock_timeout = '1s' AS $$
DECLARE
    kind     text := TG_ARGV[0];
    keycol   text := CASE TG_ARGV[0] WHEN 'gates' THEN 'feature_key' ELSE 'key' END;
    keyexpr  text;
    names    text[];
    tname    text := format('%I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME);
    nrows    bigint;
    first_id bigint;
    last_id  bigint;
    left_ms  float8;
BEGIN
    -- The bound on lock waits: 1 s, or a quarter of the statement's time left.
    BEGIN
        IF current_setting('statement_timeout') <> '0' THEN
            left_ms := extract(epoch FROM current_setting('statement_timeout')::interval
                                          - (clock_timestamp() - statement_timestamp())) * 1000;
            IF left_ms < 4000 THEN
                PERFORM set_config('lock_timeout', greatest(1, floor(left_ms / 4))::bigint || 'ms', true);
            END IF;
        END IF;
    EXCEPTION WHEN OTHERS THEN
        NULL;   -- keep 1 s
    END;

    -- 1. The routing caches.
    BEGIN
        -- A pg_dump restore loads rows that were recorded when written.
        IF modelflags._is_restore() THEN
            PERFORM modelflags._note_flipper(NULL);
            RETURN NULL;
        END IF;
        IF TG_OP <> 'TRUNCATE' THEN
            EXECUTE format('SELECT array_agg(DISTINCT k) FROM (%s) s(k)',
                           CASE TG_OP
                               WHEN 'INSERT' THEN format('SELECT %I::text FROM new_rows', keycol)
                               WHEN 'DELETE' THEN format('SELECT %I::text FROM old_rows', keycol)
                               ELSE format('SELECT %1$I::text FROM new_rows UNION SELECT %1$I::text FROM old_rows', keycol)
                           END)
                INTO names;
            IF names IS NULL THEN
                RETURN NULL;    -- no row changed
            END IF;
        END IF;
        PERFORM modelflags._note_flipper(names);    -- NULL (TRUNCATE): every flag
    EXCEPTION WHEN OTHERS THEN
        -- Never fail the Rails write (see the file header).
        RAISE WARNING 'modelflags could not pass a change to % on to routing: %', tname, SQLERRM
            USING DETAIL = 'The change is written. Sessions already running may route the changed flags by Flipper''s previous rows until those flags change again or the sessions reconnect.',
                  HINT = 'SELECT modelflags.detach_flipper() stops following Flipper''s tables.';
    END;

    -- 2. The audit and the notification.
    BEGIN
        keyexpr := CASE kind
            WHEN 'gates' THEN 'jsonb_build_object(''feature_key'', r.feature_key, ''key'', r.key, ''value'', r.value)'
            ELSE 'jsonb_build_object(''key'', r.key)' END;
        IF TG_OP = 'TRUNCATE' THEN
            EXECUTE format('WITH ins AS (INSERT INTO modelflags.changes (table_name, operation, key, old_row, note)
                                         SELECT %L, ''TRUNCATE'', %s, to_jsonb(r) - ''created_at'' - ''updated_at'',
                                                nullif(current_setting(''modelflags.note'', true), '''')
                                           FROM %s r RETURNING id)
                            SELECT count(*), min(id), max(id) FROM ins',
                           tname, keyexpr, TG_RELID::regclass)
                INTO nrows, first_id, last_id;
        ELSE
            EXECUTE format('WITH ins AS (INSERT INTO modelflags.changes (table_name, operation, key, old_row, new_row, note)
                                         SELECT %L, %L, coalesce(n.k, o.k), o.j, n.j,
                                                nullif(current_setting(''modelflags.note'', true), '''')
                                           FROM (SELECT %s AS k, to_jsonb(r) - ''created_at'' - ''updated_at'' AS j FROM %s r) o
                                           FULL JOIN (SELECT %s AS k, to_jsonb(r) - ''created_at'' - ''updated_at'' AS j FROM %s r) n
                                             ON o.k = n.k
                                          WHERE o.j IS DISTINCT FROM n.j
                                         RETURNING id)
                            SELECT count(*), min(id), max(id) FROM ins',
                           tname, TG_OP,
                           keyexpr, CASE WHEN TG_OP = 'INSERT' THEN '(SELECT * FROM new_rows WHERE false)' ELSE 'old_rows' END,
                           keyexpr, CASE WHEN TG_OP = 'DELETE' THEN '(SELECT * FROM old_rows WHERE false)' ELSE 'new_rows' END)
                INTO nrows, first_id, last_id;
        END IF;
        IF pg_notification_queue_usage() < 0.5 THEN
            PERFORM pg_notify('modelflags',
                              jsonb_build_object('table', tname, 'operation', TG_OP, 'rows', nrows,
                                                 'first_change_id', first_id, 'last_change_id', last_id,
                                                 'flags', CASE WHEN pg_catalog.cardinality(names) <= 20
                                                               THEN to_jsonb(names) END,
                                                 'source', 'flipper')::text);
        ELSE
            RAISE WARNING 'modelflags sent no notification for a change to %: the NOTIFY queue is half full', tname
                USING DETAIL = 'The change is written and audited; a full queue would make its COMMIT fail.',
                      HINT = 'A session that LISTENs but does not read its notifications holds the queue (pg_notification_queue_usage()).';
        END IF;
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'modelflags could not audit a change to %: %', tname, SQLERRM
            USING DETAIL = 'The change is written; it is not in modelflags.changes and was not notified.',
                  HINT = 'SELECT modelflags.detach_flipper() stops following Flipper''s tables.';
    END;
    RETURN NULL;
END $$;

-- Whether flag is kept by the attached Flipper tables.
CREATE FUNCTION modelflags._flipper_owns(flag text) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    src   modelflags.flipper_source;
    owned boolean;
BEGIN
    SELECT * INTO src FROM modelflags.flipper_source;
    IF NOT FOUND OR flag IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s f WHERE f.key = $1)', src.features)
        INTO owned USING flag;
    RETURN owned;
END $$;

-- Refuses a write through modelflags to a flag Flipper keeps.
CREATE FUNCTION modelflags._refuse_flipper_owned(flag text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF modelflags._flipper_owns(flag) THEN
        RAISE EXCEPTION 'flag % is kept by Flipper (%)', modelflags._quote_abbrev(flag),
                        (SELECT features FROM modelflags.flipper_source)
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Its gates come from Flipper''s tables, which modelflags follows; a write here would be overwritten or ignored.',
                  HINT = pg_catalog.format('Change it the way Rails does: /chatops run feature set %s ..., or Feature.enable(:%s).', flag, flag);
    END IF;
END $$;

-- Plain SQL, and load_definitions, which writes through it, is refused as
-- the write functions are: a statement that sets a gate of a flag Flipper
-- keeps (flags.enabled, percentage_of_actors, percentage_of_time, a
-- flag_actors row) would change nothing, Flipper's rows being its gates.
-- Its metadata (GitLab's YAML: type, default_enabled, ...) stays writable,
-- and so do deletes.  Statement triggers over the transition tables: one
-- query per statement, however many rows.  SECURITY DEFINER: it reads
-- flipper_source and the features table whoever writes.
CREATE FUNCTION modelflags._refuse_flipper_gates() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    src  modelflags.flipper_source;
    flag text;
BEGIN
    SELECT * INTO src FROM modelflags.flipper_source;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    EXECUTE format('SELECT c.flag FROM (%s) c (flag) WHERE EXISTS (SELECT 1 FROM %s f WHERE f.key = c.flag) LIMIT 1',
                   CASE
                       WHEN TG_TABLE_NAME = 'flag_actors' THEN 'SELECT DISTINCT n.flag FROM new_rows n'
                       WHEN TG_OP = 'INSERT' THEN
                           'SELECT n.name FROM new_rows n
                             WHERE n.enabled IS NOT NULL OR n.percentage_of_actors IS NOT NULL
                                OR n.percentage_of_time IS NOT NULL'
                       ELSE
                           'SELECT n.name FROM new_rows n LEFT JOIN old_rows o ON o.name = n.name
                             WHERE (n.enabled, n.percentage_of_actors, n.percentage_of_time)
                                   IS DISTINCT FROM (o.enabled, o.percentage_of_actors, o.percentage_of_time)
                                   AND (o.name IS NOT NULL OR n.enabled IS NOT NULL
                                        OR n.percentage_of_actors IS NOT NULL OR n.percentage_of_time IS NOT NULL)'
                   END, src.features)
        INTO flag;
    IF flag IS NOT NULL THEN
        PERFORM modelflags._refuse_flipper_owned(flag);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER flags_flipper_insert AFTER INSERT ON modelflags.flags REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._refuse_flipper_gates();
CREATE TRIGGER flags_flipper_update AFTER UPDATE ON modelflags.flags
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._refuse_flipper_gates();
CREATE TRIGGER flag_actors_flipper_insert AFTER INSERT ON modelflags.flag_actors REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._refuse_flipper_gates();
CREATE TRIGGER flag_actors_flipper_update AFTER UPDATE ON modelflags.flag_actors
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._refuse_flipper_gates();

/*
 * attach_flipper(features, gates): follow Flipper's ActiveRecord tables —
 * GitLab's features and feature_gates, or the gem's flipper_features and
 * flipper_gates.  Checks their shape, puts the triggers on them (the caller
 * must own them, or be a superuser) and makes every routing cache rebuild.
 */
CREATE FUNCTION modelflags.attach_flipper(features regclass, gates regclass, note text DEFAULT NULL)
RETURNS modelflags.flipper_source
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    result modelflags.flipper_source;
    t      regclass;
    c      text;
BEGIN
    IF features IS NULL OR gates IS NULL THEN
        RAISE EXCEPTION 'features and gates must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF EXISTS (SELECT 1 FROM modelflags.flipper_source) THEN
        RAISE EXCEPTION 'modelflags already follows Flipper tables %',
                        (SELECT s.features::text || ', ' || s.gates::text FROM modelflags.flipper_source s)
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'SELECT modelflags.detach_flipper() first.';
    END IF;
    -- The shape modelflags reads (research/flipper-tables.md §1.1).
    FOREACH c IN ARRAY ARRAY['features.key', 'gates.feature_key', 'gates.key', 'gates.value', 'gates.id'] LOOP
        t := CASE split_part(c, '.', 1) WHEN 'features' THEN features ELSE gates END;
        IF NOT EXISTS (SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = t AND a.attname = split_part(c, '.', 2) AND NOT a.attisdropped
                          AND a.attnum > 0
                          AND (split_part(c, '.', 2) = 'id' AND a.atttypid IN ('int4'::regtype, 'int8'::regtype)
                               OR split_part(c, '.', 2) <> 'id' AND a.atttypid IN ('text'::regtype, 'varchar'::regtype))) THEN
            RAISE EXCEPTION 'table % is not a Flipper % table: no column % of type %', t, split_part(c, '.', 1),
                            split_part(c, '.', 2), CASE split_part(c, '.', 2) WHEN 'id' THEN 'integer or bigint' ELSE 'text or varchar' END
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Give the features table and the gates table of Flipper''s ActiveRecord adapter: GitLab''s features and feature_gates, or flipper_features and flipper_gates.';
        END IF;
    END LOOP;
    PERFORM modelflags._push_note(note);

    EXECUTE format('CREATE TRIGGER modelflags_follow_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._flipper_changed(''features'')', features);
    EXECUTE format('CREATE TRIGGER modelflags_follow_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._flipper_changed(''features'')', features);
    EXECUTE format('CREATE TRIGGER modelflags_follow_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._flipper_changed(''features'')', features);
    EXECUTE format('CREATE TRIGGER modelflags_follow_truncate BEFORE TRUNCATE ON %s
                    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._flipper_changed(''features'')', features);
    EXECUTE format('CREATE TRIGGER modelflags_follow_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._flipper_changed(''gates'')', gates);
    EXECUTE format('CREATE TRIGGER modelflags_follow_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._flipper_changed(''gates'')', gates);
    EXECUTE format('CREATE TRIGGER modelflags_follow_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._flipper_changed(''gates'')', gates);
    EXECUTE format('CREATE TRIGGER modelflags_follow_truncate BEFORE TRUNCATE ON %s
                    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._flipper_changed(''gates'')', gates);

    INSERT INTO modelflags.flipper_source (features, gates) VALUES (features, gates) RETURNING * INTO result;
    INSERT INTO modelflags.changes (table_name, operation, key, new_row, note)
    VALUES ('flipper_source', 'INSERT', jsonb_build_object('features', features::text, 'gates', gates::text),
            to_jsonb(result), nullif(current_setting('modelflags.note', true), ''));
    PERFORM pg_notify('modelflags', jsonb_build_object('table', 'flipper_source', 'operation', 'INSERT',
                                                      'features', features::text, 'gates', gates::text)::text);
    PERFORM modelflags._note_flipper(NULL);
    PERFORM modelflags._pop_note('');
    RETURN result;
END $$;

-- detach_flipper(): stop following; returns false if nothing was attached.
CREATE FUNCTION modelflags.detach_flipper(note text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    src modelflags.flipper_source;
    t   regclass;
    ev  text;
BEGIN
    SELECT * INTO src FROM modelflags.flipper_source FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM modelflags._push_note(note);
    FOREACH t IN ARRAY ARRAY[src.features, src.gates] LOOP
        FOREACH ev IN ARRAY ARRAY['insert', 'update', 'delete', 'truncate'] LOOP
            EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', 'modelflags_follow_' || ev, t);
        END LOOP;
    END LOOP;
    DELETE FROM modelflags.flipper_source;
    INSERT INTO modelflags.changes (table_name, operation, key, old_row, note)
    VALUES ('flipper_source', 'DELETE', jsonb_build_object('features', src.features::text, 'gates', src.gates::text),
            to_jsonb(src), nullif(current_setting('modelflags.note', true), ''));
    PERFORM pg_notify('modelflags', jsonb_build_object('table', 'flipper_source', 'operation', 'DELETE')::text);
    PERFORM modelflags._note_flipper(NULL);
    PERFORM modelflags._pop_note('');
    RETURN true;
END $$;

COMMENT ON FUNCTION modelflags.attach_flipper(regclass, regclass, text) IS
    'follow Flipper''s ActiveRecord tables (GitLab: features, feature_gates): flags kept there take their gates from them';
COMMENT ON FUNCTION modelflags.detach_flipper(text) IS
    'stop following Flipper''s tables; flags fall back to modelflags.flags';
