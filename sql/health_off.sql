--
-- health_off: model health without shared_preload_libraries (SPEC §7 O).
-- This suite's server does not preload modelflags (test/stages/20_regress.sh),
-- which is how every 1.0 installation runs.
--
-- Proves:
--   - report(), report_batch(), health_reset() and every health view raise
--     55000 with the message and the hint that say what to do;
--   - model_for, explain, is_enabled and the writes work as before, and
--     model_for's answer says degraded = false: without shared memory there
--     is no breaker, so nothing is ever skipped for health;
--   - the breaker settings are an ordinary table: set_breaker and plain DML
--     work, are validated with precise errors, audited and notified, and a
--     forced open changes nothing without the preloaded library;
--   - model health's GUCs: modelflags.breaker and the breaker_* defaults
--     are there; the shared-memory ones are not (they need the preload).
-- (The stage test/stages/25_health.sh runs the rest with the library preloaded.)
--
\set SHOW_CONTEXT never
\set VERBOSITY default
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
TRUNCATE modelflags.breaker_settings;
SELECT coalesce(max(id), 0) AS base FROM modelflags.changes \gset

INSERT INTO modelflags.providers (name) VALUES ('anthropic'), ('vertex_ai');
INSERT INTO modelflags.models (name, provider) VALUES ('claude', 'anthropic'), ('gemini', 'vertex_ai');
INSERT INTO modelflags.features (name) VALUES ('code_generations');
INSERT INTO modelflags.routes (feature, position, model) VALUES
    ('code_generations', 1, 'claude'), ('code_generations', 2, 'gemini');

-- Each health entry point: 55000, message, hint.
SELECT modelflags.report('code_generations', 'claude', 'error', 100);
SELECT * FROM regress_util.try($$SELECT modelflags.report('code_generations', 'claude', 'ok')$$);
SELECT * FROM regress_util.try($$SELECT modelflags.report_batch('[]')$$);
SELECT * FROM regress_util.try($$SELECT modelflags.health_reset()$$);
SELECT v AS view, t.code, t.message
  FROM unnest(ARRAY['model_health', 'feature_health', 'provider_health', 'model_latency_buckets',
                    'breaker_transitions', 'health_status']) v,
       LATERAL regress_util.try(format('SELECT * FROM modelflags.%I', v)) t
 ORDER BY v;

-- Routing is 1.0's: the first applying route, never degraded.
SELECT * FROM modelflags.model_for('code_generations', 'User:1');
SELECT position, decision, reason FROM modelflags.explain('code_generations', 'User:1');

-- The settings are a table: written, validated, audited.
SELECT * FROM modelflags.set_breaker('claude', override => 'open', failure_rate => 25,
                                     open_time => '10 seconds', note => 'INC-9');
SELECT * FROM modelflags.set_breaker('claude', min_calls => 5);
SELECT * FROM modelflags.set_breaker('claude', override => 'auto');
UPDATE modelflags.breaker_settings SET probes = 2 WHERE model = 'claude';
INSERT INTO modelflags.breaker_settings (model, override) VALUES ('gemini', 'closed');
SELECT table_name, operation, key, new_row->>'override' AS override, note
  FROM modelflags.changes WHERE id > :base AND table_name = 'breaker_settings' ORDER BY id;
-- A forced open makes no difference without the preloaded library.
UPDATE modelflags.breaker_settings SET override = 'open';
SELECT model, skipped, degraded FROM modelflags.model_for('code_generations', 'User:1');

-- Bad settings: each with its own SQLSTATE and message.
SELECT * FROM regress_util.try($$SELECT modelflags.set_breaker('nope')$$);
SELECT * FROM regress_util.try($$SELECT modelflags.set_breaker(NULL)$$);
SELECT * FROM regress_util.try($$SELECT modelflags.set_breaker('claude', override => 'shut')$$);
SELECT * FROM regress_util.try($$SELECT modelflags.set_breaker('claude', failure_rate => 0)$$);
SELECT * FROM regress_util.try($$SELECT modelflags.set_breaker('claude', failure_rate => 100.5)$$);
SELECT * FROM regress_util.try($$SELECT modelflags.set_breaker('claude', min_calls => 0)$$);
SELECT * FROM regress_util.try($$SELECT modelflags.set_breaker('claude', consecutive_failures => -1)$$);
SELECT * FROM regress_util.try($$SELECT modelflags.set_breaker('claude', probes => 101)$$);
SELECT * FROM regress_util.try($$SELECT modelflags.set_breaker('claude', failure_window => '2 hours')$$);
SELECT * FROM regress_util.try($$SELECT modelflags.set_breaker('claude', open_time => '0.5 seconds')$$);
SELECT * FROM regress_util.try($$SELECT modelflags.set_breaker('claude', max_open_time => '1 month')$$);
SELECT * FROM regress_util.try($$SELECT modelflags.set_breaker('claude', probe_timeout => '-1 minute')$$);
SELECT * FROM regress_util.try($$SELECT modelflags.set_breaker('claude', open_time => '1 minute', max_open_time => '30 seconds')$$);
SELECT * FROM regress_util.try($$INSERT INTO modelflags.breaker_settings (model) VALUES ('nope')$$);
SELECT * FROM regress_util.try($$UPDATE modelflags.breaker_settings SET override = 'half'$$);

-- Settings do not stand in the way of deleting a model; they wait, unused.
DELETE FROM modelflags.routes WHERE model = 'gemini';
DELETE FROM modelflags.models WHERE name = 'gemini';
SELECT model, override FROM modelflags.breaker_settings ORDER BY model;

-- The transition audit is append-only (a row as the recorder writes it).
INSERT INTO modelflags.breaker_events (at, model, event, from_state, to_state, reason, level, server_seq)
VALUES (now(), 'claude', 'open', 'closed', 'open', '5 consecutive failures', 1, 1);
SELECT * FROM regress_util.try($$DELETE FROM modelflags.breaker_events$$);
SELECT * FROM regress_util.try($$UPDATE modelflags.breaker_events SET reason = 'forged'$$);
SELECT * FROM regress_util.try($$TRUNCATE modelflags.breaker_events$$);
-- ... pruned deliberately as its hint says.
ALTER TABLE modelflags.breaker_events DISABLE TRIGGER breaker_events_append_only;
DELETE FROM modelflags.breaker_events;
ALTER TABLE modelflags.breaker_events ENABLE TRIGGER breaker_events_append_only;

-- The GUCs: routing and breaker defaults exist; shared-memory ones need the preload.
SELECT name, setting, unit, context FROM pg_settings
 WHERE name LIKE 'modelflags.breaker%' OR name LIKE 'modelflags.health%' ORDER BY name;

TRUNCATE modelflags.breaker_settings;
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
