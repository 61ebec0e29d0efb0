--
-- health_report: report(), report_batch() and the health windows (SPEC §7
-- O, issue 11 items 1 and 2), with modelflags preloaded.
--
-- Proves:
--   - each outcome is counted per model and per (feature, model), in the
--     window and in the monotonic totals; client_error never counts against
--     a model (the failure rate leaves it out); latency quantiles come from
--     the histogram; an unmeasured latency stays out of it; tokens add up;
--   - a provider's health aggregates its models;
--   - report() writes no WAL and works in a read-only transaction;
--   - every bad argument is an ERROR with its SQLSTATE, and nothing counts;
--   - report_batch counts all its reports or none;
--   - capacity is bounded (modelflags.health_max_entries = 40 here): a
--     report that finds no room is counted as dropped, with a WARNING, and
--     health_reset() frees the room.
--
\set SHOW_CONTEXT never
SELECT modelflags.health_reset() >= 0 AS reset;

-- Outcomes, windows, totals.
-- (never five failures in a row: that would open the breaker)
SELECT regress_h.report('code_generations', 'claude', 'error', 3, 200);
SELECT regress_h.report('code_generations', 'claude', 'timeout', 1, 30000);
SELECT regress_h.report('code_generations', 'claude', 'ok', 90, 100);
SELECT regress_h.report('code_generations', 'claude', 'rate_limited', 1, 50);
SELECT regress_h.report('code_generations', 'claude', 'ok', 10, 5000);
SELECT regress_h.report('code_generations', 'claude', 'client_error', 100, 20);
SELECT modelflags.report('duo_chat', 'claude', 'ok', NULL, tokens_in => 1200, tokens_out => 345);
SELECT modelflags.report('duo_chat', 'claude', 'ok', 80, 800, 45);
SELECT model, provider, state, calls, ok, errors, timeouts, rate_limited, client_errors,
       failure_rate, latency_p50_ms, latency_p95_ms, latency_p99_ms, consecutive_failures, opens,
       total_ok, total_errors, total_timeouts, total_rate_limited, total_client_errors,
       latency_count, latency_sum_ms, tokens_in, tokens_out, window_span
  FROM modelflags.model_health ORDER BY model;
-- 5 failures of 106 judged calls (4.7%), so closed; 100 client errors changed nothing.
SELECT feature, model, calls, ok, errors, client_errors, failure_rate, latency_p50_ms, tokens_in
  FROM modelflags.feature_health ORDER BY feature, model;
-- The latency histogram as Prometheus sees it: cumulative, ending in +Inf.
SELECT le, count FROM modelflags.model_latency_buckets
 WHERE model = 'claude' AND le IN ('16.000', '22.627', '128.000', '4096.000', '5792.619', '32768.000', '+Inf')
 ORDER BY count, le = '+Inf', le;

-- A provider's health: its models together.
SELECT regress_h.report('code_completions', 'claude_haiku', 'error', 4, 400);
SELECT provider, available, models, models_open, calls, ok, errors, failure_rate, latency_p50_ms
  FROM modelflags.provider_health ORDER BY provider;

-- No WAL, and fine in a read-only transaction (so on a hot standby).
EXPLAIN (ANALYZE, WAL, COSTS OFF, SUMMARY OFF, TIMING OFF)
SELECT modelflags.report('code_completions', 'codestral', 'ok', 10) FROM generate_series(1, 1000);
BEGIN READ ONLY;
SELECT modelflags.report('code_completions', 'codestral', 'ok', 12);
SELECT modelflags.report_batch('[{"feature": "code_completions", "model": "codestral", "outcome": "ok"}]');
COMMIT;
SELECT model, calls, ok FROM modelflags.model_health WHERE model = 'codestral';
-- A model that is not on the feature's routes is still a model: counted.
SELECT modelflags.report('duo_chat', 'codestral', 'ok', 10);
SELECT feature, model, calls FROM modelflags.feature_health WHERE model = 'codestral' ORDER BY feature;

-- Bad arguments: an error each, and nothing counted.
SELECT calls AS before FROM modelflags.model_health WHERE model = 'claude' \gset
SELECT t.* FROM (VALUES
    ($$SELECT modelflags.report(NULL, 'claude', 'ok')$$),
    ($$SELECT modelflags.report('code_generations', NULL, 'ok')$$),
    ($$SELECT modelflags.report('code_generations', 'claude', NULL)$$),
    ($$SELECT modelflags.report('nope', 'claude', 'ok')$$),
    ($$SELECT modelflags.report('Bad Name', 'claude', 'ok')$$),
    ($$SELECT modelflags.report(repeat('a', 300), 'claude', 'ok')$$),
    ($$SELECT modelflags.report('code_generations', 'nope', 'ok')$$),
    ($$SELECT modelflags.report('code_generations', 'Nope!', 'ok')$$),
    ($$SELECT modelflags.report('code_generations', repeat('m', 256), 'ok')$$),
    ($$SELECT modelflags.report('code_generations', 'claude', 'OK')$$),
    ($$SELECT modelflags.report('code_generations', 'claude', 'fail')$$),
    ($$SELECT modelflags.report('code_generations', 'claude', '')$$),
    ($$SELECT modelflags.report('code_generations', 'claude', 'ok', -1)$$),
    ($$SELECT modelflags.report('code_generations', 'claude', 'ok', 'NaN')$$),
    ($$SELECT modelflags.report('code_generations', 'claude', 'ok', 'Infinity')$$),
    ($$SELECT modelflags.report('code_generations', 'claude', 'ok', 86400001)$$),
    ($$SELECT modelflags.report('code_generations', 'claude', 'ok', 10, -5)$$),
    ($$SELECT modelflags.report('code_generations', 'claude', 'ok', 10, 5, -1)$$)
) AS s (stmt), LATERAL regress_h.try(s.stmt) t;
SELECT calls = :before AS nothing_counted FROM modelflags.model_health WHERE model = 'claude';
-- The hint says what the outcomes mean.
SELECT modelflags.report('code_generations', 'claude', 'failure');

-- report_batch: all or nothing.
SELECT modelflags.report_batch('[]') AS none;
SELECT modelflags.report_batch($$[
    {"feature": "code_generations", "model": "gemini", "outcome": "ok", "latency_ms": 250},
    {"feature": "code_generations", "model": "gemini", "outcome": "timeout", "latency_ms": 60000, "tokens_in": 10},
    {"feature": "code_completions", "model": "codestral", "outcome": "client_error", "latency_ms": null,
     "tokens_in": null, "tokens_out": 3}
]$$) AS recorded;
SELECT model, calls, ok, timeouts, tokens_in FROM modelflags.model_health WHERE model = 'gemini';
SELECT t.* FROM (VALUES
    ($$SELECT modelflags.report_batch(NULL)$$),
    ($$SELECT modelflags.report_batch('{"feature": "code_generations"}')$$),
    ($$SELECT modelflags.report_batch('"ok"')$$),
    ($$SELECT modelflags.report_batch('[1]')$$),
    ($$SELECT modelflags.report_batch('[{"feature": "code_generations", "model": "gemini"}]')$$),
    ($$SELECT modelflags.report_batch('[{"feature": "code_generations", "outcome": "ok"}]')$$),
    ($$SELECT modelflags.report_batch('[{"model": "gemini", "outcome": "ok"}]')$$),
    ($$SELECT modelflags.report_batch('[{"feature": "code_generations", "model": "gemini", "outcome": "ok", "colour": "red"}]')$$),
    ($$SELECT modelflags.report_batch('[{"feature": 1, "model": "gemini", "outcome": "ok"}]')$$),
    ($$SELECT modelflags.report_batch('[{"feature": "code_generations", "model": "gemini", "outcome": "ok", "latency_ms": "fast"}]')$$),
    ($$SELECT modelflags.report_batch('[{"feature": "code_generations", "model": "gemini", "outcome": "ok", "tokens_in": 1.5}]')$$),
    ($$SELECT modelflags.report_batch('[{"feature": "code_generations", "model": "gemini", "outcome": "ok", "tokens_out": -2}]')$$),
    ($$SELECT modelflags.report_batch('[{"feature": "code_generations", "model": "gemini", "outcome": "ok"},
                                        {"feature": "code_generations", "model": "gemini", "outcome": "ok"},
                                        {"feature": "code_generations", "model": "gemini", "outcome": "late"}]')$$),
    ($$SELECT modelflags.report_batch('[{"feature": "code_generations", "model": "gemini", "outcome": "ok", "latency_ms": -3}]')$$),
    ($$SELECT modelflags.report_batch('[{"feature": "nope", "model": "gemini", "outcome": "ok"}]')$$),
    ($$SELECT modelflags.report_batch((SELECT jsonb_agg('{"feature": "duo_chat", "model": "claude", "outcome": "ok"}'::jsonb)
                                         FROM generate_series(1, 10001)))$$)
) AS s (stmt), LATERAL regress_h.try(s.stmt) t;
SELECT model, calls, ok FROM modelflags.model_health WHERE model = 'gemini';

-- Capacity: 40 entries here, the last 4 kept for models.  Twelve more
-- models reporting into three features each need 48: some are dropped,
-- counted, and said so once.
INSERT INTO modelflags.providers (name) VALUES ('spare');
INSERT INTO modelflags.models (name, provider) SELECT 'm' || i, 'spare' FROM generate_series(1, 12) i;
SELECT entries, reports_dropped FROM modelflags.health_status;
SELECT count(*) AS reports FROM generate_series(1, 12) i, unnest(ARRAY['code_generations', 'code_completions', 'duo_chat']) f,
       LATERAL (SELECT modelflags.report(f, 'm' || i, 'ok', 5)) r;
SELECT capacity, entries, reports_dropped > 0 AS dropped_counted FROM modelflags.health_status;
-- every model still got its own entry (pairs leave the last 10% to models)
SELECT count(*) AS models_with_entries FROM modelflags.model_health WHERE model LIKE 'm%';
SELECT modelflags.health_reset('m1') AS freed_m1;
SELECT modelflags.health_reset() AS freed;
SELECT entries_here, reports_dropped FROM modelflags.health_status;
SELECT count(*) AS rows_after_reset FROM modelflags.model_health;
DELETE FROM modelflags.models WHERE provider = 'spare';
DELETE FROM modelflags.providers WHERE name = 'spare';

-- A feature deleted by another change after this backend built its state:
-- the delta leaves its name in the map as "gone", and a report naming it is
-- "does not exist" (the SQL fuzzer found a segfault here: the gone entry was
-- taken for a feature index).
INSERT INTO modelflags.features (name) VALUES ('short_lived');
INSERT INTO modelflags.routes (feature, position, model) VALUES ('short_lived', 1, 'claude');
SELECT modelflags.report('short_lived', 'claude', 'ok', 10);
DELETE FROM modelflags.features WHERE name = 'short_lived';
SELECT last_refresh FROM modelflags.cache_info();
SELECT modelflags.report('short_lived', 'claude', 'ok', 10);
SELECT modelflags.report_batch('[{"feature": "short_lived", "model": "claude", "outcome": "client_error"}]');
SELECT last_refresh FROM modelflags.cache_info();
SELECT modelflags.health_reset() >= 0 AS reset;
