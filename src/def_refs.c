/*
 * def_refs.c — cross-references within a set of documents, for
 * modelflags-lint: every provider, model and flag a document refers to
 * must be defined by one of the set.  (load_definitions checks references
 * against the tables instead, in definitions_api.c.)
 *
 * Pipeline (definitions_int.h): stage 4, after def_parse, lint only.
 */
#include <string.h>

#include "definitions_int.h"

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
