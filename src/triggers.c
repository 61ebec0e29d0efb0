/*
 * triggers.c — the writer's side of the cache: the invalidation trigger of
 * the configuration tables, and what a writing transaction owes at its end.
 *
 * modelflags._invalidate() fires in two ways (sql/install/20_audit.sql,
 * 25_replication.sql):
 *   - FOR EACH STATEMENT after every INSERT/UPDATE/DELETE/TRUNCATE on
 *     providers, models, flags, flag_actors, features and routes (ENABLE
 *     ALWAYS): every writer but the logical-replication apply worker;
 *   - FOR EACH ROW, ENABLE REPLICA, so only while session_replication_role
 *     = replica: a subscription's apply worker fires row triggers only,
 *     never statement triggers (TRUNCATE aside), so without these an open
 *     session on a subscriber would answer from its old cache forever.
 * Either way, when rows changed, it
 *   - queues a relcache invalidation of the table.  It rides the writing
 *     transaction: processed locally at the end of the statement, sent to
 *     other backends at commit (never on rollback), and written into the
 *     commit record for hot standbys;
 *   - remembers the table, and (statement firing) tells cache.c that this
 *     transaction wrote: its reads follow its own changes.
 *
 * At PRE_COMMIT a transaction that wrote sends the same invalidations once
 * more, straight into the shared queue (and, for hot standbys, as a WAL
 * record), before its commit makes the change visible: PostgreSQL sends the
 * transactional ones only after.  So any snapshot that shows the change was
 * taken after its invalidation was queued — the invariant (I1) that lets a
 * reader decide cheaply whether its compiled state matches its snapshot
 * (cache.c).  An early message for a commit that then fails costs readers a
 * needless rebuild, nothing more.
 *
 * PREPARE TRANSACTION of a transaction that wrote is refused: the audit
 * trigger's NOTIFY cannot be prepared, and PostgreSQL's own refusal comes
 * later and does not say why.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "storage/sinval.h"
#include "storage/standby.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "cache.h"
#include "triggers.h"

/* The tables this transaction changed, with the subtransaction level. */
#define MF_MAX_WRITTEN 16
static struct
{
	Oid			relid;
	int			level;
}			mf_written[MF_MAX_WRITTEN];
static int	mf_nwritten = 0;

/* Remembers that this (sub)transaction changed relid, for its end. */
static void
mf_remember_write(Oid relid)
{
	int			level = GetCurrentTransactionNestLevel();

	for (int i = 0; i < mf_nwritten; i++)
		if (mf_written[i].relid == relid)
		{
			mf_written[i].level = Min(mf_written[i].level, level);
			return;
		}
	if (mf_nwritten < MF_MAX_WRITTEN)
	{
		mf_written[mf_nwritten].relid = relid;
		mf_written[mf_nwritten].level = level;
		mf_nwritten++;
	}
}

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
 *
 * The statement firing is not deduplicated: the writer's own next statement
 * must process an invalidation (at CommandCounterIncrement) for every
 * statement that changed rows, so that it reads its own changes (cache.c A2).
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
	mf_remember_write(relid);
	slot->relid = relid;
	slot->lxid = lxid;
	slot->subxid = subxid;
}

PG_FUNCTION_INFO_V1(modelflags_invalidate);

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
	MfCacheNoteWrite();
	mf_remember_write(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}

/* The early invalidations of the tables this transaction changed. */
static void
mf_send_early_invalidations(void)
{
	SharedInvalidationMessage msgs[MF_MAX_WRITTEN];

	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < mf_nwritten; i++)
	{
		msgs[i].rc.id = SHAREDINVALRELCACHE_ID;
		msgs[i].rc.dbId = MyDatabaseId;
		msgs[i].rc.relId = mf_written[i].relid;
	}
	SendSharedInvalidMessages(msgs, mf_nwritten);
	if (XLogStandbyInfoActive())
		LogStandbyInvalidations(mf_nwritten, msgs, false);
}

static void
mf_writer_xact_callback(XactEvent event, void *arg)
{
	if (mf_nwritten == 0)
		return;
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			mf_send_early_invalidations();
			break;
		case XACT_EVENT_PRE_PREPARE:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot PREPARE a transaction that changed modelflags tables"),
					 errdetail("Every change to modelflags tables sends NOTIFY modelflags, which two-phase commit does not support."),
					 errhint("Change modelflags tables in a transaction of their own, outside two-phase commit.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			mf_nwritten = 0;
			break;
		default:
			break;
	}
}

/* A rolled-back subtransaction's writes are no writes; a committed one's are its parent's. */
static void
mf_writer_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						   SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();

	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		int			kept = 0;

		for (int i = 0; i < mf_nwritten; i++)
			if (mf_written[i].level < level)
				mf_written[kept++] = mf_written[i];
		mf_nwritten = kept;
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		for (int i = 0; i < mf_nwritten; i++)
			if (mf_written[i].level >= level)
				mf_written[i].level = level - 1;
	}
}

void
MfTriggersInit(void)
{
	RegisterXactCallback(mf_writer_xact_callback, NULL);
	RegisterSubXactCallback(mf_writer_subxact_callback, NULL);
}
