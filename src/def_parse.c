/*
 * def_parse.c — the parser's entry point and state: def_parse checks the
 * raw text (size, UTF-8, forbidden characters), hands it to the YAML or
 * JSON reader, then to the binder.  Fatal errors longjmp back here
 * (fail), checking errors are collected (complain); the path of the value
 * being read or bound (features[2].routes[0].model) is kept here too.
 *
 * Pipeline (definitions_int.h): stage 1, and the driver of stages 2-3:
 *   def_parse -> check_text -> read_yaml (def_read_yaml.c) or read_json
 *   (def_read_json.c) -> bind_document (def_bind.c).
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "definitions_int.h"

/* ----------------------------------------------------------------------
 * The parser's state
 * ---------------------------------------------------------------------- */

/*
 * Stops parsing with a fatal error at line:column.  While a YAML tree is
 * being built, the path is that of the value being read.
 */
void
fail(Parser *P, DefErrorKind kind, int line, int column, const char *hint,
	 const char *fmt,...)
{
	va_list		ap;

	if (P->pathlen == 0 && P->depth > 0 && kind != DEF_ERR_MEMORY)
		tree_path(P, true);
	va_start(ap, fmt);
	doc_add_error(P->doc, kind, line, column, P->path, hint, fmt, ap);
	va_end(ap);
	longjmp(P->jmp, 1);
}

void
fail_memory(Parser *P)
{
	P->doc->oom = true;
	fail(P, DEF_ERR_MEMORY, 0, 0, NULL, "out of memory while reading definitions");
}

void *
pzalloc(Parser *P, size_t size)
{
	void	   *p = arena_alloc(P->doc->arena, size);

	if (p == NULL)
		fail_memory(P);
	return p;
}

char *
pstrndup(Parser *P, const char *s, size_t len)
{
	char	   *p = pzalloc(P, len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* The allocator handed to strmap: never returns NULL (fails instead). */
void *
strmap_alloc(void *arg, size_t size)
{
	return pzalloc((Parser *) arg, size);
}

const char *
pquote(Parser *P, const char *s, size_t len)
{
	return doc_quote(P->doc, s, len);
}

/*
 * Records a checking error at node n (or the document) with the current
 * path, and goes on; stops parsing when the error list is full.
 */
void
complain(Parser *P, const DefNode *n, DefErrorKind kind, const char *hint,
		 const char *fmt,...)
{
	va_list		ap;
	bool		more;

	va_start(ap, fmt);
	more = doc_add_error(P->doc, kind, n ? n->line : 0, n ? n->column : 0,
						 P->path, hint, fmt, ap);
	va_end(ap);
	if (!more)
		longjmp(P->jmp, 1);
}

/* ----------------------------------------------------------------------
 * Paths of the value being read or bound (features[2].routes[0].model)
 * ---------------------------------------------------------------------- */

static bool
is_identifier(const char *s)
{
	if (!*s || isdigit((unsigned char) *s))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char) *s) && *s != '_' && *s != '-')
			return false;
	return true;
}

void
path_append(Parser *P, const char *fmt,...)
{
	va_list		ap;
	int			n;
	size_t		room = sizeof(P->path) - P->pathlen;

	if (room <= 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(P->path + P->pathlen, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t) n >= room)
		P->pathlen = sizeof(P->path) - 1;
	else
		P->pathlen += n;
}

/* Appends .key (or ["key"]) to the path; returns the length to restore. */
size_t
path_key(Parser *P, const char *key)
{
	size_t		old = P->pathlen;

	if (is_identifier(key))
		path_append(P, "%s%s", old ? "." : "", key);
	else
		path_append(P, "[%s]", pquote(P, key, strlen(key)));
	return old;
}

size_t
path_index(Parser *P, uint32_t i)
{
	size_t		old = P->pathlen;

	path_append(P, "[%u]", i);
	return old;
}

void
path_restore(Parser *P, size_t old)
{
	P->pathlen = old;
	P->path[old] = '\0';
}

/*
 * The path of the value being read, from the open containers: each is its
 * parent's pending key or next index.  pending: include the value being
 * added to the innermost container.  Stops when the path is full (nesting
 * has no limit of its own).
 */
void
tree_path(Parser *P, bool pending)
{
	int			last = pending ? P->depth : P->depth - 1;

	path_restore(P, 0);
	for (int k = 1; k <= last && P->pathlen < sizeof(P->path) - 1; k++)
	{
		const Frame *parent = &P->frames[k - 1];

		if (parent->node->kind == DEF_NODE_OBJECT)
		{
			if (parent->pending_key)
				path_key(P, parent->pending_key->text);
		}
		else
			path_index(P, parent->node->count);
	}
}

/* ----------------------------------------------------------------------
 * def_parse: the raw text, then the reader and the binder
 * ---------------------------------------------------------------------- */

/*
 * Checks the raw text: valid UTF-8, and only characters the format allows
 * (YAML: its printable set; JSON: no control characters but tab and line
 * breaks outside strings, checked by the pre-scan).
 */
static void
check_text(Parser *P, bool json)
{
	const unsigned char *s = (const unsigned char *) P->text;
	size_t		len = P->len;
	int			line = 1,
				column = 1;

	for (size_t i = 0; i < len;)
	{
		uint32_t	cp;
		int			n;

		if (s[i] < 0x80)
		{
			cp = s[i];
			n = 1;
		}
		else
		{
			n = utf8_decode(s + i, len - i, &cp);
			if (n == 0)
				fail(P, DEF_ERR_ENCODING, line, column, "Definitions are UTF-8 text.",
					 "invalid UTF-8 byte sequence starting with byte 0x%02X", s[i]);
		}
		if (cp == 0)
			fail(P, DEF_ERR_ENCODING, line, column, NULL, "NUL bytes are not allowed in definitions");
		if (!json && ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') ||
					  cp == 0x7F || (cp >= 0x80 && cp <= 0x9F && cp != 0x85) ||
					  cp == 0xFEFF || cp == 0xFFFE || cp == 0xFFFF))
			fail(P, DEF_ERR_ENCODING, line, column, "YAML allows only printable characters; escape others in a double-quoted string.",
				 "character U+%04X is not allowed in YAML", (unsigned) cp);
		if (cp == '\n')
		{
			line++;
			column = 1;
		}
		else
			column++;
		i += n;
	}
}

/* The steps of def_parse (see the banner); fatal errors longjmp out. */
static void
parse_document(Parser *P, const char *text, size_t len)
{
	size_t		i = 0;
	bool		json;

	if (text == NULL)
	{
		text = "";
		len = 0;
	}
	if (len > DEF_MAX_DOCUMENT_BYTES)
		fail(P, DEF_ERR_LIMIT, 0, 0, "The limit is 8388608 bytes (8 MiB).",
			 "definitions document is too large (%zu bytes)", len);
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
	{
		text += 3;
		len -= 3;
	}
	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
		i++;
	json = i < len && (text[i] == '{' || text[i] == '[');
	P->text = json ? pstrndup(P, text, len) : text;
	P->len = len;
	check_text(P, json);
	if (json)
		read_json(P);
	else
		read_yaml(P);
	bind_document(P);
}

DefDocument *
def_parse(const char *text, size_t len)
{
	DefDocument *doc = def_new_document();
	Parser	   *P;

	if (doc == NULL)
		return NULL;
	P = calloc(1, sizeof(Parser));
	if (P == NULL)
	{
		doc->oom = true;
		def_error(doc, DEF_ERR_MEMORY, NULL, NULL, "out of memory while reading definitions");
		return doc;
	}
	P->doc = doc;
	if (setjmp(P->jmp) == 0)
		parse_document(P, text, len);
	if (P->yevent_live)
		yaml_event_delete(&P->yevent);
	if (P->yparser_live)
		yaml_parser_delete(&P->yparser);
	if (P->json)
		cJSON_Delete(P->json);
	doc->nodes = P->nodes;
	doc->flow_work = P->flow_work;
	free(P);
	return doc;
}
