/*
 * flipper.c — Flipper's ActiveRecord tables as a source of flags (SPEC §7
 * FL; sql/install/70_flipper.sql; research/flipper-tables.md).
 *
 * When modelflags.flipper_source names a features table and a gates table
 * (GitLab's features and feature_gates, or the gem's flipper_features and
 * flipper_gates), every key of the features table is a flag "kept by
 * Flipper": it exists (GitLab's "persisted") and its gates are Flipper's
 * gate rows, read here with the same snapshot as the rest of the compiled
 * state.  Its default_enabled still comes from modelflags.flags, where
 * GitLab's YAML definitions are loaded.  The mapping, as Flipper and GitLab's
 * Feature read the rows:
 *   boolean              value 'true' or '1' (Typecast.to_boolean): on
 *   percentage_of_actors value read as Ruby's String#to_f reads it ('25',
 *   percentage_of_time   '25.0', '12.5'); of duplicate rows (two concurrent
 *                        sets leave two) the newest, by id, wins
 *   actors               value 'User:42' is an actor gate; GitLab's opt-out
 *                        is an actor row 'User:42:opt_out'
 *   groups, expression   Ruby blocks and Flipper 1.x expressions, which no
 *                        SQL can evaluate: never open (flag_flipper says so,
 *                        and explain names them)
 * A features row with no gate is a persisted flag that is off, even when
 * default_enabled says on, exactly as GitLab answers.
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_index.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/inval.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "cache_int.h"
#include "change_log.h"
#include "fault.h"
#include "flipper.h"
#include "rollout.h"

static void *
mf_palloc_alloc(void *arg, size_t size)
{
	return palloc(size);
}

/* The columns read, and their attribute numbers in a source. */
static const char *const mf_gate_columns[] = {"feature_key", "key", "value", "id"};

/* A number as Ruby's String#to_f reads it: the longest leading float, else 0. */
static double
mf_ruby_to_f(const char *s)
{
	char		buf[64];
	size_t		n = 0;
	char	   *end;
	double		v;

	/* Ruby allows "_" between digits; drop those, keep at most 63 bytes */
	for (const char *p = s; *p && n < sizeof(buf) - 1; p++)
		if (*p != '_' || p == s || !isdigit((unsigned char) p[-1]) || !isdigit((unsigned char) p[1]))
			buf[n++] = *p;
	buf[n] = '\0';
	while (n > 0 && isspace((unsigned char) buf[0]))
		memmove(buf, buf + 1, n--);
	/* hex and "inf"/"nan", which strtod takes and to_f does not */
	if ((buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X')) || isalpha((unsigned char) buf[0]) ||
		((buf[0] == '-' || buf[0] == '+') && isalpha((unsigned char) buf[1])))
		return 0.0;
	v = strtod(buf, &end);
	if (end == buf || isnan(v))
		return 0.0;
	return v;
}

static int32
mf_time_thousandths(double v)
{
	if (!(v > 0))
		return 0;
	if (v >= 100)
		return MF_PCT_MAX;
	return (int32) llround(v * MF_PCT_SCALE);
}

/*
 * A plain index of rel whose first natts key columns are att[0..natts), or
 * InvalidOid.
 */
static Oid
mf_find_index(Relation rel, int natts, const AttrNumber *att)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	Oid			found = InvalidOid;

	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index ix = index->rd_index;
		bool		match = ix->indnkeyatts >= natts &&
			RelationGetIndexPredicate(index) == NIL && RelationGetIndexExpressions(index) == NIL;

		for (int i = 0; match && i < natts; i++)
			match = ix->indkey.values[i] == att[i];
		if (match)
			found = RelationGetRelid(index);
		index_close(index, AccessShareLock);
		if (OidIsValid(found))
			break;
	}
	list_free(indexes);
	return found;
}

static AttrNumber
mf_text_column(Relation rel, const char *name, bool id)
{
	AttrNumber	a = get_attnum(RelationGetRelid(rel), name);
	Oid			type;

	if (a == InvalidAttrNumber || a <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of Flipper table \"%s\" does not exist", name, RelationGetRelationName(rel)),
				 errhint("SELECT modelflags.detach_flipper() stops following Flipper's tables.")));
	type = getBaseType(TupleDescAttr(RelationGetDescr(rel), a - 1)->atttypid);
	if (id ? (type != INT4OID && type != INT8OID) : (type != TEXTOID && type != VARCHAROID))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of Flipper table \"%s\" has type %s", name, RelationGetRelationName(rel),
						format_type_be(type)),
				 errhint("SELECT modelflags.detach_flipper() stops following Flipper's tables.")));
	return a;
}

bool
mf_flipper_source(Snapshot snap, MfFlipperSource *src)
{
	Oid			nsp = get_namespace_oid("modelflags", true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid("flipper_source", nsp) : InvalidOid;
	Relation	rel;
	TableScanDesc scan;
	TupleTableSlot *slot;
	bool		found = false;

	memset(src, 0, sizeof(*src));
	if (!OidIsValid(relid))
		return false;			/* an extension still at 1.0 */
	rel = try_table_open(relid, AccessShareLock);
	if (rel == NULL)
		return false;			/* dropped since the lookup (DROP EXTENSION) */
	slot = table_slot_create(rel, NULL);
	scan = table_beginscan(rel, snap, 0, NULL);
	if (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		n1,
					n2;

		src->features = DatumGetObjectId(slot_getattr(slot, 1, &n1));
		src->gates = DatumGetObjectId(slot_getattr(slot, 2, &n2));
		found = !n1 && !n2;
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Opens the two tables (AccessShareLock; mf_flipper_close releases) and
 * checks their shape.  A table dropped since attach_flipper is an ERROR
 * that says how to stop following it.
 */
void
mf_flipper_open(MfFlipperSource *src)
{
	src->frel = try_table_open(src->features, AccessShareLock);
	src->grel = src->frel ? try_table_open(src->gates, AccessShareLock) : NULL;
	if (src->grel == NULL)
	{
		if (src->frel)
			table_close(src->frel, AccessShareLock);
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("a Flipper table modelflags follows no longer exists"),
				 errhint("SELECT modelflags.detach_flipper() stops following Flipper's tables.")));
	}
	src->f_key = mf_text_column(src->frel, "key", false);
	for (int i = 0; i < 4; i++)
		src->g_att[i] = mf_text_column(src->grel, mf_gate_columns[i], i == 3);
	src->gates_index = mf_find_index(src->grel, 3, src->g_att);
	if (!OidIsValid(src->gates_index))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("Flipper table \"%s\" has no index on (feature_key, key, value)",
						RelationGetRelationName(src->grel)),
				 errhint("Flipper's migrations create one (index_flipper_gates_on_feature_key_and_key_and_value).")));
}

void
mf_flipper_close(MfFlipperSource *src)
{
	if (src->grel)
		table_close(src->grel, AccessShareLock);
	if (src->frel)
		table_close(src->frel, AccessShareLock);
	src->grel = src->frel = NULL;
}

/* Folds one gate row into f. */
static void
mf_flipper_gate(MfFlipperFlag *f, const char *key, const char *value, int64 id)
{
	if (strcmp(key, "boolean") == 0)
	{
		if (value && (strcmp(value, "true") == 0 || strcmp(value, "1") == 0))
			f->enabled = 1;
	}
	else if (strcmp(key, "percentage_of_actors") == 0)
	{
		if (id >= f->pct_actors_id)
		{
			f->pct_actors_id = id;
			f->pct_actors = mf_rollout_cutoff(value ? mf_ruby_to_f(value) : 0);
		}
	}
	else if (strcmp(key, "percentage_of_time") == 0)
	{
		if (id >= f->pct_time_id)
		{
			f->pct_time_id = id;
			f->pct_time = mf_time_thousandths(value ? mf_ruby_to_f(value) : 0);
		}
	}
	else if (strcmp(key, "actors") == 0)
		f->has_actors = true;
	else if (strcmp(key, "groups") == 0)
		f->unsupported |= MF_FLIPPER_GROUPS;
	else if (strcmp(key, "expression") == 0)
		f->unsupported |= MF_FLIPPER_EXPRESSION;
}

static void
mf_flipper_flag_init(MfFlipperFlag *f)
{
	memset(f, 0, sizeof(*f));
	f->enabled = 0;				/* persisted: off unless a gate opens it */
	f->pct_actors = -1;
	f->pct_time = -1;
	f->pct_actors_id = PG_INT64_MIN;
	f->pct_time_id = PG_INT64_MIN;
}

static char *
mf_datum_cstring(Relation rel, AttrNumber a, Datum d, bool isnull)
{
	if (isnull)
		return NULL;
	return TextDatumGetCString(d);
}

static int64
mf_datum_id(Relation rel, AttrNumber a, Datum d, bool isnull)
{
	if (isnull)
		return PG_INT64_MIN;
	return getBaseType(TupleDescAttr(RelationGetDescr(rel), a - 1)->atttypid) == INT4OID
		? (int64) DatumGetInt32(d) : DatumGetInt64(d);
}

void
mf_flipper_read_all(MfFlipperSource *src, Snapshot snap, MfFlipperFlagFn fn, void *arg)
{
	MemoryContext scratch = AllocSetContextCreate(CurrentMemoryContext, "modelflags flipper read",
												  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(scratch);
	MfStrMap	map;
	int			n = 0,
				cap = 256;
	MfFlipperFlag *flags = palloc(sizeof(MfFlipperFlag) * cap);
	TupleTableSlot *slot;
	TableScanDesc scan;

	mf_strmap_init(&map, 256, mf_palloc_alloc, NULL);

	/* every key of the features table is a persisted flag */
	slot = table_slot_create(src->frel, NULL);
	scan = table_beginscan(src->frel, snap, 0, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, src->f_key, &isnull);
		int32		idx;
		char	   *name;

		CHECK_FOR_INTERRUPTS();
		if (isnull)
			continue;
		name = TextDatumGetCString(d);
		if (mf_strmap_get(&map, 0, name, strlen(name), &idx))
			continue;
		if (n >= cap)
		{
			cap *= 2;
			flags = repalloc_huge(flags, sizeof(MfFlipperFlag) * cap);
		}
		mf_flipper_flag_init(&flags[n]);
		flags[n].name = name;
		mf_strmap_put(&map, 0, name, strlen(name), n);
		n++;
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);

	/* their gates; gates of a key with no features row are not read */
	slot = table_slot_create(src->grel, NULL);
	scan = table_beginscan(src->grel, snap, 0, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		nulls[4];
		Datum		v[4];
		int32		idx;
		char	   *fk;

		CHECK_FOR_INTERRUPTS();
		for (int i = 0; i < 4; i++)
			v[i] = slot_getattr(slot, src->g_att[i], &nulls[i]);
		if (nulls[0] || nulls[1])
			continue;
		fk = TextDatumGetCString(v[0]);
		if (!mf_strmap_get(&map, 0, fk, strlen(fk), &idx))
			continue;
		mf_flipper_gate(&flags[idx], TextDatumGetCString(v[1]),
						mf_datum_cstring(src->grel, src->g_att[2], v[2], nulls[2]),
						mf_datum_id(src->grel, src->g_att[3], v[3], nulls[3]));
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);

	MemoryContextSwitchTo(old);
	for (int i = 0; i < n; i++)
		fn(arg, &flags[i]);
	MemoryContextDelete(scratch);
}

bool
mf_flipper_read_one(MfFlipperSource *src, const char *name, Snapshot snap, MfFlipperFlag *out)
{
	Oid			fkey_index = InvalidOid;
	ScanKeyData sk[1];
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		found = false;

	mf_flipper_flag_init(out);
	out->name = pstrdup(name);

	/* the features row: by an index on key if there is one, else a scan */
	fkey_index = mf_find_index(src->frel, 1, &src->f_key);
	ScanKeyEntryInitialize(&sk[0], 0, src->f_key, BTEqualStrategyNumber, InvalidOid,
						   TupleDescAttr(RelationGetDescr(src->frel), src->f_key - 1)->attcollation,
						   F_TEXTEQ, CStringGetTextDatum(name));
	scan = systable_beginscan(src->frel, fkey_index, OidIsValid(fkey_index), snap, 1, sk);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	if (!found)
		return false;

	ScanKeyEntryInitialize(&sk[0], 0, src->g_att[0], BTEqualStrategyNumber, InvalidOid,
						   TupleDescAttr(RelationGetDescr(src->grel), src->g_att[0] - 1)->attcollation,
						   F_TEXTEQ, CStringGetTextDatum(name));
	scan = systable_beginscan(src->grel, src->gates_index, true, snap, 1, sk);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		TupleDesc	desc = RelationGetDescr(src->grel);
		bool		nulls[4];
		Datum		v[4];

		for (int i = 0; i < 4; i++)
			v[i] = heap_getattr(tuple, src->g_att[i], desc, &nulls[i]);
		if (nulls[1])
			continue;
		mf_flipper_gate(out, TextDatumGetCString(v[1]),
						mf_datum_cstring(src->grel, src->g_att[2], v[2], nulls[2]),
						mf_datum_id(src->grel, src->g_att[3], v[3], nulls[3]));
	}
	systable_endscan(scan);
	return true;
}

/*
 * A flag's actor rows in the gates table: key 'actors', value the actor or
 * the actor with ":opt_out" appended (GitLab's opt-out).  With actor, only
 * the two rows that can concern it are probed.
 */
void
mf_flipper_scan_actors(MfFlipperSource *src, const char *flag, const char *actor, size_t actor_len,
					   Snapshot snap, MfFlipperActorFn fn, void *arg)
{
	static const char suffix[] = ":opt_out";
	TupleDesc	desc = RelationGetDescr(src->grel);
	ScanKeyData sk[3];
	int			nprobes = actor ? 2 : 1;

	for (int probe = 0; probe < nprobes; probe++)
	{
		SysScanDesc scan;
		HeapTuple	tuple;
		int			nkeys = 2;

		ScanKeyEntryInitialize(&sk[0], 0, src->g_att[0], BTEqualStrategyNumber, InvalidOid,
							   TupleDescAttr(desc, src->g_att[0] - 1)->attcollation,
							   F_TEXTEQ, CStringGetTextDatum(flag));
		ScanKeyEntryInitialize(&sk[1], 0, src->g_att[1], BTEqualStrategyNumber, InvalidOid,
							   TupleDescAttr(desc, src->g_att[1] - 1)->attcollation,
							   F_TEXTEQ, CStringGetTextDatum("actors"));
		if (actor)
		{
			StringInfoData v;

			initStringInfo(&v);
			appendBinaryStringInfo(&v, actor, actor_len);
			if (probe == 1)
				appendStringInfoString(&v, suffix);
			ScanKeyEntryInitialize(&sk[2], 0, src->g_att[2], BTEqualStrategyNumber, InvalidOid,
								   TupleDescAttr(desc, src->g_att[2] - 1)->attcollation,
								   F_TEXTEQ, PointerGetDatum(cstring_to_text_with_len(v.data, v.len)));
			nkeys = 3;
		}
		scan = systable_beginscan(src->grel, src->gates_index, true, snap, nkeys, sk);
		while (HeapTupleIsValid(tuple = systable_getnext(scan)))
		{
			bool		isnull;
			Datum		d = heap_getattr(tuple, src->g_att[2], desc, &isnull);
			text	   *t;
			const char *s;
			size_t		len;
			bool		opt_out = false;

			if (isnull)
				continue;
			t = DatumGetTextPP(d);
			s = VARDATA_ANY(t);
			len = VARSIZE_ANY_EXHDR(t);
			if (len > sizeof(suffix) - 1 &&
				memcmp(s + len - (sizeof(suffix) - 1), suffix, sizeof(suffix) - 1) == 0)
			{
				len -= sizeof(suffix) - 1;
				opt_out = true;
			}
			if (len > 0)
				fn(arg, s, len, opt_out);
			CHECK_FOR_INTERRUPTS();
		}
		systable_endscan(scan);
	}
}

/*
 * _note_flipper(names): the trigger of the attached tables logs the changed
 * flag names for the routing caches (NULL: rebuild in full) and invalidates
 * them.  The log row is written now, inside the trigger's exception block,
 * rather than at PRE_COMMIT: nothing modelflags does may fail a Rails
 * write's commit.  Neither flags nor flag_actors is opened, so no lock is
 * taken on them: a DBA's TRUNCATE, VACUUM FULL or ALTER TABLE of those
 * tables must not make a Rails write wait (the log itself is internal).
 */
PG_FUNCTION_INFO_V1(modelflags_note_flipper);

Datum
modelflags_note_flipper(PG_FUNCTION_ARGS)
{
	Oid			nsp = get_namespace_oid("modelflags", false);
	Oid			flags = get_relname_relid("flags", nsp);
	Oid			actors = get_relname_relid("flag_actors", nsp);
	ArrayType  *names = PG_ARGISNULL(0) ? NULL : PG_GETARG_ARRAYTYPE_P(0);
	Datum	   *elems = NULL;
	bool	   *nulls = NULL;
	int			n = 0;

	mf_fault("flipper:note");
	if (!OidIsValid(flags) || !OidIsValid(actors))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("modelflags.flags or modelflags.flag_actors does not exist")));
	if (names != NULL)
		deconstruct_array(names, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	mf_changelog_log_now(flags, MF_FLAGS, names ? elems : NULL, names ? nulls : NULL, n);
	mf_changelog_log_now(actors, MF_FLAG_ACTORS, names ? elems : NULL, names ? nulls : NULL, n);
	mf_signal_readers(MF_FLAGS, flags);
	mf_signal_readers(MF_FLAG_ACTORS, actors);
	MfCacheNoteWrite();
	PG_RETURN_VOID();
}
