/*
 * health_worker.c — the background worker that records breaker transitions
 * (SPEC §7 O: every transition audited, with the figures that caused it,
 * and notified).
 *
 * A transition happens inside report() or model_for, which may run in a
 * read-only transaction or on a hot standby and must stay cheap: they only
 * put it in health.c's event ring in shared memory.  This worker writes the
 * ring into modelflags.breaker_events, one short transaction per batch, and
 * sends one NOTIFY modelflags per batch, on the primary only.
 *
 * One worker per database, started on demand by the backend that queues a
 * transition (a dynamic background worker: the extension lives in
 * databases, and a worker connects to one), never on a hot standby; it
 * waits on its latch (pg_cron's loop: the latch, a timeout, postmaster
 * death) and exits after a minute without work, so an idle server runs
 * none.  A database without the extension, or with a version that has no
 * breaker_events table, gets its transitions marked "not recorded" (they
 * stay visible in modelflags.breaker_transitions until overwritten).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "health.h"

/* Events per transaction. */
#define MF_WORKER_BATCH 64
/* Exit after this long without a transition to record. */
#define MF_WORKER_IDLE_MS 60000
/* A batch that fails this many times is given up (and logged). */
#define MF_WORKER_TRIES 3

static Oid	mf_worker_dbid = InvalidOid;

static void
mf_worker_on_exit(int code, Datum arg)
{
	mf_health_worker_detach(mf_worker_dbid, false);
}

/*
 * Writes one batch.  Returns false if the database has no breaker_events
 * table (the extension is absent or older): nothing to record into.
 */
static bool
mf_worker_write(const MfHealthEventOut *evs, int n)
{
	bool		have_table;
	bool		isnull;
	StringInfoData keys;
	int64		first_id = 0,
				last_id = 0;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "modelflags: recording breaker transitions");

	SPI_execute("SELECT pg_catalog.to_regclass('modelflags.breaker_events') IS NOT NULL"
				"   AND EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'modelflags')",
				true, 1);
	have_table = SPI_processed == 1 &&
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (have_table)
	{
		initStringInfo(&keys);
		for (int i = 0; i < n; i++)
		{
			const MfHealthEventOut *e = &evs[i];
			Oid			types[11] = {TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
			TIMESTAMPTZOID, INT4OID, INT4OID, INT4OID, INT8OID};
			Datum		values[11];
			char		nulls[11];
			bool		figures = e->ev.kind == MF_EVENT_OPEN || e->ev.kind == MF_EVENT_REOPEN ||
				e->ev.kind == MF_EVENT_EXTEND;
			int64		id;

			memset(nulls, ' ', sizeof(nulls));
			values[0] = TimestampTzGetDatum(e->at);
			values[1] = CStringGetTextDatum(e->model);
			values[2] = CStringGetTextDatum(mf_event_kind_name(e->ev.kind));
			values[3] = CStringGetTextDatum(mf_breaker_state_name(e->ev.from));
			values[4] = CStringGetTextDatum(mf_breaker_state_name(e->ev.to));
			values[5] = CStringGetTextDatum(e->reason);
			values[6] = TimestampTzGetDatum(e->until);
			if (e->until == 0)
				nulls[6] = 'n';
			values[7] = Int32GetDatum((int32) e->ev.calls);
			values[8] = Int32GetDatum((int32) e->ev.failures);
			if (!figures)
				nulls[7] = nulls[8] = 'n';
			values[9] = Int32GetDatum(e->ev.level);
			values[10] = Int64GetDatum((int64) e->seq);
			SPI_execute_with_args("INSERT INTO modelflags.breaker_events"
								  " (at, model, event, from_state, to_state, reason, open_until,"
								  "  calls, failures, level, server_seq)"
								  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
								  11, types, values, nulls, false, 1);
			if (SPI_processed != 1)
				elog(ERROR, "INSERT INTO modelflags.breaker_events returned %d rows", (int) SPI_processed);
			id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			if (first_id == 0)
				first_id = id;
			last_id = id;
			if (i < 20)
			{
				appendStringInfo(&keys, "%s{\"model\": ", i ? ", " : "");
				escape_json(&keys, e->model);
				appendStringInfo(&keys, ", \"event\": \"%s\", \"to_state\": \"%s\"}",
								 mf_event_kind_name(e->ev.kind), mf_breaker_state_name(e->ev.to));
			}
		}
		/* One notification per batch, as one per statement for the tables. */
		{
			Oid			t[1] = {TEXTOID};
			Datum		v[1];
			char	   *payload;

			payload = psprintf("{\"table\": \"breaker_events\", \"operation\": \"INSERT\", \"rows\": %d, "
							   "\"first_event_id\": " INT64_FORMAT ", \"last_event_id\": " INT64_FORMAT
							   "%s%s%s}",
							   n, first_id, last_id,
							   n <= 20 ? ", \"keys\": [" : "", n <= 20 ? keys.data : "",
							   n <= 20 ? "]" : "");
			v[0] = CStringGetTextDatum(payload);
			SPI_execute_with_args("SELECT pg_catalog.pg_notify('modelflags', $1)", 1, t, v, NULL, false, 1);
		}
	}

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return have_table;
}

void
mf_health_worker_main(Datum arg)
{
	Oid			dbid = DatumGetObjectId(arg);
	volatile int idle_ms = 0;
	volatile int failures = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dbid, InvalidOid, 0);

	mf_worker_dbid = dbid;
	if (!mf_health_worker_attach(dbid))
		proc_exit(0);			/* another worker serves this database */
	before_shmem_exit(mf_worker_on_exit, (Datum) 0);
	pgstat_report_appname("modelflags health recorder");

	while (!ShutdownRequestPending)
	{
		MfHealthEventOut evs[MF_WORKER_BATCH];
		int			n;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		n = mf_health_take_events(dbid, evs, MF_WORKER_BATCH);
		if (n > 0)
		{
			MemoryContext cxt = CurrentMemoryContext;
			volatile bool ok = false;
			volatile bool recorded = false;

			idle_ms = 0;
			PG_TRY();
			{
				recorded = mf_worker_write(evs, n);
				ok = true;
			}
			PG_CATCH();
			{
				MemoryContextSwitchTo(cxt);
				EmitErrorReport();
				FlushErrorState();
				AbortCurrentTransaction();
			}
			PG_END_TRY();
			if (ok)
			{
				failures = 0;
				mf_health_mark_events(evs, n, recorded);
				continue;		/* more may be waiting */
			}
			if (++failures >= MF_WORKER_TRIES)
			{
				ereport(LOG,
						(errmsg("modelflags gives up recording %d breaker transitions after %d failures", n, failures),
						 errdetail("modelflags.breaker_transitions shows them as not recorded.")));
				mf_health_mark_events(evs, n, false);
				failures = 0;
			}
		}
		else if (idle_ms >= MF_WORKER_IDLE_MS)
		{
			if (mf_health_worker_detach(dbid, true))
				proc_exit(0);
			idle_ms = 0;
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		idle_ms += 1000;
	}
	proc_exit(0);
}
