/*
 * triggers.c — the invalidation trigger of the configuration tables.
 *
 * modelflags._invalidate() queues a relcache invalidation of the table it
 * fires on.  The invalidation rides the writing transaction: processed
 * locally at the end of the statement, sent to other backends at commit
 * (never on rollback), and written into the commit record for hot standbys,
 * since the transaction has an XID by then.  cache.c's callback marks the
 * routing cache stale when it arrives.
 *
 * It fires in two ways (sql/install/20_audit.sql, 25_replication.sql):
 *   - FOR EACH STATEMENT after every INSERT/UPDATE/DELETE/TRUNCATE on
 *     providers, models, flags, flag_actors, features and routes (ENABLE
 *     ALWAYS): every writer but the logical-replication apply worker;
 *   - FOR EACH ROW, ENABLE REPLICA, so only while session_replication_role
 *     = replica: a subscription's apply worker fires row triggers only,
 *     never statement triggers (TRUNCATE aside), so without these an open
 *     session on a subscriber would answer from its old cache forever.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "storage/proc.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "cache.h"

PG_FUNCTION_INFO_V1(modelflags_invalidate);

#if PG_VERSION_NUM >= 170000
#define MF_CURRENT_LXID (MyProc->vxid.lxid)
#else
#define MF_CURRENT_LXID (MyProc->lxid)
#endif

/*
 * The row-level firing queues one invalidation per table per
 * (sub)transaction, not one per row.  PostgreSQL removes duplicates only
 * within one command, and the apply worker makes every applied row a command
 * of its own: a replicated 100,000-row INSERT would otherwise put 100,000
 * messages into the commit record, overflow every backend's invalidation
 * queue (a reset flushes all their caches, catalog caches included) and make
 * the apply worker rebuild the table's relcache entry after each row.
 *
 * A message queued in the current subtransaction stays pending until it
 * commits (it then belongs to the parent) or aborts (it is discarded, and we
 * are back in another subtransaction, with another id): so the same local
 * transaction and the same subtransaction id means "already queued".
 * SubTransactionIds are never reused within a transaction.  Six tables fire
 * this; a slot is overwritten round robin should more ever do.
 */
#define MF_ROW_SLOTS 8

typedef struct MfRowInval
{
	Oid			relid;
	LocalTransactionId lxid;
	SubTransactionId subxid;
} MfRowInval;

static MfRowInval mf_row_inval[MF_ROW_SLOTS];
static int	mf_row_next = 0;

static void
mf_invalidate_row(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	LocalTransactionId lxid = MF_CURRENT_LXID;
	SubTransactionId subxid = GetCurrentSubTransactionId();
	MfRowInval *slot = NULL;

	for (int i = 0; i < MF_ROW_SLOTS; i++)
	{
		if (mf_row_inval[i].relid == relid)
		{
			slot = &mf_row_inval[i];
			break;
		}
	}
	if (slot != NULL && slot->lxid == lxid && slot->subxid == subxid)
		return;
	if (slot == NULL)
	{
		slot = &mf_row_inval[mf_row_next];
		mf_row_next = (mf_row_next + 1) % MF_ROW_SLOTS;
	}
	CacheInvalidateRelcache(rel);
	slot->relid = relid;
	slot->lxid = lxid;
	slot->subxid = subxid;
}

Datum
modelflags_invalidate(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("modelflags._invalidate() must be called as a trigger")));

	if (TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
	{
		/*
		 * Applied changes (25_replication.sql).  No MfCacheNoteWrite(): it
		 * makes a transaction that has answered see its own writes, and the
		 * apply worker never answers; a normal session that set
		 * session_replication_role = replica also fires the statement
		 * trigger, which notes the write.
		 */
		mf_invalidate_row(trigdata->tg_relation);

		/*
		 * INSERT and UPDATE fire BEFORE the row: an AFTER ROW trigger queues
		 * an event per row in memory until the end of the statement, and a
		 * subscription's initial table sync COPYs a table as one statement,
		 * millions of actor rows included.  A BEFORE trigger must hand the
		 * row back, or the row is silently skipped.  DELETE fires AFTER: a
		 * BEFORE DELETE row trigger, even one that does not fire, makes
		 * every DELETE in every session lock each row before deleting it; an
		 * apply worker deletes one row per statement, so its queue holds one
		 * event.
		 */
		if (TRIGGER_FIRED_BEFORE(trigdata->tg_event))
		{
			if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
				return PointerGetDatum(trigdata->tg_newtuple);
			return PointerGetDatum(trigdata->tg_trigtuple);
		}
		return PointerGetDatum(NULL);
	}

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
