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
 *   - queues a relcache invalidation of the table's signal (change_log.c,
 *     mf_signal_readers; not of the table itself, whose relcache entry every
 *     reader would then rebuild).  It rides the writing
 *     transaction: processed locally at the end of the statement, sent to
 *     other backends at commit (never on rollback), and written into the
 *     commit record for hot standbys;
 *   - hands the changed rows' names to change_log.c, which logs them for the
 *     other backends' caches at PRE_COMMIT and sends the early
 *     invalidations;
 *   - (statement firing) tells cache.c that this transaction wrote: its
 *     reads follow its own changes.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "cache.h"
#include "change_log.h"
#include "triggers.h"

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
mf_invalidate_row(Relation rel, MfTableId table)
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
	mf_signal_readers(table, relid);
	slot->relid = relid;
	slot->lxid = lxid;
	slot->subxid = subxid;
}

/*
 * Which modelflags table rel is, and the attribute number of the column that
 * names what a row changes (key_column): the name, the flag of an actor
 * gate, the feature of a route.  Anything else is refused: attached to
 * another table, this function could flood every backend with rebuilds.
 */
static MfTableId
mf_trigger_table(Relation rel, AttrNumber *key_attnum)
{
	const char *name = RelationGetRelationName(rel);

	if (strcmp(get_namespace_name(RelationGetNamespace(rel)), "modelflags") == 0)
		for (int t = 0; t < MF_NTABLES; t++)
			if (strcmp(name, mf_table_names[t]) == 0)
			{
				AttrNumber	attnums[MF_NCOLUMNS];

				mf_schema_attnums(rel, (MfTableId) t, attnums);
				*key_attnum = attnums[mf_log_key_column[t]];
				return (MfTableId) t;
			}
	ereport(ERROR,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("modelflags._invalidate() runs only on the configuration tables of modelflags, not on \"%s\"",
					name)));
	return MF_NTABLES;			/* not reached */
}

/* Hands the key column of tuple to the change log. */
static void
mf_note_tuple(Relation rel, MfTableId table, AttrNumber attnum, HeapTuple tuple)
{
	bool		isnull;
	Datum		d;
	text	   *t;

	if (tuple == NULL)
		return;
	d = heap_getattr(tuple, attnum, RelationGetDescr(rel), &isnull);
	if (isnull)
		return;
	t = DatumGetTextPP(d);
	mf_changelog_note_key(rel, table, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

/* Hands the key column of every row of a transition table to the change log. */
static void
mf_note_transition(Relation rel, MfTableId table, AttrNumber attnum, Tuplestorestate *rows)
{
	TupleTableSlot *slot;
	int			ptr;

	if (rows == NULL)
		return;
	/* a read pointer of our own: the audit trigger reads the same rows */
	slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsMinimalTuple);
	ptr = tuplestore_alloc_read_pointer(rows, 0);
	tuplestore_select_read_pointer(rows, ptr);
	tuplestore_rescan(rows);
	while (!mf_changelog_key_is_full(rel, table) &&
		   tuplestore_gettupleslot(rows, true, false, slot))
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, attnum, &isnull);

		if (!isnull)
		{
			text	   *t = DatumGetTextPP(d);

			mf_changelog_note_key(rel, table, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
		}
	}
	tuplestore_select_read_pointer(rows, 0);
	ExecDropSingleTupleTableSlot(slot);
}

PG_FUNCTION_INFO_V1(modelflags_invalidate);

Datum
modelflags_invalidate(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	MfTableId	table;
	AttrNumber	key_attnum;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("modelflags._invalidate() must be called as a trigger")));
	rel = trigdata->tg_relation;
	table = mf_trigger_table(rel, &key_attnum);

	if (TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
	{
		/*
		 * Applied changes (25_replication.sql).  No MfCacheNoteWrite(): it
		 * makes a transaction that has answered see its own writes, and the
		 * apply worker never answers; a normal session that set
		 * session_replication_role = replica also fires the statement
		 * trigger, which notes the write.
		 */
		mf_invalidate_row(rel, table);
		mf_note_tuple(rel, table, key_attnum, trigdata->tg_trigtuple);
		if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
			mf_note_tuple(rel, table, key_attnum, trigdata->tg_newtuple);

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
	 * TRUNCATE has no transition table: it always invalidates, in full.
	 */
	if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		mf_changelog_note_full(rel, table);
	else
	{
		Tuplestorestate *rows = trigdata->tg_newtable ? trigdata->tg_newtable
			: trigdata->tg_oldtable;

		if (rows != NULL && tuplestore_tuple_count(rows) == 0)
			return PointerGetDatum(NULL);
		if (rows == NULL)
			mf_changelog_note_full(rel, table); /* created without transition tables */
		mf_note_transition(rel, table, key_attnum, trigdata->tg_newtable);
		mf_note_transition(rel, table, key_attnum, trigdata->tg_oldtable);
	}
	mf_signal_readers(table, RelationGetRelid(rel));
	MfCacheNoteWrite();
	return PointerGetDatum(NULL);
}

void
MfTriggersInit(void)
{
	MfChangeLogInit();
}
