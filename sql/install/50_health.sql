
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
