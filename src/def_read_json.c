/*
 * def_read_json.c — reads JSON text into the node tree with cJSON, as SPEC
 * §4 says, in three steps:
 *
 *   1. a lexical pre-scan bounds what cJSON will build and how deep it will
 *      recurse (nesting, values, items per container), and judges what
 *      cJSON is laxer about than RFC 8259: raw control characters, escapes
 *      (\u0000, which PostgreSQL text cannot hold, bad hex digits, unpaired
 *      surrogates) and the form of numbers (01, 1. and -.5 are refused, as
 *      jsonb refuses them);
 *   2. cJSON parses the text and judges its syntax.  It reads at most 63
 *      characters of a number, so it parses a copy in which each longer
 *      number is replaced by 0 padded with spaces to the same length: the
 *      offsets stay those of the text;
 *   3. a walk of cJSON's tree, in lockstep with the original text, builds
 *      the nodes: each value gets its line:column, each number its exact
 *      text, however long.  The walk keeps its place on the tree's frames
 *      (tree_open, tree_add, tree_close), as the YAML reader does, so that
 *      it does not recurse.
 *
 * Nesting is bounded by cJSON, which recurses and stops at
 * CJSON_NESTING_LIMIT: the pre-scan refuses more than DEF_MAX_JSON_DEPTH
 * levels (YAML takes deeper documents).
 *
 * Pipeline (definitions_int.h): stage 2 for JSON: def_parse.c calls
 * read_json; the tree goes to bind_document (def_bind.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "definitions_int.h"

/* cJSON must read as deep as the pre-scan lets through. */
#if CJSON_NESTING_LIMIT < DEF_MAX_JSON_DEPTH
#error "cJSON nests less deeply than DEF_MAX_JSON_DEPTH"
#endif

#define JSON_DEPTH_TEXT_(n)	#n
#define JSON_DEPTH_TEXT_X(n)	JSON_DEPTH_TEXT_(n)
#define JSON_DEPTH_TEXT		JSON_DEPTH_TEXT_X(DEF_MAX_JSON_DEPTH)

/* The longest number cJSON reads (its buffer holds 63 characters). */
#define CJSON_MAX_NUMBER_CHARS	63

/* ----------------------------------------------------------------------
 * The pre-scan
 * ---------------------------------------------------------------------- */

/*
 * The first error the pre-scan found in a string escape or a number: it is
 * reported only if cJSON finds no syntax error before it, so that errors
 * come in document order.
 */
typedef struct JsonLexError
{
	bool		found;
	size_t		offset;
	int			line;
	int			column;
	char		message[sizeof(((DefError *) 0)->message)];
} JsonLexError;

static void lex_error(JsonLexError *e, size_t offset, int line, int column,
					  const char *fmt,...) DEF_PRINTF(5, 6);

static void
lex_error(JsonLexError *e, size_t offset, int line, int column, const char *fmt,...)
{
	va_list		ap;

	if (e->found)
		return;
	e->found = true;
	e->offset = offset;
	e->line = line;
	e->column = column;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

static int
hex4(const char *s)
{
	int			v = 0;

	for (int i = 0; i < 4; i++)
	{
		char		c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/*
 * The escape at s[0] = '\\' of a string that ends before end (its closing
 * quote, or the end of the text): its length, or 0 after noting an error.
 * \u0000 is a fatal error of its own (DEF_ERR_ENCODING).
 */
static size_t
json_escape(Parser *P, const char *s, const char *end, size_t offset, int line, int column,
			JsonLexError *lex)
{
	size_t		room = (size_t) (end - s);
	int			u,
				lo = -1;

	if (room < 2)
		return 1;				/* an unterminated string: cJSON says so */
	if (strchr("\"\\/bfnrt", s[1]) != NULL)
		return 2;
	if (s[1] != 'u')
	{
		lex_error(lex, offset, line, column, "invalid JSON: invalid escape %s", pquote(P, s, 2));
		return 0;
	}
	u = room >= 6 ? hex4(s + 2) : -1;
	if (u < 0)
	{
		lex_error(lex, offset, line, column, "invalid JSON: invalid escape %s",
				  pquote(P, s, room >= 6 ? 6 : room));
		return 0;
	}
	if (u == 0)
		fail(P, DEF_ERR_ENCODING, line, column, NULL, "\\u0000 is not allowed in definitions");
	if (u >= 0xD800 && u <= 0xDBFF && room >= 12 && s[6] == '\\' && s[7] == 'u')
		lo = hex4(s + 8);
	if ((u >= 0xD800 && u <= 0xDBFF && !(lo >= 0xDC00 && lo <= 0xDFFF)) ||
		(u >= 0xDC00 && u <= 0xDFFF))
	{
		lex_error(lex, offset, line, column, "invalid JSON: unpaired UTF-16 surrogate %s",
				  pquote(P, s, 6));
		return 0;
	}
	return lo >= 0 ? 12 : 6;
}

/* Is s[0..len) a number as RFC 8259 writes it, -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)? */
static bool
json_number_ok(const char *s, size_t len)
{
	size_t		i = 0;
	size_t		digits;

	if (i < len && s[i] == '-')
		i++;
	if (i >= len || !isdigit((unsigned char) s[i]))
		return false;
	if (s[i] == '0')
		i++;
	else
		while (i < len && isdigit((unsigned char) s[i]))
			i++;
	if (i < len && s[i] == '.')
	{
		digits = ++i;
		while (i < len && isdigit((unsigned char) s[i]))
			i++;
		if (i == digits)
			return false;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			i++;
		digits = i;
		while (i < len && isdigit((unsigned char) s[i]))
			i++;
		if (i == digits)
			return false;
	}
	return i == len;
}

static bool
number_char(char c)
{
	return isdigit((unsigned char) c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/*
 * A lexical pass over JSON text before cJSON sees it.  Fails at once on
 * what must never reach cJSON or the tree: nesting deeper than cJSON reads,
 * too many values or items in one container (cJSON would allocate them),
 * raw control characters and \u0000.  Notes in *lex the first bad escape or
 * number, and returns the text cJSON is to parse: P->text, or a copy whose
 * numbers longer than cJSON reads are 0 and spaces.  It need not recognise
 * JSON: cJSON judges the syntax next.
 */
static const char *
json_prescan(Parser *P, JsonLexError *lex)
{
	const char *s = P->text;
	size_t		len = P->len;
	char	   *padded = NULL;
	int			line = 1,
				column = 1;
	int			depth = 0;
	uint32_t   *items;
	uint32_t	values = 1;
	uint32_t	containers = 0;
	bool		in_string = false;
	const char *string_end = NULL;	/* the closing quote of the string we are in */

	items = pzalloc(P, sizeof(uint32_t) * (DEF_MAX_JSON_DEPTH + 1));
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (in_string)
		{
			if (c == '\\')
			{
				size_t		n = json_escape(P, s + i, string_end, i, line, column, lex);

				/* the escape's characters are ASCII: one column each */
				if (n > 1)
				{
					i += n - 1;
					column += (int) n - 1;
				}
				else if (n == 0)
				{
					/* the escaped character goes with the backslash */
					if (s[++i] == '\n')
					{
						line++;
						column = 0;
					}
					else if (((unsigned char) s[i] & 0xC0) != 0x80)
						column++;
				}
			}
			else if (c == '"')
				in_string = false;
			else if (c < 0x20)
				fail(P, DEF_ERR_SYNTAX, line, column, "Write it as an escape such as \\n or \\t.",
					 "invalid JSON: unescaped control character in a string");
		}
		else if (c == '"')
		{
			/* where it ends, so that escapes are judged within it */
			size_t		e = i + 1;

			while (e < len && s[e] != '"')
				e += s[e] == '\\' ? 2 : 1;
			string_end = s + (e < len ? e : len);
			in_string = true;
		}
		else if (c == '[' || c == '{')
		{
			if (++depth > DEF_MAX_JSON_DEPTH)
				fail(P, DEF_ERR_LIMIT, line, column,
					 "JSON nests at most " JSON_DEPTH_TEXT " lists and mappings (cJSON's limit); YAML takes deeper documents.",
					 "JSON document nests more than %d levels", DEF_MAX_JSON_DEPTH);
			items[depth] = 0;
			if (++containers > DEF_MAX_NODES)
				fail(P, DEF_ERR_LIMIT, line, column, "The limit is 500000 nodes (values, keys and list items).",
					 "document has too many nodes");
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
		else if (c == '-' || isdigit(c))
		{
			/* a number: its form, and its length for cJSON */
			size_t		n = 1;

			while (i + n < len && number_char(s[i + n]))
				n++;
			if (!json_number_ok(s + i, n))
				lex_error(lex, i, line, column, "invalid JSON number %s", pquote(P, s + i, n));
			if (n > CJSON_MAX_NUMBER_CHARS)
			{
				if (padded == NULL)
					padded = pstrndup(P, P->text, P->len);
				padded[i] = '0';
				memset(padded + i + 1, ' ', n - 1);
			}
			i += n - 1;
			column += (int) n - 1;
		}
		else if (c < 0x20 && c != '\n' && c != '\t' && c != '\r')
			fail(P, DEF_ERR_SYNTAX, line, column, NULL, "invalid JSON: control character outside a string");

		if (c == '\n')
		{
			line++;
			column = 1;
		}
		else if ((c & 0xC0) != 0x80)
			column++;
	}
	return padded ? padded : P->text;
}

/* ----------------------------------------------------------------------
 * cJSON
 * ---------------------------------------------------------------------- */

/*
 * cJSON's allocator, so that running out of memory is told from a syntax
 * error (cJSON returns NULL for both).
 */
static bool json_malloc_failed;

static void *
json_malloc(size_t size)
{
	void	   *p = malloc(size);

	if (p == NULL)
		json_malloc_failed = true;
	return p;
}

/*
 * cJSON gave up at offset off: reports the syntax error there.  cJSON points
 * at the character where it gave up, sometimes past the culprit: a closing
 * bracket right after a comma is the culprit (a trailing comma); otherwise,
 * from whitespace, step back to the last token.
 */
static void
json_syntax_error(Parser *P, size_t off)
{
	size_t		back;
	int			line,
				column;

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

/* ----------------------------------------------------------------------
 * The walk: cJSON's tree and the text in lockstep
 * ---------------------------------------------------------------------- */

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

/* Skips whitespace and the separators , and : (cJSON has checked them). */
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

/* The text and cJSON's tree disagree: cannot happen, but never misread. */
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

		js_advance(P, c == '\\' ? 2 : 1);
		if (c == '"')
			return;
	}
	fail(P, DEF_ERR_SYNTAX, P->jline, P->jcol, NULL, "invalid JSON: unterminated string");
}

/* Length of the number or literal at the scan position. */
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

/* A string node from cJSON's decoded text (no NUL: the pre-scan refused \u0000). */
static DefNode *
js_string_node(Parser *P, const char *s, int line, int column)
{
	size_t		len = strlen(s);
	DefNode    *n = new_node(P, DEF_NODE_STRING, line, column);

	if (!utf8_valid(s, len))
		fail(P, DEF_ERR_ENCODING, line, column, NULL, "invalid UTF-8 in a JSON string");
	n->text = pstrndup(P, s, len);
	n->len = (uint32_t) len;
	return n;
}

/* The scalar cJSON read as item, at the scan position, as a node. */
static DefNode *
js_scalar(Parser *P, const cJSON *item)
{
	int			line = P->jline,
				column = P->jcol;
	DefNode    *n;

	if (cJSON_IsString(item))
	{
		n = js_string_node(P, item->valuestring ? item->valuestring : "", line, column);
		js_skip_string(P);
	}
	else if (cJSON_IsNumber(item))
	{
		/* the exact text, from the original (cJSON read a double) */
		size_t		len = js_token_len(P);
		char	   *num = normalize_decimal(P, P->js + P->jpos, len, false);

		if (num == NULL)
			fail(P, DEF_ERR_SYNTAX, line, column, NULL, "invalid JSON number %s",
				 pquote(P, P->js + P->jpos, len));
		n = new_node(P, DEF_NODE_NUMBER, line, column);
		n->text = num;
		n->len = (uint32_t) strlen(num);
		js_advance(P, len);
	}
	else if (cJSON_IsBool(item) || cJSON_IsNull(item))
	{
		n = new_node(P, cJSON_IsNull(item) ? DEF_NODE_NULL : DEF_NODE_BOOL, line, column);
		n->text = cJSON_IsNull(item) ? "null" : cJSON_IsTrue(item) ? "true" : "false";
		n->len = (uint32_t) strlen(n->text);
		js_advance(P, n->len);
	}
	else
	{
		fail(P, DEF_ERR_SYNTAX, line, column, NULL, "invalid JSON value");
		n = NULL;
	}
	return n;
}

/*
 * Builds the tree from cJSON's, walking the text in lockstep for positions
 * and numbers.  A loop, not a recursion: the open containers are the
 * tree's frames, and next[] holds, for each, the cJSON item to read next.
 */
static void
json_walk(Parser *P, const cJSON *item)
{
	const cJSON **next = pzalloc(P, sizeof(cJSON *) * (DEF_MAX_JSON_DEPTH + 1));

	P->js = P->text;
	P->jpos = 0;
	P->jlen = P->len;
	P->jline = 1;
	P->jcol = 1;
	for (;;)
	{
		js_skip(P);
		if (cJSON_IsObject(item) || cJSON_IsArray(item))
		{
			bool		object = cJSON_IsObject(item);

			if (P->depth >= DEF_MAX_JSON_DEPTH)
				fail(P, DEF_ERR_LIMIT, P->jline, P->jcol, NULL, "JSON document nests more than %d levels",
					 DEF_MAX_JSON_DEPTH);
			tree_open(P, object ? DEF_NODE_OBJECT : DEF_NODE_ARRAY, P->jline, P->jcol, NULL);
			js_expect(P, object ? '{' : '[');
			next[P->depth - 1] = item->child;
		}
		else
			tree_add(P, js_scalar(P, item));

		/* the next item, closing the containers it ends */
		for (;;)
		{
			const cJSON *child;

			if (P->depth == 0)
				return;
			child = next[P->depth - 1];
			if (child == NULL)
			{
				bool		object = P->frames[P->depth - 1].node->kind == DEF_NODE_OBJECT;

				js_skip(P);
				js_expect(P, object ? '}' : ']');
				tree_close(P);
				continue;
			}
			next[P->depth - 1] = child->next;
			if (P->frames[P->depth - 1].node->kind == DEF_NODE_OBJECT)
			{
				js_skip(P);
				tree_add(P, js_string_node(P, child->string ? child->string : "", P->jline, P->jcol));
				js_skip_string(P);
			}
			item = child;
			break;
		}
	}
}

/*
 * Reads JSON text (a NUL-terminated copy in P->text) into the node tree:
 * the pre-scan, cJSON, the walk.  cJSON's tree is freed by def_parse should
 * the walk fail.
 */
void
read_json(Parser *P)
{
	JsonLexError lex = {0};
	const char *for_cjson = json_prescan(P, &lex);
	const char *end = NULL;
	cJSON_Hooks hooks = {json_malloc, free};

	cJSON_InitHooks(&hooks);
	json_malloc_failed = false;
	P->json = cJSON_ParseWithOpts(for_cjson, &end, 1);
	if (P->json == NULL && json_malloc_failed)
		fail_memory(P);
	if (lex.found && (P->json != NULL || end == NULL || lex.offset <= (size_t) (end - for_cjson)))
		fail(P, DEF_ERR_SYNTAX, lex.line, lex.column, NULL, "%s", lex.message);
	if (P->json == NULL)
		json_syntax_error(P, end ? (size_t) (end - for_cjson) : 0);
	json_walk(P, P->json);
	cJSON_Delete(P->json);
	P->json = NULL;
}
