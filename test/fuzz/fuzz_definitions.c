/*
 * fuzz_definitions.c — libFuzzer target for the definitions parser.
 *
 * Any input: def_parse must not crash, leak or read out of bounds
 * (AddressSanitizer, UndefinedBehaviorSanitizer, LeakSanitizer).
 *
 * Inputs it accepts: the writer must round-trip them.  Each is written as
 * YAML and as JSON; the result must parse without error and write back
 * byte for byte the same (the property load(dump()) relies on), with as
 * many nodes as the writer said it wrote (the count dump_definitions holds
 * to the limit).  The exceptions: YAML whose flow collections nest past
 * DEF_MAX_YAML_FLOW_WORK, and JSON nested deeper than DEF_MAX_JSON_DEPTH
 * (cJSON's limit; the writer counts the levels), which must then be
 * refused for that reason (dump_definitions says so first).  The rows
 * handed to PostgreSQL must be valid JSON.  A failure aborts, which
 * libFuzzer reports as a crash with the input saved.
 *
 * Run: bash test/fuzz/run.sh [seconds]   (see README.md)
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "definitions.h"

/* Deepest bracket nesting of JSON text (outside strings). */
static int
json_depth(const char *s)
{
	int			depth = 0,
				max = 0;
	int			in_string = 0;

	for (; *s; s++)
	{
		if (in_string)
		{
			if (*s == '\\' && s[1])
				s++;
			else if (*s == '"')
				in_string = 0;
		}
		else if (*s == '"')
			in_string = 1;
		else if (*s == '[' || *s == '{')
			max = ++depth > max ? depth : max;
		else if (*s == ']' || *s == '}')
			depth--;
	}
	return max;
}

/*
 * RFC 8259 for text deeper than cJSON reads (rows of params read from
 * YAML, which nests without limit, go to PostgreSQL's jsonb as they are):
 * a validator without recursion, for this harness only.  s is the text
 * the writer made: UTF-8, no raw control characters to judge.
 */
static int
json_valid_deep(const char *s)
{
	size_t		cap = strlen(s) + 1;
	char	   *stack = malloc(cap);	/* '[' or '{' per open container */
	size_t		depth = 0;
	int			ok = 0;

#define WS() while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++
	for (;;)
	{
		/* a value */
		WS();
		if (*s == '[' || *s == '{')
		{
			stack[depth++] = *s++;
			WS();
			if (*s == (stack[depth - 1] == '[' ? ']' : '}'))
			{
				s++;
				depth--;
			}
			else
			{
				if (stack[depth - 1] == '{')
				{
					if (*s != '"')
						goto done;
					goto key;
				}
				continue;
			}
		}
		else if (*s == '"')
		{
	string:
			for (s++; *s != '"'; s++)
			{
				if (*s == '\0' || (unsigned char) *s < 0x20)
					goto done;
				if (*s == '\\')
				{
					s++;
					if (*s == 'u')
					{
						for (int i = 1; i <= 4; i++)
							if (!isxdigit((unsigned char) s[i]))
								goto done;
						s += 4;
					}
					else if (strchr("\"\\/bfnrt", *s) == NULL || *s == '\0')
						goto done;
				}
			}
			s++;
			if (depth > 0 && stack[depth - 1] == ':')
			{
				/* that was a key */
				depth--;
				WS();
				if (*s++ != ':')
					goto done;
				continue;
			}
		}
		else if (*s == '-' || isdigit((unsigned char) *s))
		{
			if (*s == '-')
				s++;
			if (*s == '0')
				s++;
			else if (isdigit((unsigned char) *s))
				while (isdigit((unsigned char) *s))
					s++;
			else
				goto done;
			if (*s == '.')
			{
				if (!isdigit((unsigned char) *++s))
					goto done;
				while (isdigit((unsigned char) *s))
					s++;
			}
			if (*s == 'e' || *s == 'E')
			{
				s++;
				if (*s == '-' || *s == '+')
					s++;
				if (!isdigit((unsigned char) *s))
					goto done;
				while (isdigit((unsigned char) *s))
					s++;
			}
		}
		else if (strncmp(s, "true", 4) == 0 || strncmp(s, "null", 4) == 0)
			s += 4;
		else if (strncmp(s, "false", 5) == 0)
			s += 5;
		else
			goto done;

		/* after a value: the next, or the ends of containers */
		for (;;)
		{
			WS();
			if (depth == 0)
			{
				ok = *s == '\0';
				goto done;
			}
			if (*s == ',')
			{
				s++;
				if (stack[depth - 1] == '{')
				{
					WS();
					if (*s != '"')
						goto done;
					goto key;
				}
				break;
			}
			if (*s != (stack[depth - 1] == '[' ? ']' : '}'))
				goto done;
			s++;
			depth--;
		}
		continue;
key:
		stack[depth++] = ':';	/* the string read next is a key */
		goto string;
	}
#undef WS
done:
	free(stack);
	return ok;
}

/*
 * Rows must be valid JSON: cJSON says so, up to its nesting limit (1000);
 * deeper rows are checked by json_valid_deep.
 */
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
	if (j == NULL && json_depth(s) >= DEF_MAX_JSON_DEPTH && json_valid_deep(s))
	{
		free(s);
		return;
	}
	if (j == NULL)
	{
		fprintf(stderr, "%s is not valid JSON:\n%.2000s\n", what, s);
		abort();
	}
	cJSON_Delete(j);
	free(s);
}

static void
round_trip(const DefDocument *doc, DefOutput out, bool state)
{
	DefWritten	w;
	size_t		l1,
				l2;
	char	   *s1 = def_serialize_bounded(doc, out, state, 0, &w);
	DefDocument *d2;
	char	   *s2;

	if (s1 == NULL)
		abort();
	l1 = w.len;
	d2 = def_parse(s1, l1);
	if (d2 == NULL)
		abort();
	if (out == DEF_OUTPUT_YAML && w.flow_work > DEF_MAX_YAML_FLOW_WORK)
	{
		if (d2->nerrors != 1 || d2->errors[0].kind != DEF_ERR_LIMIT ||
			strstr(d2->errors[0].message, "flow collections nest too deeply") == NULL)
		{
			fprintf(stderr, "YAML with flow work %llu not refused for it\n", (unsigned long long) w.flow_work);
			abort();
		}
		free(s1);
		def_free(d2);
		return;
	}
	if (out == DEF_OUTPUT_JSON && w.depth > DEF_MAX_JSON_DEPTH)
	{
		if (d2->nerrors != 1 || d2->errors[0].kind != DEF_ERR_LIMIT ||
			strstr(d2->errors[0].message, "JSON document nests more than") == NULL ||
			json_depth(s1) != (int) w.depth)
		{
			fprintf(stderr, "JSON %u levels deep not refused for it\n", w.depth);
			abort();
		}
		free(s1);
		def_free(d2);
		return;
	}
	if (out == DEF_OUTPUT_JSON && json_depth(s1) != (int) w.depth)
	{
		fprintf(stderr, "JSON %d levels deep, the writer counted %u\n", json_depth(s1), w.depth);
		abort();
	}
	if (d2->nerrors)
	{
		char		msg[1024];

		def_format_error(&d2->errors[0], msg, sizeof(msg));
		fprintf(stderr, "output does not parse back: %s\n---\n%s\n", msg, s1);
		abort();
	}
	if (w.nodes != d2->nodes || (out == DEF_OUTPUT_YAML && w.flow_work != d2->flow_work))
	{
		fprintf(stderr, "the writer counts %llu nodes and %llu flow work, the parser %u and %llu\n---\n%s\n",
				(unsigned long long) w.nodes, (unsigned long long) w.flow_work, d2->nodes,
				(unsigned long long) d2->flow_work, s1);
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
