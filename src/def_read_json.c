/*
 * def_read_json.c — reads JSON text into the node tree: a lexical pre-scan
 * bounds depth, values and items and refuses what cJSON would let through
 * (raw control characters, \u0000, over-long numbers); cJSON parses; a
 * lockstep scan of the text then gives each value its line:column and each
 * number its exact text.
 *
 * Pipeline (definitions_int.h): stage 2 for JSON: def_parse.c calls
 * read_json; the tree goes to bind_document (def_bind.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "definitions_int.h"

/* ----------------------------------------------------------------------
 * JSON
 * ---------------------------------------------------------------------- */

/*
 * A lexical pass over JSON text before cJSON sees it: bounds the depth, the
 * number of values and of items per container, and refuses raw control
 * characters and \u0000 (which cJSON would accept, and PostgreSQL text
 * cannot hold).  It need not recognise JSON: cJSON judges the syntax next.
 */
static void
json_prescan(Parser *P)
{
	const char *s = P->text;
	size_t		len = P->len;
	int			line = 1,
				column = 1;
	int			depth = 0;
	uint32_t	items[DEF_MAX_DEPTH + 2];
	uint32_t	values = 1;
	bool		in_string = false;
	size_t		number_run = 0;

	items[0] = 0;
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (in_string)
		{
			if (c == '\\' && i + 1 < len)
			{
				if (s[i + 1] == 'u' && i + 5 < len && memcmp(s + i + 2, "0000", 4) == 0)
					fail(P, DEF_ERR_ENCODING, line, column, NULL,
						 "\\u0000 is not allowed in definitions");
				i++;
				column++;
			}
			else if (c == '"')
				in_string = false;
			else if (c < 0x20)
				fail(P, DEF_ERR_SYNTAX, line, column, "Write it as an escape such as \\n or \\t.",
					 "invalid JSON: unescaped control character in a string");
		}
		else if (c == '"')
			in_string = true;
		else if (c == '[' || c == '{')
		{
			if (++depth > DEF_MAX_DEPTH)
				fail(P, DEF_ERR_LIMIT, line, column, "The limit is 64 nested lists and mappings.",
					 "document nests too deeply");
			items[depth] = 0;
		}
		else if (c == ']' || c == '}')
		{
			if (depth > 0)
				depth--;
		}
		else if (c == ',')
		{
			if (++values > DEF_MAX_NODES)
				fail(P, DEF_ERR_LIMIT, line, column, "The limit is 500000 nodes (values, keys and list items).",
					 "document has too many nodes");
			if (++items[depth] >= DEF_MAX_ITEMS)
				fail(P, DEF_ERR_LIMIT, line, column, "The limit is 100000 items in one list or mapping.",
					 "too many items in one list or mapping");
		}
		else if (c < 0x20 && c != '\n' && c != '\t' && c != '\r')
			fail(P, DEF_ERR_SYNTAX, line, column, NULL, "invalid JSON: control character outside a string");

		/* cJSON reads at most 63 characters of a number: refuse longer ones */
		if (!in_string && (isdigit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'))
		{
			if (++number_run > DEF_MAX_NUMBER_CHARS)
				fail(P, DEF_ERR_LIMIT, line, column, "Numbers are at most 63 characters; quote it to make it a string.",
					 "number is too long");
		}
		else
			number_run = 0;

		if (c == '\n')
		{
			line++;
			column = 1;
		}
		else if ((c & 0xC0) != 0x80)
			column++;
	}
}

static void
js_advance(Parser *P, size_t n)
{
	for (size_t i = 0; i < n && P->jpos < P->jlen; i++)
	{
		unsigned char c = (unsigned char) P->js[P->jpos++];

		if (c == '\n')
		{
			P->jline++;
			P->jcol = 1;
		}
		else if ((c & 0xC0) != 0x80)
			P->jcol++;
	}
}

/* Skips whitespace and the separators , and : of the lockstep scan. */
static void
js_skip(Parser *P)
{
	while (P->jpos < P->jlen)
	{
		char		c = P->js[P->jpos];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ':')
			js_advance(P, 1);
		else
			break;
	}
}

static void
js_expect(Parser *P, char c)
{
	if (P->jpos >= P->jlen || P->js[P->jpos] != c)
		fail(P, DEF_ERR_SYNTAX, P->jline, P->jcol, NULL, "invalid JSON near this position");
	js_advance(P, 1);
}

static void
js_skip_string(Parser *P)
{
	js_expect(P, '"');
	while (P->jpos < P->jlen)
	{
		char		c = P->js[P->jpos];

		if (c == '\\')
			js_advance(P, 2);
		else
		{
			js_advance(P, 1);
			if (c == '"')
				return;
		}
	}
	fail(P, DEF_ERR_SYNTAX, P->jline, P->jcol, NULL, "invalid JSON: unterminated string");
}

/* Length of the literal or number token at the scan position. */
static size_t
js_token_len(Parser *P)
{
	size_t		n = 0;

	while (P->jpos + n < P->jlen)
	{
		char		c = P->js[P->jpos + n];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ']' || c == '}' || c == ':')
			break;
		n++;
	}
	return n;
}

static DefNode *
json_string_node(Parser *P, const char *s, int line, int column)
{
	size_t		len = strlen(s);
	DefNode    *n = new_node(P, DEF_NODE_STRING, line, column);

	if (!utf8_valid(s, len))
		fail(P, DEF_ERR_ENCODING, line, column, NULL, "invalid UTF-8 in a JSON string");
	if (len > UINT32_MAX - 1)
		fail(P, DEF_ERR_LIMIT, line, column, NULL, "string is too long");
	n->text = pstrndup(P, s, len);
	n->len = (uint32_t) len;
	return n;
}

/*
 * Converts a cJSON value to a node, walking the text in lockstep to learn
 * each value's position and each number's exact text.  Recursion is bounded
 * by the pre-scan's depth limit.
 */
static DefNode *
json_convert(Parser *P, const cJSON *item, int depth)
{
	DefNode    *n;
	int			line,
				column;

	if (depth > DEF_MAX_DEPTH + 1)
		fail(P, DEF_ERR_LIMIT, P->jline, P->jcol, NULL, "document nests too deeply");
	js_skip(P);
	line = P->jline;
	column = P->jcol;
	if (cJSON_IsObject(item) || cJSON_IsArray(item))
	{
		bool		object = cJSON_IsObject(item);

		n = new_node(P, object ? DEF_NODE_OBJECT : DEF_NODE_ARRAY, line, column);
		js_expect(P, object ? '{' : '[');
		for (const cJSON *child = item->child; child; child = child->next)
		{
			DefNode    *key = NULL,
					   *value;
			size_t		old;

			if (n->count >= DEF_MAX_ITEMS)
				fail(P, DEF_ERR_LIMIT, P->jline, P->jcol, "The limit is 100000 items in one list or mapping.",
					 "too many items in one list or mapping");
			if (object)
			{
				js_skip(P);
				key = json_string_node(P, child->string ? child->string : "", P->jline, P->jcol);
				js_skip_string(P);
			}
			old = object ? path_key(P, key->text) : path_index(P, n->count);
			value = json_convert(P, child, depth + 1);
			path_restore(P, old);
			if (!node_append(P->doc->arena, n, key, value))
				fail_memory(P);
		}
		js_skip(P);
		js_expect(P, object ? '}' : ']');
		{
			uint64_t	nodes = 1;
			uint32_t	height = 0;

			for (uint32_t i = 0; i < n->count; i++)
			{
				nodes += n->items[i]->nodes + (object ? 1 : 0);
				if (n->items[i]->height > height)
					height = n->items[i]->height;
			}
			n->nodes = nodes > UINT32_MAX ? UINT32_MAX : (uint32_t) nodes;
			n->height = height + 1;
		}
		if (object)
			check_duplicate_keys(P, n);
		return n;
	}
	if (cJSON_IsString(item))
	{
		n = json_string_node(P, item->valuestring ? item->valuestring : "", line, column);
		js_skip_string(P);
		return n;
	}
	if (cJSON_IsNumber(item))
	{
		size_t		tl = js_token_len(P);
		char	   *num = normalize_decimal(P, P->js + P->jpos, tl, false);

		if (num == NULL)
			fail(P, DEF_ERR_SYNTAX, line, column, NULL, "invalid JSON number %s",
				 pquote(P, P->js + P->jpos, tl));
		n = new_node(P, DEF_NODE_NUMBER, line, column);
		n->text = num;
		n->len = (uint32_t) strlen(num);
		js_advance(P, tl);
		return n;
	}
	if (cJSON_IsBool(item) || cJSON_IsNull(item))
	{
		n = new_node(P, cJSON_IsNull(item) ? DEF_NODE_NULL : DEF_NODE_BOOL, line, column);
		n->text = cJSON_IsNull(item) ? "null" : cJSON_IsTrue(item) ? "true" : "false";
		n->len = (uint32_t) strlen(n->text);
		js_advance(P, js_token_len(P));
		return n;
	}
	fail(P, DEF_ERR_SYNTAX, line, column, NULL, "invalid JSON value");
	return NULL;
}

/* Reads JSON text (NUL-terminated copy in P->text) into the node tree. */
void
read_json(Parser *P)
{
	const char *end = NULL;

	json_prescan(P);
	P->json = cJSON_ParseWithOpts(P->text, &end, 1);
	if (P->json == NULL)
	{
		size_t		off = end ? (size_t) (end - P->text) : 0;
		size_t		back;
		int			line,
					column;

		/*
		 * cJSON points at the character where it gave up, sometimes past
		 * the culprit.  A closing bracket right after a comma is the culprit
		 * (a trailing comma); otherwise, from whitespace, step back to the
		 * last token.
		 */
		if (off > P->len)
			off = P->len;
		back = off;
		while (back > 0 && strchr(" \t\r\n", P->text[back - 1]) != NULL)
			back--;
		if (back > 0 && (P->text[back - 1] == '}' || P->text[back - 1] == ']'))
		{
			size_t		prev = back - 1;

			while (prev > 0 && strchr(" \t\r\n", P->text[prev - 1]) != NULL)
				prev--;
			if (prev > 0 && P->text[prev - 1] == ',')
				off = back - 1;
		}
		if (off < P->len && strchr(" \t\r\n", P->text[off]) != NULL && back > 0)
			off = back - 1;
		offset_position(P->text, P->len, off, &line, &column);
		if (off >= P->len)
			fail(P, DEF_ERR_SYNTAX, line, column, NULL, "invalid JSON: unexpected end of document");
		else
		{
			uint32_t	cp;
			int			n = utf8_decode((const unsigned char *) P->text + off, P->len - off, &cp);

			fail(P, DEF_ERR_SYNTAX, line, column, NULL, "invalid JSON: unexpected %s",
				 pquote(P, P->text + off, n > 0 ? (size_t) n : 1));
		}
	}
	P->js = P->text;
	P->jpos = 0;
	P->jlen = P->len;
	P->jline = 1;
	P->jcol = 1;
	P->root = json_convert(P, P->json, 1);
	P->have_root = true;
	cJSON_Delete(P->json);
	P->json = NULL;
}
