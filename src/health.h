/*
 * health.h — model health in shared memory (SPEC §7 O): what read_api.c
 * and the background worker need of health.c.
 *
 * Health is live state, not table state: report() counts outcomes in
 * shared memory (no table write, no WAL, so it works on hot standbys), and
 * model_for reads each candidate model's breaker with one atomic read.  It
 * is outside SPEC C's snapshot rules: a transaction sees the breakers as
 * they are at each call, not as of its snapshot.  Only the breaker settings
 * (modelflags.breaker_settings) are a table.
 */
#ifndef MODELFLAGS_HEALTH_H
#define MODELFLAGS_HEALTH_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"

#include "breaker.h"
#include "cache.h"
#include "evaluate.h"

/* GUCs, shared-memory hooks (when preloaded), invalidation callback; from _PG_init. */
extern void MfHealthInit(void);

/*
 * Whether model_for checks model health: the library was preloaded (so the
 * shared memory exists) and modelflags.breaker is on.
 */
extern bool MfHealthRouting(void);

/*
 * Brings this backend's copy of the breaker settings up to date, if an
 * invalidation said they changed.  Reads a table, so it is called before a
 * route walk, never inside one.
 */
extern void MfHealthPrepare(void);

/*
 * The health of cache->models[model] for a route walk.  With claim, a
 * half-open breaker admits this call as a probe (model_for); without, it
 * only says what it would do (explain).
 */
extern MfRouteHealth MfHealthRoute(MfCache *cache, int model, bool claim);

/*
 * Appends to buf why cache->models[model] is not callable (explain, and
 * the reason of a degraded answer): "model x open until 14:02:31: 62%
 * errors over 40 calls".
 */
extern void MfHealthDescribe(MfCache *cache, int model, StringInfo buf);

/* ---- the background worker (health_worker.c) ---- */

/* Entry point of the per-database worker that records transitions. */
extern PGDLLEXPORT void mf_health_worker_main(Datum arg);

/* An event as the worker writes it. */
typedef struct MfHealthEventOut
{
	uint64		seq;
	char		model[MF_NAME_MAX + 1];
	TimestampTz at;
	TimestampTz until;			/* 0 = none */
	MfBreakerEvent ev;
	char		reason[128];
} MfHealthEventOut;

/*
 * The worker's side of the event ring: attach as dbid's worker (false if
 * another one is), take up to max pending events of dbid in order, mark
 * them written (or, recorded = false, dropped), detach when idle (false if
 * events arrived meanwhile, so the worker must go on).
 */
extern bool mf_health_worker_attach(Oid dbid);
extern int	mf_health_take_events(Oid dbid, MfHealthEventOut *out, int max);
extern void mf_health_mark_events(const MfHealthEventOut *evs, int n, bool recorded);
extern bool mf_health_worker_detach(Oid dbid, bool only_if_idle);

extern const char *mf_event_kind_name(MfBreakerEventKind k);

#endif
