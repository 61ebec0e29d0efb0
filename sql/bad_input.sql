--
-- bad_input: SPEC §3 E — every wrong input gets an ERROR with a precise
-- SQLSTATE and a lowercase message naming the offending value; nothing is
-- half-applied; no input of any size or shape crashes the backend.
--
-- Each case runs through regress_util.try(), which executes one statement in a
-- subtransaction it always rolls back, and returns the SQLSTATE and message
-- ('00000' and 'ok' if it succeeded), so a table of (case, sqlstate,
-- message) is the expected output and no case sees another's effects.
-- Messages over 200 bytes are cut and their length shown: a multi-megabyte
-- input must not come back as a multi-megabyte message.  Half-application is
-- checked with plain statements at the end, outside any subtransaction.
--
-- Proves, for the read functions, the write functions and plain DML alike:
--   NULLs (22004, or 23502 for a NOT NULL column), empty strings (22023),
--   5 MB names and actors (22001 or 22023, message cut short), oversize
--   actors of 1025 bytes (22001; 1024 is fine), out-of-range and NaN /
--   infinite percentages (22003), 4 decimals (22023), invalid names:
--   uppercase, spaces, leading/trailing/double underscores, unicode, SQL
--   injection (22023), dangling references (23503), params that are not an
--   object or have wrong types (22023), deleting rows still referenced
--   (23503); and afterwards that every table and the audit are unchanged.
--
\set SHOW_CONTEXT never
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;


-- A small valid configuration for the cases to collide with.
INSERT INTO modelflags.providers (name) VALUES ('anthropic');
INSERT INTO modelflags.models (name, provider, params)
VALUES ('claude_sonnet_4_20250514', 'anthropic', '{"model": "claude-sonnet-4-20250514", "temperature": 0.1}');
INSERT INTO modelflags.features (name) VALUES ('duo_chat');
INSERT INTO modelflags.flags (name, enabled) VALUES ('real_flag', false);
INSERT INTO modelflags.flag_actors (flag, actor) VALUES ('real_flag', 'User:1');
INSERT INTO modelflags.routes (feature, position, flag, model)
VALUES ('duo_chat', 0, 'real_flag', 'claude_sonnet_4_20250514'), ('duo_chat', 1, NULL, 'claude_sonnet_4_20250514');
SELECT regress_util.counts() AS before \gset

--
-- NULLs.  A NULL actor is "no actor" for the read functions (not an error);
-- every other NULL is.
--
SELECT c.what, r.code AS sqlstate, r.message
  FROM (VALUES
    (1, 'is_enabled(NULL)', $q$SELECT modelflags.is_enabled(NULL)$q$),
    (2, 'is_enabled(NULL, actor)', $q$SELECT modelflags.is_enabled(NULL, 'User:1')$q$),
    (3, 'rollout_pct(NULL, actor)', $q$SELECT modelflags.rollout_pct(NULL, 'User:1')$q$),
    (4, 'rollout_pct(flag, NULL)', $q$SELECT modelflags.rollout_pct('real_flag', NULL)$q$),
    (5, 'model_for(NULL)', $q$SELECT modelflags.model_for(NULL)$q$),
    (6, 'model_for(NULL, actor)', $q$SELECT modelflags.model_for(NULL, 'User:1')$q$),
    (7, 'explain(NULL)', $q$SELECT modelflags.explain(NULL)$q$),
    (8, 'set_flag(NULL)', $q$SELECT modelflags.set_flag(NULL)$q$),
    (9, 'set_flag(NULL, true)', $q$SELECT modelflags.set_flag(NULL, true)$q$),
    (10, 'set_actor(NULL, actor, true)', $q$SELECT modelflags.set_actor(NULL, 'User:1', true)$q$),
    (11, 'set_actor(flag, NULL, true)', $q$SELECT modelflags.set_actor('real_flag', NULL, true)$q$),
    (12, 'set_actor(flag, actor, NULL)', $q$SELECT modelflags.set_actor('real_flag', 'User:1', NULL)$q$),
    (13, 'opt_out(NULL, actor)', $q$SELECT modelflags.opt_out(NULL, 'User:1')$q$),
    (14, 'opt_out(flag, NULL)', $q$SELECT modelflags.opt_out('real_flag', NULL)$q$),
    (15, 'remove_opt_out(NULL, actor)', $q$SELECT modelflags.remove_opt_out(NULL, 'User:1')$q$),
    (16, 'remove_opt_out(flag, NULL)', $q$SELECT modelflags.remove_opt_out('real_flag', NULL)$q$),
    (17, 'delete_flag(NULL)', $q$SELECT modelflags.delete_flag(NULL)$q$),
    (18, 'set_provider(NULL, false)', $q$SELECT modelflags.set_provider(NULL, false)$q$),
    (19, 'set_provider(provider, NULL)', $q$SELECT modelflags.set_provider('anthropic', NULL)$q$),
    (20, 'INSERT providers name NULL', $q$INSERT INTO modelflags.providers (name) VALUES (NULL)$q$),
    (21, 'INSERT providers available NULL', $q$INSERT INTO modelflags.providers (name, available) VALUES ('p1', NULL)$q$),
    (22, 'INSERT models provider NULL', $q$INSERT INTO modelflags.models (name, provider) VALUES ('m1', NULL)$q$),
    (23, 'INSERT models params NULL', $q$INSERT INTO modelflags.models (name, provider, params) VALUES ('m1', 'anthropic', NULL)$q$),
    (24, 'INSERT flags name NULL', $q$INSERT INTO modelflags.flags (name) VALUES (NULL)$q$),
    (25, 'UPDATE flags default_enabled NULL', $q$UPDATE modelflags.flags SET default_enabled = NULL$q$),
    (26, 'INSERT flag_actors actor NULL', $q$INSERT INTO modelflags.flag_actors (flag, actor) VALUES ('real_flag', NULL)$q$),
    (27, 'INSERT flag_actors flag NULL', $q$INSERT INTO modelflags.flag_actors (flag, actor) VALUES (NULL, 'User:2')$q$),
    (28, 'INSERT features name NULL', $q$INSERT INTO modelflags.features (name) VALUES (NULL)$q$),
    (29, 'INSERT routes position NULL', $q$INSERT INTO modelflags.routes (feature, position, model) VALUES ('duo_chat', NULL, 'claude_sonnet_4_20250514')$q$),
    (30, 'INSERT routes model NULL', $q$INSERT INTO modelflags.routes (feature, position, model) VALUES ('duo_chat', 5, NULL)$q$),
    (31, 'INSERT routes params NULL', $q$INSERT INTO modelflags.routes (feature, position, model, params) VALUES ('duo_chat', 5, 'claude_sonnet_4_20250514', NULL)$q$),
    (32, 'UPDATE models params NULL', $q$UPDATE modelflags.models SET params = NULL$q$)
  ) AS c (n, what, stmt), LATERAL regress_util.try(c.stmt) AS r
 ORDER BY c.n;

-- A NULL actor is no actor, for every read function that takes one.
SELECT modelflags.is_enabled('real_flag', NULL) AS is_enabled, (modelflags.model_for('duo_chat', NULL)).position AS model_for,
       (SELECT count(*) FROM modelflags.explain('duo_chat', NULL)) AS explain_rows;

--
-- Empty strings and invalid names.
--
SELECT c.what, r.code AS sqlstate, r.message
  FROM (VALUES
    (1, 'is_enabled('''')', $q$SELECT modelflags.is_enabled('')$q$),
    (2, 'is_enabled(flag, '''')', $q$SELECT modelflags.is_enabled('real_flag', '')$q$),
    (3, 'rollout_pct('''', actor)', $q$SELECT modelflags.rollout_pct('', 'User:1')$q$),
    (4, 'rollout_pct(flag, '''')', $q$SELECT modelflags.rollout_pct('real_flag', '')$q$),
    (5, 'model_for('''')', $q$SELECT modelflags.model_for('')$q$),
    (6, 'model_for(feature, '''')', $q$SELECT modelflags.model_for('duo_chat', '')$q$),
    (7, 'explain('''')', $q$SELECT modelflags.explain('')$q$),
    (8, 'set_flag('''')', $q$SELECT modelflags.set_flag('')$q$),
    (9, 'set_actor(flag, '''', true)', $q$SELECT modelflags.set_actor('real_flag', '', true)$q$),
    (10, 'opt_out(flag, '''')', $q$SELECT modelflags.opt_out('real_flag', '')$q$),
    (11, 'INSERT providers ''''', $q$INSERT INTO modelflags.providers (name) VALUES ('')$q$),
    (12, 'INSERT models ''''', $q$INSERT INTO modelflags.models (name, provider) VALUES ('', 'anthropic')$q$),
    (13, 'INSERT features ''''', $q$INSERT INTO modelflags.features (name) VALUES ('')$q$),
    (14, 'INSERT flag_actors actor ''''', $q$INSERT INTO modelflags.flag_actors (flag, actor) VALUES ('real_flag', '')$q$)
  ) AS c (n, what, stmt), LATERAL regress_util.try(c.stmt) AS r
 ORDER BY c.n;

-- Invalid flag names, through every path that takes one: the read
-- functions, set_flag, set_actor and INSERT.  Each is refused with 22023
-- (a flag name is lowercase [a-z0-9]+ joined by single "_", as GitLab requires).
SELECT b.name, r1.code AS is_enabled, r2.code AS rollout_pct, r3.code AS set_flag,
       r4.code AS set_actor, r5.code AS "insert", r5.message AS insert_message
  FROM (VALUES (1, 'Uppercase_Flag'), (2, 'flag with spaces'), (3, '_leading'), (4, 'trailing_'),
               (5, 'double__underscore'), (6, 'dash-flag'), (7, 'dot.flag'), (8, 'fläg'),
               (9, 'emoji_🚀'), (10, 'x''; DROP TABLE modelflags.flags; --'),
               (11, 'tab' || chr(9) || 'flag'), (12, 'new' || chr(10) || 'line')) AS b (n, name),
       LATERAL regress_util.try(format('SELECT modelflags.is_enabled(%L)', b.name)) AS r1,
       LATERAL regress_util.try(format('SELECT modelflags.rollout_pct(%L, %L)', b.name, 'User:1')) AS r2,
       LATERAL regress_util.try(format('SELECT modelflags.set_flag(%L, true)', b.name)) AS r3,
       LATERAL regress_util.try(format('SELECT modelflags.set_actor(%L, %L, true)', b.name, 'User:1')) AS r4,
       LATERAL regress_util.try(format('INSERT INTO modelflags.flags (name) VALUES (%L)', b.name)) AS r5
 ORDER BY b.n;
-- The injection string was only ever a value.
SELECT to_regclass('modelflags.flags') IS NOT NULL AS flags_table_still_there;

-- Invalid names of providers, models and features (which also allow "." and "-").
SELECT b.name, r1.code AS provider, r2.code AS model, r3.code AS feature,
       r4.code AS model_for, r4.message AS model_for_message
  FROM (VALUES (1, 'Anthropic'), (2, 'vertex ai'), (3, '-leading'), (4, 'trailing.'), (5, 'a..b'),
               (6, 'ünicode'), (7, 'x''); DROP TABLE modelflags.routes; --')) AS b (n, name),
       LATERAL regress_util.try(format('INSERT INTO modelflags.providers (name) VALUES (%L)', b.name)) AS r1,
       LATERAL regress_util.try(format('INSERT INTO modelflags.models (name, provider) VALUES (%L, %L)', b.name, 'anthropic')) AS r2,
       LATERAL regress_util.try(format('INSERT INTO modelflags.features (name) VALUES (%L)', b.name)) AS r3,
       LATERAL regress_util.try(format('SELECT modelflags.model_for(%L)', b.name)) AS r4
 ORDER BY b.n;

--
-- Sizes: names of 255 bytes are fine, 256 are not; actors of 1024 bytes are
-- fine, 1025 are not (also counted in bytes: 513 two-byte characters);
-- 5 MB names and actors are refused with a short message, whichever table
-- or function they reach; 5 MB free text (params values, notes) is accepted.
--
SELECT c.what, r.code AS sqlstate, r.message
  FROM (VALUES
    (1, 'set_flag(255-byte name)', format($q$SELECT modelflags.set_flag(%L)$q$, repeat('a', 255))),
    (2, 'set_flag(256-byte name)', format($q$SELECT modelflags.set_flag(%L)$q$, repeat('a', 256))),
    (3, 'is_enabled(256-byte name)', format($q$SELECT modelflags.is_enabled(%L)$q$, repeat('a', 256))),
    (4, 'INSERT providers 256-byte name', format($q$INSERT INTO modelflags.providers (name) VALUES (%L)$q$, repeat('p', 256))),
    (5, 'set_actor(1024-byte actor)', format($q$SELECT modelflags.set_actor('real_flag', %L, true)$q$, repeat('u', 1024))),
    (6, 'set_actor(1025-byte actor)', format($q$SELECT modelflags.set_actor('real_flag', %L, true)$q$, repeat('u', 1025))),
    (7, 'INSERT flag_actors 1025 bytes', format($q$INSERT INTO modelflags.flag_actors (flag, actor) VALUES ('real_flag', %L)$q$, repeat('u', 1025))),
    (8, 'INSERT flag_actors 513 x é', format($q$INSERT INTO modelflags.flag_actors (flag, actor) VALUES ('real_flag', %L)$q$, repeat('é', 513))),
    (9, 'is_enabled(flag, 1024 bytes)', format($q$SELECT modelflags.is_enabled('real_flag', %L)$q$, repeat('u', 1024))),
    (10, 'is_enabled(flag, 1025 bytes)', format($q$SELECT modelflags.is_enabled('real_flag', %L)$q$, repeat('u', 1025))),
    (11, 'model_for(feature, 1025 bytes)', format($q$SELECT modelflags.model_for('duo_chat', %L)$q$, repeat('u', 1025))),
    (12, 'rollout_pct(flag, 1025 bytes)', format($q$SELECT modelflags.rollout_pct('real_flag', %L)$q$, repeat('u', 1025))),
    (13, 'is_enabled(5 MB flag)', $q$SELECT modelflags.is_enabled(repeat('a', 5 * 1024 * 1024))$q$),
    (14, 'is_enabled(flag, 5 MB actor)', $q$SELECT modelflags.is_enabled('real_flag', repeat('a', 5 * 1024 * 1024))$q$),
    (15, 'rollout_pct(5 MB flag, actor)', $q$SELECT modelflags.rollout_pct(repeat('a', 5 * 1024 * 1024), 'User:1')$q$),
    (16, 'model_for(5 MB feature)', $q$SELECT modelflags.model_for(repeat('a', 5 * 1024 * 1024))$q$),
    (17, 'model_for(feature, 5 MB actor)', $q$SELECT modelflags.model_for('duo_chat', repeat('a', 5 * 1024 * 1024))$q$),
    (18, 'explain(5 MB feature)', $q$SELECT modelflags.explain(repeat('a', 5 * 1024 * 1024))$q$),
    (19, 'set_flag(5 MB name)', $q$SELECT modelflags.set_flag(repeat('a', 5 * 1024 * 1024), true)$q$),
    (20, 'set_actor(flag, 5 MB actor)', $q$SELECT modelflags.set_actor('real_flag', repeat('a', 5 * 1024 * 1024), true)$q$),
    (21, 'opt_out(flag, 5 MB actor)', $q$SELECT modelflags.opt_out('real_flag', repeat('a', 5 * 1024 * 1024))$q$),
    (22, 'delete_flag(5 MB name)', $q$SELECT modelflags.delete_flag(repeat('a', 5 * 1024 * 1024))$q$),
    (23, 'set_provider(5 MB name)', $q$SELECT modelflags.set_provider(repeat('a', 5 * 1024 * 1024), true)$q$),
    (24, 'INSERT flags 5 MB name', $q$INSERT INTO modelflags.flags (name) VALUES (repeat('a', 5 * 1024 * 1024))$q$),
    (25, 'INSERT flag_actors 5 MB actor', $q$INSERT INTO modelflags.flag_actors (flag, actor) VALUES ('real_flag', repeat('a', 5 * 1024 * 1024))$q$),
    (26, 'INSERT models 5 MB name', $q$INSERT INTO modelflags.models (name, provider) VALUES (repeat('a', 5 * 1024 * 1024), 'anthropic')$q$),
    (27, 'INSERT routes 5 MB feature', $q$INSERT INTO modelflags.routes (feature, position, model) VALUES (repeat('a', 5 * 1024 * 1024), 9, 'claude_sonnet_4_20250514')$q$),
    (28, 'INSERT models 5 MB bad param', $q$INSERT INTO modelflags.models (name, provider, params) VALUES ('m1', 'anthropic', jsonb_build_object('temperature', repeat('h', 5 * 1024 * 1024)))$q$),
    (29, 'INSERT models 5 MB provider', $q$INSERT INTO modelflags.models (name, provider) VALUES ('m1', repeat('p', 5 * 1024 * 1024))$q$),
    (30, 'INSERT routes 5 MB model', $q$INSERT INTO modelflags.routes (feature, position, model) VALUES ('duo_chat', 9, repeat('m', 5 * 1024 * 1024))$q$),
    (31, 'INSERT routes 5 MB flag', $q$INSERT INTO modelflags.routes (feature, position, flag, model) VALUES ('duo_chat', 9, repeat('f', 5 * 1024 * 1024), 'claude_sonnet_4_20250514')$q$),
    (32, 'INSERT flag_actors 5 MB flag', $q$INSERT INTO modelflags.flag_actors (flag, actor) VALUES (repeat('f', 5 * 1024 * 1024), 'User:1')$q$),
    (33, 'UPDATE routes 5 MB params', $q$UPDATE modelflags.routes SET params = jsonb_build_object('system', repeat('s', 5 * 1024 * 1024)) WHERE position = 1$q$),
    (34, 'set_flag(flag, note => 5 MB)', $q$SELECT modelflags.set_flag('real_flag', true, note => repeat('n', 5 * 1024 * 1024))$q$)
  ) AS c (n, what, stmt), LATERAL regress_util.try(c.stmt) AS r
 ORDER BY c.n;

--
-- Percentages: out of range, NaN, infinities, overflow, 4 decimals.
--
SELECT b.value, r1.code AS set_flag_actors, r2.code AS set_flag_time, r3.code AS update_actors,
       r4.code AS insert_time, r1.message AS set_flag_message
  FROM (VALUES (1, '''NaN'''), (2, '''Infinity'''), (3, '''-Infinity'''), (4, '-0.001'), (5, '100.001'),
               (6, '-1'), (7, '101'), (8, '1e1000'), (9, '-1e1000'), (10, '12.3456'), (11, '0.0001'),
               (12, '99.9999'), (13, '''1e100000''')) AS b (n, value),
       LATERAL regress_util.try(format('SELECT modelflags.set_flag(%L, percentage_of_actors => %s)', 'real_flag', b.value)) AS r1,
       LATERAL regress_util.try(format('SELECT modelflags.set_flag(%L, percentage_of_time => %s)', 'real_flag', b.value)) AS r2,
       LATERAL regress_util.try(format('UPDATE modelflags.flags SET percentage_of_actors = %s WHERE name = %L', b.value, 'real_flag')) AS r3,
       LATERAL regress_util.try(format('INSERT INTO modelflags.flags (name, percentage_of_time) VALUES (%L, %s)', 'pct_flag', b.value)) AS r4
 ORDER BY b.n;
-- ... while the edges are accepted (and -0 is 0).
SELECT c.what, r.code AS sqlstate, r.message
  FROM (VALUES
    (1, 'percentage_of_actors 0.001', $q$UPDATE modelflags.flags SET percentage_of_actors = 0.001 WHERE name = 'real_flag'$q$),
    (2, 'percentage_of_actors 99.999', $q$UPDATE modelflags.flags SET percentage_of_actors = 99.999 WHERE name = 'real_flag'$q$),
    (3, 'percentage_of_actors 100.000', $q$UPDATE modelflags.flags SET percentage_of_actors = 100.000 WHERE name = 'real_flag'$q$),
    (4, 'percentage_of_time -0', $q$UPDATE modelflags.flags SET percentage_of_time = '-0' WHERE name = 'real_flag'$q$),
    (5, 'percentage 12.3450 (4 digits, 3 decimals)', $q$UPDATE modelflags.flags SET percentage_of_time = 12.3450 WHERE name = 'real_flag'$q$)
  ) AS c (n, what, stmt), LATERAL regress_util.try(c.stmt || ' RETURNING 1') AS r
 ORDER BY c.n;

--
-- Params: a JSON object with well-known keys of the right types.
--
SELECT b.params, r1.code AS model, r2.code AS route, r1.message AS model_message
  FROM (VALUES (1, '[]'), (2, '"x"'), (3, 'null'), (4, '1'), (5, 'true'),
               (6, '{"temperature": "hot"}'), (7, '{"temperature": -0.5}'), (8, '{"max_tokens": -1}'),
               (9, '{"max_tokens": 1.5}'), (10, '{"max_tokens": "100"}'), (11, '{"max_retries": null}'),
               (12, '{"model": 5}'), (13, '{"stop": 5}'), (14, '{"direct_access": "no"}'),
               (15, '{"timeout": []}'), (16, '{"top_p": {}}'), (17, '{')) AS b (n, params),
       LATERAL regress_util.try(format('INSERT INTO modelflags.models (name, provider, params) VALUES (%L, %L, %L)',
                                  'm' || b.n, 'anthropic', b.params)) AS r1,
       LATERAL regress_util.try(format('UPDATE modelflags.routes SET params = %L WHERE feature = %L AND position = 1',
                                  b.params, 'duo_chat')) AS r2
 ORDER BY b.n;
-- Good params, unknown keys included, are accepted.
SELECT r.code AS sqlstate, r.message
  FROM regress_util.try($q$INSERT INTO modelflags.models (name, provider, params) VALUES ('good_params', 'anthropic',
       '{"model": "x", "temperature": 0, "top_p": 0.9, "timeout": 30.5, "max_tokens": 4096, "max_retries": 0,
         "top_k": 40, "stop": ["</new_code>"], "direct_access": false, "vertex_location": "global", "nested": {"a": [1]}}')$q$) AS r;

--
-- Dangling references and rows still referenced: 23503.
--
SELECT c.what, r.code AS sqlstate, r.message
  FROM (VALUES
    (1, 'route to unknown model', $q$INSERT INTO modelflags.routes (feature, position, model) VALUES ('duo_chat', 7, 'no_such_model')$q$),
    (2, 'route with unknown flag', $q$INSERT INTO modelflags.routes (feature, position, flag, model) VALUES ('duo_chat', 7, 'no_such_flag', 'claude_sonnet_4_20250514')$q$),
    (3, 'route of unknown feature', $q$INSERT INTO modelflags.routes (feature, position, model) VALUES ('no_such_feature', 0, 'claude_sonnet_4_20250514')$q$),
    (4, 'model of unknown provider', $q$INSERT INTO modelflags.models (name, provider) VALUES ('orphan_model', 'no_such_provider')$q$),
    (5, 'actor of unknown flag', $q$INSERT INTO modelflags.flag_actors (flag, actor) VALUES ('no_such_flag', 'User:1')$q$),
    (6, 'UPDATE route to unknown model', $q$UPDATE modelflags.routes SET model = 'no_such_model' WHERE feature = 'duo_chat'$q$),
    (7, 'DELETE provider with models', $q$DELETE FROM modelflags.providers WHERE name = 'anthropic'$q$),
    (8, 'DELETE model used by routes', $q$DELETE FROM modelflags.models WHERE name = 'claude_sonnet_4_20250514'$q$),
    (9, 'DELETE flag used by a route', $q$DELETE FROM modelflags.flags WHERE name = 'real_flag'$q$),
    (10, 'delete_flag(flag used by a route)', $q$SELECT modelflags.delete_flag('real_flag')$q$),
    (11, 'TRUNCATE providers (no CASCADE)', $q$TRUNCATE modelflags.providers$q$),
    (12, 'negative route position', $q$INSERT INTO modelflags.routes (feature, position, model) VALUES ('duo_chat', -1, 'claude_sonnet_4_20250514')$q$),
    (13, 'duplicate route position', $q$INSERT INTO modelflags.routes (feature, position, model) VALUES ('duo_chat', 0, 'claude_sonnet_4_20250514')$q$),
    (14, 'unknown flag type', $q$UPDATE modelflags.flags SET type = 'permanent' WHERE name = 'real_flag'$q$),
    (15, 'set_provider(unknown)', $q$SELECT modelflags.set_provider('no_such_provider', false)$q$),
    (16, 'set_actor for an opted-out actor', $q$SELECT modelflags.opt_out('real_flag', 'User:9'); SELECT modelflags.set_actor('real_flag', 'User:9', true)$q$),
    (17, 'set_flag true and a percentage', $q$SELECT modelflags.set_flag('real_flag', true, 50)$q$)
  ) AS c (n, what, stmt), LATERAL regress_util.try(c.stmt) AS r
 ORDER BY c.n;

-- Nothing above was applied: every table and the audit are as before.
SELECT regress_util.counts() = :'before' AS unchanged;

--
-- Statements, not subtransactions: one bad row fails the whole statement,
-- and a write function that fails midway leaves nothing behind.
--
INSERT INTO modelflags.flags (name) VALUES ('good_one'), ('good_two'), ('Bad Three');
\echo sqlstate :SQLSTATE
INSERT INTO modelflags.flag_actors (flag, actor)
SELECT 'real_flag', 'User:' || i FROM generate_series(1000, 1999) AS i
UNION ALL SELECT 'real_flag', repeat('x', 1025);
\echo sqlstate :SQLSTATE
-- set_actor creates a missing flag before it validates the actor: the flag
-- must not survive the error.
SELECT modelflags.set_actor('created_then_failed', repeat('x', 1025), true);
\echo sqlstate :SQLSTATE
SELECT modelflags.set_flag('created_then_failed', percentage_of_actors => 'NaN');
\echo sqlstate :SQLSTATE
SELECT regress_util.counts() = :'before' AS unchanged;

-- Accepted although large: a 5 MB note, description and params value are
-- stored whole, audited, and served; the backend survives.
SELECT coalesce(max(id), 0) AS base FROM modelflags.changes \gset
SELECT name FROM modelflags.set_flag('real_flag', true, note => repeat('n', 5 * 1024 * 1024));
UPDATE modelflags.flags SET description = repeat('d', 5 * 1024 * 1024) WHERE name = 'real_flag';
UPDATE modelflags.models SET params = params || jsonb_build_object('system', repeat('s', 5 * 1024 * 1024))
 WHERE name = 'claude_sonnet_4_20250514';
SELECT table_name, octet_length(note) AS note_bytes, octet_length(new_row ->> 'description') AS description_bytes
  FROM modelflags.changes WHERE id > :base ORDER BY id;
SELECT model, octet_length(params ->> 'system') AS system_bytes, params ->> 'temperature' AS temperature
  FROM modelflags.model_for('duo_chat', 'User:42');
-- After all of the above, the backend is still here and answers.
SELECT modelflags.is_enabled('real_flag', 'User:1') AS user_1, (modelflags.model_for('duo_chat')).model;

TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
