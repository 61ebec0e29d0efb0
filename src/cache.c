/*
 * cache.c — the owner of the compiled routing state: which MfCache answers a
 * transaction, when a new one is built, and when it replaces the old.
 *
 * There are two kinds of state (built by cache_build.c):
 *   - the backend's current state: built at a snapshot, kept across
 *     transactions in CacheMemoryContext, and rebuilt after an invalidation
 *     says one of the tables changed;
 *   - a private state: built for one transaction whose snapshot the current
 *     state does not match, in TopTransactionContext, gone at its end.
 *
 * The rules (SPEC C), each kept by the code named after it:
 *
 *   A1 A transaction answers from its answer snapshot: the transaction
 *      snapshot under REPEATABLE READ and SERIALIZABLE; under READ COMMITTED
 *      the snapshot of the statement that first asked, kept (registered) to
 *      the end.  So its answers agree with its own SELECTs and do not change
 *      while it runs, large actor sets included (actor_sets.c reads with it
 *      too).  [mf_view_begin]
 *   A2 A transaction that changed the tables itself answers from its answer
 *      snapshot with the command counter brought forward: it sees its own
 *      changes from its next statement on, and stops seeing those it rolled
 *      back (ROLLBACK TO SAVEPOINT), but never another session's commit.
 *      [MfCacheGet, mf_view_private]
 *   A3 The current state answers a transaction only when it shows exactly
 *      what the answer snapshot shows; otherwise a private state is built.
 *      [mf_view_begin]
 *
 * Why A3 can be decided cheaply.  A writer's trigger (triggers.c) makes the
 * writer send a relcache invalidation of each table it changed twice: at
 * PRE_COMMIT, before its change becomes visible to anyone, and again with
 * its commit (the transactional one).  Both reach hot standbys (a WAL
 * record, the commit record).  So at any moment, every change visible to a
 * new snapshot has already put a message in the queue, and
 *   I1 after AcceptInvalidationMessages(), the invalidation counter has
 *      moved for every change that any snapshot taken before that moment
 *      shows.
 * The current state records the counter it was built at.  If the counter
 * has not moved, no change became visible since the state's snapshot: the
 * answer snapshot shows no more than the state.  mf_snapshot_covers() checks
 * it shows no less (it can only show less when it is older than the state:
 * an imported snapshot).  Then the two agree.
 *
 * Building the current state.  When the counter has moved, the next
 * transaction's first read locks the tables (which delivers any pending
 * invalidations), reads the counter, and compares its answer snapshot with
 * the latest one.  If no transaction committed in between, the answer
 * snapshot is as new as anything, so a state built with it is the current
 * state (I2: the current state was read with a snapshot at least as new as
 * every invalidation counted before its build; later changes move the
 * counter again).  If something did commit in between, the transaction gets
 * a private state and the current state stays stale for the next one.
 *
 * Swapping.  A state is built completely in its own context, then adopted:
 * moved under its long-lived parent and made current, after which the old
 * one is freed.  Nothing references the old one by then: a transaction only
 * takes the current state at its first read, and the current state is only
 * replaced at a transaction's first read.  A failed build (a timeout, a
 * cancel, an out-of-memory, at any point) changes nothing: the previous
 * state stays whole and stale, and the next read tries again.
 *
 * Actor sets (actor_sets.c) belong to the current state and its successors
 * until flag_actors changes: then the next current state gets a new, empty
 * collection, and the old one goes with the old state.  Private states get
 * collections of their own.
 *
 * Invalidation.  Each configuration table has statement-level triggers
 * (triggers.c) that queue a relcache invalidation of a signal: the sequence
 * modelflags._cache_signal_actors for flag_actors, _cache_signal for the
 * others (not the table itself, whose relcache entry every reader would then
 * rebuild; in a database still at 1.0, the table).  Our relcache callback
 * only counts: mf_inval_count for a signal or any of our tables (DDL),
 * mf_actor_inval_count for _cache_signal_actors or flag_actors; a reset of
 * the queue (InvalidOid) counts for both.  The timing is PostgreSQL's (research/
 * pg-extension-style.md §3): this backend sees its own change at the end of
 * the statement (CommandCounterIncrement) and on rollback; others after the
 * commit, at their next AcceptInvalidationMessages(); a hot standby when it
 * replays the records.
 *
 * Locks.  A build locks the tables in AccessShareLock and releases them when
 * it ends; actor-set loads and probes do the same.  Readers hold no lock
 * past their read.
 *
 * Memory at many connections (issue 9, item 3).  Each backend still
 * builds and keeps its own state, since that is what makes SPEC C cheap
 * and exact: a transaction answers from a state that shows exactly its
 * snapshot (A1-A3), kept for the whole transaction.  A single compiled
 * snapshot in shared memory, built once per change, would move on when
 * any backend applies a change, so every reader would need either a
 * version per snapshot still answering or a private fallback for every
 * transaction that began before the last change, and everything must also
 * work without shared_preload_libraries.  What is shared instead is what
 * can be shared without versions: by content.  With the library
 * preloaded, a full build of the current state offers its colder parts
 * (names, params, routes, the flag and feature maps, the flags) to a
 * content-addressed store in shared memory and reads an equal copy from
 * there (cache_share.c); actor sets' Bloom filters of 1 kB or more are
 * kept the same way (shared_filters.c).  Equal bytes change no answer,
 * whatever snapshot each backend built from.  A delta copies only what
 * it changes: a flipped flag gets a 20-byte copy of its own, a route
 * change the routes array; the next full build shares again.  On the
 * benchmark's large set a backend that routed every feature keeps 0.13 MB
 * of routing state of its own (1.09 MB unshared) and 0.25 MB of actor sets
 * (flags without actor gates take none); see README.md, "What a change
 * costs the readers".
 * Without the preload, the state is made small (bench/README.md: pools,
 * 3/4-full maps, packed small actor sets, 20-byte flags that keep their
 * name's CRC, name maps of 8-byte slots that compare names in the state's
 * arrays) and stays the backend's own.
 */
#include "postgres.h"

#include <malloc.h>

#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "storage/proc.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "cache_int.h"
#include "fault.h"

Oid			mf_table_oids[MF_NTABLES];
Oid			mf_signal_oid = InvalidOid;
Oid			mf_signal_actors_oid = InvalidOid;

/* Invalidations received (see the header). */
static uint64 mf_inval_count = 1;
static uint64 mf_actor_inval_count = 1;

/* The current state, and the counters it was built at. */
static MfCache *mf_current = NULL;
static uint64 mf_current_inval = 0;
static uint64 mf_current_actor_inval = 0;
static int64 mf_builds = 0;
static int64 mf_private_builds = 0;
static int64 mf_patches = 0;

/* How the last stale state was brought up to date, and why, for cache_info(). */
static const char *mf_last_how = NULL;
static char mf_last_why[128];

static void
mf_note_refresh(const char *how, const char *why)
{
	mf_last_how = how;
	strlcpy(mf_last_why, why ? why : "", sizeof(mf_last_why));
}

/*
 * modelflags.incremental_cache = off makes every stale state rebuild in
 * full, as 1.0 did (the benchmark compares both in one run).
 */
bool		mf_incremental = true;
#define mf_force_full (!mf_incremental)

/* A checksum of the tables' OIDs: changes when the extension is re-created. */
static uint32
mf_table_oid_checksum(Relation *rels)
{
	uint32		h = 0;

	for (int i = 0; i < MF_NTABLES; i++)
		h = h * 31 + RelationGetRelid(rels[i]);
	return h;
}

/* The current transaction's view: its answer snapshot and its state. */
typedef struct MfView
{
	LocalTransactionId lxid;	/* the transaction, or Invalid */
	Snapshot	snapshot;		/* answer snapshot, registered on the top
								 * transaction's resource owner */
	MfCache    *cache;			/* the state answering it, or NULL */
	uint64		seen;			/* mf_inval_count when cache was taken */
} MfView;

static MfView mf_view = {InvalidLocalTransactionId, NULL, NULL, 0};

/* The last transaction that changed the tables (MfCacheNoteWrite). */
static LocalTransactionId mf_wrote_lxid = InvalidLocalTransactionId;

/*
 * Relcache invalidation callback: runs inside AcceptInvalidationMessages, so
 * it only counts (no catalog access, no ERROR).
 */
static void
mf_relcache_callback(Datum arg, Oid relid)
{
	mf_schema_forget(relid);
	if (relid == InvalidOid)
	{
		mf_inval_count++;
		mf_actor_inval_count++;
		return;
	}
	if (relid == mf_signal_oid)
	{
		mf_inval_count++;
		return;
	}
	if (relid == mf_signal_actors_oid)
	{
		mf_inval_count++;
		mf_actor_inval_count++;
		return;
	}
	/* DDL, DROP EXTENSION, and writers of a database still at 1.0 */
	for (int i = 0; i < MF_NTABLES; i++)
		if (mf_table_oids[i] == relid)
		{
			mf_inval_count++;
			if (i == MF_FLAG_ACTORS)
				mf_actor_inval_count++;
		}
}

/*
 * Memory this backend gave back to malloc since it last trimmed: states
 * replaced, scratch of builds and actor-set loads.  glibc keeps freed heap
 * pages for reuse, dirty and private to the backend: one that routed every
 * feature of the benchmark's large set and then sat idle kept about 1 MB of
 * them.  A transaction that freed 1 MB or more ends with malloc_trim(),
 * which returns them to the kernel, at most once every 10 s: the
 * next allocations fault those pages in again, which made a full build
 * right after a trim four times slower on the development machine (24 ms
 * instead of 6), so a backend that rebuilds often (incremental_cache off,
 * bulk loads) must not trim before every build.
 */
#define MF_TRIM_EVERY_MS 10000
static Size mf_freed = 0;
static TimestampTz mf_last_trim = 0;

void
mf_note_freed(MemoryContext cxt)
{
	mf_freed += MemoryContextMemAllocated(cxt, true);
}

void
mf_note_freed_bytes(Size bytes)
{
	mf_freed += bytes;
}

static void
mf_trim_if_worth_it(void)
{
	TimestampTz now;

	if (mf_freed < 1024 * 1024)
		return;
	now = GetCurrentTimestamp();
	if (mf_last_trim != 0 && !TimestampDifferenceExceeds(mf_last_trim, now, MF_TRIM_EVERY_MS))
		return;
	mf_freed = 0;
	mf_last_trim = now;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/*
 * Transaction end: release the answer snapshot; a private state goes with
 * TopTransactionContext.  Must not fail.
 */
static void
mf_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			if (mf_view.snapshot != NULL)
				UnregisterSnapshotFromOwner(mf_view.snapshot, TopTransactionResourceOwner);
			mf_view.lxid = InvalidLocalTransactionId;
			mf_view.snapshot = NULL;
			mf_view.cache = NULL;
			mf_trim_if_worth_it();
			break;
		default:
			break;
	}
}

void
MfCacheInit(void)
{
	DefineCustomBoolVariable("modelflags.incremental_cache",
							 "Brings stale routing caches up to date by what changed.",
							 "Off rebuilds them in full after every change, as version 1.0 did.",
							 &mf_incremental,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	mf_cache_share_init();
	CacheRegisterRelcacheCallback(mf_relcache_callback, (Datum) 0);
	mf_open_tables_init();
	RegisterXactCallback(mf_xact_callback, NULL);
}

void
MfCacheNoteWrite(void)
{
	mf_wrote_lxid = MF_CURRENT_LXID;
}

void
mf_push_read_snapshot(void)
{
	Assert(mf_view.snapshot != NULL);
	PushCopiedSnapshot(mf_view.snapshot);

	/*
	 * A2: its own changes.  Set on the copy just pushed, which is this
	 * backend's alone: UpdateActiveSnapshotCommandId() would refuse in
	 * parallel mode (a query with a Gather node, or force_parallel_mode),
	 * since it guards a statement's snapshot, which workers share.
	 */
	if (mf_wrote_lxid == MF_CURRENT_LXID)
		GetActiveSnapshot()->curcid = GetCurrentCommandId(false);
}

/* Whether the current state is valid: no invalidation since it was built. */
static inline bool
mf_current_valid(void)
{
	return mf_current != NULL && mf_current_inval == mf_inval_count;
}

/*
 * A private state for the current transaction (A2, A3), read with its read
 * snapshot.  Replaces the view's previous private state only once built.
 */
static void
mf_view_private(const char *why)
{
	Relation	rels[MF_NTABLES];
	MfActorSets *sets = mf_actor_sets_create();
	MfCache    *fresh;
	MfCache    *old = mf_view.cache;
	uint64		seen;

	mf_open_tables(rels);
	seen = mf_inval_count;
	mf_push_read_snapshot();
	fresh = mf_cache_build(rels, GetActiveSnapshot(), sets);
	fresh->table_oids_checksum = mf_table_oid_checksum(rels);
	PopActiveSnapshot();
	mf_close_tables(rels);
	MemoryContextSetParent(mf_actor_sets_context(sets), fresh->cxt);

	fresh->is_private = true;
	fresh->builds = mf_builds + (++mf_private_builds);
	MemoryContextSetParent(fresh->cxt, TopTransactionContext);
	mf_view.cache = fresh;
	mf_view.seen = seen;
	if (old != NULL && old->is_private)
		MemoryContextDelete(old->cxt);
	mf_note_freed(fresh->cxt);	/* with TopTransactionContext */
	mf_note_refresh("private build", why);
}

/* Whether the tables are still those the state was read from (DROP/CREATE EXTENSION). */
static bool
mf_same_tables(MfCache *c, Relation *rels)
{
	return c->flag_actors_relid == RelationGetRelid(rels[MF_FLAG_ACTORS]) &&
		c->table_oids_checksum == mf_table_oid_checksum(rels);
}

/*
 * Brings the current state to the transaction's answer snapshot: by the
 * delta from its own snapshot when the log can tell (cache_delta.c), else
 * by a full build.  The result is the current state when the answer
 * snapshot is as new as the latest one (see "Building the current state");
 * otherwise a patched current state is still exact for this transaction,
 * but is left marked stale so that the next transaction looks again, and a
 * full build goes to a private state.
 */
static void
mf_view_refresh(void)
{
	Relation	rels[MF_NTABLES];
	uint64		inval;
	uint64		actor_inval;
	bool		newest;
	MfActorSets *sets;
	MfCache    *fresh;
	const char *delta_why = NULL;

	mf_open_tables(rels);
	AcceptInvalidationMessages();
	inval = mf_inval_count;
	actor_inval = mf_actor_inval_count;
	/*
	 * In parallel mode (a read above a Gather node) no new snapshot can be
	 * taken: then the state is brought to the answer snapshot but left
	 * stale, and a full build goes to a private state.
	 */
	newest = !IsInParallelMode() && mf_snapshot_covers(mf_view.snapshot, GetLatestSnapshot());

	/*
	 * The delta knows rows, not DDL: check every column the state was read
	 * from is still there with its type (an ALTER also ends up here), as a
	 * full build would.
	 */
	for (int t = 0; t < MF_NTABLES; t++)
	{
		AttrNumber	attnums[MF_NCOLUMNS];

		mf_schema_attnums(rels[t], (MfTableId) t, attnums);
	}

	if (mf_current != NULL && !mf_force_full && mf_same_tables(mf_current, rels) &&
		mf_snapshot_covers(mf_view.snapshot, &mf_current->snapshot) &&
		mf_current->garbage_bytes + mf_current->patch_bytes < Max(1024 * 1024, mf_current->built_bytes / 2))
	{
		MfDelta		d;

		if (mf_read_delta(&mf_current->snapshot, mf_view.snapshot, &d))
		{
			MfActorSets *old_sets = mf_current->sets;
			bool		renew = d.full[MF_FLAG_ACTORS] || mf_actor_sets_wasteful(old_sets);
			MfActorSets *new_sets = renew ? mf_actor_sets_create() : NULL;

			if (mf_cache_patch(mf_current, rels, &d, mf_view.snapshot))
			{
				mf_close_tables(rels);
				if (new_sets != NULL)
				{
					MemoryContextSetParent(mf_actor_sets_context(new_sets), CacheMemoryContext);
					mf_current->sets = new_sets;
					memset(mf_current->actor_sets, 0, sizeof(int32) * mf_current->flags_cap);
					for (int i = 0; i < mf_current->nflags; i++)
					{
						MfFlag	   *f = mf_cache_flag_mut(mf_current, i);

						if (f != NULL)	/* shared ones are never written: -1 */
							f->has_actor_rows = -1;
					}
					mf_note_freed(mf_actor_sets_context(old_sets));
					MemoryContextDelete(mf_actor_sets_context(old_sets));
				}
				mf_current_inval = newest ? inval : 0;
				mf_current_actor_inval = actor_inval;
				mf_patches++;
				mf_view.cache = mf_current;
				mf_view.seen = inval;
				mf_note_refresh("delta", d.full[MF_FLAG_ACTORS] ? "a bulk change to flag_actors"
								: renew ? "memory of actor sets loaded again" : NULL);
				return;
			}
		}
		delta_why = d.why;
	}
	else if (mf_current == NULL)
		delta_why = "the first read";
	else if (mf_force_full)
		delta_why = "modelflags.incremental_cache is off";
	else if (!mf_same_tables(mf_current, rels))
		delta_why = "the tables were re-created";
	else if (!mf_snapshot_covers(mf_view.snapshot, &mf_current->snapshot))
		delta_why = "the snapshot is older than the state";
	else
		delta_why = "memory used by earlier deltas";

	if (!newest)
	{
		mf_close_tables(rels);
		mf_view_private(delta_why ? delta_why : "a commit arrived while the transaction began");
		return;
	}

	/* Keep the actor sets unless flag_actors changed since they were read. */
	if (mf_current != NULL && mf_current_actor_inval == actor_inval && mf_same_tables(mf_current, rels) &&
		!mf_actor_sets_wasteful(mf_current->sets))
		sets = mf_current->sets;
	else
		sets = mf_actor_sets_create();
	fresh = mf_cache_build(rels, mf_view.snapshot, sets);
	fresh->table_oids_checksum = mf_table_oid_checksum(rels);
	fresh->built_bytes = MemoryContextMemAllocated(fresh->cxt, true);
	mf_close_tables(rels);
	mf_cache_share(fresh);
	mf_fault("build:adopt");

	/* Adopt: nothing below can fail. */
	MemoryContextSetParent(fresh->cxt, CacheMemoryContext);
	if (mf_current == NULL || sets != mf_current->sets)
		MemoryContextSetParent(mf_actor_sets_context(sets), CacheMemoryContext);
	fresh->builds = ++mf_builds + mf_private_builds;
	if (mf_current != NULL)
	{
		if (mf_current->sets != sets)
		{
			mf_note_freed(mf_actor_sets_context(mf_current->sets));
			MemoryContextDelete(mf_actor_sets_context(mf_current->sets));
		}
		mf_note_freed(mf_current->cxt);
		MemoryContextDelete(mf_current->cxt);
	}
	mf_current = fresh;
	mf_current_inval = inval;
	mf_current_actor_inval = actor_inval;
	mf_view.cache = fresh;
	mf_view.seen = inval;
	mf_note_refresh("build", delta_why);
}

/*
 * The first read of a transaction (or the first to succeed): fix the answer
 * snapshot (A1), then choose the state (A2, A3).
 */
static MfCache *
mf_view_begin(LocalTransactionId lxid)
{
	if (mf_view.lxid != lxid)
	{
		Snapshot	base;

		/* I1: count every change a snapshot taken so far could show. */
		AcceptInvalidationMessages();
		if (IsolationUsesXactSnapshot() || !ActiveSnapshotSet())
			base = GetTransactionSnapshot();
		else
			base = GetActiveSnapshot();
		mf_view.snapshot = RegisterSnapshotOnOwner(base, TopTransactionResourceOwner);
		mf_view.lxid = lxid;
		mf_view.cache = NULL;
	}

	if (mf_wrote_lxid == lxid)
		mf_view_private("the transaction changed the tables");	/* A2 */
	else if (mf_current_valid() && mf_snapshot_covers(mf_view.snapshot, &mf_current->snapshot))
	{
		mf_view.cache = mf_current; /* A3 */
		mf_view.seen = mf_inval_count;
	}
	else if (!mf_current_valid())
		mf_view_refresh();
	else
		mf_view_private("the snapshot is older than the state");	/* imported */
	return mf_view.cache;
}

MfCache *
MfCacheGet(void)
{
	LocalTransactionId lxid = MF_CURRENT_LXID;

	if (likely(mf_view.lxid == lxid && mf_view.cache != NULL))
	{
		/* A2: its own change (or its rollback) was processed since. */
		if (unlikely(mf_wrote_lxid == lxid && mf_view.seen != mf_inval_count))
			mf_view_private("the transaction changed the tables");
		return mf_view.cache;
	}
	return mf_view_begin(lxid);
}

/*
 * cache_info(): this backend's routing cache, for DBAs and tests.  Reports
 * without building: valid is false when the next transaction will rebuild.
 */
PG_FUNCTION_INFO_V1(modelflags_cache_info);

Datum
modelflags_cache_info(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[10];
	bool		nulls[10] = {false};
	int64		memory = 0;
	int			routes = 0;
	MfCache    *c = mf_current;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (c != NULL)
	{
		memory += MemoryContextMemAllocated(c->cxt, true);
		memory += MemoryContextMemAllocated(mf_actor_sets_context(c->sets), true);
		for (int f = 0; f < c->nfeatures; f++)
			routes += c->features[f].nroutes;
	}
	values[0] = BoolGetDatum(mf_current_valid());
	values[1] = Int64GetDatum(mf_builds + mf_private_builds);
	values[2] = Int32GetDatum(c ? c->nflags : 0);
	values[3] = Int32GetDatum(c ? c->nfeatures : 0);
	values[4] = Int32GetDatum(routes);
	values[5] = Int64GetDatum(c && mf_current_actor_inval == mf_actor_inval_count
							  ? mf_actor_sets_known(c) : 0);
	values[6] = Int64GetDatum(memory);
	/* cache_info() of 1.0 had seven columns; 1.1 adds three */
	if (desc->natts >= 10)
	{
		values[7] = Int64GetDatum(mf_patches);
		if (mf_last_how)
			values[8] = CStringGetTextDatum(mf_last_how);
		else
			nulls[8] = true;
		if (mf_last_why[0])
			values[9] = CStringGetTextDatum(mf_last_why);
		else
			nulls[9] = true;
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
