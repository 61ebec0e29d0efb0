/*
 * def_write.c — writes a DefDocument as YAML or JSON in our format
 * (def_serialize), for dump_definitions.  The JSON writer (jw_*) also
 * serves def_rows.c; the YAML writer quotes whatever a YAML 1.1 reader
 * would not read back as the same string or number.
 *
 * Pipeline (definitions_int.h): the way out: a document parsed
 * (def_parse.c) or built from the tables (def_document.c) is written here,
 * and what it writes parses back to the same document.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "definitions_int.h"

/* ----------------------------------------------------------------------
 * Writing JSON
 * ---------------------------------------------------------------------- */

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

void
jw_begin(JsonWriter *w, char open)
{
	jw_pre(w);
	buf_putc(w->b, open);
	if (w->depth >= JW_MAX_DEPTH)
	{
		w->b->oom = true;		/* cannot happen: values go through jw_node */
		return;
	}
	w->depth++;
	w->has_items[w->depth] = false;
}

void
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

void
jw_key(JsonWriter *w, const char *key)
{
	jw_pre(w);
	json_string(w->b, key, strlen(key));
	buf_puts(w->b, ": ");
	w->after_key = true;
}

void
jw_str(JsonWriter *w, const char *s)
{
	jw_pre(w);
	if (s)
		json_string(w->b, s, strlen(s));
	else
		buf_puts(w->b, "null");
}

void
jw_raw(JsonWriter *w, const char *s)
{
	jw_pre(w);
	buf_puts(w->b, s ? s : "null");
}

void
jw_int(JsonWriter *w, long v)
{
	char		n[32];

	snprintf(n, sizeof(n), "%ld", v);
	jw_raw(w, n);
}

/*
 * Writing a value without recursion: the containers being written are on a
 * stack of their own, so a value as deep as jsonb holds costs no C stack.
 * Containers whose indentation would reach WRITE_MAX_INDENT are written on
 * one line (JSON: compact; YAML: flow style), so that indentation never
 * makes the output grow with the square of the depth.
 */
#define WRITE_MAX_INDENT	40

typedef struct WalkFrame
{
	const DefNode *node;
	uint32_t	next;			/* the next item to write */
	int			indent;			/* its own line's indentation; < 0: one line */
} WalkFrame;

typedef struct Walk
{
	WalkFrame  *stack;
	int			depth;
	int			cap;
} Walk;

/* Pushes a container; false (and b->oom) when out of memory. */
static bool
walk_push(Walk *k, Buf *b, const DefNode *n, int indent)
{
	if (k->depth == k->cap)
	{
		int			cap = k->cap ? k->cap * 2 : 32;
		WalkFrame  *s = realloc(k->stack, sizeof(WalkFrame) * (size_t) cap);

		if (s == NULL)
		{
			b->oom = true;
			return false;
		}
		k->stack = s;
		k->cap = cap;
	}
	k->stack[k->depth].node = n;
	k->stack[k->depth].next = 0;
	k->stack[k->depth].indent = indent;
	k->depth++;
	return true;
}

/*
 * Writes a JSON value (NULL: {}).  indent >= 0: pretty, a container's items
 * on their own lines at indent + 2; < 0: on one line.  Adds the nodes
 * written (values and keys, as def_parse counts them) to *nodes.
 */
static void
json_value(Buf *b, const DefNode *n, int indent, uint64_t *nodes)
{
	Walk		k = {0};
	uint64_t	count = 0;

	for (;;)
	{
		count++;
		if (n == NULL)
			buf_puts(b, "{}");
		else if (n->kind == DEF_NODE_STRING)
			json_string(b, n->text, n->len);
		else if (n->kind != DEF_NODE_ARRAY && n->kind != DEF_NODE_OBJECT)
			buf_put(b, n->text, n->len);
		else if (n->count == 0)
			buf_puts(b, n->kind == DEF_NODE_ARRAY ? "[]" : "{}");
		else
		{
			buf_putc(b, n->kind == DEF_NODE_ARRAY ? '[' : '{');
			if (!walk_push(&k, b, n, indent >= 0 && indent + 2 < WRITE_MAX_INDENT ? indent : -1))
				break;
		}
		/* the next value, closing the containers it ends */
		while (k.depth > 0)
		{
			WalkFrame  *f = &k.stack[k.depth - 1];

			if (f->next == f->node->count)
			{
				if (f->indent >= 0)
				{
					buf_putc(b, '\n');
					buf_spaces(b, f->indent);
				}
				buf_putc(b, f->node->kind == DEF_NODE_ARRAY ? ']' : '}');
				k.depth--;
				continue;
			}
			if (f->next > 0)
				buf_putc(b, ',');
			if (f->indent >= 0)
			{
				buf_putc(b, '\n');
				buf_spaces(b, f->indent + 2);
			}
			if (f->node->kind == DEF_NODE_OBJECT)
			{
				json_string(b, f->node->keys[f->next]->text, f->node->keys[f->next]->len);
				buf_puts(b, ": ");
				count++;
			}
			indent = f->indent >= 0 ? f->indent + 2 : -1;
			n = f->node->items[f->next++];
			break;
		}
		if (k.depth == 0 || b->oom || b->over)
			break;
	}
	free(k.stack);
	if (nodes)
		*nodes += count;
}

/* A value at the writer's position, counting its nodes into *nodes. */
static void
jw_value(JsonWriter *w, const DefNode *n, uint64_t *nodes)
{
	jw_pre(w);
	json_value(w->b, n, w->pretty ? 2 * w->depth : -1, nodes);
}

void
jw_node(JsonWriter *w, const DefNode *n)
{
	jw_value(w, n, NULL);
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

/*
 * A double-quoted YAML string: escapes for what YAML does not allow raw
 * (controls, DEL, C1, BOM, non-characters) and for U+2028/U+2029, which
 * YAML 1.1 would read as line breaks.
 */
static void
yaml_quoted(Buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";

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

/* A YAML string: plain when safe, else double-quoted with escapes. */
static void
yaml_string(Buf *b, const char *s, size_t len)
{
	if (yaml_plain_ok(s, len))
		buf_put(b, s, len);
	else
		yaml_quoted(b, s, len);
}

/*
 * YAML reads an implicit key only up to 1024 characters from its start
 * (libyaml, PyYAML): a key written longer than this, once quoted and
 * escaped, is written as an explicit "? key" instead.
 */
#define YAML_IMPLICIT_KEY_MAX	1000

/*
 * Writes key with writer (yaml_string or yaml_quoted) and returns true, or,
 * when it takes more than YAML_IMPLICIT_KEY_MAX characters, writes nothing
 * and returns false.
 */
static bool
yaml_implicit_key(Buf *b, const DefNode *key, void (*writer) (Buf *, const char *, size_t))
{
	size_t		start = b->len;

	writer(b, key->text, key->len);
	if (b->oom || b->over || b->len - start <= YAML_IMPLICIT_KEY_MAX)
		return true;
	b->len = start;
	b->data[start] = '\0';
	return false;
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

/*
 * What a YAML writer wrote, as def_parse counts it: nodes, and the flow
 * nesting summed over the values (DEF_MAX_YAML_FLOW_WORK); and, for both
 * outputs, the deepest nesting of lists and mappings (DEF_MAX_JSON_DEPTH).
 */
typedef struct Tally
{
	uint64_t	nodes;
	uint64_t	flow_work;
	uint32_t	depth;
} Tally;

/*
 * The lists and mappings nested in a value, itself included (0 for a
 * scalar, 1 for NULL, written {}), without recursion; 0 when out of memory
 * (b->oom).
 */
static uint32_t
node_depth(Buf *b, const DefNode *n)
{
	Walk		k = {0};
	uint32_t	max = 0;

	if (n == NULL)
		return 1;
	for (;;)
	{
		if (n->kind == DEF_NODE_ARRAY || n->kind == DEF_NODE_OBJECT)
		{
			if (!walk_push(&k, b, n, 0))
				break;
			if ((uint32_t) k.depth > max)
				max = (uint32_t) k.depth;
		}
		/* the next value, leaving the containers it ends */
		while (k.depth > 0 && k.stack[k.depth - 1].next == k.stack[k.depth - 1].node->count)
			k.depth--;
		if (k.depth == 0)
			break;
		n = k.stack[k.depth - 1].node->items[k.stack[k.depth - 1].next++];
	}
	free(k.stack);
	return b->oom ? 0 : max;
}

/*
 * A mapping or list in flow style, on one line, as JSON writes it but with
 * YAML's scalars (strings always double-quoted): for values nested too
 * deep to indent (WRITE_MAX_INDENT).  Without recursion.
 */
static void
yaml_flow(Buf *b, const DefNode *n, Tally *tally)
{
	Walk		k = {0};
	uint64_t	count = 0;

	for (;;)
	{
		count++;
		tally->flow_work += (uint64_t) k.depth;
		if (n->kind == DEF_NODE_STRING)
			yaml_quoted(b, n->text, n->len);
		else if (n->kind != DEF_NODE_ARRAY && n->kind != DEF_NODE_OBJECT)
			yaml_scalar_out(b, n);
		else if (n->count == 0)
			buf_puts(b, n->kind == DEF_NODE_ARRAY ? "[]" : "{}");
		else
		{
			buf_putc(b, n->kind == DEF_NODE_ARRAY ? '[' : '{');
			if (!walk_push(&k, b, n, -1))
				break;
		}
		while (k.depth > 0)
		{
			WalkFrame  *f = &k.stack[k.depth - 1];

			if (f->next == f->node->count)
			{
				buf_putc(b, f->node->kind == DEF_NODE_ARRAY ? ']' : '}');
				k.depth--;
				continue;
			}
			if (f->next > 0)
				buf_puts(b, ", ");
			if (f->node->kind == DEF_NODE_OBJECT)
			{
				const DefNode *key = f->node->keys[f->next];

				if (!yaml_implicit_key(b, key, yaml_quoted))
				{
					buf_puts(b, "? ");
					yaml_quoted(b, key->text, key->len);
				}
				buf_puts(b, ": ");
				count++;
				tally->flow_work += (uint64_t) k.depth;
			}
			n = f->node->items[f->next++];
			break;
		}
		if (k.depth == 0 || b->oom || b->over)
			break;
	}
	free(k.stack);
	tally->nodes += count;
}

static void yaml_block(Buf *b, const DefNode *n, int indent, Tally *tally);

/*
 * The value after "key:" or "-": inline scalar, a block on new lines, or,
 * from WRITE_MAX_INDENT on, a flow collection on the same line.  The block
 * recursion is bounded by that indentation; yaml_flow does not recurse.
 */
static void
yaml_value(Buf *b, const DefNode *n, int indent, Tally *tally)
{
	if (n == NULL || (n->kind == DEF_NODE_OBJECT && n->count == 0))
	{
		buf_puts(b, " {}\n");
		tally->nodes++;
	}
	else if (n->kind == DEF_NODE_ARRAY && n->count == 0)
	{
		buf_puts(b, " []\n");
		tally->nodes++;
	}
	else if ((n->kind == DEF_NODE_OBJECT || n->kind == DEF_NODE_ARRAY) && indent < WRITE_MAX_INDENT)
	{
		buf_putc(b, '\n');
		tally->nodes++;
		yaml_block(b, n, indent, tally);
	}
	else if (n->kind == DEF_NODE_OBJECT || n->kind == DEF_NODE_ARRAY)
	{
		buf_putc(b, ' ');
		yaml_flow(b, n, tally);
		buf_putc(b, '\n');
	}
	else
	{
		buf_putc(b, ' ');
		yaml_scalar_out(b, n);
		buf_putc(b, '\n');
		tally->nodes++;
	}
}

/* A non-empty mapping or list as a block at the given indentation. */
static void
yaml_block(Buf *b, const DefNode *n, int indent, Tally *tally)
{
	for (uint32_t i = 0; i < n->count; i++)
	{
		buf_spaces(b, indent);
		if (n->kind == DEF_NODE_ARRAY)
		{
			buf_putc(b, '-');
			yaml_value(b, n->items[i], indent + 2, tally);
			continue;
		}
		tally->nodes++;				/* the key */
		if (n->keys[i]->len > 256 || !yaml_implicit_key(b, n->keys[i], yaml_string))
		{
			/* YAML implicit keys are limited to 1024 characters */
			buf_puts(b, "? ");
			yaml_string(b, n->keys[i]->text, n->keys[i]->len);
			buf_putc(b, '\n');
			buf_spaces(b, indent);
			buf_putc(b, ':');
			yaml_value(b, n->items[i], indent + 2, tally);
		}
		else
		{
			buf_putc(b, ':');
			yaml_value(b, n->items[i], indent + 2, tally);
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
	uint32_t	level;			/* the document's lists and mappings open */
	Tally		tally;			/* written, as def_parse counts it */
} Out;

/* The document's own lists and mappings: entered, left (for Tally.depth). */
static void
out_enter(Out *o)
{
	if (++o->level > o->tally.depth)
		o->tally.depth = o->level;
}

static void
out_leave(Out *o)
{
	o->level--;
}

static void
out_key(Out *o, const char *key)
{
	o->tally.nodes++;
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
	o->tally.nodes++;
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
	o->tally.nodes++;
	if (o->json)
		jw_raw(&o->w, v);
	else
	{
		buf_putc(&o->b, ' ');
		buf_puts(&o->b, v);
		buf_putc(&o->b, '\n');
	}
}

/* A JSON number: in YAML, in the form YAML 1.1 reads as a number. */
static void
out_number(Out *o, const char *key, const char *v)
{
	if (v == NULL)
		return;
	out_key(o, key);
	o->tally.nodes++;
	if (o->json)
		jw_raw(&o->w, v);
	else
	{
		buf_putc(&o->b, ' ');
		yaml_number(&o->b, v, strlen(v));
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
	uint32_t	depth = o->level + node_depth(&o->b, n);

	if (depth > o->tally.depth)
		o->tally.depth = depth;
	out_key(o, key);
	if (o->json)
		jw_value(&o->w, n, &o->tally.nodes);
	else
		yaml_value(&o->b, n, o->indent + 2, &o->tally);
}

/* Starts a list of mappings under key (at the top level). */
static void
out_list_begin(Out *o, const char *key, int count)
{
	o->tally.nodes += 2;
	out_enter(o);
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
	out_leave(o);
	if (o->json)
		jw_end(&o->w, ']');
}

/* Starts one mapping of a list; YAML: "- " at indent - 2. */
static void
out_item_begin(Out *o, int indent)
{
	o->tally.nodes++;
	out_enter(o);
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
	out_leave(o);
	if (o->json)
		jw_end(&o->w, '}');
	else
		o->indent = outer_indent;
}

static void
out_actor_list(Out *o, const char *key, const DefActor *a, int n)
{
	out_key(o, key);
	o->tally.nodes += 1 + (uint64_t) n;
	out_enter(o);
	out_leave(o);
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
	DefWritten	written;
	char	   *s = def_serialize_bounded(doc, output, state, 0, &written);

	if (s && len)
		*len = written.len;
	return s;
}

char *
def_serialize_bounded(const DefDocument *doc, DefOutput output, bool state,
					  size_t max_bytes, DefWritten *written)
{
	Out			o;
	char	   *s;

	memset(&o, 0, sizeof(o));
	memset(written, 0, sizeof(*written));
	o.json = output == DEF_OUTPUT_JSON;
	o.w.b = &o.b;
	o.w.pretty = true;
	o.b.max = max_bytes;
	o.tally.nodes = 1;				/* the top-level mapping */
	out_enter(&o);
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
				out_number(&o, "percentage_of_actors", f->percentage_of_actors);
			if (p & DEF_FLAG_PERCENTAGE_OF_TIME)
				out_number(&o, "percentage_of_time", f->percentage_of_time);
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
			o.tally.nodes += 2;
			out_enter(&o);
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
			out_leave(&o);
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
	written->too_large = o.b.over;
	written->nodes = o.tally.nodes;
	written->flow_work = o.tally.flow_work;
	written->depth = o.tally.depth;
	s = buf_finish(&o.b, &written->len);
	if (s == NULL)
		written->len = 0;
	return s;
}
