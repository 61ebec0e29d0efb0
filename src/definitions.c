/*
 * definitions.c — parsing, checking and writing definitions documents.
 *
 * The pipeline of def_parse:
 *
 *   1. the whole text is checked first: size limit, valid UTF-8, no NUL or
 *      other character YAML (or JSON, outside strings) forbids;
 *   2. it is read into a tree of DefNodes, JSON values with positions:
 *      YAML through libyaml's event API, with an explicit stack bounded by
 *      DEF_MAX_DEPTH, YAML 1.1 scalar resolution (as PyYAML, which the AI
 *      gateway uses: 64_000 is 64000, yes/no are booleans), aliases shared
 *      rather than copied and counted against DEF_MAX_ALIAS_NODES (so a
 *      "billion laughs" document is refused after a few thousand nodes);
 *      JSON through cJSON, after a lexical pre-scan that bounds depth and
 *      node count and refuses what cJSON would let through (raw control
 *      characters, \u0000, numbers such as 01); a lockstep scan of the text
 *      gives each cJSON value its line:column and its exact number text;
 *   3. the format is recognised from the top-level keys and the tree is
 *      bound to providers/models/flags/features, checking every value
 *      against the rules the database triggers apply (10_validate.sql), so
 *      that errors carry line:column and a path such as
 *      features[2].routes[0].model.
 *
 * Fatal errors (syntax, limits, memory) longjmp back to def_parse, which
 * releases libyaml's and cJSON's memory; everything else lives in the
 * document's arena.  Checking errors are collected (up to DEF_MAX_ERRORS)
 * so that modelflags-lint reports them all.
 *
 * Tree walks recurse at most DEF_MAX_DEPTH levels: the depth of every tree,
 * aliases included, is checked as it is built.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <yaml.h>

#include "definitions.h"
#include "strmap.h"


#define ARENA_CHUNK			(64 * 1024)
#define ARENA_MAX_TOTAL		((size_t) 256 * 1024 * 1024)
#define QUOTE_MAX			64	/* bytes of a value quoted in a message */

/* Namespaces of the name maps. */
#define NS_ANCHOR			16
#define NS_ACTOR_BASE		32	/* + 2 * flag index (+ 1 for opt-outs) */

/* ----------------------------------------------------------------------
 * Arena
 * ---------------------------------------------------------------------- */

typedef struct DefChunk
{
	struct DefChunk *next;
	size_t		size;
	size_t		used;
	size_t		pad;			/* keeps the data 16-byte aligned */
} DefChunk;

struct DefArena
{
	DefChunk   *head;
	size_t		total;
};

/* Allocates size bytes (16-aligned, zeroed); NULL when out of memory. */
static void *
arena_alloc(DefArena *a, size_t size)
{
	DefChunk   *c;
	char	   *p;

	if (size > ARENA_MAX_TOTAL)
		return NULL;
	size = (size + 15) & ~(size_t) 15;
	if (size == 0)
		size = 16;
	c = a->head;
	if (c == NULL || c->size - c->used < size)
	{
		size_t		csize = size > ARENA_CHUNK / 4 ? size : ARENA_CHUNK;

		if (a->total + csize > ARENA_MAX_TOTAL)
			return NULL;
		c = malloc(sizeof(DefChunk) + csize);
		if (c == NULL)
			return NULL;
		c->size = csize;
		c->used = 0;
		a->total += csize;
		if (csize != ARENA_CHUNK || a->head == NULL)
		{
			/* A big block: keep the current chunk in front for small ones. */
			if (a->head == NULL)
			{
				c->next = NULL;
				a->head = c;
			}
			else
			{
				c->next = a->head->next;
				a->head->next = c;
			}
		}
		else
		{
			c->next = a->head;
			a->head = c;
		}
	}
	p = (char *) (c + 1) + c->used;
	c->used += size;
	memset(p, 0, size);
	return p;
}

static void
arena_destroy(DefArena *a)
{
	DefChunk   *c = a->head;

	while (c != NULL)
	{
		DefChunk   *next = c->next;

		free(c);
		c = next;
	}
	free(a);
}

/* ----------------------------------------------------------------------
 * Growable output buffer (malloc'd; its data is handed to the caller)
 * ---------------------------------------------------------------------- */

typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
	bool		oom;
} Buf;

static void
buf_put(Buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 256;
		char	   *d;

		while (cap < b->len + n + 1)
		{
			if (cap > ((size_t) 1 << 40))
			{
				b->oom = true;
				return;
			}
			cap *= 2;
		}
		d = realloc(b->data, cap);
		if (d == NULL)
		{
			b->oom = true;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void
buf_puts(Buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

static void
buf_putc(Buf *b, char c)
{
	buf_put(b, &c, 1);
}

static void
buf_spaces(Buf *b, int n)
{
	static const char spaces[] = "                                                                ";

	while (n > 0)
	{
		int			k = n > 64 ? 64 : n;

		buf_put(b, spaces, k);
		n -= k;
	}
}

/* Returns the buffer's string (caller frees), or NULL if anything failed. */
static char *
buf_finish(Buf *b, size_t *len)
{
	if (!b->oom && b->data == NULL)
		buf_put(b, "", 0);
	if (b->oom)
	{
		free(b->data);
		return NULL;
	}
	if (len)
		*len = b->len;
	return b->data;
}

/* ----------------------------------------------------------------------
 * UTF-8
 * ---------------------------------------------------------------------- */

/*
 * Decodes one UTF-8 character at s[0..len); returns its length, or 0 if the
 * bytes are not valid UTF-8 (overlong forms, surrogates and code points past
 * U+10FFFF included).
 */
static int
utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned char c = s[0];
	int			n;
	uint32_t	v;

	if (c < 0x80)
	{
		*cp = c;
		return 1;
	}
	else if (c >= 0xC2 && c <= 0xDF)
	{
		n = 2;
		v = c & 0x1F;
	}
	else if (c >= 0xE0 && c <= 0xEF)
	{
		n = 3;
		v = c & 0x0F;
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		n = 4;
		v = c & 0x07;
	}
	else
		return 0;
	if ((size_t) n > len)
		return 0;
	for (int i = 1; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
		(v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return n;
}

/* Is s[0..len) valid UTF-8? */
static bool
utf8_valid(const char *s, size_t len)
{
	size_t		i = 0;

	while (i < len)
	{
		uint32_t	cp;
		int			n;

		if ((unsigned char) s[i] < 0x80)
		{
			i++;
			continue;
		}
		n = utf8_decode((const unsigned char *) s + i, len - i, &cp);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* Line and column (1-based, columns in characters) of byte offset off. */
static void
offset_position(const char *s, size_t len, size_t off, int *line, int *column)
{
	int			l = 1,
				c = 1;

	if (off > len)
		off = len;
	for (size_t i = 0; i < off; i++)
	{
		if (s[i] == '\n')
		{
			l++;
			c = 1;
		}
		else if (((unsigned char) s[i] & 0xC0) != 0x80)
			c++;
	}
	*line = l;
	*column = c;
}

/* ----------------------------------------------------------------------
 * Quoting values for messages
 * ---------------------------------------------------------------------- */

/*
 * Writes s as a double-quoted string for a message: at most QUOTE_MAX bytes
 * (cut at a character boundary, then '..." (N bytes)'), control characters
 * escaped so that a message stays on one line.
 */
static void
quote_into(Buf *b, const char *s, size_t len)
{
	size_t		n = len;
	char		tmp[8];

	if (s == NULL)
	{
		buf_puts(b, "null");
		return;
	}
	if (n > QUOTE_MAX)
	{
		n = QUOTE_MAX;
		while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
			n--;
	}
	buf_putc(b, '"');
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '"' || c == '\\')
		{
			buf_putc(b, '\\');
			buf_putc(b, (char) c);
		}
		else if (c == '\n')
			buf_puts(b, "\\n");
		else if (c == '\t')
			buf_puts(b, "\\t");
		else if (c < 0x20 || c == 0x7F)
		{
			snprintf(tmp, sizeof(tmp), "\\x%02X", c);
			buf_puts(b, tmp);
		}
		else
			buf_putc(b, (char) c);
	}
	if (n < len)
	{
		snprintf(tmp, sizeof(tmp), "...\"");
		buf_puts(b, tmp);
		{
			char		num[48];

			snprintf(num, sizeof(num), " (%zu bytes)", len);
			buf_puts(b, num);
		}
	}
	else
		buf_putc(b, '"');
}

/* ----------------------------------------------------------------------
 * Documents and errors
 * ---------------------------------------------------------------------- */

static void *
doc_alloc(DefDocument *doc, size_t size)
{
	void	   *p = arena_alloc(doc->arena, size);

	if (p == NULL)
		doc->oom = true;
	return p;
}

static char *
doc_strndup(DefDocument *doc, const char *s, size_t len)
{
	char	   *p;

	if (s == NULL)
		return NULL;
	p = doc_alloc(doc, len + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* Quotes s into the document's arena (for messages); "" when out of memory. */
static const char *
doc_quote(DefDocument *doc, const char *s, size_t len)
{
	Buf			b = {0};
	char	   *out;
	char	   *q;

	quote_into(&b, s, len);
	q = buf_finish(&b, NULL);
	if (q == NULL)
		return "\"...\"";
	out = doc_strndup(doc, q, strlen(q));
	free(q);
	return out ? out : "\"...\"";
}

static bool doc_add_error(DefDocument *doc, DefErrorKind kind, int line, int column,
						  const char *path, const char *hint, const char *fmt, va_list ap) DEF_PRINTF(7, 0);

/* Appends an error to doc; false if the error list is full. */
static bool
doc_add_error(DefDocument *doc, DefErrorKind kind, int line, int column,
			  const char *path, const char *hint, const char *fmt, va_list ap)
{
	DefError   *e;

	if (doc->nerrors >= DEF_MAX_ERRORS)
		return false;
	e = &doc->errors[doc->nerrors++];
	e->kind = kind;
	e->line = line;
	e->column = column;
	snprintf(e->path, sizeof(e->path), "%s", path ? path : "");
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	snprintf(e->hint, sizeof(e->hint), "%s", hint ? hint : "");
	return doc->nerrors < DEF_MAX_ERRORS;
}

bool
def_error(DefDocument *doc, DefErrorKind kind, const DefSite *site,
		  const char *hint, const char *fmt,...)
{
	va_list		ap;
	bool		more;

	va_start(ap, fmt);
	more = doc_add_error(doc, kind, site ? site->line : 0, site ? site->column : 0,
						 site ? site->path : NULL, hint, fmt, ap);
	va_end(ap);
	return more;
}

DefDocument *
def_new_document(void)
{
	DefDocument *doc = calloc(1, sizeof(DefDocument));

	if (doc == NULL)
		return NULL;
	doc->arena = calloc(1, sizeof(DefArena));
	if (doc->arena == NULL)
	{
		free(doc);
		return NULL;
	}
	doc->errors = arena_alloc(doc->arena, sizeof(DefError) * DEF_MAX_ERRORS);
	if (doc->errors == NULL)
	{
		arena_destroy(doc->arena);
		free(doc);
		return NULL;
	}
	doc->format = DEF_FORMAT_MODELFLAGS;
	return doc;
}

void
def_free(DefDocument *doc)
{
	if (doc == NULL)
		return;
	arena_destroy(doc->arena);
	free(doc);
}

const char *
def_format_name(DefFormat format)
{
	switch (format)
	{
		case DEF_FORMAT_MODELFLAGS:
			return "modelflags";
		case DEF_FORMAT_GITLAB_FLAG:
			return "gitlab_feature_flag";
		case DEF_FORMAT_GITLAB_MODELS:
			return "gitlab_models";
		case DEF_FORMAT_GITLAB_UNIT_PRIMITIVES:
			return "gitlab_unit_primitives";
	}
	return "unknown";
}

void
def_format_error(const DefError *err, char *buf, size_t size)
{
	if (err->line > 0 && err->path[0])
		snprintf(buf, size, "%d:%d: %s: %s", err->line, err->column, err->path, err->message);
	else if (err->line > 0)
		snprintf(buf, size, "%d:%d: %s", err->line, err->column, err->message);
	else if (err->path[0])
		snprintf(buf, size, "%s: %s", err->path, err->message);
	else
		snprintf(buf, size, "%s", err->message);
}

/* ----------------------------------------------------------------------
 * The parser's state
 * ---------------------------------------------------------------------- */

typedef struct Frame
{
	DefNode    *node;			/* the container being filled */
	DefNode    *pending_key;	/* mapping: key read, value not yet */
	const char *anchor;			/* to register when the container ends */
} Frame;

typedef struct Parser
{
	DefDocument *doc;
	const char *text;
	size_t		len;
	jmp_buf		jmp;

	/* tree building */
	uint32_t	nodes;
	uint32_t	aliases;
	uint32_t	alias_nodes;
	Frame		frames[DEF_MAX_DEPTH + 1];
	int			depth;
	DefNode    *root;
	bool		have_root;
	int			documents;
	MfStrMap	anchors;
	DefNode   **anchor_nodes;
	uint32_t	nanchors;
	uint32_t	anchor_cap;

	/* libyaml and cJSON state, released by def_parse */
	yaml_parser_t yparser;
	bool		yparser_live;
	yaml_event_t yevent;
	bool		yevent_live;
	cJSON	   *json;

	/* JSON lockstep scan */
	const char *js;
	size_t		jpos;
	size_t		jlen;
	int			jline;
	int			jcol;

	/* binding */
	char		path[256];
	size_t		pathlen;
	MfStrMap	actors;
} Parser;

static void fail(Parser *P, DefErrorKind kind, int line, int column, const char *hint,
				 const char *fmt,...) DEF_PRINTF(6, 7);
static void complain(Parser *P, const DefNode *n, DefErrorKind kind, const char *hint,
					 const char *fmt,...) DEF_PRINTF(5, 6);

static void tree_path(Parser *P, bool pending);
static size_t path_key(Parser *P, const char *key);
static void path_restore(Parser *P, size_t old);
static size_t path_index(Parser *P, uint32_t i);

/*
 * Stops parsing with a fatal error at line:column.  While a YAML tree is
 * being built, the path is that of the value being read.
 */
static void
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

static void
fail_memory(Parser *P)
{
	P->doc->oom = true;
	fail(P, DEF_ERR_MEMORY, 0, 0, NULL, "out of memory while reading definitions");
}

static void *
palloc0(Parser *P, size_t size)
{
	void	   *p = arena_alloc(P->doc->arena, size);

	if (p == NULL)
		fail_memory(P);
	return p;
}

static char *
pstrndup(Parser *P, const char *s, size_t len)
{
	char	   *p = palloc0(P, len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* The allocator handed to strmap: never returns NULL (fails instead). */
static void *
strmap_alloc(void *arg, size_t size)
{
	return palloc0((Parser *) arg, size);
}

static const char *
pquote(Parser *P, const char *s, size_t len)
{
	return doc_quote(P->doc, s, len);
}

/*
 * Records a checking error at node n (or the document) with the current
 * path, and goes on; stops parsing when the error list is full.
 */
static void
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
 * Nodes
 * ---------------------------------------------------------------------- */

static DefNode *
new_node(Parser *P, DefNodeKind kind, int line, int column)
{
	DefNode    *n;

	if (++P->nodes > DEF_MAX_NODES)
		fail(P, DEF_ERR_LIMIT, line, column, "The limit is 500000 nodes (values, keys and list items).",
			 "document has too many nodes");
	n = palloc0(P, sizeof(DefNode));
	n->kind = kind;
	n->line = line;
	n->column = column;
	n->nodes = 1;
	n->height = 1;
	return n;
}

/* Appends (key, value) to a container node, growing it in the arena. */
static bool
node_append(DefArena *a, DefNode *c, DefNode *key, DefNode *value)
{
	if (c->count == c->cap)
	{
		uint32_t	cap = c->cap ? c->cap * 2 : 4;
		DefNode   **items = arena_alloc(a, sizeof(DefNode *) * cap);
		DefNode   **keys = NULL;

		if (items == NULL)
			return false;
		if (c->kind == DEF_NODE_OBJECT)
		{
			keys = arena_alloc(a, sizeof(DefNode *) * cap);
			if (keys == NULL)
				return false;
			if (c->count)
				memcpy(keys, c->keys, sizeof(DefNode *) * c->count);
			c->keys = keys;
		}
		if (c->count)
			memcpy(items, c->items, sizeof(DefNode *) * c->count);
		c->items = items;
		c->cap = cap;
	}
	if (c->kind == DEF_NODE_OBJECT)
		c->keys[c->count] = key;
	c->items[c->count] = value;
	c->count++;
	return true;
}

/* Value of key in an object node, or NULL. */
static DefNode *
node_get(const DefNode *map, const char *key)
{
	if (map == NULL || map->kind != DEF_NODE_OBJECT)
		return NULL;
	for (uint32_t i = 0; i < map->count; i++)
		if (strcmp(map->keys[i]->text, key) == 0)
			return map->items[i];
	return NULL;
}

static int
key_cmp(const void *a, const void *b)
{
	const DefNode *x = *(const DefNode *const *) a;
	const DefNode *y = *(const DefNode *const *) b;
	int			c;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	c = memcmp(x->text, y->text, x->len);
	if (c != 0)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->column < y->column ? -1 : (x->column > y->column);
}

/* Refuses a mapping that has a key twice (YAML and JSON both say "unique"). */
static void
check_duplicate_keys(Parser *P, DefNode *map)
{
	const DefNode *first = NULL,
			   *dup = NULL;

	if (map->count < 2)
		return;
	if (map->count <= 16)
	{
		for (uint32_t i = 1; i < map->count && !dup; i++)
			for (uint32_t j = 0; j < i; j++)
				if (map->keys[i]->len == map->keys[j]->len &&
					memcmp(map->keys[i]->text, map->keys[j]->text, map->keys[i]->len) == 0)
				{
					first = map->keys[j];
					dup = map->keys[i];
					break;
				}
	}
	else
	{
		DefNode   **sorted = palloc0(P, sizeof(DefNode *) * map->count);

		memcpy(sorted, map->keys, sizeof(DefNode *) * map->count);
		qsort(sorted, map->count, sizeof(DefNode *), key_cmp);
		for (uint32_t i = 1; i < map->count; i++)
			if (sorted[i]->len == sorted[i - 1]->len &&
				memcmp(sorted[i]->text, sorted[i - 1]->text, sorted[i]->len) == 0)
			{
				/* the earliest repeated key in document order */
				if (dup == NULL || key_cmp(&sorted[i], &dup) < 0)
				{
					dup = sorted[i];
					first = sorted[i - 1];
				}
			}
	}
	if (dup)
	{
		char		hint[64];

		snprintf(hint, sizeof(hint), "The first is at %d:%d.", first->line, first->column);
		if (P->depth > 0)
			tree_path(P, false);	/* YAML: the mapping's path */
		path_key(P, dup->text);
		fail(P, DEF_ERR_DUPLICATE_KEY, dup->line, dup->column, hint,
			 "duplicate key %s", pquote(P, dup->text, dup->len));
	}
}

/* Adds a finished value to the open container, or makes it the root. */
static void
tree_add(Parser *P, DefNode *value)
{
	Frame	   *f;

	if (P->depth == 0)
	{
		P->root = value;
		P->have_root = true;
		return;
	}
	f = &P->frames[P->depth - 1];
	if (f->node->kind == DEF_NODE_OBJECT && f->pending_key == NULL)
	{
		/* A key: only scalars, compared and used by their text. */
		if (value->kind == DEF_NODE_OBJECT || value->kind == DEF_NODE_ARRAY)
			fail(P, DEF_ERR_UNSUPPORTED, value->line, value->column,
				 "Use plain strings as keys.", "mappings and lists are not supported as mapping keys");
		f->pending_key = value;
		return;
	}
	if (f->node->count >= DEF_MAX_ITEMS)
		fail(P, DEF_ERR_LIMIT, value->line, value->column,
			 "The limit is 100000 items in one list or mapping.",
			 "too many items in one list or mapping");
	if (!node_append(P->doc->arena, f->node, f->pending_key, value))
		fail_memory(P);
	f->pending_key = NULL;
}

/* Opens a container at depth + 1. */
static void
tree_open(Parser *P, DefNodeKind kind, int line, int column, const char *anchor)
{
	Frame	   *f;

	if (P->depth >= DEF_MAX_DEPTH)
		fail(P, DEF_ERR_LIMIT, line, column, "The limit is 64 nested lists and mappings.",
			 "document nests too deeply");
	f = &P->frames[P->depth++];
	f->node = new_node(P, kind, line, column);
	f->pending_key = NULL;
	f->anchor = anchor;
}

static void register_anchor(Parser *P, const char *anchor, DefNode *node);

/* Closes the innermost container: sizes, duplicate keys, anchor. */
static void
tree_close(Parser *P)
{
	Frame	   *f = &P->frames[P->depth - 1];
	DefNode    *n = f->node;
	uint64_t	nodes = 1;
	uint32_t	height = 0;

	for (uint32_t i = 0; i < n->count; i++)
	{
		nodes += n->items[i]->nodes;
		if (n->keys)
			nodes += 1;
		if (n->items[i]->height > height)
			height = n->items[i]->height;
	}
	n->nodes = nodes > UINT32_MAX ? UINT32_MAX : (uint32_t) nodes;
	n->height = height + 1;
	if (n->kind == DEF_NODE_OBJECT)
		check_duplicate_keys(P, n);
	P->depth--;
	if (f->anchor)
		register_anchor(P, f->anchor, n);
	tree_add(P, n);
}

static void
register_anchor(Parser *P, const char *anchor, DefNode *node)
{
	if (P->nanchors == P->anchor_cap)
	{
		uint32_t	cap = P->anchor_cap ? P->anchor_cap * 2 : 16;
		DefNode   **a = palloc0(P, sizeof(DefNode *) * cap);

		if (P->nanchors)
			memcpy(a, P->anchor_nodes, sizeof(DefNode *) * P->nanchors);
		P->anchor_nodes = a;
		P->anchor_cap = cap;
	}
	if (P->anchors.slots == NULL)
		mf_strmap_init(&P->anchors, 16, strmap_alloc, P);
	P->anchor_nodes[P->nanchors] = node;
	mf_strmap_put(&P->anchors, NS_ANCHOR, anchor, strlen(anchor), (int32_t) P->nanchors);
	P->nanchors++;
}

/* ----------------------------------------------------------------------
 * Numbers
 * ---------------------------------------------------------------------- */

/*
 * Rewrites a decimal number as JSON number text: sign, digits, optional
 * fraction and exponent; underscores dropped (YAML 1.1), a leading '+' and
 * leading zeros removed, "1." written "1.0" and ".5" "0.5".  Returns NULL
 * if s is not such a number.
 */
static char *
normalize_decimal(Parser *P, const char *s, size_t len, bool underscores)
{
	Buf			b = {0};
	size_t		i = 0;
	size_t		int_digits = 0,
				frac_digits = 0,
				exp_digits = 0;
	bool		dot = false;
	char	   *out,
			   *res;

	if (i < len && (s[i] == '-' || s[i] == '+'))
	{
		if (s[i] == '-')
			buf_putc(&b, '-');
		i++;
	}
	/* integer part, without leading zeros */
	{
		bool		leading = true;

		for (; i < len && (isdigit((unsigned char) s[i]) || (underscores && s[i] == '_')); i++)
		{
			if (s[i] == '_')
				continue;
			int_digits++;
			if (leading && s[i] == '0')
				continue;
			leading = false;
			buf_putc(&b, s[i]);
		}
		if (leading)
			buf_putc(&b, '0');
	}
	if (i < len && s[i] == '.')
	{
		dot = true;
		buf_putc(&b, '.');
		i++;
		for (; i < len && (isdigit((unsigned char) s[i]) || (underscores && s[i] == '_')); i++)
		{
			if (s[i] == '_')
				continue;
			frac_digits++;
			buf_putc(&b, s[i]);
		}
		if (frac_digits == 0)
			buf_putc(&b, '0');
	}
	if (int_digits + frac_digits == 0)
		goto bad;
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		buf_putc(&b, 'e');
		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			buf_putc(&b, s[i++]);
		for (; i < len && isdigit((unsigned char) s[i]); i++, exp_digits++)
			buf_putc(&b, s[i]);
		if (exp_digits == 0)
			goto bad;
	}
	if (i != len)
		goto bad;
	(void) dot;
	out = buf_finish(&b, NULL);
	if (out == NULL)
		fail_memory(P);
	res = pstrndup(P, out, strlen(out));
	free(out);
	return res;
bad:
	free(b.data);
	return NULL;
}

/*
 * Converts an integer written in base 2, 8 or 16 (YAML 1.1) to decimal
 * text; NULL if s has a digit outside the base, *overflow if it does not
 * fit in 64 bits.
 */
static char *
based_integer(Parser *P, const char *s, size_t len, int base, bool negative,
			  bool *overflow)
{
	uint64_t	v = 0;
	bool		any = false;
	char		out[32];

	for (size_t i = 0; i < len; i++)
	{
		int			d;
		char		c = s[i];

		if (c == '_')
			continue;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return NULL;
		if (d >= base)
			return NULL;
		if (v > (UINT64_MAX - d) / base)
			*overflow = true;
		else
			v = v * base + d;
		any = true;
	}
	if (!any || *overflow)
		return NULL;
	snprintf(out, sizeof(out), "%s%llu", negative && v ? "-" : "", (unsigned long long) v);
	return pstrndup(P, out, strlen(out));
}

/*
 * The YAML 1.1 int forms, as PyYAML reads them: [-+]?0b[01_]+,
 * [-+]?0[0-7_]+ (octal), [-+]?(0|[1-9][0-9_]*), [-+]?0x[0-9a-fA-F_]+.
 * NULL if s is not an int.
 */
static char *
yaml_int(Parser *P, const char *s, size_t len, bool *overflow)
{
	size_t		i = 0;
	bool		negative = false;

	if (len == 0)
		return NULL;
	if (s[0] == '-' || s[0] == '+')
	{
		negative = s[0] == '-';
		i = 1;
	}
	if (i >= len || !isdigit((unsigned char) s[i]))
		return NULL;
	if (s[i] == '0' && i + 1 < len)
	{
		if (s[i + 1] == 'b')
			return based_integer(P, s + i + 2, len - i - 2, 2, negative, overflow);
		if (s[i + 1] == 'x')
			return based_integer(P, s + i + 2, len - i - 2, 16, negative, overflow);
		return based_integer(P, s + i + 1, len - i - 1, 8, negative, overflow);
	}
	for (size_t j = i; j < len; j++)
		if (!isdigit((unsigned char) s[j]) && s[j] != '_')
			return NULL;
	return normalize_decimal(P, s, len, true);
}

/*
 * The YAML 1.1 float forms (PyYAML) other than .inf and .nan:
 * [-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)? and \.[0-9_]+([eE][-+][0-9]+)?
 * NULL if s is not one.
 */
static char *
yaml_float(Parser *P, const char *s, size_t len)
{
	size_t		i = 0;

	if (len == 0)
		return NULL;
	if (s[0] == '-' || s[0] == '+')
		i = 1;
	if (i < len && isdigit((unsigned char) s[i]))
	{
		while (i < len && (isdigit((unsigned char) s[i]) || s[i] == '_'))
			i++;
		if (i >= len || s[i] != '.')
			return NULL;
		i++;
		while (i < len && (isdigit((unsigned char) s[i]) || s[i] == '_'))
			i++;
	}
	else if (i == 0 && s[0] == '.')
	{
		size_t		start = ++i;

		while (i < len && (isdigit((unsigned char) s[i]) || s[i] == '_'))
			i++;
		if (i == start)
			return NULL;
	}
	else
		return NULL;
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		size_t		start;

		i++;
		if (i >= len || (s[i] != '-' && s[i] != '+'))
			return NULL;
		start = ++i;
		while (i < len && isdigit((unsigned char) s[i]))
			i++;
		if (i == start)
			return NULL;
	}
	if (i != len)
		return NULL;
	return normalize_decimal(P, s, len, true);
}

/* YAML 1.1 sexagesimal numbers (1:30 = 90), refused rather than guessed. */
static bool
yaml_sexagesimal(const char *s, size_t len)
{
	size_t		i = 0;
	bool		colon = false;

	if (len && (s[0] == '-' || s[0] == '+'))
		i = 1;
	if (i >= len || !isdigit((unsigned char) s[i]))
		return false;
	for (; i < len; i++)
	{
		if (s[i] == ':')
		{
			colon = true;
			if (i + 1 >= len || !isdigit((unsigned char) s[i + 1]))
				return false;
		}
		else if (s[i] == '.')
			return colon;		/* sexagesimal float: digits after it */
		else if (!isdigit((unsigned char) s[i]) && s[i] != '_')
			return false;
	}
	return colon;
}

static bool
word_in(const char *s, size_t len, const char *const *words)
{
	for (int i = 0; words[i]; i++)
		if (strlen(words[i]) == len && memcmp(words[i], s, len) == 0)
			return true;
	return false;
}

static const char *const yaml_true[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", NULL};
static const char *const yaml_false[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", NULL};
static const char *const yaml_null[] = {"~", "null", "Null", "NULL", NULL};
static const char *const yaml_special_float[] = {".inf", ".Inf", ".INF", "-.inf", "-.Inf", "-.INF",
"+.inf", "+.Inf", "+.INF", ".nan", ".NaN", ".NAN", NULL};

/* ----------------------------------------------------------------------
 * YAML
 * ---------------------------------------------------------------------- */

#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

/*
 * Makes the node of a scalar: resolves plain scalars as YAML 1.1 does
 * (null, booleans, ints with underscores and bases, floats), honours the
 * standard tags, and refuses what has no JSON equivalent.
 */
static DefNode *
yaml_scalar(Parser *P, const yaml_event_t *ev)
{
	const char *s = (const char *) ev->data.scalar.value;
	size_t		len = ev->data.scalar.length;
	const char *tag = (const char *) ev->data.scalar.tag;
	int			line = (int) ev->start_mark.line + 1;
	int			column = (int) ev->start_mark.column + 1;
	bool		plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	const char *want = NULL;	/* the type a tag asks for */
	DefNode    *n;
	char	   *num;

	if (memchr(s, '\0', len))
		fail(P, DEF_ERR_ENCODING, line, column, NULL,
			 "NUL characters are not allowed in definitions");
	if (!utf8_valid(s, len))
		fail(P, DEF_ERR_ENCODING, line, column, NULL, "invalid UTF-8 in a YAML scalar");
	if (len > UINT32_MAX - 1)
		fail(P, DEF_ERR_LIMIT, line, column, NULL, "scalar is too long");

	if (tag && strcmp(tag, "!") != 0)
	{
		if (strncmp(tag, YAML_TAG_PREFIX, strlen(YAML_TAG_PREFIX)) == 0)
			want = tag + strlen(YAML_TAG_PREFIX);
		if (want == NULL || !(strcmp(want, "str") == 0 || strcmp(want, "int") == 0 ||
							  strcmp(want, "float") == 0 || strcmp(want, "bool") == 0 ||
							  strcmp(want, "null") == 0))
			fail(P, DEF_ERR_UNSUPPORTED, line, column,
				 "Only the standard tags !!str, !!int, !!float, !!bool and !!null are supported.",
				 "unsupported YAML tag %s", pquote(P, tag, strlen(tag)));
	}
	else if (!plain || tag)
		want = "str";			/* quoted, literal, folded, or tagged "!" */

	n = new_node(P, DEF_NODE_STRING, line, column);
	if (want == NULL || strcmp(want, "null") == 0)
	{
		if (len == 0 || word_in(s, len, yaml_null))
		{
			n->kind = DEF_NODE_NULL;
			n->text = "null";
			n->len = 4;
			return n;
		}
		if (want)
			goto bad_tag;
	}
	if (want == NULL || strcmp(want, "bool") == 0)
	{
		if (word_in(s, len, yaml_true) || word_in(s, len, yaml_false))
		{
			n->kind = DEF_NODE_BOOL;
			n->text = word_in(s, len, yaml_true) ? "true" : "false";
			n->len = strlen(n->text);
			return n;
		}
		if (want)
			goto bad_tag;
	}
	if (want == NULL || strcmp(want, "int") == 0 || strcmp(want, "float") == 0)
	{
		if (word_in(s, len, yaml_special_float))
			fail(P, DEF_ERR_UNSUPPORTED, line, column,
				 "Quote it to make it a string.",
				 "YAML value %s has no JSON equivalent", pquote(P, s, len));
		if (yaml_sexagesimal(s, len))
			fail(P, DEF_ERR_UNSUPPORTED, line, column,
				 "Quote it to make it a string, or write the number in base 10.",
				 "YAML 1.1 sexagesimal number %s is not supported", pquote(P, s, len));
		{
			bool		overflow = false;

			num = yaml_int(P, s, len, &overflow);
			if (overflow)
				fail(P, DEF_ERR_VALUE, line, column, "Quote it to make it a string.",
					 "integer %s does not fit in 64 bits", pquote(P, s, len));
		}
		if (num == NULL && (want == NULL || strcmp(want, "float") == 0))
			num = yaml_float(P, s, len);
		else if (num && want && strcmp(want, "float") == 0)
		{
			/* !!float 3 is 3.0 */
			char	   *f = palloc0(P, strlen(num) + 3);

			strcpy(f, num);
			strcat(f, ".0");
			num = f;
		}
		if (num)
		{
			if (strlen(num) > DEF_MAX_NUMBER_CHARS)
				fail(P, DEF_ERR_LIMIT, line, column, "Numbers are at most 63 characters; quote it to make it a string.",
					 "number %s is too long", pquote(P, s, len));
			n->kind = DEF_NODE_NUMBER;
			n->text = num;
			n->len = strlen(num);
			return n;
		}
		if (want)
			goto bad_tag;
	}
	n->kind = DEF_NODE_STRING;
	n->text = pstrndup(P, s, len);
	n->len = (uint32_t) len;
	return n;

bad_tag:
	fail(P, DEF_ERR_VALUE, line, column, NULL, "invalid !!%s value %s", want, pquote(P, s, len));
	return NULL;
}

/* Reports libyaml's error with its position and context. */
static void
yaml_fail(Parser *P)
{
	yaml_parser_t *yp = &P->yparser;
	int			line,
				column;
	char		context[160] = "";

	if (yp->error == YAML_MEMORY_ERROR)
		fail_memory(P);
	if (yp->error == YAML_READER_ERROR)
	{
		offset_position(P->text, P->len, yp->problem_offset, &line, &column);
		fail(P, DEF_ERR_ENCODING, line, column, NULL, "invalid YAML input: %s",
			 yp->problem ? yp->problem : "unreadable character");
	}
	line = (int) yp->problem_mark.line + 1;
	column = (int) yp->problem_mark.column + 1;
	if (yp->context)
		snprintf(context, sizeof(context), " (%s at %d:%d)", yp->context,
				 (int) yp->context_mark.line + 1, (int) yp->context_mark.column + 1);
	fail(P, DEF_ERR_SYNTAX, line, column, NULL, "invalid YAML: %s%s",
		 yp->problem ? yp->problem : "syntax error", context);
}

/* Reads YAML text into the node tree, one libyaml event at a time. */
static void
read_yaml(Parser *P)
{
	yaml_parser_t *yp = &P->yparser;
	bool		done = false;

	if (!yaml_parser_initialize(yp))
		fail_memory(P);
	P->yparser_live = true;
	yaml_parser_set_input_string(yp, (const unsigned char *) P->text, P->len);
	yaml_parser_set_encoding(yp, YAML_UTF8_ENCODING);

	while (!done)
	{
		yaml_event_t *ev = &P->yevent;
		int			line,
					column;
		const char *anchor = NULL;

		if (!yaml_parser_parse(yp, ev))
			yaml_fail(P);
		P->yevent_live = true;
		line = (int) ev->start_mark.line + 1;
		column = (int) ev->start_mark.column + 1;

		switch (ev->type)
		{
			case YAML_STREAM_END_EVENT:
				done = true;
				break;
			case YAML_DOCUMENT_START_EVENT:
				if (++P->documents > 1)
					fail(P, DEF_ERR_UNSUPPORTED, line, column,
						 "Put each document in its own file or call.",
						 "more than one YAML document in the input");
				break;
			case YAML_ALIAS_EVENT:
				{
					const char *name = (const char *) ev->data.alias.anchor;
					int32_t		idx;
					DefNode    *target;

					if (++P->aliases > DEF_MAX_ALIASES)
						fail(P, DEF_ERR_LIMIT, line, column, "The limit is 1000 aliases.",
							 "too many YAML aliases");
					if (P->anchors.slots == NULL ||
						!mf_strmap_get(&P->anchors, NS_ANCHOR, name, strlen(name), &idx))
						fail(P, DEF_ERR_SYNTAX, line, column, NULL,
							 "unknown YAML anchor %s", pquote(P, name, strlen(name)));
					target = P->anchor_nodes[idx];
					P->alias_nodes += target->nodes;
					if (P->alias_nodes > DEF_MAX_ALIAS_NODES || target->nodes > DEF_MAX_ALIAS_NODES)
						fail(P, DEF_ERR_LIMIT, line, column,
							 "Aliases may expand to at most 50000 nodes in all.",
							 "YAML aliases expand to too many nodes");
					P->nodes += target->nodes;
					if (P->nodes > DEF_MAX_NODES)
						fail(P, DEF_ERR_LIMIT, line, column, "The limit is 500000 nodes (values, keys and list items).",
							 "document has too many nodes");
					if (P->depth + target->height > DEF_MAX_DEPTH + 1)
						fail(P, DEF_ERR_LIMIT, line, column, "The limit is 64 nested lists and mappings.",
							 "document nests too deeply");
					tree_add(P, target);
					break;
				}
			case YAML_SCALAR_EVENT:
				{
					DefNode    *n;
					Frame	   *f = P->depth ? &P->frames[P->depth - 1] : NULL;

					if (f && f->node->kind == DEF_NODE_OBJECT && f->pending_key == NULL &&
						ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
						ev->data.scalar.length == 2 && memcmp(ev->data.scalar.value, "<<", 2) == 0)
						fail(P, DEF_ERR_UNSUPPORTED, line, column,
							 "Repeat the keys, or use an alias for the whole value.",
							 "YAML merge keys (<<) are not supported");
					if (f && f->node->kind == DEF_NODE_OBJECT && f->pending_key == NULL)
					{
						/* keys are strings, whatever they look like */
						const char *s = (const char *) ev->data.scalar.value;
						size_t		len = ev->data.scalar.length;

						if (memchr(s, '\0', len))
							fail(P, DEF_ERR_ENCODING, line, column, NULL,
								 "NUL characters are not allowed in definitions");
						if (!utf8_valid(s, len))
							fail(P, DEF_ERR_ENCODING, line, column, NULL, "invalid UTF-8 in a YAML key");
						if (len > UINT32_MAX - 1)
							fail(P, DEF_ERR_LIMIT, line, column, NULL, "key is too long");
						n = new_node(P, DEF_NODE_STRING, line, column);
						n->text = pstrndup(P, s, len);
						n->len = (uint32_t) len;
						if (ev->data.scalar.tag && strcmp((const char *) ev->data.scalar.tag, "!") != 0 &&
							strcmp((const char *) ev->data.scalar.tag, YAML_TAG_PREFIX "str") != 0)
							fail(P, DEF_ERR_UNSUPPORTED, line, column, NULL,
								 "unsupported tag on a mapping key");
					}
					else
						n = yaml_scalar(P, ev);
					if (ev->data.scalar.anchor)
						register_anchor(P, pstrndup(P, (const char *) ev->data.scalar.anchor,
													strlen((const char *) ev->data.scalar.anchor)), n);
					tree_add(P, n);
					break;
				}
			case YAML_SEQUENCE_START_EVENT:
			case YAML_MAPPING_START_EVENT:
				{
					const char *tag = (const char *) (ev->type == YAML_SEQUENCE_START_EVENT ?
													  ev->data.sequence_start.tag : ev->data.mapping_start.tag);
					const unsigned char *a = ev->type == YAML_SEQUENCE_START_EVENT ?
					ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;

					if (tag && strcmp(tag, "!") != 0 &&
						strcmp(tag, ev->type == YAML_SEQUENCE_START_EVENT ?
							   YAML_TAG_PREFIX "seq" : YAML_TAG_PREFIX "map") != 0)
						fail(P, DEF_ERR_UNSUPPORTED, line, column,
							 "Only the standard tags !!map and !!seq are supported on collections.",
							 "unsupported YAML tag %s", pquote(P, tag, strlen(tag)));
					if (a)
						anchor = pstrndup(P, (const char *) a, strlen((const char *) a));
					tree_open(P, ev->type == YAML_SEQUENCE_START_EVENT ? DEF_NODE_ARRAY : DEF_NODE_OBJECT,
							  line, column, anchor);
					break;
				}
			case YAML_SEQUENCE_END_EVENT:
			case YAML_MAPPING_END_EVENT:
				tree_close(P);
				break;
			default:
				break;
		}
		yaml_event_delete(ev);
		P->yevent_live = false;
	}
}

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
static void
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

/* ----------------------------------------------------------------------
 * Binding: paths, value checks
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

static void path_append(Parser *P, const char *fmt,...) DEF_PRINTF(2, 3);

static void
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
static size_t
path_key(Parser *P, const char *key)
{
	size_t		old = P->pathlen;

	if (is_identifier(key))
		path_append(P, "%s%s", old ? "." : "", key);
	else
		path_append(P, "[%s]", pquote(P, key, strlen(key)));
	return old;
}

static size_t
path_index(Parser *P, uint32_t i)
{
	size_t		old = P->pathlen;

	path_append(P, "[%u]", i);
	return old;
}

static void
path_restore(Parser *P, size_t old)
{
	P->pathlen = old;
	P->path[old] = '\0';
}

/*
 * The path of the YAML value being read, from the open containers: each is
 * its parent's pending key or next index.  pending: include the value being
 * added to the innermost container.
 */
static void
tree_path(Parser *P, bool pending)
{
	int			last = pending ? P->depth : P->depth - 1;

	path_restore(P, 0);
	for (int k = 1; k <= last; k++)
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

static DefSite
site_of(Parser *P, const DefNode *n)
{
	DefSite		s;

	s.line = n ? n->line : 0;
	s.column = n ? n->column : 0;
	s.path = pstrndup(P, P->path, P->pathlen);
	return s;
}

/* "the number 42", "a mapping", ...: for "must be X, not Y" messages. */
static const char *
describe(Parser *P, const DefNode *n)
{
	char		buf[160];

	switch ((DefNodeKind) n->kind)
	{
		case DEF_NODE_NULL:
			return "null";
		case DEF_NODE_BOOL:
			snprintf(buf, sizeof(buf), "the boolean %s", n->text);
			break;
		case DEF_NODE_NUMBER:
			snprintf(buf, sizeof(buf), "the number %.*s%s", n->len > 40 ? 40 : (int) n->len,
					 n->text, n->len > 40 ? "..." : "");
			break;
		case DEF_NODE_STRING:
			snprintf(buf, sizeof(buf), "the string %s", pquote(P, n->text, n->len));
			break;
		case DEF_NODE_ARRAY:
			return "a list";
		case DEF_NODE_OBJECT:
			return "a mapping";
	}
	return pstrndup(P, buf, strlen(buf));
}

/* A value as written in a message: 42, true, null, "text", a list, a mapping. */
static const char *
show(Parser *P, const DefNode *n)
{
	switch ((DefNodeKind) n->kind)
	{
		case DEF_NODE_STRING:
			return pquote(P, n->text, n->len);
		case DEF_NODE_ARRAY:
			return "a list";
		case DEF_NODE_OBJECT:
			return "a mapping";
		default:
			return n->text;
	}
}

static bool
want_string(Parser *P, const DefNode *n, const char *key, bool nullable, const char **out)
{
	if (n->kind == DEF_NODE_STRING)
	{
		*out = n->text;
		return true;
	}
	if (n->kind == DEF_NODE_NULL && nullable)
	{
		*out = NULL;
		return true;
	}
	complain(P, n, DEF_ERR_VALUE,
			 n->kind == DEF_NODE_NUMBER || n->kind == DEF_NODE_BOOL ? "Quote it to make it a string." : NULL,
			 "\"%s\" must be a string%s, not %s", key, nullable ? " or null" : "", describe(P, n));
	return false;
}

/* A boolean; *out is 1, 0 or DEF_NULL (only when nullable). */
static bool
want_bool(Parser *P, const DefNode *n, const char *key, bool nullable, int *out)
{
	if (n->kind == DEF_NODE_BOOL)
	{
		*out = strcmp(n->text, "true") == 0;
		return true;
	}
	if (n->kind == DEF_NODE_NULL && nullable)
	{
		*out = DEF_NULL;
		return true;
	}
	complain(P, n, DEF_ERR_VALUE, NULL, "\"%s\" must be true or false%s, not %s",
			 key, nullable ? " or null" : "", describe(P, n));
	return false;
}

/* Lowercase letters and digits joined by single separators (_ . - or _). */
static bool
name_ok(const char *s, bool flag)
{
	bool		need_alnum = true;

	if (*s == '\0')
		return false;
	for (; *s; s++)
	{
		char		c = *s;

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			need_alnum = false;
		else if ((c == '_' || (!flag && (c == '.' || c == '-'))) && !need_alnum)
			need_alnum = true;
		else
			return false;
	}
	return !need_alnum;
}

/* The name rules of 10_validate.sql (_check_name). */
static bool
check_name(Parser *P, const DefNode *n, const char *kind, const char *s)
{
	bool		flag = strcmp(kind, "flag") == 0;

	if (strlen(s) > 255)
	{
		complain(P, n, DEF_ERR_LENGTH, "Names are at most 255 bytes.",
				 "%s name %s is too long", kind, pquote(P, s, strlen(s)));
		return false;
	}
	if (!name_ok(s, flag))
	{
		if (flag)
			complain(P, n, DEF_ERR_VALUE,
					 "Flag names are lowercase letters and digits joined by single underscores, as GitLab requires.",
					 "invalid flag name %s", pquote(P, s, strlen(s)));
		else
		{
			char		hint[128];

			snprintf(hint, sizeof(hint),
					 "A %s name is lowercase letters and digits joined by single \"_\", \".\" or \"-\".", kind);
			complain(P, n, DEF_ERR_VALUE, hint, "invalid %s name %s", kind, pquote(P, s, strlen(s)));
		}
		return false;
	}
	return true;
}

static bool
want_name(Parser *P, const DefNode *n, const char *key, const char *kind, const char **out)
{
	const char *s;

	if (!want_string(P, n, key, false, &s))
		return false;
	if (!check_name(P, n, kind, s))
		return false;
	*out = s;
	return true;
}

static bool
number_is_negative(const DefNode *n)
{
	return n->text[0] == '-' && strtod(n->text, NULL) < 0;
}

static bool
number_is_integer(const DefNode *n)
{
	double		v;

	if (strpbrk(n->text, ".eE") == NULL)
		return true;
	v = strtod(n->text, NULL);
	return isfinite(v) && v == floor(v);
}

/* A percentage gate: a number from 0 to 100 with at most 3 decimals, or null. */
static bool
want_percentage(Parser *P, const DefNode *n, const char *key, const char *flag, const char **out)
{
	double		v;
	const char *dot;
	const char *flagq = flag ? pquote(P, flag, strlen(flag)) : "\"?\"";

	if (n->kind == DEF_NODE_NULL)
	{
		*out = NULL;
		return true;
	}
	if (n->kind != DEF_NODE_NUMBER)
	{
		complain(P, n, DEF_ERR_VALUE, "A percentage is a number from 0 to 100.",
				 "\"%s\" must be a number or null, not %s", key, describe(P, n));
		return false;
	}
	v = strtod(n->text, NULL);
	if (!(v >= 0 && v <= 100) || (n->text[0] == '-' && v != 0))
	{
		complain(P, n, DEF_ERR_RANGE, "A percentage is a number from 0 to 100.",
				 "%s %s is out of range for flag %s", key, n->text, flagq);
		return false;
	}
	if (strpbrk(n->text, "eE"))
	{
		double		t = v * 1000;

		if (fabs(t - round(t)) > 1e-9)
		{
			complain(P, n, DEF_ERR_VALUE, "Flipper buckets actors in steps of 0.001 percent.",
					 "%s %s has more than 3 decimals for flag %s", key, n->text, flagq);
			return false;
		}
	}
	else if ((dot = strchr(n->text, '.')) != NULL)
	{
		size_t		decimals = strlen(dot + 1);

		while (decimals > 0 && dot[decimals] == '0')
			decimals--;
		if (decimals > 3)
		{
			complain(P, n, DEF_ERR_VALUE, "Flipper buckets actors in steps of 0.001 percent.",
					 "%s %s has more than 3 decimals for flag %s", key, n->text, flagq);
			return false;
		}
	}
	*out = n->text;
	return true;
}

/*
 * Request parameters: a mapping whose well-known keys have the types
 * 10_validate.sql (_check_params) requires; other keys pass untouched.
 * null means {}.
 */
static bool
want_params(Parser *P, const DefNode *n, DefNode **out)
{
	bool		ok = true;

	if (n->kind == DEF_NODE_NULL)
	{
		*out = NULL;
		return true;
	}
	if (n->kind != DEF_NODE_OBJECT)
	{
		complain(P, n, DEF_ERR_VALUE, NULL, "\"params\" must be a mapping, not %s", describe(P, n));
		return false;
	}
	for (uint32_t i = 0; i < n->count; i++)
	{
		const char *k = n->keys[i]->text;
		const DefNode *v = n->items[i];
		bool		bad = false;

		if (strcmp(k, "temperature") == 0 || strcmp(k, "top_p") == 0 || strcmp(k, "timeout") == 0)
			bad = v->kind != DEF_NODE_NUMBER || number_is_negative(v);
		else if (strcmp(k, "max_tokens") == 0 || strcmp(k, "max_retries") == 0 || strcmp(k, "top_k") == 0)
			bad = v->kind != DEF_NODE_NUMBER || number_is_negative(v) || !number_is_integer(v);
		else if (strcmp(k, "model") == 0)
			bad = v->kind != DEF_NODE_STRING;
		else if (strcmp(k, "stop") == 0)
			bad = v->kind != DEF_NODE_STRING && v->kind != DEF_NODE_ARRAY;
		else if (strcmp(k, "direct_access") == 0)
			bad = v->kind != DEF_NODE_BOOL;
		if (bad)
		{
			size_t		old = path_key(P, k);

			complain(P, v, DEF_ERR_VALUE,
					 "temperature, top_p and timeout are non-negative numbers; max_tokens, max_retries and top_k non-negative integers; model a string; stop a string or a list; direct_access a boolean.",
					 "invalid value %s for param \"%s\"", show(P, v), k);
			path_restore(P, old);
			ok = false;
		}
	}
	*out = (DefNode *) n;
	return ok;
}

/* A list (null = empty); false after complaining if it is something else. */
static bool
want_list(Parser *P, const DefNode *n, const char *key)
{
	if (n->kind == DEF_NODE_ARRAY || n->kind == DEF_NODE_NULL)
		return true;
	complain(P, n, DEF_ERR_VALUE, NULL, "\"%s\" must be a list, not %s", key, describe(P, n));
	return false;
}

static bool
want_map(Parser *P, const DefNode *n, const char *what)
{
	if (n->kind == DEF_NODE_OBJECT)
		return true;
	complain(P, n, DEF_ERR_VALUE, NULL, "a %s definition must be a mapping, not %s", what, describe(P, n));
	return false;
}

static void
unknown_key(Parser *P, const DefNode *key, const char *what, const char *known)
{
	char		hint[256];

	snprintf(hint, sizeof(hint), "Known keys: %s.", known);
	complain(P, key, DEF_ERR_VALUE, hint, "unknown key %s in a %s definition",
			 pquote(P, key->text, key->len), what);
}

static void
missing_key(Parser *P, const DefNode *map, const char *what, const char *key)
{
	complain(P, map, DEF_ERR_VALUE, NULL, "%s definition has no \"%s\"", what, key);
}

static const DefSite *
entity_site(const DefDocument *doc, DefTable t, int i)
{
	switch (t)
	{
		case DEF_TABLE_PROVIDERS:
			return &doc->providers[i].site;
		case DEF_TABLE_MODELS:
			return &doc->models[i].site;
		case DEF_TABLE_FLAGS:
			return &doc->flags[i].site;
		case DEF_TABLE_FEATURES:
			return &doc->features[i].site;
	}
	return NULL;
}

static const char *const table_kind[] = {"provider", "model", "flag", "feature"};

/* Registers a definition's name; a name defined twice is an error. */
static void
register_name(Parser *P, DefTable t, const char *name, int index, const DefNode *at,
			  const char *key)
{
	int32_t		prev;

	if (P->doc->names == NULL)
	{
		P->doc->names = palloc0(P, sizeof(MfStrMap));
		mf_strmap_init(P->doc->names, 64, strmap_alloc, P);
	}
	if (mf_strmap_get(P->doc->names, (uint32_t) t + 1, name, strlen(name), &prev))
	{
		const DefSite *s = entity_site(P->doc, t, prev);
		char		hint[64];

		size_t		old = key ? path_key(P, key) : P->pathlen;

		snprintf(hint, sizeof(hint), "The first definition is at %d:%d.", s->line, s->column);
		complain(P, at, DEF_ERR_DUPLICATE, hint, "%s %s is defined twice", table_kind[t],
				 pquote(P, name, strlen(name)));
		path_restore(P, old);
		return;
	}
	mf_strmap_put(P->doc->names, (uint32_t) t + 1, name, strlen(name), index);
}

int
def_find(const DefDocument *doc, DefTable table, const char *name)
{
	int32_t		v;

	if (name == NULL)
		return -1;
	if (doc->names)
		return mf_strmap_get(doc->names, (uint32_t) table + 1, name, strlen(name), &v) ? v : -1;
	switch (table)
	{
		case DEF_TABLE_PROVIDERS:
			for (int i = 0; i < doc->nproviders; i++)
				if (doc->providers[i].name && strcmp(doc->providers[i].name, name) == 0)
					return i;
			break;
		case DEF_TABLE_MODELS:
			for (int i = 0; i < doc->nmodels; i++)
				if (doc->models[i].name && strcmp(doc->models[i].name, name) == 0)
					return i;
			break;
		case DEF_TABLE_FLAGS:
			for (int i = 0; i < doc->nflags; i++)
				if (doc->flags[i].name && strcmp(doc->flags[i].name, name) == 0)
					return i;
			break;
		case DEF_TABLE_FEATURES:
			for (int i = 0; i < doc->nfeatures; i++)
				if (doc->features[i].name && strcmp(doc->features[i].name, name) == 0)
					return i;
			break;
	}
	return -1;
}

/* ----------------------------------------------------------------------
 * Binding: our format
 * ---------------------------------------------------------------------- */

static void
bind_provider(Parser *P, const DefNode *map, DefProvider *p, int index)
{
	const DefNode *name = NULL;

	p->site = site_of(P, map);
	p->available = true;
	for (uint32_t i = 0; i < map->count; i++)
	{
		const char *k = map->keys[i]->text;
		const DefNode *v = map->items[i];
		size_t		old = path_key(P, k);
		int			b;

		if (strcmp(k, "name") == 0)
		{
			if (want_name(P, v, k, "provider", &p->name))
				name = v;
		}
		else if (strcmp(k, "available") == 0)
		{
			if (want_bool(P, v, k, false, &b))
			{
				p->available = b;
				p->present |= DEF_PROVIDER_AVAILABLE;
			}
		}
		else if (strcmp(k, "note") == 0)
		{
			if (want_string(P, v, k, true, &p->note))
				p->present |= DEF_PROVIDER_NOTE;
		}
		else
			unknown_key(P, map->keys[i], "provider", "name, available, note");
		path_restore(P, old);
	}
	if (name)
		register_name(P, DEF_TABLE_PROVIDERS, p->name, index, name, "name");
	else if (!node_get(map, "name"))
		missing_key(P, map, "provider", "name");
}

static void
bind_model(Parser *P, const DefNode *map, DefModel *m, int index)
{
	const DefNode *name = NULL;

	m->site = site_of(P, map);
	m->enabled = true;
	for (uint32_t i = 0; i < map->count; i++)
	{
		const char *k = map->keys[i]->text;
		const DefNode *v = map->items[i];
		size_t		old = path_key(P, k);
		int			b;

		if (strcmp(k, "name") == 0)
		{
			if (want_name(P, v, k, "model", &m->name))
				name = v;
		}
		else if (strcmp(k, "provider") == 0)
		{
			if (want_name(P, v, k, "provider", &m->provider))
			{
				m->present |= DEF_MODEL_PROVIDER;
				m->provider_site = site_of(P, v);
			}
		}
		else if (strcmp(k, "params") == 0)
		{
			if (want_params(P, v, &m->params))
				m->present |= DEF_MODEL_PARAMS;
		}
		else if (strcmp(k, "enabled") == 0)
		{
			if (want_bool(P, v, k, false, &b))
			{
				m->enabled = b;
				m->present |= DEF_MODEL_ENABLED;
			}
		}
		else if (strcmp(k, "description") == 0)
		{
			if (want_string(P, v, k, true, &m->description))
				m->present |= DEF_MODEL_DESCRIPTION;
		}
		else
			unknown_key(P, map->keys[i], "model", "name, provider, params, enabled, description");
		path_restore(P, old);
	}
	if (name)
		register_name(P, DEF_TABLE_MODELS, m->name, index, name, "name");
	else if (!node_get(map, "name"))
		missing_key(P, map, "model", "name");
	if (!node_get(map, "provider"))
		missing_key(P, map, "model", "provider");
}

static const char *const flag_types[] = {"gitlab_com_derisk", "wip", "beta", "ops", "experiment",
"worker", "markdown_cache", "undefined", "development", NULL};

/*
 * An actor list of a flag (actors or opt_outs): non-empty strings of at most
 * 1024 bytes, each at most once.
 */
static void
bind_actor_list(Parser *P, const DefNode *v, const char *key, DefFlag *f, int index,
				bool opt_out, DefActor **out, int *count)
{
	uint32_t	ns = NS_ACTOR_BASE + 2 * (uint32_t) index + (opt_out ? 1 : 0);

	*out = NULL;
	*count = 0;
	if (!want_list(P, v, key))
		return;
	if (v->kind == DEF_NODE_NULL || v->count == 0)
		return;
	*out = palloc0(P, sizeof(DefActor) * v->count);
	if (P->actors.slots == NULL)
		mf_strmap_init(&P->actors, 64, strmap_alloc, P);
	for (uint32_t j = 0; j < v->count; j++)
	{
		const DefNode *a = v->items[j];
		size_t		old = path_index(P, j);
		const char *s;
		int32_t		dummy;

		if (want_string(P, a, "actor", false, &s))
		{
			if (a->len == 0)
				complain(P, a, DEF_ERR_VALUE, "Actors are flipper_ids such as User:42.",
						 "actor must not be empty (flag %s)", pquote(P, f->name ? f->name : "?", f->name ? strlen(f->name) : 1));
			else if (a->len > 1024)
				complain(P, a, DEF_ERR_LENGTH, "Actors are at most 1024 bytes.",
						 "actor %s is too long", pquote(P, s, a->len));
			else if (mf_strmap_get(&P->actors, ns, s, a->len, &dummy))
				complain(P, a, DEF_ERR_DUPLICATE, NULL, "actor %s is listed twice", pquote(P, s, a->len));
			else
			{
				mf_strmap_put(&P->actors, ns, s, a->len, (int32_t) j);
				(*out)[*count].actor = s;
				(*out)[*count].site = site_of(P, a);
				(*count)++;
			}
		}
		path_restore(P, old);
	}
}

/* Flag fields shared by our format and GitLab's flag definitions. */
static bool
bind_flag_field(Parser *P, DefFlag *f, const char *k, const DefNode *v)
{
	int			b;

	if (strcmp(k, "type") == 0)
	{
		if (want_string(P, v, k, true, &f->type))
		{
			if (f->type && !word_in(f->type, strlen(f->type), flag_types))
				complain(P, v, DEF_ERR_VALUE,
						 "GitLab types are gitlab_com_derisk, wip, beta, ops, experiment, worker, markdown_cache, undefined and development.",
						 "invalid type %s for flag %s", pquote(P, f->type, strlen(f->type)),
						 f->name ? pquote(P, f->name, strlen(f->name)) : "\"?\"");
			else
				f->present |= DEF_FLAG_TYPE;
		}
	}
	else if (strcmp(k, "default_enabled") == 0)
	{
		if (want_bool(P, v, k, false, &b))
		{
			f->default_enabled = b;
			f->present |= DEF_FLAG_DEFAULT_ENABLED;
		}
	}
	else if (strcmp(k, "log_state_changes") == 0)
	{
		if (want_bool(P, v, k, true, &f->log_state_changes))
			f->present |= DEF_FLAG_LOG_STATE_CHANGES;
	}
#define STRING_FIELD(field, bit) \
	else if (strcmp(k, #field) == 0) \
	{ \
		if (want_string(P, v, k, true, &f->field)) \
			f->present |= bit; \
	}
	STRING_FIELD(group, DEF_FLAG_GROUP)
		STRING_FIELD(milestone, DEF_FLAG_MILESTONE)
		STRING_FIELD(description, DEF_FLAG_DESCRIPTION)
		STRING_FIELD(introduced_by_url, DEF_FLAG_INTRODUCED_BY_URL)
		STRING_FIELD(rollout_issue_url, DEF_FLAG_ROLLOUT_ISSUE_URL)
		STRING_FIELD(feature_issue_url, DEF_FLAG_FEATURE_ISSUE_URL)
#undef STRING_FIELD
		else
		return false;
	return true;
}

static void
bind_flag(Parser *P, const DefNode *map, DefFlag *f, int index)
{
	const DefNode *name = node_get(map, "name");

	f->site = site_of(P, map);
	f->enabled = DEF_NULL;
	f->log_state_changes = DEF_NULL;
	if (name)
	{
		size_t		old = path_key(P, "name");

		if (!want_name(P, name, "name", "flag", &f->name))
			name = NULL;
		path_restore(P, old);
	}
	else
		missing_key(P, map, "flag", "name");
	for (uint32_t i = 0; i < map->count; i++)
	{
		const char *k = map->keys[i]->text;
		const DefNode *v = map->items[i];
		size_t		old = path_key(P, k);

		if (strcmp(k, "name") == 0)
			 /* read above */ ;
		else if (strcmp(k, "enabled") == 0)
		{
			if (want_bool(P, v, k, true, &f->enabled))
				f->present |= DEF_FLAG_ENABLED;
		}
		else if (strcmp(k, "percentage_of_actors") == 0)
		{
			if (want_percentage(P, v, k, f->name, &f->percentage_of_actors))
				f->present |= DEF_FLAG_PERCENTAGE_OF_ACTORS;
		}
		else if (strcmp(k, "percentage_of_time") == 0)
		{
			if (want_percentage(P, v, k, f->name, &f->percentage_of_time))
				f->present |= DEF_FLAG_PERCENTAGE_OF_TIME;
		}
		else if (strcmp(k, "actors") == 0)
		{
			bind_actor_list(P, v, k, f, index, false, &f->actors, &f->nactors);
			f->present |= DEF_FLAG_ACTORS;
		}
		else if (strcmp(k, "opt_outs") == 0)
		{
			bind_actor_list(P, v, k, f, index, true, &f->opt_outs, &f->nopt_outs);
			f->present |= DEF_FLAG_OPT_OUTS;
		}
		else if (!bind_flag_field(P, f, k, v))
			unknown_key(P, map->keys[i], "flag",
						"name, enabled, percentage_of_actors, percentage_of_time, actors, opt_outs, type, default_enabled, group, milestone, description, introduced_by_url, rollout_issue_url, feature_issue_url, log_state_changes");
		path_restore(P, old);
	}
	/* An actor cannot be both enabled and opted out. */
	for (int j = 0; j < f->nopt_outs; j++)
	{
		int32_t		dummy;
		const char *a = f->opt_outs[j].actor;

		if (f->nactors && mf_strmap_get(&P->actors, NS_ACTOR_BASE + 2 * (uint32_t) index, a, strlen(a), &dummy))
		{
			DefNode		at = {0};
			size_t		old = P->pathlen;

			at.line = f->opt_outs[j].site.line;
			at.column = f->opt_outs[j].site.column;
			P->pathlen = 0;
			path_append(P, "%s", f->opt_outs[j].site.path);
			complain(P, &at, DEF_ERR_VALUE, "Opting out forces the flag off for the actor: list it in one of actors and opt_outs.",
					 "actor %s is both an actor and an opt-out of flag %s", pquote(P, a, strlen(a)),
					 f->name ? pquote(P, f->name, strlen(f->name)) : "\"?\"");
			path_restore(P, old);
		}
	}
	if (name)
		register_name(P, DEF_TABLE_FLAGS, f->name, index, name, "name");
}

static void
bind_route(Parser *P, const DefNode *map, DefRoute *r, bool *have_prev, int *prev)
{
	const DefNode *pos = NULL;

	r->site = site_of(P, map);
	for (uint32_t i = 0; i < map->count; i++)
	{
		const char *k = map->keys[i]->text;
		const DefNode *v = map->items[i];
		size_t		old = path_key(P, k);

		if (strcmp(k, "position") == 0)
			pos = v;
		else if (strcmp(k, "model") == 0)
		{
			if (want_name(P, v, k, "model", &r->model))
				r->model_site = site_of(P, v);
		}
		else if (strcmp(k, "flag") == 0)
		{
			if (want_string(P, v, k, true, &r->flag))
			{
				if (r->flag && !check_name(P, v, "flag", r->flag))
					r->flag = NULL;
				r->flag_site = site_of(P, v);
			}
		}
		else if (strcmp(k, "params") == 0)
			want_params(P, v, &r->params);
		else if (strcmp(k, "note") == 0)
			want_string(P, v, k, true, &r->note);
		else
			unknown_key(P, map->keys[i], "route", "position, flag, model, params, note");
		path_restore(P, old);
	}
	if (!node_get(map, "model"))
		missing_key(P, map, "route", "model");

	/* position: given, or the previous one + 1 (the first is 1) */
	r->position = *have_prev ? *prev + 1 : 1;
	if (pos)
	{
		size_t		old = path_key(P, "position");

		if (pos->kind != DEF_NODE_NUMBER || !number_is_integer(pos) || strpbrk(pos->text, ".eE") ||
			number_is_negative(pos) || pos->len > 10 || strtod(pos->text, NULL) > 2147483647.0)
			complain(P, pos, DEF_ERR_VALUE, "Positions are integers from 0 up; lower goes first.",
					 "invalid route position %s", describe(P, pos));
		else
		{
			int			p = (int) strtol(pos->text, NULL, 10);

			if (*have_prev && p <= *prev)
				complain(P, pos, DEF_ERR_VALUE,
						 "List routes in the order they are tried: positions must increase.",
						 "route position %d does not come after position %d", p, *prev);
			r->position = p;
		}
		path_restore(P, old);
	}
	else if (*have_prev && *prev == 2147483647)
		complain(P, map, DEF_ERR_VALUE, NULL, "route position would pass 2147483647");
	*have_prev = true;
	*prev = r->position;
}

static void
bind_feature(Parser *P, const DefNode *map, DefFeature *f, int index)
{
	const DefNode *name = NULL;

	f->site = site_of(P, map);
	f->routes_mode = DEF_ROUTES_ALL;
	for (uint32_t i = 0; i < map->count; i++)
	{
		const char *k = map->keys[i]->text;
		const DefNode *v = map->items[i];
		size_t		old = path_key(P, k);

		if (strcmp(k, "name") == 0)
		{
			if (want_name(P, v, k, "feature", &f->name))
				name = v;
		}
		else if (strcmp(k, "description") == 0)
		{
			if (want_string(P, v, k, true, &f->description))
				f->present |= DEF_FEATURE_DESCRIPTION;
		}
		else if (strcmp(k, "routes") == 0)
		{
			f->present |= DEF_FEATURE_ROUTES;
			if (want_list(P, v, k) && v->kind == DEF_NODE_ARRAY && v->count)
			{
				bool		have_prev = false;
				int			prev = 0;

				f->routes = palloc0(P, sizeof(DefRoute) * v->count);
				for (uint32_t j = 0; j < v->count; j++)
				{
					size_t		o2 = path_index(P, j);

					if (want_map(P, v->items[j], "route"))
						bind_route(P, v->items[j], &f->routes[f->nroutes++], &have_prev, &prev);
					path_restore(P, o2);
				}
			}
		}
		else
			unknown_key(P, map->keys[i], "feature", "name, description, routes");
		path_restore(P, old);
	}
	if (name)
		register_name(P, DEF_TABLE_FEATURES, f->name, index, name, "name");
	else if (!node_get(map, "name"))
		missing_key(P, map, "feature", "name");
}

/* Our format: providers, models, flags and features, each a list. */
static void
bind_modelflags(Parser *P, const DefNode *root)
{
	DefDocument *doc = P->doc;

	for (uint32_t i = 0; i < root->count; i++)
	{
		const char *k = root->keys[i]->text;
		const DefNode *v = root->items[i];
		size_t		old = path_key(P, k);
		uint32_t	n = v->kind == DEF_NODE_ARRAY ? v->count : 0;

		if (strcmp(k, "providers") == 0)
		{
			doc->has_section[DEF_TABLE_PROVIDERS] = true;
			if (want_list(P, v, k) && n)
			{
				doc->providers = palloc0(P, sizeof(DefProvider) * n);
				for (uint32_t j = 0; j < n; j++)
				{
					size_t		o2 = path_index(P, j);

					if (want_map(P, v->items[j], "provider"))
						bind_provider(P, v->items[j], &doc->providers[doc->nproviders], doc->nproviders),
							doc->nproviders++;
					path_restore(P, o2);
				}
			}
		}
		else if (strcmp(k, "models") == 0)
		{
			doc->has_section[DEF_TABLE_MODELS] = true;
			if (want_list(P, v, k) && n)
			{
				doc->models = palloc0(P, sizeof(DefModel) * n);
				for (uint32_t j = 0; j < n; j++)
				{
					size_t		o2 = path_index(P, j);

					if (want_map(P, v->items[j], "model"))
						bind_model(P, v->items[j], &doc->models[doc->nmodels], doc->nmodels),
							doc->nmodels++;
					path_restore(P, o2);
				}
			}
		}
		else if (strcmp(k, "flags") == 0)
		{
			doc->has_section[DEF_TABLE_FLAGS] = true;
			if (want_list(P, v, k) && n)
			{
				doc->flags = palloc0(P, sizeof(DefFlag) * n);
				for (uint32_t j = 0; j < n; j++)
				{
					size_t		o2 = path_index(P, j);

					if (want_map(P, v->items[j], "flag"))
						bind_flag(P, v->items[j], &doc->flags[doc->nflags], doc->nflags),
							doc->nflags++;
					path_restore(P, o2);
				}
			}
		}
		else if (strcmp(k, "features") == 0)
		{
			doc->has_section[DEF_TABLE_FEATURES] = true;
			if (want_list(P, v, k) && n)
			{
				doc->features = palloc0(P, sizeof(DefFeature) * n);
				for (uint32_t j = 0; j < n; j++)
				{
					size_t		o2 = path_index(P, j);

					if (want_map(P, v->items[j], "feature"))
						bind_feature(P, v->items[j], &doc->features[doc->nfeatures], doc->nfeatures),
							doc->nfeatures++;
					path_restore(P, o2);
				}
			}
		}
		else
			complain(P, root->keys[i], DEF_ERR_VALUE,
					 "A definitions document has providers, models, flags and features; GitLab files are recognised by their own keys.",
					 "unknown top-level key %s", pquote(P, k, root->keys[i]->len));
		path_restore(P, old);
	}
}

/* ----------------------------------------------------------------------
 * Binding: GitLab's files
 * ---------------------------------------------------------------------- */

/*
 * config/feature_flags/<type>/<name>.yml: one flag with GitLab's metadata.
 * Keys this table has no column for (intended_to_rollout_by, ...) are
 * ignored, as GitLab's Feature::Definition ignores keys it does not know.
 * Gates are not touched: loading the file never changes a rollout.
 */
static void
bind_gitlab_flag(Parser *P, const DefNode *root)
{
	DefDocument *doc = P->doc;
	DefFlag    *f;
	const DefNode *name = node_get(root, "name");

	doc->format = DEF_FORMAT_GITLAB_FLAG;
	doc->flags = palloc0(P, sizeof(DefFlag));
	doc->nflags = 1;
	f = &doc->flags[0];
	f->site = site_of(P, root);
	f->enabled = DEF_NULL;
	f->log_state_changes = DEF_NULL;
	{
		size_t		old = path_key(P, "name");

		if (!want_name(P, name, "name", "flag", &f->name))
			name = NULL;
		path_restore(P, old);
	}
	for (uint32_t i = 0; i < root->count; i++)
	{
		const char *k = root->keys[i]->text;
		size_t		old = path_key(P, k);

		if (strcmp(k, "name") != 0)
			(void) bind_flag_field(P, f, k, root->items[i]);
		path_restore(P, old);
	}
	if (name)
		register_name(P, DEF_TABLE_FLAGS, f->name, 0, name, NULL);
}

/* Lowercase slug: runs of anything but [a-z0-9] become one "_". */
static const char *
slug(Parser *P, const char *s)
{
	size_t		len = strlen(s);
	char	   *out = palloc0(P, len + 1);
	size_t		n = 0;
	bool		sep = false;

	for (size_t i = 0; i < len; i++)
	{
		char		c = (char) tolower((unsigned char) s[i]);

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		{
			if (sep && n > 0)
				out[n++] = '_';
			sep = false;
			out[n++] = c;
		}
		else
			sep = true;
	}
	out[n] = '\0';
	return n > 0 && n <= 255 ? out : NULL;
}

/*
 * The provider of a models.yml entry, by the first rule that gives a name
 * (README.md, "GitLab's files"):
 *   1. params.custom_llm_provider       (fireworks_ai, vertex_ai, bedrock)
 *   2. proxy_provider                   (anthropic, openai)
 *   3. the LiteLLM prefix of params.model ("vertex_ai/gemini-..." -> vertex_ai)
 *   4. the gitlab_identifier's suffix   (_vertex -> vertex_ai,
 *                                        _bedrock -> bedrock, _fireworks -> fireworks_ai)
 *   5. provider, the display name       ("Anthropic" -> anthropic)
 *   6. model_class_provider, top-level or in params (litellm, amazon_q)
 * each made a slug (lowercase; runs of other characters become "_").
 */
static const char *
derive_provider(Parser *P, const DefNode *entry, const DefNode *params, const DefNode **from,
				const char **from_key)
{
	static const char *const suffixes[][2] = {
		{"_vertex", "vertex_ai"}, {"_bedrock", "bedrock"}, {"_fireworks", "fireworks_ai"}
	};
	const DefNode *c[7];
	const char *keys[7] = {"params.custom_llm_provider", "proxy_provider", "params.model",
		"gitlab_identifier", "provider", "model_class_provider", "params.model_class_provider"};

	c[0] = node_get(params, "custom_llm_provider");
	c[1] = node_get(entry, "proxy_provider");
	c[2] = node_get(params, "model");
	c[3] = node_get(entry, "gitlab_identifier");
	c[4] = node_get(entry, "provider");
	c[5] = node_get(entry, "model_class_provider");
	c[6] = node_get(params, "model_class_provider");
	for (int i = 0; i < 7; i++)
	{
		const char *s = NULL;

		if (c[i] == NULL || c[i]->kind != DEF_NODE_STRING)
			continue;
		if (i == 2)
		{
			const char *slash = strchr(c[i]->text, '/');

			if (slash == NULL || slash == c[i]->text)
				continue;
			s = slug(P, pstrndup(P, c[i]->text, slash - c[i]->text));
		}
		else if (i == 3)
		{
			for (int k = 0; k < 3; k++)
			{
				size_t		sl = strlen(suffixes[k][0]);

				if (c[i]->len > sl && memcmp(c[i]->text + c[i]->len - sl, suffixes[k][0], sl) == 0)
					s = suffixes[k][1];
			}
		}
		else
			s = slug(P, c[i]->text);
		if (s && name_ok(s, false))
		{
			*from = c[i];
			*from_key = keys[i];
			return s;
		}
	}
	return NULL;
}

/* The AI gateway's models.yml: each gitlab_identifier becomes a model. */
static void
bind_gitlab_models(Parser *P, const DefNode *root)
{
	DefDocument *doc = P->doc;
	const DefNode *list = node_get(root, "models");
	size_t		old = path_key(P, "models");

	doc->format = DEF_FORMAT_GITLAB_MODELS;
	doc->has_section[DEF_TABLE_MODELS] = true;
	doc->models = palloc0(P, sizeof(DefModel) * list->count);
	doc->providers = palloc0(P, sizeof(DefProvider) * list->count);
	for (uint32_t j = 0; j < list->count; j++)
	{
		const DefNode *e = list->items[j];
		size_t		o2 = path_index(P, j);
		DefModel   *m = &doc->models[doc->nmodels];
		const DefNode *id = node_get(e, "gitlab_identifier");
		const DefNode *params = node_get(e, "params");
		const DefNode *desc = node_get(e, "description");
		const DefNode *from = NULL;
		const char *from_key = NULL;
		bool		named = false;

		if (!want_map(P, e, "model"))
		{
			path_restore(P, o2);
			continue;
		}
		m->site = site_of(P, e);
		m->enabled = true;
		if (id == NULL)
			missing_key(P, e, "model", "gitlab_identifier");
		else
		{
			size_t		o3 = path_key(P, "gitlab_identifier");

			named = want_name(P, id, "gitlab_identifier", "model", &m->name);
			path_restore(P, o3);
		}
		if (params)
		{
			size_t		o3 = path_key(P, "params");

			if (want_params(P, params, &m->params))
				m->present |= DEF_MODEL_PARAMS;
			path_restore(P, o3);
		}
		if (desc)
		{
			size_t		o3 = path_key(P, "description");

			if (want_string(P, desc, "description", true, &m->description))
				m->present |= DEF_MODEL_DESCRIPTION;
			path_restore(P, o3);
		}
		m->provider = derive_provider(P, e, params && params->kind == DEF_NODE_OBJECT ? params : NULL,
									  &from, &from_key);
		if (m->provider == NULL)
			complain(P, e, DEF_ERR_VALUE,
					 "Give it params.custom_llm_provider, proxy_provider, provider or model_class_provider.",
					 "cannot tell the provider of model %s",
					 m->name ? pquote(P, m->name, strlen(m->name)) : "\"?\"");
		else
		{
			size_t		o3 = P->pathlen;

			path_append(P, ".%s", from_key);
			m->present |= DEF_MODEL_PROVIDER;
			m->provider_site = site_of(P, from);
			if (def_find(doc, DEF_TABLE_PROVIDERS, m->provider) < 0)
			{
				DefProvider *p = &doc->providers[doc->nproviders];

				p->name = m->provider;
				p->available = true;
				p->derived = true;
				p->site = m->provider_site;
				register_name(P, DEF_TABLE_PROVIDERS, p->name, doc->nproviders, from, NULL);
				doc->nproviders++;
			}
			path_restore(P, o3);
		}
		if (named)
			register_name(P, DEF_TABLE_MODELS, m->name, doc->nmodels, id, "gitlab_identifier");
		doc->nmodels++;
		path_restore(P, o2);
	}
	path_restore(P, old);
}

/*
 * The AI gateway's unit_primitives.yml: each feature_setting becomes a
 * feature whose routes without a flag are its default models, in order
 * (default_models, or the older default_model).
 */
static void
bind_gitlab_unit_primitives(Parser *P, const DefNode *root)
{
	DefDocument *doc = P->doc;
	const DefNode *list = node_get(root, "configurable_unit_primitives");
	size_t		old = path_key(P, "configurable_unit_primitives");

	doc->format = DEF_FORMAT_GITLAB_UNIT_PRIMITIVES;
	doc->has_section[DEF_TABLE_FEATURES] = true;
	if (!want_list(P, list, "configurable_unit_primitives") || list->kind != DEF_NODE_ARRAY)
	{
		path_restore(P, old);
		return;
	}
	doc->features = palloc0(P, sizeof(DefFeature) * (list->count ? list->count : 1));
	for (uint32_t j = 0; j < list->count; j++)
	{
		const DefNode *e = list->items[j];
		size_t		o2 = path_index(P, j);
		DefFeature *f = &doc->features[doc->nfeatures];
		const DefNode *fs = node_get(e, "feature_setting");
		const DefNode *many = node_get(e, "default_models");
		const DefNode *one = node_get(e, "default_model");
		bool		named = false;

		if (!want_map(P, e, "unit primitive"))
		{
			path_restore(P, o2);
			continue;
		}
		f->site = site_of(P, e);
		f->routes_mode = DEF_ROUTES_UNFLAGGED;
		f->present = DEF_FEATURE_ROUTES;
		if (fs == NULL)
			missing_key(P, e, "unit primitive", "feature_setting");
		else
		{
			size_t		o3 = path_key(P, "feature_setting");

			named = want_name(P, fs, "feature_setting", "feature", &f->name);
			path_restore(P, o3);
		}
		if (many && one)
			complain(P, e, DEF_ERR_VALUE, "default_model is the older form of default_models.",
					 "give default_models or default_model, not both");
		else if (many)
		{
			size_t		o3 = path_key(P, "default_models");

			if (many->kind != DEF_NODE_ARRAY || many->count == 0)
				complain(P, many, DEF_ERR_VALUE, NULL,
						 "\"default_models\" must be a list of at least one model, not %s", describe(P, many));
			else
			{
				f->routes = palloc0(P, sizeof(DefRoute) * many->count);
				for (uint32_t k = 0; k < many->count; k++)
				{
					size_t		o4 = path_index(P, k);
					DefRoute   *r = &f->routes[f->nroutes];

					r->site = site_of(P, many->items[k]);
					if (want_name(P, many->items[k], "default_models", "model", &r->model))
					{
						r->model_site = r->site;
						r->position = f->nroutes;
						f->nroutes++;
					}
					path_restore(P, o4);
				}
			}
			path_restore(P, o3);
		}
		else if (one)
		{
			size_t		o3 = path_key(P, "default_model");
			DefRoute   *r = palloc0(P, sizeof(DefRoute));

			r->site = site_of(P, one);
			if (want_name(P, one, "default_model", "model", &r->model))
			{
				r->model_site = r->site;
				f->routes = r;
				f->nroutes = 1;
			}
			path_restore(P, o3);
		}
		else
			complain(P, e, DEF_ERR_VALUE, NULL, "unit primitive %s has no default_models",
					 f->name ? pquote(P, f->name, strlen(f->name)) : "\"?\"");
		if (named)
			register_name(P, DEF_TABLE_FEATURES, f->name, doc->nfeatures, fs, "feature_setting");
		doc->nfeatures++;
		path_restore(P, o2);
	}
	path_restore(P, old);
}

/* Tells the format from the top-level keys and binds the tree. */
static void
bind_document(Parser *P)
{
	const DefNode *root = P->root;
	const DefNode *models;

	if (!P->have_root || root == NULL || root->kind == DEF_NODE_NULL)
	{
		complain(P, NULL, DEF_ERR_VALUE,
				 "Give providers, models, flags and features, or one of GitLab's definition files.",
				 "definitions document is empty");
		return;
	}
	if (root->kind != DEF_NODE_OBJECT)
	{
		complain(P, root, DEF_ERR_VALUE,
				 "Give providers, models, flags and features, or one of GitLab's definition files.",
				 "a definitions document must be a mapping, not %s", describe(P, root));
		return;
	}
	models = node_get(root, "models");
	if (node_get(root, "configurable_unit_primitives"))
		bind_gitlab_unit_primitives(P, root);
	else if (node_get(root, "providers") || node_get(root, "flags") || node_get(root, "features"))
		bind_modelflags(P, root);
	else if (models && models->kind == DEF_NODE_ARRAY && models->count > 0 &&
			 models->items[0]->kind == DEF_NODE_OBJECT &&
			 node_get(models->items[0], "gitlab_identifier"))
		bind_gitlab_models(P, root);
	else if (!models && node_get(root, "name") &&
			 (node_get(root, "type") || node_get(root, "default_enabled") ||
			  node_get(root, "milestone") || node_get(root, "group")))
		bind_gitlab_flag(P, root);
	else
		bind_modelflags(P, root);
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
	free(P);
	return doc;
}

/* ----------------------------------------------------------------------
 * Cross-references within a set of documents (modelflags-lint)
 * ---------------------------------------------------------------------- */

static bool
defined_in(DefDocument **docs, int ndocs, DefTable t, const char *name)
{
	for (int i = 0; i < ndocs; i++)
		if (def_find(docs[i], t, name) >= 0)
			return true;
	return false;
}

int
def_check_references(DefDocument **docs, int ndocs)
{
	int			added = 0;

	for (int d = 0; d < ndocs; d++)
	{
		DefDocument *doc = docs[d];

		for (int i = 0; i < doc->nmodels; i++)
		{
			DefModel   *m = &doc->models[i];

			if (m->name && m->provider && !defined_in(docs, ndocs, DEF_TABLE_PROVIDERS, m->provider))
			{
				def_error(doc, DEF_ERR_REFERENCE, &m->provider_site,
						  "Define it under providers:, or lint it together with the file that does.",
						  "unknown provider %s", doc_quote(doc, m->provider, strlen(m->provider)));
				added++;
			}
		}
		for (int i = 0; i < doc->nfeatures; i++)
		{
			DefFeature *f = &doc->features[i];

			for (int j = 0; j < f->nroutes; j++)
			{
				DefRoute   *r = &f->routes[j];

				if (r->model && !defined_in(docs, ndocs, DEF_TABLE_MODELS, r->model))
				{
					def_error(doc, DEF_ERR_REFERENCE, &r->model_site,
							  "Define it under models: (or in models.yml), or lint it together with the file that does.",
							  "unknown model %s", doc_quote(doc, r->model, strlen(r->model)));
					added++;
				}
				if (r->flag && !defined_in(docs, ndocs, DEF_TABLE_FLAGS, r->flag))
				{
					def_error(doc, DEF_ERR_REFERENCE, &r->flag_site,
							  "Define it under flags: (or in config/feature_flags/), or lint it together with the file that does.",
							  "unknown flag %s", doc_quote(doc, r->flag, strlen(r->flag)));
					added++;
				}
			}
		}
	}
	return added;
}

/* ----------------------------------------------------------------------
 * Writing JSON
 * ---------------------------------------------------------------------- */

#define JW_MAX_DEPTH	(DEF_MAX_DEPTH + 8)

typedef struct JsonWriter
{
	Buf		   *b;
	bool		pretty;
	int			depth;
	bool		after_key;
	bool		has_items[JW_MAX_DEPTH + 1];
} JsonWriter;

static void
json_string(Buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t		run = 0;

	buf_putc(b, '"');
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];
		const char *esc = NULL;
		char		u[7];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_put(b, s + run, i - run);
		run = i + 1;
		switch (c)
		{
			case '"':
				esc = "\\\"";
				break;
			case '\\':
				esc = "\\\\";
				break;
			case '\n':
				esc = "\\n";
				break;
			case '\t':
				esc = "\\t";
				break;
			case '\r':
				esc = "\\r";
				break;
			case '\b':
				esc = "\\b";
				break;
			case '\f':
				esc = "\\f";
				break;
			default:
				u[0] = '\\';
				u[1] = 'u';
				u[2] = '0';
				u[3] = '0';
				u[4] = hex[c >> 4];
				u[5] = hex[c & 15];
				u[6] = '\0';
				esc = u;
		}
		buf_puts(b, esc);
	}
	buf_put(b, s + run, len - run);
	buf_putc(b, '"');
}

/* Comma, line break and indentation before a value or key. */
static void
jw_pre(JsonWriter *w)
{
	if (w->after_key)
	{
		w->after_key = false;
		return;
	}
	if (w->depth > 0)
	{
		if (w->has_items[w->depth])
			buf_putc(w->b, ',');
		w->has_items[w->depth] = true;
		if (w->pretty)
		{
			buf_putc(w->b, '\n');
			buf_spaces(w->b, 2 * w->depth);
		}
	}
}

static void
jw_begin(JsonWriter *w, char open)
{
	jw_pre(w);
	buf_putc(w->b, open);
	if (w->depth >= JW_MAX_DEPTH)
	{
		w->b->oom = true;		/* cannot happen: trees are depth-checked */
		return;
	}
	w->depth++;
	w->has_items[w->depth] = false;
}

static void
jw_end(JsonWriter *w, char close)
{
	bool		items = w->has_items[w->depth];

	w->depth--;
	if (items && w->pretty)
	{
		buf_putc(w->b, '\n');
		buf_spaces(w->b, 2 * w->depth);
	}
	buf_putc(w->b, close);
}

static void
jw_key(JsonWriter *w, const char *key)
{
	jw_pre(w);
	json_string(w->b, key, strlen(key));
	buf_puts(w->b, ": ");
	w->after_key = true;
}

static void
jw_str(JsonWriter *w, const char *s)
{
	jw_pre(w);
	if (s)
		json_string(w->b, s, strlen(s));
	else
		buf_puts(w->b, "null");
}

static void
jw_raw(JsonWriter *w, const char *s)
{
	jw_pre(w);
	buf_puts(w->b, s ? s : "null");
}

static void
jw_int(JsonWriter *w, long v)
{
	char		n[32];

	snprintf(n, sizeof(n), "%ld", v);
	jw_raw(w, n);
}

static void
jw_node(JsonWriter *w, const DefNode *n)
{
	if (n == NULL)
	{
		jw_begin(w, '{');
		jw_end(w, '}');
		return;
	}
	switch ((DefNodeKind) n->kind)
	{
		case DEF_NODE_NULL:
		case DEF_NODE_BOOL:
		case DEF_NODE_NUMBER:
			jw_raw(w, n->text);
			break;
		case DEF_NODE_STRING:
			jw_pre(w);
			json_string(w->b, n->text, n->len);
			break;
		case DEF_NODE_ARRAY:
			jw_begin(w, '[');
			for (uint32_t i = 0; i < n->count; i++)
				jw_node(w, n->items[i]);
			jw_end(w, ']');
			break;
		case DEF_NODE_OBJECT:
			jw_begin(w, '{');
			for (uint32_t i = 0; i < n->count; i++)
			{
				jw_pre(w);
				json_string(w->b, n->keys[i]->text, n->keys[i]->len);
				buf_puts(w->b, ": ");
				w->after_key = true;
				jw_node(w, n->items[i]);
			}
			jw_end(w, '}');
			break;
	}
}

/* ----------------------------------------------------------------------
 * Writing YAML
 * ---------------------------------------------------------------------- */

/*
 * May s be written as a plain YAML scalar and read back as the same string
 * (by this parser, PyYAML and Psych)?  Conservative: it starts with a letter
 * or "_" or "/", holds only letters, digits, spaces and _ . / : @ + = ( ) -,
 * has no ": " and no trailing ":" or space, and is no YAML 1.1 boolean or
 * null word.
 */
static bool
yaml_plain_ok(const char *s, size_t len)
{
	static const char *const reserved[] = {"y", "Y", "n", "N", NULL};

	if (len == 0 || len > 1024)
		return false;
	if (!(isalpha((unsigned char) s[0]) || s[0] == '_' || s[0] == '/'))
		return false;
	for (size_t i = 0; i < len; i++)
	{
		char		c = s[i];

		if (isalnum((unsigned char) c) || strchr("_./@+=()-", c) != NULL)
			continue;
		if (c == ' ' && i + 1 < len && s[i + 1] != ' ' && s[i + 1] != '#')
			continue;
		if (c == ':' && i + 1 < len && s[i + 1] != ' ')
			continue;
		return false;
	}
	if (word_in(s, len, yaml_true) || word_in(s, len, yaml_false) ||
		word_in(s, len, yaml_null) || word_in(s, len, reserved))
		return false;
	return true;
}

/* A YAML string: plain when safe, else double-quoted with escapes. */
static void
yaml_string(Buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";

	if (yaml_plain_ok(s, len))
	{
		buf_put(b, s, len);
		return;
	}
	buf_putc(b, '"');
	for (size_t i = 0; i < len;)
	{
		unsigned char c = (unsigned char) s[i];
		uint32_t	cp = c;
		int			n = 1;

		if (c >= 0x80)
		{
			n = utf8_decode((const unsigned char *) s + i, len - i, &cp);
			if (n == 0)
			{
				/* cannot happen: all text was checked */
				cp = 0xFFFD;
				n = 1;
			}
		}
		if (cp == '"' || cp == '\\')
		{
			buf_putc(b, '\\');
			buf_putc(b, (char) cp);
		}
		else if (cp == '\n')
			buf_puts(b, "\\n");
		else if (cp == '\t')
			buf_puts(b, "\\t");
		else if (cp == '\r')
			buf_puts(b, "\\r");
		else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) ||
				 cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF || cp == 0xFFFE || cp == 0xFFFF)
		{
			char		u[7] = {'\\', 'u', hex[(cp >> 12) & 15], hex[(cp >> 8) & 15],
			hex[(cp >> 4) & 15], hex[cp & 15], '\0'};

			buf_puts(b, u);
		}
		else
			buf_put(b, s + i, n);
		i += n;
	}
	buf_putc(b, '"');
}

/*
 * A JSON number as YAML 1.1 reads numbers: an exponent needs a "." in the
 * mantissa and a signed exponent (1e5 is a string to PyYAML; 1.0e+5 is not).
 */
static void
yaml_number(Buf *b, const char *s, size_t len)
{
	const char *e = memchr(s, 'e', len);

	if (e == NULL)
		e = memchr(s, 'E', len);
	if (e == NULL)
	{
		buf_put(b, s, len);
		return;
	}
	buf_put(b, s, e - s);
	if (memchr(s, '.', e - s) == NULL)
		buf_puts(b, ".0");
	buf_putc(b, 'e');
	if (e + 1 < s + len && e[1] != '-' && e[1] != '+')
		buf_putc(b, '+');
	buf_put(b, e + 1, s + len - e - 1);
}

static void
yaml_scalar_out(Buf *b, const DefNode *n)
{
	if (n->kind == DEF_NODE_STRING)
		yaml_string(b, n->text, n->len);
	else if (n->kind == DEF_NODE_NUMBER)
		yaml_number(b, n->text, n->len);
	else
		buf_put(b, n->text, n->len);
}

static void yaml_block(Buf *b, const DefNode *n, int indent);

/* The value after "key:" or "-": inline scalar, or a block on new lines. */
static void
yaml_value(Buf *b, const DefNode *n, int indent)
{
	if (n == NULL || (n->kind == DEF_NODE_OBJECT && n->count == 0))
		buf_puts(b, " {}\n");
	else if (n->kind == DEF_NODE_ARRAY && n->count == 0)
		buf_puts(b, " []\n");
	else if (n->kind == DEF_NODE_OBJECT || n->kind == DEF_NODE_ARRAY)
	{
		buf_putc(b, '\n');
		yaml_block(b, n, indent);
	}
	else
	{
		buf_putc(b, ' ');
		yaml_scalar_out(b, n);
		buf_putc(b, '\n');
	}
}

/* A non-empty mapping or list as a block at the given indentation. */
static void
yaml_block(Buf *b, const DefNode *n, int indent)
{
	for (uint32_t i = 0; i < n->count; i++)
	{
		buf_spaces(b, indent);
		if (n->kind == DEF_NODE_OBJECT && n->keys[i]->len > 256)
		{
			/* YAML implicit keys are limited to 1024 characters */
			buf_puts(b, "? ");
			yaml_string(b, n->keys[i]->text, n->keys[i]->len);
			buf_putc(b, '\n');
			buf_spaces(b, indent);
			buf_putc(b, ':');
			yaml_value(b, n->items[i], indent + 2);
		}
		else if (n->kind == DEF_NODE_OBJECT)
		{
			yaml_string(b, n->keys[i]->text, n->keys[i]->len);
			buf_putc(b, ':');
			yaml_value(b, n->items[i], indent + 2);
		}
		else
		{
			buf_putc(b, '-');
			yaml_value(b, n->items[i], indent + 2);
		}
	}
}

/* ----------------------------------------------------------------------
 * def_serialize: our format, as YAML or JSON
 * ---------------------------------------------------------------------- */

/*
 * One writer for both outputs: YAML block style, or pretty JSON.  Fields
 * are written when present and not null, in a fixed order, so that a dump
 * is stable and load(dump) round-trips.
 */
typedef struct Out
{
	Buf			b;
	JsonWriter	w;
	bool		json;
	int			indent;			/* YAML: indentation of the current mapping's keys */
	bool		first;			/* YAML: next key follows "- " */
} Out;

static void
out_key(Out *o, const char *key)
{
	if (o->json)
	{
		jw_key(&o->w, key);
		return;
	}
	if (o->first)
		o->first = false;
	else
		buf_spaces(&o->b, o->indent);
	buf_puts(&o->b, key);
	buf_putc(&o->b, ':');
}

static void
out_str(Out *o, const char *key, const char *v)
{
	if (v == NULL)
		return;
	out_key(o, key);
	if (o->json)
		jw_str(&o->w, v);
	else
	{
		buf_putc(&o->b, ' ');
		yaml_string(&o->b, v, strlen(v));
		buf_putc(&o->b, '\n');
	}
}

static void
out_raw(Out *o, const char *key, const char *v)
{
	if (v == NULL)
		return;
	out_key(o, key);
	if (o->json)
		jw_raw(&o->w, v);
	else
	{
		buf_putc(&o->b, ' ');
		buf_puts(&o->b, v);
		buf_putc(&o->b, '\n');
	}
}

static void
out_bool(Out *o, const char *key, int v)
{
	if (v != DEF_NULL)
		out_raw(o, key, v ? "true" : "false");
}

static void
out_node(Out *o, const char *key, const DefNode *n)
{
	out_key(o, key);
	if (o->json)
		jw_node(&o->w, n);
	else
		yaml_value(&o->b, n, o->indent + 2);
}

/* Starts a list of mappings under key (at the top level). */
static void
out_list_begin(Out *o, const char *key, int count)
{
	if (o->json)
	{
		jw_key(&o->w, key);
		jw_begin(&o->w, '[');
	}
	else
	{
		buf_puts(&o->b, key);
		buf_puts(&o->b, count ? ":\n" : ": []\n");
	}
}

static void
out_list_end(Out *o)
{
	if (o->json)
		jw_end(&o->w, ']');
}

/* Starts one mapping of a list; YAML: "- " at indent - 2. */
static void
out_item_begin(Out *o, int indent)
{
	if (o->json)
		jw_begin(&o->w, '{');
	else
	{
		buf_spaces(&o->b, indent - 2);
		buf_puts(&o->b, "- ");
		o->first = true;
		o->indent = indent;
	}
}

static void
out_item_end(Out *o, int outer_indent)
{
	if (o->json)
		jw_end(&o->w, '}');
	else
		o->indent = outer_indent;
}

static void
out_actor_list(Out *o, const char *key, const DefActor *a, int n)
{
	out_key(o, key);
	if (o->json)
	{
		jw_begin(&o->w, '[');
		for (int i = 0; i < n; i++)
			jw_str(&o->w, a[i].actor);
		jw_end(&o->w, ']');
	}
	else if (n == 0)
		buf_puts(&o->b, " []\n");
	else
	{
		buf_putc(&o->b, '\n');
		for (int i = 0; i < n; i++)
		{
			buf_spaces(&o->b, o->indent + 2);
			buf_puts(&o->b, "- ");
			yaml_string(&o->b, a[i].actor, strlen(a[i].actor));
			buf_putc(&o->b, '\n');
		}
	}
}

char *
def_serialize(const DefDocument *doc, DefOutput output, bool state, size_t *len)
{
	Out			o;

	memset(&o, 0, sizeof(o));
	o.json = output == DEF_OUTPUT_JSON;
	o.w.b = &o.b;
	o.w.pretty = true;
	if (o.json)
		jw_begin(&o.w, '{');
	else
		buf_puts(&o.b, "# modelflags definitions (modelflags.dump_definitions)\n");

	out_list_begin(&o, "providers", doc->nproviders);
	for (int i = 0; i < doc->nproviders; i++)
	{
		const DefProvider *p = &doc->providers[i];

		out_item_begin(&o, 4);
		out_str(&o, "name", p->name);
		if (state && (p->present & DEF_PROVIDER_AVAILABLE))
			out_bool(&o, "available", p->available);
		if (p->present & DEF_PROVIDER_NOTE)
			out_str(&o, "note", p->note);
		out_item_end(&o, 0);
	}
	out_list_end(&o);

	out_list_begin(&o, "models", doc->nmodels);
	for (int i = 0; i < doc->nmodels; i++)
	{
		const DefModel *m = &doc->models[i];

		out_item_begin(&o, 4);
		out_str(&o, "name", m->name);
		if (m->present & DEF_MODEL_PROVIDER)
			out_str(&o, "provider", m->provider);
		if (m->present & DEF_MODEL_ENABLED)
			out_bool(&o, "enabled", m->enabled);
		if (m->present & DEF_MODEL_DESCRIPTION)
			out_str(&o, "description", m->description);
		if (m->present & DEF_MODEL_PARAMS)
			out_node(&o, "params", m->params);
		out_item_end(&o, 0);
	}
	out_list_end(&o);

	out_list_begin(&o, "flags", doc->nflags);
	for (int i = 0; i < doc->nflags; i++)
	{
		const DefFlag *f = &doc->flags[i];
		unsigned	p = f->present;

		out_item_begin(&o, 4);
		out_str(&o, "name", f->name);
		if (p & DEF_FLAG_TYPE)
			out_str(&o, "type", f->type);
		if (p & DEF_FLAG_DEFAULT_ENABLED)
			out_bool(&o, "default_enabled", f->default_enabled);
		if (p & DEF_FLAG_GROUP)
			out_str(&o, "group", f->group);
		if (p & DEF_FLAG_MILESTONE)
			out_str(&o, "milestone", f->milestone);
		if (p & DEF_FLAG_DESCRIPTION)
			out_str(&o, "description", f->description);
		if (p & DEF_FLAG_FEATURE_ISSUE_URL)
			out_str(&o, "feature_issue_url", f->feature_issue_url);
		if (p & DEF_FLAG_INTRODUCED_BY_URL)
			out_str(&o, "introduced_by_url", f->introduced_by_url);
		if (p & DEF_FLAG_ROLLOUT_ISSUE_URL)
			out_str(&o, "rollout_issue_url", f->rollout_issue_url);
		if (p & DEF_FLAG_LOG_STATE_CHANGES)
			out_bool(&o, "log_state_changes", f->log_state_changes);
		if (state)
		{
			if (p & DEF_FLAG_ENABLED)
				out_bool(&o, "enabled", f->enabled);
			if (p & DEF_FLAG_PERCENTAGE_OF_ACTORS)
				out_raw(&o, "percentage_of_actors", f->percentage_of_actors);
			if (p & DEF_FLAG_PERCENTAGE_OF_TIME)
				out_raw(&o, "percentage_of_time", f->percentage_of_time);
			if ((p & DEF_FLAG_ACTORS) && f->nactors > 0)
				out_actor_list(&o, "actors", f->actors, f->nactors);
			if ((p & DEF_FLAG_OPT_OUTS) && f->nopt_outs > 0)
				out_actor_list(&o, "opt_outs", f->opt_outs, f->nopt_outs);
		}
		out_item_end(&o, 0);
	}
	out_list_end(&o);

	out_list_begin(&o, "features", doc->nfeatures);
	for (int i = 0; i < doc->nfeatures; i++)
	{
		const DefFeature *f = &doc->features[i];

		out_item_begin(&o, 4);
		out_str(&o, "name", f->name);
		if (f->present & DEF_FEATURE_DESCRIPTION)
			out_str(&o, "description", f->description);
		if (f->present & DEF_FEATURE_ROUTES)
		{
			if (o.json)
			{
				jw_key(&o.w, "routes");
				jw_begin(&o.w, '[');
			}
			else
				buf_puts(&o.b, f->nroutes ? "    routes:\n" : "    routes: []\n");
			for (int j = 0; j < f->nroutes; j++)
			{
				const DefRoute *r = &f->routes[j];
				char		pos[16];

				snprintf(pos, sizeof(pos), "%d", r->position);
				out_item_begin(&o, 8);
				out_raw(&o, "position", pos);
				out_str(&o, "flag", r->flag);
				out_str(&o, "model", r->model);
				if (r->params && r->params->count > 0)
					out_node(&o, "params", r->params);
				out_str(&o, "note", r->note);
				out_item_end(&o, 4);
			}
			if (o.json)
				jw_end(&o.w, ']');
		}
		out_item_end(&o, 0);
	}
	out_list_end(&o);

	if (o.json)
	{
		jw_end(&o.w, '}');
		buf_putc(&o.b, '\n');
	}
	return buf_finish(&o.b, len);
}

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

/* ----------------------------------------------------------------------
 * Building documents (dump_definitions)
 * ---------------------------------------------------------------------- */

char *
def_strdup(DefDocument *doc, const char *s)
{
	return s ? doc_strndup(doc, s, strlen(s)) : NULL;
}

/* Makes room for one more element in an arena array of elem-size items. */
static void *
grow(DefDocument *doc, void *array, int count, int *cap, size_t elem)
{
	void	   *bigger;
	int			ncap;

	if (count < *cap)
		return array;
	if (*cap > (1 << 28))
	{
		doc->oom = true;
		return NULL;
	}
	ncap = *cap ? *cap * 2 : 8;
	bigger = doc_alloc(doc, elem * (size_t) ncap);
	if (bigger == NULL)
		return NULL;
	if (count)
		memcpy(bigger, array, elem * (size_t) count);
	*cap = ncap;
	return bigger;
}

DefProvider *
def_add_provider(DefDocument *doc, const char *name)
{
	DefProvider *a = grow(doc, doc->providers, doc->nproviders, &doc->cap[DEF_TABLE_PROVIDERS], sizeof(DefProvider));
	DefProvider *p;

	if (a == NULL)
		return NULL;
	doc->providers = a;
	p = &a[doc->nproviders];
	memset(p, 0, sizeof(*p));
	p->name = def_strdup(doc, name);
	p->available = true;
	if (p->name == NULL)
		return NULL;
	doc->nproviders++;
	return p;
}

DefModel *
def_add_model(DefDocument *doc, const char *name)
{
	DefModel   *a = grow(doc, doc->models, doc->nmodels, &doc->cap[DEF_TABLE_MODELS], sizeof(DefModel));
	DefModel   *m;

	if (a == NULL)
		return NULL;
	doc->models = a;
	m = &a[doc->nmodels];
	memset(m, 0, sizeof(*m));
	m->name = def_strdup(doc, name);
	m->enabled = true;
	if (m->name == NULL)
		return NULL;
	doc->nmodels++;
	return m;
}

DefFlag *
def_add_flag(DefDocument *doc, const char *name)
{
	DefFlag    *a = grow(doc, doc->flags, doc->nflags, &doc->cap[DEF_TABLE_FLAGS], sizeof(DefFlag));
	DefFlag    *f;

	if (a == NULL)
		return NULL;
	doc->flags = a;
	f = &a[doc->nflags];
	memset(f, 0, sizeof(*f));
	f->name = def_strdup(doc, name);
	f->enabled = DEF_NULL;
	f->log_state_changes = DEF_NULL;
	if (f->name == NULL)
		return NULL;
	doc->nflags++;
	return f;
}

DefFeature *
def_add_feature(DefDocument *doc, const char *name)
{
	DefFeature *a = grow(doc, doc->features, doc->nfeatures, &doc->cap[DEF_TABLE_FEATURES], sizeof(DefFeature));
	DefFeature *f;

	if (a == NULL)
		return NULL;
	doc->features = a;
	f = &a[doc->nfeatures];
	memset(f, 0, sizeof(*f));
	f->name = def_strdup(doc, name);
	f->routes_mode = DEF_ROUTES_ALL;
	if (f->name == NULL)
		return NULL;
	doc->nfeatures++;
	return f;
}

DefRoute *
def_add_route(DefDocument *doc, DefFeature *feature)
{
	DefRoute   *a = grow(doc, feature->routes, feature->nroutes, &feature->cap_routes, sizeof(DefRoute));
	DefRoute   *r;

	if (a == NULL)
		return NULL;
	feature->routes = a;
	r = &a[feature->nroutes++];
	memset(r, 0, sizeof(*r));
	feature->present |= DEF_FEATURE_ROUTES;
	return r;
}

DefActor *
def_add_actor(DefDocument *doc, DefFlag *flag, const char *actor, bool opt_out)
{
	DefActor  **list = opt_out ? &flag->opt_outs : &flag->actors;
	int		   *n = opt_out ? &flag->nopt_outs : &flag->nactors;
	int		   *cap = opt_out ? &flag->cap_opt_outs : &flag->cap_actors;
	DefActor   *a = grow(doc, *list, *n, cap, sizeof(DefActor));

	if (a == NULL)
		return NULL;
	*list = a;
	a = &a[(*n)++];
	memset(a, 0, sizeof(*a));
	a->actor = def_strdup(doc, actor);
	flag->present |= opt_out ? DEF_FLAG_OPT_OUTS : DEF_FLAG_ACTORS;
	return a->actor ? a : NULL;
}

DefNode *
def_node_new(DefDocument *doc, DefNodeKind kind, const char *text, size_t len)
{
	DefNode    *n = doc_alloc(doc, sizeof(DefNode));

	if (n == NULL)
		return NULL;
	n->kind = kind;
	n->nodes = 1;
	n->height = 1;
	switch (kind)
	{
		case DEF_NODE_NULL:
			n->text = "null";
			break;
		case DEF_NODE_BOOL:
			n->text = text && len == 4 && memcmp(text, "true", 4) == 0 ? "true" : "false";
			break;
		case DEF_NODE_NUMBER:
		case DEF_NODE_STRING:
			if (len > UINT32_MAX - 1)
				return NULL;
			n->text = doc_strndup(doc, text ? text : "", text ? len : 0);
			if (n->text == NULL)
				return NULL;
			break;
		case DEF_NODE_ARRAY:
		case DEF_NODE_OBJECT:
			n->text = "";
			break;
	}
	n->len = (uint32_t) strlen(n->text);
	if (kind == DEF_NODE_STRING || kind == DEF_NODE_NUMBER)
		n->len = (uint32_t) (text ? len : 0);
	return n;
}

void
def_node_append(DefDocument *doc, DefNode *container, DefNode *key, DefNode *value)
{
	if (container == NULL || value == NULL ||
		(container->kind == DEF_NODE_OBJECT && key == NULL))
	{
		doc->oom = true;
		return;
	}
	if (!node_append(doc->arena, container, key, value))
	{
		doc->oom = true;
		return;
	}
	container->nodes += value->nodes + (key ? 1 : 0);
	if (value->height + 1 > container->height)
		container->height = value->height + 1;
}
