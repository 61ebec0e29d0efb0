/*
 * cache_share.c — the colder parts of the current compiled state, kept once
 * per server when modelflags is preloaded (issue 9, item 3).
 *
 * Every backend that routes compiles the same tables into the same state:
 * on the benchmark's large set, about 1.1 MB each, two thirds of it names,
 * params, routes and name maps that a flag flip or a provider outage never
 * touches.  Those parts are offered, after a full build of the backend's
 * current state, to the shared store of shared_filters.c, by their content:
 *
 *   data         the build's pool (cache_build.c): every name and params
 *                datum, block after block, as allocated
 *   flag_names   pointers into data
 *   routes       MfCacheRoute[], whose names and params point into data
 *   flag_map     the name maps' slots (hashes and indexes, no pointers)
 *   feature_map
 *   flags        MfFlag[] (no pointers; has_actor_rows left unknown, -1)
 *
 * Why this can be shared without versions.  A backend still builds its
 * state from its own snapshot, as without the preload (SPEC C, cache.c):
 * sharing only replaces its copy of these parts with an equal one, found by
 * a digest and compared in full.  Equal means equal as the backend would
 * read them: data byte for byte, and every pointer at the same place within
 * data; the shared copy's pointers point into the shared copy, which is
 * mapped at the same address in every backend (PostgreSQL relies on that for
 * its own shared memory).  So a shared part changes no answer, and a state
 * whose rows differ simply makes another entry.  The digest is taken over a
 * canonical form (pointers as offsets into data), so it does not depend on
 * where the backend's own copy was.
 *
 * What stays the backend's own: the core's routes (they point to the flags
 * they read), the per-flag actor sets (loaded as used) and which flag has
 * which (actor_sets[]), models and providers (few, and model health hangs
 * on them), features, and the smaller maps.
 *
 * Changes.  The shared parts are read only.  A delta that would change one
 * (a new flag, a route change, a feature that comes or goes) first makes it
 * the backend's own with mf_cache_own: a copy, the only cost being that copy;
 * what it does not touch stays shared.  A flag a delta writes (a flip, a new
 * flag) gets a copy of its own instead, 20 bytes, found by its index through
 * flag_over (MfCacheFlag), and the core's routes are pointed at it: a flip
 * does not copy the array.  Shared flags keep has_actor_rows unknown, so the
 * core asks, and the backend answers from its actor sets.  A provider outage
 * and an actor gate touch no shared part.  The next full build shares again.
 *
 * Failure.  Everything that can fail (the canonical form, the reference's
 * bookkeeping) comes before the reference is taken; after it, pointers are
 * moved and the backend's copies freed, which cannot fail.  The reference is
 * given back by a callback of the state's memory context, so a state freed
 * by an ERROR gives it back too.  Without the preload, with
 * modelflags.shared_state off, or when the store is full, the state simply
 * stays the backend's own.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "cache_int.h"
#include "fault.h"
#include "shared_filters.h"

static bool mf_share_state = true;

/* A pool block, with where its bytes go in data. */
typedef struct MfShareBlock
{
	const char *start;
	Size		used;
	Size		offset;
} MfShareBlock;

/* The canonical form of a state's shareable parts, and where they go. */
typedef struct MfShareContent
{
	char	   *canon;			/* pointers as offset + 1 into data, NULL 0 */
	Size		total;
	Size		off_names;		/* data is at 0 */
	Size		off_routes;
	Size		off_flag_map;
	Size		off_feature_map;
	Size		off_flags;
	int			nflags;
	int			nroutes;
	MfShareBlock *sorted;		/* the blocks by address, for mf_share_offset */
	int			nblocks;
} MfShareContent;

/*
 * The state's context is identified (pg_backend_memory_contexts.ident) by
 * what it shares, and by what deltas have since made its own.
 */
#define MF_SHARE_IDENT 160

typedef struct MfShareHold
{
	MemoryContextCallback cb;
	int32		entry;
} MfShareHold;

void
mf_cache_share_init(void)
{
	DefineCustomBoolVariable("modelflags.shared_state",
							 "Keeps the colder parts of compiled routing states once per server.",
							 "With the library preloaded, backends whose states are equal read one copy of "
							 "their names, params, routes, name maps and flags from shared memory.",
							 &mf_share_state, true, PGC_USERSET, 0, NULL, NULL, NULL);
}

static int
mf_share_block_cmp(const void *a, const void *b)
{
	const char *x = ((const MfShareBlock *) a)->start;
	const char *y = ((const MfShareBlock *) b)->start;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* Where p lies in data, plus one; 0 for NULL; -1 when it is not in the pool. */
static int64
mf_share_offset(const MfShareContent *sc, const void *p)
{
	int			lo = 0,
				hi = sc->nblocks - 1;

	if (p == NULL)
		return 0;
	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		const MfShareBlock *b = &sc->sorted[mid];

		if ((const char *) p < b->start)
			hi = mid - 1;
		else if ((const char *) p >= b->start + b->used)
			lo = mid + 1;
		else
			return (int64) (b->offset + ((const char *) p - b->start)) + 1;
	}
	return -1;
}

/* A canonical offset as a pointer into a copy at base. */
static inline void *
mf_share_at(const char *base, uintptr_t off)
{
	return off == 0 ? NULL : (void *) (base + off - 1);
}

/* A canonical route as it reads in a copy at base. */
static inline void
mf_share_route_at(const MfCacheRoute *canon, const char *base, MfCacheRoute *out)
{
	*out = *canon;
	out->flag_name = mf_share_at(base, (uintptr_t) canon->flag_name);
	out->model_name = mf_share_at(base, (uintptr_t) canon->model_name);
	out->params = mf_share_at(base, (uintptr_t) canon->params);
}

/* MfSharedEqualFn: whether copy reads as the canonical form says (under the lock). */
static bool
mf_share_equal(void *arg, const char *copy)
{
	const MfShareContent *sc = arg;
	const uintptr_t *names = (const uintptr_t *) (sc->canon + sc->off_names);
	const char *const *copy_names = (const char *const *) (copy + sc->off_names);
	const MfCacheRoute *routes = (const MfCacheRoute *) (sc->canon + sc->off_routes);
	const MfCacheRoute *copy_routes = (const MfCacheRoute *) (copy + sc->off_routes);

	if (memcmp(copy, sc->canon, sc->off_names) != 0)
		return false;
	for (int i = 0; i < sc->nflags; i++)
		if (copy_names[i] != mf_share_at(copy, names[i]))
			return false;
	for (int i = 0; i < sc->nroutes; i++)
	{
		MfCacheRoute r;

		mf_share_route_at(&routes[i], copy, &r);
		if (memcmp(&r, &copy_routes[i], sizeof(MfCacheRoute)) != 0)
			return false;
	}
	return memcmp(copy + sc->off_flag_map, sc->canon + sc->off_flag_map,
				  sc->total - sc->off_flag_map) == 0;
}

/* MfSharedWriteFn: the canonical form, its pointers made to point into dst. */
static void
mf_share_write(void *arg, char *dst)
{
	const MfShareContent *sc = arg;
	uintptr_t  *names = (uintptr_t *) (dst + sc->off_names);
	MfCacheRoute *routes = (MfCacheRoute *) (dst + sc->off_routes);

	memcpy(dst, sc->canon, sc->total);
	for (int i = 0; i < sc->nflags; i++)
		names[i] = (uintptr_t) mf_share_at(dst, names[i]);
	for (int i = 0; i < sc->nroutes; i++)
		mf_share_route_at((const MfCacheRoute *) (sc->canon + sc->off_routes) + i, dst, &routes[i]);
}

/*
 * The state's context's ident (pg_backend_memory_contexts.ident): what it
 * shares, and what deltas have since made its own.  The buffer of
 * MF_SHARE_IDENT bytes was allocated by mf_cache_share.
 */
static void
mf_share_ident(MfCache *c)
{
	static const struct
	{
		int			part;
		const char *name;
	}			parts_named[] = {
		{MF_PART_FLAG_NAMES, "flag names"}, {MF_PART_ROUTES, "routes"},
		{MF_PART_FLAG_MAP, "flag map"}, {MF_PART_FEATURE_MAP, "feature map"}
	};
	char	   *ident = (char *) c->cxt->ident;
	const char *sep = "; own: ";
	size_t		len;

	snprintf(ident, MF_SHARE_IDENT, "shares %lld bytes: entry %d, references %u",
			 (long long) c->shared_bytes, (int) c->shared_entry, c->shared_refs);
	for (int i = 0; i < lengthof(parts_named); i++)
		if (!(c->shared_parts & parts_named[i].part))
		{
			len = strlen(ident);
			snprintf(ident + len, MF_SHARE_IDENT - len, "%s%s", sep, parts_named[i].name);
			sep = ", ";
		}
	if (c->flag_over.count > 0)
	{
		len = strlen(ident);
		snprintf(ident + len, MF_SHARE_IDENT - len, "; flags copied: %u", c->flag_over.count);
	}
}

static void
mf_share_release(void *arg)
{
	MfSharedRelease(((MfShareHold *) arg)->entry);
}

/* A pointer into the backend's pool as the same place in the shared copy. */
#define MF_MOVE(sc, base, p) \
	((p) = mf_share_at((base), (uintptr_t) mf_share_offset((sc), (p))))

void
mf_cache_share(MfCache *c)
{
	MemoryContext scratch;
	MemoryContext old;
	MfShareContent sc;
	MfShareHold *hold;
	char	   *ident;
	const char *copy;
	int32		entry;
	uint32		refs = 0;
	uint64		digest;
	Size		data = 0;
	Size		before;
	bool		ok = true;

	if (!mf_share_state || !MfFiltersAvailable() || c->npool_blocks == 0 ||
		c->shared_parts != 0 || c->is_private)
		return;

	scratch = AllocSetContextCreate(CurrentMemoryContext, "modelflags cache share",
									ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(scratch);
	memset(&sc, 0, sizeof(sc));

	/* Data: the pool's blocks in the order they were taken. */
	sc.nblocks = c->npool_blocks;
	sc.sorted = palloc(sizeof(MfShareBlock) * sc.nblocks);
	for (int i = 0; i < sc.nblocks; i++)
	{
		sc.sorted[i].start = c->pool_blocks[i].start;
		sc.sorted[i].used = c->pool_blocks[i].used;
		sc.sorted[i].offset = data;
		data += c->pool_blocks[i].used;
	}
	sc.nflags = c->nflags;
	sc.nroutes = c->nroutes;
	sc.off_names = MAXALIGN(data);
	sc.off_routes = MAXALIGN(sc.off_names + sizeof(text *) * (Size) c->nflags);
	sc.off_flag_map = MAXALIGN(sc.off_routes + sizeof(MfCacheRoute) * (Size) c->nroutes);
	sc.off_feature_map = MAXALIGN(sc.off_flag_map + mf_idxmap_bytes(&c->flag_map));
	sc.off_flags = MAXALIGN(sc.off_feature_map + mf_idxmap_bytes(&c->feature_map));
	sc.total = MAXALIGN(sc.off_flags + sizeof(MfFlag) * (Size) c->nflags);
	/*
	 * Small states are shared too, although a page each barely pays: one
	 * path for every state, which the whole regression suite runs through
	 * on a preloaded server (test/stages/22_regress_preloaded.sh).
	 */
	if (sc.total > (Size) PG_INT32_MAX)
		ok = false;
	else
	{
		uintptr_t  *names;
		MfCacheRoute *routes;

		sc.canon = palloc_extended(sc.total, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
		for (int i = 0; i < sc.nblocks; i++)
			memcpy(sc.canon + sc.sorted[i].offset, sc.sorted[i].start, sc.sorted[i].used);
		if (sc.nblocks > 1)
			qsort(sc.sorted, sc.nblocks, sizeof(MfShareBlock), mf_share_block_cmp);

		/* Pointers as offsets; one outside the pool keeps the state private. */
		names = (uintptr_t *) (sc.canon + sc.off_names);
		for (int i = 0; i < c->nflags && ok; i++)
		{
			int64		off = mf_share_offset(&sc, c->flag_names[i]);

			ok = off >= 0;
			names[i] = (uintptr_t) off;
		}
		routes = (MfCacheRoute *) (sc.canon + sc.off_routes);
		memcpy(routes, c->routes, sizeof(MfCacheRoute) * (Size) c->nroutes);
		for (int i = 0; i < c->nroutes && ok; i++)
		{
			int64		f = mf_share_offset(&sc, routes[i].flag_name);
			int64		m = mf_share_offset(&sc, routes[i].model_name);
			int64		p = mf_share_offset(&sc, routes[i].params);

			ok = f >= 0 && m >= 0 && p >= 0;
			routes[i].flag_name = (text *) (uintptr_t) f;
			routes[i].model_name = (text *) (uintptr_t) m;
			routes[i].params = (Jsonb *) (uintptr_t) p;
		}
		for (int i = 0; i < c->nproviders && ok; i++)
			ok = mf_share_offset(&sc, c->providers[i].name) >= 0;
		for (int i = 0; i < c->nmodels && ok; i++)
			ok = mf_share_offset(&sc, c->models[i].name) >= 0 &&
				mf_share_offset(&sc, c->models[i].provider_name) >= 0 &&
				mf_share_offset(&sc, c->models[i].params) >= 0;
		for (int i = 0; i < c->nfeatures && ok; i++)
			ok = mf_share_offset(&sc, c->features[i].name) >= 0;
		memcpy(sc.canon + sc.off_flag_map, c->flag_map.slots, mf_idxmap_bytes(&c->flag_map));
		memcpy(sc.canon + sc.off_feature_map, c->feature_map.slots, mf_idxmap_bytes(&c->feature_map));
		/* built zeroed, padding included, and has_actor_rows not yet known */
		memcpy(sc.canon + sc.off_flags, c->flags, sizeof(MfFlag) * (Size) c->nflags);
		for (int i = 0; i < c->nflags && ok; i++)
			ok = c->flags[i].has_actor_rows == -1;
	}
	MemoryContextSwitchTo(old);
	if (!ok)
	{
		MemoryContextDelete(scratch);
		return;
	}
	digest = hash_bytes_extended((const unsigned char *) sc.canon, (int) sc.total, sc.total);

	/* What the reference needs, before it is taken. */
	hold = MemoryContextAlloc(c->cxt, sizeof(MfShareHold));
	ident = MemoryContextAlloc(c->cxt, MF_SHARE_IDENT);
	mf_fault("share:before");

	copy = MfSharedFindOrPut(MF_SHARED_STATE, digest, sc.total, mf_share_equal, mf_share_write,
							 &sc, &entry, &refs);
	if (copy == NULL)
	{
		pfree(hold);
		pfree(ident);
		MemoryContextDelete(scratch);
		return;
	}

	/* ---- nothing below can fail ---- */
	hold->entry = entry;
	hold->cb.func = mf_share_release;
	hold->cb.arg = hold;
	MemoryContextRegisterResetCallback(c->cxt, &hold->cb);

	for (int i = 0; i < c->nproviders; i++)
		MF_MOVE(&sc, copy, c->providers[i].name);
	for (int i = 0; i < c->nmodels; i++)
	{
		MF_MOVE(&sc, copy, c->models[i].name);
		MF_MOVE(&sc, copy, c->models[i].provider_name);
		MF_MOVE(&sc, copy, c->models[i].params);
	}
	for (int i = 0; i < c->nfeatures; i++)
		MF_MOVE(&sc, copy, c->features[i].name);

	before = MemoryContextMemAllocated(c->cxt, false);
	pfree(c->flag_names);
	c->flag_names = (text **) (copy + sc.off_names);
	pfree(c->routes);
	c->routes = (MfCacheRoute *) (copy + sc.off_routes);
	c->routes_cap = c->nroutes;
	pfree(c->flag_map.slots);
	c->flag_map.slots = (MfIdxMapSlot *) (copy + sc.off_flag_map);
	pfree(c->feature_map.slots);
	c->feature_map.slots = (MfIdxMapSlot *) (copy + sc.off_feature_map);
	pfree(c->flags);
	c->flags = (MfFlag *) (copy + sc.off_flags);
	mf_cache_point_routes(c);
	for (int i = 0; i < c->npool_blocks; i++)
		pfree(c->pool_blocks[i].start);
	pfree(c->pool_blocks);
	c->pool_blocks = NULL;
	c->npool_blocks = 0;
	mf_note_freed_bytes(before - MemoryContextMemAllocated(c->cxt, false));

	c->shared_parts = MF_PART_FLAG_NAMES | MF_PART_ROUTES | MF_PART_FLAG_MAP | MF_PART_FEATURE_MAP |
		MF_PART_FLAGS;
	c->shared_entry = entry;
	c->shared_bytes = (int64) sc.total;
	c->shared_refs = refs;
	MemoryContextSetIdentifier(c->cxt, ident);
	mf_share_ident(c);
	MemoryContextDelete(scratch);
}

void
mf_cache_own(MfCache *c, int parts)
{
	parts &= c->shared_parts;
	if (parts == 0)
		return;
	mf_fault("share:own");
	if (parts & MF_PART_FLAG_NAMES)
	{
		text	  **names = MemoryContextAllocHuge(c->cxt, sizeof(text *) * (Size) c->flags_cap);

		memcpy(names, c->flag_names, sizeof(text *) * (Size) c->nflags);
		c->flag_names = names;
		c->shared_parts &= ~MF_PART_FLAG_NAMES;
		c->patch_bytes += sizeof(text *) * (Size) c->flags_cap;
	}
	if (parts & MF_PART_ROUTES)
	{
		int			cap = c->nroutes + Max(c->nroutes / 4, 16);
		MfCacheRoute *routes = MemoryContextAllocHuge(c->cxt, sizeof(MfCacheRoute) * (Size) cap);

		memcpy(routes, c->routes, sizeof(MfCacheRoute) * (Size) c->nroutes);
		c->routes = routes;
		c->routes_cap = cap;
		c->shared_parts &= ~MF_PART_ROUTES;
		c->patch_bytes += sizeof(MfCacheRoute) * (Size) cap;
	}
	if (parts & MF_PART_FLAG_MAP)
	{
		mf_idxmap_own(&c->flag_map);	/* the map is unchanged if it fails */
		c->shared_parts &= ~MF_PART_FLAG_MAP;
		c->patch_bytes += mf_idxmap_bytes(&c->flag_map);
	}
	if (parts & MF_PART_FEATURE_MAP)
	{
		mf_idxmap_own(&c->feature_map);
		c->shared_parts &= ~MF_PART_FEATURE_MAP;
		c->patch_bytes += mf_idxmap_bytes(&c->feature_map);
	}
	mf_share_ident(c);
}

/* ---- flags changed since flags[] was shared ---- */

static inline uint32
mf_flag_over_home(int32 idx, uint32 mask)
{
	return ((uint32) idx * 2654435761u) & mask;
}

MfFlag *
mf_flag_over_find(const MfCache *c, int i)
{
	const MfFlagOver *o = &c->flag_over;

	for (uint32 k = mf_flag_over_home(i, o->mask);; k = (k + 1) & o->mask)
	{
		if (o->slots[k].idx == i + 1)
			return o->slots[k].flag;
		if (o->slots[k].idx == 0)
			return &c->flags[i];
	}
}

MfFlag *
mf_cache_flag_mut(MfCache *c, int i)
{
	MfFlag	   *f;

	if (!(c->shared_parts & MF_PART_FLAGS))
		return &c->flags[i];
	if (c->flag_over.count == 0)
		return NULL;
	f = mf_flag_over_find(c, i);
	return f == &c->flags[i] ? NULL : f;
}

/* Room for n more copies, at most 3/4 full (allocates in prepare only). */
static void
mf_flag_over_reserve(MfCache *c, uint32 n)
{
	MfFlagOver *o = &c->flag_over;
	uint32		cap = o->slots ? o->mask + 1 : 0;
	MfFlagOverSlot *slots;
	uint32		mask;

	if (4 * ((uint64) o->count + n) <= 3 * (uint64) cap)
		return;
	cap = Max(cap, 16);
	while (4 * ((uint64) o->count + n) > 3 * (uint64) cap)
		cap *= 2;
	slots = MemoryContextAllocZero(c->cxt, sizeof(MfFlagOverSlot) * cap);
	mask = cap - 1;
	for (uint32 k = 0; o->slots && k <= o->mask; k++)
		if (o->slots[k].idx != 0)
		{
			uint32		h = mf_flag_over_home(o->slots[k].idx - 1, mask);

			while (slots[h].idx != 0)
				h = (h + 1) & mask;
			slots[h] = o->slots[k];
		}
	c->patch_bytes += sizeof(MfFlagOverSlot) * cap;
	/* the old table goes with the state (a delta may be reading it) */
	o->slots = slots;
	o->mask = mask;
}

void
mf_cache_own_flags(MfCache *c, const int *idx, int n)
{
	MfFlag	   *copies;
	int			need = 0;
	int			made = 0;

	if (!(c->shared_parts & MF_PART_FLAGS))
		return;
	/*
	 * Only flags without a copy take one: flipping the same flag again
	 * allocates nothing, so flips alone never grow the state.
	 */
	for (int k = 0; k < n; k++)
		if (mf_cache_flag_mut(c, idx[k]) == NULL)
			need++;
	if (need == 0)
		return;
	mf_fault("share:own");
	mf_flag_over_reserve(c, (uint32) need);
	copies = MemoryContextAlloc(c->cxt, sizeof(MfFlag) * need);
	c->patch_bytes += sizeof(MfFlag) * need;
	/* nothing below allocates: the copies answer as the shared flags did */
	for (int k = 0; k < n; k++)
	{
		MfFlagOver *o = &c->flag_over;
		uint32		h;
		MfFlag	   *f;

		if (mf_cache_flag_mut(c, idx[k]) != NULL)
			continue;			/* a copy already */
		f = &copies[made++];
		if (idx[k] < c->nflags)
			*f = c->flags[idx[k]];
		else
		{
			memset(f, 0, sizeof(MfFlag));	/* a flag the delta adds */
			f->enabled = -1;
			f->pct_actors = -1;
			f->pct_time = -1;
			f->has_actor_rows = -1;
		}
		f->idx = idx[k];
		for (h = mf_flag_over_home(idx[k], o->mask); o->slots[h].idx != 0; h = (h + 1) & o->mask)
			;
		o->slots[h].idx = idx[k] + 1;
		o->slots[h].flag = f;
		o->count++;
	}
	/* the core's routes read the copies from now on (equal, so far) */
	if (made > 0)
	{
		mf_cache_point_routes(c);
		mf_share_ident(c);
	}
}

void
mf_cache_point_routes(MfCache *c)
{
	for (int f = 0; f < c->nfeatures; f++)
	{
		MfCacheFeature *feat = &c->features[f];

		for (int j = 0; j < feat->nroutes; j++)
		{
			int			flag = c->routes[feat->first_route + j].flag;

			feat->core_routes[j].flag = flag >= 0 ? MfCacheFlag(c, flag) : NULL;
		}
	}
}
