/*
 * bench/harness.sql — timing and memory helpers for bench/run.sh.
 *
 * Times are taken inside the backend, around an EXECUTE: no client round
 * trip, no EXPLAIN ANALYZE instrumentation.  Two clocks:
 *   wall  clock_timestamp(), for single short events (a first call);
 *   cpu   the backend's on-CPU time from /proc/self/schedstat (nanoseconds
 *         the kernel ran this process), for loops of a second or so: time
 *         spent waiting for a CPU while other work runs on the machine is
 *         not counted.  The kernel updates that figure at scheduler ticks,
 *         so it is exact only to a few milliseconds; it falls back to wall
 *         time where the file cannot be read (pg_read_file needs superuser).
 */
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;

-- Nanoseconds this backend has run on a CPU (NULL if not available).
CREATE FUNCTION bench.cpu_ns() RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    RETURN split_part(pg_read_file('/proc/self/schedstat', 0, 200), ' ', 1)::bigint;
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END $$;

-- Milliseconds one execution of q takes, by clock ('wall' or 'cpu').
CREATE FUNCTION bench.once_ms(q text, clock text DEFAULT 'wall') RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
    c0 bigint := CASE WHEN clock = 'cpu' THEN bench.cpu_ns() END;
    t0 timestamptz := clock_timestamp();
    c1 bigint;
BEGIN
    EXECUTE q;
    c1 := CASE WHEN c0 IS NOT NULL THEN bench.cpu_ns() END;
    IF c1 IS NOT NULL THEN
        RETURN (c1 - c0) / 1e6;
    END IF;
    RETURN 1000 * extract(epoch FROM clock_timestamp() - t0);
END $$;

-- The fastest of reps executions of q, after one warm-up execution.
CREATE FUNCTION bench.best_ms(q text, reps integer DEFAULT 5, clock text DEFAULT 'wall') RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
    best float8;
BEGIN
    PERFORM bench.once_ms(q, clock);
    FOR i IN 1 .. reps LOOP
        best := least(best, bench.once_ms(q, clock));
    END LOOP;
    RETURN best;
END $$;

/*
 * Microseconds per call of the function in q: q and base are one statement
 * each making n calls (%s stands for n), base calling a trivial function
 * with the same arguments; the answer is (best(q) - best(base)) / n, on-CPU.
 */
CREATE FUNCTION bench.per_call_us(q text, base text, n integer, reps integer DEFAULT 5)
RETURNS float8
LANGUAGE plpgsql AS $$
BEGIN
    RETURN 1000 * (bench.best_ms(format(q, n), reps, 'cpu') - bench.best_ms(format(base, n), reps, 'cpu')) / n;
END $$;

-- This backend's memory: every context, and the routing cache's.
CREATE FUNCTION bench.backend_bytes() RETURNS bigint
LANGUAGE sql RETURN (SELECT sum(total_bytes) FROM pg_backend_memory_contexts);

CREATE FUNCTION bench.cache_bytes() RETURNS bigint
LANGUAGE sql RETURN (SELECT coalesce(sum(total_bytes), 0) FROM pg_backend_memory_contexts
                      WHERE name = 'modelflags routing cache' OR parent = 'modelflags routing cache');
