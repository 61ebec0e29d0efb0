/*
 * fault.c — modelflags.fault_injection (see fault.h).
 *
 * The points (grep for mf_fault): build:providers, build:models,
 * build:flags, build:features, build:routes (after each table is read),
 * build:compile (after the routes are compiled), actors:load (after a
 * flag's actor rows are read), actors:share (after a large set's filter
 * is shared, before the set is made), actors:probe (before an index probe),
 * patch:read, patch:compile, patch:apply (a delta: after the changed rows
 * are read, after the changed features are compiled, just before the state
 * is written), build:flipper (after the Flipper tables are read),
 * flipper:note (in the trigger of the Flipper tables), log:prune (as a
 * writer prunes the change log, change_log.c).
 * "force:log:prune" raises nothing: it makes every writer prune the change
 * log at its commit instead of one in MF_LOG_PRUNE_EVERY (mf_fault_forced);
 * "log:prune" makes every writer prune too, and fail there.
 * The ERROR raised is ERRCODE_OUT_OF_MEMORY, the one failure the tests
 * cannot cause for real; timeouts and cancels are caused for real by the
 * isolation specs.
 */
#include "postgres.h"

#include "utils/guc.h"

#include "fault.h"

char	   *mf_fault_injection = NULL;

/* Passes through the named point since the setting was last changed. */
static int	mf_fault_passes = 0;

static void
mf_fault_assign(const char *newval, void *extra)
{
	mf_fault_passes = 0;
}

void
MfFaultInit(void)
{
	DefineCustomStringVariable("modelflags.fault_injection",
							   "Makes the named point of modelflags fail with an ERROR (testing only).",
							   "\"point\" fails at every pass, \"point:N\" at the N-th pass only.",
							   &mf_fault_injection,
							   "",
							   PGC_SUSET,
							   GUC_NOT_IN_SAMPLE,
							   NULL, mf_fault_assign, NULL);
}

void
mf_fault_fire(const char *point)
{
	const char *setting = mf_fault_injection;
	size_t		len = strlen(point);
	int			nth = 0;

	if (strncmp(setting, point, len) != 0)
		return;
	if (setting[len] == ':')
		nth = atoi(setting + len + 1);
	else if (setting[len] != '\0')
		return;
	if (nth > 0 && ++mf_fault_passes != nth)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OUT_OF_MEMORY),
			 errmsg("out of memory"),
			 errdetail("Injected by modelflags.fault_injection at %s.", point)));
}

/*
 * A point production reaches only by chance is reached every time while the
 * setting names it: as "force:point" (no ERROR) or as "point" / "point:N"
 * (to fail there).
 */
bool
mf_fault_forced_at(const char *point)
{
	const char *setting = mf_fault_injection;
	size_t		len = strlen(point);

	if (strncmp(setting, "force:", 6) == 0)
		return strcmp(setting + 6, point) == 0;
	return strncmp(setting, point, len) == 0 && (setting[len] == '\0' || setting[len] == ':');
}
