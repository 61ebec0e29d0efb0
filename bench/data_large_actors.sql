/*
 * bench/data_large_actors.sql — 1,000,000 actor gates in ONE statement
 * (issue 3, requirement 3), with the audit and NOTIFY triggers active.
 * The distribution is described in data_large.sql.
 */
INSERT INTO modelflags.flag_actors (flag, actor, opt_out)
SELECT CASE WHEN f.n <= 1000 THEN 'migrate_f' || f.n
            WHEN f.n <= 2000 THEN 'incident_fail_over_f' || (f.n - 1000)
            ELSE 'flag_' || f.n END,
       'User:' || ((j::bigint * 7919 + f.n * 104729) % 5000000 + 1),
       j % 100 = 99
  FROM (SELECT n, CASE WHEN n <= 2 THEN 200000 WHEN n <= 6 THEN 100000
                       WHEN n <= 106 THEN 1500 ELSE 10 END AS actors
          FROM generate_series(1, 5106) n) f,
       generate_series(0, f.actors - 1) j;
