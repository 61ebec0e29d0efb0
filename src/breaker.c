/*
 * breaker.c — model health windows and the circuit breaker (SPEC §7 O).
 *
 * This is the one place where the health rules are written down:
 *   - which outcomes count against a model (mf_outcome_is_failure: never a
 *     client_error, LiteLLM's most reported cool-down bug);
 *   - sliding windows of counts and latencies (mf_window_*);
 *   - when a breaker opens (failure rate over the window after a minimum
 *     number of calls, as resilience4j; or N failures in a row, as Envoy's
 *     consecutive_5xx), how long it stays open (a cool-down that doubles
 *     with each opening in a row and steps back down while the model stays
 *     closed, as Envoy's ejection multiplier), how it comes back (half-open:
 *     a few probes, all of which must succeed; an unreported probe fails
 *     after a timeout, resilience4j #903), and that failing again while
 *     open pushes the deadline back, never forward (LiteLLM #40130).
 * Which route model_for then picks is evaluate.c's rule.
 *
 * Pure C, no PostgreSQL header: health.c calls it under the entry's
 * spinlock, so nothing here may fail, allocate or take long.
 */
#include <math.h>
#include <string.h>

#include "breaker.h"

#if defined(__GNUC__)
#define unlikely_bounds(x) __builtin_expect((x) != 0, 0)
#else
#define unlikely_bounds(x) (x)
#endif

/* ---- outcomes ---- */

static const char *const mf_outcome_names[MF_NOUTCOMES] = {
	"ok", "error", "timeout", "rate_limited", "client_error"
};

bool
mf_outcome_parse(const char *s, size_t len, MfOutcome *out)
{
	for (int i = 0; i < MF_NOUTCOMES; i++)
		if (strlen(mf_outcome_names[i]) == len && memcmp(mf_outcome_names[i], s, len) == 0)
		{
			*out = (MfOutcome) i;
			return true;
		}
	return false;
}

const char *
mf_outcome_name(MfOutcome o)
{
	return (o >= 0 && o < MF_NOUTCOMES) ? mf_outcome_names[o] : NULL;
}

/* ---- latency histogram ---- */

/*
 * The bins' upper bounds, computed once: report() bins every latency it
 * gets, twice (the model's window and the pair's), so a binary search over
 * a table beats log2() and pow() per call.
 */
static double mf_bounds[MF_LATENCY_BINS];
static bool mf_bounds_ready = false;

static void
mf_bounds_init(void)
{
	mf_bounds[0] = 1.0;
	mf_bounds[1] = 2.0;
	mf_bounds[2] = 4.0;
	for (int b = 3; b < MF_LATENCY_BINS - 1; b++)
		mf_bounds[b] = 4.0 * pow(2.0, (b - 2) / 2.0);
	mf_bounds[MF_LATENCY_BINS - 1] = INFINITY;
	mf_bounds_ready = true;
}

int
mf_latency_bin(double ms)
{
	int			lo = 0,
				hi = MF_LATENCY_BINS - 1;

	if (unlikely_bounds(!mf_bounds_ready))
		mf_bounds_init();
	if (!(ms >= 0.0))			/* NaN, which report() refuses anyway */
		return 0;
	/* the first bin whose upper bound is above ms */
	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (ms < mf_bounds[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

double
mf_latency_bin_upper(int bin)
{
	if (!mf_bounds_ready)
		mf_bounds_init();
	if (bin < 0)
		bin = 0;
	if (bin >= MF_LATENCY_BINS)
		bin = MF_LATENCY_BINS - 1;
	return mf_bounds[bin];
}

static double
mf_latency_bin_lower(int bin)
{
	return bin <= 0 ? 0.0 : mf_latency_bin_upper(bin - 1);
}

double
mf_latency_quantile(const uint64_t *bins, double q)
{
	uint64_t	total = 0;
	double		rank;
	uint64_t	seen = 0;

	for (int i = 0; i < MF_LATENCY_BINS; i++)
		total += bins[i];
	if (total == 0)
		return -1.0;
	rank = q * (double) total;
	for (int i = 0; i < MF_LATENCY_BINS; i++)
	{
		if (bins[i] == 0)
			continue;
		if ((double) (seen + bins[i]) >= rank)
		{
			double		lo = mf_latency_bin_lower(i);
			double		hi = mf_latency_bin_upper(i);
			double		frac = (rank - (double) seen) / (double) bins[i];

			if (isinf(hi))
				return lo;		/* beyond the last bound: say the bound */
			if (frac < 0.0)
				frac = 0.0;
			return lo + (hi - lo) * frac;
		}
		seen += bins[i];
	}
	return mf_latency_bin_lower(MF_LATENCY_BINS - 1);	/* not reached */
}

/* ---- sliding windows ---- */

void
mf_window_init(MfWindow *w, int64_t width)
{
	memset(w, 0, sizeof(*w));
	w->width = width > 0 ? width : 1;
	w->newest = -1;
	w->last_report = -1;
	for (int i = 0; i < MF_WINDOW_BUCKETS; i++)
		w->buckets[i].number = -1;
}

void
mf_window_add(MfWindow *w, int64_t now, MfOutcome o, double latency_ms,
			  int64_t tokens_in, int64_t tokens_out)
{
	int64_t		n;
	MfWindowBucket *b;

	if (now < 0)
		now = 0;
	n = now / w->width;
	if (n < w->newest)
		n = w->newest;			/* a clock read that lost a race: count it as newest */
	b = &w->buckets[n % MF_WINDOW_BUCKETS];
	if (b->number != n)
	{
		memset(b, 0, sizeof(*b));
		b->number = n;
	}
	w->newest = n;
	if (now > w->last_report)
		w->last_report = now;

	b->counts[o]++;
	w->total[o]++;
	if (latency_ms >= 0.0)
	{
		int			bin = mf_latency_bin(latency_ms);

		b->latency[bin]++;
		w->total_latency[bin]++;
		w->total_latency_count++;
		w->total_latency_ms += latency_ms;
	}
	if (tokens_in > 0)
		w->total_tokens_in += (uint64_t) tokens_in;
	if (tokens_out > 0)
		w->total_tokens_out += (uint64_t) tokens_out;
}

void
mf_window_sum(const MfWindow *w, int64_t now, int64_t span, MfWindowSums *out)
{
	int64_t		k;
	int64_t		n_now;

	memset(out, 0, sizeof(*out));
	k = span <= 0 ? 1 : (span + w->width - 1) / w->width;
	if (k < 1)
		k = 1;
	if (k > MF_WINDOW_BUCKETS)
		k = MF_WINDOW_BUCKETS;
	n_now = (now < 0 ? 0 : now) / w->width;
	if (n_now < w->newest)
		n_now = w->newest;
	for (int i = 0; i < MF_WINDOW_BUCKETS; i++)
	{
		const MfWindowBucket *b = &w->buckets[i];

		if (b->number < 0 || b->number <= n_now - k || b->number > n_now)
			continue;
		for (int o = 0; o < MF_NOUTCOMES; o++)
			out->counts[o] += b->counts[o];
		for (int l = 0; l < MF_LATENCY_BINS; l++)
			out->latency[l] += b->latency[l];
	}
	for (int o = 0; o < MF_NOUTCOMES; o++)
	{
		out->calls += out->counts[o];
		if (mf_outcome_is_failure((MfOutcome) o))
			out->failures += out->counts[o];
	}
	out->judged = out->counts[MF_OUTCOME_OK] + out->failures;
}

/* ---- circuit breaker ---- */

const char *
mf_breaker_state_name(MfBreakerState s)
{
	switch (s)
	{
		case MF_BREAKER_CLOSED:
			return "closed";
		case MF_BREAKER_OPEN:
			return "open";
		case MF_BREAKER_HALF_OPEN:
			return "half_open";
	}
	return NULL;
}

void
mf_breaker_init(MfBreaker *b)
{
	memset(b, 0, sizeof(*b));
	b->state = MF_BREAKER_CLOSED;
	b->closed_since = -1;
}

int64_t
mf_breaker_cooldown(const MfBreakerParams *p, int32_t level)
{
	int64_t		t = p->open_time > 0 ? p->open_time : 1;

	/* open_time * 2^(level - 1), capped: doubling stops once past the cap */
	for (int32_t i = 1; i < level && t < p->max_open_time; i++)
		t *= 2;
	if (p->max_open_time > 0 && t > p->max_open_time)
		t = p->max_open_time;
	return t;
}

/* An EXTEND event is announced only when the deadline moved this much. */
#define MF_EXTEND_ANNOUNCE_US INT64_C(1000000)

static void
mf_event(MfBreakerEvent *ev, int *nev, MfBreakerEventKind kind, MfBreakerState from,
		 MfBreaker *b)
{
	MfBreakerEvent *e;

	if (*nev >= MF_BREAKER_MAX_EVENTS)
		return;
	if (b->state == MF_BREAKER_OPEN)
		b->announced = b->deadline;
	e = &ev[(*nev)++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->from = from;
	e->to = b->state;
	e->at = b->now;
	e->deadline = b->state == MF_BREAKER_OPEN ? b->deadline : 0;
	e->reason = (kind == MF_EVENT_OPEN || kind == MF_EVENT_REOPEN || kind == MF_EVENT_EXTEND)
		? b->reason : MF_TRIP_NONE;
	e->calls = b->trip_calls;
	e->failures = b->trip_failures;
	e->level = b->level;
	e->probes_ok = b->probes_ok;
}

/*
 * Whether the figures say "open": the failure rate over the window (once
 * min_calls judged calls are in it), else failures in a row.
 */
static bool
mf_breaker_tripped(const MfBreaker *b, const MfBreakerParams *p, const MfWindow *w,
				   int64_t now, MfTripReason *reason, uint32_t *calls, uint32_t *failures)
{
	MfWindowSums s;
	uint64_t	min_calls = p->min_calls > 0 ? (uint64_t) p->min_calls : 1;

	mf_window_sum(w, now, p->window, &s);
	if (s.judged >= min_calls && s.failures > 0 &&
		(double) s.failures >= p->failure_rate * (double) s.judged * (1.0 - 1e-12))
	{
		*reason = MF_TRIP_FAILURE_RATE;
		*calls = (uint32_t) (s.judged > UINT32_MAX ? UINT32_MAX : s.judged);
		*failures = (uint32_t) (s.failures > UINT32_MAX ? UINT32_MAX : s.failures);
		return true;
	}
	if (p->consecutive_failures > 0 && b->consecutive >= p->consecutive_failures)
	{
		*reason = MF_TRIP_CONSECUTIVE;
		*calls = (uint32_t) b->consecutive;
		*failures = (uint32_t) b->consecutive;
		return true;
	}
	return false;
}

/* closed -> open, one level up after the decay earned while closed. */
static void
mf_breaker_open(MfBreaker *b, const MfBreakerParams *p, MfTripReason reason,
				uint32_t calls, uint32_t failures)
{
	if (b->closed_since >= 0 && p->window > 0 && b->level > 0)
	{
		int64_t		decay = (b->now - b->closed_since) / p->window;

		b->level = decay >= b->level ? 0 : b->level - (int32_t) decay;
	}
	b->level++;
	b->state = MF_BREAKER_OPEN;
	b->since = b->now;
	b->deadline = b->now + mf_breaker_cooldown(p, b->level);
	b->reason = reason;
	b->trip_calls = calls;
	b->trip_failures = failures;
	b->probes_out = 0;
	b->probes_ok = 0;
	b->opens_total++;
}

/* half_open -> open: the model is still failing; a longer cool-down. */
static void
mf_breaker_reopen(MfBreaker *b, const MfBreakerParams *p, MfTripReason reason,
				  uint32_t calls, uint32_t failures)
{
	int64_t		deadline;

	b->level++;
	deadline = b->now + mf_breaker_cooldown(p, b->level);
	b->state = MF_BREAKER_OPEN;
	b->since = b->now;
	if (deadline > b->deadline)
		b->deadline = deadline; /* re-opening never brings the deadline forward */
	b->reason = reason;
	b->trip_calls = calls;
	b->trip_failures = failures;
	b->probes_out = 0;
	b->opens_total++;
}

static void
mf_breaker_half_open(MfBreaker *b)
{
	b->state = MF_BREAKER_HALF_OPEN;
	b->since = b->now;
	b->probes_out = 0;
	b->probes_ok = 0;
	b->probe_deadline = 0;
}

static void
mf_breaker_close(MfBreaker *b)
{
	b->state = MF_BREAKER_CLOSED;
	b->since = b->now;
	b->closed_since = b->now;
	b->consecutive = 0;
	b->probes_out = 0;
}

int
mf_breaker_report(MfBreaker *b, const MfBreakerParams *p, const MfWindow *w,
				  int64_t now, MfOutcome o, MfBreakerEvent *ev)
{
	int			nev = 0;
	bool		failure = mf_outcome_is_failure(o);
	MfTripReason reason;
	uint32_t	calls,
				failures;

	if (now > b->now)
		b->now = now;

	if (o == MF_OUTCOME_CLIENT_ERROR)
	{
		/* says nothing about the model; a probe that ended so frees its slot */
		if (b->state == MF_BREAKER_HALF_OPEN && b->probes_out > 0)
			b->probes_out--;
		return 0;
	}
	if (failure)
		b->consecutive++;
	else
		b->consecutive = 0;

	/* A cool-down that ended with no caller asking: this report is a probe. */
	if (b->state == MF_BREAKER_OPEN && b->now >= b->deadline)
	{
		mf_breaker_half_open(b);
		mf_event(ev, &nev, MF_EVENT_HALF_OPEN, MF_BREAKER_OPEN, b);
	}

	switch (b->state)
	{
		case MF_BREAKER_CLOSED:
			if (failure && mf_breaker_tripped(b, p, w, b->now, &reason, &calls, &failures))
			{
				mf_breaker_open(b, p, reason, calls, failures);
				mf_event(ev, &nev, MF_EVENT_OPEN, MF_BREAKER_CLOSED, b);
			}
			break;
		case MF_BREAKER_OPEN:
			/* Failing again (calls still in flight, or served anyway): later. */
			if (failure && mf_breaker_tripped(b, p, w, b->now, &reason, &calls, &failures))
			{
				int64_t		deadline = b->now + mf_breaker_cooldown(p, b->level);

				if (deadline > b->deadline)
				{
					bool		announce = deadline - b->announced >= MF_EXTEND_ANNOUNCE_US ||
						reason != b->reason;

					b->deadline = deadline;
					b->reason = reason;
					b->trip_calls = calls;
					b->trip_failures = failures;
					if (announce)
						mf_event(ev, &nev, MF_EVENT_EXTEND, MF_BREAKER_OPEN, b);
				}
			}
			break;
		case MF_BREAKER_HALF_OPEN:
			if (b->probes_out > 0)
				b->probes_out--;
			if (failure)
			{
				mf_breaker_reopen(b, p, MF_TRIP_PROBE_FAILED, (uint32_t) b->probes_ok + 1, 1);
				mf_event(ev, &nev, MF_EVENT_REOPEN, MF_BREAKER_HALF_OPEN, b);
			}
			else if (++b->probes_ok >= (p->probes > 0 ? p->probes : 1))
			{
				mf_breaker_close(b);
				mf_event(ev, &nev, MF_EVENT_CLOSE, MF_BREAKER_HALF_OPEN, b);
			}
			break;
	}
	return nev;
}

MfAdmit
mf_breaker_admit(MfBreaker *b, const MfBreakerParams *p, MfOverride override,
				 int64_t now, int64_t *due_at, MfBreakerEvent *ev, int *nev)
{
	*nev = 0;
	*due_at = 0;
	if (override == MF_OVERRIDE_CLOSED)
		return MF_ADMIT_YES;
	if (override == MF_OVERRIDE_OPEN)
	{
		*due_at = INT64_MAX;
		return MF_ADMIT_NO;
	}
	if (now > b->now)
		b->now = now;

	switch (b->state)
	{
		case MF_BREAKER_CLOSED:
			return MF_ADMIT_YES;
		case MF_BREAKER_OPEN:
			if (b->now < b->deadline)
			{
				*due_at = b->deadline;
				return MF_ADMIT_NO;
			}
			mf_breaker_half_open(b);
			mf_event(ev, nev, MF_EVENT_HALF_OPEN, MF_BREAKER_OPEN, b);
			break;
		case MF_BREAKER_HALF_OPEN:
			break;
	}

	/* Probes admitted earlier that never reported: they failed. */
	if (b->probes_out > 0 && b->now >= b->probe_deadline)
	{
		uint32_t	lost = (uint32_t) b->probes_out;

		mf_breaker_reopen(b, p, MF_TRIP_PROBE_TIMEOUT, lost + (uint32_t) b->probes_ok, lost);
		mf_event(ev, nev, MF_EVENT_REOPEN, MF_BREAKER_HALF_OPEN, b);
		*due_at = b->deadline;
		return MF_ADMIT_NO;
	}
	if (b->probes_out + b->probes_ok < (p->probes > 0 ? p->probes : 1))
	{
		b->probes_out++;
		b->probe_deadline = b->now + p->probe_timeout;
		return MF_ADMIT_PROBE;
	}
	/* Every probe is out: due back as soon as they report, before any open model. */
	*due_at = b->since;
	return MF_ADMIT_NO;
}

uint64_t
mf_breaker_word(const MfBreaker *b)
{
	switch (b->state)
	{
		case MF_BREAKER_CLOSED:
			return 0;
		case MF_BREAKER_OPEN:
			return MF_WORD_OPEN | ((uint64_t) (b->deadline < 0 ? 0 : b->deadline) & MF_WORD_DEADLINE);
		case MF_BREAKER_HALF_OPEN:
			return MF_WORD_HALF_OPEN;
	}
	return MF_WORD_HALF_OPEN;	/* not reached: the slow path decides */
}
