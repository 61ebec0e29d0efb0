/*
 * def_document.c — DefDocument itself: creating and freeing one, the error
 * list every stage appends to (def_error, def_format_error), and the
 * builder functions the PostgreSQL shell uses to fill a document from the
 * tables for dump_definitions (def_add_provider, ..., def_node_new).
 *
 * Pipeline (definitions_int.h): the object every stage reads or fills; a
 * dump builds one here and hands it to def_write.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "definitions_int.h"

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
const char *
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

/* Appends an error to doc; false if the error list is full. */
bool
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
