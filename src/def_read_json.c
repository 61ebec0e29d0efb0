/*
 * def_read_json.c — reads JSON text (RFC 8259) into the node tree: a
 * lexical pre-scan bounds the values and the items per container and
 * refuses raw control characters and \u0000 before anything is built;
 * then one pass reads the tokens with an explicit stack (the tree's
 * frames, as for YAML), so that nesting costs no recursion, and keeps each
 * value's line:column and each number's exact text, however long.
 *
 * (It replaced cJSON, which recurses, stops at 1000 levels and reads at
 * most 63 characters of a number: jsonb holds deeper and longer values,
 * and dump_definitions must write them so that load_definitions reads
 * them back.)
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
 * The pre-scan
 * ---------------------------------------------------------------------- */

/*
 * A lexical pass over JSON text before anything is built: bounds the number
 * of values and of items per container, and refuses raw control characters
 * and \u0000 (which PostgreSQL text cannot hold).  It need not recognise
 * JSON: the reader judges the syntax next.
 */
static void
json_prescan(Parser *P)
{
	const char *s = P->text;
	size_t		len = P->len;
	int			line = 1,
				column = 1;
	int			depth = 0;
	uint32_t   *items;
	int			items_cap = 64;
	uint32_t	values = 1;
	uint32_t	containers = 0;
	bool		in_string = false;

	items = pzalloc(P, sizeof(uint32_t) * (size_t) items_cap);
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
			/* no depth limit: each level is a value, bounded below */
			if (++depth == items_cap)
			{
				uint32_t   *bigger = pzalloc(P, sizeof(uint32_t) * (size_t) items_cap * 2);

				memcpy(bigger, items, sizeof(uint32_t) * (size_t) items_cap);
				items = bigger;
				items_cap *= 2;
			}
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
}

/* ----------------------------------------------------------------------
 * The reader
 * ---------------------------------------------------------------------- */

static void json_syntax(Parser *P, int line, int column, const char *fmt,...) DEF_PRINTF(4, 5);

/*
 * A syntax error: reported without a path (the text is not a tree yet),
 * as cJSON's were.
 */
static void
json_syntax(Parser *P, int line, int column, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	doc_add_error(P->doc, DEF_ERR_SYNTAX, line, column, "", NULL, fmt, ap);
	va_end(ap);
	longjmp(P->jmp, 1);
}

static int
js_peek(Parser *P)
{
	return P->jpos < P->jlen ? (unsigned char) P->js[P->jpos] : -1;
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

static void
js_skip_space(Parser *P)
{
	int			c;

	while ((c = js_peek(P)) == ' ' || c == '\t' || c == '\n' || c == '\r')
		js_advance(P, 1);
}

/* The character at the scan position is not what JSON allows there. */
static void
js_unexpected(Parser *P)
{
	uint32_t	cp;
	int			n;

	if (P->jpos >= P->jlen)
		json_syntax(P, P->jline, P->jcol, "invalid JSON: unexpected end of document");
	n = utf8_decode((const unsigned char *) P->js + P->jpos, P->jlen - P->jpos, &cp);
	json_syntax(P, P->jline, P->jcol, "invalid JSON: unexpected %s",
				pquote(P, P->js + P->jpos, n > 0 ? (size_t) n : 1));
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

static size_t
put_utf8(char *out, uint32_t cp)
{
	if (cp < 0x80)
	{
		out[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		out[0] = (char) (0xC0 | (cp >> 6));
		out[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		out[0] = (char) (0xE0 | (cp >> 12));
		out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char) (0xF0 | (cp >> 18));
	out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

/*
 * Reads the string at the scan position (a '"') into a node: escapes
 * decoded, UTF-16 surrogates paired.  The text is valid UTF-8 and holds no
 * raw control character or \u0000 (check_text and the pre-scan).
 */
static DefNode *
js_string(Parser *P)
{
	int			line = P->jline,
				column = P->jcol;
	size_t		start = P->jpos + 1;
	size_t		end = start;
	char	   *out;
	size_t		n = 0;
	DefNode    *node;

	/* find the closing quote; the decoded text is never longer */
	while (end < P->jlen && P->js[end] != '"')
		end += P->js[end] == '\\' ? 2 : 1;
	if (end >= P->jlen)
	{
		js_advance(P, P->jlen - P->jpos);
		json_syntax(P, P->jline, P->jcol, "invalid JSON: unexpected end of document");
	}
	out = pzalloc(P, end - start + 1);
	js_advance(P, 1);
	while (P->jpos < end)
	{
		const char *s = P->js + P->jpos;
		size_t		run = 0;

		while (P->jpos + run < end && s[run] != '\\')
			run++;
		if (run > 0)
		{
			memcpy(out + n, s, run);
			n += run;
			js_advance(P, run);
			continue;
		}
		/* an escape */
		switch (s[1])
		{
			case '"':
			case '\\':
			case '/':
				out[n++] = s[1];
				break;
			case 'b':
				out[n++] = '\b';
				break;
			case 'f':
				out[n++] = '\f';
				break;
			case 'n':
				out[n++] = '\n';
				break;
			case 'r':
				out[n++] = '\r';
				break;
			case 't':
				out[n++] = '\t';
				break;
			case 'u':
				{
					int			u = P->jpos + 6 <= end ? hex4(s + 2) : -1;
					int			lo = -1;

					if (u < 0)
						json_syntax(P, P->jline, P->jcol, "invalid JSON: invalid escape %s",
									pquote(P, s, P->jpos + 6 <= end ? 6 : end - P->jpos));
					if (u >= 0xD800 && u <= 0xDBFF && P->jpos + 12 <= end &&
						s[6] == '\\' && s[7] == 'u')
						lo = hex4(s + 8);
					if ((u >= 0xD800 && u <= 0xDBFF && !(lo >= 0xDC00 && lo <= 0xDFFF)) ||
						(u >= 0xDC00 && u <= 0xDFFF))
						json_syntax(P, P->jline, P->jcol,
									"invalid JSON: unpaired UTF-16 surrogate %s", pquote(P, s, 6));
					if (lo >= 0)
					{
						n += put_utf8(out + n, 0x10000 + (((uint32_t) u - 0xD800) << 10) +
									  ((uint32_t) lo - 0xDC00));
						js_advance(P, 12);
					}
					else
					{
						n += put_utf8(out + n, (uint32_t) u);
						js_advance(P, 6);
					}
					continue;
				}
			default:
				json_syntax(P, P->jline, P->jcol, "invalid JSON: invalid escape %s",
							pquote(P, s, 2));
		}
		js_advance(P, 2);
	}
	js_advance(P, 1);			/* the closing quote */
	out[n] = '\0';
	node = new_node(P, DEF_NODE_STRING, line, column);
	node->text = out;
	node->len = (uint32_t) n;
	return node;
}

/*
 * Reads the number at the scan position, as RFC 8259 writes them:
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?, of any length.  Its text
 * is kept (normalized only in the case of the "e"), exactly as jsonb keeps
 * numerics.
 */
static DefNode *
js_number(Parser *P)
{
	const char *s = P->js + P->jpos;
	size_t		len = 0,
				i = 0;
	int			line = P->jline,
				column = P->jcol;
	bool		ok;
	DefNode    *node;

	while (P->jpos + len < P->jlen && (isdigit((unsigned char) s[len]) || s[len] == '-' ||
									   s[len] == '+' || s[len] == '.' || s[len] == 'e' || s[len] == 'E'))
		len++;
	if (i < len && s[i] == '-')
		i++;
	ok = i < len && isdigit((unsigned char) s[i]);
	if (ok && s[i] == '0')
		i++;
	else
		while (i < len && isdigit((unsigned char) s[i]))
			i++;
	if (ok && i < len && s[i] == '.')
	{
		size_t		digits = ++i;

		while (i < len && isdigit((unsigned char) s[i]))
			i++;
		ok = i > digits;
	}
	if (ok && i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		size_t		digits;

		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			i++;
		digits = i;
		while (i < len && isdigit((unsigned char) s[i]))
			i++;
		ok = i > digits;
	}
	if (!ok || i != len)
		json_syntax(P, line, column, "invalid JSON number %s", pquote(P, s, len));
	node = new_node(P, DEF_NODE_NUMBER, line, column);
	node->text = normalize_decimal(P, s, len, false);
	node->len = (uint32_t) strlen(node->text);
	js_advance(P, len);
	return node;
}

/* true, false or null at the scan position. */
static DefNode *
js_literal(Parser *P)
{
	static const char *const words[] = {"true", "false", "null"};

	for (int i = 0; i < 3; i++)
	{
		size_t		wl = strlen(words[i]);

		if (P->jlen - P->jpos >= wl && memcmp(P->js + P->jpos, words[i], wl) == 0)
		{
			DefNode    *node = new_node(P, i == 2 ? DEF_NODE_NULL : DEF_NODE_BOOL, P->jline, P->jcol);

			node->text = words[i];
			node->len = (uint32_t) wl;
			js_advance(P, wl);
			return node;
		}
	}
	js_unexpected(P);
	return NULL;
}

/* A mapping's key and its ':', at the scan position. */
static void
js_key(Parser *P)
{
	js_skip_space(P);
	if (js_peek(P) != '"')
		js_unexpected(P);
	tree_add(P, js_string(P));
	js_skip_space(P);
	if (js_peek(P) != ':')
		js_unexpected(P);
	js_advance(P, 1);
}

/*
 * Reads JSON text (a NUL-terminated copy in P->text) into the node tree.
 * A loop, not a recursion: containers are the tree's frames (tree_open,
 * tree_add, tree_close), as for YAML.
 */
void
read_json(Parser *P)
{
	json_prescan(P);
	P->js = P->text;
	P->jpos = 0;
	P->jlen = P->len;
	P->jline = 1;
	P->jcol = 1;

	for (;;)
	{
		int			c;

		/* a value */
		js_skip_space(P);
		c = js_peek(P);
		if (c == '{' || c == '[')
		{
			tree_open(P, c == '{' ? DEF_NODE_OBJECT : DEF_NODE_ARRAY, P->jline, P->jcol, NULL);
			js_advance(P, 1);
			js_skip_space(P);
			if (js_peek(P) != (c == '{' ? '}' : ']'))
			{
				if (c == '{')
					js_key(P);
				continue;		/* its first value */
			}
			js_advance(P, 1);
			tree_close(P);
		}
		else if (c == '"')
			tree_add(P, js_string(P));
		else if (c == '-' || (c >= '0' && c <= '9'))
			tree_add(P, js_number(P));
		else
			tree_add(P, js_literal(P));

		/* after a value: the next one, or the ends of containers */
		for (;;)
		{
			const Frame *f;

			js_skip_space(P);
			if (P->depth == 0)
			{
				if (P->jpos < P->jlen)
					js_unexpected(P);
				return;
			}
			f = &P->frames[P->depth - 1];
			c = js_peek(P);
			if (c == ',')
			{
				js_advance(P, 1);
				if (f->node->kind == DEF_NODE_OBJECT)
					js_key(P);
				break;
			}
			if (c != (f->node->kind == DEF_NODE_OBJECT ? '}' : ']'))
				js_unexpected(P);
			js_advance(P, 1);
			tree_close(P);
		}
	}
}
