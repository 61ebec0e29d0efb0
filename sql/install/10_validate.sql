
/*
 * 10_validate.sql — row validation with precise messages.
 *
 * The CHECKs and foreign keys of 00_schema.sql are the backstop; these
 * BEFORE ROW triggers run first and answer each bad value with its own
 * SQLSTATE and a message that names it.  The write functions go through the
 * same triggers, so a plain INSERT/UPDATE is validated exactly as they are.
 */

-- A value quoted for an error message, cut short when it is huge so that a
-- multi-megabyte input does not become a multi-megabyte log line.  Every
-- function and type below is written schema-qualified (see
-- 00_install_guard.sql): they run per row, as whoever writes, with the
-- writer's search_path, and a SET search_path clause would cost a GUC
-- save/restore per call.  Only immutable functions, so it can be inlined.
CREATE FUNCTION modelflags._quote_abbrev(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN value IS NULL THEN 'NULL'
            WHEN pg_catalog.length(value) OPERATOR(pg_catalog.<=) 64
                THEN '"' OPERATOR(pg_catalog.||) value OPERATOR(pg_catalog.||) '"'
            ELSE '"' OPERATOR(pg_catalog.||) pg_catalog.left(value, 64) OPERATOR(pg_catalog.||) '..." ('
                 OPERATOR(pg_catalog.||) pg_catalog.octet_length(value)::pg_catalog.text
                 OPERATOR(pg_catalog.||) ' bytes)' END;

-- Names of providers, models and features: lowercase words joined by _ . or -.
CREATE FUNCTION modelflags._check_name(kind text, value text) RETURNS void
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

CREATE FUNCTION modelflags._check_percentage(gate text, flag text, value numeric) RETURNS void
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

-- Request parameters: a JSON object whose well-known keys have the types
-- LiteLLM and the AI gateway expect.  Unknown keys pass through untouched.
CREATE FUNCTION modelflags._check_params(owner text, params jsonb) RETURNS void
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
    IF NEW.provider IS NULL OR pg_catalog.octet_length(NEW.provider) OPERATOR(pg_catalog.>) 255 THEN
        PERFORM modelflags._check_name('provider', NEW.provider);
    END IF;
    PERFORM modelflags._check_params(pg_catalog.format('model "%s"', NEW.name), NEW.params);
    RETURN NEW;
END $$;

CREATE FUNCTION modelflags._validate_flag() RETURNS trigger
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

CREATE FUNCTION modelflags._validate_flag_actor() RETURNS trigger
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

CREATE TRIGGER providers_validate BEFORE INSERT OR UPDATE ON modelflags.providers
    FOR EACH ROW EXECUTE FUNCTION modelflags._validate_provider();
CREATE TRIGGER models_validate BEFORE INSERT OR UPDATE ON modelflags.models
    FOR EACH ROW EXECUTE FUNCTION modelflags._validate_model();
CREATE TRIGGER flags_validate BEFORE INSERT OR UPDATE ON modelflags.flags
    FOR EACH ROW EXECUTE FUNCTION modelflags._validate_flag();
-- flag_actors takes bulk loads of millions of rows: the WHEN clause (checked
-- by the executor, no function call) lets only a bad row reach the function.
-- It is bound when the trigger is created, qualified as everything here.
CREATE TRIGGER flag_actors_validate BEFORE INSERT OR UPDATE ON modelflags.flag_actors
    FOR EACH ROW
    WHEN (NEW.flag IS NULL OR pg_catalog.octet_length(NEW.flag) OPERATOR(pg_catalog.>) 255
          OR NEW.actor IS NULL OR NEW.actor OPERATOR(pg_catalog.=) ''
          OR pg_catalog.octet_length(NEW.actor) OPERATOR(pg_catalog.>) 1024)
    EXECUTE FUNCTION modelflags._validate_flag_actor();
CREATE TRIGGER features_validate BEFORE INSERT OR UPDATE ON modelflags.features
    FOR EACH ROW EXECUTE FUNCTION modelflags._validate_feature();
CREATE TRIGGER routes_validate BEFORE INSERT OR UPDATE ON modelflags.routes
    FOR EACH ROW EXECUTE FUNCTION modelflags._validate_route();
