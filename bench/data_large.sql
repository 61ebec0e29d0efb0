/*
 * bench/data_large.sql — the large data set, on top of data_small.sql:
 * 10,000 flags, 1,000 features with 3 routes each, 20 more models.
 * The 1,000,000 actor gates are bench/data_large_actors.sql, a separate
 * file because bench/run.sh times that one INSERT (issue 3, requirement 3).
 *
 * Flags are numbered n = 1..10000 (the 6 flags of data_small.sql come on top):
 *   n = 1..1000       migrate_fN           route 1 of feature_N: a model migration,
 *                                          25% of actors (10% or 50% for some),
 *                                          plus the actor gates below
 *   n = 1001..2000    incident_fail_over_fM (M = n - 1000), route 0 of feature_M:
 *                                          off (enabled = false) for odd M, never
 *                                          set for even M (answers default_enabled)
 *   n = 2001..10000   flag_N               flags no route uses (GitLab has
 *                                          thousands), gates of every kind
 * Each feature_N routes: 0 incident_fail_over_fN → a backup model,
 * 1 migrate_fN → a new model, 2 (always) → the default model.
 *
 * Actor gates (data_large_actors.sql): a heavy tail, like beta programmes
 * and per-customer enablements, 1,000,000 rows in all:
 *   flags n = 1, 2         200,000 actors each   (400,000)
 *   flags n = 3..6         100,000 actors each   (400,000)
 *   flags n = 7..106         1,500 actors each   (150,000)
 *   flags n = 107..5106         10 actors each    (50,000)
 *   flags n = 5107..10000        none
 * so features 1..6 route through flags with 100k+ actors, features 7..106
 * through 1,500, and the rest through at most 10.  The actors are users
 * 'User:1'..'User:5000000' spread evenly (actor j of flag n is
 * User:((j * 7919 + n * 104729) mod 5,000,000 + 1), distinct within a
 * flag); 1% of the rows (j mod 100 = 99) are opt-outs.
 */
\set ON_ERROR_STOP on
BEGIN;
INSERT INTO modelflags.models (name, provider, params)
SELECT 'model_' || i,
       (ARRAY['anthropic', 'vertex_ai', 'fireworks_ai'])[i % 3 + 1],
       jsonb_build_object('model', 'model-' || i, 'temperature', (i % 5) / 10.0,
                          'max_tokens', 256 * (i % 8 + 1), 'max_retries', 1, 'timeout', 30)
  FROM generate_series(1, 20) i;

INSERT INTO modelflags.flags (name, type, "group", milestone, enabled, percentage_of_actors,
                              percentage_of_time, default_enabled, description)
SELECT CASE WHEN n <= 1000 THEN 'migrate_f' || n
            WHEN n <= 2000 THEN 'incident_fail_over_f' || (n - 1000)
            ELSE 'flag_' || n END,
       CASE WHEN n <= 1000 THEN 'gitlab_com_derisk' WHEN n <= 2000 THEN 'ops'
            ELSE (ARRAY['wip', 'beta', 'ops', 'experiment', 'development'])[n % 5 + 1] END,
       'group::bench', '18.' || (n % 10),
       CASE WHEN n <= 1000 THEN NULL
            WHEN n <= 2000 THEN CASE WHEN n % 2 = 1 THEN false END
            WHEN n % 7 = 0 THEN true
            WHEN n % 7 = 1 THEN false END,
       CASE WHEN n <= 1000 THEN (ARRAY[25, 10, 25, 50])[n % 4 + 1]
            WHEN n > 2000 AND n % 7 = 2 THEN n % 100 END,
       CASE WHEN n > 2000 AND n % 7 = 3 THEN 5 END,
       n > 2000 AND n % 11 = 0,
       'bench flag ' || n
  FROM generate_series(1, 10000) n;

INSERT INTO modelflags.features (name, description)
SELECT 'feature_' || i, 'bench feature ' || i FROM generate_series(1, 1000) i;

INSERT INTO modelflags.routes (feature, position, flag, model, params)
SELECT 'feature_' || i, p,
       CASE p WHEN 0 THEN 'incident_fail_over_f' || i WHEN 1 THEN 'migrate_f' || i END,
       'model_' || ((i * 3 + p) % 20 + 1),
       CASE p WHEN 0 THEN '{"direct_access": false}'::jsonb ELSE '{}' END
  FROM generate_series(1, 1000) i, generate_series(0, 2) p;
COMMIT;
