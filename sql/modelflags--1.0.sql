/* modelflags--1.0.sql — version 1.0 as released: the start of every upgrade path; never edit it */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION modelflags" to load this file. \quit

/*
 * 00_schema.sql — the tables of SPEC §2.
 *
 * The tables are the source of truth and are meant to be read and changed
 * with plain SQL.  Every rule that makes a row valid lives here (CHECKs and
 * foreign keys) or in 10_validate.sql (row triggers that give the precise
 * messages); the write functions in 30_write_api.sql add nothing a plain
 * INSERT/UPDATE would not also get.
 */

CREATE TABLE modelflags.providers (
    name        text COLLATE "C" PRIMARY KEY
                CHECK (name ~ '^[a-z0-9]+([_.-][a-z0-9]+)*$' AND octet_length(name) <= 255),
    -- false = outage: routes to this provider's models are skipped
    available   boolean NOT NULL DEFAULT true,
    note        text
);
COMMENT ON TABLE modelflags.providers IS
    'LLM providers; available = false marks an outage and makes routing skip their models';

CREATE TABLE modelflags.models (
    name        text COLLATE "C" PRIMARY KEY
                CHECK (name ~ '^[a-z0-9]+([_.-][a-z0-9]+)*$' AND octet_length(name) <= 255),
    provider    text COLLATE "C" NOT NULL REFERENCES modelflags.providers (name) ON UPDATE CASCADE,
    -- model, temperature, max_tokens, max_retries, stop, timeout, ...
    params      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(params) = 'object'),
    enabled     boolean NOT NULL DEFAULT true,
    description text
);
COMMENT ON TABLE modelflags.models IS
    'models (GitLab gitlab_identifier) with their provider and request parameters';

CREATE TABLE modelflags.flags (
    name                 text COLLATE "C" PRIMARY KEY
                         CHECK (name ~ '^[a-z0-9]+(_[a-z0-9]+)*$' AND octet_length(name) <= 255),
    -- Flipper's gates.  NULL means "never set"; a flag none of whose gates
    -- was ever set (and that has no actor rows) answers default_enabled.
    enabled              boolean,
    percentage_of_actors numeric
                         CHECK (percentage_of_actors >= 0 AND percentage_of_actors <= 100
                                AND percentage_of_actors = round(percentage_of_actors, 3)),
    percentage_of_time   numeric
                         CHECK (percentage_of_time >= 0 AND percentage_of_time <= 100
                                AND percentage_of_time = round(percentage_of_time, 3)),
    -- GitLab's feature-flag definition (config/feature_flags/<type>/<name>.yml)
    type                 text CHECK (type IN ('gitlab_com_derisk', 'wip', 'beta', 'ops',
                                              'experiment', 'worker', 'markdown_cache',
                                              'undefined', 'development')),
    default_enabled      boolean NOT NULL DEFAULT false,
    "group"              text,
    milestone            text,
    description          text,
    introduced_by_url    text,
    rollout_issue_url    text,
    feature_issue_url    text,
    log_state_changes    boolean
);
COMMENT ON TABLE modelflags.flags IS
    'feature flags: Flipper gates (enabled, percentage_of_actors, percentage_of_time) and GitLab metadata';

CREATE TABLE modelflags.flag_actors (
    flag    text COLLATE "C" NOT NULL REFERENCES modelflags.flags (name) ON UPDATE CASCADE ON DELETE CASCADE,
    actor   text COLLATE "C" NOT NULL CHECK (octet_length(actor) BETWEEN 1 AND 1024),
    -- GitLab opt-out: forces the flag off for this actor, whatever else is open
    opt_out boolean NOT NULL DEFAULT false,
    PRIMARY KEY (flag, actor)
);
COMMENT ON TABLE modelflags.flag_actors IS
    'actor gates (opt_out = false) and GitLab opt-outs (opt_out = true); actors are flipper_ids such as User:42';

CREATE TABLE modelflags.features (
    name        text COLLATE "C" PRIMARY KEY
                CHECK (name ~ '^[a-z0-9]+([_.-][a-z0-9]+)*$' AND octet_length(name) <= 255),
    description text
);
COMMENT ON TABLE modelflags.features IS
    'AI features (GitLab feature_setting) that model_for routes';

CREATE TABLE modelflags.routes (
    feature     text COLLATE "C" NOT NULL REFERENCES modelflags.features (name) ON UPDATE CASCADE ON DELETE CASCADE,
    position    integer NOT NULL CHECK (position >= 0),
    -- NULL = the route always applies; deleting a flag a route uses is refused
    flag        text COLLATE "C" REFERENCES modelflags.flags (name) ON UPDATE CASCADE,
    model       text COLLATE "C" NOT NULL REFERENCES modelflags.models (name) ON UPDATE CASCADE,
    -- merged over the model's params, e.g. {"direct_access": false}
    params      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(params) = 'object'),
    note        text,
    PRIMARY KEY (feature, position)
);
COMMENT ON TABLE modelflags.routes IS
    'ordered routing rules: the first route whose flag is NULL or enabled, and whose model and provider are up, wins';
CREATE INDEX routes_flag_idx ON modelflags.routes (flag);
CREATE INDEX routes_model_idx ON modelflags.routes (model);
CREATE INDEX models_provider_idx ON modelflags.models (provider);

CREATE TABLE modelflags.changes (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    changed_at       timestamptz NOT NULL DEFAULT now(),
    -- session_user (the login role, also inside SECURITY DEFINER code)
    changed_by       text NOT NULL DEFAULT session_user,
    application_name text DEFAULT current_setting('application_name', true),
    txid             xid8 NOT NULL DEFAULT pg_current_xact_id(),
    table_name       text NOT NULL,
    operation        text NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')),
    key              jsonb NOT NULL,
    old_row          jsonb,
    new_row          jsonb,
    note             text
);
COMMENT ON TABLE modelflags.changes IS
    'append-only audit: one row per changed row, by any path (functions, DML, TRUNCATE, load_definitions)';

-- pg_dump keeps the contents of the configuration tables.
SELECT pg_catalog.pg_extension_config_dump('modelflags.providers', '');
SELECT pg_catalog.pg_extension_config_dump('modelflags.models', '');
SELECT pg_catalog.pg_extension_config_dump('modelflags.flags', '');
SELECT pg_catalog.pg_extension_config_dump('modelflags.flag_actors', '');
SELECT pg_catalog.pg_extension_config_dump('modelflags.features', '');
SELECT pg_catalog.pg_extension_config_dump('modelflags.routes', '');
SELECT pg_catalog.pg_extension_config_dump('modelflags.changes', '');
SELECT pg_catalog.pg_extension_config_dump('modelflags.changes_id_seq', '');

/*
 * 10_validate.sql — row validation with precise messages.
 *
 * The CHECKs and foreign keys of 00_schema.sql are the backstop; these
 * BEFORE ROW triggers run first and answer each bad value with its own
 * SQLSTATE and a message that names it.  The write functions go through the
 * same triggers, so a plain INSERT/UPDATE is validated exactly as they are.
 */

-- A value quoted for an error message, cut short when it is huge so that a
-- multi-megabyte input does not become a multi-megabyte log line.
CREATE FUNCTION modelflags._quote_abbrev(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN value IS NULL THEN 'NULL'
            WHEN length(value) <= 64 THEN '"' || value || '"'
            ELSE '"' || left(value, 64) || '..." (' || octet_length(value) || ' bytes)' END;

-- Names of providers, models and features: lowercase words joined by _ . or -.
CREATE FUNCTION modelflags._check_name(kind text, value text) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF value IS NULL THEN
        RAISE EXCEPTION '% name must not be null', kind USING ERRCODE = 'null_value_not_allowed';
    ELSIF octet_length(value) > 255 THEN
        RAISE EXCEPTION '% name % is too long', kind, modelflags._quote_abbrev(value)
            USING ERRCODE = 'string_data_right_truncation',
                  DETAIL = 'Names are at most 255 bytes.';
    ELSIF kind = 'flag' AND value !~ '^[a-z0-9]+(_[a-z0-9]+)*$' THEN
        RAISE EXCEPTION 'invalid flag name %', modelflags._quote_abbrev(value)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Flag names are lowercase letters and digits joined by single underscores, as GitLab requires.',
                  HINT = 'For example: incident_fail_over_generation_provider.';
    ELSIF value !~ '^[a-z0-9]+([_.-][a-z0-9]+)*$' THEN
        RAISE EXCEPTION 'invalid % name %', kind, modelflags._quote_abbrev(value)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('A %s name is lowercase letters and digits joined by single "_", "." or "-".', kind),
                  HINT = 'For example: claude_sonnet_4_5_20250929_vertex.';
    END IF;
END $$;

CREATE FUNCTION modelflags._check_percentage(gate text, flag text, value numeric) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    -- A numeric can have 100,000 digits: cut it short in messages.
    shown text := CASE WHEN length(value::text) <= 64 THEN value::text
                       ELSE left(value::text, 64) || format('... (%s digits)', length(value::text)) END;
BEGIN
    IF value IS NULL THEN
        RETURN;
    ELSIF value = 'NaN'::numeric OR value < 0 OR value > 100 THEN
        RAISE EXCEPTION '% % is out of range for flag %', gate, shown, modelflags._quote_abbrev(flag)
            USING ERRCODE = 'numeric_value_out_of_range',
                  HINT = 'A percentage is a number from 0 to 100.';
    ELSIF value <> round(value, 3) THEN
        RAISE EXCEPTION '% % has more than 3 decimals for flag %', gate, shown, modelflags._quote_abbrev(flag)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Flipper buckets actors in steps of 0.001 percent.',
                  HINT = format('Use %s.', round(value, 3));
    END IF;
END $$;

-- Request parameters: a JSON object whose well-known keys have the types
-- LiteLLM and the AI gateway expect.  Unknown keys pass through untouched.
CREATE FUNCTION modelflags._check_params(owner text, params jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    k text;
    v jsonb;
BEGIN
    IF params IS NULL THEN
        RAISE EXCEPTION 'params of % must not be null', owner
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Use ''{}'' for no parameters.';
    ELSIF jsonb_typeof(params) <> 'object' THEN
        RAISE EXCEPTION 'params of % must be a JSON object, not %', owner, jsonb_typeof(params)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR k, v IN SELECT * FROM jsonb_each(params) LOOP
        IF (k IN ('temperature', 'top_p', 'timeout') AND
                (jsonb_typeof(v) <> 'number' OR (v)::numeric < 0))
           OR (k IN ('max_tokens', 'max_retries', 'top_k') AND
                (jsonb_typeof(v) <> 'number' OR (v)::numeric < 0 OR (v)::numeric <> trunc((v)::numeric)))
           OR (k = 'model' AND jsonb_typeof(v) <> 'string')
           OR (k = 'stop' AND jsonb_typeof(v) NOT IN ('string', 'array'))
           OR (k = 'direct_access' AND jsonb_typeof(v) <> 'boolean') THEN
            RAISE EXCEPTION 'invalid value % for param "%" of %',
                CASE WHEN length(v::text) <= 64 THEN v::text
                     ELSE left(v::text, 64) || format('... (%s bytes)', octet_length(v::text)) END, k, owner
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'temperature, top_p and timeout are non-negative numbers; max_tokens, max_retries and top_k non-negative integers; model a string; stop a string or an array; direct_access a boolean.';
        END IF;
    END LOOP;
END $$;

CREATE FUNCTION modelflags._validate_provider() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM modelflags._check_name('provider', NEW.name);
    RETURN NEW;
END $$;

CREATE FUNCTION modelflags._validate_model() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM modelflags._check_name('model', NEW.name);
    -- A NULL or oversized reference gets _check_name's precise error (an
    -- oversized one would otherwise fail in the index with 54000, without
    -- naming the value); the foreign key answers for the others.
    IF NEW.provider IS NULL OR octet_length(NEW.provider) > 255 THEN
        PERFORM modelflags._check_name('provider', NEW.provider);
    END IF;
    PERFORM modelflags._check_params(format('model "%s"', NEW.name), NEW.params);
    RETURN NEW;
END $$;

CREATE FUNCTION modelflags._validate_flag() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM modelflags._check_name('flag', NEW.name);
    PERFORM modelflags._check_percentage('percentage_of_actors', NEW.name, NEW.percentage_of_actors);
    PERFORM modelflags._check_percentage('percentage_of_time', NEW.name, NEW.percentage_of_time);
    IF NEW.type IS NOT NULL AND NEW.type NOT IN ('gitlab_com_derisk', 'wip', 'beta', 'ops', 'experiment',
                                                 'worker', 'markdown_cache', 'undefined', 'development') THEN
        RAISE EXCEPTION 'invalid type % for flag "%"', modelflags._quote_abbrev(NEW.type), NEW.name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'GitLab types are gitlab_com_derisk, wip, beta, ops, experiment, worker, markdown_cache, undefined and development.';
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION modelflags._validate_flag_actor() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.flag IS NULL OR octet_length(NEW.flag) > 255 THEN
        PERFORM modelflags._check_name('flag', NEW.flag);   -- as for models.provider
    END IF;
    IF NEW.actor IS NULL THEN
        RAISE EXCEPTION 'actor must not be null' USING ERRCODE = 'null_value_not_allowed';
    ELSIF NEW.actor = '' THEN
        RAISE EXCEPTION 'actor must not be empty (flag %)', modelflags._quote_abbrev(NEW.flag)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Actors are flipper_ids such as User:42.';
    ELSIF octet_length(NEW.actor) > 1024 THEN
        RAISE EXCEPTION 'actor % is too long', modelflags._quote_abbrev(NEW.actor)
            USING ERRCODE = 'string_data_right_truncation',
                  DETAIL = 'Actors are at most 1024 bytes.';
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION modelflags._validate_feature() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM modelflags._check_name('feature', NEW.name);
    RETURN NEW;
END $$;

CREATE FUNCTION modelflags._validate_route() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- References: as for models.provider.
    IF NEW.feature IS NULL OR octet_length(NEW.feature) > 255 THEN
        PERFORM modelflags._check_name('feature', NEW.feature);
    END IF;
    IF NEW.model IS NULL OR octet_length(NEW.model) > 255 THEN
        PERFORM modelflags._check_name('model', NEW.model);
    END IF;
    IF octet_length(NEW.flag) > 255 THEN
        PERFORM modelflags._check_name('flag', NEW.flag);
    END IF;
    IF NEW.position IS NULL THEN
        RAISE EXCEPTION 'position of a route of feature "%" must not be null', NEW.feature
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Positions are integers from 0 up; lower goes first.';
    ELSIF NEW.position < 0 THEN
        RAISE EXCEPTION 'invalid position % for a route of feature "%"', NEW.position, NEW.feature
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Positions are integers from 0 up; lower goes first.';
    END IF;
    PERFORM modelflags._check_params(format('route %s[%s]', NEW.feature, NEW.position), NEW.params);
    RETURN NEW;
END $$;

CREATE TRIGGER providers_validate BEFORE INSERT OR UPDATE ON modelflags.providers
    FOR EACH ROW EXECUTE FUNCTION modelflags._validate_provider();
CREATE TRIGGER models_validate BEFORE INSERT OR UPDATE ON modelflags.models
    FOR EACH ROW EXECUTE FUNCTION modelflags._validate_model();
CREATE TRIGGER flags_validate BEFORE INSERT OR UPDATE ON modelflags.flags
    FOR EACH ROW EXECUTE FUNCTION modelflags._validate_flag();
-- flag_actors takes bulk loads of millions of rows: the WHEN clause (checked
-- by the executor, no function call) lets only a bad row reach the function.
CREATE TRIGGER flag_actors_validate BEFORE INSERT OR UPDATE ON modelflags.flag_actors
    FOR EACH ROW
    WHEN (NEW.flag IS NULL OR octet_length(NEW.flag) > 255 OR NEW.actor IS NULL
          OR NEW.actor = '' OR octet_length(NEW.actor) > 1024)
    EXECUTE FUNCTION modelflags._validate_flag_actor();
CREATE TRIGGER features_validate BEFORE INSERT OR UPDATE ON modelflags.features
    FOR EACH ROW EXECUTE FUNCTION modelflags._validate_feature();
CREATE TRIGGER routes_validate BEFORE INSERT OR UPDATE ON modelflags.routes
    FOR EACH ROW EXECUTE FUNCTION modelflags._validate_route();

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
LANGUAGE plpgsql AS $$
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

-- Per table and event: the audit trigger, and the invalidation trigger, each
-- with the statement's transition tables (so that the invalidation can skip
-- a statement that changed no row).  TRUNCATE has no transition table: its
-- audit runs BEFORE and reads the rows about to go.  The invalidation is
-- ENABLE ALWAYS: a logical-replication apply worker (session_replication_role
-- = replica) must still invalidate the subscriber's caches, while audit stays
-- origin-only (the subscriber receives the origin's audit rows).
DO $$
DECLARE
    t  text;
    ev record;
BEGIN
    FOREACH t IN ARRAY ARRAY['providers', 'models', 'flags', 'flag_actors', 'features', 'routes'] LOOP
        FOR ev IN
            SELECT * FROM (VALUES
                ('insert', 'INSERT', 'REFERENCING NEW TABLE AS new_rows', 'AFTER'),
                ('update', 'UPDATE', 'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows', 'AFTER'),
                ('delete', 'DELETE', 'REFERENCING OLD TABLE AS old_rows', 'AFTER'),
                ('truncate', 'TRUNCATE', '', 'BEFORE')) AS e (suffix, event, referencing, audit_timing)
        LOOP
            EXECUTE format('CREATE TRIGGER %1$s_audit_%2$s %5$s %3$s ON modelflags.%1$s %4$s
                            FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit()',
                           t, ev.suffix, ev.event, ev.referencing, ev.audit_timing);
            EXECUTE format('CREATE TRIGGER %1$s_invalidate_%2$s AFTER %3$s ON modelflags.%1$s %4$s
                            FOR EACH STATEMENT EXECUTE FUNCTION modelflags._invalidate()',
                           t, ev.suffix, ev.event, ev.referencing);
            EXECUTE format('ALTER TABLE modelflags.%1$s ENABLE ALWAYS TRIGGER %1$s_invalidate_%2$s',
                           t, ev.suffix);
        END LOOP;
    END LOOP;
END $$;

/*
 * 30_write_api.sql — the write functions of SPEC §4.
 *
 * They are ordinary SQL over the tables (SECURITY INVOKER): the caller needs
 * the same table privileges a plain UPDATE would, validation comes from the
 * row triggers, and audit/NOTIFY/invalidation from the statement triggers.
 * The optional note is handed to the audit trigger through the
 * transaction-local setting modelflags.note (which a DBA can also SET LOCAL
 * before a plain UPDATE).
 */

-- Sets modelflags.note for the rest of the statement and returns the old value.
CREATE FUNCTION modelflags._push_note(note text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    old text := current_setting('modelflags.note', true);
BEGIN
    IF note IS NOT NULL THEN
        PERFORM set_config('modelflags.note', note, true);
    END IF;
    RETURN old;
END $$;

CREATE FUNCTION modelflags._pop_note(old text) RETURNS void
LANGUAGE sql AS $$ SELECT set_config('modelflags.note', coalesce(old, ''), true) $$;

/*
 * set_flag: GitLab ChatOps semantics (`/chatops run feature set NAME VALUE`).
 *   enabled => true        fully enable: boolean gate on, every other gate cleared
 *   enabled => false       clear every gate (the flag stays persisted, so
 *                          default_enabled no longer applies, as in GitLab)
 *   percentage_of_actors => p, percentage_of_time => p
 *                          set that gate; 0 disables and 100 fully enables,
 *                          as ChatOps does for "feature set NAME 0|100";
 *                          refused (55000) while the flag is fully enabled,
 *                          as GitLab refuses it
 * Creates the flag when it is missing (with a NOTICE, to catch typos).
 * Concurrent calls on one flag serialize on its row lock: none is lost.
 */
CREATE FUNCTION modelflags.set_flag(name text,
                                    enabled boolean DEFAULT NULL,
                                    percentage_of_actors numeric DEFAULT NULL,
                                    percentage_of_time numeric DEFAULT NULL,
                                    note text DEFAULT NULL)
RETURNS modelflags.flags
LANGUAGE plpgsql AS $$
DECLARE
    flag_name  text := name;
    want       boolean := enabled;
    pct_actors numeric := percentage_of_actors;
    pct_time   numeric := percentage_of_time;
    saved_note text;
    result     modelflags.flags;
BEGIN
    PERFORM modelflags._check_name('flag', flag_name);
    IF want IS NOT NULL AND (pct_actors IS NOT NULL OR pct_time IS NOT NULL) THEN
        RAISE EXCEPTION 'cannot set enabled and a percentage of flag "%" in one call', flag_name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'enabled => true already opens the flag for everyone; enabled => false clears every gate.';
    END IF;
    PERFORM modelflags._check_percentage('percentage_of_actors', flag_name, pct_actors);
    PERFORM modelflags._check_percentage('percentage_of_time', flag_name, pct_time);
    -- ChatOps: "feature set NAME 100" enables, "feature set NAME 0" disables,
    -- whichever percentage key was given.
    IF want IS NULL AND (pct_actors = 100 OR pct_time = 100) THEN
        want := true;
    ELSIF want IS NULL AND coalesce(pct_actors, 0) = 0 AND coalesce(pct_time, 0) = 0
          AND (pct_actors IS NOT NULL OR pct_time IS NOT NULL) THEN
        want := false;
    END IF;

    saved_note := modelflags._push_note(note);

    -- Create the flag if needed; then lock its row so that concurrent
    -- set_flag calls on the same flag apply one after the other.
    INSERT INTO modelflags.flags AS f (name) VALUES (flag_name) ON CONFLICT DO NOTHING;
    IF FOUND THEN
        RAISE NOTICE 'created flag "%"', flag_name;
    END IF;
    PERFORM 1 FROM modelflags.flags f WHERE f.name = flag_name FOR UPDATE;

    IF want IS NOT NULL THEN
        -- true and false both clear every other gate, actor gates and opt-outs included.
        DELETE FROM modelflags.flag_actors a WHERE a.flag = flag_name;
        UPDATE modelflags.flags f
           SET enabled = want, percentage_of_actors = NULL, percentage_of_time = NULL
         WHERE f.name = flag_name;
    ELSE
        -- GitLab refuses a percentage on a fully enabled flag (Feature.
        -- enable_percentage_of_actors/time raise InvalidOperation when the
        -- state is :on): the flag would stay on for everyone, and the
        -- rollout the caller asked for would silently not happen.
        IF EXISTS (SELECT 1 FROM modelflags.flags f
                    WHERE f.name = flag_name AND (f.enabled OR f.percentage_of_time = 100)) THEN
            RAISE EXCEPTION 'cannot set a percentage of flag "%": it is fully enabled', flag_name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'The flag is on for everyone, so a percentage would change nothing.',
                      HINT = format('Disable it first: SELECT modelflags.set_flag(%L, false);', flag_name);
        END IF;
        UPDATE modelflags.flags f
           SET percentage_of_actors = coalesce(pct_actors, f.percentage_of_actors),
               percentage_of_time = coalesce(pct_time, f.percentage_of_time)
         WHERE f.name = flag_name;
    END IF;

    PERFORM modelflags._pop_note(saved_note);
    SELECT * INTO result FROM modelflags.flags f WHERE f.name = flag_name;
    RETURN result;
END $$;

-- Creates the flag if missing (used by the actor functions).
CREATE FUNCTION modelflags._ensure_flag(flag_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM modelflags._check_name('flag', flag_name);
    INSERT INTO modelflags.flags (name) VALUES (flag_name) ON CONFLICT DO NOTHING;
    IF FOUND THEN
        RAISE NOTICE 'created flag "%"', flag_name;
    END IF;
END $$;

/*
 * set_actor: add (enabled => true) or remove (false) an actor gate, like
 * `feature set NAME true --user=...`.  An actor who opted out cannot be
 * enabled until the opt-out is removed, as in GitLab.
 */
CREATE FUNCTION modelflags.set_actor(flag text, actor text, enabled boolean, note text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    flag_name  text := flag;
    actor_id   text := actor;
    saved_note text;
BEGIN
    IF enabled IS NULL THEN
        RAISE EXCEPTION 'enabled must be true or false' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF actor_id IS NULL THEN
        RAISE EXCEPTION 'actor must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    saved_note := modelflags._push_note(note);
    PERFORM modelflags._ensure_flag(flag_name);
    IF enabled THEN
        IF EXISTS (SELECT 1 FROM modelflags.flag_actors a
                    WHERE a.flag = flag_name AND a.actor = actor_id AND a.opt_out) THEN
            RAISE EXCEPTION 'actor % has opted out of flag "%"', modelflags._quote_abbrev(actor_id), flag_name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = format('Remove the opt-out first: SELECT modelflags.remove_opt_out(%L, %L);', flag_name, left(actor_id, 64));
        END IF;
        INSERT INTO modelflags.flag_actors (flag, actor) VALUES (flag_name, actor_id)
            ON CONFLICT DO NOTHING;
    ELSE
        DELETE FROM modelflags.flag_actors a
         WHERE a.flag = flag_name AND a.actor = actor_id AND NOT a.opt_out;
    END IF;
    PERFORM modelflags._pop_note(saved_note);
END $$;

-- opt_out: force the flag off for this actor (GitLab Feature.opt_out).
CREATE FUNCTION modelflags.opt_out(flag text, actor text, note text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    flag_name  text := flag;
    actor_id   text := actor;
    saved_note text;
BEGIN
    IF actor_id IS NULL THEN
        RAISE EXCEPTION 'actor must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    saved_note := modelflags._push_note(note);
    PERFORM modelflags._ensure_flag(flag_name);
    -- The conflict target names the constraint: a column list (flag, actor)
    -- would be ambiguous with this function's parameters of those names.
    INSERT INTO modelflags.flag_actors AS a (flag, actor, opt_out) VALUES (flag_name, actor_id, true)
        ON CONFLICT ON CONSTRAINT flag_actors_pkey DO UPDATE SET opt_out = true WHERE NOT a.opt_out;
    PERFORM modelflags._pop_note(saved_note);
END $$;

-- remove_opt_out: undo opt_out (GitLab Feature.remove_opt_out).
CREATE FUNCTION modelflags.remove_opt_out(flag text, actor text, note text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    flag_name  text := flag;
    actor_id   text := actor;
    saved_note text;
BEGIN
    IF flag_name IS NULL OR actor_id IS NULL THEN
        RAISE EXCEPTION 'flag and actor must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    saved_note := modelflags._push_note(note);
    DELETE FROM modelflags.flag_actors a
     WHERE a.flag = flag_name AND a.actor = actor_id AND a.opt_out;
    PERFORM modelflags._pop_note(saved_note);
END $$;

/*
 * delete_flag: remove a flag with its actor gates (`feature delete NAME`).
 * Returns false if there was no such flag.  A flag still used by a route is
 * refused: deleting it would silently change routing.
 */
CREATE FUNCTION modelflags.delete_flag(name text, note text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    flag_name  text := name;
    users      text;
    saved_note text;
    deleted    boolean;
BEGIN
    IF flag_name IS NULL THEN
        RAISE EXCEPTION 'flag name must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT string_agg(format('%s[%s]', r.feature, r.position), ', ' ORDER BY r.feature, r.position)
      INTO users FROM modelflags.routes r WHERE r.flag = flag_name;
    IF users IS NOT NULL THEN
        RAISE EXCEPTION 'flag "%" is still used by routes', flag_name
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Routes using it: %s.', users),
                  HINT = 'Delete those routes, or make the new model the default route, first.';
    END IF;
    saved_note := modelflags._push_note(note);
    DELETE FROM modelflags.flags f WHERE f.name = flag_name;
    deleted := FOUND;
    PERFORM modelflags._pop_note(saved_note);
    RETURN deleted;
END $$;

/*
 * set_provider: mark a provider up or down, e.g. during an outage.  The same
 * as UPDATE modelflags.providers SET available = ... WHERE name = ..., with
 * an error for an unknown provider instead of "UPDATE 0".
 */
CREATE FUNCTION modelflags.set_provider(name text, available boolean, note text DEFAULT NULL)
RETURNS modelflags.providers
LANGUAGE plpgsql AS $$
DECLARE
    provider_name text := name;
    saved_note    text;
    result        modelflags.providers;
BEGIN
    IF provider_name IS NULL THEN
        RAISE EXCEPTION 'provider name must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF available IS NULL THEN
        RAISE EXCEPTION 'available must be true or false' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    saved_note := modelflags._push_note(note);
    UPDATE modelflags.providers p SET available = set_provider.available
     WHERE p.name = provider_name RETURNING * INTO result;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'provider % does not exist', modelflags._quote_abbrev(provider_name)
            USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM modelflags._pop_note(saved_note);
    RETURN result;
END $$;

/*
 * 40_read_api.sql — the read functions (SPEC F, H, R, S).
 *
 * All are C functions over the backend's compiled routing cache
 * (src/cache.c); they write nothing, so they run on hot standbys, and they
 * read the tables with the extension's own access, so callers need no table
 * privileges (SPEC P).  They are not STRICT: a NULL flag or feature is an
 * error (22004), while a NULL actor means "no actor", as in Flipper.
 */

-- VOLATILE: percentage_of_time draws a random number on every call, and the
-- answer follows the tables from one statement to the next.  PARALLEL
-- RESTRICTED: the random draw uses the backend's own generator.
CREATE FUNCTION modelflags.is_enabled(flag text, actor text DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'modelflags_is_enabled'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION modelflags.is_enabled(text, text) IS
    'Flipper/GitLab flag check: opt-out, default_enabled, then any open gate';

-- IMMUTABLE: a pure function of its arguments (CRC-32 of flag || actor).
CREATE FUNCTION modelflags.rollout_pct(flag text, actor text)
RETURNS numeric
AS 'MODULE_PATHNAME', 'modelflags_rollout_pct'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION modelflags.rollout_pct(text, text) IS
    'position of actor in flag''s percentage-of-actors rollout, in [0, 100): in at p exactly when rollout_pct < p';

-- model_for's answer.  A named type rather than OUT parameters: the executor
-- then finds the row type in the type cache instead of rebuilding it from
-- pg_proc on every execution (about 3% of a prepared SELECT * FROM model_for).
CREATE TYPE modelflags.model_choice AS (
    model      text,
    provider   text,
    params     jsonb,
    flag       text,
    gate       text,
    "position" integer,
    skipped    integer
);
COMMENT ON TYPE modelflags.model_choice IS 'the answer of model_for';

CREATE FUNCTION modelflags.model_for(feature text, actor text DEFAULT NULL)
RETURNS modelflags.model_choice
AS 'MODULE_PATHNAME', 'modelflags_model_for'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION modelflags.model_for(text, text) IS
    'the model, provider and merged params to use for feature and actor: the first applying route whose model and provider are up';

CREATE FUNCTION modelflags.explain(feature text, actor text DEFAULT NULL,
                                   OUT "position" integer, OUT flag text, OUT model text,
                                   OUT provider text, OUT params jsonb, OUT applies boolean,
                                   OUT gate text, OUT decision text, OUT reason text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'modelflags_explain'
LANGUAGE C VOLATILE PARALLEL RESTRICTED ROWS 4;
COMMENT ON FUNCTION modelflags.explain(text, text) IS
    'one row per route of feature: whether it applies for actor, and whether it was chosen, skipped or not reached, and why';

-- This backend's routing cache (valid = false: the next read rebuilds it).
-- VOLATILE: it reports backend state that changes between calls.
CREATE FUNCTION modelflags.cache_info(OUT valid boolean, OUT builds bigint, OUT flags integer,
                                      OUT features integer, OUT routes integer,
                                      OUT actor_sets_loaded bigint, OUT memory_bytes bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'modelflags_cache_info'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION modelflags.cache_info() IS
    'this backend''s compiled routing cache: whether it is valid, how often it was built, its size and memory';
/*
 * 60_definitions.sql — definitions as code (README.md, "Definitions as
 * code"): load_definitions reads YAML or JSON (our format, or GitLab's
 * feature-flag definitions, models.yml and unit_primitives.yml) and applies
 * it in the caller's transaction; dump_definitions writes the tables back
 * in our format.  Both are C (src/definitions_api.c over the pure parser
 * src/definitions.c).
 *
 * SECURITY INVOKER: load_definitions writes with plain INSERT/UPDATE/DELETE,
 * so the caller needs the same table privileges as for those, and the
 * validation, audit and NOTIFY triggers fire as for any write.  Neither
 * function is granted to PUBLIC (90_privileges.sql).
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
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION modelflags.load_definitions(text, boolean, text) IS
    'applies a YAML or JSON definitions document (ours, or a GitLab feature-flag file, models.yml or unit_primitives.yml) all or nothing; returns its format, how many definitions it holds and how many rows changed';

-- STABLE: reads the tables only, the same answer within a statement.
-- PARALLEL SAFE: its SPI queries are read-only.  Not STRICT: NULL arguments
-- are errors.
CREATE FUNCTION modelflags.dump_definitions(format text DEFAULT 'yaml',
                                            state boolean DEFAULT true)
RETURNS text
AS 'MODULE_PATHNAME', 'modelflags_dump_definitions'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION modelflags.dump_definitions(text, boolean) IS
    'the definitions in the tables as YAML or JSON in load_definitions'' format; state => false leaves out provider availability, flag gates, actors and opt-outs';

/*
 * 90_privileges.sql — SPEC P.
 *
 * Reading (model_for, is_enabled, rollout_pct, explain) is for everyone and
 * needs no table privilege.  Writing — the tables and the write functions —
 * is not granted to PUBLIC: README.md shows the GRANTs that make an ops role.
 * The internal helpers (_check_*, _quote_abbrev, ...) keep PUBLIC EXECUTE:
 * the validation triggers call them as whoever writes, and they change
 * nothing by themselves.
 */
GRANT USAGE ON SCHEMA modelflags TO PUBLIC;

-- _audit is SECURITY DEFINER: anyone allowed to EXECUTE it could attach it
-- to a table of their own and forge rows in the append-only changes table
-- (and modelflags notifications).  EXECUTE is checked only by CREATE
-- TRIGGER, never when a trigger fires, so revoking it leaves the audit of
-- the extension's own tables working for every writer.
REVOKE EXECUTE ON FUNCTION modelflags._audit() FROM PUBLIC;

REVOKE ALL ON ALL TABLES IN SCHEMA modelflags FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA modelflags FROM PUBLIC;

DO $$
DECLARE
    f regprocedure;
BEGIN
    -- Every function that writes: the public write API (not starting with _).
    FOR f IN
        SELECT p.oid::regprocedure
          FROM pg_proc p
         WHERE p.pronamespace = 'modelflags'::regnamespace
           AND p.proname !~ '^_'
           AND p.proname NOT IN ('is_enabled', 'rollout_pct', 'model_for', 'explain', 'cache_info')
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END $$;
