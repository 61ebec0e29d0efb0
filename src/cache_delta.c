/*
 * cache_delta.c — bringing a compiled state up to a newer snapshot by what
 * changed in between, not by reading everything again (issue 9).
 *
 * Reading the delta.  Writers log the names they changed in
 * modelflags._cache_log at PRE_COMMIT (change_log.c): one row per table and
 * transaction, committing with the change.  A state read with snapshot B
 * needs, to show what snapshot S shows, exactly the rows S shows whose
 * writer B did not show: an index scan from B's xmin, with S, keeping the
 * rows whose txid B shows as running (or not yet started).  No message is
 * trusted for content: messages only say "look", and the log is complete by
 * MVCC, on a primary, a hot standby (it is replayed) and a logical
 * subscriber (its triggers log the applied changes there).
 *
 * A full build is needed instead (mf_read_delta or mf_cache_patch return
 * false) when the log cannot tell: it is missing (an extension still at
 * 1.0), a table was logged "full" (a bulk change, a TRUNCATE), a prune
 * marker says rows the state needed are gone, or the change is too large to
 * patch cheaply.  A "full" flag_actors only drops every actor set.
 *
 * Patching.  mf_cache_patch works in two phases.  Prepare reads every
 * changed row by its primary key, with S, and builds every new piece (names,
 * flags, merged params, compiled route lists) in a new context, growing the
 * state's arrays and maps as needed; it may fail anywhere (a timeout, an
 * out-of-memory), and then leaves the state as it was (grown arrays hold
 * the same contents).  Apply then writes the new pieces into the state and
 * adopts the context: no allocation, nothing that can fail.  Names that
 * leave (a deleted flag) stay in the maps with the value -1.  Replaced
 * pieces (a feature's old route list) stay in the state's memory as garbage,
 * counted in garbage_bytes, and each patch's context is counted in
 * patch_bytes: cache.c rebuilds in full when the two grow large against what
 * the build allocated, which also bounds the number of contexts.
 *
 * The flags array is never moved (the compiled routes point into it): a
 * build leaves room for MF_FLAG_SLACK more, and adding more than that takes
 * a full build.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/transam.h"
#include "catalog/namespace.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/xid8.h"

#include "cache_int.h"
#include "fault.h"
#include "flipper.h"
#include "rollout.h"

/* Log rows read, and names patched, beyond which a full build is cheaper. */
#define MF_DELTA_MAX_ROWS 2000
#define MF_DELTA_MAX_KEYS 512

/* The txid of xid, a recent transaction id (at or after the oldest running). */
static FullTransactionId
mf_full_xid(TransactionId xid)
{
	FullTransactionId next = ReadNextFullTransactionId();
	uint32		behind = XidFromFullTransactionId(next) - xid;

	return FullTransactionIdFromU64(U64FromFullTransactionId(next) - behind);
}

static void
mf_delta_add(MfDelta *d, MfTableId t, const char *key, size_t len)
{
	int32		ignored;
	char	   *copy;

	if (d->full[t] || mf_strmap_get(&d->seen[t], 0, key, len, &ignored))
		return;
	if (d->total >= MF_DELTA_MAX_KEYS)
	{
		d->all = true;
		d->why = "too many names changed";
		return;
	}
	if (d->nkeys[t] >= d->cap[t])
	{
		d->cap[t] = d->cap[t] ? d->cap[t] * 2 : 16;
		d->keys[t] = d->keys[t] ? repalloc(d->keys[t], sizeof(text *) * d->cap[t])
			: palloc(sizeof(text *) * d->cap[t]);
	}
	copy = pnstrdup(key, len);
	d->keys[t][d->nkeys[t]++] = cstring_to_text_with_len(copy, len);
	mf_strmap_put(&d->seen[t], 0, copy, len, 0);
	d->total++;
}

static void *
mf_palloc_arg(void *arg, size_t size)
{
	return palloc(size);
}

bool
mf_read_delta(Snapshot since, Snapshot snap, MfDelta *d)
{
	Oid			logrelid = mf_log_oid;	/* looked up by mf_open_tables */
	Oid			indexid = mf_log_index_oid;
	Relation	rel;
	Relation	index;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	FullTransactionId from = mf_full_xid(since->xmin);
	int			rows = 0;

	memset(d, 0, sizeof(MfDelta));
	for (int t = 0; t < MF_NTABLES; t++)
		mf_strmap_init(&d->seen[t], 16, mf_palloc_arg, NULL);
	d->why = "no change log (ALTER EXTENSION modelflags UPDATE adds it)";
	if (!OidIsValid(logrelid) || !OidIsValid(indexid))
		return false;
	rel = try_table_open(logrelid, AccessShareLock);
	if (rel == NULL)
		return false;
	index = try_relation_open(indexid, AccessShareLock);
	if (index == NULL)
	{
		table_close(rel, AccessShareLock);
		return false;
	}
	d->why = NULL;

	ScanKeyInit(&key, 1, BTGreaterEqualStrategyNumber, F_XID8GE, FullTransactionIdGetDatum(from));
	scan = systable_beginscan(rel, indexid, true, snap, 1, &key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		TupleDesc	desc = RelationGetDescr(rel);
		bool		isnull;
		FullTransactionId txid = DatumGetFullTransactionId(heap_getattr(tuple, 1, desc, &isnull));
		text	   *tname = DatumGetTextPP(heap_getattr(tuple, 2, desc, &isnull));
		Datum		keys = heap_getattr(tuple, 3, desc, &isnull);
		char	   *name = text_to_cstring(tname);
		int			t;

		CHECK_FOR_INTERRUPTS();
		/* Shown by since: already in the state. */
		if (!XidInMVCCSnapshot(XidFromFullTransactionId(txid), since))
			continue;
		if (++rows > MF_DELTA_MAX_ROWS)
		{
			d->all = true;
			d->why = "too many transactions to catch up with";
			break;
		}
		if (strcmp(name, "*") == 0)
		{
			/* A prune: rows up to keys[0] are gone.  Did since need them? */
			ArrayType  *a = isnull ? NULL : DatumGetArrayTypeP(keys);
			Datum	   *elems;
			int			n;

			if (a != NULL)
				deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, &n);
			if (a == NULL || n < 1 ||
				DatumGetUInt64(DirectFunctionCall1(xid8in, CStringGetDatum(TextDatumGetCString(elems[0])))) >=
				U64FromFullTransactionId(from))
			{
				d->all = true;
				d->why = "the change log was pruned past this state";
			}
			continue;
		}
		for (t = 0; t < MF_NTABLES; t++)
			if (strcmp(name, mf_table_names[t]) == 0)
				break;
		if (t == MF_NTABLES)
		{
			d->all = true;		/* written by a newer version: be safe */
			d->why = "an unknown table in the change log";
			continue;
		}
		if (isnull)
			d->full[t] = true;
		else
		{
			ArrayType  *a = DatumGetArrayTypeP(keys);
			Datum	   *elems;
			bool	   *nulls;
			int			n;

			deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
			for (int i = 0; i < n && !d->all; i++)
				if (!nulls[i])
				{
					text	   *k = DatumGetTextPP(elems[i]);

					mf_delta_add(d, (MfTableId) t, VARDATA_ANY(k), VARSIZE_ANY_EXHDR(k));
				}
		}
	}
	systable_endscan(scan);
	relation_close(index, AccessShareLock);
	table_close(rel, AccessShareLock);
	d->rows = rows;
	return !d->all;
}

/* ------------------------------------------------------------------------
 * Patching
 * ------------------------------------------------------------------------
 */

/* Reads the rows of table whose first key column equals key, with snap. */
typedef void (*MfProbeFn) (void *state, Relation rel, HeapTuple tuple);

static void
mf_probe(Relation rel, const AttrNumber *attnums, MfColumnId keycol, text *key,
		 Snapshot snap, MfProbeFn fn, void *state)
{
	Oid			pkey = RelationGetPrimaryKeyIndex(rel);
	ScanKeyData sk;
	SysScanDesc scan;
	HeapTuple	tuple;

	if (!OidIsValid(pkey))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"modelflags.%s\" has no primary key", RelationGetRelationName(rel))));
	ScanKeyEntryInitialize(&sk, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   TupleDescAttr(RelationGetDescr(rel), attnums[keycol] - 1)->attcollation,
						   F_TEXTEQ, PointerGetDatum(key));
	scan = systable_beginscan(rel, pkey, true, snap, 1, &sk);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
		fn(state, rel, tuple);
	systable_endscan(scan);
}

/* One row read by mf_probe, as values indexed by MfColumnId. */
typedef struct MfRow
{
	bool		found;
	Datum		v[MF_NCOLUMNS];
	bool		isnull[MF_NCOLUMNS];
} MfRow;

typedef struct MfRowCollect
{
	const AttrNumber *attnums;
	MfTableId	table;
	MemoryContext cxt;			/* where copies go */
	int			n;
	int			cap;
	MfRow	   *rows;
} MfRowCollect;

static void
mf_collect_row(void *state, Relation rel, HeapTuple tuple)
{
	MfRowCollect *rc = state;
	MemoryContext old = MemoryContextSwitchTo(rc->cxt);
	MfRow	   *r;

	if (rc->n >= rc->cap)
	{
		rc->cap = rc->cap ? rc->cap * 2 : 4;
		rc->rows = rc->rows ? repalloc(rc->rows, sizeof(MfRow) * rc->cap)
			: palloc(sizeof(MfRow) * rc->cap);
	}
	r = &rc->rows[rc->n++];
	memset(r, 0, sizeof(MfRow));
	r->found = true;
	for (int c = 0; c < MF_NCOLUMNS; c++)
	{
		Form_pg_attribute att;

		if (mf_columns[c].table != rc->table)
			continue;
		att = TupleDescAttr(RelationGetDescr(rel), rc->attnums[c] - 1);
		r->v[c] = heap_getattr(tuple, rc->attnums[c], RelationGetDescr(rel), &r->isnull[c]);
		if (!r->isnull[c] && !att->attbyval)
			r->v[c] = PointerGetDatum(PG_DETOAST_DATUM_COPY(r->v[c]));
	}
	MemoryContextSwitchTo(old);
}

/* The one row of table named key (found = false if there is none). */
static MfRow
mf_read_row(Relation rel, MfTableId table, MfColumnId keycol, text *key, Snapshot snap,
			MemoryContext cxt)
{
	AttrNumber	attnums[MF_NCOLUMNS];
	MfRowCollect rc;
	MfRow		none;

	mf_schema_attnums(rel, table, attnums);
	memset(&rc, 0, sizeof(rc));
	rc.attnums = attnums;
	rc.table = table;
	rc.cxt = cxt;
	mf_probe(rel, attnums, keycol, key, snap, mf_collect_row, &rc);
	if (rc.n > 0)
		return rc.rows[0];
	memset(&none, 0, sizeof(none));
	return none;
}

/* percentage_of_actors as Flipper's rollout cutoff; -1 = NULL. */
static int32
mf_cutoff_of(const MfRow *r)
{
	if (r->isnull[MF_COL_FLAG_PCT_ACTORS])
		return -1;
	return mf_rollout_cutoff(DatumGetFloat8(DirectFunctionCall1(numeric_float8,
																r->v[MF_COL_FLAG_PCT_ACTORS])));
}

static int32
mf_time_of(const MfRow *r)
{
	if (r->isnull[MF_COL_FLAG_PCT_TIME])
		return -1;
	return DatumGetInt32(DirectFunctionCall1(numeric_int4,
											 DirectFunctionCall2(numeric_mul, r->v[MF_COL_FLAG_PCT_TIME],
																 NumericGetDatum(int64_to_numeric(MF_PCT_SCALE)))));
}

static text *
mf_text_copy(MemoryContext cxt, Datum d)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	text	   *t = (text *) PG_DETOAST_DATUM_COPY(d);

	MemoryContextSwitchTo(old);
	return t;
}

/* An array of the state resized to size (a state with no row has none yet). */
static void *
mf_grow(MfCache *c, void *array, Size size)
{
	return array ? repalloc_huge(array, size) : MemoryContextAllocHuge(c->cxt, size);
}

/* The prepared change of one name of one table. */
typedef struct MfChange
{
	int			idx;			/* existing index, or -1 */
	bool		gone;			/* the row is no more */
	MfRow		row;
	text	   *name;			/* for a new entry: its name, in pcxt */
	Jsonb	   *params;			/* models: new params, in pcxt */
	text	   *provider_name;	/* models: in pcxt */
	bool		flipper;		/* flags: kept by the attached Flipper tables */
	MfFlipperFlag ff;			/* flags: Flipper's gates */
} MfChange;

/* Marks the features whose routes name text `name` in column kind (flag or model). */
static void
mf_mark_features_naming(MfCache *c, bool *recompile, text *name, bool flag)
{
	for (int f = 0; f < c->nfeatures; f++)
	{
		MfCacheFeature *feat = &c->features[f];

		for (int i = 0; i < feat->nroutes; i++)
		{
			MfCacheRoute *r = &c->routes[feat->first_route + i];
			text	   *n = flag ? r->flag_name : r->model_name;

			if (n != NULL && VARSIZE_ANY_EXHDR(n) == VARSIZE_ANY_EXHDR(name) &&
				memcmp(VARDATA_ANY(n), VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name)) == 0)
			{
				recompile[f] = true;
				break;
			}
		}
	}
}

/* A feature's routes compiled anew: the MfCacheRoute entries and the core's view. */
typedef struct MfNewRoutes
{
	int			feature;		/* index (new features: their new index) */
	int			n;
	MfCacheRoute *routes;		/* in pcxt, copied into c->routes at apply */
	MfRoute    *core;			/* in pcxt */
} MfNewRoutes;

static int
mf_sort_rows_by_position(const void *a, const void *b)
{
	int32		pa = DatumGetInt32(((const MfRow *) a)->v[MF_COL_ROUTE_POSITION]);
	int32		pb = DatumGetInt32(((const MfRow *) b)->v[MF_COL_ROUTE_POSITION]);

	return pa < pb ? -1 : pa > pb ? 1 : 0;
}

bool
mf_cache_patch(MfCache *c, Relation *rels, MfDelta *d, Snapshot snap)
{
	MemoryContext pcxt;
	MemoryContext scratch;
	MemoryContext old;
	MfChange   *ch[MF_NTABLES];
	int			nnew[MF_NTABLES] = {0};
	bool	   *recompile;
	int			nrecompile = 0;
	MfNewRoutes *nr;
	int			new_routes = 0;
	int			nfeatures_after;
	MfSnapshotRoom snaproom;
	bool		availability_changed = false;
	MfFlipperSource fsrc;
	const MfColumnId *keycol = mf_log_key_column;

	for (int t = 0; t < MF_NTABLES; t++)
		if (d->full[t] && t != MF_FLAG_ACTORS)
		{
			d->why = psprintf("a bulk change to %s", mf_table_names[t]);
			return false;
		}

	/* ---- prepare: may fail; touches nothing the state's readers see ---- */
	pcxt = AllocSetContextCreate(CurrentMemoryContext, "modelflags cache patch",
								 ALLOCSET_SMALL_SIZES);
	scratch = AllocSetContextCreate(CurrentMemoryContext, "modelflags patch scratch",
									ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(scratch);

	if (OidIsValid(c->flipper_features))
	{
		memset(&fsrc, 0, sizeof(fsrc));
		fsrc.features = c->flipper_features;
		fsrc.gates = c->flipper_gates;
		mf_flipper_open(&fsrc);
	}
	for (int t = 0; t < MF_NTABLES; t++)
	{
		ch[t] = palloc0(sizeof(MfChange) * Max(d->nkeys[t], 1));
		if (t == MF_FLAG_ACTORS || t == MF_ROUTES)
			continue;			/* by flag / by feature: below */
		for (int k = 0; k < d->nkeys[t]; k++)
		{
			MfChange   *x = &ch[t][k];
			const MfIdxMap *map = t == MF_PROVIDERS ? &c->provider_map : t == MF_MODELS ? &c->model_map
				: t == MF_FLAGS ? &c->flag_map : &c->feature_map;

			x->idx = MfCacheIndexText(map, d->keys[t][k]);
			x->row = mf_read_row(rels[t], (MfTableId) t, keycol[t], d->keys[t][k], snap, scratch);
			x->gone = !x->row.found;
			if (t == MF_FLAGS && OidIsValid(c->flipper_features))
			{
				char	   *name = text_to_cstring(d->keys[t][k]);

				x->flipper = mf_flipper_read_one(&fsrc, name, snap, &x->ff);
				if (x->flipper)
					x->gone = false;
			}
			if (x->idx < 0 && x->gone)
				continue;		/* came and went: nothing to do */
			if (x->idx < 0)
			{
				x->name = mf_text_copy(pcxt, PointerGetDatum(d->keys[t][k]));
				nnew[t]++;
			}
			if (t == MF_MODELS && !x->gone)
			{
				x->params = x->row.isnull[MF_COL_MODEL_PARAMS] ? NULL
					: (Jsonb *) mf_text_copy(pcxt, x->row.v[MF_COL_MODEL_PARAMS]);
				x->provider_name = x->row.isnull[MF_COL_MODEL_PROVIDER] ? NULL
					: mf_text_copy(pcxt, x->row.v[MF_COL_MODEL_PROVIDER]);
			}
		}
	}
	if (OidIsValid(c->flipper_features))
		mf_flipper_close(&fsrc);
	mf_fault("patch:read");

	/* Room for new entries; the flags array must not move. */
	if (c->nflags + nnew[MF_FLAGS] > c->flags_cap)
	{
		d->why = "more new flags than the state has room for";
		MemoryContextSwitchTo(old);
		MemoryContextDelete(pcxt);
		MemoryContextDelete(scratch);
		return false;
	}
	/*
	 * Parts read from shared memory that this delta changes become the
	 * state's own first (cache_share.c): the name maps when names come or
	 * go, the flag names when flags come.
	 */
	{
		int			own = 0;

		for (int k = 0; k < d->nkeys[MF_FLAGS]; k++)
			if (ch[MF_FLAGS][k].idx >= 0 && ch[MF_FLAGS][k].gone)
				own |= MF_PART_FLAG_MAP;
		for (int k = 0; k < d->nkeys[MF_FEATURES]; k++)
			if ((ch[MF_FEATURES][k].idx >= 0) == ch[MF_FEATURES][k].gone)
				own |= MF_PART_FEATURE_MAP;
		if (nnew[MF_FLAGS] > 0)
			own |= MF_PART_FLAG_MAP | MF_PART_FLAG_NAMES;
		if (nnew[MF_FEATURES] > 0)
			own |= MF_PART_FEATURE_MAP;
		mf_cache_own(c, own);
	}
	/* The flags it writes, existing and new, in a copy of their own. */
	if (d->nkeys[MF_FLAGS] > 0)
	{
		int		   *idx = palloc(sizeof(int) * d->nkeys[MF_FLAGS]);
		int			n = 0;

		for (int k = 0, m = 0; k < d->nkeys[MF_FLAGS]; k++)
		{
			MfChange   *x = &ch[MF_FLAGS][k];

			if (x->idx >= 0)
				idx[n++] = x->idx;
			else if (!x->gone)
				idx[n++] = c->nflags + m++;
		}
		mf_cache_own_flags(c, idx, n);
	}
	if (nnew[MF_PROVIDERS] > 0)
	{
		c->providers = mf_grow(c, c->providers, sizeof(MfCacheProvider) * (c->nproviders + nnew[MF_PROVIDERS]));
		mf_idxmap_reserve(&c->provider_map, c->nproviders + nnew[MF_PROVIDERS]);
	}
	if (nnew[MF_MODELS] > 0)
	{
		c->models = mf_grow(c, c->models, sizeof(MfCacheModel) * (c->nmodels + nnew[MF_MODELS]));
		mf_idxmap_reserve(&c->model_map, c->nmodels + nnew[MF_MODELS]);
	}
	if (nnew[MF_FLAGS] > 0)
		mf_idxmap_reserve(&c->flag_map, c->nflags + nnew[MF_FLAGS]);
	if (nnew[MF_FEATURES] > 0)
	{
		c->features = mf_grow(c, c->features, sizeof(MfCacheFeature) * (c->nfeatures + nnew[MF_FEATURES]));
		mf_idxmap_reserve(&c->feature_map, c->nfeatures + nnew[MF_FEATURES]);
	}

	/*
	 * Which features to compile anew: those whose routes changed, new ones,
	 * and those whose routes name a model that changed, or a flag that came
	 * or went.  New features get the indexes after the existing ones, in
	 * delta order.
	 */
	nfeatures_after = c->nfeatures + nnew[MF_FEATURES];
	recompile = palloc0(sizeof(bool) * Max(nfeatures_after, 1));
	for (int k = 0, n = 0; k < d->nkeys[MF_FEATURES]; k++)
	{
		MfChange   *x = &ch[MF_FEATURES][k];

		if (x->idx < 0 && !x->gone)
			recompile[c->nfeatures + n++] = true;
	}
	for (int k = 0; k < d->nkeys[MF_ROUTES]; k++)
	{
		int			f = MfCacheIndexText(&c->feature_map, d->keys[MF_ROUTES][k]);

		if (f >= 0)
			recompile[f] = true;
		else
		{
			/* a feature new in this delta */
			for (int j = 0, n = 0; j < d->nkeys[MF_FEATURES]; j++)
			{
				MfChange   *x = &ch[MF_FEATURES][j];

				if (x->idx < 0 && !x->gone)
				{
					if (VARSIZE_ANY_EXHDR(x->name) == VARSIZE_ANY_EXHDR(d->keys[MF_ROUTES][k]) &&
						memcmp(VARDATA_ANY(x->name), VARDATA_ANY(d->keys[MF_ROUTES][k]),
							   VARSIZE_ANY_EXHDR(x->name)) == 0)
						recompile[c->nfeatures + n] = true;
					n++;
				}
			}
		}
	}
	for (int k = 0; k < d->nkeys[MF_MODELS]; k++)
		mf_mark_features_naming(c, recompile, d->keys[MF_MODELS][k], false);
	for (int k = 0; k < d->nkeys[MF_FLAGS]; k++)
		if (ch[MF_FLAGS][k].idx < 0 || ch[MF_FLAGS][k].gone)
			mf_mark_features_naming(c, recompile, d->keys[MF_FLAGS][k], true);
	for (int f = 0; f < nfeatures_after; f++)
		if (recompile[f])
			nrecompile++;

	/*
	 * Compile them: each one's routes read by the feature prefix of the
	 * primary key, resolved against the state as it will be after apply
	 * (new flags and models included, gone ones missing).
	 */
	nr = palloc0(sizeof(MfNewRoutes) * Max(nrecompile, 1));
	{
		AttrNumber	attnums[MF_NCOLUMNS];
		int			i = 0;

		mf_schema_attnums(rels[MF_ROUTES], MF_ROUTES, attnums);
		for (int f = 0; f < nfeatures_after; f++)
		{
			text	   *fname;
			MfRowCollect rc;
			MfNewRoutes *n;

			if (!recompile[f])
				continue;
			if (f < c->nfeatures)
				fname = c->features[f].name;
			else
			{
				int			want = f - c->nfeatures;

				fname = NULL;
				for (int j = 0, m = 0; j < d->nkeys[MF_FEATURES]; j++)
					if (ch[MF_FEATURES][j].idx < 0 && !ch[MF_FEATURES][j].gone && m++ == want)
						fname = ch[MF_FEATURES][j].name;
			}
			memset(&rc, 0, sizeof(rc));
			rc.attnums = attnums;
			rc.table = MF_ROUTES;
			rc.cxt = scratch;
			mf_probe(rels[MF_ROUTES], attnums, MF_COL_ROUTE_FEATURE, fname, snap, mf_collect_row, &rc);
			if (rc.n > 1)
				qsort(rc.rows, rc.n, sizeof(MfRow), mf_sort_rows_by_position);

			n = &nr[i++];
			n->feature = f;
			n->n = rc.n;
			n->routes = MemoryContextAllocZero(pcxt, sizeof(MfCacheRoute) * Max(rc.n, 1));
			n->core = MemoryContextAllocZero(pcxt, sizeof(MfRoute) * Max(rc.n, 1));
			new_routes += rc.n;
			for (int j = 0; j < rc.n; j++)
			{
				MfRow	   *row = &rc.rows[j];
				MfCacheRoute *r = &n->routes[j];
				text	   *flagname = row->isnull[MF_COL_ROUTE_FLAG] ? NULL
					: DatumGetTextPP(row->v[MF_COL_ROUTE_FLAG]);
				text	   *modelname = row->isnull[MF_COL_ROUTE_MODEL] ? NULL
					: DatumGetTextPP(row->v[MF_COL_ROUTE_MODEL]);
				Jsonb	   *rparams = row->isnull[MF_COL_ROUTE_PARAMS] ? NULL
					: (Jsonb *) PG_DETOAST_DATUM(row->v[MF_COL_ROUTE_PARAMS]);
				int			fi = -1;
				int			mi = -1;
				bool		model_enabled = false;
				int			provider = -1;
				Jsonb	   *mparams = NULL;

				r->position = DatumGetInt32(row->v[MF_COL_ROUTE_POSITION]);

				/* The flag: an existing one unless it goes, or a new one. */
				if (flagname != NULL)
				{
					fi = MfCacheIndexText(&c->flag_map, flagname);
					for (int k = 0, m = 0; k < d->nkeys[MF_FLAGS]; k++)
					{
						MfChange   *x = &ch[MF_FLAGS][k];

						if (x->idx >= 0 && x->idx == fi && x->gone)
							fi = -1;
						if (x->idx < 0 && !x->gone)
						{
							if (VARSIZE_ANY_EXHDR(x->name) == VARSIZE_ANY_EXHDR(flagname) &&
								memcmp(VARDATA_ANY(x->name), VARDATA_ANY(flagname),
									   VARSIZE_ANY_EXHDR(flagname)) == 0)
								fi = c->nflags + m;
							m++;
						}
					}
				}
				r->flag = flagname == NULL ? -1 : fi >= 0 ? fi : -2;

				/* The model, as it will be. */
				mi = MfCacheIndexText(&c->model_map, modelname);
				if (mi >= 0)
				{
					model_enabled = c->models[mi].enabled;
					provider = c->models[mi].provider;
					mparams = c->models[mi].params;
				}
				for (int k = 0, m = 0; k < d->nkeys[MF_MODELS] && modelname; k++)
				{
					MfChange   *x = &ch[MF_MODELS][k];
					bool		same = VARSIZE_ANY_EXHDR(d->keys[MF_MODELS][k]) == VARSIZE_ANY_EXHDR(modelname) &&
						memcmp(VARDATA_ANY(d->keys[MF_MODELS][k]), VARDATA_ANY(modelname),
							   VARSIZE_ANY_EXHDR(modelname)) == 0;

					if (x->idx < 0 && !x->gone)
					{
						if (same)
							mi = c->nmodels + m;
						m++;
					}
					if (!same)
						continue;
					if (x->gone)
						mi = -1;
					else
					{
						model_enabled = x->row.isnull[MF_COL_MODEL_ENABLED] ? false
							: DatumGetBool(x->row.v[MF_COL_MODEL_ENABLED]);
						provider = MfCacheIndexText(&c->provider_map, x->provider_name);
						mparams = x->params;
					}
				}
				r->model = mi;
				r->flag_name = flagname ? mf_text_copy(pcxt, PointerGetDatum(flagname)) : NULL;
				r->model_name = modelname ? mf_text_copy(pcxt, PointerGetDatum(modelname)) : NULL;
				if (mi < 0)
					r->params = NULL;
				else if (rparams == NULL || JB_ROOT_COUNT(rparams) == 0 || mparams == NULL)
					r->params = mparams ? mparams
						: rparams ? (Jsonb *) mf_text_copy(pcxt, JsonbPGetDatum(rparams)) : NULL;
				else
					r->params = (Jsonb *) mf_text_copy(pcxt,
													   DirectFunctionCall2(jsonb_concat,
																		   JsonbPGetDatum(mparams),
																		   JsonbPGetDatum(rparams)));
				n->core[j].flag_missing = (r->flag == -2);
				n->core[j].model_enabled = mi >= 0 && model_enabled;
				/* flag pointers and provider availability are set at apply */
				(void) provider;
			}
		}
	}
	mf_fault("patch:compile");
	if (new_routes > 0)
	{
		mf_cache_own(c, MF_PART_ROUTES);	/* appended to: see cache_share.c */
		mf_cache_reserve_routes(c, c->nroutes + new_routes);
	}
	mf_snapshot_room(c, snap, pcxt, &snaproom);
	/* Flag values computed ahead (numeric arithmetic may fail). */
	for (int k = 0; k < d->nkeys[MF_FLAGS]; k++)
	{
		MfChange   *x = &ch[MF_FLAGS][k];

		if (x->gone || x->flipper)
			continue;
		x->row.v[MF_COL_FLAG_PCT_ACTORS] = Int32GetDatum(mf_cutoff_of(&x->row));
		x->row.v[MF_COL_FLAG_PCT_TIME] = Int32GetDatum(mf_time_of(&x->row));
	}
	mf_fault("patch:apply");
	MemoryContextSwitchTo(old);

	/*
	 * ---- apply: nothing below allocates or fails ----
	 *
	 * A patch that needed no new memory (a flag flipped, a provider down)
	 * leaves none behind, so flips alone never make the state rebuild for
	 * the memory its deltas used.
	 */
	HOLD_INTERRUPTS();
	if (MemoryContextIsEmpty(pcxt))
		MemoryContextDelete(pcxt);
	else
	{
		c->patch_bytes += MemoryContextMemAllocated(pcxt, false);
		MemoryContextSetParent(pcxt, c->cxt);
	}

	/* providers */
	for (int k = 0; k < d->nkeys[MF_PROVIDERS]; k++)
	{
		MfChange   *x = &ch[MF_PROVIDERS][k];
		int			i = x->idx;

		if (i < 0 && x->gone)
			continue;
		if (i < 0)
		{
			i = c->nproviders++;
			c->providers[i].name = x->name;
			mf_idxmap_put(&c->provider_map, VARDATA_ANY(x->name), VARSIZE_ANY_EXHDR(x->name), i, false);
			/* models that named it before it existed */
			for (int m = 0; m < c->nmodels; m++)
				if (c->models[m].provider < 0 && c->models[m].provider_name &&
					VARSIZE_ANY_EXHDR(c->models[m].provider_name) == VARSIZE_ANY_EXHDR(x->name) &&
					memcmp(VARDATA_ANY(c->models[m].provider_name), VARDATA_ANY(x->name),
						   VARSIZE_ANY_EXHDR(x->name)) == 0)
					c->models[m].provider = i;
		}
		if (x->gone)
		{
			mf_idxmap_put(&c->provider_map, VARDATA_ANY(c->providers[i].name),
						  VARSIZE_ANY_EXHDR(c->providers[i].name), i, true);
			c->providers[i].available = false;
			for (int m = 0; m < c->nmodels; m++)
				if (c->models[m].provider == i)
					c->models[m].provider = -1;
		}
		else
			c->providers[i].available = x->row.isnull[MF_COL_PROVIDER_AVAILABLE] ? false
				: DatumGetBool(x->row.v[MF_COL_PROVIDER_AVAILABLE]);
		availability_changed = true;
	}

	/* models */
	for (int k = 0; k < d->nkeys[MF_MODELS]; k++)
	{
		MfChange   *x = &ch[MF_MODELS][k];
		int			i = x->idx;

		if (i < 0 && x->gone)
			continue;
		if (i < 0)
		{
			i = c->nmodels++;
			c->models[i].name = x->name;
			c->models[i].health = NULL;		/* health.c resolves it on first use */
			mf_idxmap_put(&c->model_map, VARDATA_ANY(x->name), VARSIZE_ANY_EXHDR(x->name), i, false);
		}
		if (x->gone)
		{
			mf_idxmap_put(&c->model_map, VARDATA_ANY(c->models[i].name),
						  VARSIZE_ANY_EXHDR(c->models[i].name), i, true);
			c->models[i].enabled = false;
			c->models[i].provider = -1;
		}
		else
		{
			c->models[i].enabled = x->row.isnull[MF_COL_MODEL_ENABLED] ? false
				: DatumGetBool(x->row.v[MF_COL_MODEL_ENABLED]);
			c->models[i].provider_name = x->provider_name;
			c->models[i].provider = MfCacheIndexText(&c->provider_map, x->provider_name);
			c->models[i].params = x->params;
		}
		availability_changed = true;
	}

	/* flags */
	for (int k = 0; k < d->nkeys[MF_FLAGS]; k++)
	{
		MfChange   *x = &ch[MF_FLAGS][k];
		int			i = x->idx;
		MfFlag	   *f;

		if (i < 0 && x->gone)
			continue;
		if (i < 0)
		{
			i = c->nflags++;
			c->flag_names[i] = x->name;
			c->actor_sets[i] = 0;
			f = mf_cache_flag_mut(c, i);	/* the flags array's slack, or a copy */
			memset(f, 0, sizeof(MfFlag));
			f->idx = i;
			f->name_crc = mf_rollout_name_crc(VARDATA_ANY(x->name), VARSIZE_ANY_EXHDR(x->name));
			f->has_actor_rows = -1;
			mf_idxmap_put(&c->flag_map, VARDATA_ANY(x->name), VARSIZE_ANY_EXHDR(x->name), i, false);
		}
		f = mf_cache_flag_mut(c, i);	/* made writable in prepare */
		c->flag_flipper[i] = x->flipper ? MF_FLIPPER_OWNED | x->ff.unsupported : 0;
		if (x->gone)
		{
			mf_idxmap_put(&c->flag_map, VARDATA_ANY(c->flag_names[i]),
						  VARSIZE_ANY_EXHDR(c->flag_names[i]), i, true);
			f->enabled = -1;
			f->pct_actors = -1;
			f->pct_time = -1;
			f->default_enabled = false;
		}
		else if (x->flipper)
		{
			/* Flipper's gates; default_enabled from modelflags.flags, if there */
			f->enabled = x->ff.enabled;
			f->pct_actors = x->ff.pct_actors;
			f->pct_time = x->ff.pct_time;
			f->default_enabled = x->row.found && !x->row.isnull[MF_COL_FLAG_DEFAULT] &&
				DatumGetBool(x->row.v[MF_COL_FLAG_DEFAULT]);
		}
		else
		{
			f->enabled = x->row.isnull[MF_COL_FLAG_ENABLED] ? -1
				: DatumGetBool(x->row.v[MF_COL_FLAG_ENABLED]) ? 1 : 0;
			f->pct_actors = DatumGetInt32(x->row.v[MF_COL_FLAG_PCT_ACTORS]);
			f->pct_time = DatumGetInt32(x->row.v[MF_COL_FLAG_PCT_TIME]);
			f->default_enabled = x->row.isnull[MF_COL_FLAG_DEFAULT] ? false
				: DatumGetBool(x->row.v[MF_COL_FLAG_DEFAULT]);
		}
	}

	/* actor gates: the changed flags' sets are dropped, to load again */
	for (int k = 0; k < d->nkeys[MF_FLAG_ACTORS]; k++)
	{
		int			i = MfCacheIndexText(&c->flag_map, d->keys[MF_FLAG_ACTORS][k]);

		mf_actor_sets_forget(c->sets, d->keys[MF_FLAG_ACTORS][k]);
		if (i >= 0)
		{
			MfFlag	   *f = mf_cache_flag_mut(c, i);

			c->actor_sets[i] = 0;
			if (f != NULL)		/* shared ones are never written: -1 */
				f->has_actor_rows = -1;
		}
	}

	/* features */
	for (int k = 0; k < d->nkeys[MF_FEATURES]; k++)
	{
		MfChange   *x = &ch[MF_FEATURES][k];

		if (x->idx >= 0 && x->gone)
		{
			MfCacheFeature *feat = &c->features[x->idx];

			mf_idxmap_put(&c->feature_map, VARDATA_ANY(feat->name), VARSIZE_ANY_EXHDR(feat->name), x->idx, true);
			c->garbage_bytes += sizeof(MfCacheRoute) * feat->nroutes;
			feat->nroutes = 0;
		}
		else if (x->idx < 0 && !x->gone)
		{
			int			i = c->nfeatures++;
			MfCacheFeature *feat = &c->features[i];

			feat->name = x->name;
			feat->first_route = 0;
			feat->nroutes = 0;
			feat->core_routes = NULL;
			mf_idxmap_put(&c->feature_map, VARDATA_ANY(x->name), VARSIZE_ANY_EXHDR(x->name), i, false);
		}
	}

	/* compiled routes: appended, the old lists left as garbage */
	for (int i = 0; i < nrecompile; i++)
	{
		MfNewRoutes *n = &nr[i];
		MfCacheFeature *feat = &c->features[n->feature];

		c->garbage_bytes += sizeof(MfCacheRoute) * feat->nroutes;
		memcpy(&c->routes[c->nroutes], n->routes, sizeof(MfCacheRoute) * n->n);
		feat->first_route = c->nroutes;
		feat->nroutes = n->n;
		feat->core_routes = n->core;
		c->nroutes += n->n;
		for (int j = 0; j < n->n; j++)
		{
			MfCacheRoute *r = &c->routes[feat->first_route + j];

			n->core[j].flag = r->flag >= 0 ? MfCacheFlag(c, r->flag) : NULL;
		}
	}

	/*
	 * Availability and model state of every compiled route: providers and
	 * models are few, routes a few thousand; one pass is cheaper than an
	 * index of who uses what.
	 */
	if (availability_changed || nrecompile > 0)
		for (int f = 0; f < c->nfeatures; f++)
		{
			MfCacheFeature *feat = &c->features[f];

			for (int j = 0; j < feat->nroutes; j++)
			{
				MfCacheRoute *r = &c->routes[feat->first_route + j];
				MfCacheModel *m = r->model >= 0 ? &c->models[r->model] : NULL;

				feat->core_routes[j].model_enabled = m != NULL && m->enabled;
				feat->core_routes[j].provider_available = m != NULL && m->provider >= 0 &&
					c->providers[m->provider].available;
			}
		}

	c->garbage_bytes += mf_snapshot_store(c, snap, &snaproom);
	c->patches++;
	RESUME_INTERRUPTS();
	MemoryContextDelete(scratch);
	return true;
}
