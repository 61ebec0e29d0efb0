/*
 * bench/incremental.sql — helpers of bench/incremental.sh (issue 9): a
 * writer at a steady rate, and what it did.
 */
\set ON_ERROR_STOP on
SET client_min_messages = warning;

-- Failover flags have no actor gates in real life; data_large_actors.sql
-- gives each incident_fail_over_fN 10, and set_flag(f, true | false) clears
-- them: clear them once here so that every write below changes one flag row
-- and nothing in flag_actors (else 1.0's full rebuild would also drop every
-- actor set at each of the first 1,000 writes, which is not the case measured).
SELECT count(modelflags.set_flag('incident_fail_over_f' || i, false, note => 'bench: failover flags start off'))
  FROM generate_series(1, 1000) i;

-- (run again on the same server, e.g. for one part alone, it starts afresh)
DROP SEQUENCE IF EXISTS bench.write_seq, bench.warmed;
DROP TABLE IF EXISTS bench.phases;
CREATE SEQUENCE bench.write_seq MINVALUE 0 START 0;
-- pgbench readers count their warm-up transaction here (incremental.sh waits for all).
CREATE SEQUENCE bench.warmed;

CREATE TABLE bench.phases (
    label   text,
    rate    float8,             -- writes per second asked for
    t_start float8,             -- epoch seconds
    t_end   float8,
    writes  integer             -- writes committed
);

/*
 * One flip: incident_fail_over_fN, N rotating over 1..1000, set to the
 * opposite of what it is, in its own transaction.  Every feature_N routes
 * through its flag, so every write changes what some reader answers.
 */
CREATE OR REPLACE FUNCTION bench.flip_next() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    f text := 'incident_fail_over_f' || (nextval('bench.write_seq') % 1000 + 1);
BEGIN
    PERFORM modelflags.set_flag(f, NOT coalesce((SELECT enabled FROM modelflags.flags WHERE name = f), false));
END $$;

/*
 * The writer: for each rate in rates, secs seconds of writes at that steady
 * rate (write n of a phase is due at its start + n / rate: no drift, no
 * bursts; a late write is not made up twice over), each committed on its
 * own; records each phase in bench.phases.
 */
CREATE OR REPLACE PROCEDURE bench.writer(label text, rates float8[], secs float8)
LANGUAGE plpgsql AS $$
DECLARE
    r float8;
    t0 timestamptz;
    n integer;
    due timestamptz;
BEGIN
    FOREACH r IN ARRAY rates LOOP
        t0 := clock_timestamp();
        n := 0;
        LOOP
            due := CASE WHEN r > 0 THEN t0 + (n / r) * interval '1 s' ELSE t0 + secs * interval '1 s' END;
            EXIT WHEN due >= t0 + secs * interval '1 s';
            PERFORM pg_sleep(greatest(0, extract(epoch FROM due - clock_timestamp())));
            PERFORM bench.flip_next();
            COMMIT;
            n := n + 1;
        END LOOP;
        PERFORM pg_sleep(greatest(0, extract(epoch FROM t0 + secs * interval '1 s' - clock_timestamp())));
        INSERT INTO bench.phases VALUES (label, r, extract(epoch FROM t0), extract(epoch FROM clock_timestamp()), n);
        COMMIT;
    END LOOP;
END $$;
