/*
 * def_tree.c — the node tree both readers build: nodes counted against
 * DEF_MAX_NODES, containers opened and closed on an explicit, growing stack
 * of frames (tree_open, tree_add, tree_close) so that nesting costs no
 * recursion, duplicate keys, YAML anchors; and the number forms of YAML 1.1
 * (as PyYAML reads them) rewritten as JSON number text, of any length.
 *
 * Pipeline (definitions_int.h): stage 2, shared by the readers; the binder
 * walks the finished tree (node_get).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "definitions_int.h"

/* ----------------------------------------------------------------------
 * Nodes
 * ---------------------------------------------------------------------- */

DefNode *
new_node(Parser *P, DefNodeKind kind, int line, int column)
{
	DefNode    *n;

	if (++P->nodes > DEF_MAX_NODES)
		fail(P, DEF_ERR_LIMIT, line, column, "The limit is 500000 nodes (values, keys and list items).",
			 "document has too many nodes");
	n = pzalloc(P, sizeof(DefNode));
	n->kind = kind;
	n->line = line;
	n->column = column;
	n->nodes = 1;
	n->height = 1;
	return n;
}

/* Appends (key, value) to a container node, growing it in the arena. */
bool
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
DefNode *
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
void
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
		DefNode   **sorted = pzalloc(P, sizeof(DefNode *) * map->count);

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
void
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

/*
 * Opens a container at depth + 1.  Nesting has no limit of its own: each
 * level is a node (DEF_MAX_NODES bounds it) and a Frame on this explicit
 * stack, never a C stack frame, so depth costs no recursion anywhere.
 */
void
tree_open(Parser *P, DefNodeKind kind, int line, int column, const char *anchor)
{
	Frame	   *f;
	DefNode    *n = new_node(P, kind, line, column);

	if (P->depth == P->frame_cap)
	{
		int			cap = P->frame_cap ? P->frame_cap * 2 : 64;
		Frame	   *frames = pzalloc(P, sizeof(Frame) * (size_t) cap);

		if (P->depth)
			memcpy(frames, P->frames, sizeof(Frame) * (size_t) P->depth);
		P->frames = frames;
		P->frame_cap = cap;
	}
	f = &P->frames[P->depth++];
	f->node = n;
	f->pending_key = NULL;
	f->anchor = anchor;
	f->flow = false;
}

/* Closes the innermost container: sizes, duplicate keys, anchor. */
void
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

void
register_anchor(Parser *P, const char *anchor, DefNode *node)
{
	if (P->nanchors == P->anchor_cap)
	{
		uint32_t	cap = P->anchor_cap ? P->anchor_cap * 2 : 16;
		DefNode   **a = pzalloc(P, sizeof(DefNode *) * cap);

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
char *
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
char *
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
char *
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
bool
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

bool
word_in(const char *s, size_t len, const char *const *words)
{
	for (int i = 0; words[i]; i++)
		if (strlen(words[i]) == len && memcmp(words[i], s, len) == 0)
			return true;
	return false;
}

const char *const yaml_true[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", NULL};
const char *const yaml_false[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", NULL};
const char *const yaml_null[] = {"~", "null", "Null", "NULL", NULL};
const char *const yaml_special_float[] = {".inf", ".Inf", ".INF", "-.inf", "-.Inf", "-.INF",
"+.inf", "+.Inf", "+.INF", ".nan", ".NaN", ".NAN", NULL};
