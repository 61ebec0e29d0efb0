/*
 * schema.c — the catalogue of the columns the C code reads (see schema.h).
 */
#include "postgres.h"

#include "access/attnum.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "schema.h"

const char *const mf_table_names[MF_NTABLES] = {
	[MF_PROVIDERS] = "providers",
	[MF_MODELS] = "models",
	[MF_FLAGS] = "flags",
	[MF_FLAG_ACTORS] = "flag_actors",
	[MF_FEATURES] = "features",
	[MF_ROUTES] = "routes",
};

const MfColumnDef mf_columns[MF_NCOLUMNS] = {
#define MF_X_DEF(table, id, name, type, rule) [id] = {table, name, type, rule},
	MF_CACHE_COLUMNS(MF_X_DEF)
#undef MF_X_DEF
};

const MfColumnId mf_log_key_column[MF_NTABLES] = {
	[MF_PROVIDERS] = MF_COL_PROVIDER_NAME,
	[MF_MODELS] = MF_COL_MODEL_NAME,
	[MF_FLAGS] = MF_COL_FLAG_NAME,
	[MF_FLAG_ACTORS] = MF_COL_ACTOR_FLAG,
	[MF_FEATURES] = MF_COL_FEATURE_NAME,
	[MF_ROUTES] = MF_COL_ROUTE_FEATURE,
};

void
mf_schema_attnums(Relation rel, MfTableId table, AttrNumber *attnums)
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
