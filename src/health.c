/*
 * health.c — model health in shared memory (SPEC §7 O): report(), the
 * breakers model_for consults, the health views, and the settings.
 *
 * The rules are the pure core's (breaker.c: windows and the breaker's state
 * machine; evaluate.c: which route wins).  This file keeps their state in
 * shared memory and feeds them the time.
 *
 * Shared memory (requested in shmem_request_hook, so modelflags must be in
 * shared_preload_libraries; without it report() and the views raise 55000
 * with a hint, and model_for routes as 1.0 did):
 *   - MfHealthShared: counters, the free list of entries, the event ring
 *     that the background worker drains, the workers' latches;
 *   - max_entries MfHealthSlot entries, one per model and one per (feature,
 *     model), each with its window (breaker.c's MfWindow) and, for a
 *     model, its breaker, guarded by the entry's own spinlock;
 *   - a hash table from (database, model, feature) to entry, guarded by
 *     the first LWLock of the "modelflags" tranche; the second guards the
 *     event ring and the workers' slots.
 *
 * Locking.  The hash table's lock is taken shared to look an entry up and
 * exclusive to create or free one; each look-up result is cached per
 * backend (a handle, below), so that lock is not taken in steady state.  A
 * report takes the spinlocks of two entries (the model's, the pair's), one
 * at a time, for a few hundred instructions of breaker.c.  model_for takes
 * no lock at all in the common case: each model entry publishes a word
 * (breaker.c's mf_breaker_word) with an atomic write under its spinlock,
 * and a closed breaker is one atomic read; only an open breaker whose
 * cool-down is over, or a half-open one, takes the spinlock to claim a
 * probe.
 *
 * Handles.  A model of the compiled routing cache (MfCacheModel.health)
 * points to a handle made on first use: its entry's index, the index of each
 * (feature, model) entry it reported into, its breaker parameters and
 * override as this backend's settings say, and the shared generation and
 * settings generation they were resolved at.  Creating or freeing entries
 * bumps the shared generation; an invalidation of breaker_settings or a
 * reload of the breaker GUCs bumps the settings generation; either makes
 * the handle resolve again.  Each entry also counts its incarnations, which
 * a handle checks under the spinlock, so a report never lands in an entry
 * that was freed and reused meanwhile.  Handles live in the cache's memory
 * context and go with it.
 *
 * Clocks.  Windows and deadlines use CLOCK_MONOTONIC (microseconds), the
 * same for every process of the machine and never set back by an NTP step;
 * the views and explain show them as wall-clock times (now + the time left).
 * modelflags.health_clock_offset (superuser, testing only) adds to it, so
 * tests drive cool-downs without sleeping.
 *
 * Restarts and crashes.  Shared memory starts empty: a restart starts
 * healthy, and a crash loses the windows and the transitions the worker
 * had not yet recorded, nothing else.  A hot standby keeps its own
 * (reports sent to it, breakers decided from them); it writes nothing.
 */
#include "postgres.h"

#include <math.h>
#include <time.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "breaker.h"
#include "cache.h"
#include "health.h"
#include "shared_filters.h"
#include "strmap.h"

PG_FUNCTION_INFO_V1(modelflags_report);
PG_FUNCTION_INFO_V1(modelflags_report_batch);
PG_FUNCTION_INFO_V1(modelflags_health_entries);
PG_FUNCTION_INFO_V1(modelflags_health_status);
PG_FUNCTION_INFO_V1(modelflags_health_transitions);
PG_FUNCTION_INFO_V1(modelflags_health_reset);
PG_FUNCTION_INFO_V1(modelflags_latency_quantile);
PG_FUNCTION_INFO_V1(modelflags_latency_bounds);
PG_FUNCTION_INFO_V1(modelflags_breaker_settings_changed);

/* ---- settings (GUCs) ---- */

static int	mf_max_entries = 1000;	/* modelflags.health_max_entries */
static int	mf_window_seconds = 60; /* modelflags.health_window */
static bool mf_breaker_on = true;	/* modelflags.breaker */
static double mf_guc_failure_rate = 50.0;	/* percent */
static int	mf_guc_min_calls = 20;
static int	mf_guc_consecutive = 5;
static int	mf_guc_failure_window = 60; /* s */
static int	mf_guc_open_time = 30;	/* s */
static int	mf_guc_max_open_time = 300; /* s */
static int	mf_guc_probes = 3;
static int	mf_guc_probe_timeout = 60;	/* s */
static int	mf_clock_offset_ms = 0; /* modelflags.health_clock_offset */

/* Bumped when this backend's breaker parameters may have changed. */
static uint64 mf_settings_gen = 1;

#define MF_EVENT_RING 512
#define MF_MAX_WORKERS 8
#define MF_PAIR_RESERVE_DIVISOR 10	/* pairs leave the last 10% of entries to models */

/* ---- shared memory ---- */

typedef struct MfHealthKey
{
	Oid			dbid;
	char		model[MF_NAME_MAX + 1];
	char		feature[MF_NAME_MAX + 1];	/* "" for the model's own entry */
} MfHealthKey;

typedef struct MfHealthHashEntry
{
	MfHealthKey key;
	int32		slot;
} MfHealthHashEntry;

typedef struct MfHealthSlot
{
	slock_t		mutex;			/* guards everything below but key and next */
	pg_atomic_uint64 word;		/* mf_breaker_word, for lock-free reads */
	uint32		incarnation;	/* bumped each time the entry is (re)used */
	bool		in_use;
	int32		next_free;		/* free list (under the hash lock) */
	MfHealthKey key;			/* set while in_use (under the hash lock) */
	TimestampTz created;
	MfBreakerParams params;		/* last used (for the views) */
	MfWindow	window;
	MfBreaker	breaker;		/* model entries only */
} MfHealthSlot;

typedef enum MfEventStatus
{
	MF_EV_EMPTY = 0,
	MF_EV_PENDING,
	MF_EV_RECORDED,
	MF_EV_NOT_RECORDED
} MfEventStatus;

typedef struct MfHealthEventRec
{
	uint64		seq;
	Oid			dbid;
	MfEventStatus status;
	char		model[MF_NAME_MAX + 1];
	TimestampTz at;
	TimestampTz until;
	MfBreakerEvent ev;
	char		reason[128];
} MfHealthEventRec;

typedef struct MfHealthWorkerSlot
{
	Oid			dbid;			/* InvalidOid = free */
	int			pid;			/* 0 while starting */
	Latch	   *latch;
	TimestampTz registered;
} MfHealthWorkerSlot;

typedef struct MfHealthShared
{
	LWLock	   *lock;			/* the hash table, the free list, keys */
	LWLock	   *ev_lock;		/* the event ring, the workers */
	pg_atomic_uint32 generation;	/* bumped when entries are created or freed */
	pg_atomic_uint64 dropped;	/* reports not recorded: no entry left */
	int32		max_entries;
	int32		nfree;
	int32		free_head;
	int64		width;			/* bucket width, us */
	TimestampTz reset_at;
	/* events (under ev_lock) */
	uint64		ev_seq;
	uint64		ev_lost;		/* overwritten before the worker recorded them */
	MfHealthWorkerSlot workers[MF_MAX_WORKERS];
	MfHealthEventRec events[MF_EVENT_RING];
	MfHealthSlot slots[FLEXIBLE_ARRAY_MEMBER];
} MfHealthShared;

static MfHealthShared *mf_shared = NULL;
static HTAB *mf_hash = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* ---- handles (per backend, in the routing cache's context) ---- */

typedef struct MfHealthPair
{
	int32		feature;		/* index into the cache's features */
	int32		slot;			/* -1: none (capacity) */
	uint32		incarnation;
} MfHealthPair;

typedef struct MfHealthHandle
{
	uint32		gen;			/* shared generation resolved at (0 = never) */
	uint64		settings_gen;
	int32		slot;			/* the model's entry, -1 none yet */
	uint32		incarnation;
	bool		no_room;		/* creating the entry failed at gen: don't retry */
	MfOverride	override;
	MfBreakerParams params;
	int			npairs;
	int			maxpairs;
	MfHealthPair *pairs;
} MfHealthHandle;

/* ---- errors ---- */

static void
mf_health_require(void)
{
	if (mf_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model health needs modelflags in shared_preload_libraries"),
				 errdetail("report() and the health views keep their counters in shared memory, which the server sets aside only for libraries it loads at start."),
				 errhint("Add modelflags to shared_preload_libraries in postgresql.conf and restart the server; model_for and the rest of modelflags work without it.")));
}

/* ---- clocks ---- */

/* The health clock: CLOCK_MONOTONIC in us, plus the test offset. */
static inline int64
mf_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64) ts.tv_sec * INT64CONST(1000000) + ts.tv_nsec / 1000 +
		(int64) mf_clock_offset_ms * 1000;
}

/* A health-clock time as wall-clock time (shifted by the same offset). */
static TimestampTz
mf_wall(int64 t, int64 now)
{
	return GetCurrentTimestamp() + (int64) mf_clock_offset_ms * 1000 + (t - now);
}

/* ---- GUCs ---- */

static void
mf_settings_bump_int(int newval, void *extra)
{
	mf_settings_gen++;
}

static void
mf_settings_bump_real(double newval, void *extra)
{
	mf_settings_gen++;
}

static void mf_shmem_request(void);
static void mf_shmem_startup(void);
static void mf_settings_relcache_cb(Datum arg, Oid relid);

void
MfHealthInit(void)
{
	if (process_shared_preload_libraries_in_progress)
	{
		DefineCustomIntVariable("modelflags.health_max_entries",
								"Sets how many health entries (models and feature-model pairs) shared memory holds.",
								"Reports that would need an entry beyond it are counted as dropped (modelflags.health_status).",
								&mf_max_entries, 1000, 16, 1000000,
								PGC_POSTMASTER, 0, NULL, NULL, NULL);
		DefineCustomIntVariable("modelflags.health_window",
								"Sets the span of the health windows.",
								"Twelve buckets of a twelfth each; the views' counts and latencies cover it, and no breaker's failure window is longer.",
								&mf_window_seconds, 60, 12, 3600,
								PGC_POSTMASTER, GUC_UNIT_S, NULL, NULL, NULL);
	}
	DefineCustomBoolVariable("modelflags.breaker",
							 "Makes model_for skip models whose circuit breaker is open.",
							 "Off: reports are still counted and breakers still move, but routing ignores them.",
							 &mf_breaker_on, true, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("modelflags.breaker_failure_rate",
							 "Sets the percentage of failed calls over the failure window that opens a breaker.",
							 NULL, &mf_guc_failure_rate, 50.0, 0.001, 100.0,
							 PGC_SIGHUP, 0, NULL, mf_settings_bump_real, NULL);
	DefineCustomIntVariable("modelflags.breaker_min_calls",
							"Sets how many judged calls the failure window must hold before its failure rate counts.",
							NULL, &mf_guc_min_calls, 20, 1, 1000000,
							PGC_SIGHUP, 0, NULL, mf_settings_bump_int, NULL);
	DefineCustomIntVariable("modelflags.breaker_consecutive_failures",
							"Sets how many failures in a row open a breaker (0: never).",
							NULL, &mf_guc_consecutive, 5, 0, 1000000,
							PGC_SIGHUP, 0, NULL, mf_settings_bump_int, NULL);
	DefineCustomIntVariable("modelflags.breaker_failure_window",
							"Sets the span over which a breaker's failure rate is counted.",
							"At most modelflags.health_window.",
							&mf_guc_failure_window, 60, 1, 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, mf_settings_bump_int, NULL);
	DefineCustomIntVariable("modelflags.breaker_open_time",
							"Sets how long a breaker stays open the first time.",
							"Each opening in a row doubles it, up to modelflags.breaker_max_open_time.",
							&mf_guc_open_time, 30, 1, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, mf_settings_bump_int, NULL);
	DefineCustomIntVariable("modelflags.breaker_max_open_time",
							"Sets the longest a breaker stays open.",
							NULL, &mf_guc_max_open_time, 300, 1, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, mf_settings_bump_int, NULL);
	DefineCustomIntVariable("modelflags.breaker_probes",
							"Sets how many probe calls must succeed to close a half-open breaker.",
							NULL, &mf_guc_probes, 3, 1, 100,
							PGC_SIGHUP, 0, NULL, mf_settings_bump_int, NULL);
	DefineCustomIntVariable("modelflags.breaker_probe_timeout",
							"Sets how long an admitted probe may stay unreported before it counts as failed.",
							NULL, &mf_guc_probe_timeout, 60, 1, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, mf_settings_bump_int, NULL);
	DefineCustomIntVariable("modelflags.health_clock_offset",
							"Moves the health clock forward (testing only).",
							"Windows, cool-downs and probe timeouts see this much more time; lets tests skip waiting.",
							&mf_clock_offset_ms, 0, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS | GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);

	CacheRegisterRelcacheCallback(mf_settings_relcache_cb, (Datum) 0);

	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = mf_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = mf_shmem_startup;
}

bool
MfHealthRouting(void)
{
	return mf_shared != NULL && mf_breaker_on;
}

static Size
mf_shmem_size(void)
{
	Size		size = offsetof(MfHealthShared, slots);

	size = add_size(size, mul_size(mf_max_entries, sizeof(MfHealthSlot)));
	size = add_size(size, hash_estimate_size(mf_max_entries, sizeof(MfHealthHashEntry)));
	return size;
}

static void
mf_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(mf_shmem_size());
	RequestNamedLWLockTranche("modelflags", 2);
}

static void
mf_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	mf_shared = ShmemInitStruct("modelflags health",
								offsetof(MfHealthShared, slots) +
								sizeof(MfHealthSlot) * (Size) mf_max_entries,
								&found);
	if (!found)
	{
		LWLockPadded *locks = GetNamedLWLockTranche("modelflags");

		memset(mf_shared, 0, offsetof(MfHealthShared, slots));
		mf_shared->lock = &locks[0].lock;
		mf_shared->ev_lock = &locks[1].lock;
		pg_atomic_init_u32(&mf_shared->generation, 1);
		pg_atomic_init_u64(&mf_shared->dropped, 0);
		mf_shared->max_entries = mf_max_entries;
		mf_shared->width = (int64) mf_window_seconds * INT64CONST(1000000) / MF_WINDOW_BUCKETS;
		mf_shared->reset_at = GetCurrentTimestamp();
		mf_shared->free_head = -1;
		for (int i = mf_max_entries - 1; i >= 0; i--)
		{
			MfHealthSlot *s = &mf_shared->slots[i];

			SpinLockInit(&s->mutex);
			pg_atomic_init_u64(&s->word, 0);
			s->incarnation = 0;
			s->in_use = false;
			s->next_free = mf_shared->free_head;
			mf_shared->free_head = i;
		}
		mf_shared->nfree = mf_max_entries;
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(MfHealthKey);
	info.entrysize = sizeof(MfHealthHashEntry);
	mf_hash = ShmemInitHash("modelflags health entries", mf_max_entries, mf_max_entries,
							&info, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
}

/* ---- the breaker settings (modelflags.breaker_settings), per backend ---- */

typedef struct MfSettingsRow
{
	uint32		set;			/* MF_SET_* bits of the columns not NULL */
	MfBreakerParams p;
	MfOverride	override;
} MfSettingsRow;

#define MF_SET_RATE		0x01
#define MF_SET_MIN		0x02
#define MF_SET_CONSEC	0x04
#define MF_SET_WINDOW	0x08
#define MF_SET_OPEN		0x10
#define MF_SET_MAXOPEN	0x20
#define MF_SET_PROBES	0x40
#define MF_SET_PTIMEOUT 0x80

static MemoryContext mf_settings_cxt = NULL;
static MfStrMap mf_settings_map;
static MfSettingsRow *mf_settings_rows = NULL;
static uint64 mf_settings_inval = 1;	/* invalidations seen */
static uint64 mf_settings_loaded = 0;	/* mf_settings_inval when loaded */
static Oid	mf_settings_relid = InvalidOid;
static LocalTransactionId mf_settings_checked = InvalidLocalTransactionId;
static bool mf_settings_stale = false;	/* read with a statement's snapshot */

static void
mf_settings_relcache_cb(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == mf_settings_relid)
		mf_settings_inval++;
}

/* The columns read, in this order; each checked for its type. */
static const struct
{
	const char *name;
	Oid			type;
}			mf_settings_cols[] = {
	{"model", TEXTOID}, {"override", TEXTOID}, {"failure_rate", NUMERICOID},
	{"min_calls", INT4OID}, {"consecutive_failures", INT4OID},
	{"failure_window", INTERVALOID}, {"open_time", INTERVALOID},
	{"max_open_time", INTERVALOID}, {"probes", INT4OID}, {"probe_timeout", INTERVALOID},
};
#define MF_NSETTINGS_COLS lengthof(mf_settings_cols)

static void *
mf_settings_alloc(void *arg, size_t size)
{
	return MemoryContextAlloc((MemoryContext) arg, size);
}

static int64
mf_interval_us(Datum d)
{
	Interval   *iv = DatumGetIntervalP(d);

	return iv->time + (int64) iv->day * USECS_PER_DAY +
		(int64) iv->month * DAYS_PER_MONTH * USECS_PER_DAY;
}

/*
 * Reads modelflags.breaker_settings into a new map, with a fresh snapshot:
 * the settings are live state, like the breakers they tune.  The table is
 * read with the extension's own access (a heap scan), so callers of
 * model_for need no privilege on it, and locked only while it is read.
 *
 * In parallel mode (a query with a Gather node runs its PARALLEL
 * RESTRICTED functions in the leader, in parallel mode throughout) no new
 * snapshot can be taken: the table is read with the statement's snapshot
 * instead, and the map is marked stale, so that the first call outside
 * parallel mode reads it again with a fresh one.
 */
static void
mf_settings_load(void)
{
	uint64		inval = mf_settings_inval;
	Oid			nsp = get_namespace_oid("modelflags", true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid("breaker_settings", nsp) : InvalidOid;
	bool		stale = IsInParallelMode();
	MemoryContext cxt;
	MfStrMap	map;
	MfSettingsRow *rows = NULL;
	Relation	rel;
	int			nrows = 0,
				cap = 0;

	/* parallel mode outside a statement (cannot happen): keep what is there */
	if (stale && !ActiveSnapshotSet())
		return;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "modelflags breaker settings",
								ALLOCSET_SMALL_SIZES);
	mf_strmap_init(&map, 16, mf_settings_alloc, cxt);
	/* dropped since the lookup (a concurrent DROP EXTENSION): no settings */
	if (OidIsValid(relid) && (rel = try_table_open(relid, AccessShareLock)) != NULL)
	{
		TupleDesc	desc = RelationGetDescr(rel);
		AttrNumber	att[MF_NSETTINGS_COLS];
		Snapshot	snap;
		TableScanDesc scan;
		HeapTuple	tup;

		for (int c = 0; c < MF_NSETTINGS_COLS; c++)
		{
			att[c] = InvalidAttrNumber;
			for (int a = 0; a < desc->natts; a++)
			{
				Form_pg_attribute fa = TupleDescAttr(desc, a);

				if (!fa->attisdropped && strcmp(NameStr(fa->attname), mf_settings_cols[c].name) == 0)
				{
					if (fa->atttypid != mf_settings_cols[c].type)
						ereport(ERROR,
								(errcode(ERRCODE_DATATYPE_MISMATCH),
								 errmsg("column \"%s\" of modelflags.breaker_settings has type %s, not %s",
										mf_settings_cols[c].name, format_type_be(fa->atttypid),
										format_type_be(mf_settings_cols[c].type))));
					att[c] = fa->attnum;
				}
			}
			if (att[c] == InvalidAttrNumber)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("column \"%s\" of modelflags.breaker_settings does not exist",
								mf_settings_cols[c].name)));
		}

		snap = RegisterSnapshot(stale ? GetActiveSnapshot() : GetLatestSnapshot());
		scan = table_beginscan(rel, snap, 0, NULL);
		while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
		{
			Datum		v[MF_NSETTINGS_COLS];
			bool		n[MF_NSETTINGS_COLS];
			MfSettingsRow *r;
			text	   *name;

			for (int c = 0; c < MF_NSETTINGS_COLS; c++)
				v[c] = heap_getattr(tup, att[c], desc, &n[c]);
			if (n[0])
				continue;
			if (nrows == cap)
			{
				cap = cap ? cap * 2 : 16;
				rows = rows ? repalloc(rows, sizeof(MfSettingsRow) * cap)
					: MemoryContextAlloc(cxt, sizeof(MfSettingsRow) * cap);
			}
			r = &rows[nrows];
			memset(r, 0, sizeof(*r));
			if (!n[1])
			{
				char	   *ov = TextDatumGetCString(v[1]);

				r->override = strcmp(ov, "open") == 0 ? MF_OVERRIDE_OPEN
					: strcmp(ov, "closed") == 0 ? MF_OVERRIDE_CLOSED : MF_OVERRIDE_NONE;
			}
			if (!n[2])
			{
				r->set |= MF_SET_RATE;
				r->p.failure_rate = DatumGetFloat8(DirectFunctionCall1(numeric_float8, v[2])) / 100.0;
			}
			if (!n[3])
			{
				r->set |= MF_SET_MIN;
				r->p.min_calls = DatumGetInt32(v[3]);
			}
			if (!n[4])
			{
				r->set |= MF_SET_CONSEC;
				r->p.consecutive_failures = DatumGetInt32(v[4]);
			}
			if (!n[5])
			{
				r->set |= MF_SET_WINDOW;
				r->p.window = mf_interval_us(v[5]);
			}
			if (!n[6])
			{
				r->set |= MF_SET_OPEN;
				r->p.open_time = mf_interval_us(v[6]);
			}
			if (!n[7])
			{
				r->set |= MF_SET_MAXOPEN;
				r->p.max_open_time = mf_interval_us(v[7]);
			}
			if (!n[8])
			{
				r->set |= MF_SET_PROBES;
				r->p.probes = DatumGetInt32(v[8]);
			}
			if (!n[9])
			{
				r->set |= MF_SET_PTIMEOUT;
				r->p.probe_timeout = mf_interval_us(v[9]);
			}
			{
				MemoryContext old = MemoryContextSwitchTo(cxt);

				name = (text *) PG_DETOAST_DATUM_COPY(v[0]);
				MemoryContextSwitchTo(old);
				mf_strmap_put(&map, 0, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name), nrows);
			}
			nrows++;
		}
		table_endscan(scan);
		UnregisterSnapshot(snap);
		table_close(rel, AccessShareLock);
	}

	/* Adopt: nothing below can fail. */
	MemoryContextSetParent(cxt, CacheMemoryContext);
	if (mf_settings_cxt != NULL)
		MemoryContextDelete(mf_settings_cxt);
	mf_settings_cxt = cxt;
	mf_settings_map = map;
	mf_settings_rows = rows;
	mf_settings_relid = relid;
	mf_settings_checked = MF_CURRENT_LXID;
	mf_settings_loaded = inval;
	mf_settings_stale = stale;
	mf_settings_gen++;
}

void
MfHealthPrepare(void)
{
	if (mf_shared == NULL)
		return;
	/* No table yet (a 1.0 install): look again once per transaction. */
	if (unlikely(!OidIsValid(mf_settings_relid)) && mf_settings_checked != MF_CURRENT_LXID)
		mf_settings_loaded = 0;
	if (unlikely(mf_settings_loaded != mf_settings_inval) ||
		unlikely(mf_settings_stale && !IsInParallelMode()))
		mf_settings_load();
}

/* The breaker parameters and override of a model: its row over the GUCs. */
static void
mf_params_for(const char *name, size_t len, MfBreakerParams *p, MfOverride *override)
{
	int32		idx;
	int64		span = mf_shared->width * MF_WINDOW_BUCKETS;

	p->failure_rate = mf_guc_failure_rate / 100.0;
	p->min_calls = mf_guc_min_calls;
	p->consecutive_failures = mf_guc_consecutive;
	p->window = (int64) mf_guc_failure_window * USECS_PER_SEC;
	p->open_time = (int64) mf_guc_open_time * USECS_PER_SEC;
	p->max_open_time = (int64) mf_guc_max_open_time * USECS_PER_SEC;
	p->probes = mf_guc_probes;
	p->probe_timeout = (int64) mf_guc_probe_timeout * USECS_PER_SEC;
	*override = MF_OVERRIDE_NONE;
	if (mf_settings_cxt != NULL && mf_strmap_get(&mf_settings_map, 0, name, len, &idx))
	{
		MfSettingsRow *r = &mf_settings_rows[idx];

		*override = r->override;
		if (r->set & MF_SET_RATE)
			p->failure_rate = r->p.failure_rate;
		if (r->set & MF_SET_MIN)
			p->min_calls = r->p.min_calls;
		if (r->set & MF_SET_CONSEC)
			p->consecutive_failures = r->p.consecutive_failures;
		if (r->set & MF_SET_WINDOW)
			p->window = r->p.window;
		if (r->set & MF_SET_OPEN)
			p->open_time = r->p.open_time;
		if (r->set & MF_SET_MAXOPEN)
			p->max_open_time = r->p.max_open_time;
		if (r->set & MF_SET_PROBES)
			p->probes = r->p.probes;
		if (r->set & MF_SET_PTIMEOUT)
			p->probe_timeout = r->p.probe_timeout;
	}
	/* The failure window fits in the shared windows; the cap is no shorter than the start. */
	if (p->window > span)
		p->window = span;
	if (p->window < mf_shared->width)
		p->window = mf_shared->width;
	if (p->max_open_time < p->open_time)
		p->max_open_time = p->open_time;
}

/* ---- entries ---- */

static void
mf_key(MfHealthKey *key, const char *model, size_t model_len, const char *feature, size_t feature_len)
{
	memset(key, 0, sizeof(*key));
	key->dbid = MyDatabaseId;
	memcpy(key->model, model, Min(model_len, MF_NAME_MAX));
	if (feature != NULL)
		memcpy(key->feature, feature, Min(feature_len, MF_NAME_MAX));
}

/*
 * The entry of key: found, or (create) made; -1 when there is none and no
 * room for it (counted by the caller).  *incarnation receives the entry's.
 */
static int32
mf_entry(const MfHealthKey *key, bool create, uint32 *incarnation)
{
	MfHealthHashEntry *e;
	bool		found;
	int32		slot;
	bool		is_model = key->feature[0] == '\0';

	LWLockAcquire(mf_shared->lock, LW_SHARED);
	e = hash_search(mf_hash, key, HASH_FIND, NULL);
	if (e != NULL || !create)
	{
		slot = e ? e->slot : -1;
		*incarnation = e ? mf_shared->slots[slot].incarnation : 0;
		LWLockRelease(mf_shared->lock);
		return slot;
	}
	LWLockRelease(mf_shared->lock);

	LWLockAcquire(mf_shared->lock, LW_EXCLUSIVE);
	e = hash_search(mf_hash, key, HASH_FIND, NULL);
	if (e != NULL)
	{
		slot = e->slot;
		*incarnation = mf_shared->slots[slot].incarnation;
		LWLockRelease(mf_shared->lock);
		return slot;
	}
	if (mf_shared->free_head < 0 ||
		(!is_model && mf_shared->nfree <= mf_shared->max_entries / MF_PAIR_RESERVE_DIVISOR))
	{
		LWLockRelease(mf_shared->lock);
		return -1;
	}
	e = hash_search(mf_hash, key, HASH_ENTER_NULL, &found);
	if (e == NULL)
	{
		LWLockRelease(mf_shared->lock);
		return -1;
	}
	slot = mf_shared->free_head;
	{
		MfHealthSlot *s = &mf_shared->slots[slot];
		MfBreakerParams p;
		MfOverride	ov;

		mf_params_for(key->model, strlen(key->model), &p, &ov);
		mf_shared->free_head = s->next_free;
		mf_shared->nfree--;
		e->slot = slot;
		SpinLockAcquire(&s->mutex);
		s->key = *key;
		s->in_use = true;
		s->incarnation++;
		s->created = GetCurrentTimestamp();
		s->params = p;
		mf_window_init(&s->window, mf_shared->width);
		mf_breaker_init(&s->breaker);
		pg_atomic_write_u64(&s->word, 0);
		*incarnation = s->incarnation;
		SpinLockRelease(&s->mutex);
	}
	pg_atomic_fetch_add_u32(&mf_shared->generation, 1);
	LWLockRelease(mf_shared->lock);
	return slot;
}

static inline text *
mf_model_name(MfCache *cache, int model)
{
	return cache->models[model].name;
}

/* The handle of cache->models[model], resolved again if anything moved. */
static MfHealthHandle *
mf_handle(MfCache *cache, int model)
{
	MfCacheModel *m = &cache->models[model];
	MfHealthHandle *h = (MfHealthHandle *) m->health;
	uint32		gen = pg_atomic_read_u32(&mf_shared->generation);

	if (likely(h != NULL && h->gen == gen && h->settings_gen == mf_settings_gen))
		return h;
	if (h == NULL)
	{
		h = MemoryContextAllocZero(cache->cxt, sizeof(MfHealthHandle));
		m->health = h;
	}
	if (h->gen != gen)
	{
		MfHealthKey key;

		pg_read_barrier();
		mf_key(&key, VARDATA_ANY(m->name), VARSIZE_ANY_EXHDR(m->name), NULL, 0);
		h->slot = mf_entry(&key, false, &h->incarnation);
		h->npairs = 0;
		h->no_room = false;
		h->gen = gen;
	}
	if (h->settings_gen != mf_settings_gen)
	{
		mf_params_for(VARDATA_ANY(m->name), VARSIZE_ANY_EXHDR(m->name), &h->params, &h->override);
		h->settings_gen = mf_settings_gen;
	}
	return h;
}

/* ---- events and the worker ---- */

const char *
mf_event_kind_name(MfBreakerEventKind k)
{
	switch (k)
	{
		case MF_EVENT_OPEN:
			return "open";
		case MF_EVENT_HALF_OPEN:
			return "half_open";
		case MF_EVENT_CLOSE:
			return "close";
		case MF_EVENT_REOPEN:
			return "reopen";
		case MF_EVENT_EXTEND:
			return "extend";
	}
	return "?";
}

/* "62% errors over 40 calls": the figures that opened a breaker. */
static void
mf_reason_text(StringInfo buf, MfTripReason reason, uint32 calls, uint32 failures,
			   const MfBreakerParams *p)
{
	switch (reason)
	{
		case MF_TRIP_FAILURE_RATE:
			appendStringInfo(buf, "%d%% errors over %u calls",
							 calls ? (int) floor(100.0 * failures / calls + 0.5) : 0, calls);
			break;
		case MF_TRIP_CONSECUTIVE:
			appendStringInfo(buf, "%u consecutive failures", failures);
			break;
		case MF_TRIP_PROBE_FAILED:
			if (calls > 1)
				appendStringInfo(buf, "a probe failed after %u succeeded", calls - 1);
			else
				appendStringInfoString(buf, "a probe failed");
			break;
		case MF_TRIP_PROBE_TIMEOUT:
			appendStringInfo(buf, "%u %s unreported after %d s", failures,
							 failures == 1 ? "probe" : "probes",
							 (int) (p->probe_timeout / USECS_PER_SEC));
			break;
		case MF_TRIP_NONE:
			break;
	}
}

static bool
mf_worker_slot_live(const MfHealthWorkerSlot *w, TimestampTz now)
{
	if (!OidIsValid(w->dbid))
		return false;
	/* a registration that never attached (no free worker slot, a crash) */
	if (w->pid == 0 && now - w->registered > 10 * USECS_PER_SEC)
		return false;
	return true;
}

/*
 * Queues transitions for the worker (and the transitions view), wakes the
 * worker of this database, or starts one.  On a hot standby no worker is
 * started: transitions stay in the ring, unrecorded.
 */
static void
mf_emit(const char *model, const MfBreakerEvent *ev, int nev, const MfBreakerParams *p,
		int64 now)
{
	bool		start = false;
	Latch	   *wake = NULL;
	TimestampTz wall_now = GetCurrentTimestamp();

	LWLockAcquire(mf_shared->ev_lock, LW_EXCLUSIVE);
	for (int i = 0; i < nev; i++)
	{
		MfHealthEventRec *rec = NULL;
		StringInfoData reason;

		/* An extension still pending for the same model is brought up to date. */
		if (ev[i].kind == MF_EVENT_EXTEND)
		{
			for (uint64 s = mf_shared->ev_seq; s > 0 && s + 64 > mf_shared->ev_seq; s--)
			{
				MfHealthEventRec *r = &mf_shared->events[s % MF_EVENT_RING];

				if (r->seq != s || r->dbid != MyDatabaseId || strcmp(r->model, model) != 0)
					continue;
				if (r->status == MF_EV_PENDING && r->ev.kind == MF_EVENT_EXTEND)
					rec = r;
				break;
			}
		}
		if (rec == NULL)
		{
			uint64		seq = ++mf_shared->ev_seq;

			rec = &mf_shared->events[seq % MF_EVENT_RING];
			if (rec->seq != 0 && rec->status == MF_EV_PENDING)
				mf_shared->ev_lost++;
			rec->seq = seq;
		}
		rec->dbid = MyDatabaseId;
		rec->status = MF_EV_PENDING;
		strlcpy(rec->model, model, sizeof(rec->model));
		rec->ev = ev[i];
		rec->at = wall_now + (int64) mf_clock_offset_ms * 1000 + (ev[i].at - now);
		rec->until = ev[i].to == MF_BREAKER_OPEN
			? wall_now + (int64) mf_clock_offset_ms * 1000 + (ev[i].deadline - now) : 0;
		initStringInfo(&reason);
		if (ev[i].kind == MF_EVENT_CLOSE)
			appendStringInfo(&reason, "%d %s succeeded", ev[i].probes_ok,
							 ev[i].probes_ok == 1 ? "probe" : "probes");
		else if (ev[i].kind == MF_EVENT_HALF_OPEN)
			appendStringInfoString(&reason, "cool-down over: probing");
		else
			mf_reason_text(&reason, ev[i].reason, ev[i].calls, ev[i].failures, p);
		strlcpy(rec->reason, reason.data, sizeof(rec->reason));
		pfree(reason.data);
	}

	if (!RecoveryInProgress())
	{
		int			freeslot = -1;
		bool		have = false;

		for (int i = 0; i < MF_MAX_WORKERS; i++)
		{
			MfHealthWorkerSlot *w = &mf_shared->workers[i];

			if (mf_worker_slot_live(w, wall_now))
			{
				if (w->dbid == MyDatabaseId)
				{
					have = true;
					wake = w->latch;
					break;
				}
			}
			else if (freeslot < 0)
				freeslot = i;
		}
		if (!have && freeslot >= 0)
		{
			MfHealthWorkerSlot *w = &mf_shared->workers[freeslot];

			w->dbid = MyDatabaseId;
			w->pid = 0;
			w->latch = NULL;
			w->registered = wall_now;
			start = true;
		}
		if (wake != NULL)
			SetLatch(wake);
	}
	LWLockRelease(mf_shared->ev_lock);

	if (start)
	{
		BackgroundWorker worker;

		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		worker.bgw_restart_time = BGW_NEVER_RESTART;
		strlcpy(worker.bgw_library_name, "modelflags", BGW_MAXLEN);
		strlcpy(worker.bgw_function_name, "mf_health_worker_main", BGW_MAXLEN);
		snprintf(worker.bgw_name, BGW_MAXLEN, "modelflags health recorder for database %u",
				 MyDatabaseId);
		strlcpy(worker.bgw_type, "modelflags health recorder", BGW_MAXLEN);
		worker.bgw_main_arg = ObjectIdGetDatum(MyDatabaseId);
		worker.bgw_notify_pid = 0;
		if (!RegisterDynamicBackgroundWorker(&worker, NULL))
		{
			/* No worker slot: free ours; the next transition tries again. */
			LWLockAcquire(mf_shared->ev_lock, LW_EXCLUSIVE);
			for (int i = 0; i < MF_MAX_WORKERS; i++)
				if (mf_shared->workers[i].dbid == MyDatabaseId && mf_shared->workers[i].pid == 0)
					mf_shared->workers[i].dbid = InvalidOid;
			LWLockRelease(mf_shared->ev_lock);
			ereport(WARNING,
					(errmsg("modelflags could not start a background worker to record breaker transitions"),
					 errdetail("They stay in modelflags.breaker_transitions until one starts."),
					 errhint("Raise max_worker_processes.")));
		}
	}
}

bool
mf_health_worker_attach(Oid dbid)
{
	bool		ok = false;

	if (mf_shared == NULL)
		return false;
	LWLockAcquire(mf_shared->ev_lock, LW_EXCLUSIVE);
	for (int i = 0; i < MF_MAX_WORKERS; i++)
	{
		MfHealthWorkerSlot *w = &mf_shared->workers[i];

		if (w->dbid == dbid && (w->pid == 0 || w->pid == MyProcPid))
		{
			w->pid = MyProcPid;
			w->latch = MyLatch;
			ok = true;
			break;
		}
	}
	if (!ok)
	{
		/* Registered long ago and given up on: take a free slot. */
		for (int i = 0; i < MF_MAX_WORKERS && !ok; i++)
		{
			MfHealthWorkerSlot *w = &mf_shared->workers[i];

			if (w->dbid == dbid)
				break;			/* another worker serves dbid */
			if (!mf_worker_slot_live(w, GetCurrentTimestamp()))
			{
				w->dbid = dbid;
				w->pid = MyProcPid;
				w->latch = MyLatch;
				ok = true;
			}
		}
	}
	LWLockRelease(mf_shared->ev_lock);
	return ok;
}

bool
mf_health_worker_detach(Oid dbid, bool only_if_idle)
{
	bool		detached = true;

	LWLockAcquire(mf_shared->ev_lock, LW_EXCLUSIVE);
	if (only_if_idle)
		for (int i = 0; i < MF_EVENT_RING; i++)
			if (mf_shared->events[i].status == MF_EV_PENDING && mf_shared->events[i].dbid == dbid)
				detached = false;
	if (detached)
		for (int i = 0; i < MF_MAX_WORKERS; i++)
			if (mf_shared->workers[i].dbid == dbid && mf_shared->workers[i].pid == MyProcPid)
			{
				mf_shared->workers[i].dbid = InvalidOid;
				mf_shared->workers[i].pid = 0;
				mf_shared->workers[i].latch = NULL;
			}
	LWLockRelease(mf_shared->ev_lock);
	return detached;
}

int
mf_health_take_events(Oid dbid, MfHealthEventOut *out, int max)
{
	int			n = 0;

	LWLockAcquire(mf_shared->ev_lock, LW_SHARED);
	/* oldest first: the ring holds seq ev_seq - RING + 1 .. ev_seq */
	for (uint64 s = mf_shared->ev_seq >= MF_EVENT_RING ? mf_shared->ev_seq - MF_EVENT_RING + 1 : 1;
		 s <= mf_shared->ev_seq && n < max; s++)
	{
		MfHealthEventRec *r = &mf_shared->events[s % MF_EVENT_RING];

		if (r->seq != s || r->dbid != dbid || r->status != MF_EV_PENDING)
			continue;
		out[n].seq = r->seq;
		memcpy(out[n].model, r->model, sizeof(out[n].model));
		out[n].at = r->at;
		out[n].until = r->until;
		out[n].ev = r->ev;
		memcpy(out[n].reason, r->reason, sizeof(out[n].reason));
		n++;
	}
	LWLockRelease(mf_shared->ev_lock);
	return n;
}

void
mf_health_mark_events(const MfHealthEventOut *evs, int n, bool recorded)
{
	LWLockAcquire(mf_shared->ev_lock, LW_EXCLUSIVE);
	for (int i = 0; i < n; i++)
	{
		MfHealthEventRec *r = &mf_shared->events[evs[i].seq % MF_EVENT_RING];

		/* an extension brought up to date after it was taken stays pending */
		if (r->seq == evs[i].seq && r->status == MF_EV_PENDING &&
			r->ev.deadline == evs[i].ev.deadline)
			r->status = recorded ? MF_EV_RECORDED : MF_EV_NOT_RECORDED;
	}
	LWLockRelease(mf_shared->ev_lock);
}

/* ---- reporting ---- */

/* Names in messages, cut short when huge (as read_api.c does). */
static char *
mf_quote_name(const char *s, size_t len)
{
	if (len <= 64)
		return psprintf("\"%.*s\"", (int) len, s);
	return psprintf("\"%.*s...\" (%zu bytes)", (int) pg_mbcliplen(s, (int) len, 64), s, len);
}

/* One validated report. */
typedef struct MfReport
{
	int			feature;		/* index into cache->features */
	int			model;			/* index into cache->models */
	MfOutcome	outcome;
	double		latency_ms;		/* -1: not measured */
	int64		tokens_in;		/* -1: not given */
	int64		tokens_out;
} MfReport;

/* The batch element being checked (-1: none), named in messages. */
static int	mf_report_elem = -1;

/* "reports[3]: " in a message about a batch element, else "". */
static const char *
mf_where(void)
{
	return mf_report_elem < 0 ? "" : psprintf("reports[%d]: ", mf_report_elem);
}

static int
mf_report_feature(MfCache *cache, const char *s, size_t len)
{
	int			idx = MfCacheIndex(&cache->feature_map, s, len);

	if (idx >= 0)
		return idx;
	if (len > MF_NAME_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("%sfeature name %s is too long", mf_where(), mf_quote_name(s, len)),
				 errdetail("Names are at most %d bytes.", MF_NAME_MAX)));
	if (!mf_valid_name(s, len))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%sinvalid feature name %s", mf_where(), mf_quote_name(s, len)),
				 errdetail("Feature names are lowercase letters and digits joined by single \"_\", \".\" or \"-\".")));
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("%sfeature %s does not exist", mf_where(), mf_quote_name(s, len)),
			 errhint("Features are rows of modelflags.features; INSERT or load_definitions() adds them.")));
	return -1;					/* not reached */
}

/* The model, looked for among the feature's routes first (the usual case). */
static int
mf_report_model(MfCache *cache, int feature, const char *s, size_t len)
{
	MfCacheFeature *f = &cache->features[feature];

	for (int i = 0; i < f->nroutes; i++)
	{
		int			m = cache->routes[f->first_route + i].model;

		if (m >= 0 && VARSIZE_ANY_EXHDR(cache->models[m].name) == len &&
			memcmp(VARDATA_ANY(cache->models[m].name), s, len) == 0)
			return m;
	}
	for (int m = 0; m < cache->nmodels; m++)
		if (VARSIZE_ANY_EXHDR(cache->models[m].name) == len &&
			memcmp(VARDATA_ANY(cache->models[m].name), s, len) == 0)
			return m;
	if (len > MF_NAME_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("%smodel name %s is too long", mf_where(), mf_quote_name(s, len)),
				 errdetail("Names are at most %d bytes.", MF_NAME_MAX)));
	if (!mf_valid_name(s, len))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%sinvalid model name %s", mf_where(), mf_quote_name(s, len)),
				 errdetail("Model names are lowercase letters and digits joined by single \"_\", \".\" or \"-\".")));
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("%smodel %s does not exist", mf_where(), mf_quote_name(s, len)),
			 errhint("Report the model model_for answered: a row of modelflags.models.")));
	return -1;					/* not reached */
}

static MfOutcome
mf_report_outcome(const char *s, size_t len)
{
	MfOutcome	o;

	if (!mf_outcome_parse(s, len, &o))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%sinvalid outcome %s", mf_where(), mf_quote_name(s, len)),
				 errhint("An outcome is ok, error (5xx, connection failure), timeout (the provider's), rate_limited (429, 529) or client_error (the caller's mistake: other 4xx, a content-policy refusal, a caller-side cancel; it never counts against the model).")));
	return o;
}

static double
mf_report_latency(double ms)
{
	if (isnan(ms) || ms < 0.0 || ms > MF_LATENCY_MAX_MS)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%slatency_ms %g is out of range", mf_where(), ms),
				 errdetail("A latency is between 0 and %.0f ms (one day).", MF_LATENCY_MAX_MS),
				 errhint("Pass NULL when the call's latency was not measured.")));
	return ms;
}

static int64
mf_report_tokens(const char *what, int64 n)
{
	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s%s " INT64_FORMAT " is out of range", mf_where(), what, n),
				 errdetail("Token counts are not negative.")));
	return n;
}

static void
mf_report_dropped(void)
{
	static TimestampTz warned = 0;
	TimestampTz now = GetCurrentTimestamp();

	pg_atomic_fetch_add_u64(&mf_shared->dropped, 1);
	if (now - warned > 60 * USECS_PER_SEC)
	{
		warned = now;
		ereport(WARNING,
				(errmsg("modelflags health has no room left: a report was not recorded"),
				 errdetail("All %d entries of modelflags.health_max_entries are in use; modelflags.health_status counts the reports dropped.",
						   mf_shared->max_entries),
				 errhint("Raise modelflags.health_max_entries (a restart), or free entries with modelflags.health_reset().")));
	}
}

/* The (feature, model) entry of a handle, made on first use. */
static MfHealthPair *
mf_pair(MfCache *cache, MfHealthHandle *h, int model, int feature)
{
	MfHealthKey key;
	MfHealthPair *p;
	text	   *fname = cache->features[feature].name;
	text	   *mname = mf_model_name(cache, model);

	for (int i = 0; i < h->npairs; i++)
		if (h->pairs[i].feature == feature)
			return &h->pairs[i];
	if (h->npairs == h->maxpairs)
	{
		int			cap = h->maxpairs ? h->maxpairs * 2 : 4;

		h->pairs = h->pairs ? repalloc(h->pairs, sizeof(MfHealthPair) * cap)
			: MemoryContextAlloc(cache->cxt, sizeof(MfHealthPair) * cap);
		h->maxpairs = cap;
	}
	mf_key(&key, VARDATA_ANY(mname), VARSIZE_ANY_EXHDR(mname),
		   VARDATA_ANY(fname), VARSIZE_ANY_EXHDR(fname));
	p = &h->pairs[h->npairs];
	p->feature = feature;
	p->slot = mf_entry(&key, true, &p->incarnation);
	h->npairs++;
	return p;
}

/*
 * Records one report: in the model's entry (window and breaker) and in the
 * (feature, model) entry (window).  A handle whose entry was freed and
 * reused meanwhile is resolved again once.
 */
static void
mf_report_apply(MfCache *cache, const MfReport *r, int64 now)
{
	for (int attempt = 0; attempt < 2; attempt++)
	{
		MfHealthHandle *h = mf_handle(cache, r->model);
		MfHealthSlot *s;
		MfBreakerEvent ev[MF_BREAKER_MAX_EVENTS];
		int			nev = 0;
		MfHealthPair *pair;
		bool		stale = false;

		/* No room: remembered until entries are freed (the generation moves). */
		if (h->slot < 0 && !h->no_room)
		{
			MfHealthKey key;
			text	   *mname = mf_model_name(cache, r->model);

			mf_key(&key, VARDATA_ANY(mname), VARSIZE_ANY_EXHDR(mname), NULL, 0);
			h->slot = mf_entry(&key, true, &h->incarnation);
			h->no_room = h->slot < 0;
		}
		if (h->slot >= 0)
		{
			char		model[MF_NAME_MAX + 1];

			s = &mf_shared->slots[h->slot];
			SpinLockAcquire(&s->mutex);
			if (s->incarnation != h->incarnation || !s->in_use)
				stale = true;
			else
			{
				mf_window_add(&s->window, now, r->outcome, r->latency_ms, r->tokens_in, r->tokens_out);
				nev = mf_breaker_report(&s->breaker, &h->params, &s->window, now, r->outcome, ev);
				s->params = h->params;
				pg_atomic_write_u64(&s->word, mf_breaker_word(&s->breaker));
				if (nev > 0)
					memcpy(model, s->key.model, sizeof(model));
			}
			SpinLockRelease(&s->mutex);
			if (stale)
			{
				h->gen = 0;
				continue;
			}
			if (nev > 0)
				mf_emit(model, ev, nev, &h->params, now);
		}
		else
			mf_report_dropped();

		pair = mf_pair(cache, h, r->model, r->feature);
		if (pair->slot >= 0)
		{
			s = &mf_shared->slots[pair->slot];
			SpinLockAcquire(&s->mutex);
			if (s->incarnation == pair->incarnation && s->in_use)
				mf_window_add(&s->window, now, r->outcome, r->latency_ms, r->tokens_in, r->tokens_out);
			else
				stale = true;
			SpinLockRelease(&s->mutex);
			if (stale)
				pg_atomic_fetch_add_u64(&mf_shared->dropped, 1);	/* freed under our feet */
		}
		else
			mf_report_dropped();
		return;
	}
	pg_atomic_fetch_add_u64(&mf_shared->dropped, 1);
}

static text *
mf_arg_text(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return PG_GETARG_TEXT_PP(argno);
}

/*
 * report(feature, model, outcome, latency_ms, tokens_in, tokens_out): the
 * result of one LLM call.  No table write, no WAL: counters in shared
 * memory.  Names are checked against the routing cache, like model_for's.
 */
Datum
modelflags_report(PG_FUNCTION_ARGS)
{
	text	   *feature = mf_arg_text(fcinfo, 0, "feature name");
	text	   *model = mf_arg_text(fcinfo, 1, "model name");
	text	   *outcome = mf_arg_text(fcinfo, 2, "outcome");
	MfCache    *cache;
	MfReport	r;

	mf_health_require();
	mf_report_elem = -1;
	r.outcome = mf_report_outcome(VARDATA_ANY(outcome), VARSIZE_ANY_EXHDR(outcome));
	r.latency_ms = PG_ARGISNULL(3) ? -1.0 : mf_report_latency(PG_GETARG_FLOAT8(3));
	r.tokens_in = PG_ARGISNULL(4) ? -1 : mf_report_tokens("tokens_in", PG_GETARG_INT64(4));
	r.tokens_out = PG_ARGISNULL(5) ? -1 : mf_report_tokens("tokens_out", PG_GETARG_INT64(5));
	cache = MfCacheGet();
	MfHealthPrepare();
	r.feature = mf_report_feature(cache, VARDATA_ANY(feature), VARSIZE_ANY_EXHDR(feature));
	r.model = mf_report_model(cache, r.feature, VARDATA_ANY(model), VARSIZE_ANY_EXHDR(model));
	mf_report_apply(cache, &r, mf_now());
	PG_RETURN_VOID();
}

/* Most reports one report_batch call takes. */
#define MF_BATCH_MAX 10000

/* A string member of a batch element. */
static void
mf_batch_string(JsonbValue *v, const char *key, char **s, size_t *len)
{
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s%s must be a string", mf_where(), key)));
	*s = v->val.string.val;
	*len = v->val.string.len;
}

static double
mf_batch_number(JsonbValue *v, const char *key)
{
	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s%s must be a number or null", mf_where(), key)));
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
}

/*
 * report_batch(reports jsonb): many reports in one call, all or nothing: a
 * JSON array of objects with the keys of report()'s arguments (feature,
 * model, outcome required; latency_ms, tokens_in, tokens_out optional).
 * Every element is checked before any is counted.  Returns how many.
 */
Datum
modelflags_report_batch(PG_FUNCTION_ARGS)
{
	Jsonb	   *doc;
	MfCache    *cache;
	MfReport   *reps;
	int			n;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			i = 0;
	int64		now;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("reports must not be null")));
	doc = PG_GETARG_JSONB_P(0);
	mf_health_require();
	if (!JB_ROOT_IS_ARRAY(doc) || JB_ROOT_IS_SCALAR(doc))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("reports must be a JSON array of objects"),
				 errhint("For example: [{\"feature\": \"code_generations\", \"model\": \"claude_sonnet_4_5\", \"outcome\": \"ok\", \"latency_ms\": 812}]")));
	n = JB_ROOT_COUNT(doc);
	if (n > MF_BATCH_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many reports in one batch: %d", n),
				 errdetail("A batch holds at most %d reports.", MF_BATCH_MAX)));
	cache = MfCacheGet();
	MfHealthPrepare();
	reps = palloc(sizeof(MfReport) * Max(n, 1));

	it = JsonbIteratorInit(&doc->root);
	tok = JsonbIteratorNext(&it, &v, false);	/* WJB_BEGIN_ARRAY */
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbIterator *eit;
		JsonbValue	k,
					ev;
		JsonbIteratorToken etok;
		char	   *feature = NULL,
				   *model = NULL,
				   *outcome = NULL;
		size_t		flen = 0,
					mlen = 0,
					olen = 0;
		MfReport   *r;

		if (tok != WJB_ELEM)
			continue;			/* WJB_END_ARRAY */
		mf_report_elem = i;
		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("reports[%d] must be a JSON object", i)));
		r = &reps[i];
		r->latency_ms = -1.0;
		r->tokens_in = -1;
		r->tokens_out = -1;
		eit = JsonbIteratorInit(v.val.binary.data);
		while ((etok = JsonbIteratorNext(&eit, &k, true)) != WJB_DONE)
		{
			const char *key;
			int			klen;

			if (etok != WJB_KEY)
				continue;
			key = k.val.string.val;
			klen = k.val.string.len;
			etok = JsonbIteratorNext(&eit, &ev, true);
#define MF_KEY_IS(name) (klen == (int) sizeof(name) - 1 && memcmp(key, name, klen) == 0)
			if (MF_KEY_IS("feature"))
				mf_batch_string(&ev, "feature", &feature, &flen);
			else if (MF_KEY_IS("model"))
				mf_batch_string(&ev, "model", &model, &mlen);
			else if (MF_KEY_IS("outcome"))
				mf_batch_string(&ev, "outcome", &outcome, &olen);
			else if (MF_KEY_IS("latency_ms"))
			{
				if (ev.type != jbvNull)
					r->latency_ms = mf_report_latency(mf_batch_number(&ev, "latency_ms"));
			}
			else if (MF_KEY_IS("tokens_in") || MF_KEY_IS("tokens_out"))
			{
				bool		in = MF_KEY_IS("tokens_in");

				if (ev.type != jbvNull)
				{
					const char *what = in ? "tokens_in" : "tokens_out";
					double		t = mf_batch_number(&ev, what);

					if (t != floor(t) || t > (double) PG_INT64_MAX)
						ereport(ERROR,
								(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
								 errmsg("%s%s must be a whole number", mf_where(), what)));
					if (in)
						r->tokens_in = mf_report_tokens(what, (int64) t);
					else
						r->tokens_out = mf_report_tokens(what, (int64) t);
				}
			}
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("reports[%d]: unknown key \"%.*s\"", i, klen, key),
						 errhint("A report has feature, model, outcome, and optionally latency_ms, tokens_in, tokens_out.")));
#undef MF_KEY_IS
		}
		if (feature == NULL || model == NULL || outcome == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("reports[%d] must have %s", i,
							feature == NULL ? "a feature" : model == NULL ? "a model" : "an outcome")));
		r->outcome = mf_report_outcome(outcome, olen);
		r->feature = mf_report_feature(cache, feature, flen);
		r->model = mf_report_model(cache, r->feature, model, mlen);
		i++;
	}
	mf_report_elem = -1;
	now = mf_now();
	for (int j = 0; j < i; j++)
		mf_report_apply(cache, &reps[j], now);
	PG_RETURN_INT32(i);
}

/* ---- what model_for and explain ask ---- */

MfRouteHealth
MfHealthRoute(MfCache *cache, int model, bool claim)
{
	MfRouteHealth r = {MF_HEALTH_UP, 0};
	MfHealthHandle *h;
	MfHealthSlot *s;
	uint64		word;
	int64		now;
	MfBreaker	copy;
	MfBreaker  *b;
	MfBreakerEvent ev[MF_BREAKER_MAX_EVENTS];
	int			nev = 0;
	MfAdmit		a;
	char		model_name[MF_NAME_MAX + 1];

	if (model < 0)
		return r;
	h = mf_handle(cache, model);
	if (h->override == MF_OVERRIDE_CLOSED)
		return r;
	if (h->override == MF_OVERRIDE_OPEN)
	{
		r.verdict = MF_HEALTH_OPEN;
		r.due_at = PG_INT64_MAX;
		return r;
	}
	if (h->slot < 0)
		return r;				/* never reported: healthy */
	s = &mf_shared->slots[h->slot];
	word = pg_atomic_read_u64(&s->word);
	if (likely(word == 0))
		return r;
	now = mf_now();
	if ((word & MF_WORD_OPEN) && (int64) (word & MF_WORD_DEADLINE) > now)
	{
		r.verdict = MF_HEALTH_OPEN;
		r.due_at = (int64) (word & MF_WORD_DEADLINE);
		return r;
	}

	/* Due for probing, or half-open: decide under the entry's spinlock. */
	SpinLockAcquire(&s->mutex);
	if (s->incarnation != h->incarnation || !s->in_use)
	{
		SpinLockRelease(&s->mutex);
		return r;
	}
	if (claim)
		b = &s->breaker;
	else
	{
		copy = s->breaker;
		b = &copy;
	}
	a = mf_breaker_admit(b, &h->params, MF_OVERRIDE_NONE, now, &r.due_at, ev, &nev);
	if (claim)
	{
		pg_atomic_write_u64(&s->word, mf_breaker_word(b));
		if (nev > 0)
			memcpy(model_name, s->key.model, sizeof(model_name));
	}
	SpinLockRelease(&s->mutex);
	if (claim && nev > 0)
		mf_emit(model_name, ev, nev, &h->params, now);

	r.verdict = a == MF_ADMIT_YES ? MF_HEALTH_UP : a == MF_ADMIT_PROBE ? MF_HEALTH_PROBE : MF_HEALTH_OPEN;
	return r;
}

/* HH:MM:SS of a wall-clock time, in the session's time zone. */
static void
mf_append_clock(StringInfo buf, TimestampTz t)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tz;

	if (timestamp2tm(t, &tz, &tm, &fsec, NULL, NULL) == 0)
		appendStringInfo(buf, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
	else
		appendStringInfoString(buf, "?");
}

void
MfHealthDescribe(MfCache *cache, int model, StringInfo buf)
{
	MfHealthHandle *h;
	MfHealthSlot *s;
	MfBreaker	b;
	MfBreakerEvent ev[MF_BREAKER_MAX_EVENTS];
	int			nev;
	int64		due;
	int64		now = mf_now();
	const char *name;

	if (model < 0 || mf_shared == NULL)
		return;
	h = mf_handle(cache, model);
	name = text_to_cstring(mf_model_name(cache, model));
	if (h->override == MF_OVERRIDE_OPEN)
	{
		appendStringInfo(buf, "model %s forced open (modelflags.breaker_settings)", name);
		return;
	}
	if (h->slot < 0)
	{
		appendStringInfo(buf, "model %s closed", name);
		return;
	}
	s = &mf_shared->slots[h->slot];
	SpinLockAcquire(&s->mutex);
	b = s->breaker;
	SpinLockRelease(&s->mutex);
	/* what model_for would find (a cool-down over, probes timed out) */
	mf_breaker_admit(&b, &h->params, MF_OVERRIDE_NONE, now, &due, ev, &nev);
	switch (b.state)
	{
		case MF_BREAKER_OPEN:
			appendStringInfo(buf, "model %s open until ", name);
			mf_append_clock(buf, mf_wall(b.deadline, now));
			appendStringInfoString(buf, ": ");
			mf_reason_text(buf, b.reason, b.trip_calls, b.trip_failures, &h->params);
			break;
		case MF_BREAKER_HALF_OPEN:
			appendStringInfo(buf, "model %s half-open: %d of %d probes out, waiting for their reports",
							 name, b.probes_out, h->params.probes);
			break;
		case MF_BREAKER_CLOSED:
			appendStringInfo(buf, "model %s closed", name);
			break;
	}
}

/* ---- views ---- */

static Datum
mf_int8_array(const uint64 *vals, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * n);

	for (int i = 0; i < n; i++)
		d[i] = Int64GetDatum((int64) vals[i]);
	return PointerGetDatum(construct_array(d, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

static Datum
mf_interval_datum(int64 us)
{
	Interval   *iv = palloc0(sizeof(Interval));

	iv->time = us;
	return IntervalPGetDatum(iv);
}

#define MF_ENTRY_COLS 34

/*
 * The provider of a model as the routing cache has it (the views take it
 * from here rather than join the tables, so that they depend on no table
 * column a DBA may retype).  NULL provider: no such model any more.
 */
static void
mf_model_provider(MfCache *cache, const char *model, Datum *provider, bool *provider_null,
				  Datum *available, bool *available_null)
{
	size_t		len = strlen(model);

	*provider_null = *available_null = true;
	for (int m = 0; m < cache->nmodels; m++)
	{
		MfCacheModel *cm = &cache->models[m];

		if (VARSIZE_ANY_EXHDR(cm->name) != len || memcmp(VARDATA_ANY(cm->name), model, len) != 0)
			continue;
		if (cm->provider_name != NULL)
		{
			*provider = PointerGetDatum(cm->provider_name);
			*provider_null = false;
		}
		if (cm->provider >= 0)
		{
			*available = BoolGetDatum(cache->providers[cm->provider].available);
			*available_null = false;
		}
		return;
	}
}

/*
 * _health_entries(): one row per health entry of this database, copied
 * under each entry's spinlock, for the views of sql/install/50_health.sql.
 */
Datum
modelflags_health_entries(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		now;
	int64		span;
	MfHealthSlot *copy;

	MfCache    *cache;

	mf_health_require();
	InitMaterializedSRF(fcinfo, 0);
	cache = MfCacheGet();
	MfHealthPrepare();
	now = mf_now();
	span = mf_shared->width * MF_WINDOW_BUCKETS;
	copy = palloc(sizeof(MfHealthSlot));

	LWLockAcquire(mf_shared->lock, LW_SHARED);
	for (int i = 0; i < mf_shared->max_entries; i++)
	{
		MfHealthSlot *s = &mf_shared->slots[i];
		Datum		values[MF_ENTRY_COLS];
		bool		nulls[MF_ENTRY_COLS];
		MfWindowSums sums;
		bool		is_model;
		MfBreaker	eff;
		MfBreakerParams params;
		MfOverride	override;
		MfBreakerEvent ev[MF_BREAKER_MAX_EVENTS];
		int			nev;
		int64		due;
		StringInfoData reason;
		int			c = 0;

		if (!s->in_use || s->key.dbid != MyDatabaseId)
			continue;
		SpinLockAcquire(&s->mutex);
		memcpy(copy, s, sizeof(MfHealthSlot));
		SpinLockRelease(&s->mutex);

		memset(nulls, 0, sizeof(nulls));
		is_model = copy->key.feature[0] == '\0';
		mf_params_for(copy->key.model, strlen(copy->key.model), &params, &override);
		eff = copy->breaker;
		if (is_model)
			mf_breaker_admit(&eff, &params, MF_OVERRIDE_NONE, now, &due, ev, &nev);
		mf_window_sum(&copy->window, now, span, &sums);

		/* feature, model */
		values[c] = CStringGetTextDatum(copy->key.feature);
		nulls[c++] = is_model;
		values[c++] = CStringGetTextDatum(copy->key.model);
		/* provider, provider_available */
		mf_model_provider(cache, copy->key.model, &values[c], &nulls[c], &values[c + 1], &nulls[c + 1]);
		c += 2;
		/* state, override, state_since, open_until, reason, level, consecutive, probes_out, probes_ok */
		if (is_model)
		{
			values[c++] = CStringGetTextDatum(mf_breaker_state_name(eff.state));
			if (override == MF_OVERRIDE_NONE)
				nulls[c++] = true;
			else
				values[c++] = CStringGetTextDatum(override == MF_OVERRIDE_OPEN ? "open" : "closed");
			if (copy->breaker.since > 0 || copy->breaker.opens_total > 0)
				values[c++] = TimestampTzGetDatum(mf_wall(eff.since, now));
			else
				values[c++] = TimestampTzGetDatum(copy->created);
			if (eff.state == MF_BREAKER_OPEN)
				values[c++] = TimestampTzGetDatum(mf_wall(eff.deadline, now));
			else
				nulls[c++] = true;
			initStringInfo(&reason);
			mf_reason_text(&reason, copy->breaker.reason, copy->breaker.trip_calls,
						   copy->breaker.trip_failures, &params);
			if (reason.len > 0)
				values[c++] = CStringGetTextDatum(reason.data);
			else
				nulls[c++] = true;
			values[c++] = Int32GetDatum(copy->breaker.level);
			values[c++] = Int32GetDatum(copy->breaker.consecutive);
			values[c++] = Int32GetDatum(copy->breaker.state == MF_BREAKER_HALF_OPEN ? copy->breaker.probes_out : 0);
			values[c++] = Int32GetDatum(copy->breaker.state == MF_BREAKER_HALF_OPEN ? copy->breaker.probes_ok : 0);
		}
		else
			for (int k = 0; k < 9; k++)
				nulls[c++] = true;
		/* window, calls, per outcome, latency bins */
		values[c++] = mf_interval_datum(span);
		values[c++] = Int64GetDatum((int64) sums.calls);
		for (int o = 0; o < MF_NOUTCOMES; o++)
			values[c++] = Int64GetDatum((int64) sums.counts[o]);
		values[c++] = mf_int8_array(sums.latency, MF_LATENCY_BINS);
		/* totals */
		for (int o = 0; o < MF_NOUTCOMES; o++)
			values[c++] = Int64GetDatum((int64) copy->window.total[o]);
		values[c++] = mf_int8_array(copy->window.total_latency, MF_LATENCY_BINS);
		values[c++] = Int64GetDatum((int64) copy->window.total_latency_count);
		values[c++] = Float8GetDatum(copy->window.total_latency_ms);
		values[c++] = Int64GetDatum((int64) copy->window.total_tokens_in);
		values[c++] = Int64GetDatum((int64) copy->window.total_tokens_out);
		if (is_model)
			values[c++] = Int64GetDatum((int64) copy->breaker.opens_total);
		else
			nulls[c++] = true;
		if (copy->window.last_report >= 0)
			values[c++] = TimestampTzGetDatum(mf_wall(copy->window.last_report, now));
		else
			nulls[c++] = true;
		values[c++] = TimestampTzGetDatum(copy->created);
		Assert(c == MF_ENTRY_COLS);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(mf_shared->lock);
	return (Datum) 0;
}

/* _health_status(): one row about the health machinery of this server. */
Datum
modelflags_health_status(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[13];
	bool		nulls[13] = {false};
	int			here = 0,
				pending = 0;
	int			worker = 0;
	uint64		lost;
	int32		filters;
	int64		filter_bytes,
				filter_memory;

	mf_health_require();
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	LWLockAcquire(mf_shared->lock, LW_SHARED);
	for (int i = 0; i < mf_shared->max_entries; i++)
		if (mf_shared->slots[i].in_use && mf_shared->slots[i].key.dbid == MyDatabaseId)
			here++;
	values[1] = Int32GetDatum(mf_shared->max_entries - mf_shared->nfree);
	LWLockRelease(mf_shared->lock);
	LWLockAcquire(mf_shared->ev_lock, LW_SHARED);
	for (int i = 0; i < MF_EVENT_RING; i++)
		if (mf_shared->events[i].status == MF_EV_PENDING && mf_shared->events[i].dbid == MyDatabaseId)
			pending++;
	for (int i = 0; i < MF_MAX_WORKERS; i++)
		if (mf_shared->workers[i].dbid == MyDatabaseId)
			worker = mf_shared->workers[i].pid;
	lost = mf_shared->ev_lost;
	LWLockRelease(mf_shared->ev_lock);

	values[0] = Int32GetDatum(mf_shared->max_entries);
	values[2] = Int32GetDatum(here);
	values[3] = Int64GetDatum((int64) pg_atomic_read_u64(&mf_shared->dropped));
	values[4] = mf_interval_datum(mf_shared->width * MF_WINDOW_BUCKETS);
	values[5] = BoolGetDatum(mf_breaker_on);
	values[6] = Int32GetDatum(pending);
	values[7] = Int64GetDatum((int64) lost);
	values[8] = Int32GetDatum(worker);
	nulls[8] = (worker == 0);
	values[9] = mf_interval_datum((int64) mf_clock_offset_ms * 1000);
	MfSharedStatus(MF_SHARED_FILTER, &filters, &filter_bytes, &filter_memory);
	values[10] = Int32GetDatum(filters);
	values[11] = Int64GetDatum(filter_bytes);
	values[12] = Int64GetDatum(filter_memory);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/* _health_transitions(): the transitions this server saw, newest last. */
Datum
modelflags_health_transitions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MfHealthEventRec *recs;
	int			n = 0;

	mf_health_require();
	InitMaterializedSRF(fcinfo, 0);
	recs = palloc(sizeof(MfHealthEventRec) * MF_EVENT_RING);
	LWLockAcquire(mf_shared->ev_lock, LW_SHARED);
	for (uint64 s = mf_shared->ev_seq >= MF_EVENT_RING ? mf_shared->ev_seq - MF_EVENT_RING + 1 : 1;
		 s <= mf_shared->ev_seq; s++)
	{
		MfHealthEventRec *r = &mf_shared->events[s % MF_EVENT_RING];

		if (r->seq == s && r->dbid == MyDatabaseId)
			recs[n++] = *r;
	}
	LWLockRelease(mf_shared->ev_lock);
	for (int i = 0; i < n; i++)
	{
		MfHealthEventRec *r = &recs[i];
		Datum		values[12];
		bool		nulls[12] = {false};

		values[0] = Int64GetDatum((int64) r->seq);
		values[1] = TimestampTzGetDatum(r->at);
		values[2] = CStringGetTextDatum(r->model);
		values[3] = CStringGetTextDatum(mf_event_kind_name(r->ev.kind));
		values[4] = CStringGetTextDatum(mf_breaker_state_name(r->ev.from));
		values[5] = CStringGetTextDatum(mf_breaker_state_name(r->ev.to));
		values[6] = CStringGetTextDatum(r->reason);
		values[7] = TimestampTzGetDatum(r->until);
		nulls[7] = (r->until == 0);
		values[8] = Int32GetDatum(r->ev.level);
		if (r->ev.kind == MF_EVENT_OPEN || r->ev.kind == MF_EVENT_REOPEN || r->ev.kind == MF_EVENT_EXTEND)
		{
			values[9] = Int64GetDatum((int64) r->ev.calls);
			values[10] = Int64GetDatum((int64) r->ev.failures);
		}
		else
			nulls[9] = nulls[10] = true;
		values[11] = CStringGetTextDatum(r->status == MF_EV_RECORDED ? "recorded"
										 : r->status == MF_EV_PENDING ? "pending" : "not recorded");
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * health_reset(model): forgets the windows and breaker of model and of its
 * (feature, model) pairs, or with NULL of every model of this database.
 * Returns how many entries were freed.
 */
Datum
modelflags_health_reset(PG_FUNCTION_ARGS)
{
	char	   *model = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			freed = 0;

	mf_health_require();
	LWLockAcquire(mf_shared->lock, LW_EXCLUSIVE);
	/* first: every backend resolves its handles again (and waits for this lock) */
	pg_atomic_fetch_add_u32(&mf_shared->generation, 1);
	for (int i = 0; i < mf_shared->max_entries; i++)
	{
		MfHealthSlot *s = &mf_shared->slots[i];
		MfHealthKey key;

		if (!s->in_use || s->key.dbid != MyDatabaseId ||
			(model != NULL && strcmp(s->key.model, model) != 0))
			continue;
		key = s->key;
		hash_search(mf_hash, &key, HASH_REMOVE, NULL);
		SpinLockAcquire(&s->mutex);
		s->in_use = false;
		s->incarnation++;
		pg_atomic_write_u64(&s->word, 0);
		SpinLockRelease(&s->mutex);
		s->next_free = mf_shared->free_head;
		mf_shared->free_head = i;
		mf_shared->nfree++;
		freed++;
	}
	if (model == NULL)
	{
		pg_atomic_write_u64(&mf_shared->dropped, 0);
		mf_shared->reset_at = GetCurrentTimestamp();
	}
	pg_atomic_fetch_add_u32(&mf_shared->generation, 1);
	LWLockRelease(mf_shared->lock);
	PG_RETURN_INT32(freed);
}

/* _latency_quantile(bins bigint[], q): the q-quantile of a latency histogram, ms. */
Datum
modelflags_latency_quantile(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	double		q = PG_GETARG_FLOAT8(1);
	Datum	   *d;
	bool	   *n;
	int			count;
	uint64		bins[MF_LATENCY_BINS];
	double		v;

	if (ARR_ELEMTYPE(arr) != INT8OID)
		elog(ERROR, "expected a bigint array");
	if (!(q > 0.0 && q < 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("quantile %g is out of range", q),
				 errdetail("A quantile is between 0 and 1, exclusive.")));
	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &d, &n, &count);
	if (count != MF_LATENCY_BINS)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("a latency histogram has %d bins, not %d", MF_LATENCY_BINS, count)));
	for (int i = 0; i < MF_LATENCY_BINS; i++)
		bins[i] = (n[i] || DatumGetInt64(d[i]) < 0) ? 0 : (uint64) DatumGetInt64(d[i]);
	v = mf_latency_quantile(bins, q);
	if (v < 0)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(v);
}

/* _latency_bounds(): the upper bound of each latency bin, ms (the last is Infinity). */
Datum
modelflags_latency_bounds(PG_FUNCTION_ARGS)
{
	Datum		d[MF_LATENCY_BINS];

	for (int i = 0; i < MF_LATENCY_BINS; i++)
		d[i] = Float8GetDatum(mf_latency_bin_upper(i));
	PG_RETURN_ARRAYTYPE_P(construct_array(d, MF_LATENCY_BINS, FLOAT8OID, 8, FLOAT8PASSBYVAL,
										  TYPALIGN_DOUBLE));
}

/*
 * The trigger of modelflags.breaker_settings: every backend (hot standbys
 * too, through the commit record) reads the settings again.  The settings
 * are not part of the compiled routing state, so this does not mark it
 * stale: it invalidates only this table's relcache entry, which health.c's
 * own callback watches.
 */
Datum
modelflags_breaker_settings_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("modelflags._breaker_settings_changed() must be called as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	if (TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		return PointerGetDatum(TRIGGER_FIRED_BY_DELETE(trigdata->tg_event)
							   ? trigdata->tg_trigtuple
							   : (trigdata->tg_newtuple ? trigdata->tg_newtuple : trigdata->tg_trigtuple));
	return PointerGetDatum(NULL);
}
