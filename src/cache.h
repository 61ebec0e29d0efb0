/*
 * cache.h — the compiled routing state the read functions answer from
 * (SPEC C, S).
 *
 * The read functions never run SQL in steady state: they read an MfCache,
 * a compiled copy of the tables as one snapshot shows them.  cache.c decides
 * which MfCache answers the current transaction (see its header for the
 * rules); read_api.c only asks for it with MfCacheGet().
 */
#ifndef MODELFLAGS_CACHE_H
#define MODELFLAGS_CACHE_H

#include "postgres.h"

#include "utils/jsonb.h"
#include "utils/snapshot.h"

#include "evaluate.h"
#include "strmap.h"

/* Actor gates of one flag (actor_sets.c). */
typedef struct MfActorSet MfActorSet;

/* The actor sets loaded for one state of flag_actors (actor_sets.c). */
typedef struct MfActorSets MfActorSets;

typedef struct MfCacheProvider
{
	text	   *name;
	bool		available;
} MfCacheProvider;

typedef struct MfCacheModel
{
	text	   *name;
	int			provider;		/* index into providers (-1: missing) */
	text	   *provider_name;	/* as written in the model */
	bool		enabled;
	Jsonb	   *params;
	void	   *health;			/* health.c's handle, made on first use (NULL) */
} MfCacheModel;

typedef struct MfCacheRoute
{
	int32		position;
	int			flag;			/* index into flags, -1 none, -2 missing */
	int			model;			/* index into models (-1: missing, FKs bypassed) */
	text	   *flag_name;		/* as written in the route (NULL: no flag) */
	text	   *model_name;		/* as written in the route */
	Jsonb	   *params;			/* model params || route params, pre-merged */
} MfCacheRoute;

typedef struct MfCacheFeature
{
	text	   *name;
	int			first_route;	/* routes[first_route .. + nroutes), by position */
	int			nroutes;
	MfRoute    *core_routes;	/* the same routes as the core sees them */
} MfCacheFeature;

/* A block of a build's pool of names and params (cache_build.c). */
typedef struct MfPoolBlock
{
	char	   *start;
	Size		used;			/* bytes carved from it, MAXALIGNed */
} MfPoolBlock;

/*
 * Parts of a state that may be read from shared memory instead of the
 * backend's own (cache_share.c): read only, so a delta that would change
 * one first makes it its own (mf_cache_own).
 */
#define MF_PART_FLAG_NAMES	0x01	/* flag_names[] */
#define MF_PART_ROUTES		0x02	/* routes[] */
#define MF_PART_FLAG_MAP	0x04	/* flag_map's slots */
#define MF_PART_FEATURE_MAP 0x08	/* feature_map's slots */
#define MF_PART_FLAGS		0x10	/* flags[] (changed flags: flag_over) */

/*
 * The flags a delta changed (or added) while flags[] is read from shared
 * memory: each a copy of its own, found by its index (cache_share.c).
 */
typedef struct MfFlagOverSlot
{
	int32		idx;			/* the flag's index + 1; 0 an empty slot */
	MfFlag	   *flag;
} MfFlagOverSlot;

typedef struct MfFlagOver
{
	MfFlagOverSlot *slots;
	uint32		mask;
	uint32		count;
} MfFlagOver;

/*
 * One compiled state.  Immutable once built, except for what actor sets
 * fill in lazily (actor_sets[] and flags[].has_actor_rows: single words,
 * written after the set they point to is complete).
 */
typedef struct MfCache
{
	MemoryContext cxt;			/* everything below lives here */
	int			nproviders,
				nmodels,
				nflags,
				nfeatures,
				nroutes;
	MfCacheProvider *providers;
	MfCacheModel *models;
	MfFlag	   *flags;			/* core view of each flag */
	text	  **flag_names;		/* as text datums, for results */
	int32	   *actor_sets;		/* parallel to flags: 0 not known yet, -1 no
								 * actor gates, else 1 + the set's place in
								 * sets (actor_sets.c); 4 bytes, not a
								 * pointer's 8, for 10,000 flags */
	uint8	   *flag_flipper;	/* parallel to flags: MF_FLIPPER_* bits (flipper.h) */
	Oid			flipper_features;	/* the attached Flipper tables, or InvalidOid */
	Oid			flipper_gates;
	MfActorSets *sets;			/* where actor sets are found and loaded */
	MfCacheFeature *features;
	MfCacheRoute *routes;
	MfIdxMap	flag_map;		/* flag name -> index (or gone) */
	MfIdxMap	feature_map;	/* feature name -> index (or gone) */
	MfIdxMap	provider_map;	/* provider name -> index (or gone) */
	MfIdxMap	model_map;		/* model name -> index (or gone) */
	int			flags_cap;		/* room in flags, flag_names, actor_sets: the
								 * flags array never moves (routes point in) */
	int			routes_cap;		/* room in routes */
	MfRoute    *core_routes;	/* the build's core view of every route:
								 * features[].core_routes point in (a delta
								 * gives a feature it recompiles its own) */
	MfPoolBlock *pool_blocks;	/* where the build put names and params */
	int			npool_blocks;	/* (0 once they are read from shared memory) */
	int			shared_parts;	/* MF_PART_* read from shared memory */
	int32		shared_entry;	/* the reference held on them */
	int64		shared_bytes;	/* their size */
	uint32		shared_refs;	/* the copy's references when it was taken */
	MfFlagOver	flag_over;		/* flags changed since flags[] was shared */
	int64		garbage_bytes;	/* replaced by patches, still allocated */
	int64		built_bytes;	/* allocated by the build */
	int64		patch_bytes;	/* allocated by the patches since */
	int64		patches;		/* deltas applied since the build */
	uint32		table_oids_checksum;	/* of the tables it was read from */
	Oid			flag_actors_relid;
	Oid			flag_actors_pkey;
	SnapshotData snapshot;		/* what it was read with (visibility only) */
	int			snapshot_xip_cap;	/* room in snapshot.xip, snapshot.subxip */
	int			snapshot_subxip_cap;
	bool		is_private;		/* built for one transaction's snapshot */
	int64		builds;			/* how many states this backend had built */
} MfCache;

/*
 * The index of a name in one of the state's maps, or -1 when it is not there
 * or is gone: a delta leaves a deleted name in the map, marked gone, so
 * every look-up goes through here rather than reading the map itself.
 */
static inline int
MfCacheIndex(const MfIdxMap *map, const char *name, size_t len)
{
	return mf_idxmap_get(map, name, len);
}

/* The same for a text name; NULL is -1. */
static inline int
MfCacheIndexText(const MfIdxMap *map, const text *name)
{
	return name == NULL ? -1 : MfCacheIndex(map, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
}

/* A flag changed since flags[] was shared: its copy (cache_share.c). */
extern MfFlag *mf_flag_over_find(const MfCache *c, int i);

/*
 * Flag i of the state, as it answers now: the state's flags[] entry, or the
 * copy a delta made of it (see MfFlagOver).
 */
static inline MfFlag *
MfCacheFlag(const MfCache *c, int i)
{
	if (likely(c->flag_over.count == 0))
		return &c->flags[i];
	return mf_flag_over_find(c, i);
}

/* This backend's current local transaction id (storage/proc.h). */
#if PG_VERSION_NUM >= 170000
#define MF_CURRENT_LXID (MyProc->vxid.lxid)
#else
#define MF_CURRENT_LXID (MyProc->lxid)
#endif

/* Registers the invalidation and transaction callbacks; from _PG_init. */
extern void MfCacheInit(void);

/*
 * Records that the current transaction changed rows of a modelflags table
 * (from the invalidation trigger): its reads follow its own changes.
 */
extern void MfCacheNoteWrite(void);

/* The compiled state that answers the current transaction's reads. */
extern MfCache *MfCacheGet(void);

/* The actor's row for flag (core callback; loads the flag's set lazily). */
extern MfActorGate MfCacheActorGate(MfCache *cache, int flag, const char *actor,
									size_t actor_len);

/* Whether the flag has any flag_actors row (loads the set lazily). */
extern bool MfCacheFlagHasActors(MfCache *cache, int flag);

#endif
