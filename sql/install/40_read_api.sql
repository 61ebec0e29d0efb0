
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
-- degraded (1.1): every applying route's model had an open circuit breaker,
-- and this one, due back first, was served anyway (50_health.sql).
CREATE TYPE modelflags.model_choice AS (
    model      text,
    provider   text,
    params     jsonb,
    flag       text,
    gate       text,
    "position" integer,
    skipped    integer,
    degraded   boolean
);
COMMENT ON TYPE modelflags.model_choice IS 'the answer of model_for';

-- The C symbol names the version of model_choice it returns: a library
-- serving a database still at 1.0 answers it with 1.0's seven columns.
CREATE FUNCTION modelflags.model_for(feature text, actor text DEFAULT NULL)
RETURNS modelflags.model_choice
AS 'MODULE_PATHNAME', 'modelflags_model_for_1_1'
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
                                      OUT actor_sets_loaded bigint, OUT memory_bytes bigint,
                                      OUT patches bigint, OUT last_refresh text,
                                      OUT last_refresh_reason text)
RETURNS record
AS 'MODULE_PATHNAME', 'modelflags_cache_info'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION modelflags.cache_info() IS
    'this backend''s compiled routing cache: whether it is valid, how often it was built or patched by a delta, how it was last brought up to date and why, its size and memory';
