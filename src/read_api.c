/*
 * read_api.c — the read functions: is_enabled, rollout_pct, model_for,
 * explain (SPEC F, H, R).  model_for and explain consult model health
 * (health.c, SPEC §7 O) when the library is preloaded.
 *
 * Each is a thin wrapper: check the arguments (SPEC E), get the compiled
 * cache (cache.c), ask the pure core (evaluate.c, rollout.c), and shape the
 * answer.  They write nothing, so they run on hot standbys (SPEC S).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type_d.h"
#include "common/pg_prng.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/tuplestore.h"

#include "cache.h"
#include "evaluate.h"
#include "flipper.h"
#include "health.h"
#include "rollout.h"

PG_FUNCTION_INFO_V1(modelflags_is_enabled);
PG_FUNCTION_INFO_V1(modelflags_rollout_pct);
PG_FUNCTION_INFO_V1(modelflags_model_for);
PG_FUNCTION_INFO_V1(modelflags_model_for_1_1);
PG_FUNCTION_INFO_V1(modelflags_explain);

/* SQLSTATE MF001: every applying route of the feature was skipped, or none applies. */
#define ERRCODE_MODELFLAGS_NO_ROUTE MAKE_SQLSTATE('M','F','0','0','1')

/* The arguments and callbacks of one evaluation. */
typedef struct MfCall
{
	MfCache    *cache;
	MfEvalContext ctx;
	MfCacheFeature *feat;		/* the feature being routed (route_health) */
	bool		claim;			/* may claim half-open probes (model_for, not explain) */
} MfCall;

static bool
mf_cb_has_actor_rows(void *arg, const MfFlag *flag)
{
	MfCall	   *call = arg;

	return MfCacheFlagHasActors(call->cache, flag->idx);
}

static MfActorGate
mf_cb_actor_gate(void *arg, const MfFlag *flag)
{
	MfCall	   *call = arg;

	return MfCacheActorGate(call->cache, flag->idx,
							call->ctx.actor, call->ctx.actor_len);
}

static double
mf_cb_random(void *arg)
{
	return pg_prng_double(&pg_global_prng_state);
}

/* Model health of route i of the feature being routed (health.c). */
static MfRouteHealth
mf_cb_route_health(void *arg, int i)
{
	MfCall	   *call = arg;

	return MfHealthRoute(call->cache, call->cache->routes[call->feat->first_route + i].model,
						 call->claim);
}

/* A quoted value for a message, cut short when huge (like SQL _quote_abbrev). */
static char *
mf_quote(const char *s, size_t len)
{
	if (len <= 64)
		return psprintf("\"%.*s\"", (int) len, s);
	return psprintf("\"%.*s...\" (%zu bytes)", (int) pg_mbcliplen(s, (int) len, 64), s, len);
}

/* A name argument: NULL is an error, not a NULL answer (SPEC E). */
static text *
mf_name_arg(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return PG_GETARG_TEXT_PP(argno);
}

/*
 * The actor's UTF-8 bytes, which the rollout hashes (SPEC H: Flipper hashes
 * the UTF-8 string whatever the database's encoding).  In a UTF-8 database
 * (and in SQL_ASCII, where the bytes are whatever the client sent) they are
 * the stored bytes; in any other, the actor converted from the server
 * encoding.  Flag names are ASCII, the same bytes in every encoding.
 */
static void
mf_actor_utf8(MfCall *call)
{
	int			encoding = GetDatabaseEncoding();

	call->ctx.actor_utf8 = call->ctx.actor;
	call->ctx.actor_utf8_len = call->ctx.actor_len;
	if (likely(encoding == PG_UTF8) || encoding == PG_SQL_ASCII || call->ctx.actor == NULL)
		return;
	{
		char	   *converted = pg_server_to_any(call->ctx.actor, (int) call->ctx.actor_len, PG_UTF8);

		if (converted != call->ctx.actor)
		{
			call->ctx.actor_utf8 = converted;
			call->ctx.actor_utf8_len = strlen(converted);
		}
	}
}

/* The actor argument: NULL means "no actor"; empty or oversized is an error. */
static void
mf_actor_arg(FunctionCallInfo fcinfo, int argno, bool required, MfCall *call)
{
	text	   *actor;
	size_t		len;

	call->ctx.actor = NULL;
	call->ctx.actor_len = 0;
	call->ctx.actor_utf8 = NULL;
	call->ctx.actor_utf8_len = 0;
	if (PG_ARGISNULL(argno))
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("actor must not be null"),
					 errhint("Actors are flipper_ids such as User:42.")));
		return;
	}
	actor = PG_GETARG_TEXT_PP(argno);
	len = VARSIZE_ANY_EXHDR(actor);
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("actor must not be empty"),
				 errhint("Pass NULL for no actor; actors are flipper_ids such as User:42.")));
	if (len > MF_ACTOR_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("actor %s is too long", mf_quote(VARDATA_ANY(actor), len)),
				 errdetail("Actors are at most %d bytes.", MF_ACTOR_MAX)));
	call->ctx.actor = VARDATA_ANY(actor);
	call->ctx.actor_len = len;
	mf_actor_utf8(call);
}

static void
mf_call_init(MfCall *call)
{
	call->cache = MfCacheGet();
	call->ctx.has_actor_rows = mf_cb_has_actor_rows;
	call->ctx.actor_gate = mf_cb_actor_gate;
	call->ctx.random = mf_cb_random;
	call->ctx.route_health = NULL;
	call->ctx.arg = call;
	call->feat = NULL;
	call->claim = false;
}

/*
 * Model health for routing feat (SPEC §7 O), when the library is preloaded
 * and modelflags.breaker is on; otherwise routing is exactly 1.0's.
 */
static void
mf_call_health(MfCall *call, MfCacheFeature *feat, bool claim)
{
	call->feat = feat;
	call->claim = claim;
	if (MfHealthRouting())
	{
		MfHealthPrepare();
		call->ctx.route_health = mf_cb_route_health;
	}
}

/* A name over MF_NAME_MAX bytes: 22001, as the tables' validation says. */
static void
mf_name_too_long(const char *kind, const char *s, size_t len)
{
	if (len > MF_NAME_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("%s name %s is too long", kind, mf_quote(s, len)),
				 errdetail("Names are at most %d bytes.", MF_NAME_MAX)));
}

static void
mf_invalid_flag_name(text *name)
{
	mf_name_too_long("flag", VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid flag name %s", mf_quote(VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name))),
			 errdetail("Flag names are lowercase letters and digits joined by single underscores, as GitLab requires.")));
}

/*
 * is_enabled(flag, actor): SPEC F.  An unknown flag is false; a name that
 * can never be a flag is an error, since it is a bug in the caller.
 */
Datum
modelflags_is_enabled(PG_FUNCTION_ARGS)
{
	text	   *name = mf_name_arg(fcinfo, 0, "flag name");
	MfCall		call;
	int32		idx;

	mf_actor_arg(fcinfo, 1, false, &call);
	mf_call_init(&call);
	idx = MfCacheIndexText(&call.cache->flag_map, name);
	if (idx < 0)
	{
		if (!mf_valid_flag_name(VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name)))
			mf_invalid_flag_name(name);
		PG_RETURN_BOOL(false);
	}
	PG_RETURN_BOOL(mf_flag_evaluate(MfCacheFlag(call.cache, idx), &call.ctx).enabled);
}

/*
 * rollout_pct(flag, actor): SPEC H.  The actor's position in [0, 100) with
 * three decimals; the actor is in a percentage_of_actors rollout at p exactly
 * when rollout_pct < p.
 */
Datum
modelflags_rollout_pct(PG_FUNCTION_ARGS)
{
	text	   *name = mf_name_arg(fcinfo, 0, "flag name");
	MfCall		call;
	uint32		pos;

	mf_actor_arg(fcinfo, 1, true, &call);
	if (!mf_valid_flag_name(VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name)))
		mf_invalid_flag_name(name);
	pos = mf_rollout_position(VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name),
							  call.ctx.actor_utf8, call.ctx.actor_utf8_len);
	PG_RETURN_NUMERIC(int64_div_fast_to_numeric(pos, 3));
}

/* The feature's cache index; unknown features are an error (SPEC R). */
static MfCacheFeature *
mf_feature_arg(MfCache *cache, text *name)
{
	const char *s = VARDATA_ANY(name);
	size_t		len = VARSIZE_ANY_EXHDR(name);
	int			idx = MfCacheIndex(&cache->feature_map, s, len);

	if (idx >= 0)
		return &cache->features[idx];
	mf_name_too_long("feature", s, len);
	if (!mf_valid_name(s, len))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid feature name %s", mf_quote(s, len)),
				 errdetail("Feature names are lowercase letters and digits joined by single \"_\", \".\" or \"-\".")));
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("feature %s does not exist", mf_quote(s, len)),
			 errhint("Features are rows of modelflags.features; INSERT or load_definitions() adds them.")));
	return NULL;				/* not reached */
}

static text *
mf_gate_text(MfGate gate)
{
	static text *names[MF_GATE_DEFAULT_ENABLED + 1];

	if (gate == MF_GATE_NONE)
		return NULL;
	if (names[gate] == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		names[gate] = cstring_to_text(mf_gate_name(gate));
		MemoryContextSwitchTo(old);
	}
	return names[gate];
}

static char *
mf_text_cstring(text *t)
{
	return t ? text_to_cstring(t) : pstrdup("?");
}

/* Why route i of feature got its decision, for explain and for errors. */
static char *
mf_route_reason(MfCache *c, MfCacheFeature *feat, int i, const MfRouteStep *step)
{
	MfCacheRoute *r = &c->routes[feat->first_route + i];
	MfCacheModel *m = r->model >= 0 ? &c->models[r->model] : NULL;
	const char *flag = r->flag >= 0 ? VARDATA_ANY(c->flag_names[r->flag]) : NULL;
	int			flag_len = r->flag >= 0 ? (int) VARSIZE_ANY_EXHDR(c->flag_names[r->flag]) : 0;
	uint8		flipper = r->flag >= 0 ? c->flag_flipper[r->flag] : 0;
	const char *source = (flipper & MF_FLIPPER_OWNED) ? ", kept by Flipper" : "";

	switch (step->decision)
	{
		case MF_ROUTE_CHOSEN:
		case MF_ROUTE_NOT_REACHED:
			{
				const char *why = r->flag == -1 ? pstrdup("no flag: always applies")
					: psprintf("flag %.*s on (%s gate%s)", flag_len, flag,
							   mf_gate_name(step->flag.gate), source);

				if (step->decision == MF_ROUTE_NOT_REACHED)
					return psprintf("%s; an earlier route was chosen", why);
				if (step->health.verdict == MF_HEALTH_PROBE)
					return psprintf("%s; a probe: model %s is half-open", why,
									mf_text_cstring(m->name));
				if (step->health.verdict == MF_HEALTH_OPEN)
				{
					StringInfoData health;

					initStringInfo(&health);
					MfHealthDescribe(c, r->model, &health);
					return psprintf("%s; served although %s: every applying route is open, and it is due back first",
									why, health.data);
				}
				return (char *) why;
			}
		case MF_ROUTE_SKIPPED_OPEN:
			{
				StringInfoData health;

				initStringInfo(&health);
				MfHealthDescribe(c, r->model, &health);
				return health.data;
			}
		case MF_ROUTE_NOT_APPLYING:
			if (r->flag == -2)
				return psprintf("flag %s does not exist", mf_text_cstring(r->flag_name));
			if (step->flag.reason == MF_FLAG_OPTED_OUT)
				return psprintf("actor opted out of flag %.*s%s", flag_len, flag,
								(flipper & MF_FLIPPER_OWNED) ? " (Flipper)" : "");
			if (step->flag.reason == MF_FLAG_DEFAULT)
				return psprintf("flag %.*s off (never set; default_enabled is false)", flag_len, flag);
			if (flipper & (MF_FLIPPER_GROUPS | MF_FLIPPER_EXPRESSION))
				return psprintf("flag %.*s off (kept by Flipper; its %s gates cannot be evaluated in the database and count as closed)",
								flag_len, flag,
								(flipper & MF_FLIPPER_GROUPS) && (flipper & MF_FLIPPER_EXPRESSION)
								? "groups and expression" : (flipper & MF_FLIPPER_GROUPS) ? "groups" : "expression");
			return psprintf("flag %.*s off%s", flag_len, flag,
							(flipper & MF_FLIPPER_OWNED) ? " (kept by Flipper)" : "");
		case MF_ROUTE_SKIPPED_MODEL:
			if (r->model_name == NULL)
				return pstrdup("the route names no model");
			if (m == NULL)
				return psprintf("model %s does not exist", mf_text_cstring(r->model_name));
			return psprintf("model %s disabled", mf_text_cstring(m->name));
		case MF_ROUTE_SKIPPED_PROVIDER:
			if (m->provider < 0)
				return psprintf("provider %s does not exist", mf_text_cstring(m->provider_name));
			return psprintf("provider %s unavailable",
							mf_text_cstring(c->providers[m->provider].name));
	}
	return pstrdup("?");
}

static const char *
mf_decision_name(MfRouteDecision d)
{
	switch (d)
	{
		case MF_ROUTE_CHOSEN:
			return "chosen";
		case MF_ROUTE_NOT_APPLYING:
			return "not applying";
		case MF_ROUTE_SKIPPED_MODEL:
		case MF_ROUTE_SKIPPED_PROVIDER:
		case MF_ROUTE_SKIPPED_OPEN:
			return "skipped";
		case MF_ROUTE_NOT_REACHED:
			return "not reached";
	}
	return "?";
}

/* Skipped routes named in MF001's detail; the rest are counted. */
#define MF_NO_ROUTE_LISTED 20

/*
 * The MF001 error: no route left, with what was skipped and why.  steps are
 * those of the walk that decided (a walk with no winner evaluates every
 * route), so the detail cannot contradict the decision, even where a
 * percentage of time drew at random.  At most MF_NO_ROUTE_LISTED routes are
 * named, so that a feature with thousands of skipped routes does not send
 * megabytes to the client and the log.
 */
static void
mf_no_route(MfCall *call, MfCacheFeature *feat, text *feature, const MfRouteStep *steps)
{
	StringInfoData detail;
	int			nskipped = 0;

	initStringInfo(&detail);
	if (feat->nroutes == 0)
		appendStringInfoString(&detail, "The feature has no routes.");
	else
	{
		for (int i = 0; i < feat->nroutes; i++)
		{
			MfCacheRoute *r = &call->cache->routes[feat->first_route + i];

			if (steps[i].decision != MF_ROUTE_SKIPPED_MODEL &&
				steps[i].decision != MF_ROUTE_SKIPPED_PROVIDER &&
				steps[i].decision != MF_ROUTE_SKIPPED_OPEN)
				continue;
			if (nskipped++ >= MF_NO_ROUTE_LISTED)
				continue;
			appendStringInfo(&detail, "%s route %d (%s): %s",
							 nskipped == 1 ? "Skipped" : ";",
							 r->position,
							 mf_text_cstring(r->model_name),
							 mf_route_reason(call->cache, feat, i, &steps[i]));
		}
		if (nskipped == 0)
			appendStringInfoString(&detail, "No route applies: every route has a flag that is off.");
		else if (nskipped > MF_NO_ROUTE_LISTED)
			appendStringInfo(&detail, "; and %d more skipped routes.", nskipped - MF_NO_ROUTE_LISTED);
		else
			appendStringInfoChar(&detail, '.');
	}
	ereport(ERROR,
			(errcode(ERRCODE_MODELFLAGS_NO_ROUTE),
			 errmsg("no model available for feature %s",
					mf_quote(VARDATA_ANY(feature), VARSIZE_ANY_EXHDR(feature))),
			 errdetail_internal("%s", detail.data),
			 errhint("SELECT * FROM modelflags.explain(feature, actor) shows every route; "
					 "mark a provider available or enable a model to restore one.")));
}

/*
 * The tuple descriptor of model_for's result, built once per backend:
 * modelflags.model_choice's shape, with "degraded" since 1.1 (natts 8) and
 * without for a 1.0 installation not yet updated (natts 7).
 */
static TupleDesc
mf_model_for_desc(int natts)
{
	static TupleDesc descs[2] = {NULL, NULL};
	TupleDesc  *desc = &descs[natts == 8];

	if (*desc == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		TupleDesc	d = CreateTemplateTupleDesc(natts);

		TupleDescInitEntry(d, 1, "model", TEXTOID, -1, 0);
		TupleDescInitEntry(d, 2, "provider", TEXTOID, -1, 0);
		TupleDescInitEntry(d, 3, "params", JSONBOID, -1, 0);
		TupleDescInitEntry(d, 4, "flag", TEXTOID, -1, 0);
		TupleDescInitEntry(d, 5, "gate", TEXTOID, -1, 0);
		TupleDescInitEntry(d, 6, "position", INT4OID, -1, 0);
		TupleDescInitEntry(d, 7, "skipped", INT4OID, -1, 0);
		if (natts == 8)
			TupleDescInitEntry(d, 8, "degraded", BOOLOID, -1, 0);
		*desc = BlessTupleDesc(d);
		MemoryContextSwitchTo(old);
	}
	return *desc;
}

/*
 * model_for(feature, actor): SPEC R, and §7 O when health is on.  One row:
 * model, provider, params (the model's, with the route's merged over them),
 * flag, gate, position, the number of applying routes skipped on the way,
 * and (natts 8) whether every applying route was open, so that the one due
 * back first was served anyway.
 */
static Datum
mf_model_for(FunctionCallInfo fcinfo, int natts)
{
	text	   *feature = mf_name_arg(fcinfo, 0, "feature name");
	MfCall		call;
	MfCacheFeature *feat;
	MfRouteChoice choice;
	MfCacheRoute *r;
	MfCacheModel *m;
	Datum		values[8];
	bool		nulls[8] = {false, false, false, false, false, false, false, false};
	text	   *gate_text;
	HeapTuple	tuple;
	Oid			rettype;
	MfRouteStep few_steps[16];
	MfRouteStep *steps;

	mf_actor_arg(fcinfo, 1, false, &call);
	mf_call_init(&call);
	feat = mf_feature_arg(call.cache, feature);
	mf_call_health(&call, feat, true);
	steps = feat->nroutes <= lengthof(few_steps) ? few_steps
		: palloc(sizeof(MfRouteStep) * feat->nroutes);
	mf_route_choose(feat->core_routes, feat->nroutes, &call.ctx, steps,
					MF_WALK_TO_WINNER, &choice);
	if (choice.chosen < 0)
		mf_no_route(&call, feat, feature, steps);

	r = &call.cache->routes[feat->first_route + choice.chosen];
	m = &call.cache->models[r->model];	/* a chosen route has its model */
	values[0] = PointerGetDatum(m->name);
	values[1] = PointerGetDatum(call.cache->providers[m->provider].name);
	if (r->params)
		values[2] = JsonbPGetDatum(r->params);
	else
		nulls[2] = true;
	if (r->flag >= 0)
		values[3] = PointerGetDatum(call.cache->flag_names[r->flag]);
	else
		nulls[3] = true;
	gate_text = mf_gate_text(choice.gate);
	values[4] = PointerGetDatum(gate_text);
	nulls[4] = (gate_text == NULL);
	values[5] = Int32GetDatum(r->position);
	values[6] = Int32GetDatum(choice.skipped);
	values[7] = BoolGetDatum(choice.degraded);
	tuple = heap_form_tuple(mf_model_for_desc(natts), values, nulls);

	/*
	 * The descriptor is an anonymous record of the same shape as
	 * modelflags.model_choice (built once, no catalog lookup per call); stamp
	 * the datum with the declared type so that stored values carry it.
	 */
	rettype = get_fn_expr_rettype(fcinfo->flinfo);
	if (OidIsValid(rettype) && rettype != RECORDOID)
	{
		HeapTupleHeaderSetTypeId(tuple->t_data, rettype);
		HeapTupleHeaderSetTypMod(tuple->t_data, -1);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}

/* model_for as 1.1 declares it: model_choice with "degraded". */
Datum
modelflags_model_for_1_1(PG_FUNCTION_ARGS)
{
	return mf_model_for(fcinfo, 8);
}

/*
 * model_for as 1.0 declared it (seven columns): what a database still at
 * 1.0 calls between installing this library and ALTER EXTENSION UPDATE.
 * It routes around open breakers too; it cannot say "degraded".
 */
Datum
modelflags_model_for(PG_FUNCTION_ARGS)
{
	return mf_model_for(fcinfo, 7);
}

/*
 * explain(feature, actor): one row per route, in order, with whether it
 * applies, its decision (chosen, not applying, skipped, not reached) and why.
 */
Datum
modelflags_explain(PG_FUNCTION_ARGS)
{
	text	   *feature = mf_name_arg(fcinfo, 0, "feature name");
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MfCall		call;
	MfCacheFeature *feat;
	MfRouteStep *steps;
	int			skipped;
	MfGate		gate;

	/*
	 * The result's row type first, while the catalog cache still holds this
	 * function: the state's refresh below accepts invalidations, and after
	 * another session's committed DROP EXTENSION the function's own entry
	 * would be gone (XX000 "cache lookup failed", found by the SQL fuzzer).
	 */
	InitMaterializedSRF(fcinfo, 0);
	mf_actor_arg(fcinfo, 1, false, &call);
	mf_call_init(&call);
	feat = mf_feature_arg(call.cache, feature);
	mf_call_health(&call, feat, false); /* explain looks; it claims no probe */

	steps = palloc0(sizeof(MfRouteStep) * Max(feat->nroutes, 1));
	mf_route_select(feat->core_routes, feat->nroutes, &call.ctx, steps, MF_WALK_ALL,
					&skipped, &gate);
	for (int i = 0; i < feat->nroutes; i++)
	{
		MfCacheRoute *r = &call.cache->routes[feat->first_route + i];
		MfCacheModel *m = r->model >= 0 ? &call.cache->models[r->model] : NULL;
		Datum		values[9];
		bool		nulls[9] = {false};
		text	   *gate_text = steps[i].flag.enabled ? mf_gate_text(steps[i].flag.gate) : NULL;

		values[0] = Int32GetDatum(r->position);
		values[1] = PointerGetDatum(r->flag_name);
		nulls[1] = (r->flag_name == NULL);
		values[2] = PointerGetDatum(r->model_name);
		nulls[2] = (r->model_name == NULL); /* only if a DBA dropped NOT NULL */
		if (m && m->provider >= 0)
			values[3] = PointerGetDatum(call.cache->providers[m->provider].name);
		else
			nulls[3] = true;
		if (r->params)
			values[4] = JsonbPGetDatum(r->params);
		else
			nulls[4] = true;
		values[5] = BoolGetDatum(steps[i].flag.enabled);
		values[6] = PointerGetDatum(gate_text);
		nulls[6] = (gate_text == NULL);
		values[7] = CStringGetTextDatum(mf_decision_name(steps[i].decision));
		values[8] = CStringGetTextDatum(mf_route_reason(call.cache, feat, i, &steps[i]));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
