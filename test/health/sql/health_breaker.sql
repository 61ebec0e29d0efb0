--
-- health_breaker: the circuit breaker end to end (SPEC §7 O, issue 11
-- item 3), driven by modelflags.health_clock_offset instead of sleeping.
--
-- Proves, with the documented defaults (5 failures in a row, or 50% of at
-- least 20 calls over 60 s; open 30 s, doubling up to 300 s; 3 probes;
-- probes unreported for 60 s fail):
--   - five failures in a row open a breaker: model_for skips the model
--     like an unavailable provider's (the next applying route wins,
--     skipped counts it), and explain says why and until when;
--   - a feature whose every applying route is open is still served, by
--     the model due back first, and the answer says degraded;
--   - after the cool-down, half-open: three probes are admitted (and
--     only three), explain shows them without taking one, and their
--     successes close the breaker;
--   - a failed probe re-opens it for twice as long, failing while open
--     pushes the deadline back, probes that never report fail after the
--     probe timeout, and the cool-down stops growing at max_open_time;
--   - the failure rate opens a breaker only once min_calls judged calls
--     are in the window, old failures leave the window, and client errors
--     never count;
--   - per-model settings and the manual override (open, closed, auto);
--   - every transition is in breaker_transitions, and the recorder writes
--     each into breaker_events with its figures.
--
\set SHOW_CONTEXT never
SELECT modelflags.health_reset() >= 0 AS reset;
SELECT max(id) IS NULL AS no_events_yet FROM modelflags.breaker_events;

-- A. Five failures in a row.
SELECT regress_h.report('code_generations', 'claude', 'error', 4);
SELECT model, skipped, degraded FROM modelflags.model_for('code_generations', 'User:1');
SELECT regress_h.report('code_generations', 'claude', 'error', 1);
SELECT model, position, skipped, degraded FROM modelflags.model_for('code_generations', 'User:1');
SELECT * FROM regress_h.explain('code_generations');
SELECT model, state, reason, level, consecutive_failures, opens,
       extract(epoch FROM open_until - state_since)::int AS open_for_s
  FROM modelflags.model_health WHERE model = 'claude';
-- duo_chat has claude only: served anyway, and the answer says so.
SELECT model, position, skipped, degraded FROM modelflags.model_for('duo_chat', 'User:1');
SELECT * FROM regress_h.explain('duo_chat');

-- B. The cool-down, then three probes.
SET modelflags.health_clock_offset = '25s';
SELECT model, degraded FROM modelflags.model_for('code_generations', 'User:1');
SET modelflags.health_clock_offset = '31s';
SELECT * FROM regress_h.explain('code_generations');      -- looks, takes no probe
SELECT model, state, probes_out FROM modelflags.model_health WHERE model = 'claude';
SELECT model, skipped, degraded FROM modelflags.model_for('code_generations', 'User:1');
SELECT model, state, probes_out FROM modelflags.model_health WHERE model = 'claude';
SELECT model FROM modelflags.model_for('code_generations', 'User:1');
SELECT model FROM modelflags.model_for('code_generations', 'User:1');
-- every probe is out: the next caller goes on to gemini
SELECT model, skipped FROM modelflags.model_for('code_generations', 'User:1');
SELECT * FROM regress_h.explain('code_generations');
SELECT regress_h.report('code_generations', 'claude', 'ok', 2);
SELECT model, state, probes_out, probes_ok FROM modelflags.model_health WHERE model = 'claude';
SELECT regress_h.report('code_generations', 'claude', 'ok', 1);
SELECT model, state, level, opens FROM modelflags.model_health WHERE model = 'claude';
SELECT model, skipped FROM modelflags.model_for('code_generations', 'User:1');

-- C. Failing again: open for 60 s (the level is kept while it decays),
-- then a failed probe: 120 s.
SELECT regress_h.report('code_generations', 'claude', 'error', 5);
SELECT state, level, extract(epoch FROM open_until - state_since)::int AS open_for_s
  FROM modelflags.model_health WHERE model = 'claude';
SET modelflags.health_clock_offset = '92s';
SELECT model FROM modelflags.model_for('code_generations', 'User:1');
SELECT regress_h.report('code_generations', 'claude', 'error', 1);
SELECT state, reason, level, extract(epoch FROM open_until - state_since)::int AS open_for_s
  FROM modelflags.model_health WHERE model = 'claude';
-- Failing while open (calls that were in flight): the deadline moves back, never forward.
SET modelflags.health_clock_offset = '97s';
SELECT regress_h.report('code_generations', 'claude', 'timeout', 3);
SELECT state, level, extract(epoch FROM open_until - state_since)::int BETWEEN 125 AND 135 AS moved_back_5s
  FROM modelflags.model_health WHERE model = 'claude';
-- A probe that never reports fails after the probe timeout (60 s): 240 s.
SET modelflags.health_clock_offset = '240s';
SELECT model FROM modelflags.model_for('code_generations', 'User:1');
SELECT state, probes_out FROM modelflags.model_health WHERE model = 'claude';
SET modelflags.health_clock_offset = '301s';
SELECT model FROM modelflags.model_for('code_generations', 'User:1');
SELECT state, reason, level, extract(epoch FROM open_until - state_since)::int AS open_for_s
  FROM modelflags.model_health WHERE model = 'claude';
-- The cool-down stops at max_open_time (a per-model setting here): 3 min, not 480 s.
SELECT model, max_open_time FROM modelflags.set_breaker('claude', max_open_time => '3 minutes');
SET modelflags.health_clock_offset = '545s';
SELECT model FROM modelflags.model_for('code_generations', 'User:1');
SELECT regress_h.report('code_generations', 'claude', 'rate_limited', 1);
SELECT state, level, extract(epoch FROM open_until - state_since)::int AS open_for_s
  FROM modelflags.model_health WHERE model = 'claude';

-- D. Every applying route open: the one due back first.  gemini opens for
-- 30 s, claude is open for 180 s: gemini is served, degraded; once its
-- cool-down is over it is probed, no longer degraded.
SELECT regress_h.report('code_generations', 'gemini', 'error', 5);
SELECT model, skipped, degraded FROM modelflags.model_for('code_generations', 'User:1');
SELECT * FROM regress_h.explain('code_generations');
SET modelflags.health_clock_offset = '580s';
SELECT model, skipped, degraded FROM modelflags.model_for('code_generations', 'User:1');
SELECT regress_h.report('code_generations', 'gemini', 'ok', 3);

-- E. The failure rate (consecutive failures off for codestral): not before
-- min_calls judged calls, then at the threshold; client errors never count.
SELECT model, failure_rate, min_calls, consecutive_failures
  FROM modelflags.set_breaker('codestral', consecutive_failures => 0, min_calls => 10, failure_rate => 50);
SELECT regress_h.report('code_completions', 'codestral', 'client_error', 200);
SELECT regress_h.report('code_completions', 'codestral', 'error', 9);
SELECT model, state, calls, failure_rate FROM modelflags.model_health WHERE model = 'codestral';
-- Those nine leave the window (60 s): one more failure is one of one.
SET modelflags.health_clock_offset = '641s';
SELECT regress_h.report('code_completions', 'codestral', 'error', 1);
SELECT model, state, calls, failure_rate FROM modelflags.model_health WHERE model = 'codestral';
SELECT regress_h.report('code_completions', 'codestral', 'ok', 5);
SELECT regress_h.report('code_completions', 'codestral', 'error', 3);
SELECT model, state, calls, failure_rate FROM modelflags.model_health WHERE model = 'codestral';
SELECT regress_h.report('code_completions', 'codestral', 'error', 1);
SELECT model, state, reason FROM modelflags.model_health WHERE model = 'codestral';
SELECT model, skipped FROM modelflags.model_for('code_completions', 'User:1');

-- F. The manual override.  Forced closed: routed although open.
SELECT model, override FROM modelflags.set_breaker('codestral', override => 'closed', note => 'known noisy');
SELECT model, skipped FROM modelflags.model_for('code_completions', 'User:1');
SELECT model, state, override FROM modelflags.model_health WHERE model = 'codestral';
-- Forced open: skipped although healthy.
SELECT model, override FROM modelflags.set_breaker('claude_haiku', override => 'open');
SELECT model, override FROM modelflags.set_breaker('codestral', override => 'auto');
SELECT model, skipped, degraded FROM modelflags.model_for('code_completions', 'User:1');
SELECT * FROM regress_h.explain('code_completions');
SELECT model, override FROM modelflags.set_breaker('claude_haiku', override => 'auto');
SELECT model, skipped FROM modelflags.model_for('code_completions', 'User:1');
-- The override is audited like every settings change.
SELECT operation, key, old_row->>'override' AS old, new_row->>'override' AS new, note
  FROM modelflags.changes WHERE table_name = 'breaker_settings' AND key->>'model' IN ('codestral', 'claude_haiku')
 ORDER BY id;

-- G. Every transition, in order, and its audit row.
SELECT seq, model, event, from_state, to_state, reason, level, calls, failures
  FROM modelflags.breaker_transitions ORDER BY seq;
SELECT regress_h.wait_recorded((SELECT count(*)::int FROM modelflags.breaker_transitions));
SELECT count(*) AS transitions, count(*) FILTER (WHERE status = 'recorded') AS recorded
  FROM modelflags.breaker_transitions;
SELECT e.model, e.event, e.from_state, e.to_state, e.reason, e.calls, e.failures, e.level,
       e.open_until IS NOT NULL AS has_deadline
  FROM modelflags.breaker_events e ORDER BY e.id;
-- the audit and the live view describe the same transitions
SELECT count(*) AS mismatches
  FROM modelflags.breaker_events e
  FULL JOIN modelflags.breaker_transitions t ON t.seq = e.server_seq
 WHERE e.id IS NULL OR t.seq IS NULL OR e.model <> t.model OR e.event <> t.event
    OR e.reason <> t.reason OR e.at <> t.at;

RESET modelflags.health_clock_offset;
DELETE FROM modelflags.breaker_settings;
