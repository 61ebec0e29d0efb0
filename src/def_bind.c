/*
 * def_bind.c — binds the node tree to a DefDocument: tells the format from
 * the top-level keys (bind_document), binds our format (providers, models,
 * flags, features with their routes), and holds the value checks every
 * binder uses, the same rules the database triggers apply
 * (sql/install/10_validate.sql), so that an error carries line:column and
 * path.
 *
 * Pipeline (definitions_int.h): stage 3: after read_yaml/read_json;
 * GitLab's formats are bound by def_bind_gitlab.c.  The document then goes
 * to def_refs.c (lint) or def_rows.c (load_definitions).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "definitions_int.h"

/* ----------------------------------------------------------------------
 * Value checks (the rules of 10_validate.sql) and names
 * ---------------------------------------------------------------------- */

DefSite
site_of(Parser *P, const DefNode *n)
{
	DefSite		s;

	s.line = n ? n->line : 0;
	s.column = n ? n->column : 0;
	s.path = pstrndup(P, P->path, P->pathlen);
	return s;
}

/* "the number 42", "a mapping", ...: for "must be X, not Y" messages. */
const char *
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

bool
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
bool
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

bool
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

/*
 * The exact value of a number's text (JSON number text, as the readers
 * keep it, of any length): digits x 10^exp10, the digits without leading or
 * trailing zeros.  strtod would round: 1e400 is an integer (the table's
 * numeric says so) though no double holds it.
 */
typedef struct Decimal
{
	bool		negative;
	bool		zero;
	long		ndigits;		/* significant digits */
	long		exp10;			/* power of ten of the last one */
	char		first;			/* the first significant digit */
} Decimal;

#define DECIMAL_EXP_MAX		1000000000L /* beyond any digit count of 8 MiB */

static Decimal
decimal_of(const char *s)
{
	Decimal		d = {0};
	long		lead = -1;		/* index in all digits of the first non-zero */
	long		last = -1;		/* ... and of the last */
	long		ndigits = 0,
				nfrac = 0,
				e = 0;
	bool		frac = false,
				eneg = false;

	if (*s == '-')
	{
		d.negative = true;
		s++;
	}
	for (; *s && *s != 'e' && *s != 'E'; s++)
	{
		if (*s == '.')
		{
			frac = true;
			continue;
		}
		if (*s != '0')
		{
			if (lead < 0)
			{
				lead = ndigits;
				d.first = *s;
			}
			last = ndigits;
		}
		ndigits++;
		if (frac)
			nfrac++;
	}
	if (*s)
	{
		s++;
		if (*s == '-' || *s == '+')
			eneg = *s++ == '-';
		for (; *s; s++)
			if (e < DECIMAL_EXP_MAX)
				e = e * 10 + (*s - '0');
		if (eneg)
			e = -e;
	}
	d.zero = lead < 0;
	if (!d.zero)
	{
		d.ndigits = last - lead + 1;
		d.exp10 = e - nfrac + (ndigits - 1 - last);
	}
	return d;
}

static bool
number_is_negative(const DefNode *n)
{
	Decimal		d = decimal_of(n->text);

	return d.negative && !d.zero;
}

static bool
number_is_integer(const DefNode *n)
{
	Decimal		d = decimal_of(n->text);

	return d.zero || d.exp10 >= 0;
}

/* A percentage gate: a number from 0 to 100 with at most 3 decimals, or null. */
static bool
want_percentage(Parser *P, const DefNode *n, const char *key, const char *flag, const char **out)
{
	Decimal		d;
	long		magnitude;		/* the value is below 10^magnitude */
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
	d = decimal_of(n->text);
	magnitude = d.ndigits + d.exp10;
	if (!d.zero && (d.negative || magnitude > 3 ||
					(magnitude == 3 && !(d.ndigits == 1 && d.first == '1'))))
	{
		complain(P, n, DEF_ERR_RANGE, "A percentage is a number from 0 to 100.",
				 "%s %s is out of range for flag %s", key, n->text, flagq);
		return false;
	}
	if (!d.zero && d.exp10 < -3)
	{
		complain(P, n, DEF_ERR_VALUE, "Flipper buckets actors in steps of 0.001 percent.",
				 "%s %s has more than 3 decimals for flag %s", key, n->text, flagq);
		return false;
	}
	*out = n->text;
	return true;
}

/*
 * Request parameters: a mapping whose well-known keys have the types
 * 10_validate.sql (_check_params) requires; other keys pass untouched.
 * null means {}.
 */
bool
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
bool
want_list(Parser *P, const DefNode *n, const char *key)
{
	if (n->kind == DEF_NODE_ARRAY || n->kind == DEF_NODE_NULL)
		return true;
	complain(P, n, DEF_ERR_VALUE, NULL, "\"%s\" must be a list, not %s", key, describe(P, n));
	return false;
}

bool
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

void
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
void
register_name(Parser *P, DefTable t, const char *name, int index, const DefNode *at,
			  const char *key)
{
	int32_t		prev;

	if (P->doc->names == NULL)
	{
		P->doc->names = pzalloc(P, sizeof(MfStrMap));
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
	*out = pzalloc(P, sizeof(DefActor) * v->count);
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
bool
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

				f->routes = pzalloc(P, sizeof(DefRoute) * v->count);
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

/*
 * One top-level list of our format: each item a mapping, bound in order by
 * binder into doc->arr (doc->count of them).  A macro, as the four lists
 * hold four element types.
 */
#define BIND_LIST(table, arr, count, what, binder) \
	do { \
		doc->has_section[table] = true; \
		if (want_list(P, v, k) && n) \
		{ \
			doc->arr = pzalloc(P, sizeof(*doc->arr) * n); \
			for (uint32_t j = 0; j < n; j++) \
			{ \
				size_t		o2 = path_index(P, j); \
\
				if (want_map(P, v->items[j], what)) \
				{ \
					binder(P, v->items[j], &doc->arr[doc->count], doc->count); \
					doc->count++; \
				} \
				path_restore(P, o2); \
			} \
		} \
	} while (0)

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
			BIND_LIST(DEF_TABLE_PROVIDERS, providers, nproviders, "provider", bind_provider);
		else if (strcmp(k, "models") == 0)
			BIND_LIST(DEF_TABLE_MODELS, models, nmodels, "model", bind_model);
		else if (strcmp(k, "flags") == 0)
			BIND_LIST(DEF_TABLE_FLAGS, flags, nflags, "flag", bind_flag);
		else if (strcmp(k, "features") == 0)
			BIND_LIST(DEF_TABLE_FEATURES, features, nfeatures, "feature", bind_feature);
		else
			complain(P, root->keys[i], DEF_ERR_VALUE,
					 "A definitions document has providers, models, flags and features; GitLab files are recognised by their own keys.",
					 "unknown top-level key %s", pquote(P, k, root->keys[i]->len));
		path_restore(P, old);
	}
}

/* ----------------------------------------------------------------------
 * The format, told from the top-level keys
 * ---------------------------------------------------------------------- */

/* Tells the format from the top-level keys and binds the tree. */
void
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
