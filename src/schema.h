/*
 * schema.h — the catalogue of the configuration tables (schema_catalogue.h,
 * SPEC §2) as the PostgreSQL shell uses it: each column with its type's Oid,
 * and the columns the routing cache reads.
 *
 * sql/install/00_schema.sql creates the tables; the catalogue is what the C
 * code expects of them (sql/schema_catalogue.sql checks that both agree).
 * The cache's scans look their columns up through it and check each
 * column's type before reading a single row, so a column renamed, dropped or
 * retyped by a DBA is an ERROR that names it, never a crash.
 */
#ifndef MODELFLAGS_SCHEMA_H
#define MODELFLAGS_SCHEMA_H

#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "lib/stringinfo.h"
#include "utils/rel.h"

#include "schema_catalogue.h"

/*
 * The columns the routing cache reads: those the catalogue marks CACHE,
 * as MF_COL_<id>, in the catalogue's order.  The cache's row arrays are
 * indexed by them.
 */
#define MF_X_COL_ENUM_CACHE(id) id,
#define MF_X_COL_ENUM_NONE(id)
#define MF_X_COL_ENUM(table, id, name, type, key, reader, def, uses) MF_X_COL_ENUM_##reader(MF_COL_##id)

typedef enum MfColumnId
{
	MF_SCHEMA_COLUMNS(MF_X_COL_ENUM)
	MF_NCOLUMNS
} MfColumnId;

#undef MF_X_COL_ENUM
#undef MF_X_COL_ENUM_CACHE
#undef MF_X_COL_ENUM_NONE

/* One of the cache's columns. */
typedef struct MfColumnDef
{
	MfTableId	table;
	const char *name;
	Oid			type;
	const char *rule;			/* the catalogue's "uses" */
} MfColumnDef;

/* One column of the catalogue. */
typedef struct MfSchemaColumn
{
	MfTableId	table;
	const char *name;
	MfSchemaType type;
	Oid			type_oid;
	bool		key;			/* part of the primary key */
	bool		cache;			/* read by the routing cache */
	const char *uses;
} MfSchemaColumn;

extern const char *const mf_table_names[MF_NTABLES];
extern const char *const mf_type_names[MF_NTYPES];
extern const MfColumnDef mf_columns[MF_NCOLUMNS];
extern const MfSchemaColumn mf_schema_columns[MF_SCHEMA_NCOLUMNS];

/*
 * Per table, the column that names what a row changes for the routing
 * caches (change_log.c, cache_delta.c): the name; for an actor gate its
 * flag, for a route its feature.
 */
extern const MfColumnId mf_log_key_column[MF_NTABLES];

/*
 * The attribute numbers of table's columns in rel, indexed by MfColumnId
 * (other tables' entries are left alone).  Raises an ERROR naming the column
 * when one is missing or has another type.
 */
extern void mf_schema_attnums(Relation rel, MfTableId table, AttrNumber *attnums);

/*
 * The answers of mf_schema_attnums are kept per table until this is called
 * with the table's OID (a relcache invalidation) or InvalidOid (a reset):
 * the cache's relcache callback calls it for every invalidation.
 */
extern void mf_schema_forget(Oid relid);

/*
 * SQL built from the catalogue: a column's name as an identifier, and lists
 * of a table's columns, separated by ", ".  which: all of the table's
 * columns, its key columns or its other ones.  Each item is prefix (e.g.
 * "x.") and the name, followed by its type for a jsonb_to_recordset row
 * type.
 */
typedef enum MfColumnSet
{
	MF_ALL_COLUMNS,
	MF_KEY_COLUMNS,
	MF_VALUE_COLUMNS
} MfColumnSet;

extern const char *mf_column_sql(MfSchemaColumnId column);
extern void mf_append_columns(StringInfo buf, MfTableId table, MfColumnSet which,
							  const char *prefix, bool types);
extern int	mf_column_position(MfSchemaColumnId column);

#endif
