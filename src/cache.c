/*
 * cache.c — the compiled per-backend routing cache.
 *
 * model_for, is_enabled and explain read an MfCache: arrays of providers,
 * models, flags, features and routes with hash maps over the names, every
 * route's params pre-merged (model params || route params) and every name
 * kept as a ready text datum.  Steady state runs no SQL and takes no lock.
 *
 * Invalidation.  Each configuration table has a statement-level trigger
 * (triggers.c) that queues a relcache invalidation of the table.  Our relcache
 * callback only flips mf_cache_valid to false; the next read rebuilds.  The
 * timing is PostgreSQL's (research/pg-extension-style.md §3):
 *   - the writing backend processes its own invalidation at the end of the
 *     statement (CommandCounterIncrement), so it sees its change from its
 *     next statement on, and again locally if it rolls back;
 *   - other backends receive it after the commit, at their next
 *     AcceptInvalidationMessages(): the start of their next transaction;
 *   - a hot standby replays it from the commit record;
 *   - a backend that fell behind the invalidation queue gets a reset, which
 *     calls us with InvalidOid: we flush everything.
 * DROP EXTENSION drops the tables, which invalidates them too; the rebuild
 * looks the tables up by name again, so CREATE EXTENSION is picked up.
 *
 * One transaction, one answer.  PostgreSQL also delivers invalidations in the
 * middle of a transaction, whenever it takes a lock it did not hold yet.  A
 * transaction that has already answered from the cache keeps using it to its
 * end, so that another session's commit cannot change its answers halfway
 * (under REPEATABLE READ they would disagree with its own SELECTs); the stale
 * cache is rebuilt at the next transaction.  The exception is a transaction
 * that wrote to the tables itself: it must see its own changes from its next
 * statement on, so it rebuilds at once.
 *
 * Building.  mf_cache_valid is set before the build starts, so an
 * invalidation that arrives while we lock and read the tables clears it and
 * we build again.  The tables are read with a fresh snapshot taken after the
 * locks (not the transaction snapshot): an older snapshot could miss a change
 * whose invalidation we had already consumed, and the cache would stay stale.
 * The build goes into a new memory context that replaces the old one only
 * when it is complete; an ERROR leaves the previous state stale, never half
 * built.  The tables are read with heap scans under the extension's own
 * access, so callers need no table privileges (SPEC P).
 *
 * Actor gates at scale.  flag_actors may hold millions of rows, far more
 * than a backend should copy.  A flag's actor rows are loaded the first time
 * an evaluation needs them, by an index range scan: up to
 * MF_SMALL_ACTOR_SET rows are kept exactly; a larger set is kept as a Bloom
 * filter (about 10 bits and 7 hashes per actor, under 1% false positives)
 * and an actor the filter cannot rule out is confirmed by one index probe.
 * Most calls come from actors not in the set, so they cost a few hashes;
 * 1,000,000 actor gates cost about 1.2 MB of filter, and a rebuild never
 * scans flag_actors as a whole.  Actor sets live in their own context, keyed
 * by flag name, and outlive rebuilds: only a change to flag_actors (or a
 * reset) drops them, so an incident responder's flag flip or provider outage
 * costs every backend a rebuild of the small tables, not a reload of
 * millions of actor gates.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/fmgrprotos.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "cache.h"
#include "rollout.h"

enum
{
	T_PROVIDERS, T_MODELS, T_FLAGS, T_FLAG_ACTORS, T_FEATURES, T_ROUTES, T_COUNT
};

static const char *const mf_table_names[T_COUNT] = {
	"providers", "models", "flags", "flag_actors", "features", "routes"
};

/* The columns the build reads, by table; row functions index them 0, 1, ... */
#define MF_MAX_COLS 5
static const char *const mf_columns[T_COUNT][MF_MAX_COLS] = {
	[T_PROVIDERS] = {"name", "available"},
	[T_MODELS] = {"name", "provider", "enabled", "params"},
	[T_FLAGS] = {"name", "enabled", "percentage_of_actors", "percentage_of_time", "default_enabled"},
	[T_FEATURES] = {"name"},
	[T_ROUTES] = {"feature", "position", "flag", "model", "params"},
};

static MfCache *mf_cache = NULL;
static bool mf_cache_valid = false;
static Oid	mf_table_oids[T_COUNT];

/* Actor sets, by flag name; valid until flag_actors changes (see header). */
static MemoryContext mf_actor_cxt = NULL;
static MfStrMap mf_actor_map;
static MfActorSet **mf_actor_list = NULL;
static int	mf_actor_count = 0;
static int	mf_actor_cap = 0;
static bool mf_actors_valid = false;

/* Cache contexts grow in blocks of at most this much, to keep slack small. */
#define MF_MAX_BLOCK (256 * 1024)

/* The transaction that last answered from mf_cache, and the last one that wrote. */
static LocalTransactionId mf_answered_lxid = InvalidLocalTransactionId;
static LocalTransactionId mf_wrote_lxid = InvalidLocalTransactionId;

#if PG_VERSION_NUM >= 170000
#define MF_CURRENT_LXID (MyProc->vxid.lxid)
#else
#define MF_CURRENT_LXID (MyProc->lxid)
#endif

/*
 * Relcache invalidation callback: runs inside AcceptInvalidationMessages, so
 * it only flips the flag (no catalog access, no ERROR).
 */
static void
mf_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid)
	{
		mf_cache_valid = false;
		mf_actors_valid = false;
		return;
	}
	for (int i = 0; i < T_COUNT; i++)
		if (mf_table_oids[i] == relid)
		{
			mf_cache_valid = false;
			if (i == T_FLAG_ACTORS)
				mf_actors_valid = false;
		}
}

void
MfCacheInit(void)
{
	CacheRegisterRelcacheCallback(mf_relcache_callback, (Datum) 0);
}

/* Allocator for the core's string maps. */
static void *
mf_cxt_alloc(void *arg, size_t size)
{
	return MemoryContextAlloc((MemoryContext) arg, size);
}

static AttrNumber
mf_attnum(Relation rel, const char *column)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(rel), column);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of table \"modelflags.%s\" does not exist",
						column, RelationGetRelationName(rel)),
				 errhint("Reinstall the extension: DROP EXTENSION modelflags; CREATE EXTENSION modelflags.")));
	return attnum;
}

/*
 * A varlena datum (text, jsonb) detoasted and copied into the cache context,
 * with a 4-byte header, so VARDATA/VARSIZE work on it.
 */
static void *
mf_copy_varlena(MemoryContext cxt, Datum d)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	struct varlena *copy = PG_DETOAST_DATUM_COPY(d);

	MemoryContextSwitchTo(old);
	return copy;
}

#define mf_copy_text(cxt, d) ((text *) mf_copy_varlena((cxt), (d)))
#define mf_copy_jsonb(cxt, d) ((Jsonb *) mf_copy_varlena((cxt), (d)))

/* percentage_of_actors as Flipper's rollout cutoff (see rollout.h); -1 = NULL. */
static int32
mf_actors_cutoff(Datum d, bool isnull)
{
	if (isnull)
		return -1;
	return mf_rollout_cutoff(DatumGetFloat8(DirectFunctionCall1(numeric_float8, d)));
}

/* percentage_of_time (numeric, at most 3 decimals) as thousandths; -1 = NULL. */
static int32
mf_percentage(Datum d, bool isnull)
{
	Datum		scaled;

	if (isnull)
		return -1;
	scaled = DirectFunctionCall2(numeric_mul, d,
								 NumericGetDatum(int64_to_numeric(MF_PCT_SCALE)));
	return DatumGetInt32(DirectFunctionCall1(numeric_int4, scaled));
}

/* The map index of a name, or -1. */
static int
mf_lookup(const MfStrMap *map, text *name)
{
	int32		v;

	if (name != NULL &&
		mf_strmap_get(map, 0, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name), &v))
		return v;
	return -1;
}

/*
 * Reads every row of rel with snap, calling row() with its values (indexed by
 * attribute number - 1).
 */
typedef void (*MfRowFn) (void *state, Datum *values, bool *isnull);

static void
mf_scan_table(Relation rel, Snapshot snap, MfRowFn row, void *state)
{
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	TableScanDesc scan = table_beginscan(rel, snap, 0, NULL);

	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		slot_getallattrs(slot);
		row(state, slot->tts_values, slot->tts_isnull);
		CHECK_FOR_INTERRUPTS();
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
}

/* Growing arrays of rows read by the scans. */
typedef struct MfBuild
{
	MfCache    *cache;
	MemoryContext cxt;
	AttrNumber	col[MF_MAX_COLS];	/* attribute numbers of mf_columns[table] */
	int			cap;
	int			names_cap;
	/* route rows, before they are grouped by feature */
	int			nraw;
	struct MfRawRoute
	{
		text	   *feature;
		int			feature_idx;	/* resolved once, before sorting */
		int32		position;
		text	   *flag;
		text	   *model;
		Jsonb	   *params;
	}		   *raw;
	MfStrMap	provider_map;
	MfStrMap	model_map;
} MfBuild;

/* Column i of the current table's row, in a row function. */
#define COLV(i) (v[b->col[(i)] - 1])
#define COLNULL(i) (isnull[b->col[(i)] - 1])

#define MF_GROW(b, arr, n) \
	do { \
		if ((n) >= (b)->cap) \
		{ \
			(b)->cap = (b)->cap ? (b)->cap * 2 : 64; \
			(arr) = (arr) ? repalloc_huge((arr), sizeof(*(arr)) * (b)->cap) \
				: MemoryContextAllocHuge((b)->cxt, sizeof(*(arr)) * (b)->cap); \
		} \
	} while (0)

static void
mf_row_provider(void *state, Datum *v, bool *isnull)
{
	MfBuild    *b = state;
	MfCache    *c = b->cache;
	MfCacheProvider *p;

	MF_GROW(b, c->providers, c->nproviders);
	p = &c->providers[c->nproviders++];
	p->name = mf_copy_text(b->cxt, COLV(0));
	p->available = COLNULL(1) ? false : DatumGetBool(COLV(1));
}

static void
mf_row_model(void *state, Datum *v, bool *isnull)
{
	MfBuild    *b = state;
	MfCache    *c = b->cache;
	MfCacheModel *m;
	text	   *provider;

	MF_GROW(b, c->models, c->nmodels);
	m = &c->models[c->nmodels++];
	m->name = mf_copy_text(b->cxt, COLV(0));
	provider = COLNULL(1) ? NULL : DatumGetTextPP(COLV(1));
	m->provider = mf_lookup(&b->provider_map, provider);
	m->provider_name = provider ? mf_copy_text(b->cxt, PointerGetDatum(provider)) : NULL;
	m->enabled = COLNULL(2) ? false : DatumGetBool(COLV(2));
	m->params = COLNULL(3) ? NULL : mf_copy_jsonb(b->cxt, COLV(3));
}

static void
mf_row_flag(void *state, Datum *v, bool *isnull)
{
	MfBuild    *b = state;
	MfCache    *c = b->cache;
	MfFlag	   *f;
	text	   *name;

	MF_GROW(b, c->flags, c->nflags);
	/* flag_names grows alongside flags, to the same capacity */
	if (b->names_cap < b->cap)
	{
		c->flag_names = c->flag_names
			? repalloc_huge(c->flag_names, sizeof(text *) * b->cap)
			: MemoryContextAllocHuge(b->cxt, sizeof(text *) * b->cap);
		b->names_cap = b->cap;
	}

	name = mf_copy_text(b->cxt, COLV(0));
	c->flag_names[c->nflags] = name;
	f = &c->flags[c->nflags++];
	f->name = VARDATA_ANY(name);
	f->name_len = VARSIZE_ANY_EXHDR(name);
	f->enabled = COLNULL(1) ? -1 : DatumGetBool(COLV(1)) ? 1 : 0;
	f->pct_actors = mf_actors_cutoff(COLV(2), COLNULL(2));
	f->pct_time = mf_percentage(COLV(3), COLNULL(3));
	f->default_enabled = COLNULL(4) ? false : DatumGetBool(COLV(4));
	f->has_actor_rows = -1;		/* loaded lazily, see MfCacheFlagHasActors */
}

static void
mf_row_feature(void *state, Datum *v, bool *isnull)
{
	MfBuild    *b = state;
	MfCache    *c = b->cache;
	MfCacheFeature *f;

	MF_GROW(b, c->features, c->nfeatures);
	f = &c->features[c->nfeatures++];
	f->name = mf_copy_text(b->cxt, COLV(0));
	f->first_route = 0;
	f->nroutes = 0;
	f->core_routes = NULL;
}

static void
mf_row_route(void *state, Datum *v, bool *isnull)
{
	MfBuild    *b = state;
	struct MfRawRoute *r;

	MF_GROW(b, b->raw, b->nraw);
	r = &b->raw[b->nraw++];
	r->feature = mf_copy_text(b->cxt, COLV(0));
	r->position = COLNULL(1) ? 0 : DatumGetInt32(COLV(1));
	r->flag = COLNULL(2) ? NULL : mf_copy_text(b->cxt, COLV(2));
	r->model = mf_copy_text(b->cxt, COLV(3));
	r->params = COLNULL(4) ? NULL : mf_copy_jsonb(b->cxt, COLV(4));
}

/* qsort order of raw routes: by feature index, then position. */
static int
mf_sort_raw_routes(const void *a, const void *b)
{
	const struct MfRawRoute *ra = a;
	const struct MfRawRoute *rb = b;

	if (ra->feature_idx != rb->feature_idx)
		return ra->feature_idx < rb->feature_idx ? -1 : 1;
	if (ra->position != rb->position)
		return ra->position < rb->position ? -1 : 1;
	return 0;
}

/* Builds the name maps of the arrays read so far. */
static void
mf_map_names(MfStrMap *map, MemoryContext cxt, int n, text *(*name_of) (MfCache *, int),
			 MfCache *c)
{
	mf_strmap_init(map, n, mf_cxt_alloc, cxt);
	for (int i = 0; i < n; i++)
	{
		text	   *t = name_of(c, i);

		mf_strmap_put(map, 0, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), i);
	}
}

static text *
mf_provider_name(MfCache *c, int i)
{
	return c->providers[i].name;
}

static text *
mf_model_name(MfCache *c, int i)
{
	return c->models[i].name;
}

static text *
mf_flag_name(MfCache *c, int i)
{
	return c->flag_names[i];
}

static text *
mf_feature_name(MfCache *c, int i)
{
	return c->features[i].name;
}

/* Reads every row of one table into the build, through its row function. */
static void
mf_build_table(MfBuild *b, Relation *rels, int table, Snapshot snap, MfRowFn row)
{
	for (int i = 0; i < MF_MAX_COLS; i++)
		b->col[i] = mf_columns[table][i] ? mf_attnum(rels[table], mf_columns[table][i])
			: InvalidAttrNumber;
	b->cap = 0;
	b->names_cap = 0;
	mf_scan_table(rels[table], snap, row, b);
}

/* Reads the tables into a new cache in cxt. */
static MfCache *
mf_cache_build(MemoryContext cxt)
{
	Oid			nsp = get_namespace_oid("modelflags", true);
	Relation	rels[T_COUNT];
	Snapshot	snap;
	MfBuild		b;
	MfCache    *c;
	MemoryContext scratch;

	if (!OidIsValid(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"modelflags\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION modelflags.")));
	for (int i = 0; i < T_COUNT; i++)
	{
		mf_table_oids[i] = get_relname_relid(mf_table_names[i], nsp);
		if (!OidIsValid(mf_table_oids[i]))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("table \"modelflags.%s\" does not exist", mf_table_names[i]),
					 errhint("Reinstall the extension: DROP EXTENSION modelflags; CREATE EXTENSION modelflags.")));
	}

	/* Locks first (they may deliver invalidations), then a fresh snapshot. */
	for (int i = 0; i < T_COUNT; i++)
		rels[i] = table_open(mf_table_oids[i], AccessShareLock);
	snap = RegisterSnapshot(GetLatestSnapshot());

	c = MemoryContextAllocZero(cxt, sizeof(MfCache));
	c->cxt = cxt;
	c->flag_actors_relid = mf_table_oids[T_FLAG_ACTORS];
	c->flag_actors_pkey = RelationGetPrimaryKeyIndex(rels[T_FLAG_ACTORS]);
	if (!OidIsValid(c->flag_actors_pkey))
		elog(ERROR, "modelflags.flag_actors has no primary key");

	memset(&b, 0, sizeof(b));
	b.cache = c;
	b.cxt = cxt;
	scratch = AllocSetContextCreate(CurrentMemoryContext, "modelflags cache build",
									ALLOCSET_DEFAULT_SIZES);

	mf_build_table(&b, rels, T_PROVIDERS, snap, mf_row_provider);
	mf_map_names(&b.provider_map, scratch, c->nproviders, mf_provider_name, c);

	mf_build_table(&b, rels, T_MODELS, snap, mf_row_model);
	mf_map_names(&b.model_map, scratch, c->nmodels, mf_model_name, c);

	mf_build_table(&b, rels, T_FLAGS, snap, mf_row_flag);
	if (c->nflags > 0 && c->nflags < b.cap)
	{
		/* Give back the doubling's slack: 10,000 flags would keep 16,384. */
		c->flags = repalloc_huge(c->flags, sizeof(MfFlag) * c->nflags);
		c->flag_names = repalloc_huge(c->flag_names, sizeof(text *) * c->nflags);
	}
	mf_map_names(&c->flag_map, cxt, c->nflags, mf_flag_name, c);
	c->actor_sets = MemoryContextAllocZero(cxt, sizeof(MfActorSet *) * Max(c->nflags, 1));

	mf_build_table(&b, rels, T_FEATURES, snap, mf_row_feature);
	mf_map_names(&c->feature_map, cxt, c->nfeatures, mf_feature_name, c);

	b.cxt = scratch;			/* raw rows are scratch; the compiled ones are not */
	mf_build_table(&b, rels, T_ROUTES, snap, mf_row_route);
	b.cxt = cxt;

	UnregisterSnapshot(snap);
	for (int i = 0; i < T_COUNT; i++)
		table_close(rels[i], NoLock);

	/* Group the routes by feature, in position order, and compile them. */
	for (int i = 0; i < b.nraw; i++)
		b.raw[i].feature_idx = mf_lookup(&c->feature_map, b.raw[i].feature);
	if (b.nraw > 1)
		qsort(b.raw, b.nraw, sizeof(struct MfRawRoute), mf_sort_raw_routes);
	c->routes = MemoryContextAllocZero(cxt, sizeof(MfCacheRoute) * Max(b.nraw, 1));
	for (int i = 0; i < b.nraw; i++)
	{
		struct MfRawRoute *raw = &b.raw[i];
		int			feature = raw->feature_idx;
		MfCacheRoute *r;
		MfCacheModel *m;

		if (feature < 0)
			continue;			/* dangling (foreign keys disabled): ignore */
		r = &c->routes[c->nroutes];
		if (c->features[feature].nroutes == 0)
			c->features[feature].first_route = c->nroutes;
		c->features[feature].nroutes++;
		c->nroutes++;

		r->position = raw->position;
		r->flag = raw->flag ? mf_lookup(&c->flag_map, raw->flag) : -1;
		if (raw->flag && r->flag < 0)
			r->flag = -2;		/* names a flag that does not exist */
		r->model = mf_lookup(&b.model_map, raw->model);
		m = r->model >= 0 ? &c->models[r->model] : NULL;
		/* A name found in a map is byte for byte the one kept there: share it. */
		r->flag_name = r->flag >= 0 ? c->flag_names[r->flag]
			: raw->flag ? mf_copy_text(cxt, PointerGetDatum(raw->flag)) : NULL;
		r->model_name = m ? m->name : mf_copy_text(cxt, PointerGetDatum(raw->model));
		if (m == NULL)
			r->params = NULL;
		else if (raw->params == NULL || JB_ROOT_COUNT(raw->params) == 0 || m->params == NULL)
			r->params = m->params ? m->params :
				(raw->params ? mf_copy_jsonb(cxt, JsonbPGetDatum(raw->params)) : NULL);
		else
		{
			/*
			 * jsonb_concat leaves its iterators and parse state behind, about
			 * 2 kB per call: run it in scratch and keep only the result.
			 */
			MemoryContext old = MemoryContextSwitchTo(scratch);
			Datum		merged = DirectFunctionCall2(jsonb_concat,
													 JsonbPGetDatum(m->params),
													 JsonbPGetDatum(raw->params));

			MemoryContextSwitchTo(old);
			r->params = mf_copy_jsonb(cxt, merged);
		}
	}

	/* The core's view of each feature's routes. */
	for (int f = 0; f < c->nfeatures; f++)
	{
		MfCacheFeature *feat = &c->features[f];

		feat->core_routes = MemoryContextAllocZero(cxt, sizeof(MfRoute) * Max(feat->nroutes, 1));
		for (int i = 0; i < feat->nroutes; i++)
		{
			MfCacheRoute *r = &c->routes[feat->first_route + i];
			MfRoute    *cr = &feat->core_routes[i];
			MfCacheModel *m = r->model >= 0 ? &c->models[r->model] : NULL;

			cr->flag = r->flag >= 0 ? &c->flags[r->flag] : NULL;
			cr->flag_missing = (r->flag == -2);
			cr->model_enabled = m != NULL && m->enabled;
			cr->provider_available = m != NULL && m->provider >= 0 &&
				c->providers[m->provider].available;
		}
	}

	MemoryContextDelete(scratch);
	return c;
}

/* Drops every actor set (flag_actors changed, or a reset). */
static void
mf_actors_reset(void)
{
	if (mf_actor_cxt == NULL)
		mf_actor_cxt = AllocSetContextCreate(CacheMemoryContext, "modelflags actor sets",
											 ALLOCSET_DEFAULT_MINSIZE, ALLOCSET_DEFAULT_INITSIZE,
											 MF_MAX_BLOCK);
	else
		MemoryContextReset(mf_actor_cxt);
	mf_strmap_init(&mf_actor_map, 64, mf_cxt_alloc, mf_actor_cxt);
	mf_actor_list = NULL;
	mf_actor_count = 0;
	mf_actor_cap = 0;
}

void
MfCacheNoteWrite(void)
{
	mf_wrote_lxid = MF_CURRENT_LXID;
}

MfCache *
MfCacheGet(void)
{
	LocalTransactionId lxid = MF_CURRENT_LXID;

	/* Stale, but this transaction already answered from it: keep it (see header). */
	if (!mf_cache_valid && mf_cache != NULL &&
		mf_answered_lxid == lxid && mf_wrote_lxid != lxid)
		return mf_cache;

	mf_answered_lxid = lxid;
	while (!mf_cache_valid || mf_cache == NULL)
	{
		MemoryContext cxt;
		MfCache    *fresh;

		/* Set first: an invalidation during the build clears it again. */
		if (!mf_actors_valid)
			mf_actors_reset();
		mf_actors_valid = true;
		mf_cache_valid = true;
		cxt = AllocSetContextCreate(CacheMemoryContext, "modelflags routing cache",
									ALLOCSET_DEFAULT_MINSIZE, ALLOCSET_DEFAULT_INITSIZE,
									MF_MAX_BLOCK);
		PG_TRY();
		{
			fresh = mf_cache_build(cxt);
		}
		PG_CATCH();
		{
			mf_cache_valid = false;
			MemoryContextDelete(cxt);
			PG_RE_THROW();
		}
		PG_END_TRY();

		fresh->builds = mf_cache ? mf_cache->builds + 1 : 1;
		if (mf_cache != NULL)
			MemoryContextDelete(mf_cache->cxt);
		mf_cache = fresh;
	}
	return mf_cache;
}

/* Bloom filter hashes of an actor: double hashing from two 32-bit hashes. */
#define MF_BLOOM_HASHES 7

static inline void
mf_bloom_hashes(const char *actor, size_t len, uint32 *h1, uint32 *h2)
{
	*h1 = mf_strmap_hash(0x9e3779b9u, actor, len);
	*h2 = mf_strmap_hash(0x7f4a7c15u, actor, len) | 1;
}

static bool
mf_bloom_maybe(const MfActorSet *set, const char *actor, size_t len)
{
	uint32		h1,
				h2;

	mf_bloom_hashes(actor, len, &h1, &h2);
	for (int i = 0; i < MF_BLOOM_HASHES; i++)
	{
		uint32		bit = (h1 + (uint32) i * h2) & set->bloom_mask;

		if ((set->bloom[bit >> 6] & (UINT64CONST(1) << (bit & 63))) == 0)
			return false;
	}
	return true;
}

/*
 * Scans flag_actors for flag's rows (or, with actor, the one row) by the
 * primary key.  Calls row() for each; returns the number of rows.
 */
typedef void (*MfActorRowFn) (void *state, const char *actor, size_t len, bool opt_out);

static int64
mf_scan_actors(MfCache *c, int flag, const char *actor, size_t actor_len,
			   MfActorRowFn row, void *state)
{
	Relation	rel = table_open(c->flag_actors_relid, AccessShareLock);
	AttrNumber	a_flag = mf_attnum(rel, "flag");
	AttrNumber	a_actor = mf_attnum(rel, "actor");
	AttrNumber	a_opt_out = mf_attnum(rel, "opt_out");

	/*
	 * A whole set is loaded with a fresh snapshot, like the rest of the cache.
	 * A probe for one actor reads with the statement's snapshot, so that it
	 * agrees with what the transaction itself sees in flag_actors.
	 */
	Snapshot	snap = RegisterSnapshot(actor != NULL && ActiveSnapshotSet()
										? GetActiveSnapshot() : GetLatestSnapshot());
	ScanKeyData keys[2];
	int			nkeys = 1;
	text	   *actor_text = NULL;
	SysScanDesc scan;
	HeapTuple	tuple;
	int64		n = 0;

	ScanKeyEntryInitialize(&keys[0], 0, a_flag, BTEqualStrategyNumber, InvalidOid,
						   TupleDescAttr(RelationGetDescr(rel), a_flag - 1)->attcollation,
						   F_TEXTEQ, PointerGetDatum(c->flag_names[flag]));
	if (actor != NULL)
	{
		actor_text = cstring_to_text_with_len(actor, actor_len);
		ScanKeyEntryInitialize(&keys[1], 0, a_actor, BTEqualStrategyNumber, InvalidOid,
							   TupleDescAttr(RelationGetDescr(rel), a_actor - 1)->attcollation,
							   F_TEXTEQ, PointerGetDatum(actor_text));
		nkeys = 2;
	}
	scan = systable_beginscan(rel, c->flag_actors_pkey, true, snap, nkeys, keys);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		a = heap_getattr(tuple, a_actor, RelationGetDescr(rel), &isnull);
		Datum		o = heap_getattr(tuple, a_opt_out, RelationGetDescr(rel), &isnull);
		text	   *t = DatumGetTextPP(a);

		row(state, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), !isnull && DatumGetBool(o));
		if ((Pointer) t != DatumGetPointer(a))
			pfree(t);
		n++;
		CHECK_FOR_INTERRUPTS();
	}
	systable_endscan(scan);
	UnregisterSnapshot(snap);
	table_close(rel, NoLock);
	if (actor_text)
		pfree(actor_text);
	return n;
}

/* Rows of one flag as they are read: exact copies of the first few, hashes of all. */
typedef struct MfActorLoad
{
	MemoryContext cxt;
	int64		n;
	int64		cap;
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
		char	   *copy = MemoryContextAlloc(l->cxt, len + 1);

		memcpy(copy, actor, len);
		copy[len] = '\0';
		l->actors[l->n] = copy;
		l->lens[l->n] = (uint32) len;
		l->opt_out[l->n] = opt_out;
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

/* Loads flag's actor set from flag_actors (see the file header). */
static MfActorSet *
mf_load_actor_set(MfCache *c, int flag)
{
	MfActorSet *set = MemoryContextAllocZero(mf_actor_cxt, sizeof(MfActorSet));
	MemoryContext scratch = AllocSetContextCreate(CurrentMemoryContext,
												  "modelflags actor load",
												  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(scratch);
	MfActorLoad l;

	memset(&l, 0, sizeof(l));
	l.cxt = mf_actor_cxt;
	mf_scan_actors(c, flag, NULL, 0, mf_actor_load_row, &l);
	MemoryContextSwitchTo(old);

	set->count = (int32) Min(l.n, PG_INT32_MAX);
	if (l.n <= MF_SMALL_ACTOR_SET)
	{
		set->actors = MemoryContextAlloc(mf_actor_cxt, sizeof(char *) * Max(l.n, 1));
		set->lens = MemoryContextAlloc(mf_actor_cxt, sizeof(uint32) * Max(l.n, 1));
		set->opt_out = MemoryContextAlloc(mf_actor_cxt, sizeof(bool) * Max(l.n, 1));
		memcpy(set->actors, l.actors, sizeof(char *) * l.n);
		memcpy(set->lens, l.lens, sizeof(uint32) * l.n);
		memcpy(set->opt_out, l.opt_out, sizeof(bool) * l.n);
	}
	else
	{
		uint64		bits = 64;

		/* The small copies are not needed for a large set; give them back. */
		for (int i = 0; i < MF_SMALL_ACTOR_SET; i++)
			pfree((void *) l.actors[i]);
		while (bits < (uint64) l.n * 10)
			bits <<= 1;
		set->bloom_mask = (uint32) (bits - 1);
		set->bloom = MemoryContextAllocHuge(mf_actor_cxt, bits / 8);
		memset(set->bloom, 0, bits / 8);
		for (int64 i = 0; i < l.n; i++)
		{
			uint32		h1 = l.hashes[2 * i];
			uint32		h2 = l.hashes[2 * i + 1];

			for (int k = 0; k < MF_BLOOM_HASHES; k++)
			{
				uint32		bit = (h1 + (uint32) k * h2) & set->bloom_mask;

				set->bloom[bit >> 6] |= UINT64CONST(1) << (bit & 63);
			}
		}
	}
	MemoryContextDelete(scratch);
	return set;
}

/*
 * flag's actor set: from this cache, else from the sets kept across rebuilds
 * (by flag name), else loaded now and kept.
 */
static MfActorSet *
mf_actor_set(MfCache *c, int flag)
{
	MfActorSet *set = c->actor_sets[flag];
	text	   *name = c->flag_names[flag];
	int32		idx;

	if (set != NULL)
		return set;
	if (mf_strmap_get(&mf_actor_map, 0, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name), &idx))
		set = mf_actor_list[idx];
	else
	{
		char	   *key;

		set = mf_load_actor_set(c, flag);
		if (mf_actor_count >= mf_actor_cap)
		{
			mf_actor_cap = mf_actor_cap ? mf_actor_cap * 2 : 64;
			mf_actor_list = mf_actor_list
				? repalloc(mf_actor_list, sizeof(MfActorSet *) * mf_actor_cap)
				: MemoryContextAlloc(mf_actor_cxt, sizeof(MfActorSet *) * mf_actor_cap);
		}
		key = MemoryContextAlloc(mf_actor_cxt, VARSIZE_ANY_EXHDR(name) + 1);
		memcpy(key, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
		key[VARSIZE_ANY_EXHDR(name)] = '\0';
		mf_actor_list[mf_actor_count] = set;
		mf_strmap_put(&mf_actor_map, 0, key, VARSIZE_ANY_EXHDR(name), mf_actor_count);
		mf_actor_count++;
	}
	c->actor_sets[flag] = set;
	c->flags[flag].has_actor_rows = set->count > 0 ? 1 : 0;
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
	*(MfActorGate *) state = opt_out ? MF_ACTOR_OPT_OUT : MF_ACTOR_ENABLED;
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
		for (int i = 0; i < set->count; i++)
			if (set->lens[i] == actor_len && memcmp(set->actors[i], actor, actor_len) == 0)
				return set->opt_out[i] ? MF_ACTOR_OPT_OUT : MF_ACTOR_ENABLED;
		return MF_ACTOR_NONE;
	}
	if (!mf_bloom_maybe(set, actor, actor_len))
		return MF_ACTOR_NONE;
	mf_scan_actors(cache, flag, actor, actor_len, mf_probe_row, &gate);
	return gate;
}

/*
 * cache_info(): this backend's routing cache, for DBAs and tests.  Reports
 * without building: valid is false when the next read will rebuild.
 */
PG_FUNCTION_INFO_V1(modelflags_cache_info);

Datum
modelflags_cache_info(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[7];
	bool		nulls[7] = {false};
	int64		memory = 0;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (mf_cache != NULL)
		memory += MemoryContextMemAllocated(mf_cache->cxt, true);
	if (mf_actor_cxt != NULL)
		memory += MemoryContextMemAllocated(mf_actor_cxt, true);
	values[0] = BoolGetDatum(mf_cache != NULL && mf_cache_valid);
	values[1] = Int64GetDatum(mf_cache ? mf_cache->builds : 0);
	values[2] = Int32GetDatum(mf_cache ? mf_cache->nflags : 0);
	values[3] = Int32GetDatum(mf_cache ? mf_cache->nfeatures : 0);
	values[4] = Int32GetDatum(mf_cache ? mf_cache->nroutes : 0);
	values[5] = Int64GetDatum(mf_actors_valid ? mf_actor_count : 0);
	values[6] = Int64GetDatum(memory);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
