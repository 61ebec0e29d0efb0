/*
 * actor_sets.c — actor gates at scale: each flag's flag_actors rows, loaded
 * the first time an evaluation needs them.
 *
 * flag_actors may hold millions of rows, far more than a backend should copy.
 * A flag's rows are loaded by an index range scan: up to MF_SMALL_ACTOR_SET
 * rows are kept exactly; a larger set is kept as a Bloom filter (about 10 bits
 * and 7 hashes per actor, under 1% false positives) and an actor the filter
 * cannot rule out is confirmed by one index probe.  Most calls come from
 * actors not in the set, so they cost a few hashes; 1,000,000 actor gates
 * cost about 1.2 MB of filter, and a build never scans flag_actors as a whole.
 * With the library preloaded, a filter of MF_FILTER_SHARE_MIN bytes or more
 * is kept once per server: the backend builds it, then uses an equal copy
 * in shared memory, or puts its own there (shared_filters.c).
 *
 * Snapshots.  Loads and probes read with the current transaction's read
 * snapshot (cache.c, mf_push_read_snapshot): the snapshot its answers
 * follow.  So a large set's probe agrees with the set's load and with the
 * rest of the state, and a transaction that has asked keeps its answers
 * under READ COMMITTED too.
 *
 * Lifetime.  Sets live in an MfActorSets collection, keyed by flag name,
 * which cache.c keeps across states until flag_actors itself changes: a
 * failover flip or a provider outage does not reload millions of actor
 * gates.  A loaded set is one allocation in the collection's context,
 * published (put into the collection's map) only once it is complete, and
 * the map and list are grown before it is allocated: an ERROR during a load
 * (a timeout in the scan, an out-of-memory) leaves the collection exactly
 * as it was.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "cache_int.h"
#include "fault.h"
#include "flipper.h"
#include "shared_filters.h"

#define MF_SMALL_ACTOR_SET 32

/* Bloom filter hashes of an actor: double hashing from two 32-bit hashes. */
#define MF_BLOOM_HASHES 7

struct MfActorSet
{
	int32		count;			/* flag_actors rows of this flag */
	uint32		bloom_bits;		/* large sets: the filter's size; 0 for small ones */
	uint32		footprint;		/* bytes it takes, a shared filter included */
	/*
	 * Small sets (count <= MF_SMALL_ACTOR_SET): the exact rows, packed at
	 * rows_off from the set, after its flag's name: each actor's length
	 * (uint32), then each one's opt-out mark (a byte), then the actors'
	 * bytes, each followed by a NUL (no pointer per actor, none per array).
	 */
	uint32		rows_off;
	/*
	 * Large sets: a Bloom filter in front of an index probe, of any whole
	 * number of 64-bit words (a bit index is reduced by multiplication, not
	 * by a mask, so the filter is not rounded up to a power of two).
	 */
	uint64	   *bloom;
};

/*
 * The set of a flag without actor gates.  Not kept in the collection: a
 * state remembers it (actor_sets[], has_actor_rows), and a state built
 * later asks the index again, once.  A thousand failover flags would
 * otherwise take a set, a name and a map slot each in every backend.
 */
static const MfActorSet mf_no_actors = {0};

/* Small sets are carved from blocks of this size, not palloc'd one by one. */
#define MF_SET_BLOCK 16384
#define MF_MAX_BLOOM_BITS ((uint32) 1 << 31)

struct MfActorSets
{
	MemoryContext cxt;			/* the sets, the map, the list */
	MfIdxMap	map;			/* flag name -> index into list (or forgotten) */
	MfActorSet **list;
	int			count;
	int			cap;
	char	   *block;			/* the rest of the current block for small sets */
	size_t		block_left;
	int64		live_bytes;		/* footprint of every set loaded */
	int64		garbage_bytes;	/* of the sets forgotten since */
	int32	   *shared;			/* references to shared filters its sets use */
	int			nshared;
	int			shared_cap;
	MemoryContextCallback release;	/* gives them back when cxt goes */
};

static void *
mf_sets_alloc(void *arg, size_t size)
{
	return MemoryContextAlloc((MemoryContext) arg, size);
}

/* The flag name of set idx: kept, NUL-terminated, right after the set. */
static void
mf_set_key(const void *arg, int32 idx, const char **key, size_t *len)
{
	const MfActorSets *sets = arg;

	*key = (const char *) sets->list[idx] + MAXALIGN(sizeof(MfActorSet));
	*len = strlen(*key);
}

/* The collection's memory is going (freed, or reset by an ERROR). */
static void
mf_actor_sets_release(void *arg)
{
	MfActorSets *sets = arg;

	for (int i = 0; i < sets->nshared; i++)
		MfSharedRelease(sets->shared[i]);
	sets->nshared = 0;
}

MfActorSets *
mf_actor_sets_create(void)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "modelflags actor sets",
											  ALLOCSET_DEFAULT_MINSIZE, ALLOCSET_DEFAULT_INITSIZE,
											  MF_MAX_BLOCK);
	MfActorSets *sets = MemoryContextAllocZero(cxt, sizeof(MfActorSets));

	sets->cxt = cxt;
	mf_idxmap_init(&sets->map, 64, mf_sets_alloc, cxt, mf_set_key, sets);
	sets->release.func = mf_actor_sets_release;
	sets->release.arg = sets;
	MemoryContextRegisterResetCallback(cxt, &sets->release);
	return sets;
}

MemoryContext
mf_actor_sets_context(MfActorSets *sets)
{
	return sets->cxt;
}

int
mf_actor_sets_count(MfActorSets *sets)
{
	return sets ? sets->count : 0;
}

int
mf_actor_sets_known(MfCache *c)
{
	int			n = mf_actor_sets_count(c->sets);

	for (int i = 0; i < c->nflags; i++)
		if (c->actor_sets[i] < 0)
			n++;
	return n;
}

static inline void
mf_bloom_hashes(const char *actor, size_t len, uint32 *h1, uint32 *h2)
{
	*h1 = mf_strmap_hash(0x9e3779b9u, actor, len);
	*h2 = mf_strmap_hash(0x7f4a7c15u, actor, len) | 1;
}

/* The k-th bit of an actor with hashes h1, h2, in a filter of bits bits. */
static inline uint32
mf_bloom_bit(uint32 h1, uint32 h2, int k, uint32 bits)
{
	return (uint32) (((uint64) (h1 + (uint32) k * h2) * bits) >> 32);
}

static bool
mf_bloom_maybe(const MfActorSet *set, const char *actor, size_t len)
{
	uint32		h1,
				h2;

	mf_bloom_hashes(actor, len, &h1, &h2);
	for (int i = 0; i < MF_BLOOM_HASHES; i++)
	{
		uint32		bit = mf_bloom_bit(h1, h2, i, set->bloom_bits);

		if ((set->bloom[bit >> 6] & (UINT64CONST(1) << (bit & 63))) == 0)
			return false;
	}
	return true;
}

/*
 * Scans flag_actors for flag's rows (or, with actor, the one row) by the
 * primary key, with the transaction's read snapshot.  Calls row() for each;
 * returns the number of rows.  The table and index locks are released at
 * the end: a reader holds no lock past its read.
 */
typedef void (*MfActorRowFn) (void *state, const char *actor, size_t len, bool opt_out);

/* The same, from the gates of the attached Flipper tables (flipper.c). */
typedef struct MfFlipperCount
{
	MfActorRowFn row;
	void	   *state;
	int64		n;
} MfFlipperCount;

static void
mf_flipper_actor_row(void *arg, const char *actor, size_t len, bool opt_out)
{
	MfFlipperCount *fc = arg;

	fc->row(fc->state, actor, len, opt_out);
	fc->n++;
}

static int64
mf_scan_flipper_actors(MfCache *c, int flag, const char *actor, size_t actor_len,
					   MfActorRowFn row, void *state)
{
	MfFlipperSource src;
	MfFlipperCount fc = {row, state, 0};
	char	   *name = text_to_cstring(c->flag_names[flag]);

	memset(&src, 0, sizeof(src));
	src.features = c->flipper_features;
	src.gates = c->flipper_gates;
	mf_flipper_open(&src);
	mf_push_read_snapshot();
	mf_flipper_scan_actors(&src, name, actor, actor_len, GetActiveSnapshot(), mf_flipper_actor_row, &fc);
	PopActiveSnapshot();
	mf_flipper_close(&src);
	pfree(name);
	return fc.n;
}

static int64
mf_scan_actors(MfCache *c, int flag, const char *actor, size_t actor_len,
			   MfActorRowFn row, void *state)
{
	Relation	rel;
	Relation	index;
	AttrNumber	col[MF_NCOLUMNS];
	ScanKeyData keys[2];
	int			nkeys = 1;
	text	   *actor_text = NULL;
	SysScanDesc scan;
	HeapTuple	tuple;
	int64		n = 0;

	if (c->flag_flipper[flag] & MF_FLIPPER_OWNED)
		return mf_scan_flipper_actors(c, flag, actor, actor_len, row, state);

	/*
	 * The cached OIDs may name tables another session has dropped since this
	 * transaction read the rest of the state (DROP EXTENSION): say so.
	 */
	rel = try_table_open(c->flag_actors_relid, AccessShareLock);
	index = rel ? try_relation_open(c->flag_actors_pkey, AccessShareLock) : NULL;
	if (index == NULL)
	{
		if (rel)
			table_close(rel, AccessShareLock);
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table \"modelflags.flag_actors\" was dropped by another transaction"),
				 errdetail("This transaction read the routing tables before the extension was dropped."),
				 errhint("Start a new transaction.")));
	}
	mf_schema_attnums(rel, MF_FLAG_ACTORS, col);

	ScanKeyEntryInitialize(&keys[0], 0, col[MF_COL_ACTOR_FLAG], BTEqualStrategyNumber, InvalidOid,
						   TupleDescAttr(RelationGetDescr(rel), col[MF_COL_ACTOR_FLAG] - 1)->attcollation,
						   F_TEXTEQ, PointerGetDatum(c->flag_names[flag]));
	if (actor != NULL)
	{
		actor_text = cstring_to_text_with_len(actor, actor_len);
		ScanKeyEntryInitialize(&keys[1], 0, col[MF_COL_ACTOR_ACTOR], BTEqualStrategyNumber, InvalidOid,
							   TupleDescAttr(RelationGetDescr(rel), col[MF_COL_ACTOR_ACTOR] - 1)->attcollation,
							   F_TEXTEQ, PointerGetDatum(actor_text));
		nkeys = 2;
	}
	mf_push_read_snapshot();
	scan = systable_beginscan(rel, c->flag_actors_pkey, true, GetActiveSnapshot(), nkeys, keys);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		bool		isnull;
		bool		onull;
		Datum		a = heap_getattr(tuple, col[MF_COL_ACTOR_ACTOR], RelationGetDescr(rel), &isnull);
		Datum		o = heap_getattr(tuple, col[MF_COL_ACTOR_OPT_OUT], RelationGetDescr(rel), &onull);
		text	   *t;

		if (isnull)
			continue;			/* the primary key forbids it */
		t = DatumGetTextPP(a);
		row(state, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), !onull && DatumGetBool(o));
		if ((Pointer) t != DatumGetPointer(a))
			pfree(t);
		n++;
		CHECK_FOR_INTERRUPTS();
	}
	systable_endscan(scan);
	PopActiveSnapshot();
	relation_close(index, AccessShareLock);
	table_close(rel, AccessShareLock);
	if (actor_text)
		pfree(actor_text);
	return n;
}

/* Rows of one flag as they are read: the first few exactly, hashes of all. */
typedef struct MfActorLoad
{
	int64		n;
	int64		cap;
	size_t		bytes;			/* the small rows' bytes, NULs included */
	const char *actors[MF_SMALL_ACTOR_SET];
	uint32		lens[MF_SMALL_ACTOR_SET];
	bool		opt_out[MF_SMALL_ACTOR_SET];
	uint32	   *hashes;			/* pairs h1, h2 */
} MfActorLoad;

static void
mf_actor_load_row(void *state, const char *actor, size_t len, bool opt_out)
{
	MfActorLoad *l = state;

	if (l->n < MF_SMALL_ACTOR_SET)
	{
		l->actors[l->n] = pnstrdup(actor, len);
		l->lens[l->n] = (uint32) len;
		l->opt_out[l->n] = opt_out;
		l->bytes += len + 1;
	}
	if (l->n >= l->cap)
	{
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->hashes = l->hashes
			? repalloc_huge(l->hashes, sizeof(uint32) * 2 * l->cap)
			: MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint32) * 2 * l->cap);
	}
	mf_bloom_hashes(actor, len, &l->hashes[2 * l->n], &l->hashes[2 * l->n + 1]);
	l->n++;
}

/* Sets the bits of every actor read into l, in a filter of bits bits. */
static void
mf_bloom_fill(uint64 *bloom, uint32 bits, const MfActorLoad *l)
{
	memset(bloom, 0, bits / 8);
	for (int64 i = 0; i < l->n; i++)
	{
		uint32		h1 = l->hashes[2 * i];
		uint32		h2 = l->hashes[2 * i + 1];

		for (int k = 0; k < MF_BLOOM_HASHES; k++)
		{
			uint32		bit = mf_bloom_bit(h1, h2, k, bits);

			bloom[bit >> 6] |= UINT64CONST(1) << (bit & 63);
		}
	}
}

/*
 * Loads flag's actor set into c->sets (see the file header): read into
 * scratch, then one allocation for the finished set, then publish.
 */
static MfActorSet *
mf_load_actor_set(MfCache *c, int flag)
{
	MfActorSets *sets = c->sets;
	MemoryContext scratch = AllocSetContextCreate(CurrentMemoryContext,
												  "modelflags actor load",
												  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(scratch);
	text	   *name = c->flag_names[flag];
	size_t		name_len = VARSIZE_ANY_EXHDR(name);
	MfActorLoad l;
	MfActorSet *set;
	uint64		bits = 0;
	uint64	   *bloom = NULL;	/* built in scratch, to be shared */
	const uint64 *shared = NULL;
	size_t		size;
	char	   *p;

	memset(&l, 0, sizeof(l));
	mf_scan_actors(c, flag, NULL, 0, mf_actor_load_row, &l);
	MemoryContextSwitchTo(old);
	mf_fault("actors:load");
	if (l.n == 0)
	{
		mf_note_freed(scratch);
		MemoryContextDelete(scratch);
		return (MfActorSet *) &mf_no_actors;
	}

	/* Room in the list and the map first: nothing below may fail. */
	if (sets->count >= sets->cap)
	{
		int			cap = sets->cap ? sets->cap * 2 : 64;

		sets->list = sets->list
			? repalloc(sets->list, sizeof(MfActorSet *) * cap)
			: MemoryContextAlloc(sets->cxt, sizeof(MfActorSet *) * cap);
		sets->cap = cap;
	}
	mf_idxmap_reserve(&sets->map, sets->count + 1);

	/*
	 * The set, its arrays and its key in one allocation: a large set's of its
	 * own, a small set's carved from the current block (thousands of flags
	 * with a few actors each would otherwise pay palloc's power-of-two
	 * rounding on every set).  A new block is taken before anything is
	 * written: if that fails, the collection is as it was.
	 */
	size = MAXALIGN(sizeof(MfActorSet)) + MAXALIGN(name_len + 1);
	if (l.n <= MF_SMALL_ACTOR_SET)
		size += MAXALIGN((sizeof(uint32) + 1) * l.n + l.bytes);
	else
	{
		/* about 10 bits per actor, in whole words, at most 2^31 bits */
		bits = Min((uint64) l.n * 10, (uint64) MF_MAX_BLOOM_BITS);
		bits = (bits + 63) & ~(uint64) 63;

		/*
		 * A filter worth a shared page is built in scratch and looked for in
		 * shared memory (shared_filters.c): an equal copy, or a new one, is
		 * used instead.  Room for the reference first, so that holding one
		 * is always recorded.
		 */
		if (bits / 8 >= MF_FILTER_SHARE_MIN && MfFiltersAvailable())
		{
			int32		entry;

			if (sets->nshared >= sets->shared_cap)
			{
				int			cap = sets->shared_cap ? sets->shared_cap * 2 : 8;

				sets->shared = sets->shared
					? repalloc(sets->shared, sizeof(int32) * cap)
					: MemoryContextAlloc(sets->cxt, sizeof(int32) * cap);
				sets->shared_cap = cap;
			}
			bloom = MemoryContextAllocHuge(scratch, bits / 8);
			mf_bloom_fill(bloom, (uint32) bits, &l);
			shared = MfFilterShare(bloom, (uint32) bits, &entry);
			if (shared != NULL)
				sets->shared[sets->nshared++] = entry;
			mf_fault("actors:share");
		}
		if (shared == NULL)
			size += bits / 8;
	}
	if (size > MF_SET_BLOCK / 4)
		p = MemoryContextAllocHuge(sets->cxt, size);
	else
	{
		if (size > sets->block_left)
		{
			sets->block = MemoryContextAlloc(sets->cxt, MF_SET_BLOCK);
			sets->block_left = MF_SET_BLOCK;
		}
		p = sets->block;
		sets->block += size;
		sets->block_left -= size;
	}
	set = (MfActorSet *) p;
	memset(set, 0, sizeof(MfActorSet));
	p += MAXALIGN(sizeof(MfActorSet));
	memcpy(p, VARDATA_ANY(name), name_len);	/* mf_set_key reads it */
	p[name_len] = '\0';
	{
		const char *key = p;

		p += MAXALIGN(name_len + 1);
		set->count = (int32) Min(l.n, PG_INT32_MAX);
		set->footprint = (uint32) Min(size + (shared != NULL ? bits / 8 : 0), PG_UINT32_MAX);
		if (l.n <= MF_SMALL_ACTOR_SET)
		{
			uint32	   *lens = (uint32 *) p;
			uint8	   *opt_out = (uint8 *) (lens + l.n);
			char	   *row = (char *) (opt_out + l.n);

			set->rows_off = (uint32) (p - (char *) set);
			for (int i = 0; i < l.n; i++)
			{
				memcpy(row, l.actors[i], l.lens[i] + 1);
				lens[i] = l.lens[i];
				opt_out[i] = l.opt_out[i];
				row += l.lens[i] + 1;
			}
		}
		else
		{
			set->bloom_bits = (uint32) bits;
			if (shared != NULL)
				set->bloom = (uint64 *) shared; /* read only */
			else
			{
				set->bloom = (uint64 *) p;
				if (bloom != NULL)
					memcpy(set->bloom, bloom, bits / 8);
				else
					mf_bloom_fill(set->bloom, (uint32) bits, &l);
			}
		}
		/* Publish: reserved above, so neither step allocates. */
		sets->list[sets->count] = set;
		mf_idxmap_put(&sets->map, key, name_len, sets->count, false);
		sets->count++;
		sets->live_bytes += set->footprint;
	}
	mf_note_freed(scratch);
	MemoryContextDelete(scratch);
	return set;
}

void
mf_actor_sets_forget(MfActorSets *sets, text *flag)
{
	int			idx = MfCacheIndexText(&sets->map, flag);

	/* put on a present key replaces its value: no allocation */
	if (idx >= 0)
	{
		mf_idxmap_put(&sets->map, VARDATA_ANY(flag), VARSIZE_ANY_EXHDR(flag), idx, true);
		sets->garbage_bytes += sets->list[idx]->footprint;
	}
}

bool
mf_actor_sets_wasteful(MfActorSets *sets)
{
	return sets->garbage_bytes >= 1024 * 1024 && sets->garbage_bytes * 2 >= sets->live_bytes;
}

/*
 * flag's actor set: from this state, else from its collection (by flag
 * name; a forgotten one counts as absent), else loaded now.
 */
static MfActorSet *
mf_actor_set(MfCache *c, int flag)
{
	int32		known = c->actor_sets[flag];
	int			idx;
	MfActorSet *set;

	if (known > 0)
		return c->sets->list[known - 1];
	if (known < 0)
		return (MfActorSet *) &mf_no_actors;
	idx = MfCacheIndexText(&c->sets->map, c->flag_names[flag]);
	if (idx < 0)
	{
		set = mf_load_actor_set(c, flag);
		idx = set == &mf_no_actors ? -1 : c->sets->count - 1;	/* published last */
	}
	else
		set = c->sets->list[idx];
	c->actor_sets[flag] = idx < 0 ? -1 : idx + 1;
	{
		/* a flag read from shared memory keeps -1: the core asks actor_sets */
		MfFlag	   *f = mf_cache_flag_mut(c, flag);

		if (f != NULL)
			f->has_actor_rows = set->count > 0 ? 1 : 0;
	}
	return set;
}

bool
MfCacheFlagHasActors(MfCache *cache, int flag)
{
	return mf_actor_set(cache, flag)->count > 0;
}

static void
mf_probe_row(void *state, const char *actor, size_t len, bool opt_out)
{
	MfActorGate *gate = state;

	/* an opt-out wins over a gate row of the same actor (Flipper's tables) */
	if (*gate != MF_ACTOR_OPT_OUT)
		*gate = opt_out ? MF_ACTOR_OPT_OUT : MF_ACTOR_ENABLED;
}

MfActorGate
MfCacheActorGate(MfCache *cache, int flag, const char *actor, size_t actor_len)
{
	MfActorSet *set = mf_actor_set(cache, flag);
	MfActorGate gate = MF_ACTOR_NONE;

	if (set->count == 0)
		return MF_ACTOR_NONE;
	if (set->bloom == NULL)
	{
		/*
		 * Flipper's tables may hold an actor twice, as a gate and as GitLab's
		 * opt-out ("User:1" and "User:1:opt_out"): the opt-out wins.
		 */
		const uint32 *lens = (const uint32 *) ((const char *) set + set->rows_off);
		const uint8 *opt_out = (const uint8 *) (lens + set->count);
		const char *row = (const char *) (opt_out + set->count);

		for (int i = 0; i < set->count; row += lens[i] + 1, i++)
			if (lens[i] == actor_len && memcmp(row, actor, actor_len) == 0)
			{
				if (opt_out[i])
					return MF_ACTOR_OPT_OUT;
				gate = MF_ACTOR_ENABLED;
			}
		return gate;
	}
	if (!mf_bloom_maybe(set, actor, actor_len))
		return MF_ACTOR_NONE;
	mf_fault("actors:probe");
	mf_scan_actors(cache, flag, actor, actor_len, mf_probe_row, &gate);
	return gate;
}
