/*
 * cache.h — the compiled per-backend routing cache (SPEC C, S; issue 3).
 *
 * The read functions never run SQL in steady state: they read an MfCache
 * built from the tables and rebuilt only after a relcache invalidation of one
 * of them (sent by the tables' statement triggers, see triggers.c).
 */
#ifndef MODELFLAGS_CACHE_H
#define MODELFLAGS_CACHE_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "evaluate.h"
#include "strmap.h"

/* Actor gates of one flag, loaded the first time the flag needs them. */
typedef struct MfActorSet
{
	int32		count;			/* flag_actors rows of this flag */
	/* Small sets (count <= MF_SMALL_ACTOR_SET): the exact rows. */
	const char **actors;
	uint32	   *lens;
	bool	   *opt_out;
	/* Large sets: a Bloom filter in front of an index probe. */
	uint64	   *bloom;
	uint32		bloom_mask;		/* bits - 1; bits is a power of two */
} MfActorSet;

#define MF_SMALL_ACTOR_SET 32

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
} MfCacheModel;

typedef struct MfCacheRoute
{
	int32		position;
	int			flag;			/* index into flags, or -1 */
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
	MfActorSet **actor_sets;	/* parallel to flags; NULL until first used */
	MfCacheFeature *features;
	MfCacheRoute *routes;
	MfStrMap	flag_map;		/* flag name -> index */
	MfStrMap	feature_map;	/* feature name -> index */
	Oid			flag_actors_relid;
	Oid			flag_actors_pkey;
	int64		builds;			/* how many times this backend built it */
} MfCache;

/* Registers the invalidation callback; called once from _PG_init. */
extern void MfCacheInit(void);

/* Records that this transaction wrote to the tables (from the trigger). */
extern void MfCacheNoteWrite(void);

/* The current cache, rebuilt first if an invalidation made it stale. */
extern MfCache *MfCacheGet(void);

/* The actor's row for flag (core callback; loads the flag's set lazily). */
extern MfActorGate MfCacheActorGate(MfCache *cache, int flag, const char *actor,
									size_t actor_len);

/* Whether the flag has any flag_actors row (loads the set lazily). */
extern bool MfCacheFlagHasActors(MfCache *cache, int flag);

#endif
