/*
 * change_log.c — what a writing transaction owes the routing caches: the
 * names it changed, logged at PRE_COMMIT, and its early invalidations.
 *
 * The invalidation trigger (triggers.c) hands every changed row's name here:
 * the provider, model, flag or feature name, the flag of an actor gate, the
 * feature of a route.  They are collected per table for the transaction
 * (TopTransactionContext), at most MF_LOG_MAX_KEYS per table; past that, or
 * for a TRUNCATE, the table is marked "full".
 *
 * At PRE_COMMIT a transaction that wrote:
 *   1. inserts one row per table into modelflags._cache_log (22_cache_log.sql)
 *      with its names (or NULL for "full"), as the log's owner, so that it
 *      commits and becomes visible together with the change: a reader's
 *      delta (cache_delta.c) is the log rows its snapshot shows and its
 *      state's snapshot did not;
 *   2. sometimes prunes the log (MF_LOG_PRUNE_EVERY), leaving a marker row
 *      that names the oldest entry kept;
 *   3. sends the relcache invalidations of the tables' signals
 *      (mf_signal_readers: the sequences of 22_cache_log.sql, which no
 *      reader opens) once more, straight
 *      into the shared queue (and, for hot standbys, as a WAL record), before
 *      the commit makes the change visible: PostgreSQL sends the
 *      transactional ones only after.  So any snapshot that shows the change
 *      was taken after its invalidation was queued — the invariant (I1) that
 *      lets a reader decide cheaply whether its state matches its snapshot
 *      (cache.c).  An early message for a commit that then fails costs
 *      readers a log lookup, nothing more.
 *
 * PREPARE TRANSACTION of a transaction that wrote is refused: the audit
 * trigger's NOTIFY cannot be prepared, and PostgreSQL's own refusal comes
 * later and does not say why.  A subtransaction that rolled back leaves no
 * write behind, so a transaction whose only change was rolled back to a
 * savepoint prepares.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type_d.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/sinval.h"
#include "storage/standby.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "change_log.h"
#include "fault.h"
#include "strmap.h"

/* Names listed per table and transaction before the table is logged "full". */
#define MF_LOG_MAX_KEYS 256

/* One writer in this many prunes the log, keeping the newest MF_LOG_KEEP rows. */
#define MF_LOG_PRUNE_EVERY 1024
#define MF_LOG_KEEP 4096

/* What this transaction changed in one table. */
typedef struct MfPending
{
	Oid			relid;
	int			level;			/* lowest subtransaction level that wrote */
	MfTableId	table;
	bool		full;
	bool		logged;			/* written already (mf_changelog_log_now) */
	MfStrMap	seen;			/* the names, deduplicated */
	int			nkeys;
	char	  **keys;			/* MF_LOG_MAX_KEYS of them at most */
} MfPending;

#define MF_MAX_PENDING 16
static MfPending *mf_pending[MF_MAX_PENDING];
static int	mf_npending = 0;

static void *
mf_top_alloc(void *arg, size_t size)
{
	return MemoryContextAlloc(TopTransactionContext, size);
}

/* The entry of a table for this transaction, made on first use. */
static MfPending *
mf_pending_for_relid(Oid relid, MfTableId table)
{
	int			level = GetCurrentTransactionNestLevel();
	MfPending  *p;

	for (int i = 0; i < mf_npending; i++)
		if (mf_pending[i]->relid == relid)
		{
			mf_pending[i]->level = Min(mf_pending[i]->level, level);
			return mf_pending[i];
		}
	if (mf_npending >= MF_MAX_PENDING)
	{
		/* More tables than modelflags has (DROP and CREATE in one xact). */
		p = mf_pending[MF_MAX_PENDING - 1];
		p->full = true;
		p->level = Min(p->level, level);
		return p;
	}
	p = MemoryContextAllocZero(TopTransactionContext, sizeof(MfPending));
	p->relid = relid;
	p->level = level;
	p->table = table;
	mf_strmap_init(&p->seen, 16, mf_top_alloc, NULL);
	p->keys = MemoryContextAlloc(TopTransactionContext, sizeof(char *) * MF_LOG_MAX_KEYS);
	mf_pending[mf_npending++] = p;
	return p;
}

static MfPending *
mf_pending_for(Relation rel, MfTableId table)
{
	return mf_pending_for_relid(RelationGetRelid(rel), table);
}

void
mf_changelog_note_full(Relation rel, MfTableId table)
{
	MfPending  *p = mf_pending_for(rel, table);

	p->full = true;
	p->logged = false;
}

void
mf_changelog_note_key(Relation rel, MfTableId table, const char *key, size_t len)
{
	MfPending  *p = mf_pending_for(rel, table);
	int32		ignored;
	char	   *copy;

	p->logged = false;
	if (p->full || mf_strmap_get(&p->seen, 0, key, len, &ignored))
		return;
	if (p->nkeys >= MF_LOG_MAX_KEYS)
	{
		p->full = true;
		return;
	}
	copy = MemoryContextAlloc(TopTransactionContext, len + 1);
	memcpy(copy, key, len);
	copy[len] = '\0';
	p->keys[p->nkeys] = copy;
	mf_strmap_put(&p->seen, 0, copy, len, p->nkeys);
	p->nkeys++;
}

bool
mf_changelog_key_is_full(Relation rel, MfTableId table)
{
	return mf_pending_for(rel, table)->full;
}

/* The owner of a relation, by OID. */
static Oid
mf_rel_owner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/* Switches to the log's owner for the log's SPI; mf_as_owner_end switches back. */
typedef struct MfAsOwner
{
	Oid			saved_user;
	int			saved_sec;
} MfAsOwner;

static Oid
mf_log_relid(void)
{
	Oid			nsp = get_namespace_oid("modelflags", true);

	return OidIsValid(nsp) ? get_relname_relid("_cache_log", nsp) : InvalidOid;
}

static void
mf_as_owner_begin(MfAsOwner *o, Oid logrel)
{
	GetUserIdAndSecContext(&o->saved_user, &o->saved_sec);
	SetUserIdAndSecContext(mf_rel_owner(logrel),
						   o->saved_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
}

static void
mf_as_owner_end(MfAsOwner *o)
{
	PopActiveSnapshot();
	SPI_finish();
	SetUserIdAndSecContext(o->saved_user, o->saved_sec);
}

/* One log row: table, and the names (NULL: "full"). */
static void
mf_log_insert(MfTableId table, Datum *keys, bool *keynulls, int nkeys, bool full)
{
	Oid			argtypes[2] = {TEXTOID, TEXTARRAYOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};

	values[0] = CStringGetTextDatum(mf_table_names[table]);
	if (full)
	{
		values[1] = (Datum) 0;
		nulls[1] = 'n';
	}
	else
	{
		int			dims[1] = {nkeys};
		int			lbs[1] = {1};

		values[1] = PointerGetDatum(construct_md_array(keys, keynulls, 1, dims, lbs,
													   TEXTOID, -1, false, TYPALIGN_INT));
	}
	if (SPI_execute_with_args("INSERT INTO modelflags._cache_log (txid, table_name, keys) "
							  "VALUES (pg_catalog.pg_current_xact_id(), $1, $2)",
							  2, argtypes, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write modelflags._cache_log");
}

/*
 * Pruning: delete all but the newest MF_LOG_KEEP rows (those another writer
 * holds are skipped, not waited for), and leave a marker naming the newest
 * txid deleted: a reader whose state is older than that may have missed a
 * deleted row and rebuilds in full (cache_delta.c).
 *
 * Housekeeping must never cost a commit (a Rails commit of a ChatOps command
 * among them): the prune does not wait for the log's lock (a later writer
 * prunes a locked log), and it runs in a subtransaction of its own, so an
 * ERROR inside it (a timeout, a cancel, out of memory) rolls back only the
 * prune, is logged, and the commit goes on with the log as it was.
 */
static void
mf_log_prune(Oid logrel)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	if (!ConditionalLockRelationOid(logrel, RowExclusiveLock))
		return;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		mf_fault("log:prune");
		if (SPI_execute("WITH cut AS (SELECT l.txid FROM modelflags._cache_log l"
						"             ORDER BY l.txid DESC OFFSET " CppAsString2(MF_LOG_KEEP) " LIMIT 1),"
						"     gone AS (DELETE FROM modelflags._cache_log l"
						"               WHERE l.ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
						"                     SELECT d.ctid FROM modelflags._cache_log d, cut"
						"                      WHERE d.txid OPERATOR(pg_catalog.<=) cut.txid"
						"                        FOR UPDATE OF d SKIP LOCKED))"
						"              RETURNING l.txid)"
						" INSERT INTO modelflags._cache_log (txid, table_name, keys)"
						" SELECT pg_catalog.pg_current_xact_id(), '*',"
						"        ARRAY[(SELECT pg_catalog.max(g.txid) FROM gone g)::pg_catalog.text]"
						"  WHERE EXISTS (SELECT FROM gone)",
						false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not prune modelflags._cache_log");
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ereport(LOG,
				(errmsg("modelflags: the change log was not pruned at this commit: %s", edata->message),
				 errdetail("The commit went on; a later writer prunes the log.")));
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

/*
 * Step 1 and 2 of the file header.  Runs as the log's owner, with every name
 * qualified: nobody's search_path or privileges matter.  A database whose
 * extension is still at 1.0 (library upgraded, ALTER EXTENSION not yet run)
 * has no log: readers then rebuild in full, as 1.0 did.
 */
static void
mf_changelog_flush(void)
{
	Oid			logrel = mf_log_relid();
	MfAsOwner	o;
	bool		any = false;
	bool		prune;

	if (!OidIsValid(logrel))
		return;
	for (int i = 0; i < mf_npending; i++)
		any |= !mf_pending[i]->logged;

	/*
	 * Every writer may prune, also one whose rows were all logged already (a
	 * Flipper write, mf_changelog_log_now): a database that only sees
	 * Flipper's writes must not grow the log for ever.
	 */
	prune = pg_prng_uint32(&pg_global_prng_state) % MF_LOG_PRUNE_EVERY == 0 ||
		mf_fault_forced("log:prune");
	if (!any && !prune)
		return;
	mf_as_owner_begin(&o, logrel);
	for (int i = 0; i < mf_npending; i++)
	{
		MfPending  *p = mf_pending[i];
		Datum	   *elems;

		if (p->logged)
			continue;
		elems = palloc(sizeof(Datum) * Max(p->nkeys, 1));
		for (int k = 0; k < p->nkeys; k++)
			elems[k] = CStringGetTextDatum(p->keys[k]);
		mf_log_insert(p->table, elems, NULL, p->nkeys, p->full);
	}

	if (prune)
		mf_log_prune(logrel);
	mf_as_owner_end(&o);
}

void
mf_changelog_log_now(Oid relid, MfTableId table, Datum *keys, bool *keynulls, int nkeys)
{
	Oid			logrel = mf_log_relid();
	MfPending  *p = mf_pending_for_relid(relid, table);
	MfAsOwner	o;

	if (OidIsValid(logrel))
	{
		mf_as_owner_begin(&o, logrel);
		mf_log_insert(table, keys, keynulls, nkeys, keys == NULL);
		mf_as_owner_end(&o);
	}
	/* the early invalidation still goes at PRE_COMMIT; the log row is written */
	if (!p->full && p->nkeys == 0)
		p->logged = true;
}

Oid
mf_signal_relid(MfTableId table, Oid relid)
{
	Oid			nsp = get_namespace_oid("modelflags", true);
	Oid			signal = InvalidOid;

	if (OidIsValid(nsp))
		signal = get_relname_relid(table == MF_FLAG_ACTORS ? "_cache_signal_actors" : "_cache_signal", nsp);
	return OidIsValid(signal) ? signal : relid;
}

void
mf_signal_readers(MfTableId table, Oid relid)
{
	CacheInvalidateRelcacheByRelid(mf_signal_relid(table, relid));
}

/* Step 3 of the file header. */
static void
mf_send_early_invalidations(void)
{
	SharedInvalidationMessage msgs[MF_MAX_PENDING];

	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < mf_npending; i++)
	{
		msgs[i].rc.id = SHAREDINVALRELCACHE_ID;
		msgs[i].rc.dbId = MyDatabaseId;
		msgs[i].rc.relId = mf_signal_relid(mf_pending[i]->table, mf_pending[i]->relid);
	}
	SendSharedInvalidMessages(msgs, mf_npending);
	if (XLogStandbyInfoActive())
		LogStandbyInvalidations(mf_npending, msgs, false);
}

static void
mf_changelog_xact_callback(XactEvent event, void *arg)
{
	if (mf_npending == 0)
		return;
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			mf_changelog_flush();
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
			/* the entries lived in TopTransactionContext, gone now */
			mf_npending = 0;
			break;
		default:
			break;
	}
}

/*
 * A rolled-back subtransaction's writes are no writes (their names may stay:
 * a needless lookup, nothing more); a committed one's are its parent's.
 */
static void
mf_changelog_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							  SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();

	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		int			kept = 0;

		for (int i = 0; i < mf_npending; i++)
			if (mf_pending[i]->level < level)
				mf_pending[kept++] = mf_pending[i];
		mf_npending = kept;
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		for (int i = 0; i < mf_npending; i++)
			if (mf_pending[i]->level >= level)
				mf_pending[i]->level = level - 1;
	}
}

void
MfChangeLogInit(void)
{
	RegisterXactCallback(mf_changelog_xact_callback, NULL);
	RegisterSubXactCallback(mf_changelog_subxact_callback, NULL);
}
