/*
 * evaluate.h — flag evaluation (SPEC F) and route selection (SPEC R).
 *
 * Pure C: no PostgreSQL header.  The PostgreSQL shell (read_api.c) feeds it
 * the compiled cache; test/unit_core.c feeds it hand-built cases.
 */
#ifndef MODELFLAGS_EVALUATE_H
#define MODELFLAGS_EVALUATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Which gate opened a flag or a route (the "gate" column of model_for). */
typedef enum MfGate
{
	MF_GATE_NONE = 0,			/* closed */
	MF_GATE_DEFAULT,			/* a route with no flag */
	MF_GATE_BOOLEAN,
	MF_GATE_ACTOR,
	MF_GATE_PERCENTAGE_OF_ACTORS,
	MF_GATE_PERCENTAGE_OF_TIME,
	MF_GATE_DEFAULT_ENABLED
} MfGate;

/* Why a flag answered as it did (for explain). */
typedef enum MfFlagReason
{
	MF_FLAG_UNKNOWN = 0,		/* no such flag: false */
	MF_FLAG_OPTED_OUT,			/* the actor opted out: false */
	MF_FLAG_DEFAULT,			/* no gate ever set: default_enabled */
	MF_FLAG_GATE_OPEN,			/* some gate is open: true */
	MF_FLAG_ALL_CLOSED			/* gates set, none open: false */
} MfFlagReason;

/* An actor's row in flag_actors for one flag. */
typedef enum MfActorGate
{
	MF_ACTOR_NONE = 0,
	MF_ACTOR_ENABLED,
	MF_ACTOR_OPT_OUT
} MfActorGate;

/* A flag's gates, as compiled from modelflags.flags. */
typedef struct MfFlag
{
	int8_t		enabled;		/* -1 = NULL (never set), 0 = false, 1 = true */
	bool		default_enabled;
	int8_t		has_actor_rows; /* any flag_actors row, opt-outs included?
								 * 1 yes, 0 no, -1 not known yet: ask
								 * ctx->has_actor_rows */
	int32_t		pct_actors;		/* rollout cutoff, mf_rollout_cutoff(); -1 = NULL */
	int32_t		pct_time;		/* thousandths of a percent; -1 = NULL */
	/*
	 * mf_rollout_name_crc() of the flag's name: all the evaluation needs of
	 * the name (the rollout hashes name || actor).  Not the name itself: a
	 * backend keeps one MfFlag per flag, 10,000 of them on a large
	 * installation, and a pointer and a length would make each 40 bytes
	 * instead of 20.  The shell keeps the names.
	 */
	uint32_t	name_crc;
	/*
	 * The shell's number for the flag, which the callbacks get back: the
	 * core never reads it.  (The shell's flags are not all in one array: a
	 * flag changed since its state was shared is a copy of its own.)
	 */
	int32_t		idx;
} MfFlag;

/* What model health (the circuit breaker, SPEC §7 O) says about a route. */
typedef enum MfHealthVerdict
{
	MF_HEALTH_UP = 0,			/* callable: closed, or forced closed */
	MF_HEALTH_PROBE,			/* callable as a half-open probe (claimed) */
	MF_HEALTH_OPEN				/* open, or half-open with every probe out */
} MfHealthVerdict;

typedef struct MfRouteHealth
{
	MfHealthVerdict verdict;
	int64_t		due_at;			/* OPEN: when it is due back (a clock value;
								 * INT64_MAX for a forced open) */
} MfRouteHealth;

/* How the shell answers the questions the evaluation may ask. */
typedef struct MfEvalContext
{
	const char *actor;			/* NULL = no actor; as stored in flag_actors */
	size_t		actor_len;
	/*
	 * The same actor as UTF-8 bytes, which the rollout hashes (SPEC H): the
	 * same pointer in a UTF-8 database, a converted copy in another.
	 */
	const char *actor_utf8;
	size_t		actor_utf8_len;
	/* Whether flag has actor rows; called only while that is unknown (-1). */
	bool		(*has_actor_rows) (void *arg, const MfFlag *flag);
	/* The actor's flag_actors row for flag; called only if it has rows. */
	MfActorGate (*actor_gate) (void *arg, const MfFlag *flag);
	/* A uniform draw in [0, 1); called only when percentage_of_time decides. */
	double		(*random) (void *arg);
	/*
	 * Model health of routes[route], or NULL for no health checks.  Asked
	 * only of applying routes whose model is enabled and provider available,
	 * in order, up to the winner: it may claim a half-open probe, so it is
	 * asked at most once per route and walk.
	 */
	MfRouteHealth (*route_health) (void *arg, int route);
	void	   *arg;
} MfEvalContext;

typedef struct MfFlagResult
{
	bool		enabled;
	MfGate		gate;			/* the gate that opened it, or MF_GATE_NONE */
	MfFlagReason reason;
} MfFlagResult;

/*
 * Evaluates flag (NULL = unknown flag) for ctx's actor: unknown → false;
 * opt-out → false; no gate set → default_enabled; else the first open gate in
 * Flipper's order (boolean, actor, percentage_of_actors, percentage_of_time).
 */
extern MfFlagResult mf_flag_evaluate(const MfFlag *flag, const MfEvalContext *ctx);

/* One route of a feature, as compiled; flag NULL = always applies. */
typedef struct MfRoute
{
	const MfFlag *flag;
	bool		flag_missing;	/* names a flag that does not exist: never applies */
	bool		model_enabled;
	bool		provider_available;
} MfRoute;

typedef enum MfRouteDecision
{
	MF_ROUTE_CHOSEN = 0,
	MF_ROUTE_NOT_APPLYING,		/* its flag is off for this actor */
	MF_ROUTE_SKIPPED_MODEL,		/* applies, but the model is disabled */
	MF_ROUTE_SKIPPED_PROVIDER,	/* applies, but the provider is unavailable */
	MF_ROUTE_NOT_REACHED,		/* an earlier route was chosen */
	MF_ROUTE_SKIPPED_OPEN		/* applies, but the model's breaker is open */
} MfRouteDecision;

typedef struct MfRouteStep
{
	MfRouteDecision decision;
	MfFlagResult flag;			/* gate = MF_GATE_DEFAULT for flagless routes */
	MfRouteHealth health;		/* what route_health said (UP if not asked) */
} MfRouteStep;

/* How far mf_route_select walks. */
typedef enum MfWalk
{
	MF_WALK_TO_WINNER,			/* stop at the chosen route (model_for) */
	MF_WALK_ALL					/* evaluate every route (explain) */
} MfWalk;

/*
 * Walks routes in order: a route applies when it has no flag or its flag is
 * enabled; an applying route is skipped when its model is disabled or its
 * provider unavailable; the first applying, unskipped route wins.  Returns
 * its index, or -1.  *skipped counts applying routes skipped before the
 * answer (or all of them, if there is none).
 *
 * steps, if not NULL, is an array of nroutes that receives the decision for
 * each route evaluated: all of them with MF_WALK_ALL, up to the winner with
 * MF_WALK_TO_WINNER (all of them when nothing wins, which is when model_for
 * explains its error from the very walk that decided it).  The chosen route
 * is the same either way for the same random draws.
 */
extern int	mf_route_select(const MfRoute *routes, int nroutes,
							const MfEvalContext *ctx, MfRouteStep *steps,
							MfWalk walk, int *skipped, MfGate *gate);

/* The answer of mf_route_choose. */
typedef struct MfRouteChoice
{
	int			chosen;			/* index of the winner, or -1 */
	int			skipped;		/* applying routes skipped (the winner not included) */
	MfGate		gate;			/* the winner's gate */
	MfHealthVerdict health;		/* the winner's health: UP, PROBE or OPEN */
	bool		degraded;		/* every applying route was open: the one due
								 * back first was chosen anyway */
} MfRouteChoice;

/*
 * mf_route_select with model health (SPEC §7 O): an applying route whose
 * model and provider are up is also skipped when ctx->route_health says its
 * breaker is open (MF_ROUTE_SKIPPED_OPEN), like an unavailable provider's:
 * the next applying route wins.  But health alone never leaves a feature
 * without a model: when no applying route is left and some were skipped
 * only as open, the one due back first wins (the earliest route on a tie),
 * and choice->degraded says so.  Returns choice->chosen.  With
 * ctx->route_health NULL it is exactly mf_route_select.
 */
extern int	mf_route_choose(const MfRoute *routes, int nroutes,
							const MfEvalContext *ctx, MfRouteStep *steps,
							MfWalk walk, MfRouteChoice *choice);

/* Names: GitLab's flag rule, [a-z0-9]+ joined by single "_", at most 255 bytes. */
extern bool mf_valid_flag_name(const char *name, size_t len);

/* Providers, models, features: [a-z0-9]+ joined by single "_", "." or "-". */
extern bool mf_valid_name(const char *name, size_t len);

extern const char *mf_gate_name(MfGate gate);

#define MF_NAME_MAX 255
#define MF_ACTOR_MAX 1024

#endif
