/*
 * modelflags.c — module entry point.
 *
 * modelflags keeps feature flags, Flipper-identical percentage rollouts and
 * LLM model/failover routing in PostgreSQL.  The C sources are split by
 * concern:
 *   rollout.c      SPEC H: CRC-32 rollout positions            (pure core)
 *   evaluate.c     SPEC F and R: flag gates, route selection   (pure core)
 *   strmap.c       hash maps for the cache and the parser      (pure core)
 *   def_*.c        YAML/JSON definition files, one stage each  (pure core)
 *                  (definitions_int.h): def_parse -> def_read_yaml |
 *                  def_read_json -> def_tree -> def_bind (+ def_bind_gitlab)
 *                  -> def_refs (lint) | def_rows (load) | def_write (dump);
 *                  def_document, def_util serve them all
 *   cache.c        SPEC C and S: which compiled state answers a
 *                  transaction, invalidation, snapshots (read its header)
 *   cache_build.c  building a compiled state from the tables
 *   cache_delta.c  bringing a state up to date by what changed
 *   actor_sets.c   actor gates, loaded lazily per flag
 *   schema.c       the catalogue of the columns the C code reads
 *   read_api.c     model_for, is_enabled, rollout_pct, explain
 *   triggers.c     the invalidation trigger on the tables
 *   change_log.c   what a writing transaction owes the caches at PRE_COMMIT
 *                  (the change log, early invalidations) and at PREPARE
 *   fault.c        fault injection for the tests of every error path
 *   definitions_api.c  load_definitions, dump_definitions over def_*.c
 *   breaker.c      SPEC §7 O: health windows, circuit breaker (pure core)
 *   health.c       report(), breakers in shared memory, health views
 *   health_worker.c  records breaker transitions (background worker)
 * Validation, audit and NOTIFY (SPEC E, A) are SQL: sql/install/ (one file per concern).
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "cache.h"
#include "fault.h"
#include "health.h"
#include "shared_filters.h"
#include "triggers.h"

PG_MODULE_MAGIC;

/*
 * modelflags.note: a free-text note recorded in modelflags.changes.note by
 * every change made while it is set.  The write functions set it for their
 * own statements (note => ...); a DBA can SET LOCAL it before a plain UPDATE.
 */
static char *modelflags_note = NULL;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomStringVariable("modelflags.note",
							   "Sets the note recorded with the next changes in modelflags.changes.",
							   "Use SET LOCAL so that it applies to one transaction.",
							   &modelflags_note,
							   "",
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);
	MfFaultInit();
	MfHealthInit();
	MfFiltersInit();
	MfCacheInit();
	MfTriggersInit();

	/*
	 * Last, once every modelflags.* setting is defined: reserving the prefix
	 * drops the placeholders of names not defined yet, so a setting made
	 * before the library loaded (PGOPTIONS, ALTER ROLE ... SET,
	 * postgresql.conf) would be lost with a WARNING.
	 */
	MarkGUCPrefixReserved("modelflags");
}
