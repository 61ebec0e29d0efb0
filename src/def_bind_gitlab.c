/*
 * def_bind_gitlab.c — binds GitLab's three definition files: a feature-flag
 * definition (config/feature_flags/<type>/<name>.yml), the AI gateway's
 * models.yml (each gitlab_identifier a model, its provider derived) and
 * unit_primitives.yml (each feature_setting a feature whose unflagged
 * routes are its default models).  README.md, "GitLab's files".
 *
 * Pipeline (definitions_int.h): stage 3, called by bind_document
 * (def_bind.c) with the value checks there.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "definitions_int.h"

/* ----------------------------------------------------------------------
 * Binding: GitLab's files
 * ---------------------------------------------------------------------- */

/*
 * config/feature_flags/<type>/<name>.yml: one flag with GitLab's metadata.
 * Keys this table has no column for (intended_to_rollout_by, ...) are
 * ignored, as GitLab's Feature::Definition ignores keys it does not know.
 * Gates are not touched: loading the file never changes a rollout.
 */
void
bind_gitlab_flag(Parser *P, const DefNode *root)
{
	DefDocument *doc = P->doc;
	DefFlag    *f;
	const DefNode *name = node_get(root, "name");

	doc->format = DEF_FORMAT_GITLAB_FLAG;
	doc->flags = pzalloc(P, sizeof(DefFlag));
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
	char	   *out = pzalloc(P, len + 1);
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
void
bind_gitlab_models(Parser *P, const DefNode *root)
{
	DefDocument *doc = P->doc;
	const DefNode *list = node_get(root, "models");
	size_t		old = path_key(P, "models");

	doc->format = DEF_FORMAT_GITLAB_MODELS;
	doc->has_section[DEF_TABLE_MODELS] = true;
	doc->models = pzalloc(P, sizeof(DefModel) * list->count);
	doc->providers = pzalloc(P, sizeof(DefProvider) * list->count);
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
void
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
	doc->features = pzalloc(P, sizeof(DefFeature) * (list->count ? list->count : 1));
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
				f->routes = pzalloc(P, sizeof(DefRoute) * many->count);
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
			DefRoute   *r = pzalloc(P, sizeof(DefRoute));

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
