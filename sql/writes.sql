--
-- writes: the write API of SPEC §4 and its ChatOps semantics (research
-- gitlab-and-flipper.md §2.3-2.4), each checked on the table rows it leaves
-- and on the audit rows it writes.
--
-- Proves:
--   set_flag   true fully enables and clears every other gate, actor rows and
--              opt-outs included; false clears every gate (flag kept, so
--              default_enabled no longer applies); a percentage sets that gate
--              and keeps the others; both percentages at once; 0 disables and
--              100 enables whichever key; 3 decimals accepted, 4 refused;
--              enabled together with a percentage refused; a percentage on a
--              fully enabled flag refused (GitLab); a missing flag is created
--              with a NOTICE;
--   set_actor  adds / removes an actor gate, leaves opt-outs alone, and is
--              refused (55000) for an actor who opted out;
--   opt_out / remove_opt_out  idempotent, and remove_opt_out removes only
--              an opt-out;
--   delete_flag  true when it deleted, false when there was nothing, its
--              actor rows go with it, refused (23503) while a route uses it;
--   set_provider  flips availability, 42704 for an unknown provider;
--   note =>    lands in changes.note for exactly that call's rows; SET LOCAL
--              modelflags.note does the same for plain DML, for one transaction.
--
-- Errors are shown with their SQLSTATE (psql's :SQLSTATE) and
-- without CONTEXT lines, which name PL/pgSQL line numbers.
\set SHOW_CONTEXT never
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
-- Audit rows of this test are shown relative to this point.
SELECT coalesce(max(id), 0) AS base FROM modelflags.changes \gset

-- Gates of a flag and its actor rows, in one line each.
CREATE TEMP VIEW gates AS
SELECT f.name, f.enabled, f.percentage_of_actors AS pct_actors, f.percentage_of_time AS pct_time,
       (SELECT string_agg(a.actor || CASE WHEN a.opt_out THEN ' (opt-out)' ELSE '' END, ', '
                          ORDER BY a.actor COLLATE "C")
          FROM modelflags.flag_actors a WHERE a.flag = f.name) AS actors
  FROM modelflags.flags f;

--
-- set_flag creates a missing flag, with a NOTICE (to catch typos).
--
SELECT name, enabled, percentage_of_actors, percentage_of_time, default_enabled
  FROM modelflags.set_flag('rollout_flag');
SELECT * FROM gates WHERE name = 'rollout_flag';

-- Percentages set their gate and keep the other one and the actor gates.
SELECT modelflags.set_actor('rollout_flag', 'User:42', true);
SELECT modelflags.opt_out('rollout_flag', 'User:1');
SELECT name, enabled, percentage_of_actors, percentage_of_time
  FROM modelflags.set_flag('rollout_flag', percentage_of_actors => 10);
SELECT name, enabled, percentage_of_actors, percentage_of_time
  FROM modelflags.set_flag('rollout_flag', percentage_of_time => 5);
SELECT * FROM gates WHERE name = 'rollout_flag';
-- Both in one call.
SELECT name, enabled, percentage_of_actors, percentage_of_time
  FROM modelflags.set_flag('rollout_flag', percentage_of_actors => 12.345, percentage_of_time => 0.001);
SELECT * FROM gates WHERE name = 'rollout_flag';

-- 4 decimals are refused with a hint (Flipper buckets in steps of 0.001);
-- the flag is left as it was.
SELECT modelflags.set_flag('rollout_flag', percentage_of_actors => 12.3456);
\echo sqlstate :SQLSTATE
SELECT modelflags.set_flag('rollout_flag', percentage_of_time => 0.0001);
\echo sqlstate :SQLSTATE
-- enabled together with a percentage is refused.
SELECT modelflags.set_flag('rollout_flag', enabled => true, percentage_of_actors => 50);
\echo sqlstate :SQLSTATE
SELECT modelflags.set_flag('rollout_flag', enabled => false, percentage_of_time => 50);
\echo sqlstate :SQLSTATE
SELECT * FROM gates WHERE name = 'rollout_flag';

-- true: fully enabled, every other gate cleared, actor rows and opt-outs too.
SELECT name, enabled, percentage_of_actors, percentage_of_time
  FROM modelflags.set_flag('rollout_flag', true);
SELECT * FROM gates WHERE name = 'rollout_flag';
SELECT modelflags.is_enabled('rollout_flag', 'User:1') AS former_opt_out;

-- A percentage on a fully enabled flag is refused, as GitLab refuses it
-- ("Cannot enable percentage of actors for a fully-enabled flag").
SELECT modelflags.set_flag('rollout_flag', percentage_of_actors => 25);
\echo sqlstate :SQLSTATE

-- false: every gate cleared; the flag stays (enabled = false, persisted).
SELECT modelflags.set_actor('rollout_flag', 'User:42', true);
UPDATE modelflags.flags SET percentage_of_time = 50, default_enabled = true WHERE name = 'rollout_flag';
SELECT name, enabled, percentage_of_actors, percentage_of_time, default_enabled
  FROM modelflags.set_flag('rollout_flag', false);
SELECT * FROM gates WHERE name = 'rollout_flag';
SELECT modelflags.is_enabled('rollout_flag', 'User:42') AS user_42, modelflags.is_enabled('rollout_flag') AS no_actor;

-- After false, percentages may be set again (a new rollout).
SELECT name, enabled, percentage_of_actors, percentage_of_time
  FROM modelflags.set_flag('rollout_flag', percentage_of_actors => 25);

-- 100 enables and 0 disables, whichever percentage key (ChatOps
-- "feature set NAME 100" / "0"; "setting a percentage to 0 is the same as disabling").
SELECT modelflags.set_actor('rollout_flag', 'User:42', true);
SELECT name, enabled, percentage_of_actors, percentage_of_time
  FROM modelflags.set_flag('rollout_flag', percentage_of_actors => 100);
SELECT * FROM gates WHERE name = 'rollout_flag';
SELECT name, enabled, percentage_of_actors, percentage_of_time
  FROM modelflags.set_flag('rollout_flag', percentage_of_time => 0);
SELECT * FROM gates WHERE name = 'rollout_flag';
SELECT name, enabled, percentage_of_actors, percentage_of_time
  FROM modelflags.set_flag('rollout_flag', percentage_of_time => 100.000);
SELECT name, enabled, percentage_of_actors, percentage_of_time
  FROM modelflags.set_flag('rollout_flag', percentage_of_actors => 0, percentage_of_time => 0);
SELECT name, enabled, percentage_of_actors, percentage_of_time
  FROM modelflags.set_flag('rollout_flag', percentage_of_actors => 0.000);

-- set_flag changes nothing when it is asked for nothing (but creates).
SELECT name, enabled, percentage_of_actors, percentage_of_time FROM modelflags.set_flag('rollout_flag');

--
-- set_actor: add and remove actor gates.
--
SELECT modelflags.set_actor('actor_flag', 'User:42', true);
SELECT modelflags.set_actor('actor_flag', 'User:42', true);
SELECT modelflags.set_actor('actor_flag', 'Group:9', true);
SELECT * FROM gates WHERE name = 'actor_flag';
SELECT modelflags.set_actor('actor_flag', 'Group:9', false);
SELECT modelflags.set_actor('actor_flag', 'User:404', false);
SELECT * FROM gates WHERE name = 'actor_flag';

-- An actor who opted out cannot be enabled (GitLab raises too); removing
-- an actor gate does not remove an opt-out.
SELECT modelflags.opt_out('actor_flag', 'User:7');
SELECT modelflags.set_actor('actor_flag', 'User:7', true);
\echo sqlstate :SQLSTATE
SELECT modelflags.set_actor('actor_flag', 'User:7', false);
SELECT * FROM gates WHERE name = 'actor_flag';

-- opt_out is idempotent and turns an actor gate into an opt-out;
-- remove_opt_out removes opt-outs only.
SELECT modelflags.opt_out('actor_flag', 'User:7');
SELECT modelflags.opt_out('actor_flag', 'User:42');
SELECT * FROM gates WHERE name = 'actor_flag';
SELECT modelflags.is_enabled('actor_flag', 'User:42') AS user_42_opted_out;
SELECT modelflags.set_actor('actor_flag', 'Group:9', true);
SELECT modelflags.remove_opt_out('actor_flag', 'Group:9');
SELECT modelflags.remove_opt_out('actor_flag', 'User:7');
SELECT modelflags.remove_opt_out('actor_flag', 'User:7');
SELECT * FROM gates WHERE name = 'actor_flag';
-- After remove_opt_out the actor can be enabled again.
SELECT modelflags.set_actor('actor_flag', 'User:7', true);
SELECT modelflags.is_enabled('actor_flag', 'User:7') AS user_7;
-- remove_opt_out of a flag that does not exist is a no-op, and creates nothing.
SELECT modelflags.remove_opt_out('never_created_flag', 'User:7');
SELECT count(*) AS never_created_flag FROM modelflags.flags WHERE name = 'never_created_flag';
-- set_actor and opt_out create a missing flag, with a NOTICE.
SELECT modelflags.opt_out('created_by_opt_out', 'User:7');
SELECT * FROM gates WHERE name = 'created_by_opt_out';

--
-- delete_flag: true when it deleted, false when there was nothing; its actor
-- rows go with it; refused while a route uses it.
--
SELECT modelflags.delete_flag('actor_flag') AS deleted;
SELECT modelflags.delete_flag('actor_flag') AS deleted_again;
SELECT count(*) AS actor_rows_left FROM modelflags.flag_actors WHERE flag = 'actor_flag';

INSERT INTO modelflags.providers (name) VALUES ('anthropic');
INSERT INTO modelflags.models (name, provider) VALUES ('claude_sonnet_4_20250514', 'anthropic');
INSERT INTO modelflags.features (name) VALUES ('duo_chat');
INSERT INTO modelflags.routes (feature, position, flag, model)
VALUES ('duo_chat', 0, 'rollout_flag', 'claude_sonnet_4_20250514'),
       ('duo_chat', 1, NULL, 'claude_sonnet_4_20250514');
SELECT modelflags.delete_flag('rollout_flag');
\echo sqlstate :SQLSTATE
-- A plain DELETE is refused by the foreign key just the same.
DELETE FROM modelflags.flags WHERE name = 'rollout_flag';
\echo sqlstate :SQLSTATE
SELECT count(*) AS rollout_flag_kept FROM modelflags.flags WHERE name = 'rollout_flag';
DELETE FROM modelflags.routes WHERE feature = 'duo_chat' AND position = 0;
SELECT modelflags.delete_flag('rollout_flag', note => 'rollout done, model is the default') AS deleted;

--
-- set_provider
--
SELECT name, available FROM modelflags.set_provider('anthropic', false, note => 'INC-1234 anthropic outage');
SELECT name, available FROM modelflags.set_provider('anthropic', true);
SELECT modelflags.set_provider('no_such_provider', false);
\echo sqlstate :SQLSTATE

--
-- Notes: note => ... is recorded on that call's audit rows only.
--
SELECT name, enabled FROM modelflags.set_flag('noted_flag', true, note => 'INC-42 fail over');
UPDATE modelflags.flags SET description = 'plain update, no note' WHERE name = 'noted_flag';
-- SET LOCAL modelflags.note notes plain DML, for one transaction.
BEGIN;
SET LOCAL modelflags.note = 'INC-43 by hand';
UPDATE modelflags.flags SET enabled = false WHERE name = 'noted_flag';
INSERT INTO modelflags.flag_actors (flag, actor) VALUES ('noted_flag', 'User:5');
-- A function's own note wins for its rows, and the SET LOCAL note is back after it.
SELECT modelflags.set_actor('noted_flag', 'User:6', true, note => 'function note');
DELETE FROM modelflags.flag_actors WHERE flag = 'noted_flag' AND actor = 'User:5';
COMMIT;
UPDATE modelflags.flags SET description = 'after commit, no note' WHERE name = 'noted_flag';
-- A note set for a rolled-back transaction leaves no trace.
BEGIN;
SET LOCAL modelflags.note = 'rolled back';
UPDATE modelflags.flags SET description = 'rolled back' WHERE name = 'noted_flag';
ROLLBACK;

-- Every write above, as the audit saw it (rows relative to the start).
SELECT id - :base AS n, table_name, operation, key,
       CASE operation WHEN 'UPDATE' THEN (SELECT jsonb_object_agg(k, new_row -> k)
                                            FROM jsonb_object_keys(new_row) AS k
                                           WHERE new_row -> k IS DISTINCT FROM old_row -> k) END AS changed,
       note
  FROM modelflags.changes WHERE id > :base ORDER BY id;

TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
