--
-- health_setup: the configuration every health test routes over, and
-- helpers.  Runs first (test/stages/25_health.sh); the server preloads
-- modelflags with modelflags.health_max_entries = 40.
--
CREATE EXTENSION modelflags;
INSERT INTO modelflags.providers (name) VALUES ('anthropic'), ('vertex_ai'), ('fireworks_ai');
INSERT INTO modelflags.models (name, provider) VALUES
    ('claude', 'anthropic'), ('claude_haiku', 'anthropic'),
    ('gemini', 'vertex_ai'), ('codestral', 'fireworks_ai');
INSERT INTO modelflags.features (name) VALUES ('code_generations'), ('code_completions'), ('duo_chat');
-- code_generations: claude, then gemini (GitLab's fallback after the default)
-- code_completions: codestral, then claude_haiku
-- duo_chat: claude only
INSERT INTO modelflags.routes (feature, position, model) VALUES
    ('code_generations', 1, 'claude'), ('code_generations', 2, 'gemini'),
    ('code_completions', 1, 'codestral'), ('code_completions', 2, 'claude_haiku'),
    ('duo_chat', 1, 'claude');

CREATE SCHEMA regress_h;
GRANT USAGE ON SCHEMA regress_h TO PUBLIC;

-- Runs stmt, returns its SQLSTATE and message (00000 / ok when it succeeds).
CREATE FUNCTION regress_h.try(stmt text, OUT code text, OUT message text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    code := '00000';
    message := 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
END $$;

-- n reports of one outcome.
CREATE FUNCTION regress_h.report(feature text, model text, outcome text, n integer,
                                 latency double precision DEFAULT 100)
RETURNS void LANGUAGE sql AS $$
    SELECT modelflags.report(feature, model, outcome, latency) FROM generate_series(1, n)
$$;

-- Runs the boolean query q every 50 ms until it is true, for at most 60 s;
-- its last answer.
CREATE FUNCTION regress_h.poll(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    ok boolean;
BEGIN
    FOR i IN 1 .. 1200 LOOP
        EXECUTE q INTO ok;
        EXIT WHEN ok;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN ok;
END $$;

-- Waits (up to 60 s) until the recorder has written n breaker_events rows.
CREATE FUNCTION regress_h.wait_recorded(n integer) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    have integer;
BEGIN
    PERFORM regress_h.poll(format('SELECT count(*) >= %s FROM modelflags.breaker_events', n));
    SELECT count(*) INTO have FROM modelflags.breaker_events;
    IF have >= n THEN
        RETURN format('%s recorded', have);
    END IF;
    RETURN format('only %s of %s recorded after 60 s', have, n);
END $$;

-- explain's reasons with the wall-clock time masked.
CREATE FUNCTION regress_h.explain(feature text)
RETURNS TABLE ("position" integer, model text, decision text, reason text)
LANGUAGE sql AS $$
    SELECT e.position, e.model, e.decision,
           regexp_replace(e.reason, '\d\d:\d\d:\d\d', 'HH:MM:SS', 'g')
      FROM modelflags.explain(feature, 'User:1') e
$$;

SELECT capacity, entries_here, reports_dropped, window_span, breaker FROM modelflags.health_status;
