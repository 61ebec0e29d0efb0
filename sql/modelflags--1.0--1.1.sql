/* modelflags--1.0--1.1.sql — upgrade 1.0 to 1.1 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION modelflags UPDATE TO '1.1'" to load this file. \quit

/*
 * How this file is organised: one section per change, each headed by a
 * comment that names the issue item and the install file it mirrors; add
 * new sections at the end.  A changed function is re-created with exactly
 * the text it has in the files of sql/install (CREATE OR REPLACE keeps its
 * OID, owner and grants), a changed trigger with CREATE OR REPLACE TRIGGER.
 * test/stages/30_upgrade.sh fails on any difference between a 1.0 install
 * upgraded by this script and a fresh 1.1 install (catalog, rows, answers).
 * Like the install script, this one runs with search_path set to schema
 * modelflags (pg_catalog searched first): what it calls at top level is
 * written schema-qualified.
 */

/*
 * Guard (issue 8, item 3; the upgrade's half of
 * sql/install/00_install_guard.sql).  ALTER EXTENSION UPDATE runs this script as a superuser with search_path
 * set to schema modelflags.  A 1.0 installation may sit in a schema that
 * someone else made before CREATE EXTENSION (1.0 did not check): its owner,
 * or any role with CREATE on it, could have planted look-alikes of built-in
 * functions and operators there.  Refuse, before anything else, a schema
 * owned by anyone but the extension's owner or a superuser, and one that
 * other roles may create objects in.  Everything below is written
 * schema-qualified, so that what the schema holds is never called by name.
 * Every later upgrade script starts with this same guard.
 */
DO $guard$
DECLARE
    nsp_owner pg_catalog.oid;
    ext_owner pg_catalog.oid;
    grantees  pg_catalog.text;
BEGIN
    SELECT n.nspowner, e.extowner INTO nsp_owner, ext_owner
      FROM pg_catalog.pg_extension e
      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
     WHERE e.extname OPERATOR(pg_catalog.=) 'modelflags';

    IF nsp_owner OPERATOR(pg_catalog.<>) ext_owner
       AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) nsp_owner) THEN
        RAISE EXCEPTION 'schema "modelflags" is owned by role "%", not by the extension''s owner "%"',
                pg_catalog.pg_get_userbyid(nsp_owner), pg_catalog.pg_get_userbyid(ext_owner)
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The owner of the schema could have put functions or operators there that the upgrade would run with superuser rights, and can drop the extension''s objects.',
                  HINT = pg_catalog.format('Check what the schema holds besides the extension''s objects (\dx+ modelflags lists those), then ALTER SCHEMA modelflags OWNER TO %s, and run ALTER EXTENSION modelflags UPDATE again.',
                                           pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(ext_owner)));
    END IF;

    SELECT pg_catalog.string_agg(CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                                      ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END,
                                 ', ')
      INTO grantees
      FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) AS a
     WHERE n.nspname OPERATOR(pg_catalog.=) 'modelflags'
       AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
       AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner;
    IF grantees IS NOT NULL THEN
        RAISE EXCEPTION 'other roles may create objects in schema "modelflags": %', grantees
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'They could put functions or operators there that the extension''s code would run.',
                  HINT = pg_catalog.format('Check what the schema holds besides the extension''s objects (\dx+ modelflags lists those), REVOKE CREATE ON SCHEMA modelflags FROM %s, and run ALTER EXTENSION modelflags UPDATE again.', grantees);
    END IF;
END
$guard$;

/*
 * Install hardening (issue 8, item 3): function bodies no longer resolve
 * built-in names through the caller's search_path (sql/install/
 * 00_install_guard.sql explains the rule).  The per-row validation
 * functions and the SQL helpers are written schema-qualified
 * (10_validate.sql, 30_write_api.sql's _pop_note); the other PL/pgSQL
 * functions and the two C functions that run SPI queries pin
 * search_path = pg_catalog, pg_temp (20_audit.sql, 30_write_api.sql,
 * 60_definitions.sql).  flag_actors_validate's WHEN clause is only written
 * qualified in 10_validate.sql: it was bound when 1.0 created it, to the
 * same operators, so the trigger is unchanged.
 */

-- 10_validate.sql
CREATE OR REPLACE FUNCTION modelflags._quote_abbrev(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN value IS NULL THEN 'NULL'
            WHEN pg_catalog.length(value) OPERATOR(pg_catalog.<=) 64
                THEN '"' OPERATOR(pg_catalog.||) value OPERATOR(pg_catalog.||) '"'
            ELSE '"' OPERATOR(pg_catalog.||) pg_catalog.left(value, 64) OPERATOR(pg_catalog.||) '..." ('
                 OPERATOR(pg_catalog.||) pg_catalog.octet_length(value)::pg_catalog.text
                 OPERATOR(pg_catalog.||) ' bytes)' END;

CREATE OR REPLACE FUNCTION modelflags._check_name(kind text, value text) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF value IS NULL THEN
        RAISE EXCEPTION '% name must not be null', kind USING ERRCODE = 'null_value_not_allowed';
    ELSIF pg_catalog.octet_length(value) OPERATOR(pg_catalog.>) 255 THEN
        RAISE EXCEPTION '% name % is too long', kind, modelflags._quote_abbrev(value)
            USING ERRCODE = 'string_data_right_truncation',
                  DETAIL = 'Names are at most 255 bytes.';
    ELSIF kind OPERATOR(pg_catalog.=) 'flag' AND value OPERATOR(pg_catalog.!~) '^[a-z0-9]+(_[a-z0-9]+)*$' THEN
        RAISE EXCEPTION 'invalid flag name %', modelflags._quote_abbrev(value)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Flag names are lowercase letters and digits joined by single underscores, as GitLab requires.',
                  HINT = 'For example: incident_fail_over_generation_provider.';
    ELSIF value OPERATOR(pg_catalog.!~) '^[a-z0-9]+([_.-][a-z0-9]+)*$' THEN
        RAISE EXCEPTION 'invalid % name %', kind, modelflags._quote_abbrev(value)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('A %s name is lowercase letters and digits joined by single "_", "." or "-".', kind),
                  HINT = 'For example: claude_sonnet_4_5_20250929_vertex.';
    END IF;
END $$;

CREATE OR REPLACE FUNCTION modelflags._check_percentage(gate text, flag text, value numeric) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    -- A numeric can have 100,000 digits: cut it short in messages.
    shown pg_catalog.text := CASE WHEN pg_catalog.length(value::pg_catalog.text) OPERATOR(pg_catalog.<=) 64
                                  THEN value::pg_catalog.text
                                  ELSE pg_catalog.left(value::pg_catalog.text, 64) OPERATOR(pg_catalog.||)
                                       pg_catalog.format('... (%s digits)', pg_catalog.length(value::pg_catalog.text)) END;
BEGIN
    IF value IS NULL THEN
        RETURN;
    ELSIF value OPERATOR(pg_catalog.=) 'NaN'::pg_catalog.numeric OR value OPERATOR(pg_catalog.<) 0
          OR value OPERATOR(pg_catalog.>) 100 THEN
        RAISE EXCEPTION '% % is out of range for flag %', gate, shown, modelflags._quote_abbrev(flag)
            USING ERRCODE = 'numeric_value_out_of_range',
                  HINT = 'A percentage is a number from 0 to 100.';
    ELSIF value OPERATOR(pg_catalog.<>) pg_catalog.round(value, 3) THEN
        RAISE EXCEPTION '% % has more than 3 decimals for flag %', gate, shown, modelflags._quote_abbrev(flag)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Flipper buckets actors in steps of 0.001 percent.',
                  HINT = pg_catalog.format('Use %s.', pg_catalog.round(value, 3));
    END IF;
END $$;

CREATE OR REPLACE FUNCTION modelflags._check_params(owner text, params jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    k pg_catalog.text;
    v pg_catalog.jsonb;
BEGIN
    -- The triggers pass a name of at most 255 bytes; a direct caller may not.
    IF pg_catalog.octet_length(owner) OPERATOR(pg_catalog.>) 300 THEN
        owner := pg_catalog.left(owner, 300) OPERATOR(pg_catalog.||) '...';
    END IF;
    IF params IS NULL THEN
        RAISE EXCEPTION 'params of % must not be null', owner
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Use ''{}'' for no parameters.';
    ELSIF pg_catalog.jsonb_typeof(params) OPERATOR(pg_catalog.<>) 'object' THEN
        RAISE EXCEPTION 'params of % must be a JSON object, not %', owner, pg_catalog.jsonb_typeof(params)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR k, v IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(params) AS e LOOP
        IF (k OPERATOR(pg_catalog.=) ANY ('{temperature,top_p,timeout}'::pg_catalog.text[]) AND
                (pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.<>) 'number'
                 OR v::pg_catalog.numeric OPERATOR(pg_catalog.<) 0))
           OR (k OPERATOR(pg_catalog.=) ANY ('{max_tokens,max_retries,top_k}'::pg_catalog.text[]) AND
                (pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.<>) 'number'
                 OR v::pg_catalog.numeric OPERATOR(pg_catalog.<) 0
                 OR v::pg_catalog.numeric OPERATOR(pg_catalog.<>) pg_catalog.trunc(v::pg_catalog.numeric)))
           OR (k OPERATOR(pg_catalog.=) 'model' AND pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.<>) 'string')
           OR (k OPERATOR(pg_catalog.=) 'stop'
               AND pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.<>) ALL ('{string,array}'::pg_catalog.text[]))
           OR (k OPERATOR(pg_catalog.=) 'direct_access'
               AND pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.<>) 'boolean') THEN
            RAISE EXCEPTION 'invalid value % for param "%" of %',
                CASE WHEN pg_catalog.length(v::pg_catalog.text) OPERATOR(pg_catalog.<=) 64 THEN v::pg_catalog.text
                     ELSE pg_catalog.left(v::pg_catalog.text, 64) OPERATOR(pg_catalog.||)
                          pg_catalog.format('... (%s bytes)', pg_catalog.octet_length(v::pg_catalog.text)) END,
                k, owner
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'temperature, top_p and timeout are non-negative numbers; max_tokens, max_retries and top_k non-negative integers; model a string; stop a string or an array; direct_access a boolean.';
        END IF;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION modelflags._validate_provider() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM modelflags._check_name('provider', NEW.name);
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION modelflags._validate_model() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM modelflags._check_name('model', NEW.name);
    -- A NULL or oversized reference gets _check_name's precise error (an
    -- oversized one would otherwise fail in the index with 54000, without
    -- naming the value); the foreign key answers for the others.
    IF NEW.provider IS NULL OR pg_catalog.octet_length(NEW.provider) OPERATOR(pg_catalog.>) 255 THEN
        PERFORM modelflags._check_name('provider', NEW.provider);
    END IF;
    PERFORM modelflags._check_params(pg_catalog.format('model "%s"', NEW.name), NEW.params);
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION modelflags._validate_flag() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM modelflags._check_name('flag', NEW.name);
    PERFORM modelflags._check_percentage('percentage_of_actors', NEW.name, NEW.percentage_of_actors);
    PERFORM modelflags._check_percentage('percentage_of_time', NEW.name, NEW.percentage_of_time);
    IF NEW.type IS NOT NULL
       AND NEW.type OPERATOR(pg_catalog.<>) ALL ('{gitlab_com_derisk,wip,beta,ops,experiment,worker,markdown_cache,undefined,development}'::pg_catalog.text[]) THEN
        RAISE EXCEPTION 'invalid type % for flag "%"', modelflags._quote_abbrev(NEW.type), NEW.name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'GitLab types are gitlab_com_derisk, wip, beta, ops, experiment, worker, markdown_cache, undefined and development.';
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION modelflags._validate_flag_actor() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.flag IS NULL OR pg_catalog.octet_length(NEW.flag) OPERATOR(pg_catalog.>) 255 THEN
        PERFORM modelflags._check_name('flag', NEW.flag);   -- as for models.provider
    END IF;
    IF NEW.actor IS NULL THEN
        RAISE EXCEPTION 'actor must not be null' USING ERRCODE = 'null_value_not_allowed';
    ELSIF NEW.actor OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'actor must not be empty (flag %)', modelflags._quote_abbrev(NEW.flag)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Actors are flipper_ids such as User:42.';
    ELSIF pg_catalog.octet_length(NEW.actor) OPERATOR(pg_catalog.>) 1024 THEN
        RAISE EXCEPTION 'actor % is too long', modelflags._quote_abbrev(NEW.actor)
            USING ERRCODE = 'string_data_right_truncation',
                  DETAIL = 'Actors are at most 1024 bytes.';
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION modelflags._validate_feature() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM modelflags._check_name('feature', NEW.name);
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION modelflags._validate_route() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- References: as for models.provider.
    IF NEW.feature IS NULL OR pg_catalog.octet_length(NEW.feature) OPERATOR(pg_catalog.>) 255 THEN
        PERFORM modelflags._check_name('feature', NEW.feature);
    END IF;
    IF NEW.model IS NULL OR pg_catalog.octet_length(NEW.model) OPERATOR(pg_catalog.>) 255 THEN
        PERFORM modelflags._check_name('model', NEW.model);
    END IF;
    IF pg_catalog.octet_length(NEW.flag) OPERATOR(pg_catalog.>) 255 THEN
        PERFORM modelflags._check_name('flag', NEW.flag);
    END IF;
    IF NEW.position IS NULL THEN
        RAISE EXCEPTION 'position of a route of feature "%" must not be null', NEW.feature
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Positions are integers from 0 up; lower goes first.';
    ELSIF NEW.position OPERATOR(pg_catalog.<) 0 THEN
        RAISE EXCEPTION 'invalid position % for a route of feature "%"', NEW.position, NEW.feature
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Positions are integers from 0 up; lower goes first.';
    END IF;
    PERFORM modelflags._check_params(pg_catalog.format('route %s[%s]', NEW.feature, NEW.position), NEW.params);
    RETURN NEW;
END $$;

-- 20_audit.sql
CREATE OR REPLACE FUNCTION modelflags._changes_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'modelflags.changes is append-only'
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = format('%s on the audit table is refused.', TG_OP),
              HINT = 'To prune old history, ALTER TABLE modelflags.changes DISABLE TRIGGER changes_append_only first, and enable it again after.';
END $$;

-- 30_write_api.sql
CREATE OR REPLACE FUNCTION modelflags._push_note(note text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    old text := current_setting('modelflags.note', true);
BEGIN
    IF note IS NOT NULL THEN
        PERFORM set_config('modelflags.note', note, true);
    END IF;
    RETURN old;
END $$;

CREATE OR REPLACE FUNCTION modelflags._pop_note(old text) RETURNS void
LANGUAGE sql AS $$ SELECT pg_catalog.set_config('modelflags.note', coalesce(old, ''), true) $$;

CREATE OR REPLACE FUNCTION modelflags.set_flag(name text,
                                    enabled boolean DEFAULT NULL,
                                    percentage_of_actors numeric DEFAULT NULL,
                                    percentage_of_time numeric DEFAULT NULL,
                                    note text DEFAULT NULL)
RETURNS modelflags.flags
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    flag_name  text := name;
    want       boolean := enabled;
    pct_actors numeric := percentage_of_actors;
    pct_time   numeric := percentage_of_time;
    saved_note text;
    result     modelflags.flags;
BEGIN
    PERFORM modelflags._check_name('flag', flag_name);
    PERFORM modelflags._refuse_flipper_owned(flag_name);
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
    -- set_flag calls on the same flag apply one after the other (see above).
    INSERT INTO modelflags.flags AS f (name) VALUES (flag_name) ON CONFLICT DO NOTHING;
    IF FOUND THEN
        RAISE NOTICE 'created flag "%"', flag_name;
    END IF;
    PERFORM 1 FROM modelflags.flags f WHERE f.name = flag_name FOR NO KEY UPDATE;

    IF want IS NOT NULL THEN
        -- true and false both clear every other gate, actor gates and
        -- opt-outs included: with flag_actors to ourselves (see above).
        IF EXISTS (SELECT 1 FROM modelflags.flag_actors a WHERE a.flag = flag_name) THEN
            LOCK TABLE modelflags.flag_actors IN SHARE ROW EXCLUSIVE MODE;
            DELETE FROM modelflags.flag_actors a WHERE a.flag = flag_name;
        END IF;
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

CREATE OR REPLACE FUNCTION modelflags._ensure_flag(flag_name text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM modelflags._check_name('flag', flag_name);
    PERFORM modelflags._refuse_flipper_owned(flag_name);
    INSERT INTO modelflags.flags (name) VALUES (flag_name) ON CONFLICT DO NOTHING;
    IF FOUND THEN
        RAISE NOTICE 'created flag "%"', flag_name;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION modelflags.set_actor(flag text, actor text, enabled boolean, note text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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

CREATE OR REPLACE FUNCTION modelflags.opt_out(flag text, actor text, note text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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

CREATE OR REPLACE FUNCTION modelflags.remove_opt_out(flag text, actor text, note text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    flag_name  text := flag;
    actor_id   text := actor;
    saved_note text;
BEGIN
    IF flag_name IS NULL OR actor_id IS NULL THEN
        RAISE EXCEPTION 'flag and actor must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM modelflags._refuse_flipper_owned(flag_name);
    saved_note := modelflags._push_note(note);
    DELETE FROM modelflags.flag_actors a
     WHERE a.flag = flag_name AND a.actor = actor_id AND a.opt_out;
    PERFORM modelflags._pop_note(saved_note);
END $$;

CREATE OR REPLACE FUNCTION modelflags.delete_flag(name text, note text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    flag_name  text := name;
    users      text;
    saved_note text;
    deleted    boolean;
BEGIN
    IF flag_name IS NULL THEN
        RAISE EXCEPTION 'flag name must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM modelflags._refuse_flipper_owned(flag_name);
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

CREATE OR REPLACE FUNCTION modelflags.set_provider(name text, available boolean, note text DEFAULT NULL)
RETURNS modelflags.providers
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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

-- 60_definitions.sql
ALTER FUNCTION modelflags.load_definitions(text, boolean, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION modelflags.dump_definitions(text, boolean) SET search_path = pg_catalog, pg_temp;

/*
 * Backups (issue 8, item 2): a superuser's pg_restore or replayed pg_dump
 * script loads the tables in replica mode, without validation, audit,
 * NOTIFY or foreign-key checks (sql/install/26_restore.sql explains why
 * and when); the restore triggers' functions are not PUBLIC's
 * (90_privileges.sql).
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
REVOKE EXECUTE ON FUNCTION modelflags._restore_begin(), modelflags._restore_end() FROM PUBLIC;

/*
 * set_flag locking (issue 8, item 10): the set_flag re-created in the
 * install hardening section above already locks the flag's row FOR NO KEY
 * UPDATE and, when the flag has actor rows, takes SHARE ROW EXCLUSIVE on
 * flag_actors before clearing them (30_write_api.sql explains why), so it
 * no longer deadlocks with plain DML on flag_actors.  Nothing else changes.
 */

-- ------------------------------------------------------------------------
-- Logical replication (issue 8, item 14): row-level, ENABLE REPLICA
-- invalidation triggers, so that a subscriber's open sessions follow the
-- changes its apply worker applies.  The same as sql/install/25_replication.sql;
-- see that file and src/triggers.c for why BEFORE INSERT OR UPDATE and AFTER DELETE.
-- ------------------------------------------------------------------------
CREATE TRIGGER providers_invalidate_replica_write BEFORE INSERT OR UPDATE ON modelflags.providers
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER providers_invalidate_replica_delete AFTER DELETE ON modelflags.providers
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
ALTER TABLE modelflags.providers ENABLE REPLICA TRIGGER providers_invalidate_replica_write;
ALTER TABLE modelflags.providers ENABLE REPLICA TRIGGER providers_invalidate_replica_delete;

CREATE TRIGGER models_invalidate_replica_write BEFORE INSERT OR UPDATE ON modelflags.models
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER models_invalidate_replica_delete AFTER DELETE ON modelflags.models
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
ALTER TABLE modelflags.models ENABLE REPLICA TRIGGER models_invalidate_replica_write;
ALTER TABLE modelflags.models ENABLE REPLICA TRIGGER models_invalidate_replica_delete;

CREATE TRIGGER flags_invalidate_replica_write BEFORE INSERT OR UPDATE ON modelflags.flags
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER flags_invalidate_replica_delete AFTER DELETE ON modelflags.flags
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
ALTER TABLE modelflags.flags ENABLE REPLICA TRIGGER flags_invalidate_replica_write;
ALTER TABLE modelflags.flags ENABLE REPLICA TRIGGER flags_invalidate_replica_delete;

CREATE TRIGGER flag_actors_invalidate_replica_write BEFORE INSERT OR UPDATE ON modelflags.flag_actors
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER flag_actors_invalidate_replica_delete AFTER DELETE ON modelflags.flag_actors
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
ALTER TABLE modelflags.flag_actors ENABLE REPLICA TRIGGER flag_actors_invalidate_replica_write;
ALTER TABLE modelflags.flag_actors ENABLE REPLICA TRIGGER flag_actors_invalidate_replica_delete;

CREATE TRIGGER features_invalidate_replica_write BEFORE INSERT OR UPDATE ON modelflags.features
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER features_invalidate_replica_delete AFTER DELETE ON modelflags.features
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
ALTER TABLE modelflags.features ENABLE REPLICA TRIGGER features_invalidate_replica_write;
ALTER TABLE modelflags.features ENABLE REPLICA TRIGGER features_invalidate_replica_delete;

CREATE TRIGGER routes_invalidate_replica_write BEFORE INSERT OR UPDATE ON modelflags.routes
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER routes_invalidate_replica_delete AFTER DELETE ON modelflags.routes
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
ALTER TABLE modelflags.routes ENABLE REPLICA TRIGGER routes_invalidate_replica_write;
ALTER TABLE modelflags.routes ENABLE REPLICA TRIGGER routes_invalidate_replica_delete;

-- ------------------------------------------------------------------------
-- Incremental cache updates (issue 9): the change log the routing caches
-- patch themselves from.  The same as sql/install/22_cache_log.sql.
-- ------------------------------------------------------------------------
CREATE TABLE modelflags._cache_log (
    txid       xid8 NOT NULL,
    table_name text COLLATE "C" NOT NULL,
    keys       text[] COLLATE "C"
);
CREATE INDEX _cache_log_txid_idx ON modelflags._cache_log (txid);
COMMENT ON TABLE modelflags._cache_log IS
    'internal: the names each committed transaction changed, for the routing caches of every backend';
REVOKE ALL ON modelflags._cache_log FROM PUBLIC;
-- The signals writers invalidate instead of the tables they changed.
CREATE SEQUENCE modelflags._cache_signal;
CREATE SEQUENCE modelflags._cache_signal_actors;
COMMENT ON SEQUENCE modelflags._cache_signal IS
    'internal: invalidated by writers of the configuration tables, to tell every backend''s routing cache to look at _cache_log; never used as a sequence';
COMMENT ON SEQUENCE modelflags._cache_signal_actors IS
    'internal: invalidated by writers of flag_actors, to tell every backend''s routing cache to look at _cache_log; never used as a sequence';

-- cache_info() tells how the cache was last brought up to date (issue 9):
-- three more columns, so it is dropped and created again (40_read_api.sql).
DROP FUNCTION modelflags.cache_info();
CREATE FUNCTION modelflags.cache_info(OUT valid boolean, OUT builds bigint, OUT flags integer,
                                      OUT features integer, OUT routes integer,
                                      OUT actor_sets_loaded bigint, OUT memory_bytes bigint,
                                      OUT patches bigint, OUT last_refresh text,
                                      OUT last_refresh_reason text)
RETURNS record
AS 'MODULE_PATHNAME', 'modelflags_cache_info'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION modelflags.cache_info() IS
    'this backend''s compiled routing cache: whether it is valid, how often it was built or patched by a delta, how it was last brought up to date and why, its size and memory';

-- ------------------------------------------------------------------------
-- Flipper's tables as a source of flags (issue 12): attach_flipper,
-- detach_flipper and what they use.  The same as sql/install/70_flipper.sql;
-- the write functions above refuse flags kept by Flipper
-- (_refuse_flipper_owned), and the privileges are those of 90_privileges.sql.
-- ------------------------------------------------------------------------
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
REVOKE ALL ON modelflags.flipper_source FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION modelflags._flipper_changed(), modelflags._note_flipper(text[]),
                           modelflags._refuse_flipper_gates() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION modelflags.attach_flipper(regclass, regclass, text),
                           modelflags.detach_flipper(text) FROM PUBLIC;

-- ------------------------------------------------------------------------
-- Model health (issue 11): report(), circuit breakers that model_for
-- consults, the breaker settings and transition audit, the health views.
-- The same as sql/install/50_health.sql (below, whole), plus what it changes
-- in other install files:
--   40_read_api.sql   model_choice gains "degraded" (added last, so its
--                     columns are those of a fresh install), and model_for
--                     calls the C symbol that answers with it (the 1.0
--                     symbol keeps answering a 1.0 database's seven columns);
--   20_audit.sql      _audit keys breaker_settings rows by model;
--   90_privileges.sql report(), report_batch(), set_breaker(), health_reset()
--                     are not for PUBLIC (the install's loop revokes every
--                     public write function); the views are.
-- ------------------------------------------------------------------------

-- 40_read_api.sql
ALTER TYPE modelflags.model_choice ADD ATTRIBUTE degraded boolean;
-- The C symbol names the version of model_choice it returns: a library
-- serving a database still at 1.0 answers it with 1.0's seven columns.
CREATE OR REPLACE FUNCTION modelflags.model_for(feature text, actor text DEFAULT NULL)
RETURNS modelflags.model_choice
AS 'MODULE_PATHNAME', 'modelflags_model_for_1_1'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

-- 20_audit.sql
CREATE OR REPLACE FUNCTION modelflags._audit() RETURNS trigger
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

-- 50_health.sql
/*
 * 50_health.sql — model health (SPEC §7 O; README.md, "Health").
 *
 * report() records the outcome of each LLM call in shared memory
 * (src/health.c; no table write, no WAL, so it works on hot standbys); a
 * circuit breaker per model makes model_for skip a failing model and probe
 * it back (the rules: src/breaker.c, src/evaluate.c).  All of it needs
 * modelflags in shared_preload_libraries; without it, report() and the
 * views below raise 55000 with a hint, and everything else works as in
 * 1.0.  Health is live state, not table state: it is outside SPEC C's
 * snapshot rules (a transaction sees breakers as they are at each call).
 *
 * Tables:
 *   - breaker_settings: per-model breaker parameters and the manual
 *     override, over the modelflags.breaker_* settings.  Configuration:
 *     validated, audited and notified like the other tables, dumped by
 *     pg_dump; a change reaches every backend (and hot standbys) through a
 *     relcache invalidation of this table, which health.c watches and the
 *     routing cache ignores;
 *   - breaker_events: the audit of breaker transitions, with the figures
 *     that caused each, written by the background worker on the primary
 *     (src/health_worker.c); append-only, dumped by pg_dump.  A transition
 *     is a change of live state, not of a configuration row, so it gets a
 *     table of its own rather than rows in changes.
 */

CREATE TABLE modelflags.breaker_settings (
    -- a model's name, checked on write (no foreign key: settings must not
    -- stand in the way of TRUNCATE or DELETE of models, and health follows
    -- names: the settings of a deleted or renamed model wait, unused, for
    -- a model of that name)
    model                text COLLATE "C" PRIMARY KEY,
    -- NULL: automatic; 'open': always skipped (served only when every
    -- applying route is open); 'closed': never skipped for health
    override             text CHECK (override IN ('open', 'closed')),
    -- NULL in any column below: the modelflags.breaker_* setting of that name
    failure_rate         numeric CHECK (failure_rate > 0 AND failure_rate <= 100),
    min_calls            integer CHECK (min_calls BETWEEN 1 AND 1000000),
    consecutive_failures integer CHECK (consecutive_failures BETWEEN 0 AND 1000000),
    failure_window       interval CHECK (failure_window BETWEEN '1 second' AND '1 hour'),
    open_time            interval CHECK (open_time BETWEEN '1 second' AND '1 day'),
    max_open_time        interval CHECK (max_open_time BETWEEN '1 second' AND '1 day'),
    probes               integer CHECK (probes BETWEEN 1 AND 100),
    probe_timeout        interval CHECK (probe_timeout BETWEEN '1 second' AND '1 day')
);
COMMENT ON TABLE modelflags.breaker_settings IS
    'per-model circuit-breaker parameters (NULL: the modelflags.breaker_* setting) and manual override (open, closed)';

CREATE TABLE modelflags.breaker_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- when the transition happened (the reporting server's clock)
    at          timestamptz NOT NULL,
    model       text COLLATE "C" NOT NULL,
    event       text NOT NULL CHECK (event IN ('open', 'half_open', 'close', 'reopen', 'extend')),
    from_state  text NOT NULL CHECK (from_state IN ('closed', 'open', 'half_open')),
    to_state    text NOT NULL CHECK (to_state IN ('closed', 'open', 'half_open')),
    -- the figures, in words: "62% errors over 40 calls", "5 consecutive failures", ...
    reason      text NOT NULL,
    open_until  timestamptz,
    -- open, reopen, extend: judged calls and failures over the window (or in a row)
    calls       integer,
    failures    integer,
    -- openings in a row: the cool-down is open_time * 2^(level - 1), capped
    level       integer NOT NULL,
    -- the transition's number on its server (modelflags.breaker_transitions.seq)
    server_seq  bigint NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE modelflags.breaker_events IS
    'append-only audit of circuit-breaker transitions, with the figures that caused each; written by the modelflags health recorder';
CREATE INDEX breaker_events_model_at_idx ON modelflags.breaker_events (model, at);

SELECT pg_catalog.pg_extension_config_dump('modelflags.breaker_settings', '');
SELECT pg_catalog.pg_extension_config_dump('modelflags.breaker_events', '');
SELECT pg_catalog.pg_extension_config_dump('modelflags.breaker_events_id_seq', '');

-- breaker_settings rows, with a message per bad value (the CHECKs above
-- are the backstop).  A tiny table, so the SET clause's cost per row does
-- not matter.
CREATE FUNCTION modelflags._validate_breaker_settings() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.model IS NULL THEN
        RAISE EXCEPTION 'model must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM modelflags.models m WHERE m.name = NEW.model) THEN
        RAISE EXCEPTION 'model % does not exist', modelflags._quote_abbrev(NEW.model)
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'Breaker settings are per row of modelflags.models.';
    END IF;
    IF NEW.override IS NOT NULL AND NEW.override NOT IN ('open', 'closed') THEN
        RAISE EXCEPTION 'invalid override %', modelflags._quote_abbrev(NEW.override)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'open (always skipped), closed (never skipped for health), or NULL (automatic).';
    END IF;
    IF NEW.failure_rate IS NOT NULL AND NOT (NEW.failure_rate > 0 AND NEW.failure_rate <= 100) THEN
        RAISE EXCEPTION 'failure_rate % is out of range', NEW.failure_rate
            USING ERRCODE = 'numeric_value_out_of_range',
                  DETAIL = 'A percentage of the calls in the failure window, above 0 and at most 100.';
    END IF;
    IF NEW.min_calls IS NOT NULL AND NOT NEW.min_calls BETWEEN 1 AND 1000000 THEN
        RAISE EXCEPTION 'min_calls % is out of range', NEW.min_calls
            USING ERRCODE = 'numeric_value_out_of_range', DETAIL = 'Between 1 and 1000000.';
    END IF;
    IF NEW.consecutive_failures IS NOT NULL AND NOT NEW.consecutive_failures BETWEEN 0 AND 1000000 THEN
        RAISE EXCEPTION 'consecutive_failures % is out of range', NEW.consecutive_failures
            USING ERRCODE = 'numeric_value_out_of_range', DETAIL = 'Between 0 (never) and 1000000.';
    END IF;
    IF NEW.probes IS NOT NULL AND NOT NEW.probes BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'probes % is out of range', NEW.probes
            USING ERRCODE = 'numeric_value_out_of_range', DETAIL = 'Between 1 and 100.';
    END IF;
    IF NEW.failure_window IS NOT NULL AND NOT NEW.failure_window BETWEEN '1 second' AND '1 hour' THEN
        RAISE EXCEPTION 'failure_window "%" is out of range', NEW.failure_window
            USING ERRCODE = 'numeric_value_out_of_range',
                  DETAIL = 'Between 1 second and 1 hour; modelflags.health_window caps it.';
    END IF;
    IF NEW.open_time IS NOT NULL AND NOT NEW.open_time BETWEEN '1 second' AND '1 day' THEN
        RAISE EXCEPTION 'open_time "%" is out of range', NEW.open_time
            USING ERRCODE = 'numeric_value_out_of_range', DETAIL = 'Between 1 second and 1 day.';
    END IF;
    IF NEW.max_open_time IS NOT NULL AND NOT NEW.max_open_time BETWEEN '1 second' AND '1 day' THEN
        RAISE EXCEPTION 'max_open_time "%" is out of range', NEW.max_open_time
            USING ERRCODE = 'numeric_value_out_of_range', DETAIL = 'Between 1 second and 1 day.';
    END IF;
    IF NEW.probe_timeout IS NOT NULL AND NOT NEW.probe_timeout BETWEEN '1 second' AND '1 day' THEN
        RAISE EXCEPTION 'probe_timeout "%" is out of range', NEW.probe_timeout
            USING ERRCODE = 'numeric_value_out_of_range', DETAIL = 'Between 1 second and 1 day.';
    END IF;
    IF NEW.open_time IS NOT NULL AND NEW.max_open_time IS NOT NULL AND NEW.max_open_time < NEW.open_time THEN
        RAISE EXCEPTION 'max_open_time "%" is shorter than open_time "%"', NEW.max_open_time, NEW.open_time
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The cool-down starts at open_time and doubles up to max_open_time.';
    END IF;
    RETURN NEW;
END $$;

-- Every backend (hot standbys too) reads the settings again (src/health.c).
CREATE FUNCTION modelflags._breaker_settings_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'modelflags_breaker_settings_changed' LANGUAGE C;

-- breaker_events is append-only, like changes.
CREATE FUNCTION modelflags._breaker_events_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'modelflags.breaker_events is append-only'
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = format('%s on the breaker audit is refused.', TG_OP),
              HINT = 'To prune old history, ALTER TABLE modelflags.breaker_events DISABLE TRIGGER breaker_events_append_only first, and enable it again after.';
END $$;
CREATE TRIGGER breaker_events_append_only BEFORE UPDATE OR DELETE ON modelflags.breaker_events
    FOR EACH ROW EXECUTE FUNCTION modelflags._breaker_events_append_only();
CREATE TRIGGER breaker_events_append_only_truncate BEFORE TRUNCATE ON modelflags.breaker_events
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._breaker_events_append_only();

-- breaker_settings: validation, audit and NOTIFY (20_audit.sql), settings
-- invalidation (ENABLE ALWAYS, as the routing cache's), the same for a
-- logical-replication subscriber (25_replication.sql), and restores
-- (26_restore.sql).
CREATE TRIGGER breaker_settings_validate BEFORE INSERT OR UPDATE ON modelflags.breaker_settings
    FOR EACH ROW EXECUTE FUNCTION modelflags._validate_breaker_settings();
CREATE TRIGGER breaker_settings_audit_insert AFTER INSERT ON modelflags.breaker_settings
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER breaker_settings_audit_update AFTER UPDATE ON modelflags.breaker_settings
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER breaker_settings_audit_delete AFTER DELETE ON modelflags.breaker_settings
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER breaker_settings_audit_truncate BEFORE TRUNCATE ON modelflags.breaker_settings
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._audit();
CREATE TRIGGER breaker_settings_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON modelflags.breaker_settings
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._breaker_settings_changed();
ALTER TABLE modelflags.breaker_settings ENABLE ALWAYS TRIGGER breaker_settings_changed;
CREATE TRIGGER breaker_settings_changed_replica AFTER INSERT OR UPDATE OR DELETE ON modelflags.breaker_settings
    FOR EACH ROW EXECUTE FUNCTION modelflags._breaker_settings_changed();
ALTER TABLE modelflags.breaker_settings ENABLE REPLICA TRIGGER breaker_settings_changed_replica;
CREATE TRIGGER breaker_settings_restore_begin BEFORE INSERT ON modelflags.breaker_settings
    FOR EACH STATEMENT WHEN (modelflags._is_restore()) EXECUTE FUNCTION modelflags._restore_begin();
CREATE TRIGGER breaker_settings_restore_end AFTER INSERT ON modelflags.breaker_settings
    FOR EACH STATEMENT EXECUTE FUNCTION modelflags._restore_end();
ALTER TABLE modelflags.breaker_settings ENABLE ALWAYS TRIGGER breaker_settings_restore_end;

/*
 * set_breaker: a model's breaker parameters and override, like set_flag for
 * flags.  A NULL argument leaves that setting as it is; override => 'auto'
 * removes the override.  To go back to a global default, UPDATE the column
 * to NULL (or DELETE the row).  Returns the row.
 */
CREATE FUNCTION modelflags.set_breaker(model text,
                                       override text DEFAULT NULL,
                                       failure_rate numeric DEFAULT NULL,
                                       min_calls integer DEFAULT NULL,
                                       consecutive_failures integer DEFAULT NULL,
                                       failure_window interval DEFAULT NULL,
                                       open_time interval DEFAULT NULL,
                                       max_open_time interval DEFAULT NULL,
                                       probes integer DEFAULT NULL,
                                       probe_timeout interval DEFAULT NULL,
                                       note text DEFAULT NULL)
RETURNS modelflags.breaker_settings
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    model_name text := model;
    ov         text := override;
    saved_note text;
    result     modelflags.breaker_settings;
BEGIN
    IF model_name IS NULL THEN
        RAISE EXCEPTION 'model must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF ov IS NOT NULL AND ov NOT IN ('open', 'closed', 'auto') THEN
        RAISE EXCEPTION 'invalid override %', modelflags._quote_abbrev(ov)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'open (always skipped), closed (never skipped for health), or auto (no override).';
    END IF;
    saved_note := modelflags._push_note(note);
    INSERT INTO modelflags.breaker_settings AS b
           (model, override, failure_rate, min_calls, consecutive_failures, failure_window,
            open_time, max_open_time, probes, probe_timeout)
    VALUES (model_name, nullif(ov, 'auto'), set_breaker.failure_rate, set_breaker.min_calls,
            set_breaker.consecutive_failures, set_breaker.failure_window, set_breaker.open_time,
            set_breaker.max_open_time, set_breaker.probes, set_breaker.probe_timeout)
    ON CONFLICT ON CONSTRAINT breaker_settings_pkey DO UPDATE
       SET override = CASE WHEN ov IS NULL THEN b.override ELSE nullif(ov, 'auto') END,
           failure_rate = coalesce(EXCLUDED.failure_rate, b.failure_rate),
           min_calls = coalesce(EXCLUDED.min_calls, b.min_calls),
           consecutive_failures = coalesce(EXCLUDED.consecutive_failures, b.consecutive_failures),
           failure_window = coalesce(EXCLUDED.failure_window, b.failure_window),
           open_time = coalesce(EXCLUDED.open_time, b.open_time),
           max_open_time = coalesce(EXCLUDED.max_open_time, b.max_open_time),
           probes = coalesce(EXCLUDED.probes, b.probes),
           probe_timeout = coalesce(EXCLUDED.probe_timeout, b.probe_timeout)
    RETURNING * INTO result;
    PERFORM modelflags._pop_note(saved_note);
    RETURN result;
END $$;

/*
 * report: the outcome of one LLM call (src/health.c).  No table write, no
 * WAL: it runs in read-only transactions and on hot standbys.  VOLATILE:
 * it changes shared counters.  PARALLEL RESTRICTED, as model_for: it reads
 * the backend's routing cache.  Not granted to PUBLIC (90_privileges.sql):
 * anyone who may report may open a breaker for every service.
 */
CREATE FUNCTION modelflags.report(feature text, model text, outcome text,
                                  latency_ms double precision DEFAULT NULL,
                                  tokens_in bigint DEFAULT NULL,
                                  tokens_out bigint DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'modelflags_report'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION modelflags.report(text, text, text, double precision, bigint, bigint) IS
    'records the outcome (ok, error, timeout, rate_limited, client_error) and latency of one LLM call in the model''s health window and circuit breaker';

-- Many reports at once, all or nothing: a JSON array of objects with
-- report()'s argument names as keys.  Returns how many were recorded.
CREATE FUNCTION modelflags.report_batch(reports jsonb)
RETURNS integer
AS 'MODULE_PATHNAME', 'modelflags_report_batch'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION modelflags.report_batch(jsonb) IS
    'report() for each element of a JSON array of {feature, model, outcome, latency_ms, tokens_in, tokens_out}; all or nothing';

-- Forgets the windows and breaker of a model (and its feature pairs), or
-- with NULL of every model of this database.  Not granted to PUBLIC.
CREATE FUNCTION modelflags.health_reset(model text DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'modelflags_health_reset'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION modelflags.health_reset(text) IS
    'forgets the health windows and circuit breaker of model (NULL: of every model of this database); returns the entries freed';

-- The raw entries of this database, for the views below.  VOLATILE: live state.
CREATE FUNCTION modelflags._health_entries(
    OUT feature text, OUT model text, OUT provider text, OUT provider_available boolean,
    OUT state text, OUT override text,
    OUT state_since timestamptz, OUT open_until timestamptz, OUT reason text,
    OUT level integer, OUT consecutive_failures integer, OUT probes_out integer, OUT probes_ok integer,
    OUT window_span interval, OUT calls bigint, OUT ok bigint, OUT errors bigint, OUT timeouts bigint,
    OUT rate_limited bigint, OUT client_errors bigint, OUT latency_bins bigint[],
    OUT total_ok bigint, OUT total_errors bigint, OUT total_timeouts bigint,
    OUT total_rate_limited bigint, OUT total_client_errors bigint, OUT total_latency_bins bigint[],
    OUT latency_count bigint, OUT latency_sum_ms double precision,
    OUT tokens_in bigint, OUT tokens_out bigint, OUT opens bigint,
    OUT last_report_at timestamptz, OUT created_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'modelflags_health_entries'
LANGUAGE C VOLATILE PARALLEL RESTRICTED ROWS 20;

CREATE FUNCTION modelflags._health_status(
    OUT capacity integer, OUT entries integer, OUT entries_here integer, OUT reports_dropped bigint,
    OUT window_span interval, OUT breaker boolean, OUT transitions_pending integer,
    OUT transitions_lost bigint, OUT recorder_pid integer, OUT clock_offset interval,
    OUT shared_filters integer, OUT shared_filter_bytes bigint, OUT shared_filter_memory bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'modelflags_health_status'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION modelflags._health_transitions(
    OUT seq bigint, OUT at timestamptz, OUT model text, OUT event text, OUT from_state text,
    OUT to_state text, OUT reason text, OUT open_until timestamptz, OUT level integer,
    OUT calls bigint, OUT failures bigint, OUT status text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'modelflags_health_transitions'
LANGUAGE C VOLATILE PARALLEL RESTRICTED ROWS 20;

-- The q-quantile (0 < q < 1) of a latency histogram, ms; NULL when empty.
CREATE FUNCTION modelflags._latency_quantile(bins bigint[], q double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'modelflags_latency_quantile'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The upper bound of each latency bin, ms (the last is Infinity).
CREATE FUNCTION modelflags._latency_bounds()
RETURNS double precision[]
AS 'MODULE_PATHNAME', 'modelflags_latency_bounds'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

/*
 * The views, for people and exporters.  They read only the functions
 * above (the provider of a model comes from the routing cache), so that
 * they hold no dependency on a table column a DBA may alter.  Counts, rates and latency
 * quantiles cover the last modelflags.health_window (window_span); total_*
 * columns are monotonic since the entry was made (the server's start, or
 * health_reset()), for Prometheus counters.  failure_rate is a percentage
 * of the judged calls (ok, error, timeout, rate_limited: not
 * client_error).  state is what model_for finds: open until open_until,
 * then half_open.
 */
CREATE VIEW modelflags.model_health AS
SELECT e.model, e.provider, e.state, e.override, e.state_since, e.open_until, e.reason,
       e.level, e.consecutive_failures, e.probes_out, e.probes_ok,
       e.window_span, e.calls, e.ok, e.errors, e.timeouts, e.rate_limited, e.client_errors,
       round(100.0 * (e.errors + e.timeouts + e.rate_limited)
             / nullif(e.ok + e.errors + e.timeouts + e.rate_limited, 0), 1) AS failure_rate,
       round(modelflags._latency_quantile(e.latency_bins, 0.5)::numeric, 1) AS latency_p50_ms,
       round(modelflags._latency_quantile(e.latency_bins, 0.95)::numeric, 1) AS latency_p95_ms,
       round(modelflags._latency_quantile(e.latency_bins, 0.99)::numeric, 1) AS latency_p99_ms,
       e.opens, e.total_ok, e.total_errors, e.total_timeouts, e.total_rate_limited,
       e.total_client_errors, e.latency_count, e.latency_sum_ms, e.tokens_in, e.tokens_out,
       e.last_report_at, e.created_at
  FROM modelflags._health_entries() e
 WHERE e.feature IS NULL;
COMMENT ON VIEW modelflags.model_health IS
    'per model: circuit-breaker state and deadline, and calls, failure rate and latency quantiles over the health window (live, this server''s)';

CREATE VIEW modelflags.feature_health AS
SELECT e.feature, e.model, e.provider,
       e.window_span, e.calls, e.ok, e.errors, e.timeouts, e.rate_limited, e.client_errors,
       round(100.0 * (e.errors + e.timeouts + e.rate_limited)
             / nullif(e.ok + e.errors + e.timeouts + e.rate_limited, 0), 1) AS failure_rate,
       round(modelflags._latency_quantile(e.latency_bins, 0.5)::numeric, 1) AS latency_p50_ms,
       round(modelflags._latency_quantile(e.latency_bins, 0.95)::numeric, 1) AS latency_p95_ms,
       round(modelflags._latency_quantile(e.latency_bins, 0.99)::numeric, 1) AS latency_p99_ms,
       e.total_ok, e.total_errors, e.total_timeouts, e.total_rate_limited, e.total_client_errors,
       e.latency_count, e.latency_sum_ms, e.tokens_in, e.tokens_out,
       e.last_report_at, e.created_at
  FROM modelflags._health_entries() e
 WHERE e.feature IS NOT NULL;
COMMENT ON VIEW modelflags.feature_health IS
    'per (feature, model): calls, failure rate and latency quantiles over the health window (live, this server''s)';

-- A provider's health aggregates its models (as the routing cache assigns
-- them now), those with a health entry.
CREATE VIEW modelflags.provider_health AS
WITH e AS (
    SELECT h.* FROM modelflags._health_entries() h
     WHERE h.feature IS NULL AND h.provider IS NOT NULL
), bins AS (
    SELECT b.provider, pg_catalog.array_agg(b.n ORDER BY b.i) AS latency_bins
      FROM (SELECT e.provider, u.i, sum(u.n)::bigint AS n
              FROM e, unnest(e.latency_bins) WITH ORDINALITY AS u (n, i)
             GROUP BY e.provider, u.i) b
     GROUP BY b.provider
)
SELECT e.provider, bool_and(e.provider_available) AS available,
       count(*) AS models,
       count(*) FILTER (WHERE e.state = 'open') AS models_open,
       count(*) FILTER (WHERE e.state = 'half_open') AS models_half_open,
       sum(e.calls)::bigint AS calls, sum(e.ok)::bigint AS ok, sum(e.errors)::bigint AS errors,
       sum(e.timeouts)::bigint AS timeouts, sum(e.rate_limited)::bigint AS rate_limited,
       sum(e.client_errors)::bigint AS client_errors,
       round(100.0 * sum(e.errors + e.timeouts + e.rate_limited)
             / nullif(sum(e.ok + e.errors + e.timeouts + e.rate_limited), 0), 1) AS failure_rate,
       round(modelflags._latency_quantile(min(bins.latency_bins), 0.5)::numeric, 1) AS latency_p50_ms,
       round(modelflags._latency_quantile(min(bins.latency_bins), 0.95)::numeric, 1) AS latency_p95_ms,
       round(modelflags._latency_quantile(min(bins.latency_bins), 0.99)::numeric, 1) AS latency_p99_ms,
       sum(e.opens)::bigint AS opens,
       sum(e.total_ok)::bigint AS total_ok, sum(e.total_errors)::bigint AS total_errors,
       sum(e.total_timeouts)::bigint AS total_timeouts,
       sum(e.total_rate_limited)::bigint AS total_rate_limited,
       sum(e.total_client_errors)::bigint AS total_client_errors
  FROM e JOIN bins ON bins.provider = e.provider
 GROUP BY e.provider;
COMMENT ON VIEW modelflags.provider_health IS
    'per provider: its models'' breakers and their calls, failure rate and latency quantiles together (live, this server''s)';

-- Cumulative latency buckets per model since the entry was made, with
-- Prometheus's "le" (ms): histogram_quantile() over their rate.
CREATE VIEW modelflags.model_latency_buckets AS
SELECT e.model,
       CASE WHEN b.bound = 'Infinity' THEN '+Inf' ELSE round(b.bound::numeric, 3)::text END AS le,
       sum(t.n) OVER (PARTITION BY e.model ORDER BY t.i)::bigint AS count
  FROM modelflags._health_entries() e,
       unnest(e.total_latency_bins) WITH ORDINALITY AS t (n, i),
       unnest(modelflags._latency_bounds()) WITH ORDINALITY AS b (bound, i)
 WHERE e.feature IS NULL AND b.i = t.i;
COMMENT ON VIEW modelflags.model_latency_buckets IS
    'per model: cumulative counts of latencies up to each bound (le, ms) since the entry was made, for Prometheus histograms';

-- The transitions this server saw (newest last, up to 512), and whether
-- the worker recorded them in breaker_events: on a hot standby they stay
-- "pending", as nothing is written there.
CREATE VIEW modelflags.breaker_transitions AS
SELECT t.seq, t.at, t.model, t.event, t.from_state, t.to_state, t.reason, t.open_until,
       t.level, t.calls, t.failures, t.status
  FROM modelflags._health_transitions() t;
COMMENT ON VIEW modelflags.breaker_transitions IS
    'the circuit-breaker transitions this server saw (live), and whether they were recorded in breaker_events';

CREATE VIEW modelflags.health_status AS
SELECT s.capacity, s.entries, s.entries_here, s.reports_dropped, s.window_span, s.breaker,
       s.transitions_pending, s.transitions_lost, s.recorder_pid, s.clock_offset,
       s.shared_filters, s.shared_filter_bytes, s.shared_filter_memory
  FROM modelflags._health_status() s;
COMMENT ON VIEW modelflags.health_status IS
    'the health machinery of this server: entries used of modelflags.health_max_entries, reports dropped for want of room, transitions not yet recorded or lost; large actor sets'' Bloom filters kept in shared memory, the bytes they take of modelflags.shared_filter_memory';

-- 90_privileges.sql
REVOKE EXECUTE ON FUNCTION modelflags.report(text, text, text, double precision, bigint, bigint),
                           modelflags.report_batch(jsonb),
                           modelflags.set_breaker(text, text, numeric, integer, integer, interval,
                                                  interval, interval, integer, interval, text),
                           modelflags.health_reset(text)
    FROM PUBLIC;
GRANT SELECT ON modelflags.model_health, modelflags.feature_health, modelflags.provider_health,
                modelflags.model_latency_buckets, modelflags.breaker_transitions,
                modelflags.health_status
   TO PUBLIC;

/*
 * A cheaper audit (issue 9, item 1): every write's audit trigger parsed and
 * planned its statements anew (EXECUTE of a built string), about 1 ms of a
 * flag flip, on the cores the readers share.  The same rows, from static
 * statements that PL/pgSQL plans once per session (20_audit.sql).
 */
-- 20_audit.sql
CREATE OR REPLACE FUNCTION modelflags._audit() RETURNS trigger
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
