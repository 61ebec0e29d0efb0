/*
 * breaker.h — model health (SPEC §7 O): outcome classes, sliding time
 * windows with a latency histogram, and the circuit breaker's state machine.
 *
 * Pure C: no PostgreSQL header.  The PostgreSQL shell (health.c) keeps one
 * MfWindow per model and per (feature, model), and one MfBreaker per model,
 * in shared memory, takes the entry's spinlock and calls these functions
 * with the time; test/unit_health.c calls them with hand-made times.
 *
 * Time is a single int64 clock in microseconds that never goes backwards
 * within one entry (the shell uses CLOCK_MONOTONIC): a time earlier than
 * one an entry has already seen is treated as that later time, so that two
 * processes whose clock reads interleave cannot corrupt a window.
 */
#ifndef MODELFLAGS_BREAKER_H
#define MODELFLAGS_BREAKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- outcomes ---- */

/*
 * What became of one LLM call.  error, timeout and rate_limited count
 * against the model; client_error (the caller's mistake: a bad request, a
 * content-policy refusal, a caller-side cancel or timeout) never does.
 */
typedef enum MfOutcome
{
	MF_OUTCOME_OK = 0,
	MF_OUTCOME_ERROR,
	MF_OUTCOME_TIMEOUT,
	MF_OUTCOME_RATE_LIMITED,
	MF_OUTCOME_CLIENT_ERROR,
	MF_NOUTCOMES
} MfOutcome;

/* Parses an outcome name (exact, lowercase); false if it is none. */
extern bool mf_outcome_parse(const char *s, size_t len, MfOutcome *out);
extern const char *mf_outcome_name(MfOutcome o);

static inline bool
mf_outcome_is_failure(MfOutcome o)
{
	return o == MF_OUTCOME_ERROR || o == MF_OUTCOME_TIMEOUT || o == MF_OUTCOME_RATE_LIMITED;
}

/* ---- latency histogram ---- */

/*
 * Latency bins, in milliseconds: [0,1), [1,2), [2,4), then two bins per
 * doubling from 4 ms up to 2^20 ms (about 17.5 minutes), then everything
 * longer.  Two bins per octave bound a quantile's interpolation error to
 * about 20%, which is what a p95 on a dashboard needs.
 */
#define MF_LATENCY_BINS 40

/* The bin of a latency in ms (>= 0). */
extern int	mf_latency_bin(double ms);

/* Upper bound of bin i in ms (infinity for the last). */
extern double mf_latency_bin_upper(int bin);

/*
 * The q-quantile (0 < q < 1) of a histogram, in ms, interpolated linearly
 * within its bin; -1 when the histogram is empty.
 */
extern double mf_latency_quantile(const uint64_t *bins, double q);

/* Largest latency accepted by report(): one day. */
#define MF_LATENCY_MAX_MS (24.0 * 3600.0 * 1000.0)

/* ---- sliding windows ---- */

/*
 * A sliding time window of MF_WINDOW_BUCKETS buckets of equal width, plus
 * monotonic totals.  A bucket holds the absolute bucket number (time /
 * width) its counts belong to, so a stale bucket is recognised (and
 * cleared on the next write to it) without any rotation work, however long
 * the window sat idle.  A sum over the last k buckets is "the last k widths
 * of time", the newest bucket being partly filled.
 */
#define MF_WINDOW_BUCKETS 12

typedef struct MfWindowBucket
{
	int64_t		number;			/* absolute bucket number, -1 = empty */
	uint32_t	counts[MF_NOUTCOMES];
	uint32_t	latency[MF_LATENCY_BINS];
} MfWindowBucket;

typedef struct MfWindow
{
	int64_t		width;			/* bucket width, us (> 0) */
	int64_t		newest;			/* newest bucket number written, -1 none */
	int64_t		last_report;	/* time of the last report, -1 none */
	MfWindowBucket buckets[MF_WINDOW_BUCKETS];
	/* Monotonic totals since the entry was created (for exporters). */
	uint64_t	total[MF_NOUTCOMES];
	uint64_t	total_latency[MF_LATENCY_BINS];
	uint64_t	total_latency_count;
	double		total_latency_ms;
	uint64_t	total_tokens_in;
	uint64_t	total_tokens_out;
} MfWindow;

/* Counts of a span of a window. */
typedef struct MfWindowSums
{
	uint64_t	counts[MF_NOUTCOMES];
	uint64_t	latency[MF_LATENCY_BINS];
	uint64_t	calls;			/* all outcomes */
	uint64_t	judged;			/* ok + failures: the calls that say something about the model */
	uint64_t	failures;		/* error + timeout + rate_limited */
} MfWindowSums;

extern void mf_window_init(MfWindow *w, int64_t width);

/*
 * Records one outcome at time now.  latency_ms < 0 means "not measured"
 * (not put in the histogram); tokens < 0 likewise.
 */
extern void mf_window_add(MfWindow *w, int64_t now, MfOutcome o, double latency_ms,
						  int64_t tokens_in, int64_t tokens_out);

/*
 * Sums the buckets that fall in the span (now - span, now], rounded up to
 * whole buckets (at least one, at most the whole window).
 */
extern void mf_window_sum(const MfWindow *w, int64_t now, int64_t span, MfWindowSums *out);

/* The window's whole span, us. */
static inline int64_t
mf_window_span(const MfWindow *w)
{
	return w->width * MF_WINDOW_BUCKETS;
}

/* ---- circuit breaker ---- */

typedef enum MfBreakerState
{
	MF_BREAKER_CLOSED = 0,
	MF_BREAKER_OPEN,
	MF_BREAKER_HALF_OPEN
} MfBreakerState;

extern const char *mf_breaker_state_name(MfBreakerState s);

/* A manual override of the breaker (breaker_settings.override). */
typedef enum MfOverride
{
	MF_OVERRIDE_NONE = 0,
	MF_OVERRIDE_OPEN,			/* always skipped; never due back */
	MF_OVERRIDE_CLOSED			/* never skipped for health */
} MfOverride;

/* The parameters of one model's breaker (defaults in health.c's GUCs). */
typedef struct MfBreakerParams
{
	double		failure_rate;	/* fraction of judged calls, in (0, 1] */
	int32_t		min_calls;		/* judged calls in the window before the rate counts */
	int32_t		consecutive_failures;	/* open after this many in a row; 0 = off */
	int64_t		window;			/* failure window, us */
	int64_t		open_time;		/* first cool-down, us */
	int64_t		max_open_time;	/* cool-downs grow up to this, us */
	int32_t		probes;			/* successful probes that close a half-open breaker */
	int64_t		probe_timeout;	/* an admitted probe unreported this long failed, us */
} MfBreakerParams;

/* Why a breaker opened (the figures are kept with it). */
typedef enum MfTripReason
{
	MF_TRIP_NONE = 0,
	MF_TRIP_FAILURE_RATE,		/* failures / judged calls over the window */
	MF_TRIP_CONSECUTIVE,		/* N failures in a row */
	MF_TRIP_PROBE_FAILED,		/* a half-open probe failed */
	MF_TRIP_PROBE_TIMEOUT		/* half-open probes did not report in time */
} MfTripReason;

/* What one transition was, with the figures that caused it. */
typedef enum MfBreakerEventKind
{
	MF_EVENT_OPEN = 0,			/* closed -> open */
	MF_EVENT_HALF_OPEN,			/* open -> half_open: cool-down over */
	MF_EVENT_CLOSE,				/* half_open -> closed: probes succeeded */
	MF_EVENT_REOPEN,			/* half_open -> open: a probe failed or timed out */
	MF_EVENT_EXTEND				/* open -> open: failing again, deadline pushed back */
} MfBreakerEventKind;

typedef struct MfBreakerEvent
{
	MfBreakerEventKind kind;
	MfBreakerState from;
	MfBreakerState to;
	int64_t		at;
	int64_t		deadline;		/* open: when it may be probed again; else 0 */
	MfTripReason reason;		/* for OPEN, REOPEN, EXTEND */
	uint32_t	calls;			/* judged calls in the window (rate trips) */
	uint32_t	failures;		/* failures in the window, or in a row */
	int32_t		level;			/* openings in a row (the cool-down's exponent) */
	int32_t		probes_ok;		/* CLOSE: probes that succeeded */
} MfBreakerEvent;

/* At most this many events come out of one call. */
#define MF_BREAKER_MAX_EVENTS 2

typedef struct MfBreaker
{
	MfBreakerState state;
	int64_t		now;			/* latest time seen (the clock never goes back) */
	int64_t		since;			/* entered the current state */
	int64_t		deadline;		/* OPEN: end of the cool-down */
	int64_t		announced;		/* the deadline the last event told */
	int64_t		closed_since;	/* last closing (for the cool-down's decay); -1 never */
	int32_t		level;			/* openings in a row, decayed while closed */
	int32_t		consecutive;	/* failures in a row */
	int32_t		probes_out;		/* HALF_OPEN: admitted, not yet reported */
	int32_t		probes_ok;		/* HALF_OPEN: reported ok */
	int64_t		probe_deadline; /* HALF_OPEN: the latest admitted probe's limit */
	/* What opened it last (for explain and the views). */
	MfTripReason reason;
	uint32_t	trip_calls;
	uint32_t	trip_failures;
	uint64_t	opens_total;	/* monotonic count of openings */
} MfBreaker;

extern void mf_breaker_init(MfBreaker *b);

/*
 * The effect of one report (already added to w) at time now.  client_error
 * changes nothing but frees a half-open probe's slot.  Returns the number of
 * events written to ev (at most MF_BREAKER_MAX_EVENTS).
 */
extern int	mf_breaker_report(MfBreaker *b, const MfBreakerParams *p, const MfWindow *w,
							  int64_t now, MfOutcome o, MfBreakerEvent *ev);

/* Whether a call may go to the model now (model_for's question). */
typedef enum MfAdmit
{
	MF_ADMIT_YES = 0,			/* closed (or forced closed) */
	MF_ADMIT_PROBE,				/* half-open: this call is a probe */
	MF_ADMIT_NO					/* open, or half-open with every probe out */
} MfAdmit;

/*
 * Admits a call at time now, or not.  When the cool-down is over, the
 * breaker goes half-open (an event) and admits up to p->probes calls that
 * have not yet reported; probes unreported after p->probe_timeout count as
 * failed and re-open it.  *due_at receives, for MF_ADMIT_NO, when the model
 * is due back (INT64_MAX for a forced open): it orders the routes when every
 * applying one is open.  A caller that only looks (explain) passes a copy.
 */
extern MfAdmit mf_breaker_admit(MfBreaker *b, const MfBreakerParams *p, MfOverride override,
								int64_t now, int64_t *due_at, MfBreakerEvent *ev, int *nev);

/*
 * A word that says whether a model is certainly callable, published by the
 * shell after every change so that model_for reads one atomic value and
 * takes no lock in the common case: 0 = closed; otherwise the state in the
 * top bits and, when open, the deadline.
 */
#define MF_WORD_OPEN		(UINT64_C(1) << 62)
#define MF_WORD_HALF_OPEN	(UINT64_C(2) << 62)
#define MF_WORD_DEADLINE	((UINT64_C(1) << 62) - 1)

extern uint64_t mf_breaker_word(const MfBreaker *b);

/* The cool-down for a given level (1 = first opening), us. */
extern int64_t mf_breaker_cooldown(const MfBreakerParams *p, int32_t level);

#endif
