/*
 * fuzz_definitions.c — libFuzzer target for the definitions parser.
 *
 * Any input: def_parse must not crash, leak or read out of bounds
 * (AddressSanitizer, UndefinedBehaviorSanitizer, LeakSanitizer).
 *
 * Inputs it accepts: the writer must round-trip them.  Each is written as
 * YAML and as JSON; the result must parse without error and write back
 * byte for byte the same (the property load(dump()) relies on), and the
 * rows handed to PostgreSQL must be valid JSON.  A failure aborts, which
 * libFuzzer reports as a crash with the input saved.
 *
 * Run: bash test/fuzz/run.sh [seconds]   (see README.md)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "definitions.h"

static void
check_json(const char *what, char *s)
{
	cJSON	   *j;

	if (s == NULL)
	{
		fprintf(stderr, "%s: out of memory\n", what);
		abort();
	}
	j = cJSON_Parse(s);
	if (j == NULL)
	{
		fprintf(stderr, "%s is not valid JSON:\n%s\n", what, s);
		abort();
	}
	cJSON_Delete(j);
	free(s);
}

static void
round_trip(const DefDocument *doc, DefOutput out, bool state)
{
	size_t		l1,
				l2;
	char	   *s1 = def_serialize(doc, out, state, &l1);
	DefDocument *d2;
	char	   *s2;

	if (s1 == NULL)
		abort();
	d2 = def_parse(s1, l1);
	if (d2 == NULL)
		abort();
	if (d2->nerrors)
	{
		char		msg[1024];

		def_format_error(&d2->errors[0], msg, sizeof(msg));
		fprintf(stderr, "output does not parse back: %s\n---\n%s\n", msg, s1);
		abort();
	}
	s2 = def_serialize(d2, out, state, &l2);
	if (s2 == NULL)
		abort();
	if (l1 != l2 || memcmp(s1, s2, l1) != 0)
	{
		fprintf(stderr, "round trip differs\n--- first\n%s\n--- second\n%s\n", s1, s2);
		abort();
	}
	free(s1);
	free(s2);
	def_free(d2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	DefDocument *doc = def_parse((const char *) data, size);

	if (doc == NULL)
		return 0;
	if (doc->nerrors == 0)
	{
		round_trip(doc, DEF_OUTPUT_YAML, true);
		round_trip(doc, DEF_OUTPUT_JSON, true);
		round_trip(doc, DEF_OUTPUT_YAML, false);
		for (int t = DEF_TABLE_PROVIDERS; t <= DEF_TABLE_FEATURES; t++)
			check_json("rows", def_rows_json(doc, (DefTable) t, def_column_bits((DefTable) t)));
		check_json("actors", def_actors_json(doc, false));
		check_json("opt-outs", def_actors_json(doc, true));
		check_json("routes", def_routes_json(doc, DEF_ROUTES_ALL));
		check_json("routes", def_routes_json(doc, DEF_ROUTES_UNFLAGGED));
	}
	def_check_references(&doc, 1);
	for (int i = 0; i < doc->nerrors; i++)
	{
		char		msg[1024];

		def_format_error(&doc->errors[i], msg, sizeof(msg));
	}
	def_free(doc);
	return 0;
}
