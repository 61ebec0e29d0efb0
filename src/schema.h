/*
 * schema.h — the one catalogue of the tables and columns the C code reads
 * (SPEC §2), with the type it reads each column as.
 *
 * sql/install/00_schema.sql creates the tables; this list is what the C code
 * expects of them.  The cache's scans look their columns up through it and
 * check each column's type before reading a single row, so a column renamed,
 * dropped or retyped by a DBA is an ERROR that names it, never a crash.
 */
#ifndef MODELFLAGS_SCHEMA_H
#define MODELFLAGS_SCHEMA_H

#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "utils/rel.h"

typedef enum MfTableId
{
	MF_PROVIDERS,
	MF_MODELS,
	MF_FLAGS,
	MF_FLAG_ACTORS,
	MF_FEATURES,
	MF_ROUTES,
	MF_NTABLES
} MfTableId;

/*
 * X(table, column id, column name, type, rule): the columns the routing
 * cache reads, in the order its row functions take them.  "rule" names the
 * SPEC §3 rule that uses the column.
 */
#define MF_CACHE_COLUMNS(X) \
	X(MF_PROVIDERS,   MF_COL_PROVIDER_NAME,       "name",                 TEXTOID,    "R") \
	X(MF_PROVIDERS,   MF_COL_PROVIDER_AVAILABLE,  "available",            BOOLOID,    "R") \
	X(MF_MODELS,      MF_COL_MODEL_NAME,          "name",                 TEXTOID,    "R") \
	X(MF_MODELS,      MF_COL_MODEL_PROVIDER,      "provider",             TEXTOID,    "R") \
	X(MF_MODELS,      MF_COL_MODEL_ENABLED,       "enabled",              BOOLOID,    "R") \
	X(MF_MODELS,      MF_COL_MODEL_PARAMS,        "params",               JSONBOID,   "R") \
	X(MF_FLAGS,       MF_COL_FLAG_NAME,           "name",                 TEXTOID,    "F") \
	X(MF_FLAGS,       MF_COL_FLAG_ENABLED,        "enabled",              BOOLOID,    "F") \
	X(MF_FLAGS,       MF_COL_FLAG_PCT_ACTORS,     "percentage_of_actors", NUMERICOID, "F, H") \
	X(MF_FLAGS,       MF_COL_FLAG_PCT_TIME,       "percentage_of_time",   NUMERICOID, "F") \
	X(MF_FLAGS,       MF_COL_FLAG_DEFAULT,        "default_enabled",      BOOLOID,    "F") \
	X(MF_FLAG_ACTORS, MF_COL_ACTOR_FLAG,          "flag",                 TEXTOID,    "F") \
	X(MF_FLAG_ACTORS, MF_COL_ACTOR_ACTOR,         "actor",                TEXTOID,    "F") \
	X(MF_FLAG_ACTORS, MF_COL_ACTOR_OPT_OUT,       "opt_out",              BOOLOID,    "F") \
	X(MF_FEATURES,    MF_COL_FEATURE_NAME,        "name",                 TEXTOID,    "R") \
	X(MF_ROUTES,      MF_COL_ROUTE_FEATURE,       "feature",              TEXTOID,    "R") \
	X(MF_ROUTES,      MF_COL_ROUTE_POSITION,      "position",             INT4OID,    "R") \
	X(MF_ROUTES,      MF_COL_ROUTE_FLAG,          "flag",                 TEXTOID,    "R") \
	X(MF_ROUTES,      MF_COL_ROUTE_MODEL,         "model",                TEXTOID,    "R") \
	X(MF_ROUTES,      MF_COL_ROUTE_PARAMS,        "params",               JSONBOID,   "R")

typedef enum MfColumnId
{
#define MF_X_ENUM(table, id, name, type, rule) id,
	MF_CACHE_COLUMNS(MF_X_ENUM)
#undef MF_X_ENUM
	MF_NCOLUMNS
} MfColumnId;

typedef struct MfColumnDef
{
	MfTableId	table;
	const char *name;
	Oid			type;
	const char *rule;
} MfColumnDef;

extern const char *const mf_table_names[MF_NTABLES];
extern const MfColumnDef mf_columns[MF_NCOLUMNS];

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

#endif
