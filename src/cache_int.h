/*
 * cache_int.h — what the files of the routing cache share among themselves:
 *   cache.c        the owner: which compiled state answers a transaction,
 *                  invalidation, snapshots, swapping in a new state
 *   cache_build.c  building a compiled state from the tables at a snapshot
 *   actor_sets.c   actor gates, loaded lazily per flag
 * Nothing outside these files includes it; read_api.c uses cache.h.
 */
#ifndef MODELFLAGS_CACHE_INT_H
#define MODELFLAGS_CACHE_INT_H

#include "cache.h"
#include "schema.h"

/* Cache contexts grow in blocks of at most this much, to keep slack small. */
#define MF_MAX_BLOCK (256 * 1024)

/* ---- cache.c ---- */

/* The tables' OIDs as last looked up by name (for the invalidation callback). */
extern Oid	mf_table_oids[MF_NTABLES];

/*
 * The signals' OIDs as last looked up (modelflags._cache_signal and
 * _cache_signal_actors; InvalidOid before 1.1): writers invalidate them
 * instead of the tables (change_log.c, mf_signal_readers).
 */
extern Oid	mf_signal_oid;
extern Oid	mf_signal_actors_oid;

/*
 * The snapshot reads of the current transaction's view use: its answer
 * snapshot, with the command counter brought up to date when the
 * transaction wrote to the tables itself.  Pushed as the active snapshot;
 * the caller pops it with PopActiveSnapshot().
 */
extern void mf_push_read_snapshot(void);

/*
 * Counts cxt's memory, about to be freed, towards the malloc_trim() at the
 * end of the transaction (see cache.c).
 */
extern void mf_note_freed(MemoryContext cxt);
extern void mf_note_freed_bytes(Size bytes);

/* ---- cache_build.c ---- */

/*
 * Looks the tables up by name and locks them in AccessShareLock (which also
 * delivers pending invalidations).  mf_close_tables releases the locks: a
 * reader holds no lock past its read.
 */
extern void mf_open_tables(Relation *rels);

/* Registers what tells mf_open_tables to look the names up again (MfCacheInit). */
extern void mf_open_tables_init(void);

/*
 * modelflags._cache_log and its txid index as mf_open_tables last looked
 * them up (InvalidOid before 1.1).
 */
extern Oid	mf_log_oid;
extern Oid	mf_log_index_oid;
extern void mf_close_tables(Relation *rels);

/*
 * Reads the open tables with snap into a new compiled state, in a new memory
 * context that is a child of CurrentMemoryContext: an ERROR anywhere in the
 * build leaves nothing behind but garbage that the error's cleanup frees.
 * The caller moves the context under a long-lived parent once it has the
 * state.  Actor sets are looked up in (and loaded into) sets.
 */
extern MfCache *mf_cache_build(Relation *rels, Snapshot snap, MfActorSets *sets);

/*
 * The state's copy of the snapshot it shows, in two steps so that a patch
 * can prepare (allocate, may fail) and later apply (cannot fail): room for
 * snap's arrays, new ones in cxt only when the state's are too small; then
 * the copy into that room, returning the bytes of arrays no longer used.
 */
typedef struct MfSnapshotRoom
{
	TransactionId *xip;			/* NULL: the state's own */
	TransactionId *subxip;
	int			xip_cap;
	int			subxip_cap;
} MfSnapshotRoom;

extern void mf_snapshot_room(const MfCache *c, Snapshot snap, MemoryContext cxt, MfSnapshotRoom *room);
extern int64 mf_snapshot_store(MfCache *c, Snapshot snap, const MfSnapshotRoom *room);

/*
 * Whether every transaction whose effects old shows is also shown by snap:
 * then snap sees the tables at least as old did.  Conservative: false when
 * it cannot tell cheaply.
 */
extern bool mf_snapshot_covers(Snapshot snap, Snapshot old);

/* Room left in a state's flags array for flags added by deltas. */
#define MF_FLAG_SLACK 256

/* Grows the routes array of c to hold n routes (it may move). */
extern void mf_cache_reserve_routes(MfCache *c, int n);

/* ---- cache_delta.c ---- */

/* What changed between two snapshots, by table (see cache_delta.c). */
typedef struct MfDelta
{
	bool		all;			/* the log cannot tell: build in full */
	bool		full[MF_NTABLES];	/* that table changed too much to list */
	int			nkeys[MF_NTABLES];
	int			cap[MF_NTABLES];
	text	  **keys[MF_NTABLES];	/* the changed names */
	MfStrMap	seen[MF_NTABLES];
	int			total;			/* names, all tables */
	int			rows;			/* log rows read */
	const char *why;			/* why a full build is needed, if it is */
} MfDelta;

/*
 * The names changed by the writers snap shows and since did not.  Returns
 * false (d->all) when only a full build can tell.
 */
extern bool mf_read_delta(Snapshot since, Snapshot snap, MfDelta *d);

/*
 * Brings c from its snapshot to snap by d, in place; c->snapshot becomes
 * snap.  Returns false, having changed nothing, when a full build is needed
 * instead.  An ERROR leaves c as it was.
 */
extern bool mf_cache_patch(MfCache *c, Relation *rels, MfDelta *d, Snapshot snap);

/* ---- cache_share.c ---- */

/* Defines modelflags.shared_state; from MfCacheInit. */
extern void mf_cache_share_init(void);

/*
 * Replaces c's colder parts (names, params, routes, the flag and feature
 * maps) with an equal copy in shared memory, found or made, when the
 * library is preloaded; else leaves c as it is.  For a full build about to
 * become the current state.  An ERROR leaves c whole and its own.
 */
extern void mf_cache_share(MfCache *c);

/*
 * Makes the MF_PART_* parts of c that are read from shared memory c's own
 * (a copy), so that a delta may change them.  An ERROR leaves c as it was.
 */
extern void mf_cache_own(MfCache *c, int parts);

/*
 * Flag i as a delta (or an actor-set load) may write it: the state's own
 * flags[] entry, or its copy when flags[] is shared; NULL when it is read
 * from shared memory and has no copy (then nothing may be written).
 */
extern MfFlag *mf_cache_flag_mut(MfCache *c, int i);

/*
 * Gives each flag of idx[0..n) (indexes of existing flags, or of flags a
 * delta is about to add) a copy of its own when flags[] is shared, so that
 * the delta may write it, and points the core's routes at the copies (equal
 * until the delta writes them); allocates, so it belongs to a delta's
 * prepare phase.  An ERROR leaves the state answering as it did.
 */
extern void mf_cache_own_flags(MfCache *c, const int *idx, int n);

/* Points every compiled route at its flag as MfCacheFlag gives it. */
extern void mf_cache_point_routes(MfCache *c);

/* ---- actor_sets.c ---- */

/* Forgets flag's set, so that the next use loads it again; allocates nothing. */
extern void mf_actor_sets_forget(MfActorSets *sets, text *flag);

/*
 * Whether the sets forgotten in the collection (still allocated: a state
 * may point to them) take 1 MB and half of it: then a new collection is
 * started, and the sets load again as they are used.  Without it, each
 * change to a large flag's actor gates would leave its old set behind.
 */
extern bool mf_actor_sets_wasteful(MfActorSets *sets);

/* A new, empty collection of actor sets in a child of CurrentMemoryContext. */
extern MfActorSets *mf_actor_sets_create(void);
extern MemoryContext mf_actor_sets_context(MfActorSets *sets);
extern int	mf_actor_sets_count(MfActorSets *sets);

/*
 * Flags whose actor gates c knows: the sets of its collection, and the
 * flags it found without any (which the collection does not keep).
 */
extern int	mf_actor_sets_known(MfCache *c);

#endif
