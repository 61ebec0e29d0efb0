/*
 * def_rows.c — the rows a parsed document hands to PostgreSQL: each
 * table's rows as a JSON array for jsonb_to_recordset (def_rows_json,
 * def_actors_json, def_routes_json), and the SQL name and type of each
 * column a document may give (def_column_*).
 *
 * Pipeline (definitions_int.h): the last stage of load_definitions:
 * def_parse -> (bind) -> def_rows_json -> SPI statements in
 * definitions_api.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "definitions_int.h"

/* ----------------------------------------------------------------------
 * Rows for the PostgreSQL shell (jsonb_to_recordset)
 * ---------------------------------------------------------------------- */

typedef struct ColumnInfo
{
	unsigned	bit;
	const char *name;
	const char *type;
} ColumnInfo;

static const ColumnInfo provider_columns[] = {
	{DEF_PROVIDER_AVAILABLE, "available", "boolean"},
	{DEF_PROVIDER_NOTE, "note", "text"},
	{0, NULL, NULL}
};
static const ColumnInfo model_columns[] = {
	{DEF_MODEL_PROVIDER, "provider", "text"},
	{DEF_MODEL_PARAMS, "params", "jsonb"},
	{DEF_MODEL_ENABLED, "enabled", "boolean"},
	{DEF_MODEL_DESCRIPTION, "description", "text"},
	{0, NULL, NULL}
};
static const ColumnInfo flag_columns[] = {
	{DEF_FLAG_ENABLED, "enabled", "boolean"},
	{DEF_FLAG_PERCENTAGE_OF_ACTORS, "percentage_of_actors", "numeric"},
	{DEF_FLAG_PERCENTAGE_OF_TIME, "percentage_of_time", "numeric"},
	{DEF_FLAG_TYPE, "type", "text"},
	{DEF_FLAG_DEFAULT_ENABLED, "default_enabled", "boolean"},
	{DEF_FLAG_GROUP, "group", "text"},
	{DEF_FLAG_MILESTONE, "milestone", "text"},
	{DEF_FLAG_DESCRIPTION, "description", "text"},
	{DEF_FLAG_INTRODUCED_BY_URL, "introduced_by_url", "text"},
	{DEF_FLAG_ROLLOUT_ISSUE_URL, "rollout_issue_url", "text"},
	{DEF_FLAG_FEATURE_ISSUE_URL, "feature_issue_url", "text"},
	{DEF_FLAG_LOG_STATE_CHANGES, "log_state_changes", "boolean"},
	{0, NULL, NULL}
};
static const ColumnInfo feature_columns[] = {
	{DEF_FEATURE_DESCRIPTION, "description", "text"},
	{0, NULL, NULL}
};

static const ColumnInfo *
table_columns(DefTable t)
{
	switch (t)
	{
		case DEF_TABLE_PROVIDERS:
			return provider_columns;
		case DEF_TABLE_MODELS:
			return model_columns;
		case DEF_TABLE_FLAGS:
			return flag_columns;
		case DEF_TABLE_FEATURES:
			return feature_columns;
	}
	return provider_columns;
}

const char *
def_column_name(DefTable table, unsigned bit)
{
	for (const ColumnInfo *c = table_columns(table); c->bit; c++)
		if (c->bit == bit)
			return c->name;
	return NULL;
}

const char *
def_column_type(DefTable table, unsigned bit)
{
	for (const ColumnInfo *c = table_columns(table); c->bit; c++)
		if (c->bit == bit)
			return c->type;
	return NULL;
}

unsigned
def_column_bits(DefTable table)
{
	unsigned	bits = 0;

	for (const ColumnInfo *c = table_columns(table); c->bit; c++)
		bits |= c->bit;
	return bits;
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
	unsigned	columns = def_column_bits(table);

	memset(&w, 0, sizeof(w));
	w.b = &b;
	jw_begin(&w, '[');
	for (int i = 0; i < table_count(doc, table); i++)
	{
		unsigned	present;
		const char *name = entity_name(doc, table, i, &present);

		if (name == NULL || (present & columns) != mask)
			continue;
		jw_begin(&w, '{');
		jw_key(&w, "name");
		jw_str(&w, name);
		for (const ColumnInfo *c = table_columns(table); c->bit; c++)
			if (mask & c->bit)
			{
				jw_key(&w, c->name);
				row_value(&w, doc, table, i, c->bit);
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
			jw_key(&w, "flag");
			jw_str(&w, f->name);
			jw_key(&w, "actor");
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
			jw_key(&w, "feature");
			jw_str(&w, f->name);
			jw_key(&w, "position");
			jw_int(&w, r->position);
			jw_key(&w, "flag");
			jw_str(&w, r->flag);
			jw_key(&w, "model");
			jw_str(&w, r->model);
			jw_key(&w, "params");
			jw_node(&w, r->params);
			jw_key(&w, "note");
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
