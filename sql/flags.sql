--
-- flags: SPEC §3 F (flag evaluation) and H (rollout hashing), through
-- is_enabled and rollout_pct, with the gates set both by plain DML on
-- modelflags.flags / flag_actors and by the write API.
--
-- Proves, rule by rule (each block says which):
--   F1 an unknown flag is false;
--   F2 an opt-out beats every gate (boolean, percentages, default_enabled);
--   F3 a flag none of whose gates was ever set answers default_enabled, and
--      stops doing so once any gate (even false or 0) or actor row exists —
--      GitLab's "persisted" rule, so set_flag(false) turns a default-on flag off;
--   F4 any open gate wins, a closed one never vetoes (boolean false plus an
--      open percentage is true); actor gates; percentage of actors with
--      Flipper's exact hashing; percentage of time drawn per call;
--   H  rollout_pct gives Flipper's test vectors, "in at p" is exactly
--      rollout_pct < p, and raising p never removes an actor;
--   a NULL actor means "no actor" (only boolean, time and default apply).
--
-- Each test starts from empty configuration tables.
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;

-- F1: an unknown flag is false, with or without an actor.
SELECT modelflags.is_enabled('no_such_flag') AS no_actor,
       modelflags.is_enabled('no_such_flag', 'User:42') AS with_actor;

--
-- F3: default_enabled applies while no gate was ever set.
--
INSERT INTO modelflags.flags (name, default_enabled) VALUES
    ('default_on_flag', true), ('default_off_flag', false);
SELECT name, modelflags.is_enabled(name) AS no_actor, modelflags.is_enabled(name, 'User:42') AS user_42
  FROM modelflags.flags ORDER BY name COLLATE "C";

-- GitLab: "feature set default_on_flag false" persists the flag, so the YAML
-- default no longer applies: the flag is off although default_enabled is true.
SELECT name, enabled, percentage_of_actors, percentage_of_time, default_enabled
  FROM modelflags.set_flag('default_on_flag', false);
SELECT modelflags.is_enabled('default_on_flag') AS no_actor,
       modelflags.is_enabled('default_on_flag', 'User:42') AS user_42;

-- Back to "never set" with plain DML: default_enabled applies again.
UPDATE modelflags.flags SET enabled = NULL WHERE name = 'default_on_flag';
SELECT modelflags.is_enabled('default_on_flag', 'User:42') AS user_42_again_default;

-- A percentage of 0 is a gate that was set: no longer the default.
UPDATE modelflags.flags SET percentage_of_actors = 0 WHERE name = 'default_on_flag';
SELECT modelflags.is_enabled('default_on_flag', 'User:42') AS pct_0_is_persisted;
UPDATE modelflags.flags SET percentage_of_actors = NULL, percentage_of_time = 0 WHERE name = 'default_on_flag';
SELECT modelflags.is_enabled('default_on_flag') AS time_0_is_persisted;
UPDATE modelflags.flags SET percentage_of_time = NULL WHERE name = 'default_on_flag';

-- An actor row persists the flag too (GitLab: with an actor gate, flipping
-- default_enabled has no effect): that actor is in, everyone else is out.
SELECT modelflags.set_actor('default_on_flag', 'User:7', true);
SELECT modelflags.is_enabled('default_on_flag', 'User:7') AS user_7,
       modelflags.is_enabled('default_on_flag', 'User:42') AS user_42,
       modelflags.is_enabled('default_on_flag') AS no_actor;
-- So does an opt-out row alone (GitLab stores it as an actor "User:7:opt_out").
DELETE FROM modelflags.flag_actors WHERE flag = 'default_on_flag';
SELECT modelflags.is_enabled('default_on_flag', 'User:42') AS default_again;
SELECT modelflags.opt_out('default_on_flag', 'User:8');
SELECT modelflags.is_enabled('default_on_flag', 'User:8') AS opted_out,
       modelflags.is_enabled('default_on_flag', 'User:42') AS other_actor,
       modelflags.is_enabled('default_on_flag') AS no_actor;
DELETE FROM modelflags.flag_actors WHERE flag = 'default_on_flag';

-- default_enabled = false answers false while never set.
SELECT modelflags.is_enabled('default_off_flag', 'User:42') AS default_off;

--
-- F4: the boolean gate.
--
INSERT INTO modelflags.flags (name, enabled) VALUES ('bool_flag', true);
SELECT modelflags.is_enabled('bool_flag') AS no_actor, modelflags.is_enabled('bool_flag', 'User:42') AS user_42;
UPDATE modelflags.flags SET enabled = false WHERE name = 'bool_flag';
SELECT modelflags.is_enabled('bool_flag') AS no_actor, modelflags.is_enabled('bool_flag', 'User:42') AS user_42;

-- F4: boolean false is no veto: another open gate still opens the flag.
UPDATE modelflags.flags SET enabled = false, percentage_of_actors = 100 WHERE name = 'bool_flag';
SELECT modelflags.is_enabled('bool_flag', 'User:42') AS bool_false_pct_100;
UPDATE modelflags.flags SET percentage_of_actors = NULL, percentage_of_time = 100 WHERE name = 'bool_flag';
SELECT modelflags.is_enabled('bool_flag', 'User:42') AS bool_false_time_100;
UPDATE modelflags.flags SET percentage_of_time = NULL WHERE name = 'bool_flag';
INSERT INTO modelflags.flag_actors (flag, actor) VALUES ('bool_flag', 'User:42');
SELECT modelflags.is_enabled('bool_flag', 'User:42') AS bool_false_actor,
       modelflags.is_enabled('bool_flag', 'User:43') AS other_actor;

--
-- F2: an opt-out beats every gate.
--
INSERT INTO modelflags.flags (name, enabled, percentage_of_actors, percentage_of_time, default_enabled)
VALUES ('opt_out_flag', true, 100, 100, true);
INSERT INTO modelflags.flag_actors (flag, actor, opt_out) VALUES ('opt_out_flag', 'User:42', true);
SELECT modelflags.is_enabled('opt_out_flag', 'User:42') AS opted_out,
       modelflags.is_enabled('opt_out_flag', 'User:43') AS other_actor,
       modelflags.is_enabled('opt_out_flag') AS no_actor;
-- ... over 1,000 calls, so percentage_of_time 100 never slips through.
SELECT count(*) FILTER (WHERE modelflags.is_enabled('opt_out_flag', 'User:42')) AS opted_out_true_count
  FROM generate_series(1, 1000);
-- Turning the opt-out into an actor gate makes the actor in again.
UPDATE modelflags.flag_actors SET opt_out = false WHERE flag = 'opt_out_flag' AND actor = 'User:42';
SELECT modelflags.is_enabled('opt_out_flag', 'User:42') AS no_longer_opted_out;

--
-- F4: actor gates, set with set_actor.
--
SELECT name, enabled FROM modelflags.set_flag('actor_flag', false);
SELECT modelflags.set_actor('actor_flag', 'User:42', true);
SELECT modelflags.set_actor('actor_flag', 'Project:7', true);
SELECT a.actor, modelflags.is_enabled('actor_flag', a.actor) AS enabled
  FROM (VALUES ('User:42'), ('Project:7'), ('User:4'), ('User:420'), ('user:42'), ('Project:7 ')) AS a (actor)
 ORDER BY a.actor COLLATE "C";
SELECT modelflags.is_enabled('actor_flag') AS no_actor;
SELECT modelflags.set_actor('actor_flag', 'User:42', false);
SELECT modelflags.is_enabled('actor_flag', 'User:42') AS removed, modelflags.is_enabled('actor_flag', 'Project:7') AS kept;

-- Many actor gates on one flag (more than the backend keeps as an exact
-- list, so they go through its Bloom filter and an index probe): every
-- actor in the set is in, opt-outs among them are out, nobody else is in.
INSERT INTO modelflags.flags (name, enabled) VALUES ('many_actors_flag', false);
INSERT INTO modelflags.flag_actors (flag, actor, opt_out)
SELECT 'many_actors_flag', 'User:' || i, i % 10 = 0 FROM generate_series(1, 5000) AS i;
SELECT count(*) FILTER (WHERE modelflags.is_enabled('many_actors_flag', 'User:' || i)) AS enabled_count,
       count(*) FILTER (WHERE i <= 5000 AND i % 10 = 0
                          AND modelflags.is_enabled('many_actors_flag', 'User:' || i)) AS opted_out_in,
       count(*) FILTER (WHERE i > 5000 AND modelflags.is_enabled('many_actors_flag', 'User:' || i)) AS outsiders_in
  FROM generate_series(1, 20000) AS i;

--
-- H: rollout_pct gives Flipper's test vectors (v1.4.2, feature :some_feature):
-- crc32("some_featureUser:42") = 305745178, % 100000 = 45178 -> 45.178, and so on.
--
SELECT a.actor, modelflags.rollout_pct('some_feature', a.actor) AS rollout_pct,
       modelflags.rollout_pct('some_feature', a.actor) < 25 AS in_at_25,
       a.flipper_at_25
  FROM (VALUES ('User:42', false), ('User:1', true), ('Project:7', false), ('Group:9', false),
               ('Namespaces::UserNamespace:3', true)) AS a (actor, flipper_at_25)
 ORDER BY a.actor COLLATE "C";

-- The bytes hashed are UTF-8, and every byte counts (positions computed
-- independently with Python's zlib.crc32(b"some_feature" + actor) % 100000).
SELECT a.actor_shown, modelflags.rollout_pct('some_feature', a.actor) AS rollout_pct, a.zlib
  FROM (VALUES (1, 'Üser:42', 'Üser:42', 9.208), (2, '用户:7', '用户:7', 21.036),
               (3, '"User:42 "', 'User:42 ', 83.282), (4, 'repeat(''a'', 1024)', repeat('a', 1024), 43.943))
       AS a (n, actor_shown, actor, zlib)
 ORDER BY a.n;

-- ... and is_enabled agrees at 25%, set the ChatOps way.
SELECT name, enabled, percentage_of_actors, percentage_of_time
  FROM modelflags.set_flag('some_feature', percentage_of_actors => 25);
SELECT a.actor, modelflags.is_enabled('some_feature', a.actor) AS enabled
  FROM (VALUES ('User:42'), ('User:1'), ('Project:7'), ('Group:9'), ('Namespaces::UserNamespace:3')) AS a (actor)
 ORDER BY a.actor COLLATE "C";
-- The percentage-of-actors gate needs an actor (Flipper: no actor, gate closed).
SELECT modelflags.is_enabled('some_feature') AS no_actor, modelflags.is_enabled('some_feature', NULL) AS null_actor;

-- The cut is strict: User:1 sits at 9.890, so it is out at 9.890 and in at 9.891.
UPDATE modelflags.flags SET percentage_of_actors = 9.890 WHERE name = 'some_feature';
SELECT modelflags.is_enabled('some_feature', 'User:1') AS at_9_890;
UPDATE modelflags.flags SET percentage_of_actors = 9.891 WHERE name = 'some_feature';
SELECT modelflags.is_enabled('some_feature', 'User:1') AS at_9_891;

-- H: over 2,000 actors and a ladder of percentages set by plain UPDATE,
-- is_enabled is exactly rollout_pct < p (mismatches = 0), and the count
-- in is non-decreasing as p rises (no actor ever leaves: checked pairwise
-- by "left" below).
CREATE TEMP TABLE rollout_ladder (step int, pct numeric, actor text, enabled boolean, position numeric);
DO $$
DECLARE
    p numeric;
    s int := 0;
BEGIN
    FOREACH p IN ARRAY ARRAY[0, 0.001, 1, 9.999, 25, 33.333, 50, 99.999, 100]::numeric[] LOOP
        s := s + 1;
        UPDATE modelflags.flags SET percentage_of_actors = p WHERE name = 'some_feature';
        INSERT INTO rollout_ladder
        SELECT s, p, x.a, modelflags.is_enabled('some_feature', x.a), modelflags.rollout_pct('some_feature', x.a)
          FROM (SELECT 'User:' || i AS a FROM generate_series(1, 1000) AS i
                UNION ALL SELECT 'Project:' || i FROM generate_series(1, 1000) AS i) x;
    END LOOP;
END $$;
SELECT step, pct, count(*) FILTER (WHERE enabled) AS actors_in,
       count(*) FILTER (WHERE enabled <> (position < pct)) AS mismatches
  FROM rollout_ladder GROUP BY step, pct ORDER BY step;
SELECT count(*) AS left_when_raised
  FROM rollout_ladder lo JOIN rollout_ladder hi ON hi.actor = lo.actor AND hi.step > lo.step
 WHERE lo.enabled AND NOT hi.enabled;
-- rollout_pct is in [0, 100) with three decimals for every actor.
SELECT min(position) >= 0 AS min_ok, max(position) < 100 AS max_ok,
       bool_and(position = round(position, 3)) AS three_decimals, bool_and(scale(position) = 3) AS scale_3
  FROM rollout_ladder WHERE step = 1;
-- rollout_pct hashes flag || actor with no separator: the same bytes split
-- differently give the same position, a different flag another one.
SELECT modelflags.rollout_pct('some_feature', 'User:42') = modelflags.rollout_pct('some', '_featureUser:42') AS same_bytes,
       modelflags.rollout_pct('other_feature', 'User:42') AS other_flag;
DROP TABLE rollout_ladder;

--
-- F4: percentage of time, drawn per call; it ignores the actor.
--
INSERT INTO modelflags.flags (name, percentage_of_time) VALUES ('time_flag', 0);
SELECT count(*) FILTER (WHERE modelflags.is_enabled('time_flag')) AS at_0_of_10000
  FROM generate_series(1, 10000);
UPDATE modelflags.flags SET percentage_of_time = 100 WHERE name = 'time_flag';
SELECT count(*) FILTER (WHERE modelflags.is_enabled('time_flag')) AS at_100_of_10000,
       count(*) FILTER (WHERE modelflags.is_enabled('time_flag', 'User:' || i)) AS at_100_with_actors
  FROM generate_series(1, 10000) AS i;
-- 50%: 10,000 draws land within 20 standard deviations of 5,000.
UPDATE modelflags.flags SET percentage_of_time = 50 WHERE name = 'time_flag';
SELECT count(*) FILTER (WHERE modelflags.is_enabled('time_flag')) BETWEEN 4000 AND 6000 AS at_50_about_half,
       count(*) FILTER (WHERE modelflags.is_enabled('time_flag', 'User:42')) BETWEEN 4000 AND 6000 AS same_actor_varies
  FROM generate_series(1, 10000);
-- 0.001% is almost never.
UPDATE modelflags.flags SET percentage_of_time = 0.001 WHERE name = 'time_flag';
SELECT count(*) FILTER (WHERE modelflags.is_enabled('time_flag')) < 10 AS at_0_001_rare
  FROM generate_series(1, 10000);

--
-- NULL actor = no actor: boolean, time and default_enabled still decide;
-- actor gates and percentage of actors never open.
--
INSERT INTO modelflags.flags (name, enabled, percentage_of_actors) VALUES
    ('null_actor_bool', true, NULL), ('null_actor_pct', NULL, 100);
INSERT INTO modelflags.flags (name, default_enabled) VALUES ('null_actor_default', true);
INSERT INTO modelflags.flags (name, enabled) VALUES ('null_actor_gate', false);
INSERT INTO modelflags.flag_actors (flag, actor) VALUES ('null_actor_gate', 'User:42');
SELECT name, modelflags.is_enabled(name, NULL) AS null_actor, modelflags.is_enabled(name, 'User:42') AS user_42
  FROM modelflags.flags WHERE name LIKE 'null_actor_%' ORDER BY name COLLATE "C";

--
-- The same rules through set_flag (ChatOps): percentage gates add up
-- with actor gates; true opens for everyone; false closes for everyone.
--
SELECT name, enabled, percentage_of_actors, percentage_of_time
  FROM modelflags.set_flag('chatops_flag', percentage_of_actors => 25);
SELECT modelflags.set_actor('chatops_flag', 'User:42', true);
SELECT modelflags.opt_out('chatops_flag', 'User:1');
SELECT a.actor, modelflags.rollout_pct('chatops_flag', a.actor) AS rollout_pct,
       modelflags.is_enabled('chatops_flag', a.actor) AS enabled
  FROM (VALUES ('User:42'), ('User:1'), ('User:2'), ('User:3'), ('User:4')) AS a (actor)
 ORDER BY a.actor COLLATE "C";
SELECT name, enabled, percentage_of_actors, percentage_of_time FROM modelflags.set_flag('chatops_flag', true);
SELECT a.actor, modelflags.is_enabled('chatops_flag', a.actor) AS enabled
  FROM (VALUES ('User:42'), ('User:1'), ('User:2'), ('User:3'), ('User:4')) AS a (actor)
 ORDER BY a.actor COLLATE "C";
SELECT name, enabled, percentage_of_actors, percentage_of_time FROM modelflags.set_flag('chatops_flag', false);
SELECT a.actor, modelflags.is_enabled('chatops_flag', a.actor) AS enabled
  FROM (VALUES ('User:42'), ('User:1'), ('User:2'), ('User:3'), ('User:4')) AS a (actor)
 ORDER BY a.actor COLLATE "C";

--
-- SPEC C inside one session: a change is seen from the next statement,
-- and a rolled-back change is undone for this session too.
--
INSERT INTO modelflags.flags (name, enabled) VALUES ('txn_flag', false);
BEGIN;
UPDATE modelflags.flags SET enabled = true WHERE name = 'txn_flag';
SELECT modelflags.is_enabled('txn_flag') AS inside_transaction;
ROLLBACK;
SELECT modelflags.is_enabled('txn_flag') AS after_rollback;
BEGIN;
DELETE FROM modelflags.flags WHERE name = 'txn_flag';
SELECT modelflags.is_enabled('txn_flag') AS deleted_inside;
ROLLBACK;
SELECT count(*) AS txn_flag_rows FROM modelflags.flags WHERE name = 'txn_flag';

TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
