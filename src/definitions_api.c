/*
 * definitions_api.c — load_definitions and dump_definitions, the PostgreSQL
 * shell around the definitions parser (src/def_*.c behind definitions.h).
 *
 * load_definitions parses the document with the pure core, reports its
 * first error (with line:column and path) as an ERROR with the SQLSTATE of
 * its kind, checks references against the document and the tables, then
 * applies everything through SPI with plain INSERT ... ON CONFLICT and
 * DELETE statements, so that the validation, audit, NOTIFY and invalidation
 * triggers fire as for any other write.  It all runs in the caller's
 * transaction: an error anywhere leaves nothing applied.
 *
 * Semantics (README.md, "Definitions as code"):
 *   - a definition is upserted by name; only the fields the document gives
 *     are written (null clears a field), so a GitLab flag file never resets
 *     a rollout; a row that would not change is not updated (no audit row);
 *   - a feature that lists routes gets exactly those routes; the routes of
 *     a unit_primitives.yml feature are its routes without a flag, placed
 *     after its flagged ones;
 *   - flags that list actors (opt_outs) get exactly those actor gates
 *     (opt-outs);
 *   - nothing else is deleted, unless prune => true: then, for each section
 *     the document has, the rows it does not name are deleted.
 *
 * Each statement handles all rows of one table that give the same fields
 * (jsonb_to_recordset over the core's JSON), so a document costs a handful
 * of statements, not one per row.
 *
 * dump_definitions reads the tables through SPI into a DefDocument and lets
 * the core write it, ordered by name (COLLATE "C") so that dumps compare
 * byte for byte.
 *
 * The tables' and columns' names in the statements come from the catalogue
 * of the tables (schema_catalogue.h, schema.c): the SELECT lists of the
 * dump, the INSERT, UPDATE and ON CONFLICT lists of the load, the row types
 * of jsonb_to_recordset and the conditions on keys are built from it, and
 * the rows the parser writes (def_rows.c) take their keys from it too.  The
 * format strings name the columns they use with positional arguments
 * (%1$s ...), filled from the catalogue.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "definitions.h"
#include "schema.h"

PG_FUNCTION_INFO_V1(modelflags_load_definitions);
PG_FUNCTION_INFO_V1(modelflags_dump_definitions);

/* The catalogue's table, and its key column, of each DefTable. */
static const MfTableId table_of[] = {
	[DEF_TABLE_PROVIDERS] = MF_PROVIDERS,
	[DEF_TABLE_MODELS] = MF_MODELS,
	[DEF_TABLE_FLAGS] = MF_FLAGS,
	[DEF_TABLE_FEATURES] = MF_FEATURES,
};
static const MfSchemaColumnId key_of[] = {
	[DEF_TABLE_PROVIDERS] = MF_SCHEMA_PROVIDER_NAME,
	[DEF_TABLE_MODELS] = MF_SCHEMA_MODEL_NAME,
	[DEF_TABLE_FLAGS] = MF_SCHEMA_FLAG_NAME,
	[DEF_TABLE_FEATURES] = MF_SCHEMA_FEATURE_NAME,
};

/* The table's name (the schema is modelflags). */
static const char *
table_sql(DefTable t)
{
	return mf_table_names[table_of[t]];
}

/* A column's name, as an identifier: C(ROUTE_FEATURE). */
#define C(id) mf_column_sql(MF_SCHEMA_##id)

/*
 * A list of table's columns (which) as SQL, each prefixed, with types for a
 * row type: palloc'd.
 */
static char *
columns_sql(MfTableId table, MfColumnSet which, const char *prefix, bool types)
{
	StringInfoData buf;

	initStringInfo(&buf);
	mf_append_columns(&buf, table, which, prefix, types);
	return buf.data;
}

/* "a.k1 = b.k1 AND a.k2 = b.k2" over table's key columns. */
static char *
keys_match_sql(MfTableId table, const char *a, const char *b)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int c = 0; c < MF_SCHEMA_NCOLUMNS; c++)
	{
		const char *name;

		if (mf_schema_columns[c].table != table || !mf_schema_columns[c].key)
			continue;
		name = mf_column_sql((MfSchemaColumnId) c);
		appendStringInfo(&buf, "%s%s%s = %s%s", buf.len ? " AND " : "", a, name, b, name);
	}
	return buf.data;
}

/* ----------------------------------------------------------------------
 * Encodings: the core works in UTF-8
 * ---------------------------------------------------------------------- */

static bool
server_is_utf8(void)
{
	int			enc = GetDatabaseEncoding();

	return enc == PG_UTF8 || enc == PG_SQL_ASCII;
}

/* A server-encoded string as UTF-8 (palloc'd or s itself), NUL-terminated. */
static char *
to_utf8(const char *s, int len)
{
	if (server_is_utf8())
		return pnstrdup(s, len);
	return pg_server_to_any(pnstrdup(s, len), len, PG_UTF8);
}

/* A UTF-8 string in the server encoding. */
static char *
from_utf8(const char *s)
{
	if (server_is_utf8())
		return (char *) s;
	return pg_any_to_server(s, strlen(s), PG_UTF8);
}

/* ----------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------- */

static int
sqlstate_of(DefErrorKind kind)
{
	switch (kind)
	{
		case DEF_ERR_SYNTAX:
			return ERRCODE_INVALID_TEXT_REPRESENTATION;
		case DEF_ERR_ENCODING:
			return ERRCODE_CHARACTER_NOT_IN_REPERTOIRE;
		case DEF_ERR_UNSUPPORTED:
			return ERRCODE_FEATURE_NOT_SUPPORTED;
		case DEF_ERR_DUPLICATE_KEY:
			return ERRCODE_DUPLICATE_JSON_OBJECT_KEY_VALUE;
		case DEF_ERR_VALUE:
			return ERRCODE_INVALID_PARAMETER_VALUE;
		case DEF_ERR_RANGE:
			return ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
		case DEF_ERR_LENGTH:
			return ERRCODE_STRING_DATA_RIGHT_TRUNCATION;
		case DEF_ERR_DUPLICATE:
			return ERRCODE_DUPLICATE_OBJECT;
		case DEF_ERR_REFERENCE:
			return ERRCODE_FOREIGN_KEY_VIOLATION;
		case DEF_ERR_LIMIT:
			return ERRCODE_PROGRAM_LIMIT_EXCEEDED;
		case DEF_ERR_MEMORY:
			return ERRCODE_OUT_OF_MEMORY;
	}
	return ERRCODE_INTERNAL_ERROR;
}

/*
 * Raises a document error: the core's message, the position and path in the
 * detail ("Found at 12:9 in features[2].routes[0].model."), its hint.
 */
static void
report_error(const DefError *e, int more, int sqlstate)
{
	StringInfoData detail;

	initStringInfo(&detail);
	if (e->line > 0)
		appendStringInfo(&detail, "Found at %d:%d", e->line, e->column);
	if (e->path[0])
		appendStringInfo(&detail, "%s %s", e->line > 0 ? " in" : "Found in", from_utf8(e->path));
	if (detail.len > 0)
		appendStringInfoChar(&detail, '.');
	if (more > 0)
		appendStringInfo(&detail, "%sThe document has %d more error%s; modelflags-lint lists them all.",
						 detail.len ? " " : "", more, more == 1 ? "" : "s");

	ereport(ERROR,
			(errcode(sqlstate ? sqlstate : sqlstate_of(e->kind)),
			 errmsg("%s", from_utf8(e->message)),
			 detail.len ? errdetail("%s", detail.data) : 0,
			 e->hint[0] ? errhint("%s", from_utf8(e->hint)) : 0));
}

/* Raises an error about a value written at site (sqlstate 0: the kind's). */
static void
report_at(DefErrorKind kind, int sqlstate, const DefSite *site, const char *hint, const char *fmt,...)
	pg_attribute_printf(5, 6);

static void
report_at(DefErrorKind kind, int sqlstate, const DefSite *site, const char *hint, const char *fmt,...)
{
	DefError	e;
	va_list		ap;

	memset(&e, 0, sizeof(e));
	e.kind = kind;
	e.line = site->line;
	e.column = site->column;
	strlcpy(e.path, site->path ? site->path : "", sizeof(e.path));
	strlcpy(e.hint, hint ? hint : "", sizeof(e.hint));
	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	report_error(&e, 0, sqlstate);
}

/* ----------------------------------------------------------------------
 * SPI helpers
 * ---------------------------------------------------------------------- */

/*
 * Runs sql with text arguments (NULL pointers are SQL NULLs) and returns
 * the number of rows it processed.
 */
/*
 * Whether run() reads only: dump_definitions sets it, so that all its
 * queries read with the one snapshot of its statement (under READ COMMITTED a
 * read-write SPI query would take a new snapshot each, and features and
 * routes could come from different states); load_definitions clears it.
 */
static bool run_read_only = false;

static uint64
run(const char *sql, int nargs, const char **args)
{
	Oid			types[4] = {0};
	Datum		values[4] = {0};
	char		nulls[4] = {' ', ' ', ' ', ' '};
	int			rc;

	Assert(nargs <= 4);
	for (int i = 0; i < nargs; i++)
	{
		types[i] = TEXTOID;
		values[i] = args[i] ? CStringGetTextDatum(args[i]) : (Datum) 0;
		nulls[i] = args[i] ? ' ' : 'n';
	}
	rc = SPI_execute_with_args(sql, nargs, types, values, nulls, run_read_only, 0);
	if (rc < 0)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
	return SPI_processed;
}

/* The core's malloc'd JSON, in the server encoding, palloc'd; frees it. */
static char *
take_json(char *json)
{
	char	   *copy;

	if (json == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	copy = pstrdup(from_utf8(json));
	free(json);
	return copy;
}

/* A JSON array of names, for "name IN (SELECT jsonb_array_elements_text(...))". */
typedef struct NameList
{
	StringInfoData buf;
	int			count;
} NameList;

static void
names_init(NameList *l)
{
	initStringInfo(&l->buf);
	appendStringInfoChar(&l->buf, '[');
	l->count = 0;
}

static void
names_add(NameList *l, const char *name)
{
	if (l->count++ > 0)
		appendStringInfoChar(&l->buf, ',');
	escape_json(&l->buf, name);
}

static char *
names_done(NameList *l)
{
	appendStringInfoChar(&l->buf, ']');
	return from_utf8(l->buf.data);
}

/* ----------------------------------------------------------------------
 * load_definitions
 * ---------------------------------------------------------------------- */

/* A reference to check in the database: its name and where it was written. */
typedef struct Ref
{
	const char *name;
	const DefSite *site;
} Ref;

typedef struct RefList
{
	Ref		   *refs;
	int			count;
	int			cap;
} RefList;

static void
refs_add(RefList *l, const char *name, const DefSite *site)
{
	if (l->count == l->cap)
	{
		l->cap = l->cap ? l->cap * 2 : 16;
		l->refs = l->refs ? repalloc(l->refs, sizeof(Ref) * l->cap) : palloc(sizeof(Ref) * l->cap);
	}
	l->refs[l->count].name = name;
	l->refs[l->count].site = site;
	l->count++;
}

/*
 * Notes a reference from the document to a row of table t: fine if the
 * document defines it; otherwise it must be in the table (checked later),
 * unless prune will empty the table of what the document does not name.
 */
static void
note_ref(const DefDocument *doc, bool prune, DefTable t, const char *name,
		 const DefSite *site, RefList *pending)
{
	if (name == NULL || def_find(doc, t, name) >= 0)
		return;
	if (prune && doc->has_section[t])
		report_at(DEF_ERR_REFERENCE, 0, site, "With prune => true, the document must define everything it refers to.",
				  "unknown %s \"%s\"", t == DEF_TABLE_PROVIDERS ? "provider" : t == DEF_TABLE_MODELS ? "model" : "flag",
				  name);
	refs_add(pending, name, site);
}

/* Checks that the pending references to table t exist there. */
static void
check_refs_in_table(DefTable t, RefList *pending)
{
	NameList	names;
	const char *args[1];
	char		sql[512];

	if (pending->count == 0)
		return;
	names_init(&names);
	for (int i = 0; i < pending->count; i++)
		names_add(&names, pending->refs[i].name);
	args[0] = names_done(&names);
	snprintf(sql, sizeof(sql),
			 "SELECT u.ord FROM pg_catalog.jsonb_array_elements_text($1::pg_catalog.jsonb) "
			 "WITH ORDINALITY AS u(name, ord) "
			 "WHERE NOT EXISTS (SELECT 1 FROM modelflags.%s x WHERE x.%s = u.name) "
			 "ORDER BY u.ord LIMIT 1", table_sql(t), mf_column_sql(key_of[t]));
	run(sql, 1, args);
	if (SPI_processed > 0)
	{
		bool		isnull;
		int64		ord = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		const Ref  *r = &pending->refs[ord - 1];
		const char *kind = t == DEF_TABLE_PROVIDERS ? "provider" : t == DEF_TABLE_MODELS ? "model" : "flag";
		char		hint[128];

		snprintf(hint, sizeof(hint), "Define it under %ss: in the document, or create it first.", kind);
		report_at(DEF_ERR_REFERENCE, 0, r->site, hint, "unknown %s \"%s\"", kind, r->name);
	}
}

/* Every provider, model and flag the document refers to must exist. */
static void
check_references(const DefDocument *doc, bool prune)
{
	RefList		providers = {0},
				models = {0},
				flags = {0};

	for (int i = 0; i < doc->nmodels; i++)
		if (doc->models[i].present & DEF_MODEL_PROVIDER)
			note_ref(doc, prune, DEF_TABLE_PROVIDERS, doc->models[i].provider,
					 &doc->models[i].provider_site, &providers);
	for (int i = 0; i < doc->nfeatures; i++)
	{
		const DefFeature *f = &doc->features[i];

		for (int j = 0; j < f->nroutes; j++)
		{
			note_ref(doc, prune, DEF_TABLE_MODELS, f->routes[j].model, &f->routes[j].model_site, &models);
			note_ref(doc, prune, DEF_TABLE_FLAGS, f->routes[j].flag, &f->routes[j].flag_site, &flags);
		}
	}
	check_refs_in_table(DEF_TABLE_PROVIDERS, &providers);
	check_refs_in_table(DEF_TABLE_MODELS, &models);
	check_refs_in_table(DEF_TABLE_FLAGS, &flags);
}

/*
 * Upserts the rows of one table, one statement per set of fields given:
 * new rows get the columns' defaults for the fields the document leaves
 * out, existing rows keep them; rows that would not change are left alone.
 */
static uint64
upsert_table(const DefDocument *doc, DefTable t)
{
	unsigned	columns = def_column_bits(t);
	const char *key = mf_column_sql(key_of[t]);
	unsigned   *masks;
	int			nmasks = 0;
	int			count;
	uint64		changed = 0;

	switch (t)
	{
		case DEF_TABLE_PROVIDERS:
			count = doc->nproviders;
			break;
		case DEF_TABLE_MODELS:
			count = doc->nmodels;
			break;
		case DEF_TABLE_FLAGS:
			count = doc->nflags;
			break;
		default:
			count = doc->nfeatures;
			break;
	}
	if (count == 0)
		return 0;
	/* the distinct sets of fields given, in order of first appearance */
	masks = palloc(sizeof(unsigned) * count);
	for (int i = 0; i < count; i++)
	{
		unsigned	present;
		bool		seen = false;

		switch (t)
		{
			case DEF_TABLE_PROVIDERS:
				present = doc->providers[i].present;
				break;
			case DEF_TABLE_MODELS:
				present = doc->models[i].present;
				break;
			case DEF_TABLE_FLAGS:
				present = doc->flags[i].present;
				break;
			default:
				present = doc->features[i].present;
				break;
		}
		present &= columns;
		for (int m = 0; m < nmasks && !seen; m++)
			seen = masks[m] == present;
		if (!seen)
			masks[nmasks++] = present;
	}
	for (int m = 0; m < nmasks; m++)
	{
		StringInfoData sql,
					cols,
					decl,
					excluded,
					current;
		const char *args[1];
		unsigned	mask = masks[m];

		initStringInfo(&sql);
		initStringInfo(&cols);
		initStringInfo(&decl);
		initStringInfo(&excluded);
		initStringInfo(&current);
		for (unsigned bit = 1; bit && bit <= columns; bit <<= 1)
		{
			const char *name;

			if (!(mask & bit))
				continue;
			name = quote_identifier(def_column_name(t, bit));
			appendStringInfo(&cols, ", %s", name);
			appendStringInfo(&decl, ", %s %s", name, def_column_type(t, bit));
			appendStringInfo(&excluded, "%sEXCLUDED.%s", excluded.len ? ", " : "", name);
			appendStringInfo(&current, "%st.%s", current.len ? ", " : "", name);
		}
		appendStringInfo(&sql,
						 "INSERT INTO modelflags.%1$s AS t (%2$s%3$s) "
						 "SELECT x.%2$s%3$s FROM pg_catalog.jsonb_to_recordset($1::pg_catalog.jsonb) AS x(%4$s%5$s) ",
						 table_sql(t), key, cols.data, columns_sql(table_of[t], MF_KEY_COLUMNS, "", true),
						 decl.data);
		if (mask == 0)
			appendStringInfo(&sql, "ON CONFLICT (%s) DO NOTHING", key);
		else
			appendStringInfo(&sql,
							 "ON CONFLICT (%s) DO UPDATE SET (%s) = ROW(%s) "
							 "WHERE (%s) IS DISTINCT FROM (%s)",
							 key, cols.data + 2, excluded.data, current.data, excluded.data);
		args[0] = take_json(def_rows_json(doc, t, mask));
		changed += run(sql.data, 1, args);
	}
	return changed;
}

/*
 * Actor gates and opt-outs of the flags whose definition lists them: the
 * lists replace what the table holds for those flags.
 */
static uint64
apply_actors(const DefDocument *doc)
{
	uint64		changed = 0;
	/* the key (flag, actor): as a list, with types, of d, "d.k = a.k AND ..." */
	const char *keys = columns_sql(MF_FLAG_ACTORS, MF_KEY_COLUMNS, "", false);
	const char *keys_typed = columns_sql(MF_FLAG_ACTORS, MF_KEY_COLUMNS, "", true);
	const char *d_keys = columns_sql(MF_FLAG_ACTORS, MF_KEY_COLUMNS, "d.", false);
	const char *keys_match = keys_match_sql(MF_FLAG_ACTORS, "d.", "a.");

	for (int pass = 0; pass < 2; pass++)
	{
		bool		opt_out = pass == 0;	/* opt-outs first, then gates */
		unsigned	bit = opt_out ? DEF_FLAG_OPT_OUTS : DEF_FLAG_ACTORS;
		NameList	names;
		const char *args[2];

		names_init(&names);
		for (int i = 0; i < doc->nflags; i++)
			if ((doc->flags[i].present & bit) && doc->flags[i].name)
				names_add(&names, doc->flags[i].name);
		if (names.count == 0)
			continue;
		args[0] = names_done(&names);
		args[1] = take_json(def_actors_json(doc, opt_out));

		changed += run(psprintf("DELETE FROM modelflags.flag_actors a "
								"WHERE a.%s IN (SELECT pg_catalog.jsonb_array_elements_text($1::pg_catalog.jsonb)) "
								"AND %sa.%s "
								"AND NOT EXISTS (SELECT 1 FROM pg_catalog.jsonb_to_recordset($2::pg_catalog.jsonb) "
								"AS d(%s) WHERE %s)",
								C(ACTOR_FLAG), opt_out ? "" : "NOT ", C(ACTOR_OPT_OUT), keys_typed, keys_match),
					   2, args);
		if (opt_out)
			changed += run(psprintf("INSERT INTO modelflags.flag_actors AS a (%1$s, %2$s) "
									"SELECT %3$s, true "
									"FROM pg_catalog.jsonb_to_recordset($1::pg_catalog.jsonb) AS d(%4$s) "
									"ON CONFLICT (%1$s) DO UPDATE SET %2$s = true WHERE NOT a.%2$s",
									keys, C(ACTOR_OPT_OUT), d_keys, keys_typed),
						   1, args + 1);
		else
		{
			/* An actor who opted out cannot be enabled (as set_actor says). */
			run(psprintf("SELECT d.i, d.j FROM pg_catalog.jsonb_to_recordset($1::pg_catalog.jsonb) "
						 "AS d(%s, i int, j int) "
						 "JOIN modelflags.flag_actors a ON %s "
						 "WHERE a.%s ORDER BY d.i, d.j LIMIT 1", keys_typed, keys_match, C(ACTOR_OPT_OUT)),
				1, args + 1);
			if (SPI_processed > 0)
			{
				bool		isnull;
				int			i = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
				int			j = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
				const DefActor *a = &doc->flags[i].actors[j];

				report_at(DEF_ERR_VALUE, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, &a->site,
						  "List the actor under opt_outs, or remove the opt-out first with modelflags.remove_opt_out.",
						  "actor \"%s\" has opted out of flag \"%s\"", a->actor, doc->flags[i].name);
			}
			changed += run(psprintf("INSERT INTO modelflags.flag_actors (%1$s) "
									"SELECT %2$s "
									"FROM pg_catalog.jsonb_to_recordset($1::pg_catalog.jsonb) AS d(%3$s) "
									"ON CONFLICT (%1$s) DO NOTHING", keys, d_keys, keys_typed),
						   1, args + 1);
		}
	}
	return changed;
}

/* Routes: exactly the listed ones (our format), or the unflagged ones (GitLab). */
static uint64
apply_routes(const DefDocument *doc)
{
	uint64		changed = 0;
	NameList	names;
	const char *args[2];

	names_init(&names);
	for (int i = 0; i < doc->nfeatures; i++)
	{
		const DefFeature *f = &doc->features[i];

		if (f->name && (f->present & DEF_FEATURE_ROUTES) && f->routes_mode == DEF_ROUTES_ALL)
			names_add(&names, f->name);
	}
	if (names.count > 0)
	{
		args[0] = names_done(&names);
		args[1] = take_json(def_routes_json(doc, DEF_ROUTES_ALL));
		changed += run(psprintf("DELETE FROM modelflags.routes r "
								"WHERE r.%s IN (SELECT pg_catalog.jsonb_array_elements_text($1::pg_catalog.jsonb)) "
								"AND NOT EXISTS (SELECT 1 FROM pg_catalog.jsonb_to_recordset($2::pg_catalog.jsonb) "
								"AS d(%s) WHERE %s)",
								C(ROUTE_FEATURE), columns_sql(MF_ROUTES, MF_KEY_COLUMNS, "", true),
								keys_match_sql(MF_ROUTES, "d.", "r.")),
					   2, args);
		/* every column, the key ones, the others, as "EXCLUDED.", "r." */
		changed += run(psprintf("INSERT INTO modelflags.routes AS r (%1$s) "
								"SELECT %2$s FROM pg_catalog.jsonb_to_recordset($1::pg_catalog.jsonb) AS d(%3$s) "
								"ON CONFLICT (%4$s) DO UPDATE SET (%5$s) = ROW(%6$s) "
								"WHERE (%7$s) IS DISTINCT FROM (%6$s)",
								columns_sql(MF_ROUTES, MF_ALL_COLUMNS, "", false),
								columns_sql(MF_ROUTES, MF_ALL_COLUMNS, "d.", false),
								columns_sql(MF_ROUTES, MF_ALL_COLUMNS, "", true),
								columns_sql(MF_ROUTES, MF_KEY_COLUMNS, "", false),
								columns_sql(MF_ROUTES, MF_VALUE_COLUMNS, "", false),
								columns_sql(MF_ROUTES, MF_VALUE_COLUMNS, "EXCLUDED.", false),
								columns_sql(MF_ROUTES, MF_VALUE_COLUMNS, "r.", false)),
					   1, args + 1);
	}

	/*
	 * unit_primitives.yml: default model k of a feature goes to position
	 * base + k, base being one past the feature's last flagged route, so that
	 * failover and migration routes keep precedence.  Unflagged routes at
	 * other positions are deleted; flagged routes are not touched.
	 */
	args[0] = take_json(def_routes_json(doc, DEF_ROUTES_UNFLAGGED));
	if (strcmp(args[0], "[]") != 0)
	{
		const char *with;

		/* %1$s feature, %2$s position, %3$s flag, %4$s model */
		with = psprintf("WITH d AS (SELECT * FROM pg_catalog.jsonb_to_recordset($1::pg_catalog.jsonb) "
						"AS d(%1$s %5$s, %2$s %6$s, %4$s %7$s)), "
						"b AS (SELECT f.%1$s, coalesce((SELECT max(r.%2$s) FROM modelflags.routes r "
						"WHERE r.%1$s = f.%1$s AND r.%3$s IS NOT NULL), 0) + 1 AS base "
						"FROM (SELECT DISTINCT %1$s FROM d) f) ",
						C(ROUTE_FEATURE), C(ROUTE_POSITION), C(ROUTE_FLAG), C(ROUTE_MODEL),
						mf_type_names[mf_schema_columns[MF_SCHEMA_ROUTE_FEATURE].type],
						mf_type_names[mf_schema_columns[MF_SCHEMA_ROUTE_POSITION].type],
						mf_type_names[mf_schema_columns[MF_SCHEMA_ROUTE_MODEL].type]);
		/* %1$s the WITH, %2$s feature, %3$s position, %4$s flag */
		changed += run(psprintf("%1$s DELETE FROM modelflags.routes r USING b "
								"WHERE r.%2$s = b.%2$s AND r.%4$s IS NULL "
								"AND NOT EXISTS (SELECT 1 FROM d WHERE d.%2$s = r.%2$s "
								"AND b.base + d.%3$s = r.%3$s)",
								with, C(ROUTE_FEATURE), C(ROUTE_POSITION), C(ROUTE_FLAG)), 1, args);
		/* %1$s the WITH, %2$s feature, %3$s position, %4$s model */
		changed += run(psprintf("%1$s INSERT INTO modelflags.routes AS r (%2$s, %3$s, %4$s) "
								"SELECT d.%2$s, b.base + d.%3$s, d.%4$s FROM d JOIN b USING (%2$s) "
								"ON CONFLICT (%2$s, %3$s) DO UPDATE SET %4$s = EXCLUDED.%4$s "
								"WHERE r.%4$s IS DISTINCT FROM EXCLUDED.%4$s",
								with, C(ROUTE_FEATURE), C(ROUTE_POSITION), C(ROUTE_MODEL)), 1, args);
	}
	return changed;
}

/*
 * prune => true: for each section the document has, deletes the rows it
 * does not name; a row still referred to is an error (as delete_flag says).
 */
static uint64
apply_prune(const DefDocument *doc)
{
	static const DefTable order[] = {DEF_TABLE_FEATURES, DEF_TABLE_FLAGS, DEF_TABLE_MODELS, DEF_TABLE_PROVIDERS};
	uint64		changed = 0;

	for (int k = 0; k < lengthof(order); k++)
	{
		DefTable	t = order[k];
		NameList	names;
		const char *args[1];
		const char *user = NULL;

		if (!doc->has_section[t])
			continue;
		names_init(&names);
		for (int i = 0; i < doc->nproviders && t == DEF_TABLE_PROVIDERS; i++)
			names_add(&names, doc->providers[i].name);
		for (int i = 0; i < doc->nmodels && t == DEF_TABLE_MODELS; i++)
			names_add(&names, doc->models[i].name);
		for (int i = 0; i < doc->nflags && t == DEF_TABLE_FLAGS; i++)
			names_add(&names, doc->flags[i].name);
		for (int i = 0; i < doc->nfeatures && t == DEF_TABLE_FEATURES; i++)
			names_add(&names, doc->features[i].name);
		args[0] = names_done(&names);

		/* who uses a row: %1$s the column that refers to it, %2$s-%3$s where */
		if (t == DEF_TABLE_FLAGS || t == DEF_TABLE_MODELS)
			user = psprintf("SELECT r.%1$s, format('%%s[%%s]', r.%2$s, r.%3$s) FROM modelflags.routes r "
							"WHERE r.%1$s NOT IN (SELECT pg_catalog.jsonb_array_elements_text($1::pg_catalog.jsonb)) "
							"ORDER BY r.%2$s COLLATE \"C\", r.%3$s LIMIT 1",
							t == DEF_TABLE_FLAGS ? C(ROUTE_FLAG) : C(ROUTE_MODEL),
							C(ROUTE_FEATURE), C(ROUTE_POSITION));
		else if (t == DEF_TABLE_PROVIDERS)
			user = psprintf("SELECT m.%1$s, format('model %%s', m.%2$s) FROM modelflags.models m "
							"WHERE m.%1$s NOT IN (SELECT pg_catalog.jsonb_array_elements_text($1::pg_catalog.jsonb)) "
							"ORDER BY m.%2$s COLLATE \"C\" LIMIT 1", C(MODEL_PROVIDER), C(MODEL_NAME));
		if (user)
		{
			run(user, 1, args);
			if (SPI_processed > 0)
			{
				char	   *name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
				char	   *by = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

				ereport(ERROR,
						(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
						 errmsg("cannot prune %s \"%s\": it is still used by %s",
								t == DEF_TABLE_FLAGS ? "flag" : t == DEF_TABLE_MODELS ? "model" : "provider",
								name, by),
						 errhint("Define it in the document, or remove what uses it.")));
			}
		}
		changed += run(psprintf("DELETE FROM modelflags.%s x WHERE x.%s NOT IN "
								"(SELECT pg_catalog.jsonb_array_elements_text($1::pg_catalog.jsonb))",
								table_sql(t), mf_column_sql(key_of[t])), 1, args);
	}
	return changed;
}

/* Applies a checked document; returns the number of rows changed. */
static uint64
apply_document(const DefDocument *doc, bool prune, const char *note)
{
	uint64		changed = 0;
	char	   *old_note = NULL;
	bool		pushed = false;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* the note goes to modelflags.changes through modelflags.note */
	if (note)
	{
		const char *args[1] = {note};

		run("SELECT modelflags._push_note($1)", 1, args);
		old_note = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		pushed = true;
	}

	check_references(doc, prune);
	changed += upsert_table(doc, DEF_TABLE_PROVIDERS);
	changed += upsert_table(doc, DEF_TABLE_MODELS);
	changed += upsert_table(doc, DEF_TABLE_FLAGS);
	changed += apply_actors(doc);
	changed += upsert_table(doc, DEF_TABLE_FEATURES);
	changed += apply_routes(doc);
	if (prune)
		changed += apply_prune(doc);

	if (pushed)
	{
		const char *args[1] = {old_note};

		run("SELECT modelflags._pop_note($1)", 1, args);
	}
	SPI_finish();
	return changed;
}

static int
count_definitions(const DefDocument *doc)
{
	int			n = doc->nproviders + doc->nmodels + doc->nflags + doc->nfeatures;

	for (int i = 0; i < doc->nfeatures; i++)
		n += doc->features[i].nroutes;
	return n;
}

/*
 * load_definitions(document text, prune boolean, note text,
 *                  OUT format text, OUT definitions integer, OUT changed bigint)
 */
Datum
modelflags_load_definitions(PG_FUNCTION_ARGS)
{
	text	   *document;
	bool		prune = PG_ARGISNULL(1) ? false : PG_GETARG_BOOL(1);
	char	   *note = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	char	   *utf8;
	int			len;
	DefDocument *doc;
	/* set inside PG_TRY, read after it */
	const char *volatile format = NULL;
	volatile int definitions = 0;
	volatile uint64 changed = 0;
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	run_read_only = false;
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("definitions document must not be null")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	document = PG_GETARG_TEXT_PP(0);
	len = VARSIZE_ANY_EXHDR(document);
	if (len > DEF_MAX_DOCUMENT_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("definitions document is too large (%d bytes)", len),
				 errhint("The limit is %d bytes (8 MiB).", DEF_MAX_DOCUMENT_BYTES)));
	utf8 = to_utf8(VARDATA_ANY(document), len);
	doc = def_parse(utf8, strlen(utf8));
	if (doc == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));

	PG_TRY();
	{
		if (doc->nerrors > 0)
			report_error(&doc->errors[0], doc->nerrors - 1, 0);
		if (prune && doc->format != DEF_FORMAT_MODELFLAGS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("prune => true needs a document in the modelflags format, not %s",
							def_format_name(doc->format)),
					 errdetail("A GitLab file describes part of the definitions; pruning would delete the rest."),
					 errhint("Load it without prune.")));
		changed = apply_document(doc, prune, note);
		format = def_format_name(doc->format);
		definitions = count_definitions(doc);
	}
	PG_FINALLY();
	{
		def_free(doc);
	}
	PG_END_TRY();

	values[0] = CStringGetTextDatum((const char *) format);
	values[1] = Int32GetDatum(definitions);
	values[2] = Int64GetDatum((int64) changed);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* ----------------------------------------------------------------------
 * dump_definitions
 * ---------------------------------------------------------------------- */

/*
 * A dump holds the parser's limits (DEF_MAX_*), so that whatever
 * dump_definitions writes, load_definitions reads, and its memory is
 * bounded by them, not by the size of the tables:
 *   1. before anything is read, counts and sizes from the tables refuse
 *      what is sure to exceed them (a flag with more actor gates than one
 *      list holds, more rows than one list, more bytes or values than a
 *      document) — a state that size belongs in pg_dump or COPY;
 *   2. while the document is built, the values and bytes it is sure to
 *      write are counted (params, texts), so that it stops at the limits;
 *   3. the text is written with the byte limit, counting the nodes the
 *      parser will count, and both are checked exactly.
 * Numbers have no length limit (the parser has none).  Nesting: a YAML
 * dump carries params nested about 20,000 levels (DEF_MAX_YAML_FLOW_WORK),
 * more than jsonb holds with the default max_stack_depth (about 14,500), so
 * no value the tables accept with the default settings makes the default
 * dump fail, only sizes do.  JSON is read with cJSON, at most
 * DEF_MAX_JSON_DEPTH levels: a JSON dump refuses deeper params as soon as
 * it reads them (step 2), naming them.
 */
typedef struct DumpBudget
{
	bool		state;
	bool		json;			/* JSON output: DEF_MAX_JSON_DEPTH */
	uint64		nodes;			/* the dump has at least this many nodes */
	uint64		bytes;			/* ... and at least this many bytes */
} DumpBudget;

#define DUMP_HINT_STATE "Use pg_dump or COPY for state of that size, or dump_definitions(state => false)."
#define DUMP_HINT "Use pg_dump or COPY for definitions of that size."

/* Counts what the dump is sure to write for what (e.g. model "m"). */
static void
budget_add(DumpBudget *b, uint64 nodes, uint64 bytes, const char *what)
{
	b->nodes += nodes;
	b->bytes += bytes;
	if (b->nodes > DEF_MAX_NODES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the definitions dump would hold more than %d values", DEF_MAX_NODES),
				 errdetail("The limit was passed at %s; load_definitions reads at most %d values (keys, values and list items) in one document.",
						   what, DEF_MAX_NODES),
				 errhint("%s", b->state ? DUMP_HINT_STATE : DUMP_HINT)));
	if (b->bytes > DEF_MAX_DOCUMENT_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the definitions dump would be larger than %d bytes", DEF_MAX_DOCUMENT_BYTES),
				 errdetail("The limit was passed at %s; load_definitions reads documents of at most %d bytes (8 MiB).",
						   what, DEF_MAX_DOCUMENT_BYTES),
				 errhint("%s", b->state ? DUMP_HINT_STATE : DUMP_HINT)));
}

static int64
column_int8(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

/*
 * Step 1: counts and sizes from the tables, before any row is read.  Starts
 * the budget with what they are sure to write: the names, the actors, and
 * at least 3 nodes per definition (a mapping, "name" and its value), 5 per
 * route (position and model), 1 per actor.
 */
static void
check_dump_size(DumpBudget *budget)
{
	static const char *const what[] = {"providers", "models", "flags", "features"};
	SPITupleTable *tt;
	int64		routes;
	StringInfoData sql;

	/* rows and bytes of names of each table, then the routes */
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (int t = 0; t < 4; t++)
		appendStringInfo(&sql, "(SELECT count(*) FROM modelflags.%1$s), "
						 "(SELECT coalesce(sum(octet_length(%2$s)), 0) FROM modelflags.%1$s), ",
						 table_sql((DefTable) t), mf_column_sql(key_of[t]));
	appendStringInfoString(&sql, "(SELECT count(*) FROM modelflags.routes)");
	run(sql.data, 0, NULL);
	tt = SPI_tuptable;
	for (int t = 0; t < 4; t++)
	{
		int64		rows = column_int8(tt->vals[0], tt->tupdesc, 2 * t + 1);

		if (rows > DEF_MAX_ITEMS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("there are " INT64_FORMAT " %s, more than a definitions document can list",
							rows, what[t]),
					 errdetail("load_definitions reads at most %d items in one list.", DEF_MAX_ITEMS),
					 errhint(DUMP_HINT)));
		budget_add(budget, 3 * (uint64) rows,
				   (uint64) column_int8(tt->vals[0], tt->tupdesc, 2 * t + 2), what[t]);
	}
	routes = column_int8(tt->vals[0], tt->tupdesc, 9);
	budget_add(budget, 5 * (uint64) routes, 0, "the routes");

	run(psprintf("SELECT %1$s, count(*) FROM modelflags.routes GROUP BY %1$s "
				 "ORDER BY 2 DESC, 1 LIMIT 1", C(ROUTE_FEATURE)), 0, NULL);
	if (SPI_processed > 0 && column_int8(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2) > DEF_MAX_ITEMS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("feature \"%s\" has " INT64_FORMAT " routes, more than a definitions document can list",
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
						column_int8(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2)),
				 errdetail("load_definitions reads at most %d items in one list.", DEF_MAX_ITEMS),
				 errhint(DUMP_HINT)));

	if (!budget->state)
		return;
	/* %1$s flag, %2$s opt_out, %3$s actor */
	run(psprintf("SELECT %1$s, %2$s, n, sum(n) OVER (), sum(b) OVER () FROM "
				 "(SELECT %1$s, %2$s, count(*) AS n, sum(octet_length(%3$s)) AS b "
				 "FROM modelflags.flag_actors GROUP BY %1$s, %2$s) s "
				 "ORDER BY n DESC, %1$s COLLATE \"C\", %2$s LIMIT 1",
				 C(ACTOR_FLAG), C(ACTOR_OPT_OUT), C(ACTOR_ACTOR)), 0, NULL);
	if (SPI_processed > 0)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		int64		n = column_int8(tup, desc, 3);
		bool		isnull;
		bool		opt_out = DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull));
		uint64		all = (uint64) DatumGetInt64(DirectFunctionCall1(numeric_int8,
																	 SPI_getbinval(tup, desc, 4, &isnull)));
		uint64		bytes = (uint64) DatumGetInt64(DirectFunctionCall1(numeric_int8,
																	   SPI_getbinval(tup, desc, 5, &isnull)));

		if (n > DEF_MAX_ITEMS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("flag \"%s\" has " INT64_FORMAT " %s, more than a definitions document can list",
							SPI_getvalue(tup, desc, 1), n, opt_out ? "opt-outs" : "actor gates"),
					 errdetail("load_definitions reads at most %d items in one list.", DEF_MAX_ITEMS),
					 errhint(DUMP_HINT_STATE)));
		budget_add(budget, all, bytes, "the actor gates and opt-outs");
	}
}

static void
check_node(DefDocument *doc, void *p)
{
	if (p == NULL || doc->oom)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
}

/* The text of column col of the current SPI row as UTF-8, or NULL. */
static char *
column_text(HeapTuple tup, TupleDesc desc, int col)
{
	char	   *s = SPI_getvalue(tup, desc, col);

	return s ? to_utf8(s, strlen(s)) : NULL;
}

/* column_text, counted against the budget (a text other than a name). */
static char *
column_text_counted(HeapTuple tup, TupleDesc desc, int col, DumpBudget *budget,
					const char *what)
{
	char	   *s = column_text(tup, desc, col);

	if (s)
		budget_add(budget, 0, strlen(s), what);
	return s;
}

static bool
column_bool(HeapTuple tup, TupleDesc desc, int col, bool *isnull)
{
	Datum		d = SPI_getbinval(tup, desc, col, isnull);

	return *isnull ? false : DatumGetBool(d);
}

/*
 * A jsonb value (params) as a DefNode tree, without recursion: the open
 * containers are on a palloc'd stack as deep as the value (jsonb has no
 * depth limit but the stack's; nor has the YAML reader).  Each container
 * is appended to its parent when it ends, so that its node count and
 * height are complete.  Counted against the budget as it goes.  For a JSON
 * dump, a value nested deeper than max_depth levels is refused as soon as
 * the level past them opens.
 */
static DefNode *
jsonb_to_node(DefDocument *doc, Jsonb *jb, const char *owner, int max_depth,
			  DumpBudget *budget)
{
	typedef struct Open
	{
		DefNode    *node;
		DefNode    *key;		/* its key in the parent, or NULL */
	} Open;
	JsonbIterator *it = JsonbIteratorInit(&jb->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			cap = 16;
	Open	   *stack = palloc(sizeof(Open) * cap);
	int			depth = 0;
	DefNode    *root = NULL;
	DefNode    *key = NULL;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		DefNode    *n = NULL;

		switch (tok)
		{
			case WJB_BEGIN_ARRAY:
			case WJB_BEGIN_OBJECT:
				{
					int			items = tok == WJB_BEGIN_ARRAY ? v.val.array.nElems : v.val.object.nPairs;

					if (items > DEF_MAX_ITEMS)
						ereport(ERROR,
								(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
								 errmsg("params of %s hold %d items in one %s, more than a definitions document can list",
										owner, items, tok == WJB_BEGIN_ARRAY ? "array" : "object"),
								 errdetail("load_definitions reads at most %d items in one list or mapping.",
										   DEF_MAX_ITEMS),
								 errhint(DUMP_HINT)));
					if (budget->json && depth >= max_depth)
						ereport(ERROR,
								(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
								 errmsg("params of %s nest more than %d levels, too deep for a JSON definitions document",
										owner, max_depth),
								 errdetail("load_definitions reads JSON nested at most %d levels (cJSON's limit), the document's own included: params nest at most %d levels in a model, %d in a route.",
										   DEF_MAX_JSON_DEPTH, DEF_MAX_JSON_DEPTH - DEF_MODEL_PARAMS_LEVELS,
										   DEF_MAX_JSON_DEPTH - DEF_ROUTE_PARAMS_LEVELS),
								 errhint("Dump with format => 'yaml' (the default): YAML takes params nested up to about 20000 levels.")));
					budget_add(budget, 1, 2, owner);
					n = def_node_new(doc, tok == WJB_BEGIN_ARRAY ? DEF_NODE_ARRAY : DEF_NODE_OBJECT, NULL, 0);
					check_node(doc, n);
					if (depth == cap)
					{
						cap *= 2;
						stack = repalloc(stack, sizeof(Open) * cap);
					}
					stack[depth].node = n;
					stack[depth].key = key;
					depth++;
					key = NULL;
					continue;
				}
			case WJB_END_ARRAY:
			case WJB_END_OBJECT:
				depth--;
				n = stack[depth].node;
				key = stack[depth].key;
				break;
			case WJB_KEY:
				{
					char	   *s = to_utf8(v.val.string.val, v.val.string.len);

					budget_add(budget, 1, strlen(s), owner);
					key = def_node_new(doc, DEF_NODE_STRING, s, strlen(s));
					check_node(doc, key);
					continue;
				}
			case WJB_VALUE:
			case WJB_ELEM:
				switch (v.type)
				{
					case jbvString:
						{
							char	   *s = to_utf8(v.val.string.val, v.val.string.len);

							n = def_node_new(doc, DEF_NODE_STRING, s, strlen(s));
							break;
						}
					case jbvNumeric:
						{
							/* exact, of any length: the parser reads it back */
							char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out,
																				NumericGetDatum(v.val.numeric)));

							n = def_node_new(doc, DEF_NODE_NUMBER, s, strlen(s));
							break;
						}
					case jbvBool:
						n = def_node_new(doc, DEF_NODE_BOOL, v.val.boolean ? "true" : "false",
										 v.val.boolean ? 4 : 5);
						break;
					default:
						n = def_node_new(doc, DEF_NODE_NULL, NULL, 0);
						break;
				}
				check_node(doc, n);
				budget_add(budget, 1, n->len, owner);
				break;
			default:
				continue;
		}
		if (depth == 0)
			root = n;
		else
		{
			DefNode    *parent = stack[depth - 1].node;

			def_node_append(doc, parent, parent->kind == DEF_NODE_OBJECT ? key : NULL, n);
			check_node(doc, n);
		}
		key = NULL;
	}
	pfree(stack);
	return root;
}

/*
 * Runs "SELECT <every column of table, in the catalogue's order><extra>
 * FROM modelflags.<table> x ORDER BY <its key>", so that a column is at
 * POS(id) of the result.
 */
static void
select_table(MfTableId table, const char *extra)
{
	StringInfoData sql;
	bool		first = true;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	mf_append_columns(&sql, table, MF_ALL_COLUMNS, "x.", false);
	appendStringInfo(&sql, "%s FROM modelflags.%s x ORDER BY ", extra, mf_table_names[table]);
	for (int c = 0; c < MF_SCHEMA_NCOLUMNS; c++)
		if (mf_schema_columns[c].table == table && mf_schema_columns[c].key)
		{
			appendStringInfo(&sql, "%sx.%s%s", first ? "" : ", ", mf_column_sql((MfSchemaColumnId) c),
							 mf_schema_columns[c].type == MF_TYPE_TEXT ? " COLLATE \"C\"" : "");
			first = false;
		}
	run(sql.data, 0, NULL);
}

/* Where select_table returns a column: POS(FLAG_TYPE). */
#define POS(id) mf_column_position(MF_SCHEMA_##id)

/* Reads the tables into doc (inside SPI); actors only for a dump with state. */
static void
read_tables(DefDocument *doc, DumpBudget *budget)
{
	SPITupleTable *tt;
	TupleDesc	desc;
	bool		isnull;
	int			feature = 0;
	int			nflag_columns = 0;

	select_table(MF_PROVIDERS, "");
	tt = SPI_tuptable;
	desc = tt->tupdesc;
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = tt->vals[i];
		DefProvider *p = def_add_provider(doc, column_text(t, desc, POS(PROVIDER_NAME)));

		check_node(doc, p);
		p->present = DEF_PROVIDER_COLUMNS;
		p->available = column_bool(t, desc, POS(PROVIDER_AVAILABLE), &isnull);
		p->note = def_strdup(doc, column_text_counted(t, desc, POS(PROVIDER_NOTE), budget, "the providers"));
	}

	select_table(MF_MODELS, "");
	tt = SPI_tuptable;
	desc = tt->tupdesc;
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = tt->vals[i];
		DefModel   *m = def_add_model(doc, column_text(t, desc, POS(MODEL_NAME)));
		Datum		params;

		check_node(doc, m);
		m->present = DEF_MODEL_COLUMNS;
		m->provider = def_strdup(doc, column_text_counted(t, desc, POS(MODEL_PROVIDER), budget, "the models"));
		params = SPI_getbinval(t, desc, POS(MODEL_PARAMS), &isnull);
		m->params = isnull ? NULL :
			jsonb_to_node(doc, DatumGetJsonbP(params), psprintf("model \"%s\"", m->name),
						  DEF_MAX_JSON_DEPTH - DEF_MODEL_PARAMS_LEVELS, budget);
		m->enabled = column_bool(t, desc, POS(MODEL_ENABLED), &isnull);
		m->description = def_strdup(doc, column_text_counted(t, desc, POS(MODEL_DESCRIPTION), budget,
															  "the models"));
	}

	/* the flags' columns, then (with state) their actor gates and opt-outs */
	for (int c = 0; c < MF_SCHEMA_NCOLUMNS; c++)
		nflag_columns += mf_schema_columns[c].table == MF_FLAGS;
	if (budget->state)
		/* %1$s actor, %2$s flag, %3$s opt_out */
		select_table(MF_FLAGS,
					 psprintf(", ARRAY(SELECT a.%1$s FROM modelflags.flag_actors a WHERE a.%2$s = x.%4$s "
							  "AND NOT a.%3$s ORDER BY a.%1$s COLLATE \"C\"), "
							  "ARRAY(SELECT a.%1$s FROM modelflags.flag_actors a WHERE a.%2$s = x.%4$s "
							  "AND a.%3$s ORDER BY a.%1$s COLLATE \"C\")",
							  C(ACTOR_ACTOR), C(ACTOR_FLAG), C(ACTOR_OPT_OUT), C(FLAG_NAME)));
	else
		select_table(MF_FLAGS, "");
	tt = SPI_tuptable;
	desc = tt->tupdesc;
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = tt->vals[i];
		DefFlag    *f = def_add_flag(doc, column_text(t, desc, POS(FLAG_NAME)));
		bool		b;

		check_node(doc, f);
		f->present = DEF_FLAG_COLUMNS;
		b = column_bool(t, desc, POS(FLAG_ENABLED), &isnull);
		f->enabled = isnull ? DEF_NULL : b;
		f->percentage_of_actors = def_strdup(doc, column_text(t, desc, POS(FLAG_PCT_ACTORS)));
		f->percentage_of_time = def_strdup(doc, column_text(t, desc, POS(FLAG_PCT_TIME)));
		f->type = def_strdup(doc, column_text(t, desc, POS(FLAG_TYPE)));
		f->default_enabled = column_bool(t, desc, POS(FLAG_DEFAULT), &isnull);
		f->group = def_strdup(doc, column_text_counted(t, desc, POS(FLAG_GROUP), budget, "the flags"));
		f->milestone = def_strdup(doc, column_text_counted(t, desc, POS(FLAG_MILESTONE), budget, "the flags"));
		f->description = def_strdup(doc, column_text_counted(t, desc, POS(FLAG_DESCRIPTION), budget,
															  "the flags"));
		f->introduced_by_url = def_strdup(doc, column_text_counted(t, desc, POS(FLAG_INTRODUCED_BY_URL),
																	budget, "the flags"));
		f->rollout_issue_url = def_strdup(doc, column_text_counted(t, desc, POS(FLAG_ROLLOUT_ISSUE_URL),
																	budget, "the flags"));
		f->feature_issue_url = def_strdup(doc, column_text_counted(t, desc, POS(FLAG_FEATURE_ISSUE_URL),
																	budget, "the flags"));
		b = column_bool(t, desc, POS(FLAG_LOG_STATE_CHANGES), &isnull);
		f->log_state_changes = isnull ? DEF_NULL : b;
		for (int col = nflag_columns + 1; budget->state && col <= nflag_columns + 2; col++)
		{
			ArrayType  *arr = DatumGetArrayTypeP(SPI_getbinval(t, desc, col, &isnull));
			Datum	   *elems;
			bool	   *enulls;
			int			n;

			deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &enulls, &n);
			for (int k = 0; k < n; k++)
			{
				char	   *s = TextDatumGetCString(elems[k]);

				check_node(doc, def_add_actor(doc, f, to_utf8(s, strlen(s)), col == nflag_columns + 2));
			}
		}
	}

	select_table(MF_FEATURES, "");
	tt = SPI_tuptable;
	desc = tt->tupdesc;
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = tt->vals[i];
		DefFeature *f = def_add_feature(doc, column_text(t, desc, POS(FEATURE_NAME)));

		check_node(doc, f);
		f->present = DEF_FEATURE_COLUMNS | DEF_FEATURE_ROUTES;
		f->description = def_strdup(doc, column_text_counted(t, desc, POS(FEATURE_DESCRIPTION), budget,
															  "the features"));
	}

	/* routes in the same order as their features (by key): merge by name */
	select_table(MF_ROUTES, "");
	tt = SPI_tuptable;
	desc = tt->tupdesc;
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = tt->vals[i];
		char	   *name = column_text(t, desc, POS(ROUTE_FEATURE));
		DefRoute   *r;
		Datum		params;

		/*
		 * Both lists are in byte order.  A route whose feature is missing
		 * (foreign keys bypassed, e.g. in replica mode) routes nothing, as
		 * model_for ignores it: leave it out rather than fail the dump.
		 */
		while (feature < doc->nfeatures && strcmp(doc->features[feature].name, name) < 0)
			feature++;
		if (feature >= doc->nfeatures || strcmp(doc->features[feature].name, name) != 0)
			continue;
		r = def_add_route(doc, &doc->features[feature]);
		check_node(doc, r);
		r->position = DatumGetInt32(SPI_getbinval(t, desc, POS(ROUTE_POSITION), &isnull));
		r->flag = def_strdup(doc, column_text_counted(t, desc, POS(ROUTE_FLAG), budget, "the routes"));
		r->model = def_strdup(doc, column_text_counted(t, desc, POS(ROUTE_MODEL), budget, "the routes"));
		params = SPI_getbinval(t, desc, POS(ROUTE_PARAMS), &isnull);
		r->params = isnull ? NULL :
			jsonb_to_node(doc, DatumGetJsonbP(params), psprintf("route %s[%d]", name, r->position),
						  DEF_MAX_JSON_DEPTH - DEF_ROUTE_PARAMS_LEVELS, budget);
		r->note = def_strdup(doc, column_text_counted(t, desc, POS(ROUTE_NOTE), budget, "the routes"));
	}
	if (doc->oom)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
}

/*
 * A YAML dump too deeply nested for YAML (DEF_MAX_YAML_FLOW_WORK): names
 * the deepest params.  JSON nests less deeply still (DEF_MAX_JSON_DEPTH);
 * only a server whose max_stack_depth was raised holds such params.
 */
static void
refuse_deep_yaml(const DefDocument *doc)
{
	const char *owner = "?";
	uint32		height = 0;

	for (int i = 0; i < doc->nmodels; i++)
		if (doc->models[i].params && doc->models[i].params->height > height)
		{
			height = doc->models[i].params->height;
			owner = psprintf("model \"%s\"", doc->models[i].name);
		}
	for (int i = 0; i < doc->nfeatures; i++)
		for (int j = 0; j < doc->features[i].nroutes; j++)
		{
			const DefRoute *r = &doc->features[i].routes[j];

			if (r->params && r->params->height > height)
			{
				height = r->params->height;
				owner = psprintf("route %s[%d]", doc->features[i].name, r->position);
			}
		}
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("params of %s nest %u levels, too deep for a YAML definitions document", owner, height),
			 errdetail("load_definitions reads YAML flow collections nested about 20000 levels at most, for libyaml's time grows with their depth."),
			 errhint("No definitions document holds params nested that deep (JSON nests at most %d levels); pg_dump and COPY keep them.",
					 DEF_MAX_JSON_DEPTH)));
}

/* dump_definitions(format text, state boolean) returns text */
Datum
modelflags_dump_definitions(PG_FUNCTION_ARGS)
{
	char	   *format;
	bool		state;
	DefOutput	output;
	DefDocument *doc;
	char	   *volatile out = NULL;
	text	   *volatile result = NULL;

	run_read_only = true;
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", PG_ARGISNULL(0) ? "format" : "state")));
	format = text_to_cstring(PG_GETARG_TEXT_PP(0));
	state = PG_GETARG_BOOL(1);
	if (pg_strcasecmp(format, "yaml") == 0)
		output = DEF_OUTPUT_YAML;
	else if (pg_strcasecmp(format, "json") == 0)
		output = DEF_OUTPUT_JSON;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid definitions format \"%.*s\"%s",
						pg_mbcliplen(format, strlen(format), 64), format,
						strlen(format) > 64 ? "..." : ""),
				 errhint("Use 'yaml' or 'json'.")));

	doc = def_new_document();
	if (doc == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	PG_TRY();
	{
		DumpBudget	budget = {state, output == DEF_OUTPUT_JSON, 0, 0};
		DefWritten	written;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		check_dump_size(&budget);
		read_tables(doc, &budget);
		SPI_finish();
		out = def_serialize_bounded(doc, output, state, DEF_MAX_DOCUMENT_BYTES, &written);
		if (out == NULL && written.too_large)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("the definitions dump would be larger than %d bytes", DEF_MAX_DOCUMENT_BYTES),
					 errdetail("load_definitions reads documents of at most %d bytes (8 MiB).",
							   DEF_MAX_DOCUMENT_BYTES),
					 errhint("%s", state ? DUMP_HINT_STATE : DUMP_HINT)));
		if (out == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		if (output == DEF_OUTPUT_YAML && written.flow_work > DEF_MAX_YAML_FLOW_WORK)
			refuse_deep_yaml(doc);
		/* refused while reading (jsonb_to_node); checked again, exactly */
		if (output == DEF_OUTPUT_JSON && written.depth > DEF_MAX_JSON_DEPTH)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("the definitions dump would nest %u levels, more than a JSON definitions document can",
							written.depth),
					 errdetail("load_definitions reads JSON nested at most %d levels.", DEF_MAX_JSON_DEPTH),
					 errhint("Dump with format => 'yaml' (the default).")));
		if (written.nodes > DEF_MAX_NODES)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("the definitions dump would hold " UINT64_FORMAT " values, more than a definitions document can",
							(uint64) written.nodes),
					 errdetail("load_definitions reads at most %d values (keys, values and list items) in one document.",
							   DEF_MAX_NODES),
					 errhint("%s", state ? DUMP_HINT_STATE : DUMP_HINT)));
		result = cstring_to_text(from_utf8(out));
	}
	PG_FINALLY();
	{
		def_free(doc);
		free(out);
	}
	PG_END_TRY();
	PG_RETURN_TEXT_P(result);
}
