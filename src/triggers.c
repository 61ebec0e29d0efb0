/*
 * triggers.c — the invalidation trigger of the configuration tables.
 *
 * modelflags._invalidate() runs AFTER each INSERT/UPDATE/DELETE/TRUNCATE
 * statement on providers, models, flags, flag_actors, features and routes
 * and, if the statement changed any row, queues a relcache invalidation of
 * the table.  It rides the writing
 * transaction: processed locally at the end of the statement, sent to other
 * backends at commit (never on rollback), and written into the commit record
 * for hot standbys, since the transaction has an XID by then.  cache.c's
 * callback marks the routing cache stale when it arrives.
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "cache.h"

PG_FUNCTION_INFO_V1(modelflags_invalidate);

Datum
modelflags_invalidate(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("modelflags._invalidate() must be called as a trigger")));
	/*
	 * A statement that changed no row changes no answer: skip it, so that
	 * e.g. set_flag's DELETE of a flag's (absent) actor rows, or a load that
	 * found everything as it was, does not make every backend rebuild.
	 * TRUNCATE has no transition table and always invalidates.
	 */
	if (!TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
	{
		Tuplestorestate *rows = trigdata->tg_newtable ? trigdata->tg_newtable
			: trigdata->tg_oldtable;

		if (rows != NULL && tuplestore_tuple_count(rows) == 0)
			return PointerGetDatum(NULL);
	}
	CacheInvalidateRelcache(trigdata->tg_relation);
	MfCacheNoteWrite();			/* this transaction must see its own change */
	return PointerGetDatum(NULL);
}
