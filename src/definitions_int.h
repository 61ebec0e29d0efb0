/*
 * definitions_int.h — what the files of the definitions parser share; not
 * for the PostgreSQL shell, lint or tests, which use definitions.h only.
 *
 * The pipeline of def_parse, file by file:
 *
 *   1. def_parse.c: the whole text is checked first: size limit, valid
 *      UTF-8, no NUL or other character YAML (or JSON, outside strings)
 *      forbids;
 *   2. it is read into a tree of DefNodes (def_tree.c), JSON values with
 *      positions, on an explicit stack of frames (nesting has no limit but
 *      the node count, and costs no recursion):
 *      def_read_yaml.c: YAML through libyaml's event API, YAML 1.1 scalar
 *      resolution (as PyYAML, which the AI gateway uses: 64_000 is 64000,
 *      yes/no are booleans), aliases shared rather than copied and counted
 *      against DEF_MAX_ALIAS_NODES (so a "billion laughs" document is
 *      refused after a few thousand nodes), flow nesting bounded by
 *      DEF_MAX_YAML_FLOW_WORK (libyaml's time grows with it);
 *      def_read_json.c: JSON (RFC 8259) through cJSON, after a lexical
 *      pre-scan that bounds the nesting (cJSON's, DEF_MAX_JSON_DEPTH) and
 *      the node count, and refuses what cJSON lets through (raw control
 *      characters, \u0000, 01, 1., -.5); a walk in lockstep with the text
 *      gives each value its line:column, each number its exact text, of
 *      any length;
 *   3. def_bind.c: the format is recognised from the top-level keys and the
 *      tree is bound to providers/models/flags/features, checking every
 *      value against the rules the database triggers apply (10_validate.sql),
 *      so that errors carry line:column and a path such as
 *      features[2].routes[0].model; GitLab's formats in def_bind_gitlab.c;
 *   4. def_refs.c: modelflags-lint checks references across a file set;
 *   5. def_rows.c: load_definitions takes the document's rows as JSON;
 *      def_write.c: dump_definitions writes a document that
 *      def_document.c's builders filled from the tables.
 * def_util.c (arena, buffer, UTF-8, quoting) serves them all.
 *
 * Fatal errors (syntax, limits, memory) longjmp back to def_parse, which
 * releases libyaml's and cJSON's memory; everything else lives in the
 * document's arena.  Checking errors are collected (up to DEF_MAX_ERRORS)
 * so that modelflags-lint reports them all.
 *
 * Nothing of ours recurses on the depth of a tree (cJSON does, at most
 * DEF_MAX_JSON_DEPTH levels): the readers and writers keep their own
 * stacks (the YAML block writer recurses at most WRITE_MAX_INDENT / 2
 * levels, then writes flow style without recursion).
 *
 * These files include no PostgreSQL header, but they are linked into the
 * extension: the functions below have hidden visibility so that they never
 * interpose on (or are bound to) a symbol of the server or libyaml of the
 * same name.
 */
#ifndef MODELFLAGS_DEFINITIONS_INT_H
#define MODELFLAGS_DEFINITIONS_INT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "definitions.h"
#include "strmap.h"

/* Namespaces of the name maps. */
#define NS_ANCHOR			16
#define NS_ACTOR_BASE		32	/* + 2 * flag index (+ 1 for opt-outs) */

#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

/* ----- def_util.c: arena, buffer, UTF-8, quoting ----- */

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

extern void *arena_alloc(DefArena *a, size_t size);
extern void arena_destroy(DefArena *a);

/*
 * Growable output buffer (malloc'd; its data is handed to the caller).  With
 * max set, it never holds more than max bytes: writing past them sets over
 * and stops, so that a writer's memory is bounded by its limit.
 */
typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
	size_t		max;			/* 0 = no limit */
	bool		oom;
	bool		over;			/* stopped at max */
} Buf;

extern void buf_put(Buf *b, const char *s, size_t n);
extern void buf_puts(Buf *b, const char *s);
extern void buf_putc(Buf *b, char c);
extern void buf_spaces(Buf *b, int n);
extern char *buf_finish(Buf *b, size_t *len);

extern int	utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);
extern bool utf8_valid(const char *s, size_t len);
extern void offset_position(const char *s, size_t len, size_t off, int *line, int *column);
extern void quote_into(Buf *b, const char *s, size_t len);

/* ----- def_document.c: documents and errors ----- */

extern const char *doc_quote(DefDocument *doc, const char *s, size_t len);
extern bool doc_add_error(DefDocument *doc, DefErrorKind kind, int line, int column,
						  const char *path, const char *hint, const char *fmt, va_list ap) DEF_PRINTF(7, 0);

/* ----- def_parse.c: the parser's state, fatal and checking errors, paths ----- */

typedef struct Frame
{
	DefNode    *node;			/* the container being filled */
	DefNode    *pending_key;	/* mapping: key read, value not yet */
	const char *anchor;			/* to register when the container ends */
	bool		flow;			/* YAML: a flow collection */
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
	Frame	   *frames;			/* the open containers, innermost last */
	int			depth;
	int			frame_cap;
	DefNode    *root;
	bool		have_root;
	int			documents;
	MfStrMap	anchors;
	DefNode   **anchor_nodes;
	uint32_t	nanchors;
	uint32_t	anchor_cap;

	int			flow_depth;		/* YAML: open flow collections */
	uint64_t	flow_work;		/* YAML: DEF_MAX_YAML_FLOW_WORK */

	/* libyaml state, released by def_parse */
	yaml_parser_t yparser;
	bool		yparser_live;
	yaml_event_t yevent;
	bool		yevent_live;

	/* cJSON's tree while it is walked, released by def_parse */
	struct cJSON *json;

	/* JSON scan */
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

extern void fail(Parser *P, DefErrorKind kind, int line, int column, const char *hint,
				 const char *fmt,...) DEF_PRINTF(6, 7);
extern void fail_memory(Parser *P);
extern void complain(Parser *P, const DefNode *n, DefErrorKind kind, const char *hint,
					 const char *fmt,...) DEF_PRINTF(5, 6);
extern void *pzalloc(Parser *P, size_t size);
extern char *pstrndup(Parser *P, const char *s, size_t len);
extern void *strmap_alloc(void *arg, size_t size);
extern const char *pquote(Parser *P, const char *s, size_t len);

extern void path_append(Parser *P, const char *fmt,...) DEF_PRINTF(2, 3);
extern size_t path_key(Parser *P, const char *key);
extern size_t path_index(Parser *P, uint32_t i);
extern void path_restore(Parser *P, size_t old);
extern void tree_path(Parser *P, bool pending);

/* ----- def_tree.c: nodes, YAML 1.1 numbers and words ----- */

extern DefNode *new_node(Parser *P, DefNodeKind kind, int line, int column);
extern bool node_append(DefArena *a, DefNode *c, DefNode *key, DefNode *value);
extern DefNode *node_get(const DefNode *map, const char *key);
extern void check_duplicate_keys(Parser *P, DefNode *map);
extern void tree_add(Parser *P, DefNode *value);
extern void tree_open(Parser *P, DefNodeKind kind, int line, int column, const char *anchor);
extern void tree_close(Parser *P);
extern void register_anchor(Parser *P, const char *anchor, DefNode *node);

extern char *normalize_decimal(Parser *P, const char *s, size_t len, bool underscores);
extern char *yaml_int(Parser *P, const char *s, size_t len, bool *overflow);
extern char *yaml_float(Parser *P, const char *s, size_t len);
extern bool yaml_sexagesimal(const char *s, size_t len);
extern bool word_in(const char *s, size_t len, const char *const *words);
extern const char *const yaml_true[];
extern const char *const yaml_false[];
extern const char *const yaml_null[];
extern const char *const yaml_special_float[];

/* ----- def_read_yaml.c, def_read_json.c: text to tree ----- */

extern void read_yaml(Parser *P);
extern void read_json(Parser *P);

/* ----- def_bind.c: value checks and our format; def_bind_gitlab.c ----- */

extern void bind_document(Parser *P);
extern DefSite site_of(Parser *P, const DefNode *n);
extern const char *describe(Parser *P, const DefNode *n);
extern bool want_string(Parser *P, const DefNode *n, const char *key, bool nullable,
						const char **out);
extern bool name_ok(const char *s, bool flag);
extern bool want_name(Parser *P, const DefNode *n, const char *key, const char *kind,
					  const char **out);
extern bool want_params(Parser *P, const DefNode *n, DefNode **out);
extern bool want_list(Parser *P, const DefNode *n, const char *key);
extern bool want_map(Parser *P, const DefNode *n, const char *what);
extern void missing_key(Parser *P, const DefNode *map, const char *what, const char *key);
extern void register_name(Parser *P, DefTable t, const char *name, int index,
						  const DefNode *at, const char *key);
extern bool bind_flag_field(Parser *P, DefFlag *f, const char *k, const DefNode *v);

extern void bind_gitlab_flag(Parser *P, const DefNode *root);
extern void bind_gitlab_models(Parser *P, const DefNode *root);
extern void bind_gitlab_unit_primitives(Parser *P, const DefNode *root);

/* ----- def_write.c: the JSON writer (also used by def_rows.c) ----- */

/* The skeleton of a document; values nest without limit through jw_node. */
#define JW_MAX_DEPTH	16

typedef struct JsonWriter
{
	Buf		   *b;
	bool		pretty;
	int			depth;
	bool		after_key;
	bool		has_items[JW_MAX_DEPTH + 1];
} JsonWriter;

extern void jw_begin(JsonWriter *w, char open);
extern void jw_end(JsonWriter *w, char close);
extern void jw_key(JsonWriter *w, const char *key);
extern void jw_str(JsonWriter *w, const char *s);
extern void jw_raw(JsonWriter *w, const char *s);
extern void jw_int(JsonWriter *w, long v);
extern void jw_node(JsonWriter *w, const DefNode *n);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif							/* MODELFLAGS_DEFINITIONS_INT_H */
