/*
 * evaluate.c — flag evaluation (SPEC F) and route selection (SPEC R).
 *
 * This is the one place where the rules of SPEC §3 F and R are written down,
 * and of how model health (SPEC §7 O) changes R: an open model is skipped
 * like an unavailable provider's, but health alone never leaves a feature
 * without a model (mf_route_choose).  When a breaker opens is breaker.c's
 * rule.
 * Flag evaluation follows Flipper's Feature#enabled? (the first open gate
 * wins and a closed gate never vetoes, so boolean false is no veto) wrapped in
 * GitLab's Feature.enabled? (opt-out forces false; a flag with no persisted
 * gate answers its definition's default_enabled).
 */
#include "evaluate.h"
#include "rollout.h"

MfFlagResult
mf_flag_evaluate(const MfFlag *flag, const MfEvalContext *ctx)
{
	MfFlagResult r = {false, MF_GATE_NONE, MF_FLAG_UNKNOWN};
	MfActorGate ag = MF_ACTOR_NONE;
	bool		gates_unset;
	bool		has_rows = false;

	if (flag == NULL)
		return r;
	gates_unset = flag->enabled < 0 && flag->pct_actors < 0 && flag->pct_time < 0;
	/* Actor rows matter for an actor's opt-out and for "no gate ever set". */
	if (ctx->actor != NULL || gates_unset)
		has_rows = flag->has_actor_rows > 0 ||
			(flag->has_actor_rows < 0 && ctx->has_actor_rows(ctx->arg, flag));

	/* The actor's own row: an opt-out beats every gate. */
	if (has_rows && ctx->actor != NULL)
		ag = ctx->actor_gate(ctx->arg, flag);
	if (ag == MF_ACTOR_OPT_OUT)
	{
		r.reason = MF_FLAG_OPTED_OUT;
		return r;
	}

	/* Never set: GitLab's "not persisted", so the YAML default applies. */
	if (gates_unset && !has_rows)
	{
		r.reason = MF_FLAG_DEFAULT;
		r.enabled = flag->default_enabled;
		r.gate = flag->default_enabled ? MF_GATE_DEFAULT_ENABLED : MF_GATE_NONE;
		return r;
	}

	r.reason = MF_FLAG_GATE_OPEN;
	r.enabled = true;
	if (flag->enabled > 0)
		r.gate = MF_GATE_BOOLEAN;
	else if (ag == MF_ACTOR_ENABLED)
		r.gate = MF_GATE_ACTOR;
	else if (ctx->actor != NULL && flag->pct_actors > 0 &&
			 mf_rollout_position_from(flag->name_crc, ctx->actor_utf8,
									  ctx->actor_utf8_len) < (uint32_t) flag->pct_actors)
		r.gate = MF_GATE_PERCENTAGE_OF_ACTORS;
	else if (flag->pct_time > 0 &&
			 ctx->random(ctx->arg) < (double) flag->pct_time / (double) MF_PCT_MAX)
		r.gate = MF_GATE_PERCENTAGE_OF_TIME;
	else
	{
		r.enabled = false;
		r.reason = MF_FLAG_ALL_CLOSED;
	}
	return r;
}

int
mf_route_select(const MfRoute *routes, int nroutes, const MfEvalContext *ctx,
				MfRouteStep *steps, MfWalk walk, int *skipped, MfGate *gate)
{
	MfRouteChoice choice;

	mf_route_choose(routes, nroutes, ctx, steps, walk, &choice);
	*skipped = choice.skipped;
	*gate = choice.gate;
	return choice.chosen;
}

int
mf_route_choose(const MfRoute *routes, int nroutes, const MfEvalContext *ctx,
				MfRouteStep *steps, MfWalk walk, MfRouteChoice *choice)
{
	int			chosen = -1;
	int			best_open = -1; /* the open route due back first */
	int64_t		best_due = 0;
	MfGate		best_gate = MF_GATE_NONE;

	choice->chosen = -1;
	choice->skipped = 0;
	choice->gate = MF_GATE_NONE;
	choice->health = MF_HEALTH_UP;
	choice->degraded = false;
	for (int i = 0; i < nroutes; i++)
	{
		const MfRoute *route = &routes[i];
		MfFlagResult f;
		MfRouteDecision d;
		MfRouteHealth h = {MF_HEALTH_UP, 0};

		if (route->flag_missing)
			f = mf_flag_evaluate(NULL, ctx);
		else if (route->flag == NULL)
		{
			f.enabled = true;
			f.gate = MF_GATE_DEFAULT;
			f.reason = MF_FLAG_GATE_OPEN;
		}
		else
			f = mf_flag_evaluate(route->flag, ctx);

		if (!f.enabled)
			d = MF_ROUTE_NOT_APPLYING;
		else if (chosen >= 0)
			d = MF_ROUTE_NOT_REACHED;
		else if (!route->model_enabled)
			d = MF_ROUTE_SKIPPED_MODEL;
		else if (!route->provider_available)
			d = MF_ROUTE_SKIPPED_PROVIDER;
		else if (ctx->route_health != NULL &&
				 (h = ctx->route_health(ctx->arg, i)).verdict == MF_HEALTH_OPEN)
		{
			d = MF_ROUTE_SKIPPED_OPEN;
			if (best_open < 0 || h.due_at < best_due)
			{
				best_open = i;
				best_due = h.due_at;
				best_gate = f.gate;
			}
		}
		else
		{
			d = MF_ROUTE_CHOSEN;
			chosen = i;
			choice->gate = f.gate;
			choice->health = h.verdict;
		}
		if (d == MF_ROUTE_SKIPPED_MODEL || d == MF_ROUTE_SKIPPED_PROVIDER ||
			d == MF_ROUTE_SKIPPED_OPEN)
			choice->skipped++;

		if (steps != NULL)
		{
			steps[i].decision = d;
			steps[i].flag = f;
			steps[i].health = h;
		}
		if (chosen >= 0 && walk == MF_WALK_TO_WINNER)
			break;
	}

	/* Health alone never leaves a feature without a model. */
	if (chosen < 0 && best_open >= 0)
	{
		chosen = best_open;
		choice->skipped--;
		choice->gate = best_gate;
		choice->health = MF_HEALTH_OPEN;
		choice->degraded = true;
		if (steps != NULL)
			steps[best_open].decision = MF_ROUTE_CHOSEN;
	}
	choice->chosen = chosen;
	return chosen;
}

/* [a-z0-9]+ joined by single separators from seps; 1..MF_NAME_MAX bytes. */
static bool
mf_valid_words(const char *name, size_t len, const char *seps)
{
	bool		after_sep = true;

	if (name == NULL || len == 0 || len > MF_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		char		c = name[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			after_sep = false;
		else
		{
			bool		is_sep = false;

			for (const char *s = seps; *s; s++)
				is_sep |= (c == *s);
			if (!is_sep || after_sep)
				return false;
			after_sep = true;
		}
	}
	return !after_sep;
}

bool
mf_valid_flag_name(const char *name, size_t len)
{
	return mf_valid_words(name, len, "_");
}

bool
mf_valid_name(const char *name, size_t len)
{
	return mf_valid_words(name, len, "_.-");
}

const char *
mf_gate_name(MfGate gate)
{
	switch (gate)
	{
		case MF_GATE_DEFAULT:
			return "default";
		case MF_GATE_BOOLEAN:
			return "boolean";
		case MF_GATE_ACTOR:
			return "actor";
		case MF_GATE_PERCENTAGE_OF_ACTORS:
			return "percentage_of_actors";
		case MF_GATE_PERCENTAGE_OF_TIME:
			return "percentage_of_time";
		case MF_GATE_DEFAULT_ENABLED:
			return "default_enabled";
		case MF_GATE_NONE:
			break;
	}
	return NULL;
}
