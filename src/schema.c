/*
 * schema.c — the catalogue of the configuration tables (schema_catalogue.h)
 * with PostgreSQL's type Oids; the cache's columns checked against a table
 * (mf_schema_attnums); SQL column lists built from it.
 */
#include "postgres.h"

#include "access/attnum.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "schema.h"

/* Each type of the catalogue as PostgreSQL knows it. */
#define MF_TYPEOID_TEXT		TEXTOID
#define MF_TYPEOID_BOOLEAN	BOOLOID
#define MF_TYPEOID_NUMERIC	NUMERICOID
#define MF_TYPEOID_INTEGER	INT4OID
#define MF_TYPEOID_JSONB	JSONBOID

const char *const mf_table_names[MF_NTABLES] = {
#define MF_X_TABLE_NAME(id, name) [id] = name,
	MF_SCHEMA_TABLES(MF_X_TABLE_NAME)
#undef MF_X_TABLE_NAME
};

const char *const mf_type_names[MF_NTYPES] = {
#define MF_X_TYPE_NAME(type, name) [MF_TYPE_##type] = name,
	MF_SCHEMA_TYPES(MF_X_TYPE_NAME)
#undef MF_X_TYPE_NAME
};

const MfSchemaColumn mf_schema_columns[MF_SCHEMA_NCOLUMNS] = {
#define MF_X_IS_CACHE_CACHE true
#define MF_X_IS_CACHE_NONE false
#define MF_X_SCHEMA_DEF(table, id, name, type, key, reader, def, uses) \
	[MF_SCHEMA_##id] = {table, name, MF_TYPE_##type, MF_TYPEOID_##type, key, MF_X_IS_CACHE_##reader, uses},
	MF_SCHEMA_COLUMNS(MF_X_SCHEMA_DEF)
#undef MF_X_SCHEMA_DEF
#undef MF_X_IS_CACHE_CACHE
#undef MF_X_IS_CACHE_NONE
};

/* The cache's columns: the catalogue's CACHE ones. */
const MfColumnDef mf_columns[MF_NCOLUMNS] = {
#define MF_X_CACHE_DEF_CACHE(table, id, name, type, uses) [id] = {table, name, type, uses},
#define MF_X_CACHE_DEF_NONE(table, id, name, type, uses)
#define MF_X_CACHE_DEF(table, id, name, type, key, reader, def, uses) \
	MF_X_CACHE_DEF_##reader(table, MF_COL_##id, name, MF_TYPEOID_##type, uses)
	MF_SCHEMA_COLUMNS(MF_X_CACHE_DEF)
#undef MF_X_CACHE_DEF
#undef MF_X_CACHE_DEF_CACHE
#undef MF_X_CACHE_DEF_NONE
};

const MfColumnId mf_log_key_column[MF_NTABLES] = {
	[MF_PROVIDERS] = MF_COL_PROVIDER_NAME,
	[MF_MODELS] = MF_COL_MODEL_NAME,
	[MF_FLAGS] = MF_COL_FLAG_NAME,
	[MF_FLAG_ACTORS] = MF_COL_ACTOR_FLAG,
	[MF_FEATURES] = MF_COL_FEATURE_NAME,
	[MF_ROUTES] = MF_COL_ROUTE_FEATURE,
};

/*
 * The attribute numbers last checked, per table: a refresh checks all six
 * tables before it trusts a delta (about 30 catalog look-ups), so each
 * table's are kept until a relcache invalidation of that relation (every
 * ALTER TABLE and DROP sends one, and an aborted one sends it again) or a
 * reset of the queue says to look again (mf_schema_forget, called from the
 * cache's relcache callback).  An invalidation that arrives while a check
 * runs (its catalog reads accept them) leaves the entry unchecked.
 */
typedef struct MfCheckedTable
{
	Oid			relid;			/* what attnums were read from */
	bool		valid;			/* no invalidation of relid since */
	AttrNumber	attnums[MF_NCOLUMNS];
} MfCheckedTable;

static MfCheckedTable mf_checked[MF_NTABLES];
static uint64 mf_checked_generation = 0;

void
mf_schema_forget(Oid relid)
{
	for (int t = 0; t < MF_NTABLES; t++)
		if (relid == InvalidOid || mf_checked[t].relid == relid)
		{
			mf_checked[t].valid = false;
			mf_checked_generation++;
		}
}

static void mf_schema_check(Relation rel, MfTableId table, AttrNumber *attnums);

void
mf_schema_attnums(Relation rel, MfTableId table, AttrNumber *attnums)
{
	MfCheckedTable *e = &mf_checked[table];
	uint64		generation;

	if (e->valid && e->relid == RelationGetRelid(rel))
	{
		for (int c = 0; c < MF_NCOLUMNS; c++)
			if (mf_columns[c].table == table)
				attnums[c] = e->attnums[c];
		return;
	}
	e->valid = false;
	e->relid = RelationGetRelid(rel);
	generation = mf_checked_generation;
	mf_schema_check(rel, table, attnums);
	for (int c = 0; c < MF_NCOLUMNS; c++)
		if (mf_columns[c].table == table)
			e->attnums[c] = attnums[c];
	e->valid = (generation == mf_checked_generation);
}

static void
mf_schema_check(Relation rel, MfTableId table, AttrNumber *attnums)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int c = 0; c < MF_NCOLUMNS; c++)
	{
		const MfColumnDef *col = &mf_columns[c];
		AttrNumber	attnum;
		Oid			type;

		if (col->table != table)
			continue;
		attnum = get_attnum(RelationGetRelid(rel), col->name);
		if (attnum == InvalidAttrNumber || attnum <= 0 || attnum > desc->natts)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of table \"modelflags.%s\" does not exist",
							col->name, mf_table_names[table]),
					 errhint("Reinstall the extension: DROP EXTENSION modelflags; CREATE EXTENSION modelflags.")));

		/*
		 * The cache reads the datum as this type: anything else (a DBA's
		 * ALTER ... TYPE float8) would be misread, so refuse it by name.  A
		 * domain over the right type reads the same and is accepted.
		 */
		type = getBaseType(TupleDescAttr(desc, attnum - 1)->atttypid);
		if (type != col->type)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of table \"modelflags.%s\" has type %s, not %s",
							col->name, mf_table_names[table],
							format_type_be(TupleDescAttr(desc, attnum - 1)->atttypid),
							format_type_be(col->type)),
					 errhint("ALTER TABLE modelflags.%s ALTER COLUMN %s TYPE %s restores it; modelflags reads the column as that type.",
							 mf_table_names[table], col->name, format_type_be(col->type))));
		attnums[c] = attnum;
	}
}

/* A column's name as an SQL identifier ("group" is quoted). */
const char *
mf_column_sql(MfSchemaColumnId column)
{
	return quote_identifier(mf_schema_columns[column].name);
}

/*
 * Appends table's columns of the set which, in the catalogue's order:
 * prefix, the name and, with types, its type; separated by ", ".
 */
void
mf_append_columns(StringInfo buf, MfTableId table, MfColumnSet which,
				  const char *prefix, bool types)
{
	bool		first = true;

	for (int c = 0; c < MF_SCHEMA_NCOLUMNS; c++)
	{
		const MfSchemaColumn *col = &mf_schema_columns[c];

		if (col->table != table ||
			(which == MF_KEY_COLUMNS && !col->key) ||
			(which == MF_VALUE_COLUMNS && col->key))
			continue;
		appendStringInfo(buf, "%s%s%s", first ? "" : ", ", prefix, quote_identifier(col->name));
		if (types)
			appendStringInfo(buf, " %s", mf_type_names[col->type]);
		first = false;
	}
}

/*
 * The 1-based position of a column among its table's columns, in the
 * catalogue's order: where a SELECT of mf_append_columns(MF_ALL_COLUMNS)
 * returns it.
 */
int
mf_column_position(MfSchemaColumnId column)
{
	int			position = 0;

	for (int c = 0; c <= (int) column; c++)
		if (mf_schema_columns[c].table == mf_schema_columns[column].table)
			position++;
	return position;
}
