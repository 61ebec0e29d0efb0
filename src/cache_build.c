/*
 * cache_build.c — building one compiled routing state (an MfCache) from the
 * tables, as one snapshot shows them.
 *
 * A state is arrays of providers, models, flags, features and routes with
 * hash maps over the names, every route's params pre-merged (model params ||
 * route params) and every name kept as a ready text datum, so that the read
 * functions run no SQL.  The tables are read with heap scans under the
 * extension's own access, so callers need no table privileges (SPEC P).
 * Columns are found through the catalogue of schema.c, which checks their
 * types first.
 *
 * Failure.  The build allocates only in a context of its own, created as a
 * child of CurrentMemoryContext; nothing outside it is touched until the
 * caller (cache.c) adopts the finished state.  An ERROR at any point (a
 * timeout, a cancel, an out-of-memory) therefore leaves the previous state
 * whole, and the error's cleanup frees the half-built one.
 *
 * Who decides which snapshot, and what happens to the state afterwards, is
 * cache.c's business (see its header).
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/inval.h"
#include "utils/syscache.h"

#include "cache_int.h"
#include "fault.h"
#include "flipper.h"
#include "rollout.h"

/* Allocator for the core's string maps. */
static void *
mf_cxt_alloc(void *arg, size_t size)
{
	return MemoryContextAlloc((MemoryContext) arg, size);
}

/*
 * A varlena datum (text, jsonb) detoasted and copied into cxt, with a 4-byte
 * header, so VARDATA/VARSIZE work on it.
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

/*
 * The OIDs of our relations by name, looked up again only after a catalog
 * change could have changed what a name means: any invalidation of pg_class
 * or pg_namespace by name (CREATE, DROP, RENAME, SET SCHEMA, anywhere in the
 * database) moves mf_names_generation, through a syscache callback.  A
 * refresh after a one-row change then opens the tables without the ten
 * look-ups by name it took before.
 */
Oid			mf_log_oid = InvalidOid;
Oid			mf_log_index_oid = InvalidOid;
static uint64 mf_names_generation = 1;
static uint64 mf_names_looked_up = 0;	/* the generation they were looked up at */

static void
mf_names_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	mf_names_generation++;
}

void
mf_open_tables_init(void)
{
	CacheRegisterSyscacheCallback(RELNAMENSP, mf_names_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACENAME, mf_names_callback, (Datum) 0);
}

static void
mf_look_up_names(void)
{
	uint64		generation = mf_names_generation;
	Oid			nsp = get_namespace_oid("modelflags", true);

	mf_names_looked_up = 0;
	if (!OidIsValid(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"modelflags\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION modelflags.")));
	for (int i = 0; i < MF_NTABLES; i++)
	{
		mf_table_oids[i] = get_relname_relid(mf_table_names[i], nsp);
		if (!OidIsValid(mf_table_oids[i]))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("table \"modelflags.%s\" does not exist", mf_table_names[i]),
					 errhint("Reinstall the extension: DROP EXTENSION modelflags; CREATE EXTENSION modelflags.")));
	}
	mf_signal_oid = get_relname_relid("_cache_signal", nsp);
	mf_signal_actors_oid = get_relname_relid("_cache_signal_actors", nsp);
	mf_log_oid = get_relname_relid("_cache_log", nsp);
	mf_log_index_oid = get_relname_relid("_cache_log_txid_idx", nsp);
	mf_names_looked_up = generation;
}

void
mf_open_tables(Relation *rels)
{
	/*
	 * Taking the locks delivers pending invalidations; the OIDs are known to
	 * the relcache callback first, so none of ours can slip by.  If one of
	 * them says a name may mean another relation now (or a table is gone),
	 * look the names up again and lock those: the loop ends once no such
	 * change arrived while locking (or, under a storm of DDL elsewhere in
	 * the database, after a few rounds with names just looked up, as 1.0
	 * always did).  A table dropped between the look-up and the lock is
	 * "does not exist", as above.
	 */
	for (int attempt = 0;; attempt++)
	{
		bool		fresh = (mf_names_looked_up != mf_names_generation);
		uint64		generation;
		int			opened = 0;

		if (fresh)
			mf_look_up_names();
		generation = mf_names_looked_up;
		for (; opened < MF_NTABLES; opened++)
		{
			rels[opened] = try_table_open(mf_table_oids[opened], AccessShareLock);
			if (rels[opened] == NULL)
				break;
		}
		if (opened == MF_NTABLES && (mf_names_generation == generation || (fresh && attempt >= 8)))
			return;
		for (int j = 0; j < opened; j++)
			table_close(rels[j], AccessShareLock);
		if (opened < MF_NTABLES && fresh)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("table \"modelflags.%s\" does not exist", mf_table_names[opened]),
					 errdetail("It was dropped while modelflags was reading it.")));
		mf_names_looked_up = 0;
	}
}

void
mf_close_tables(Relation *rels)
{
	for (int i = 0; i < MF_NTABLES; i++)
		table_close(rels[i], AccessShareLock);
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
	AttrNumber	col[MF_NCOLUMNS];	/* attribute numbers, by MfColumnId */
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
	/*
	 * The compiled state's names, parameters and small arrays, carved one
	 * after another from blocks of MF_POOL_BLOCK: ten thousand flag names
	 * palloc'd one by one would each pay a chunk header and a power-of-two
	 * rounding (48 bytes for a 20-byte name).
	 */
	char	   *pool;
	size_t		pool_left;
	int			pool_cur;		/* the block pool is carved from */
	int			pool_cap;		/* room in cache->pool_blocks */
	MfIdxMap	provider_map;
	MfIdxMap	model_map;
	uint8	   *flag_flipper;	/* MF_FLIPPER_* per flag, once Flipper flags came */
	int			flipper_n;		/* entries of flag_flipper in use */
} MfBuild;

#define MF_POOL_BLOCK (32 * 1024)

/*
 * A new block of the pool, zeroed (so that padding and the block's tail
 * read the same in every backend: cache_share.c compares them), recorded in
 * the state's list of blocks.
 */
static char *
mf_pool_block(MfBuild *b, size_t size)
{
	MfCache    *c = b->cache;
	char	   *block;

	if (c->npool_blocks >= b->pool_cap)
	{
		int			cap = b->pool_cap ? b->pool_cap * 2 : 16;

		c->pool_blocks = c->pool_blocks
			? repalloc(c->pool_blocks, sizeof(MfPoolBlock) * cap)
			: MemoryContextAlloc(c->cxt, sizeof(MfPoolBlock) * cap);
		b->pool_cap = cap;
	}
	block = MemoryContextAllocExtended(b->cxt, size, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	c->pool_blocks[c->npool_blocks].start = block;
	c->pool_blocks[c->npool_blocks].used = 0;
	return block;
}

/* size bytes, MAXALIGNed, from b's pool in b->cxt (see MfBuild.pool). */
static void *
mf_pool_alloc(MfBuild *b, size_t size)
{
	MfCache    *c = b->cache;
	void	   *p;

	Assert(b->cxt == c->cxt);
	size = MAXALIGN(size);
	if (size > MF_POOL_BLOCK / 8)
	{
		/* a block of its own; the current block stays current */
		p = mf_pool_block(b, size);
		c->pool_blocks[c->npool_blocks++].used = size;
		return p;
	}
	if (size > b->pool_left)
	{
		b->pool = mf_pool_block(b, MF_POOL_BLOCK);
		b->pool_left = MF_POOL_BLOCK;
		b->pool_cur = c->npool_blocks++;
	}
	p = b->pool;
	b->pool += size;
	b->pool_left -= size;
	c->pool_blocks[b->pool_cur].used += size;
	return p;
}

/* A text of len bytes, in b's pool. */
static text *
mf_pool_text(MfBuild *b, const char *bytes, size_t len)
{
	text	   *t = mf_pool_alloc(b, VARHDRSZ + len);

	SET_VARSIZE(t, VARHDRSZ + len);
	memcpy(VARDATA(t), bytes, len);
	return t;
}

/* A varlena datum (text, jsonb) detoasted into b's pool, 4-byte header. */
static void *
mf_pool_varlena(MfBuild *b, Datum d)
{
	struct varlena *v = PG_DETOAST_DATUM_PACKED(d);
	void	   *copy = mf_pool_text(b, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));

	if ((Pointer) v != DatumGetPointer(d))
		pfree(v);
	return copy;
}

/* Column c (an MfColumnId) of the current row, in a row function. */
#define COLV(c) (v[b->col[(c)] - 1])
#define COLNULL(c) (isnull[b->col[(c)] - 1])

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
	p->name = mf_pool_varlena(b, COLV(MF_COL_PROVIDER_NAME));
	p->available = COLNULL(MF_COL_PROVIDER_AVAILABLE) ? false
		: DatumGetBool(COLV(MF_COL_PROVIDER_AVAILABLE));
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
	m->name = mf_pool_varlena(b, COLV(MF_COL_MODEL_NAME));
	provider = COLNULL(MF_COL_MODEL_PROVIDER) ? NULL : DatumGetTextPP(COLV(MF_COL_MODEL_PROVIDER));
	m->provider = MfCacheIndexText(&b->provider_map, provider);
	m->provider_name = provider ? mf_pool_varlena(b, PointerGetDatum(provider)) : NULL;
	m->enabled = COLNULL(MF_COL_MODEL_ENABLED) ? false : DatumGetBool(COLV(MF_COL_MODEL_ENABLED));
	m->params = COLNULL(MF_COL_MODEL_PARAMS) ? NULL : mf_pool_varlena(b, COLV(MF_COL_MODEL_PARAMS));
	m->health = NULL;
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

	name = mf_pool_varlena(b, COLV(MF_COL_FLAG_NAME));
	c->flag_names[c->nflags] = name;
	f = &c->flags[c->nflags];
	memset(f, 0, sizeof(MfFlag));	/* padding too: cache_share.c compares flags */
	f->idx = c->nflags++;
	f->name_crc = mf_rollout_name_crc(VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
	f->enabled = COLNULL(MF_COL_FLAG_ENABLED) ? -1
		: DatumGetBool(COLV(MF_COL_FLAG_ENABLED)) ? 1 : 0;
	f->pct_actors = mf_actors_cutoff(COLV(MF_COL_FLAG_PCT_ACTORS), COLNULL(MF_COL_FLAG_PCT_ACTORS));
	f->pct_time = mf_percentage(COLV(MF_COL_FLAG_PCT_TIME), COLNULL(MF_COL_FLAG_PCT_TIME));
	f->default_enabled = COLNULL(MF_COL_FLAG_DEFAULT) ? false : DatumGetBool(COLV(MF_COL_FLAG_DEFAULT));
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
	f->name = mf_pool_varlena(b, COLV(MF_COL_FEATURE_NAME));
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
	/* feature and position form the primary key: never NULL */
	r->feature = mf_copy_text(b->cxt, COLV(MF_COL_ROUTE_FEATURE));
	r->position = DatumGetInt32(COLV(MF_COL_ROUTE_POSITION));
	r->flag = COLNULL(MF_COL_ROUTE_FLAG) ? NULL : mf_copy_text(b->cxt, COLV(MF_COL_ROUTE_FLAG));
	/* NOT NULL, unless a DBA dropped that: then it names no model */
	r->model = COLNULL(MF_COL_ROUTE_MODEL) ? NULL : mf_copy_text(b->cxt, COLV(MF_COL_ROUTE_MODEL));
	r->params = COLNULL(MF_COL_ROUTE_PARAMS) ? NULL : mf_copy_jsonb(b->cxt, COLV(MF_COL_ROUTE_PARAMS));
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

/*
 * The names the maps index, read from the state's arrays when a look-up
 * needs to compare one (the maps keep only hashes and indexes).
 */
static inline void
mf_key_of_text(const text *t, const char **key, size_t *len)
{
	*key = VARDATA_ANY(t);
	*len = VARSIZE_ANY_EXHDR(t);
}

static void
mf_provider_key(const void *arg, int32 i, const char **key, size_t *len)
{
	mf_key_of_text(((const MfCache *) arg)->providers[i].name, key, len);
}

static void
mf_model_key(const void *arg, int32 i, const char **key, size_t *len)
{
	mf_key_of_text(((const MfCache *) arg)->models[i].name, key, len);
}

static void
mf_flag_key(const void *arg, int32 i, const char **key, size_t *len)
{
	mf_key_of_text(((const MfCache *) arg)->flag_names[i], key, len);
}

static void
mf_feature_key(const void *arg, int32 i, const char **key, size_t *len)
{
	mf_key_of_text(((const MfCache *) arg)->features[i].name, key, len);
}

/* Builds the name map of one of the arrays read so far. */
static void
mf_map_names(MfIdxMap *map, MemoryContext cxt, int n, MfKeyOfFn key_of, MfCache *c)
{
	mf_idxmap_init(map, n, mf_cxt_alloc, cxt, key_of, c);
	for (int i = 0; i < n; i++)
	{
		const char *key;
		size_t		len;

		key_of(c, i, &key, &len);
		mf_idxmap_put(map, key, len, i, false);
	}
}

/* Reads every row of one table into the build, through its row function. */
static void
mf_build_table(MfBuild *b, Relation *rels, MfTableId table, Snapshot snap, MfRowFn row)
{
	mf_schema_attnums(rels[table], table, b->col);
	b->cap = 0;
	b->names_cap = 0;
	mf_scan_table(rels[table], snap, row, b);
}

/*
 * Folds one flag kept by Flipper into the build: an existing modelflags flag
 * of that name takes Flipper's gates (and keeps its default_enabled); a new
 * name becomes a flag.
 */
static void
mf_build_flipper_flag(void *arg, const MfFlipperFlag *ff)
{
	MfBuild    *b = arg;
	MfCache    *c = b->cache;
	size_t		len = strlen(ff->name);
	int			idx = MfCacheIndex(&c->flag_map, ff->name, len);
	MfFlag	   *f;

	if (idx < 0)
	{
		text	   *name;

		MF_GROW(b, c->flags, c->nflags);
		if (b->names_cap < b->cap)
		{
			c->flag_names = c->flag_names
				? repalloc_huge(c->flag_names, sizeof(text *) * b->cap)
				: MemoryContextAllocHuge(b->cxt, sizeof(text *) * b->cap);
			b->names_cap = b->cap;
		}
		name = mf_pool_text(b, ff->name, len);
		idx = c->nflags++;
		c->flag_names[idx] = name;
		f = &c->flags[idx];
		memset(f, 0, sizeof(MfFlag));
		f->idx = idx;
		f->name_crc = mf_rollout_name_crc(VARDATA(name), len);
		f->default_enabled = false;
		mf_idxmap_put(&c->flag_map, VARDATA(name), len, idx, false);
	}
	f = &c->flags[idx];
	f->enabled = ff->enabled;
	f->pct_actors = ff->pct_actors;
	f->pct_time = ff->pct_time;
	f->has_actor_rows = -1;
	if (idx >= b->flipper_n)
	{
		int			n = Max(idx + 1, 2 * b->flipper_n);

		b->flag_flipper = b->flag_flipper
			? repalloc_huge(b->flag_flipper, n)
			: MemoryContextAllocHuge(b->cxt, n);
		memset(b->flag_flipper + b->flipper_n, 0, n - b->flipper_n);
		b->flipper_n = n;
	}
	b->flag_flipper[idx] = MF_FLIPPER_OWNED | ff->unsupported;
}

/* The flags of the attached Flipper tables, if any (flipper.c). */
static void
mf_build_flipper(MfBuild *b, Snapshot snap)
{
	MfFlipperSource src;
	MfCache    *c = b->cache;

	if (!mf_flipper_source(snap, &src))
		return;
	mf_flipper_open(&src);
	c->flipper_features = src.features;
	c->flipper_gates = src.gates;
	/* the flag map is in scratch: puts may grow it there */
	mf_flipper_read_all(&src, snap, mf_build_flipper_flag, b);
	mf_flipper_close(&src);
	mf_fault("build:flipper");
}

/*
 * Room for a copy of snap's visibility data: the state's own arrays when
 * they are large enough, else new ones in cxt with room to spare.  So a
 * delta that changes nothing else allocates nothing (cache_delta.c).
 */
void
mf_snapshot_room(const MfCache *c, Snapshot snap, MemoryContext cxt, MfSnapshotRoom *room)
{
	room->xip = NULL;
	room->subxip = NULL;
	room->xip_cap = c->snapshot_xip_cap;
	room->subxip_cap = c->snapshot_subxip_cap;
	if (snap->xcnt > c->snapshot_xip_cap || c->snapshot.xip == NULL)
	{
		room->xip_cap = Max(snap->xcnt * 2, 16);
		room->xip = MemoryContextAlloc(cxt, sizeof(TransactionId) * room->xip_cap);
	}
	if (snap->subxcnt > c->snapshot_subxip_cap || c->snapshot.subxip == NULL)
	{
		room->subxip_cap = Max(snap->subxcnt * 2, 16);
		room->subxip = MemoryContextAlloc(cxt, sizeof(TransactionId) * room->subxip_cap);
	}
}

/*
 * Makes the state's snapshot a copy of snap, in the room made for it: no
 * allocation, nothing that can fail.  Returns the bytes of the arrays it
 * stopped using.
 */
int64
mf_snapshot_store(MfCache *c, Snapshot snap, const MfSnapshotRoom *room)
{
	int64		dropped = 0;
	TransactionId *xip = c->snapshot.xip;
	TransactionId *subxip = c->snapshot.subxip;

	if (room->xip != NULL)
	{
		if (xip != NULL)
			dropped += sizeof(TransactionId) * c->snapshot_xip_cap;
		xip = room->xip;
		c->snapshot_xip_cap = room->xip_cap;
	}
	if (room->subxip != NULL)
	{
		if (subxip != NULL)
			dropped += sizeof(TransactionId) * c->snapshot_subxip_cap;
		subxip = room->subxip;
		c->snapshot_subxip_cap = room->subxip_cap;
	}
	c->snapshot = *snap;
	c->snapshot.xip = xip;
	memcpy(xip, snap->xip, sizeof(TransactionId) * snap->xcnt);
	c->snapshot.subxip = subxip;
	if (snap->subxcnt > 0)
		memcpy(subxip, snap->subxip, sizeof(TransactionId) * snap->subxcnt);
	c->snapshot.copied = true;
	c->snapshot.active_count = 0;
	c->snapshot.regd_count = 0;
	c->snapshot.ph_node.first_child = NULL;
	c->snapshot.ph_node.next_sibling = NULL;
	c->snapshot.ph_node.prev_or_parent = NULL;
	return dropped;
}

MfCache *
mf_cache_build(Relation *rels, Snapshot snap, MfActorSets *sets)
{
	MemoryContext cxt;
	MemoryContext scratch;
	MfBuild		b;
	MfCache    *c;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "modelflags routing cache",
								ALLOCSET_DEFAULT_MINSIZE, ALLOCSET_DEFAULT_INITSIZE,
								MF_MAX_BLOCK);
	scratch = AllocSetContextCreate(cxt, "modelflags cache build", ALLOCSET_DEFAULT_SIZES);

	c = MemoryContextAllocZero(cxt, sizeof(MfCache));
	c->cxt = cxt;
	c->sets = sets;
	c->flag_actors_relid = RelationGetRelid(rels[MF_FLAG_ACTORS]);
	c->flag_actors_pkey = RelationGetPrimaryKeyIndex(rels[MF_FLAG_ACTORS]);
	if (!OidIsValid(c->flag_actors_pkey))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"modelflags.flag_actors\" has no primary key"),
				 errhint("Reinstall the extension: DROP EXTENSION modelflags; CREATE EXTENSION modelflags.")));
	{
		MfSnapshotRoom room;

		mf_snapshot_room(c, snap, cxt, &room);
		mf_snapshot_store(c, snap, &room);
	}

	memset(&b, 0, sizeof(b));
	b.cache = c;
	b.cxt = cxt;

	mf_build_table(&b, rels, MF_PROVIDERS, snap, mf_row_provider);
	mf_fault("build:providers");
	mf_map_names(&c->provider_map, cxt, c->nproviders, mf_provider_key, c);
	b.provider_map = c->provider_map;

	mf_build_table(&b, rels, MF_MODELS, snap, mf_row_model);
	mf_fault("build:models");
	mf_map_names(&c->model_map, cxt, c->nmodels, mf_model_key, c);
	b.model_map = c->model_map;

	mf_build_table(&b, rels, MF_FLAGS, snap, mf_row_flag);
	mf_fault("build:flags");

	/*
	 * Give back the doubling's slack (10,000 flags would keep 16,384), but
	 * keep MF_FLAG_SLACK for flags that deltas add: the array never moves.
	 * Flags kept by attached Flipper tables come in here (flipper.c).
	 */
	mf_map_names(&c->flag_map, scratch, c->nflags, mf_flag_key, c);
	mf_build_flipper(&b, snap);
	c->flags_cap = c->nflags + MF_FLAG_SLACK;
	c->flags = c->flags ? repalloc_huge(c->flags, sizeof(MfFlag) * c->flags_cap)
		: MemoryContextAllocHuge(cxt, sizeof(MfFlag) * c->flags_cap);
	c->flag_names = c->flag_names ? repalloc_huge(c->flag_names, sizeof(text *) * c->flags_cap)
		: MemoryContextAllocHuge(cxt, sizeof(text *) * c->flags_cap);
	c->flag_flipper = b.flag_flipper
		? repalloc_huge(b.flag_flipper, sizeof(uint8) * c->flags_cap)
		: MemoryContextAllocZero(cxt, sizeof(uint8) * c->flags_cap);
	/*
	 * The marks grew by doubling and may be longer than flags_cap (cut off
	 * above: past nflags they are all zero); shorter, the rest is zeroed.
	 */
	if (b.flag_flipper && b.flipper_n < c->flags_cap)
		memset(c->flag_flipper + b.flipper_n, 0, c->flags_cap - b.flipper_n);
	mf_map_names(&c->flag_map, cxt, c->nflags, mf_flag_key, c);
	c->actor_sets = MemoryContextAllocZero(cxt, sizeof(int32) * c->flags_cap);

	mf_build_table(&b, rels, MF_FEATURES, snap, mf_row_feature);
	mf_fault("build:features");
	mf_map_names(&c->feature_map, cxt, c->nfeatures, mf_feature_key, c);

	b.cxt = scratch;			/* raw rows are scratch; the compiled ones are not */
	mf_build_table(&b, rels, MF_ROUTES, snap, mf_row_route);
	mf_fault("build:routes");
	b.cxt = cxt;

	/* Group the routes by feature, in position order, and compile them. */
	for (int i = 0; i < b.nraw; i++)
		b.raw[i].feature_idx = MfCacheIndexText(&c->feature_map, b.raw[i].feature);
	if (b.nraw > 1)
		qsort(b.raw, b.nraw, sizeof(struct MfRawRoute), mf_sort_raw_routes);
	c->routes_cap = Max(b.nraw, 1);
	c->routes = MemoryContextAllocZero(cxt, sizeof(MfCacheRoute) * c->routes_cap);
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
		r->flag = raw->flag ? MfCacheIndexText(&c->flag_map, raw->flag) : -1;
		if (raw->flag && r->flag < 0)
			r->flag = -2;		/* names a flag that does not exist */
		r->model = MfCacheIndexText(&b.model_map, raw->model);
		m = r->model >= 0 ? &c->models[r->model] : NULL;
		/* A name found in a map is byte for byte the one kept there: share it. */
		r->flag_name = r->flag >= 0 ? c->flag_names[r->flag]
			: raw->flag ? mf_pool_varlena(&b, PointerGetDatum(raw->flag)) : NULL;
		r->model_name = m ? m->name
			: raw->model ? mf_pool_varlena(&b, PointerGetDatum(raw->model)) : NULL;
		if (m == NULL)
			r->params = NULL;
		else if (raw->params == NULL || JB_ROOT_COUNT(raw->params) == 0 || m->params == NULL)
			r->params = m->params ? m->params :
				(raw->params ? mf_pool_varlena(&b, JsonbPGetDatum(raw->params)) : NULL);
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
			r->params = mf_pool_varlena(&b, merged);
		}
	}

	/*
	 * The core's view of each feature's routes, one array for all (not in
	 * the pool: it points to flags, which stay the backend's own).
	 */
	c->core_routes = MemoryContextAllocZero(cxt, sizeof(MfRoute) * Max(c->nroutes, 1));
	for (int f = 0; f < c->nfeatures; f++)
	{
		MfCacheFeature *feat = &c->features[f];

		feat->core_routes = &c->core_routes[feat->first_route];
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
	mf_fault("build:compile");

	mf_note_freed(scratch);
	MemoryContextDelete(scratch);
	return c;
}

void
mf_cache_reserve_routes(MfCache *c, int n)
{
	Assert(!(c->shared_parts & MF_PART_ROUTES));	/* mf_cache_own first */
	if (n <= c->routes_cap)
		return;
	n = Max(n, c->routes_cap + c->routes_cap / 4);
	c->routes = repalloc_huge(c->routes, sizeof(MfCacheRoute) * n);
	c->routes_cap = n;
}

/*
 * Whether snap shows every transaction old shows.  A transaction old shows
 * is one that had committed when old was taken: it is below old->xmax and
 * not in old's running lists.  snap misses it only if snap lists it as
 * running (snap is older, or imported) or if it lies at or above snap->xmax.
 */
bool
mf_snapshot_covers(Snapshot snap, Snapshot old)
{
	TransactionId limit = old->xmax;

	/* Everything below snap->xmin is settled for snap: the common case. */
	if (TransactionIdFollowsOrEquals(snap->xmin, limit))
		return true;

	/* Transactions in [snap->xmax, old->xmax) that old shows. */
	if (TransactionIdPrecedes(snap->xmax, limit))
	{
		int			n = 0;

		for (TransactionId x = snap->xmax; TransactionIdPrecedes(x, limit);)
		{
			if (++n > 256)
				return false;	/* too many to tell cheaply */
			if (!XidInMVCCSnapshot(x, old) && TransactionIdDidCommit(x))
				return false;
			TransactionIdAdvance(x);
		}
	}

	/* Transactions snap lists as running that old shows as committed. */
	for (uint32 i = 0; i < snap->xcnt; i++)
		if (TransactionIdPrecedes(snap->xip[i], limit) &&
			!XidInMVCCSnapshot(snap->xip[i], old) && TransactionIdDidCommit(snap->xip[i]))
			return false;
	for (int32 i = 0; i < snap->subxcnt; i++)
		if (TransactionIdPrecedes(snap->subxip[i], limit) &&
			!XidInMVCCSnapshot(snap->subxip[i], old) && TransactionIdDidCommit(snap->subxip[i]))
			return false;
	return true;
}
