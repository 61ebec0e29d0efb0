/*
 * schema_catalogue.h — the one catalogue of the configuration tables: every
 * column of the six tables sql/install/00_schema.sql creates (SPEC §2), with
 * its name, SQL type, whether it is part of the primary key, whether the
 * routing cache reads it, which bit of a definitions document gives it, and
 * the rules and features that use it.
 *
 * No PostgreSQL header is included: the definitions parser (src/def_*.c)
 * takes its column names from here as well as the PostgreSQL shell.  The
 * types' Oids are PostgreSQL's, in src/schema.c; schema.h derives the
 * cache's columns (MF_COL_*) from this list.
 *
 * Derived from it, or checked against it:
 *   - the routing cache's columns and their types, checked against the
 *     table before a row is read (schema.c, mf_schema_attnums);
 *   - the definitions rows: the columns a document gives and their types
 *     (def_rows.c; the parser's DEF_*_COLUMNS bits are checked against the
 *     "def" column by static assertions there), the keys of the rows of
 *     routes and actors;
 *   - load_definitions' and dump_definitions' column lists: SELECTs, INSERT
 *     and UPDATE lists, ON CONFLICT keys, jsonb_to_recordset row types
 *     (definitions_api.c);
 *   - the DDL: sql/schema_catalogue.sql compares this list, as
 *     test/schema_catalogue.c prints it, with information_schema: every
 *     column of the DDL is here with the same type and key, and nothing
 *     else is.
 * A column added or renamed in 00_schema.sql alone fails that test.
 */
#ifndef MODELFLAGS_SCHEMA_CATALOGUE_H
#define MODELFLAGS_SCHEMA_CATALOGUE_H

/* X(id, name): the tables, in the order the cache reads them. */
#define MF_SCHEMA_TABLES(X) \
	X(MF_PROVIDERS,   "providers") \
	X(MF_MODELS,      "models") \
	X(MF_FLAGS,       "flags") \
	X(MF_FLAG_ACTORS, "flag_actors") \
	X(MF_FEATURES,    "features") \
	X(MF_ROUTES,      "routes")

typedef enum MfTableId
{
#define MF_X_TABLE_ENUM(id, name) id,
	MF_SCHEMA_TABLES(MF_X_TABLE_ENUM)
#undef MF_X_TABLE_ENUM
	MF_NTABLES
} MfTableId;

/*
 * X(type, SQL name): the column types, named as format_type names them.
 * schema.c gives each its Oid (MF_TYPEOID_<type>).
 */
#define MF_SCHEMA_TYPES(X) \
	X(TEXT,    "text") \
	X(BOOLEAN, "boolean") \
	X(NUMERIC, "numeric") \
	X(INTEGER, "integer") \
	X(JSONB,   "jsonb")

typedef enum MfSchemaType
{
#define MF_X_TYPE_ENUM(type, name) MF_TYPE_##type,
	MF_SCHEMA_TYPES(MF_X_TYPE_ENUM)
#undef MF_X_TYPE_ENUM
	MF_NTYPES
} MfSchemaType;

/*
 * X(table, id, name, type, key, reader, def, uses): every column, in each
 * table's DDL order.
 *   id      MF_SCHEMA_<id> below; for the cache's columns also MF_COL_<id>
 *   type    one of MF_SCHEMA_TYPES
 *   key     1 if part of the table's primary key
 *   reader  CACHE if the routing cache reads the column, else NONE
 *   def     the bit of DefProvider/DefModel/DefFlag/DefFeature.present
 *           (definitions.h) that gives the column in a document, 0 for a
 *           key; expanded only where definitions.h is included
 *   uses    the SPEC §3 rules (F flag evaluation, H hashing, R routing) and
 *           features that read or write it
 * Every column is written by load_definitions and read by dump_definitions.
 */
#define MF_SCHEMA_COLUMNS(X) \
	X(MF_PROVIDERS,   PROVIDER_NAME,          "name",                 TEXT,    1, CACHE, 0,                             "R, definitions") \
	X(MF_PROVIDERS,   PROVIDER_AVAILABLE,     "available",            BOOLEAN, 0, CACHE, DEF_PROVIDER_AVAILABLE,        "R, definitions (state)") \
	X(MF_PROVIDERS,   PROVIDER_NOTE,          "note",                 TEXT,    0, NONE,  DEF_PROVIDER_NOTE,             "definitions") \
	X(MF_MODELS,      MODEL_NAME,             "name",                 TEXT,    1, CACHE, 0,                             "R, definitions") \
	X(MF_MODELS,      MODEL_PROVIDER,         "provider",             TEXT,    0, CACHE, DEF_MODEL_PROVIDER,            "R, definitions") \
	X(MF_MODELS,      MODEL_PARAMS,           "params",               JSONB,   0, CACHE, DEF_MODEL_PARAMS,              "R, definitions") \
	X(MF_MODELS,      MODEL_ENABLED,          "enabled",              BOOLEAN, 0, CACHE, DEF_MODEL_ENABLED,             "R, definitions") \
	X(MF_MODELS,      MODEL_DESCRIPTION,      "description",          TEXT,    0, NONE,  DEF_MODEL_DESCRIPTION,         "definitions") \
	X(MF_FLAGS,       FLAG_NAME,              "name",                 TEXT,    1, CACHE, 0,                             "F, definitions") \
	X(MF_FLAGS,       FLAG_ENABLED,           "enabled",              BOOLEAN, 0, CACHE, DEF_FLAG_ENABLED,              "F, definitions (state)") \
	X(MF_FLAGS,       FLAG_PCT_ACTORS,        "percentage_of_actors", NUMERIC, 0, CACHE, DEF_FLAG_PERCENTAGE_OF_ACTORS, "F, H, definitions (state)") \
	X(MF_FLAGS,       FLAG_PCT_TIME,          "percentage_of_time",   NUMERIC, 0, CACHE, DEF_FLAG_PERCENTAGE_OF_TIME,   "F, definitions (state)") \
	X(MF_FLAGS,       FLAG_TYPE,              "type",                 TEXT,    0, NONE,  DEF_FLAG_TYPE,                 "definitions (GitLab metadata)") \
	X(MF_FLAGS,       FLAG_DEFAULT,           "default_enabled",      BOOLEAN, 0, CACHE, DEF_FLAG_DEFAULT_ENABLED,      "F, definitions (GitLab metadata)") \
	X(MF_FLAGS,       FLAG_GROUP,             "group",                TEXT,    0, NONE,  DEF_FLAG_GROUP,                "definitions (GitLab metadata)") \
	X(MF_FLAGS,       FLAG_MILESTONE,         "milestone",            TEXT,    0, NONE,  DEF_FLAG_MILESTONE,            "definitions (GitLab metadata)") \
	X(MF_FLAGS,       FLAG_DESCRIPTION,       "description",          TEXT,    0, NONE,  DEF_FLAG_DESCRIPTION,          "definitions (GitLab metadata)") \
	X(MF_FLAGS,       FLAG_INTRODUCED_BY_URL, "introduced_by_url",    TEXT,    0, NONE,  DEF_FLAG_INTRODUCED_BY_URL,    "definitions (GitLab metadata)") \
	X(MF_FLAGS,       FLAG_ROLLOUT_ISSUE_URL, "rollout_issue_url",    TEXT,    0, NONE,  DEF_FLAG_ROLLOUT_ISSUE_URL,    "definitions (GitLab metadata)") \
	X(MF_FLAGS,       FLAG_FEATURE_ISSUE_URL, "feature_issue_url",    TEXT,    0, NONE,  DEF_FLAG_FEATURE_ISSUE_URL,    "definitions (GitLab metadata)") \
	X(MF_FLAGS,       FLAG_LOG_STATE_CHANGES, "log_state_changes",    BOOLEAN, 0, NONE,  DEF_FLAG_LOG_STATE_CHANGES,    "definitions (GitLab metadata)") \
	X(MF_FLAG_ACTORS, ACTOR_FLAG,             "flag",                 TEXT,    1, CACHE, 0,                             "F, definitions (state: actors, opt_outs)") \
	X(MF_FLAG_ACTORS, ACTOR_ACTOR,            "actor",                TEXT,    1, CACHE, 0,                             "F, definitions (state: actors, opt_outs)") \
	X(MF_FLAG_ACTORS, ACTOR_OPT_OUT,          "opt_out",              BOOLEAN, 0, CACHE, 0,                             "F, definitions (state: opt_outs)") \
	X(MF_FEATURES,    FEATURE_NAME,           "name",                 TEXT,    1, CACHE, 0,                             "R, definitions") \
	X(MF_FEATURES,    FEATURE_DESCRIPTION,    "description",          TEXT,    0, NONE,  DEF_FEATURE_DESCRIPTION,       "definitions") \
	X(MF_ROUTES,      ROUTE_FEATURE,          "feature",              TEXT,    1, CACHE, 0,                             "R, definitions (routes)") \
	X(MF_ROUTES,      ROUTE_POSITION,         "position",             INTEGER, 1, CACHE, 0,                             "R, definitions (routes)") \
	X(MF_ROUTES,      ROUTE_FLAG,             "flag",                 TEXT,    0, CACHE, 0,                             "R, definitions (routes)") \
	X(MF_ROUTES,      ROUTE_MODEL,            "model",                TEXT,    0, CACHE, 0,                             "R, definitions (routes)") \
	X(MF_ROUTES,      ROUTE_PARAMS,           "params",               JSONB,   0, CACHE, 0,                             "R, definitions (routes)") \
	X(MF_ROUTES,      ROUTE_NOTE,             "note",                 TEXT,    0, NONE,  0,                             "definitions (routes)")

typedef enum MfSchemaColumnId
{
#define MF_X_SCHEMA_ENUM(table, id, name, type, key, reader, def, uses) MF_SCHEMA_##id,
	MF_SCHEMA_COLUMNS(MF_X_SCHEMA_ENUM)
#undef MF_X_SCHEMA_ENUM
	MF_SCHEMA_NCOLUMNS
} MfSchemaColumnId;

#endif							/* MODELFLAGS_SCHEMA_CATALOGUE_H */
