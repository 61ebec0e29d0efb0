--
-- health_filters: large actor sets' Bloom filters, kept once per server in
-- shared memory (src/shared_filters.c, modelflags.shared_filter_memory).
--
-- Proves:
--   - a filter of 1 kB or more is shared, and the backend keeps no copy of
--     its own; answers are exact (members, opt-outs, non-members); a smaller
--     one (under about 820 actors) stays the backend's own;
--   - an equal filter (the same actors under another flag) is the same
--     copy; a changed set is a new filter, the old one kept while a
--     collection still holds it;
--   - an ERROR after the reference is taken (fault actors:share) loses no
--     reference: when the backend exits, every filter it held is freed;
--   - with modelflags.shared_filter_memory too small for a filter, the
--     backend keeps its own copy (25_health.sh, a second server).
--
\set SHOW_CONTEXT never
SELECT shared_filters, shared_filter_bytes, shared_filter_memory FROM modelflags.health_status;
INSERT INTO modelflags.flags (name) VALUES ('wide_rollout'), ('wide_copy');
-- 20,000 actors, every 100th opted out: a filter of 200,000 bits (7 pages)
INSERT INTO modelflags.flag_actors (flag, actor, opt_out)
    SELECT 'wide_rollout', 'User:' || i, i % 100 = 0 FROM generate_series(1, 20000) i;
SELECT count(*) FILTER (WHERE modelflags.is_enabled('wide_rollout', 'User:' || g)) AS enabled,
       count(*) FILTER (WHERE NOT modelflags.is_enabled('wide_rollout', 'User:' || g)) AS disabled
  FROM generate_series(1, 40000) g;
SELECT shared_filters, shared_filter_bytes FROM modelflags.health_status;
-- the backend's actor sets hold less than the filter
SELECT sum(total_bytes) < 25000 AS no_private_copy
  FROM pg_backend_memory_contexts WHERE name = 'modelflags actor sets';

-- The same actors under another flag: the same filter, no second copy.
INSERT INTO modelflags.flag_actors (flag, actor)
    SELECT 'wide_copy', actor FROM modelflags.flag_actors WHERE flag = 'wide_rollout';
SELECT count(*) FILTER (WHERE modelflags.is_enabled('wide_copy', 'User:' || g)) AS enabled
  FROM generate_series(1, 40000) g;
SELECT shared_filters, shared_filter_bytes FROM modelflags.health_status;

-- A change: a new filter; the old one is kept while this backend's
-- collection holds the forgotten set.
INSERT INTO modelflags.flag_actors (flag, actor) VALUES ('wide_rollout', 'User:new');
SELECT modelflags.is_enabled('wide_rollout', 'User:new') AS new_actor,
       modelflags.is_enabled('wide_rollout', 'User:20001') AS other,
       modelflags.is_enabled('wide_copy', 'User:new') AS not_in_copy;
SELECT shared_filters, shared_filter_bytes FROM modelflags.health_status;

-- An ERROR just after the reference is taken (a load of wide_copy again,
-- after a change to its actors).
INSERT INTO modelflags.flag_actors (flag, actor) VALUES ('wide_copy', 'User:copy');
BEGIN;
SET LOCAL modelflags.fault_injection = 'actors:share';
SELECT modelflags.is_enabled('wide_copy', 'User:copy');
ROLLBACK;
SELECT modelflags.is_enabled('wide_copy', 'User:copy') AS after_error;
SELECT shared_filters, shared_filter_bytes FROM modelflags.health_status;

-- The backend exits: each filter it held goes with its last reference.
\c
SELECT regress_h.poll('SELECT shared_filters = 0 FROM modelflags.health_status') AS all_freed;
SELECT shared_filter_bytes FROM modelflags.health_status;
-- and a new backend shares again
SELECT count(*) FILTER (WHERE modelflags.is_enabled('wide_rollout', 'User:' || g)) AS enabled
  FROM generate_series(1, 40000) g;
SELECT shared_filters, shared_filter_bytes FROM modelflags.health_status;
DELETE FROM modelflags.flag_actors WHERE flag IN ('wide_rollout', 'wide_copy');
DELETE FROM modelflags.flags WHERE name IN ('wide_rollout', 'wide_copy');

-- Middle-sized sets: 1,000 actors make a filter of 10,048 bits (1,256
-- bytes): shared, in one page; 700 make 7,040 bits (880 bytes): the
-- backend's own.  Both answer exactly.
INSERT INTO modelflags.flags (name) VALUES ('mid_rollout'), ('small_rollout');
INSERT INTO modelflags.flag_actors (flag, actor)
    SELECT 'mid_rollout', 'User:' || i FROM generate_series(1, 1000) i;
INSERT INTO modelflags.flag_actors (flag, actor)
    SELECT 'small_rollout', 'User:' || i FROM generate_series(1, 700) i;
SELECT shared_filters AS filters_before, shared_filter_bytes AS bytes_before
  FROM modelflags.health_status \gset
SELECT count(*) FILTER (WHERE modelflags.is_enabled('small_rollout', 'User:' || g)) AS small_enabled
  FROM generate_series(1, 3000) g;
SELECT shared_filters - :filters_before AS new_filters FROM modelflags.health_status;
SELECT count(*) FILTER (WHERE modelflags.is_enabled('mid_rollout', 'User:' || g)) AS mid_enabled
  FROM generate_series(1, 3000) g;
SELECT shared_filters - :filters_before AS new_filters,
       shared_filter_bytes - :bytes_before AS new_bytes
  FROM modelflags.health_status;
DELETE FROM modelflags.flag_actors WHERE flag IN ('mid_rollout', 'small_rollout');
DELETE FROM modelflags.flags WHERE name IN ('mid_rollout', 'small_rollout');
