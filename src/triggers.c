/*
 * triggers.c — the writer's side of the cache: the invalidation trigger of
 * the configuration tables, and what a writing transaction owes at its end.
 *
 * modelflags._invalidate() runs AFTER each INSERT/UPDATE/DELETE/TRUNCATE
 * statement on providers, models, flags, flag_actors, features and routes
 * and, if the statement changed any row:
 *   - queues a relcache invalidation of the table.  It rides the writing
 *     transaction: processed locally at the end of the statement, sent to
 *     other backends at commit (never on rollback), and written into the
 *     commit record for hot standbys;
 *   - tells cache.c that this transaction wrote (its reads follow its own
 *     changes), and remembers the table.
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

/* Records that this (sub)transaction changed rel; see the file header. */
static void
mf_note_table_write(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	int			level = GetCurrentTransactionNestLevel();

	CacheInvalidateRelcache(rel);
	MfCacheNoteWrite();
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
	mf_note_table_write(trigdata->tg_relation);
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
