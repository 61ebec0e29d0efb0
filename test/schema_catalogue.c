/*
 * schema_catalogue.c — prints the catalogue of the tables
 * (src/schema_catalogue.h) as a JSON array of
 *   {"table_name", "column_name", "data_type", "key", "cache", "uses"},
 * one object per column, for sql/schema_catalogue.sql, which compares it
 * with the DDL (information_schema).  Built by the Makefile before the
 * regression tests run (REGRESS_PREP); a plain program, as the catalogue
 * includes no PostgreSQL header.
 */
#include <stdbool.h>
#include <stdio.h>

#include "schema_catalogue.h"

static const char *const tables[MF_NTABLES] = {
#define X_TABLE(id, name) [id] = name,
	MF_SCHEMA_TABLES(X_TABLE)
#undef X_TABLE
};

static const char *const types[MF_NTYPES] = {
#define X_TYPE(type, name) [MF_TYPE_##type] = name,
	MF_SCHEMA_TYPES(X_TYPE)
#undef X_TYPE
};

#define CACHE_CACHE true
#define CACHE_NONE false

static const struct
{
	MfTableId	table;
	const char *name;
	MfSchemaType type;
	bool		key;
	bool		cache;
	const char *uses;
}			columns[MF_SCHEMA_NCOLUMNS] = {
#define X_COLUMN(table, id, name, type, key, reader, def, uses) \
	[MF_SCHEMA_##id] = {table, name, MF_TYPE_##type, key, CACHE_##reader, uses},
	MF_SCHEMA_COLUMNS(X_COLUMN)
#undef X_COLUMN
};

/* The catalogue's strings are plain ASCII without quotes: checked here. */
static int
json_string(const char *s)
{
	for (const char *p = s; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char) *p < 0x20 || (unsigned char) *p > 0x7e)
			return 0;
	printf("\"%s\"", s);
	return 1;
}

int
main(void)
{
	int			ok = 1;

	printf("[");
	for (int c = 0; c < MF_SCHEMA_NCOLUMNS; c++)
	{
		printf("%s\n {\"table_name\": ", c ? "," : "");
		ok &= json_string(tables[columns[c].table]);
		printf(", \"column_name\": ");
		ok &= json_string(columns[c].name);
		printf(", \"data_type\": ");
		ok &= json_string(types[columns[c].type]);
		printf(", \"key\": %s, \"cache\": %s, \"uses\": ", columns[c].key ? "true" : "false",
			   columns[c].cache ? "true" : "false");
		ok &= json_string(columns[c].uses);
		printf("}");
	}
	printf("\n]\n");
	if (!ok)
	{
		fprintf(stderr, "schema_catalogue: a name needs escaping\n");
		return 1;
	}
	return 0;
}
