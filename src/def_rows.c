/*
 * def_rows.c — the rows a parsed document hands to PostgreSQL: each
 * table's rows as a JSON array for jsonb_to_recordset (def_rows_json,
 * def_actors_json, def_routes_json), and the SQL name and type of each
 * column a document may give (def_column_*): all taken from the catalogue
 * of the tables (schema_catalogue.h), which static assertions hold to the
 * parser's presence bits.
 *
 * Pipeline (definitions_int.h): the last stage of load_definitions:
 * def_parse -> (bind) -> def_rows_json -> SPI statements in
 * definitions_api.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "definitions_int.h"
#include "schema_catalogue.h"

/* ----------------------------------------------------------------------
 * The columns, from the catalogue of the tables (schema_catalogue.h)
 * ---------------------------------------------------------------------- */

/*
 * Each column of the catalogue as a document gives it: its table, the
 * presence bit of DefProvider/DefModel/DefFlag/DefFeature that gives it (0
 * for a key and for the columns of routes and flag_actors, which are rows of
 * their own), its name and its SQL type.
 */
typedef struct ColumnInfo
{
	MfTableId	table;
	unsigned	bit;
	const char *name;
	MfSchemaType type;
} ColumnInfo;

static const ColumnInfo columns[MF_SCHEMA_NCOLUMNS] = {
#define X_COLUMN(table, id, name, type, key, reader, def, uses) \
	[MF_SCHEMA_##id] = {table, def, name, MF_TYPE_##type},
	MF_SCHEMA_COLUMNS(X_COLUMN)
#undef X_COLUMN
};

static const char *const type_names[MF_NTYPES] = {
#define X_TYPE(type, name) [MF_TYPE_##type] = name,
	MF_SCHEMA_TYPES(X_TYPE)
#undef X_TYPE
};

/* The catalogue's table of each DefTable. */
static const MfTableId def_tables[] = {
	[DEF_TABLE_PROVIDERS] = MF_PROVIDERS,
	[DEF_TABLE_MODELS] = MF_MODELS,
	[DEF_TABLE_FLAGS] = MF_FLAGS,
	[DEF_TABLE_FEATURES] = MF_FEATURES,
};

/*
 * The parser's presence bits and the catalogue agree, at build time: for
 * each table, the bits the catalogue gives its columns are exactly
 * DEF_*_COLUMNS, each to one column, and every other column is part of the
 * key.  A column added to the catalogue must be given a bit (and a field a
 * document carries), a bit added to the parser a column.
 */
#define X_BITS(table, id, name, type, key, reader, def, uses) | ((table) == CHECKED ? (unsigned) (def) : 0u)
#define X_BIT_SUM(table, id, name, type, key, reader, def, uses) + ((table) == CHECKED ? (unsigned) (def) : 0u)
#define X_UNCARRIED(table, id, name, type, key, reader, def, uses) + ((table) == CHECKED && (def) == 0 && !(key))
#define X_KEYS(table, id, name, type, key, reader, def, uses) + ((table) == CHECKED && (key))
#define CHECK_TABLE(bits, what) \
	_Static_assert((0 MF_SCHEMA_COLUMNS(X_KEYS)) == 1, "the key of " what " is not one column"); \
	_Static_assert((0u MF_SCHEMA_COLUMNS(X_BITS)) == (bits), \
				   "the catalogue gives " what " columns other bits than the parser"); \
	_Static_assert((0u MF_SCHEMA_COLUMNS(X_BIT_SUM)) == (bits), \
				   "the catalogue gives two columns of " what " the same bit"); \
	_Static_assert((0 MF_SCHEMA_COLUMNS(X_UNCARRIED)) == 0, \
				   "a column of " what " that is no key has no bit of a document")

#define CHECKED MF_PROVIDERS
CHECK_TABLE(DEF_PROVIDER_COLUMNS, "providers");
#undef CHECKED
#define CHECKED MF_MODELS
CHECK_TABLE(DEF_MODEL_COLUMNS, "models");
#undef CHECKED
#define CHECKED MF_FLAGS
CHECK_TABLE(DEF_FLAG_COLUMNS, "flags");
#undef CHECKED
#define CHECKED MF_FEATURES
CHECK_TABLE(DEF_FEATURE_COLUMNS, "features");
#undef CHECKED
#undef CHECK_TABLE
#undef X_BITS
#undef X_BIT_SUM
#undef X_UNCARRIED
#undef X_KEYS

/* The column of table given by bit, or NULL. */
static const ColumnInfo *
column_of(DefTable table, unsigned bit)
{
	for (int c = 0; c < MF_SCHEMA_NCOLUMNS; c++)
		if (columns[c].table == def_tables[table] && columns[c].bit == bit && bit != 0)
			return &columns[c];
	return NULL;
}

const char *
def_column_name(DefTable table, unsigned bit)
{
	const ColumnInfo *c = column_of(table, bit);

	return c ? c->name : NULL;
}

const char *
def_column_type(DefTable table, unsigned bit)
{
	const ColumnInfo *c = column_of(table, bit);

	return c ? type_names[c->type] : NULL;
}

unsigned
def_column_bits(DefTable table)
{
	unsigned	bits = 0;

	for (int c = 0; c < MF_SCHEMA_NCOLUMNS; c++)
		if (columns[c].table == def_tables[table])
			bits |= columns[c].bit;
	return bits;
}

/* ----------------------------------------------------------------------
 * Rows for the PostgreSQL shell (jsonb_to_recordset)
 * ---------------------------------------------------------------------- */

/* A column's name, as the row's key. */
static void
jw_column(JsonWriter *w, MfSchemaColumnId column)
{
	jw_key(w, columns[column].name);
}

/* Writes the value of one column of entity i of table t. */
static void
row_value(JsonWriter *w, const DefDocument *doc, DefTable t, int i, unsigned bit)
{
	switch (t)
	{
		case DEF_TABLE_PROVIDERS:
			{
				const DefProvider *p = &doc->providers[i];

				if (bit == DEF_PROVIDER_AVAILABLE)
					jw_raw(w, p->available ? "true" : "false");
				else
					jw_str(w, p->note);
				break;
			}
		case DEF_TABLE_MODELS:
			{
				const DefModel *m = &doc->models[i];

				if (bit == DEF_MODEL_PROVIDER)
					jw_str(w, m->provider);
				else if (bit == DEF_MODEL_PARAMS)
					jw_node(w, m->params);
				else if (bit == DEF_MODEL_ENABLED)
					jw_raw(w, m->enabled ? "true" : "false");
				else
					jw_str(w, m->description);
				break;
			}
		case DEF_TABLE_FLAGS:
			{
				const DefFlag *f = &doc->flags[i];

				switch (bit)
				{
					case DEF_FLAG_ENABLED:
						jw_raw(w, f->enabled == DEF_NULL ? "null" : f->enabled ? "true" : "false");
						break;
					case DEF_FLAG_PERCENTAGE_OF_ACTORS:
						jw_raw(w, f->percentage_of_actors);
						break;
					case DEF_FLAG_PERCENTAGE_OF_TIME:
						jw_raw(w, f->percentage_of_time);
						break;
					case DEF_FLAG_TYPE:
						jw_str(w, f->type);
						break;
					case DEF_FLAG_DEFAULT_ENABLED:
						jw_raw(w, f->default_enabled ? "true" : "false");
						break;
					case DEF_FLAG_GROUP:
						jw_str(w, f->group);
						break;
					case DEF_FLAG_MILESTONE:
						jw_str(w, f->milestone);
						break;
					case DEF_FLAG_DESCRIPTION:
						jw_str(w, f->description);
						break;
					case DEF_FLAG_INTRODUCED_BY_URL:
						jw_str(w, f->introduced_by_url);
						break;
					case DEF_FLAG_ROLLOUT_ISSUE_URL:
						jw_str(w, f->rollout_issue_url);
						break;
					case DEF_FLAG_FEATURE_ISSUE_URL:
						jw_str(w, f->feature_issue_url);
						break;
					case DEF_FLAG_LOG_STATE_CHANGES:
						jw_raw(w, f->log_state_changes == DEF_NULL ? "null" :
							   f->log_state_changes ? "true" : "false");
						break;
					default:
						jw_raw(w, "null");
				}
				break;
			}
		case DEF_TABLE_FEATURES:
			jw_str(w, doc->features[i].description);
			break;
	}
}

static int
table_count(const DefDocument *doc, DefTable t)
{
	switch (t)
	{
		case DEF_TABLE_PROVIDERS:
			return doc->nproviders;
		case DEF_TABLE_MODELS:
			return doc->nmodels;
		case DEF_TABLE_FLAGS:
			return doc->nflags;
		case DEF_TABLE_FEATURES:
			return doc->nfeatures;
	}
	return 0;
}

static const char *
entity_name(const DefDocument *doc, DefTable t, int i, unsigned *present)
{
	switch (t)
	{
		case DEF_TABLE_PROVIDERS:
			*present = doc->providers[i].present;
			return doc->providers[i].name;
		case DEF_TABLE_MODELS:
			*present = doc->models[i].present;
			return doc->models[i].name;
		case DEF_TABLE_FLAGS:
			*present = doc->flags[i].present;
			return doc->flags[i].name;
		case DEF_TABLE_FEATURES:
			*present = doc->features[i].present;
			return doc->features[i].name;
	}
	*present = 0;
	return NULL;
}

char *
def_rows_json(const DefDocument *doc, DefTable table, unsigned mask)
{
	Buf			b = {0};
	JsonWriter	w;
	unsigned	bits = def_column_bits(table);
	const char *key = NULL;

	/* the key: the one column without a bit (checked above) */
	for (int c = 0; c < MF_SCHEMA_NCOLUMNS; c++)
		if (columns[c].table == def_tables[table] && columns[c].bit == 0)
			key = columns[c].name;
	memset(&w, 0, sizeof(w));
	w.b = &b;
	jw_begin(&w, '[');
	for (int i = 0; i < table_count(doc, table); i++)
	{
		unsigned	present;
		const char *name = entity_name(doc, table, i, &present);

		if (name == NULL || (present & bits) != mask)
			continue;
		jw_begin(&w, '{');
		jw_key(&w, key);
		jw_str(&w, name);
		for (int c = 0; c < MF_SCHEMA_NCOLUMNS; c++)
			if (columns[c].table == def_tables[table] && (mask & columns[c].bit))
			{
				jw_key(&w, columns[c].name);
				row_value(&w, doc, table, i, columns[c].bit);
			}
		jw_end(&w, '}');
	}
	jw_end(&w, ']');
	return buf_finish(&b, NULL);
}

char *
def_actors_json(const DefDocument *doc, bool opt_out)
{
	Buf			b = {0};
	JsonWriter	w;

	memset(&w, 0, sizeof(w));
	w.b = &b;
	jw_begin(&w, '[');
	for (int i = 0; i < doc->nflags; i++)
	{
		const DefFlag *f = &doc->flags[i];
		const DefActor *a = opt_out ? f->opt_outs : f->actors;
		int			n = opt_out ? f->nopt_outs : f->nactors;

		if (f->name == NULL || !(f->present & (opt_out ? DEF_FLAG_OPT_OUTS : DEF_FLAG_ACTORS)))
			continue;
		for (int j = 0; j < n; j++)
		{
			jw_begin(&w, '{');
			jw_column(&w, MF_SCHEMA_ACTOR_FLAG);
			jw_str(&w, f->name);
			jw_column(&w, MF_SCHEMA_ACTOR_ACTOR);
			jw_str(&w, a[j].actor);
			jw_key(&w, "i");
			jw_int(&w, i);
			jw_key(&w, "j");
			jw_int(&w, j);
			jw_end(&w, '}');
		}
	}
	jw_end(&w, ']');
	return buf_finish(&b, NULL);
}

char *
def_routes_json(const DefDocument *doc, DefRoutesMode mode)
{
	Buf			b = {0};
	JsonWriter	w;

	memset(&w, 0, sizeof(w));
	w.b = &b;
	jw_begin(&w, '[');
	for (int i = 0; i < doc->nfeatures; i++)
	{
		const DefFeature *f = &doc->features[i];

		if (f->name == NULL || !(f->present & DEF_FEATURE_ROUTES) || f->routes_mode != mode)
			continue;
		for (int j = 0; j < f->nroutes; j++)
		{
			const DefRoute *r = &f->routes[j];

			jw_begin(&w, '{');
			jw_column(&w, MF_SCHEMA_ROUTE_FEATURE);
			jw_str(&w, f->name);
			jw_column(&w, MF_SCHEMA_ROUTE_POSITION);
			jw_int(&w, r->position);
			jw_column(&w, MF_SCHEMA_ROUTE_FLAG);
			jw_str(&w, r->flag);
			jw_column(&w, MF_SCHEMA_ROUTE_MODEL);
			jw_str(&w, r->model);
			jw_column(&w, MF_SCHEMA_ROUTE_PARAMS);
			jw_node(&w, r->params);
			jw_column(&w, MF_SCHEMA_ROUTE_NOTE);
			jw_str(&w, r->note);
			jw_key(&w, "i");
			jw_int(&w, i);
			jw_key(&w, "j");
			jw_int(&w, j);
			jw_end(&w, '}');
		}
	}
	jw_end(&w, ']');
	return buf_finish(&b, NULL);
}
