/*
 * unit_health.c — unit tests of model health's pure core (src/breaker.c):
 * outcome classes, latency bins and quantiles, sliding windows, and the
 * circuit breaker's state machine, driven with hand-made times (no clock,
 * no sleeping, no PostgreSQL).
 *
 *     make -C test unit-core && test/build/unit_health [label]
 *
 * Prints "PASS: unit_health <name>" or "FAIL: unit_health <name>" per test
 * (with "#" lines naming the failed expectation) and exits non-zero if any
 * failed.  Each expectation is a concrete figure from the rules in
 * breaker.c's header, so each test fails if its rule breaks.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "breaker.h"

#define UNIT_NAME "unit_health"
#define UNIT_RNG_SEED 0x2545F4914F6CDD1Dull
#include "unit.h"

#define SEC INT64_C(1000000)

/* The documented defaults (README "Health"): 50%, 20 calls, 5 in a row, 60 s, 30 s .. 300 s, 3 probes, 60 s. */
static MfBreakerParams
defaults(void)
{
	MfBreakerParams p;

	p.failure_rate = 0.5;
	p.min_calls = 20;
	p.consecutive_failures = 5;
	p.window = 60 * SEC;
	p.open_time = 30 * SEC;
	p.max_open_time = 300 * SEC;
	p.probes = 3;
	p.probe_timeout = 60 * SEC;
	return p;
}

/* One report through window and breaker, as health.c does it. */
static int
report(MfWindow *w, MfBreaker *b, const MfBreakerParams *p, int64_t now, MfOutcome o,
	   MfBreakerEvent *ev)
{
	mf_window_add(w, now, o, 100.0, -1, -1);
	return mf_breaker_report(b, p, w, now, o, ev);
}

/* ------------------------------------------------------------------ */

static void
test_outcomes(void)
{
	MfOutcome	o = MF_NOUTCOMES;
	static const char *names[] = {"ok", "error", "timeout", "rate_limited", "client_error"};

	for (int i = 0; i < MF_NOUTCOMES; i++)
	{
		EXPECT(mf_outcome_parse(names[i], strlen(names[i]), &o));
		EXPECT_I(o, i);
		EXPECT(strcmp(mf_outcome_name((MfOutcome) i), names[i]) == 0);
	}
	EXPECT(!mf_outcome_parse("OK", 2, &o));
	EXPECT(!mf_outcome_parse("okay", 4, &o));
	EXPECT(!mf_outcome_parse("o", 1, &o));
	EXPECT(!mf_outcome_parse("error ", 6, &o));
	EXPECT(!mf_outcome_parse("", 0, &o));
	EXPECT(!mf_outcome_parse("ok\0", 3, &o));
	/* which count against the model */
	EXPECT(!mf_outcome_is_failure(MF_OUTCOME_OK));
	EXPECT(mf_outcome_is_failure(MF_OUTCOME_ERROR));
	EXPECT(mf_outcome_is_failure(MF_OUTCOME_TIMEOUT));
	EXPECT(mf_outcome_is_failure(MF_OUTCOME_RATE_LIMITED));
	EXPECT(!mf_outcome_is_failure(MF_OUTCOME_CLIENT_ERROR));
}

static void
test_latency_bins(void)
{
	int			prev = 0;

	EXPECT_I(mf_latency_bin(0.0), 0);
	EXPECT_I(mf_latency_bin(0.999), 0);
	EXPECT_I(mf_latency_bin(1.0), 1);
	EXPECT_I(mf_latency_bin(3.999), 2);
	EXPECT_I(mf_latency_bin(4.0), 3);
	EXPECT_I(mf_latency_bin(5.65), 3);
	EXPECT_I(mf_latency_bin(4.0 * sqrt(2.0)), 4);
	EXPECT_I(mf_latency_bin(8.0), 5);
	EXPECT_I(mf_latency_bin(1000.0), 18);	/* [724, 1024) */
	EXPECT_I(mf_latency_bin(1048575.0), 38);
	EXPECT_I(mf_latency_bin(1048576.0), 39);
	EXPECT_I(mf_latency_bin(MF_LATENCY_MAX_MS), 39);
	EXPECT_NEAR(mf_latency_bin_upper(38), 1048576.0, 1e-6);
	EXPECT(isinf(mf_latency_bin_upper(39)));
	/* every value lands in the bin whose bounds hold it, and bins never go down */
	for (double ms = 0.0; ms < 2e6; ms = ms * 1.01 + 0.013)
	{
		int			b = mf_latency_bin(ms);
		double		lo = b == 0 ? 0.0 : mf_latency_bin_upper(b - 1);

		if (b < prev || ms < lo || ms >= mf_latency_bin_upper(b))
		{
			cur_fail++;
			printf("#   %g ms in bin %d [%g, %g)\n", ms, b, lo, mf_latency_bin_upper(b));
			break;
		}
		prev = b;
	}
	/* exact bounds go up */
	for (int b = 0; b < MF_LATENCY_BINS - 1; b++)
		EXPECT_I(mf_latency_bin(mf_latency_bin_upper(b)), b + 1);
}

static void
test_quantiles(void)
{
	uint64_t	bins[MF_LATENCY_BINS] = {0};
	double		p50;

	EXPECT_NEAR(mf_latency_quantile(bins, 0.5), -1.0, 0);

	/* 100 calls of 1000 ms: every quantile lies in 1000's bin [724.08, 1024) */
	bins[mf_latency_bin(1000.0)] = 100;
	p50 = mf_latency_quantile(bins, 0.5);
	EXPECT(p50 >= 724.0 && p50 < 1024.0);
	EXPECT_NEAR(p50, 724.077 + (1024.0 - 724.077) * 0.5, 0.01);

	/* 90 fast (10 ms) and 10 slow (20 s): p50 is fast, p95 and p99 are slow */
	memset(bins, 0, sizeof(bins));
	bins[mf_latency_bin(10.0)] = 90;
	bins[mf_latency_bin(20000.0)] = 10;
	EXPECT(mf_latency_quantile(bins, 0.5) < 12.0);
	EXPECT(mf_latency_quantile(bins, 0.5) >= 8.0);
	EXPECT(mf_latency_quantile(bins, 0.95) >= 16384.0);
	EXPECT(mf_latency_quantile(bins, 0.99) < 23170.5);
	EXPECT(mf_latency_quantile(bins, 0.95) <= mf_latency_quantile(bins, 0.99));

	/* beyond the last bound: the bound itself */
	memset(bins, 0, sizeof(bins));
	bins[MF_LATENCY_BINS - 1] = 3;
	EXPECT_NEAR(mf_latency_quantile(bins, 0.99), 1048576.0, 1e-6);

	/* a quantile estimate is within the 2^(1/2) bin ratio of the truth */
	{
		double		vals[1000];

		memset(bins, 0, sizeof(bins));
		for (int i = 0; i < 1000; i++)
		{
			vals[i] = 50.0 + (double) (rng() % 100000) / 10.0;
			bins[mf_latency_bin(vals[i])]++;
		}
		for (int i = 1; i < 1000; i++)
			for (int j = i; j > 0 && vals[j - 1] > vals[j]; j--)
			{
				double		t = vals[j];

				vals[j] = vals[j - 1];
				vals[j - 1] = t;
			}
		EXPECT(fabs(log2(mf_latency_quantile(bins, 0.95) / vals[949])) <= 0.5);
		EXPECT(fabs(log2(mf_latency_quantile(bins, 0.5) / vals[499])) <= 0.5);
	}
}

static void
test_window(void)
{
	MfWindow	w;
	MfWindowSums s;
	int64_t		t0 = 1000 * SEC + 123;

	mf_window_init(&w, 5 * SEC);	/* 12 buckets of 5 s: 60 s */
	EXPECT_I(mf_window_span(&w), 60 * SEC);
	mf_window_sum(&w, t0, 60 * SEC, &s);
	EXPECT_I(s.calls, 0);

	mf_window_add(&w, t0, MF_OUTCOME_OK, 10.0, 100, 20);
	mf_window_add(&w, t0, MF_OUTCOME_ERROR, 20.0, -1, -1);
	mf_window_add(&w, t0 + 1 * SEC, MF_OUTCOME_CLIENT_ERROR, -1.0, -1, -1);
	mf_window_add(&w, t0 + 30 * SEC, MF_OUTCOME_TIMEOUT, 30000.0, -1, -1);
	mf_window_add(&w, t0 + 30 * SEC, MF_OUTCOME_RATE_LIMITED, 5.0, -1, -1);

	mf_window_sum(&w, t0 + 30 * SEC, 60 * SEC, &s);
	EXPECT_I(s.calls, 5);
	EXPECT_I(s.counts[MF_OUTCOME_OK], 1);
	EXPECT_I(s.counts[MF_OUTCOME_CLIENT_ERROR], 1);
	EXPECT_I(s.failures, 3);
	EXPECT_I(s.judged, 4);		/* the client error is not judged */
	{
		uint64_t	lat = 0;

		for (int i = 0; i < MF_LATENCY_BINS; i++)
			lat += s.latency[i];
		EXPECT_I(lat, 4);		/* the unmeasured one is not in the histogram */
	}
	/* a 10 s span sees only the last two buckets: the reports at t0 + 30 s */
	mf_window_sum(&w, t0 + 30 * SEC, 10 * SEC, &s);
	EXPECT_I(s.calls, 2);
	EXPECT_I(s.failures, 2);

	/*
	 * t0 starts a bucket (1000 s / 5 s); the reports at t0 and t0 + 1 s
	 * share it, and it leaves the window when the 13th bucket begins.
	 */
	mf_window_sum(&w, t0 + 59 * SEC, 60 * SEC, &s);
	EXPECT_I(s.calls, 5);
	mf_window_sum(&w, t0 + 60 * SEC, 60 * SEC, &s);
	EXPECT_I(s.calls, 2);
	/* an hour later, nothing is in the window; the totals stay */
	mf_window_sum(&w, t0 + 3600 * SEC, 60 * SEC, &s);
	EXPECT_I(s.calls, 0);
	EXPECT_I(w.total[MF_OUTCOME_OK], 1);
	EXPECT_I(w.total[MF_OUTCOME_TIMEOUT], 1);
	EXPECT_I(w.total_latency_count, 4);
	EXPECT_NEAR(w.total_latency_ms, 10.0 + 20.0 + 30000.0 + 5.0, 1e-9);
	EXPECT_I(w.total_tokens_in, 100);
	EXPECT_I(w.total_tokens_out, 20);

	/* a write an hour later reuses a slot: its old counts are gone */
	mf_window_add(&w, t0 + 3600 * SEC, MF_OUTCOME_OK, 1.0, -1, -1);
	mf_window_sum(&w, t0 + 3600 * SEC, 60 * SEC, &s);
	EXPECT_I(s.calls, 1);
	EXPECT_I(w.total[MF_OUTCOME_OK], 2);

	/* a clock read that lost a race (earlier than the newest) counts as newest */
	mf_window_add(&w, t0 + 100 * SEC, MF_OUTCOME_ERROR, 1.0, -1, -1);
	mf_window_sum(&w, t0 + 3600 * SEC, 5 * SEC, &s);
	EXPECT_I(s.calls, 2);
	EXPECT_I(s.failures, 1);
	/* a reader whose clock is behind sees the window as of the newest bucket */
	mf_window_sum(&w, t0, 5 * SEC, &s);
	EXPECT_I(s.calls, 2);
}

static void
test_trip_on_failure_rate(void)
{
	MfBreakerParams p = defaults();
	MfWindow	w;
	MfBreaker	b;
	MfBreakerEvent ev[MF_BREAKER_MAX_EVENTS];
	int64_t		t = 500 * SEC;
	int			n;

	p.consecutive_failures = 0;	/* the rate alone */
	mf_window_init(&w, 5 * SEC);
	mf_breaker_init(&b);

	/* 19 failures: all failed, but under min_calls (20): stays closed */
	for (int i = 0; i < 19; i++)
		EXPECT_I(report(&w, &b, &p, t + i, MF_OUTCOME_ERROR, ev), 0);
	EXPECT_I(b.state, MF_BREAKER_CLOSED);
	/* client errors never count, however many */
	for (int i = 0; i < 1000; i++)
		EXPECT_I(report(&w, &b, &p, t + 100 + i, MF_OUTCOME_CLIENT_ERROR, ev), 0);
	EXPECT_I(b.state, MF_BREAKER_CLOSED);
	EXPECT_I(b.consecutive, 19);
	/* the 20th judged call, a failure: 100% over 20 calls */
	n = report(&w, &b, &p, t + 2000, MF_OUTCOME_TIMEOUT, ev);
	EXPECT_I(n, 1);
	EXPECT_I(b.state, MF_BREAKER_OPEN);
	EXPECT_I(ev[0].kind, MF_EVENT_OPEN);
	EXPECT_I(ev[0].from, MF_BREAKER_CLOSED);
	EXPECT_I(ev[0].to, MF_BREAKER_OPEN);
	EXPECT_I(ev[0].reason, MF_TRIP_FAILURE_RATE);
	EXPECT_I(ev[0].calls, 20);
	EXPECT_I(ev[0].failures, 20);
	EXPECT_I(ev[0].level, 1);
	EXPECT_I(ev[0].deadline, t + 2000 + 30 * SEC);
	EXPECT_I(b.opens_total, 1);

	/* below the threshold: 9 failures of 20 judged calls (45%) stay closed */
	mf_window_init(&w, 5 * SEC);
	mf_breaker_init(&b);
	for (int i = 0; i < 11; i++)
		report(&w, &b, &p, t, MF_OUTCOME_OK, ev);
	for (int i = 0; i < 9; i++)
		EXPECT_I(report(&w, &b, &p, t, i % 2 ? MF_OUTCOME_RATE_LIMITED : MF_OUTCOME_ERROR, ev), 0);
	EXPECT_I(b.state, MF_BREAKER_CLOSED);
}

/* The threshold compared exactly: failures >= rate * judged calls. */
static void
test_trip_threshold_exact(void)
{
	MfBreakerParams p = defaults();
	MfWindow	w;
	MfBreaker	b;
	MfBreakerEvent ev[MF_BREAKER_MAX_EVENTS];
	int64_t		t = 500 * SEC;

	p.consecutive_failures = 0;
	mf_window_init(&w, 5 * SEC);
	mf_breaker_init(&b);
	for (int i = 0; i < 11; i++)
		report(&w, &b, &p, t, MF_OUTCOME_OK, ev);
	for (int i = 0; i < 10; i++)
		report(&w, &b, &p, t, MF_OUTCOME_ERROR, ev);
	EXPECT_I(b.state, MF_BREAKER_CLOSED);	/* 10 of 21 = 47.6% */
	report(&w, &b, &p, t, MF_OUTCOME_ERROR, ev);	/* 11 of 22 = 50% */
	EXPECT_I(b.state, MF_BREAKER_OPEN);

	/* an ok never opens it, even when the rate is already above */
	mf_window_init(&w, 5 * SEC);
	mf_breaker_init(&b);
	p.min_calls = 3;
	report(&w, &b, &p, t, MF_OUTCOME_OK, ev);
	p.min_calls = 1000;
	report(&w, &b, &p, t, MF_OUTCOME_ERROR, ev);
	report(&w, &b, &p, t, MF_OUTCOME_ERROR, ev);
	p.min_calls = 3;
	EXPECT_I(report(&w, &b, &p, t, MF_OUTCOME_OK, ev), 0);
	EXPECT_I(b.state, MF_BREAKER_CLOSED);
	EXPECT_I(report(&w, &b, &p, t, MF_OUTCOME_ERROR, ev), 1);	/* 3 of 4 */

	/* failures that left the window do not count */
	mf_window_init(&w, 5 * SEC);
	mf_breaker_init(&b);
	p.min_calls = 20;
	for (int i = 0; i < 19; i++)
		report(&w, &b, &p, t, MF_OUTCOME_ERROR, ev);
	report(&w, &b, &p, t + 61 * SEC, MF_OUTCOME_ERROR, ev);
	EXPECT_I(b.state, MF_BREAKER_CLOSED);
	/* a shorter failure window per model: 10 s sees only the last two buckets */
	p.window = 10 * SEC;
	p.min_calls = 2;
	mf_window_init(&w, 5 * SEC);
	mf_breaker_init(&b);
	for (int i = 0; i < 10; i++)
		report(&w, &b, &p, t, MF_OUTCOME_OK, ev);
	report(&w, &b, &p, t + 20 * SEC, MF_OUTCOME_ERROR, ev);
	EXPECT_I(b.state, MF_BREAKER_CLOSED);	/* 1 judged call in the last 10 s */
	report(&w, &b, &p, t + 20 * SEC, MF_OUTCOME_ERROR, ev);
	EXPECT_I(b.state, MF_BREAKER_OPEN);		/* 2 of 2 in the last 10 s; 2 of 12 over 60 s */
}

static void
test_trip_on_consecutive(void)
{
	MfBreakerParams p = defaults();
	MfWindow	w;
	MfBreaker	b;
	MfBreakerEvent ev[MF_BREAKER_MAX_EVENTS];
	int64_t		t = 500 * SEC;

	mf_window_init(&w, 5 * SEC);
	mf_breaker_init(&b);
	for (int i = 0; i < 4; i++)
		report(&w, &b, &p, t, MF_OUTCOME_ERROR, ev);
	report(&w, &b, &p, t, MF_OUTCOME_OK, ev);	/* an ok resets the run */
	EXPECT_I(b.consecutive, 0);
	for (int i = 0; i < 4; i++)
		EXPECT_I(report(&w, &b, &p, t, MF_OUTCOME_TIMEOUT, ev), 0);
	report(&w, &b, &p, t, MF_OUTCOME_CLIENT_ERROR, ev);	/* neither resets nor counts */
	EXPECT_I(b.consecutive, 4);
	EXPECT_I(report(&w, &b, &p, t, MF_OUTCOME_ERROR, ev), 1);
	EXPECT_I(b.state, MF_BREAKER_OPEN);
	EXPECT_I(ev[0].reason, MF_TRIP_CONSECUTIVE);
	EXPECT_I(ev[0].failures, 5);

	/* 0 turns it off */
	p.consecutive_failures = 0;
	mf_window_init(&w, 5 * SEC);
	mf_breaker_init(&b);
	for (int i = 0; i < 19; i++)
		report(&w, &b, &p, t, MF_OUTCOME_ERROR, ev);
	EXPECT_I(b.state, MF_BREAKER_CLOSED);
}

/* Open, cool-down, half-open probes, closed; and the words model_for reads. */
static void
test_cycle(void)
{
	MfBreakerParams p = defaults();
	MfWindow	w;
	MfBreaker	b;
	MfBreakerEvent ev[MF_BREAKER_MAX_EVENTS];
	int			nev;
	int64_t		t = 500 * SEC;
	int64_t		due;
	int64_t		deadline;

	mf_window_init(&w, 5 * SEC);
	mf_breaker_init(&b);
	EXPECT_I(mf_breaker_word(&b), 0);
	EXPECT_I(mf_breaker_admit(&b, &p, MF_OVERRIDE_NONE, t, &due, ev, &nev), MF_ADMIT_YES);
	EXPECT_I(nev, 0);
	for (int i = 0; i < 5; i++)
		report(&w, &b, &p, t, MF_OUTCOME_ERROR, ev);
	deadline = t + 30 * SEC;
	EXPECT_I(b.deadline, deadline);
	EXPECT(mf_breaker_word(&b) == (MF_WORD_OPEN | (uint64_t) deadline));

	/* open: refused until the deadline, and due back then */
	EXPECT_I(mf_breaker_admit(&b, &p, MF_OVERRIDE_NONE, deadline - 1, &due, ev, &nev), MF_ADMIT_NO);
	EXPECT_I(due, deadline);
	EXPECT_I(nev, 0);
	/* at the deadline: half-open, and this call is the first probe */
	EXPECT_I(mf_breaker_admit(&b, &p, MF_OVERRIDE_NONE, deadline, &due, ev, &nev), MF_ADMIT_PROBE);
	EXPECT_I(nev, 1);
	EXPECT_I(ev[0].kind, MF_EVENT_HALF_OPEN);
	EXPECT_I(ev[0].from, MF_BREAKER_OPEN);
	EXPECT_I(ev[0].to, MF_BREAKER_HALF_OPEN);
	EXPECT(mf_breaker_word(&b) == MF_WORD_HALF_OPEN);
	/* three probes in all; a fourth caller is turned away, due back "now" */
	EXPECT_I(mf_breaker_admit(&b, &p, MF_OVERRIDE_NONE, deadline + 1, &due, ev, &nev), MF_ADMIT_PROBE);
	EXPECT_I(mf_breaker_admit(&b, &p, MF_OVERRIDE_NONE, deadline + 2, &due, ev, &nev), MF_ADMIT_PROBE);
	EXPECT_I(mf_breaker_admit(&b, &p, MF_OVERRIDE_NONE, deadline + 3, &due, ev, &nev), MF_ADMIT_NO);
	EXPECT_I(due, deadline);	/* since it went half-open: before any open model's deadline */
	EXPECT_I(b.probes_out, 3);
	/* a probe that ended in a client error frees its slot */
	EXPECT_I(report(&w, &b, &p, deadline + 4, MF_OUTCOME_CLIENT_ERROR, ev), 0);
	EXPECT_I(mf_breaker_admit(&b, &p, MF_OVERRIDE_NONE, deadline + 5, &due, ev, &nev), MF_ADMIT_PROBE);
	/* two succeed: still half-open; the third closes it */
	EXPECT_I(report(&w, &b, &p, deadline + 6, MF_OUTCOME_OK, ev), 0);
	EXPECT_I(report(&w, &b, &p, deadline + 7, MF_OUTCOME_OK, ev), 0);
	EXPECT_I(b.state, MF_BREAKER_HALF_OPEN);
	nev = report(&w, &b, &p, deadline + 8, MF_OUTCOME_OK, ev);
	EXPECT_I(nev, 1);
	EXPECT_I(ev[0].kind, MF_EVENT_CLOSE);
	EXPECT_I(ev[0].probes_ok, 3);
	EXPECT_I(b.state, MF_BREAKER_CLOSED);
	EXPECT_I(mf_breaker_word(&b), 0);
	EXPECT_I(b.consecutive, 0);
}

/* A failing probe re-opens with a cool-down that doubles, up to the cap. */
static void
test_reopen_backoff(void)
{
	MfBreakerParams p = defaults();
	MfWindow	w;
	MfBreaker	b;
	MfBreakerEvent ev[MF_BREAKER_MAX_EVENTS];
	int			nev;
	int64_t		t = 500 * SEC;
	int64_t		due;
	static const int64_t expect_s[] = {30, 60, 120, 240, 300, 300};

	mf_window_init(&w, 5 * SEC);
	mf_breaker_init(&b);
	for (int i = 0; i < 5; i++)
		report(&w, &b, &p, t, MF_OUTCOME_ERROR, ev);
	EXPECT_I(b.deadline - t, 30 * SEC);
	for (int round = 1; round < 6; round++)
	{
		t = b.deadline;
		EXPECT_I(mf_breaker_admit(&b, &p, MF_OVERRIDE_NONE, t, &due, ev, &nev), MF_ADMIT_PROBE);
		nev = report(&w, &b, &p, t + SEC, MF_OUTCOME_ERROR, ev);
		EXPECT_I(nev, 1);
		EXPECT_I(ev[0].kind, MF_EVENT_REOPEN);
		EXPECT_I(ev[0].reason, MF_TRIP_PROBE_FAILED);
		EXPECT_I(ev[0].level, round + 1);
		EXPECT_I(b.deadline - (t + SEC), expect_s[round] * SEC);
		EXPECT_I(ev[0].deadline, b.deadline);
	}
	EXPECT_I(b.opens_total, 6);
	EXPECT_I(mf_breaker_cooldown(&p, 1), 30 * SEC);
	EXPECT_I(mf_breaker_cooldown(&p, 4), 240 * SEC);
	EXPECT_I(mf_breaker_cooldown(&p, 1000000), 300 * SEC);
}

/* Probes that never report fail after probe_timeout. */
static void
test_probe_timeout(void)
{
	MfBreakerParams p = defaults();
	MfWindow	w;
	MfBreaker	b;
	MfBreakerEvent ev[MF_BREAKER_MAX_EVENTS];
	int			nev;
	int64_t		t = 500 * SEC;
	int64_t		due;
	int64_t		half;

	mf_window_init(&w, 5 * SEC);
	mf_breaker_init(&b);
	for (int i = 0; i < 5; i++)
		report(&w, &b, &p, t, MF_OUTCOME_ERROR, ev);
	half = b.deadline;
	EXPECT_I(mf_breaker_admit(&b, &p, MF_OVERRIDE_NONE, half, &due, ev, &nev), MF_ADMIT_PROBE);
	EXPECT_I(mf_breaker_admit(&b, &p, MF_OVERRIDE_NONE, half + SEC, &due, ev, &nev), MF_ADMIT_PROBE);
	/* before the latest probe's limit: nothing happens */
	EXPECT_I(mf_breaker_admit(&b, &p, MF_OVERRIDE_NONE, half + 60 * SEC, &due, ev, &nev), MF_ADMIT_PROBE);
	EXPECT_I(mf_breaker_admit(&b, &p, MF_OVERRIDE_NONE, half + 61 * SEC, &due, ev, &nev), MF_ADMIT_NO);
	EXPECT_I(nev, 0);
	/* 60 s after the last probe was admitted, none reported: re-opened */
	EXPECT_I(mf_breaker_admit(&b, &p, MF_OVERRIDE_NONE, half + 120 * SEC, &due, ev, &nev), MF_ADMIT_NO);
	EXPECT_I(nev, 1);
	EXPECT_I(ev[0].kind, MF_EVENT_REOPEN);
	EXPECT_I(ev[0].reason, MF_TRIP_PROBE_TIMEOUT);
	EXPECT_I(ev[0].failures, 3);
	EXPECT_I(b.state, MF_BREAKER_OPEN);
	EXPECT_I(due, half + 120 * SEC + 60 * SEC);
}

/* Failing again while open pushes the deadline back, never forward; events at most once a second. */
static void
test_extend_while_open(void)
{
	MfBreakerParams p = defaults();
	MfWindow	w;
	MfBreaker	b;
	MfBreakerEvent ev[MF_BREAKER_MAX_EVENTS];
	int64_t		t = 500 * SEC;
	int64_t		first;
	int			events = 0;

	p.min_calls = 1000;			/* consecutive failures only, so the reason stays */
	mf_window_init(&w, 5 * SEC);
	mf_breaker_init(&b);
	for (int i = 0; i < 5; i++)
		report(&w, &b, &p, t, MF_OUTCOME_ERROR, ev);
	first = b.deadline;
	/* an ok while open changes nothing */
	EXPECT_I(report(&w, &b, &p, t + 10 * SEC, MF_OUTCOME_OK, ev), 0);
	EXPECT_I(b.deadline, first);
	/* five failures in a row again, 10 s later: deadline now + 30 s */
	for (int i = 0; i < 5; i++)
		events += report(&w, &b, &p, t + 10 * SEC + i * 1000, MF_OUTCOME_ERROR, ev);
	EXPECT_I(b.state, MF_BREAKER_OPEN);
	EXPECT_I(b.deadline, t + 10 * SEC + 4000 + 30 * SEC);
	EXPECT_I(events, 1);
	EXPECT_I(ev[0].kind, MF_EVENT_EXTEND);
	EXPECT_I(ev[0].from, MF_BREAKER_OPEN);
	EXPECT_I(ev[0].to, MF_BREAKER_OPEN);
	/* the level (and so the cool-down) does not grow while open */
	EXPECT_I(b.level, 1);
	/* 100 failures 1 ms apart move the deadline, but are announced once */
	events = 0;
	for (int i = 0; i < 100; i++)
		events += report(&w, &b, &p, t + 11 * SEC + i * 1000, MF_OUTCOME_ERROR, ev);
	EXPECT_I(events, 1);
	EXPECT_I(b.deadline, t + 11 * SEC + 99000 + 30 * SEC);
}

/* A report after the deadline with nobody asking makes it half-open and counts as a probe. */
static void
test_report_after_deadline(void)
{
	MfBreakerParams p = defaults();
	MfWindow	w;
	MfBreaker	b;
	MfBreakerEvent ev[MF_BREAKER_MAX_EVENTS];
	int			nev;
	int64_t		t = 500 * SEC;

	mf_window_init(&w, 5 * SEC);
	mf_breaker_init(&b);
	for (int i = 0; i < 5; i++)
		report(&w, &b, &p, t, MF_OUTCOME_ERROR, ev);
	nev = report(&w, &b, &p, b.deadline + SEC, MF_OUTCOME_ERROR, ev);
	EXPECT_I(nev, 2);
	EXPECT_I(ev[0].kind, MF_EVENT_HALF_OPEN);
	EXPECT_I(ev[1].kind, MF_EVENT_REOPEN);
	EXPECT_I(b.level, 2);
	nev = report(&w, &b, &p, b.deadline, MF_OUTCOME_OK, ev);
	EXPECT_I(nev, 1);
	EXPECT_I(ev[0].kind, MF_EVENT_HALF_OPEN);
	EXPECT_I(b.probes_ok, 1);
}

/* The cool-down steps back down one level per failure window the model stays closed. */
static void
test_level_decay(void)
{
	MfBreakerParams p = defaults();
	MfWindow	w;
	MfBreaker	b;
	MfBreakerEvent ev[MF_BREAKER_MAX_EVENTS];
	int			nev;
	int64_t		t = 500 * SEC;
	int64_t		due;

	mf_window_init(&w, 5 * SEC);
	mf_breaker_init(&b);
	for (int i = 0; i < 5; i++)
		report(&w, &b, &p, t, MF_OUTCOME_ERROR, ev);
	/* probe fails twice: level 3 */
	for (int k = 0; k < 2; k++)
	{
		t = b.deadline;
		mf_breaker_admit(&b, &p, MF_OVERRIDE_NONE, t, &due, ev, &nev);
		report(&w, &b, &p, t, MF_OUTCOME_ERROR, ev);
	}
	EXPECT_I(b.level, 3);
	t = b.deadline;
	for (int k = 0; k < 3; k++)
	{
		mf_breaker_admit(&b, &p, MF_OVERRIDE_NONE, t, &due, ev, &nev);
		report(&w, &b, &p, t, MF_OUTCOME_OK, ev);
	}
	EXPECT_I(b.state, MF_BREAKER_CLOSED);
	/* failing again right away: level 4, 240 s */
	{
		MfBreaker	again = b;
		MfWindow	w2 = w;

		for (int i = 0; i < 5; i++)
			report(&w2, &again, &p, t + SEC, MF_OUTCOME_ERROR, ev);
		EXPECT_I(again.level, 4);
		EXPECT_I(again.deadline - (t + SEC), 240 * SEC);
	}
	/* after two full windows closed: level 3 - 2 + 1 = 2, 60 s */
	for (int i = 0; i < 5; i++)
		report(&w, &b, &p, t + 125 * SEC, MF_OUTCOME_ERROR, ev);
	EXPECT_I(b.level, 2);
	EXPECT_I(b.deadline - (t + 125 * SEC), 60 * SEC);
}

static void
test_overrides(void)
{
	MfBreakerParams p = defaults();
	MfWindow	w;
	MfBreaker	b;
	MfBreakerEvent ev[MF_BREAKER_MAX_EVENTS];
	int			nev;
	int64_t		t = 500 * SEC;
	int64_t		due;
	MfBreaker	before;

	mf_window_init(&w, 5 * SEC);
	mf_breaker_init(&b);
	EXPECT_I(mf_breaker_admit(&b, &p, MF_OVERRIDE_OPEN, t, &due, ev, &nev), MF_ADMIT_NO);
	EXPECT(due == INT64_MAX);
	for (int i = 0; i < 5; i++)
		report(&w, &b, &p, t, MF_OUTCOME_ERROR, ev);
	before = b;
	/* forced closed: callable although open, and the breaker is left as it was */
	EXPECT_I(mf_breaker_admit(&b, &p, MF_OVERRIDE_CLOSED, t + 1, &due, ev, &nev), MF_ADMIT_YES);
	EXPECT_I(nev, 0);
	EXPECT(memcmp(&before, &b, sizeof(b)) == 0);
	/* forced open past the deadline: not probed */
	EXPECT_I(mf_breaker_admit(&b, &p, MF_OVERRIDE_OPEN, b.deadline + 1, &due, ev, &nev), MF_ADMIT_NO);
	EXPECT_I(b.state, MF_BREAKER_OPEN);
	EXPECT(due == INT64_MAX);
}

/*
 * Random reports and admissions at random, mostly increasing times, with
 * the invariants every state must keep.
 */
static void
test_random_invariants(void)
{
	int			bad = 0;
	int			opened = 0,
				closed_again = 0;

	for (int run_i = 0; run_i < 200; run_i++)
	{
		MfBreakerParams p = defaults();
		MfWindow	w;
		MfBreaker	b;
		int64_t		t = (int64_t) (rng() % 1000) * SEC;

		p.min_calls = 1 + (int32_t) (rng() % 30);
		p.consecutive_failures = (int32_t) (rng() % 8);
		p.probes = 1 + (int32_t) (rng() % 4);
		p.failure_rate = 0.05 + (rng() % 95) / 100.0;
		p.window = (1 + (int64_t) (rng() % 12)) * 5 * SEC;
		mf_window_init(&w, 5 * SEC);
		mf_breaker_init(&b);
		for (int step = 0; step < 2000; step++)
		{
			MfBreakerEvent ev[MF_BREAKER_MAX_EVENTS];
			int			nev;
			MfBreakerState st = b.state;
			int64_t		dl = b.deadline;
			int64_t		due;

			t += (int64_t) (rng() % 3000) * 1000 - 200000;	/* sometimes backwards */
			if (rng() % 3 == 0)
			{
				MfAdmit		a = mf_breaker_admit(&b, &p, MF_OVERRIDE_NONE, t, &due, ev, &nev);

				if (a == MF_ADMIT_YES && b.state != MF_BREAKER_CLOSED)
					bad++;
				if (a == MF_ADMIT_NO && b.state == MF_BREAKER_CLOSED)
					bad++;
				if (a == MF_ADMIT_NO && b.state == MF_BREAKER_OPEN && due != b.deadline)
					bad++;
			}
			else
			{
				MfOutcome	o = rng() % 10 < 6 ? MF_OUTCOME_OK
					: (MfOutcome) (1 + rng() % (MF_NOUTCOMES - 1));

				nev = report(&w, &b, &p, t, o, ev);
				if (!mf_outcome_is_failure(o) && st == MF_BREAKER_CLOSED && b.state != MF_BREAKER_CLOSED)
					bad++;		/* only a failure opens */
				if (o == MF_OUTCOME_CLIENT_ERROR && b.state != st)
					bad++;		/* a client error never changes the state */
			}
			for (int i = 0; i < nev; i++)
			{
				if (i == 0 && ev[i].from != st)
					bad++;
				if (ev[i].to == MF_BREAKER_OPEN && ev[i].deadline <= ev[i].at)
					bad++;
				if (ev[i].kind == MF_EVENT_OPEN)
					opened++;
				if (ev[i].kind == MF_EVENT_CLOSE)
					closed_again++;
			}
			if (st == MF_BREAKER_OPEN && b.state == MF_BREAKER_OPEN && b.deadline < dl)
				bad++;			/* never forward */
			if (b.state == MF_BREAKER_OPEN && b.level < 1)
				bad++;
			if (b.probes_out < 0 || b.probes_out + b.probes_ok > p.probes)
				bad++;
			if ((mf_breaker_word(&b) == 0) != (b.state == MF_BREAKER_CLOSED))
				bad++;
			if (b.state == MF_BREAKER_OPEN &&
				(mf_breaker_word(&b) & MF_WORD_DEADLINE) != (uint64_t) b.deadline)
				bad++;
			if (b.state == MF_BREAKER_OPEN && b.deadline - b.now > p.max_open_time)
				bad++;
		}
	}
	EXPECT_I(bad, 0);
	EXPECT(opened > 100);
	EXPECT(closed_again > 100);
}

int
main(int argc, char **argv)
{
	unit_begin(argc, argv);

	run("outcome names, and which count against the model", test_outcomes);
	run("latency bins", test_latency_bins);
	run("latency quantiles", test_quantiles);
	run("sliding window, totals, stale buckets, clock races", test_window);
	run("opens on the failure rate after min_calls, never on client errors", test_trip_on_failure_rate);
	run("failure rate threshold and window span", test_trip_threshold_exact);
	run("opens on consecutive failures", test_trip_on_consecutive);
	run("open, cool-down, half-open probes, closed", test_cycle);
	run("a failed probe re-opens with a doubled cool-down, capped", test_reopen_backoff);
	run("unreported probes fail after probe_timeout", test_probe_timeout);
	run("failing while open pushes the deadline back", test_extend_while_open);
	run("a report after the deadline is a probe", test_report_after_deadline);
	run("the cool-down decays while closed", test_level_decay);
	run("forced open and forced closed", test_overrides);
	run("random reports and admissions keep the invariants", test_random_invariants);

	return unit_end();
}
