--
-- health_parallel: the health functions and views in a query that runs in
-- parallel mode.  A query with a Gather node anywhere in its plan runs in
-- parallel mode from start to end, and its PARALLEL RESTRICTED functions
-- (model_for, report, the health views' _health_* functions) run in the
-- leader while it is: no new snapshot can be taken there.  sqlsmith found
-- the breaker settings read with one (XX000 "cannot update
-- SecondarySnapshot during a parallel operation"); in parallel mode they
-- are now read with the statement's snapshot and read again by the next
-- call outside it (test/health/specs/health_settings_parallel.spec).
--
SELECT modelflags.health_reset() >= 0 AS reset;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET force_parallel_mode = on;
-- The subquery on providers is a parallel plan: the query runs in parallel mode.
EXPLAIN (COSTS OFF)
SELECT (SELECT count(*) FROM modelflags.providers) AS providers, model, state
  FROM modelflags.model_health ORDER BY model;

-- A settings change (an invalidation): the next call, in parallel mode,
-- reads the settings there (claude forced open), and so does the one after
-- the next change (the override removed).
SELECT model, override FROM modelflags.set_breaker('claude', override => 'open');
SELECT (SELECT count(*) FROM modelflags.providers) AS providers, model, position, skipped
  FROM modelflags.model_for('code_generations', 'User:1');
SELECT (SELECT count(*) FROM modelflags.providers) AS providers,
       modelflags.report('code_generations', 'gemini', 'ok', 120) AS reported;
SELECT (SELECT count(*) FROM modelflags.providers) AS providers,
       modelflags.report_batch('[{"feature": "code_generations", "model": "claude", "outcome": "error"}]') AS reported;
SELECT (SELECT count(*) FROM modelflags.providers) AS providers, model, state, override
  FROM modelflags.model_health ORDER BY model;
SELECT model, override FROM modelflags.set_breaker('claude', override => 'auto');
SELECT (SELECT count(*) FROM modelflags.providers) AS providers, model, state, override
  FROM modelflags.model_health ORDER BY model;
SELECT (SELECT count(*) FROM modelflags.providers) AS providers, model, position, skipped
  FROM modelflags.model_for('code_generations', 'User:1');
-- The other views, beside a parallel subquery.
SELECT (SELECT count(*) FROM modelflags.providers) AS providers, feature, model, calls, ok, errors
  FROM modelflags.feature_health ORDER BY feature, model;
SELECT (SELECT count(*) FROM modelflags.providers) AS providers, provider, models, calls, ok, errors
  FROM modelflags.provider_health ORDER BY provider;
SELECT (SELECT count(*) FROM modelflags.providers) AS providers, entries > 0 AS has_entries
  FROM modelflags.health_status;
SELECT (SELECT count(*) FROM modelflags.providers) AS providers, count(*) > 0 AS has_transitions
  FROM modelflags.breaker_transitions;
SELECT (SELECT count(*) FROM modelflags.providers) AS providers, count(*) AS buckets, max(count) AS calls
  FROM modelflags.model_latency_buckets WHERE model = 'gemini';
-- Outside parallel mode: the same.
RESET force_parallel_mode;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
SELECT model, state, override FROM modelflags.model_health ORDER BY model;
SELECT model, position, skipped FROM modelflags.model_for('code_generations', 'User:1');
DELETE FROM modelflags.breaker_settings;
