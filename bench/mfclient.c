/*
 * bench/mfclient.c — the client side of bench/incremental.sh (issue 9):
 * the first call after a change (mode "first", below), failover
 * propagation to many readers, and memory of many idle backends.
 *
 *   mfclient propagate READERS WARMUP FLIPS FEATURE FLAG
 *       READERS connections loop on one prepared model_for(FEATURE, actor)
 *       each, without pause; once every reader has answered 20 times,
 *       another connection flips FLAG (set_flag, autocommit) WARMUP + FLIPS
 *       times, alternately on and off, each time once every reader has seen
 *       the previous flip.  The WARMUP first flips count for correctness but
 *       not for the times (a backend's first refresh fills catalog caches).
 *       For each flip and reader it records, on one monotonic clock:
 *         - whether the reader's first call that was SENT after the writer's
 *           set_flag returned (the commit, as the client sees it) still got
 *           the old route: a stale answer, a broken SPEC C;
 *         - when the reader first RECEIVED the new route, minus the commit;
 *         - any call sent after a reader's first new answer that got the old
 *           route again (a flap), and any wrong answer between flips.
 *       A reader's answer is "failover on" when its position is 0 (the
 *       failover route of bench/data_large.sql's feature_N).
 *
 *   mfclient memory STEPS QUERY [FLIP_FLAG]
 *       Opens connections up to each count in STEPS (e.g. 200,500); every
 *       new connection runs QUERY once (at most two at a time: this is a
 *       2-core machine), then all sit idle for a second and the client reads
 *       /proc/PID/smaps_rollup of every backend (it must run on the server's
 *       machine, as root or the server's user).  Odd-numbered connections run
 *       with modelflags.incremental_cache = off, even ones with it on, and
 *       figures are printed for both halves.  With FLIP_FLAG, after the last
 *       step one commit flips that flag, every connection runs QUERY again
 *       (patching or rebuilding its cache) and the figures are read again.
 *
 * Connection parameters come from the environment (PGHOST, PGPORT, PGUSER,
 * PGDATABASE, PGOPTIONS).  Results go to stdout as key=value lines for
 * bench/incremental.sh; progress goes to stderr.
 *
 * One thread, non-blocking libpq, poll(): the client shares the 2-core
 * machine with the server, so it stays cheap — one prepared statement per
 * call, timestamps kept in memory, nothing printed while measuring.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
die(const char *what, PGconn *conn)
{
	fprintf(stderr, "mfclient: %s%s%s\n", what, conn ? ": " : "",
			conn ? PQerrorMessage(conn) : "");
	exit(1);
}

static PGconn *
connect_one(const char *options)
{
	const char *keys[] = {"options", "fallback_application_name", NULL};
	const char *vals[] = {options, "mfclient", NULL};
	PGconn	   *conn;

	/* options = NULL: PGOPTIONS from the environment applies */
	if (options == NULL)
	{
		keys[0] = "fallback_application_name";
		vals[0] = "mfclient";
		keys[1] = NULL;
	}
	conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(conn) != CONNECTION_OK)
		die("connection failed", conn);
	return conn;
}

static void
exec_ok(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		die(sql, conn);
	PQclear(res);
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return x < y ? -1 : x > y;
}

static double
quantile(double *v, int n, double q)
{
	int			i;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(double), cmp_double);
	i = (int) (q * (n - 1) + 0.5);
	return v[i];
}

/* ------------------------------------------------------------------ propagate */

typedef struct Reader
{
	PGconn	   *conn;
	char		actor[32];
	double		sent;			/* when the call in flight was sent */
	bool		got_new;		/* this flip: has received the new route */
	double		first_new;		/* ... when */
	bool		checked;		/* this flip: a call sent after the commit returned */
	bool		stale_first;	/* ... and it got the old route */
	long		calls;
} Reader;

enum
{
	IDLE,						/* between flips: every answer must be the current route */
	PENDING,					/* set_flag sent, its result not yet received */
	COMMITTED					/* set_flag returned at commit_at */
};

static void
reader_send(Reader *r, const char *feature)
{
	const char *params[2] = {feature, r->actor};

	r->sent = now_ms();
	if (!PQsendQueryPrepared(r->conn, "mf", 2, params, NULL, NULL, 0) ||
		PQflush(r->conn) < 0)
		die("send", r->conn);
}

static int
propagate(int nreaders, int nwarm, int nflips, const char *feature, const char *flag)
{
	Reader	   *readers = calloc(nreaders, sizeof(Reader));
	struct pollfd *fds = calloc(nreaders + 1, sizeof(struct pollfd));
	double	   *lat = calloc((size_t) nreaders * (nflips + 1), sizeof(double));
	double	   *flip_median = calloc(nflips, sizeof(double));
	double	   *flip_max = calloc(nflips, sizeof(double));
	double	   *tmp = calloc(nreaders, sizeof(double));
	int			nlat = 0;
	PGconn	   *writer = connect_one(NULL);
	int			state = IDLE;
	bool		on;				/* the flag's state the readers must show */
	int			flips_done = 0; /* warm-up ones included */
	int			total_flips = nwarm + nflips;
	bool		warming = true;
	double		commit_at = 0;
	double		flip_sent = 0;
	double		next_flip;
	long		stale_readers = 0;
	long		stale_calls = 0;
	long		flaps = 0;
	long		wrong_idle = 0;
	long		timeouts = 0;
	long		total_calls = 0;
	double		commit_ms_sum = 0;
	double		started;
	char		sql[512];
	PGresult   *res;

	/* Start from a known state: the flag off, every reader answering it. */
	snprintf(sql, sizeof(sql), "SELECT modelflags.set_flag('%s', false)", flag);
	exec_ok(writer, sql);
	on = false;
	for (int i = 0; i < nreaders; i++)
	{
		Reader	   *r = &readers[i];

		r->conn = connect_one(NULL);
		snprintf(r->actor, sizeof(r->actor), "User:%d", 1000 + i);
		res = PQprepare(r->conn, "mf",
						"SELECT \"position\" FROM modelflags.model_for($1, $2)", 2, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			die("prepare", r->conn);
		PQclear(res);
		if (PQsetnonblocking(r->conn, 1) != 0)
			die("nonblocking", r->conn);
		fds[i].fd = PQsocket(r->conn);
		fds[i].events = POLLIN;
	}
	if (PQsetnonblocking(writer, 1) != 0)
		die("nonblocking", writer);
	fds[nreaders].fd = PQsocket(writer);
	fds[nreaders].events = POLLIN;

	for (int i = 0; i < nreaders; i++)
		reader_send(&readers[i], feature);
	started = now_ms();
	next_flip = started + 300;

	while (flips_done < total_flips)
	{
		double		t = now_ms();
		int			timeout_ms = 5;

		/* Warm-up: every reader has answered 20 times (its cache built). */
		if (warming && t >= next_flip)
		{
			warming = false;
			for (int i = 0; i < nreaders; i++)
				if (readers[i].calls < 20)
					warming = true;
			next_flip = t + (warming ? 100 : 300);
		}
		if (!warming && state == IDLE && t >= next_flip)
		{
			on = !on;
			snprintf(sql, sizeof(sql), "SELECT modelflags.set_flag('%s', %s)", flag, on ? "true" : "false");
			for (int i = 0; i < nreaders; i++)
			{
				readers[i].got_new = false;
				readers[i].checked = false;
				readers[i].stale_first = false;
			}
			flip_sent = now_ms();
			if (!PQsendQuery(writer, sql))
				die("send set_flag", writer);
			state = PENDING;
		}
		else if (state != IDLE && t - flip_sent > 10000)
		{
			/* Some reader never saw the flip within 10 s: count and move on. */
			for (int i = 0; i < nreaders; i++)
				if (!readers[i].got_new || !readers[i].checked)
					timeouts++;
			state = IDLE;
			flips_done++;
			next_flip = now_ms() + 100;
			continue;
		}
		if (poll(fds, nreaders + 1, timeout_ms) < 0 && errno != EINTR)
			die("poll", NULL);

		/* The writer first, so that the commit's time is taken promptly. */
		if (fds[nreaders].revents)
		{
			if (!PQconsumeInput(writer))
				die("writer", writer);
			while (!PQisBusy(writer) && (res = PQgetResult(writer)) != NULL)
			{
				if (PQresultStatus(res) != PGRES_TUPLES_OK)
					die("set_flag", writer);
				PQclear(res);
				commit_at = now_ms();
				commit_ms_sum += commit_at - flip_sent;
				state = COMMITTED;
			}
		}
		for (int i = 0; i < nreaders; i++)
		{
			Reader	   *r = &readers[i];
			bool		done = false;

			if (!fds[i].revents)
				continue;
			if (!PQconsumeInput(r->conn))
				die("reader", r->conn);
			while (!PQisBusy(r->conn) && (res = PQgetResult(r->conn)) != NULL)
			{
				double		recv = now_ms();
				bool		failover;
				bool		is_new;

				if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
					die("model_for", r->conn);
				failover = strcmp(PQgetvalue(res, 0, 0), "0") == 0;
				PQclear(res);
				is_new = (failover == on);
				r->calls++;
				if (state == IDLE)
				{
					if (!is_new)
						wrong_idle++;
				}
				else
				{
					if (is_new && !r->got_new)
					{
						r->got_new = true;
						r->first_new = recv;
					}
					else if (!is_new && r->got_new && r->sent > r->first_new)
						flaps++;
					if (state == COMMITTED && r->sent > commit_at)
					{
						if (!is_new)
							stale_calls++;
						if (!r->checked)
						{
							r->checked = true;
							r->stale_first = !is_new;
						}
					}
				}
				done = true;
			}
			if (done)
				reader_send(r, feature);
		}

		if (state == COMMITTED)
		{
			bool		all = true;

			for (int i = 0; i < nreaders && all; i++)
				all = readers[i].got_new && readers[i].checked;
			if (all)
			{
				for (int i = 0; i < nreaders; i++)
				{
					tmp[i] = readers[i].first_new - commit_at;
					if (flips_done >= nwarm)
						lat[nlat++] = tmp[i];
					if (readers[i].stale_first)
						stale_readers++;
				}
				fprintf(stderr, "    %s flip %d: median %.2f ms, max %.2f ms\n",
						flips_done < nwarm ? "warm-up" : "measured",
						flips_done < nwarm ? flips_done + 1 : flips_done - nwarm + 1,
						quantile(tmp, nreaders, 0.5), quantile(tmp, nreaders, 1.0));
				if (flips_done >= nwarm)
				{
					flip_max[flips_done - nwarm] = quantile(tmp, nreaders, 1.0);
					flip_median[flips_done - nwarm] = quantile(tmp, nreaders, 0.5);
				}
				flips_done++;
				state = IDLE;
				/* 100–300 ms until the next flip: readers back to steady state */
				next_flip = now_ms() + 100 + random() % 200;
			}
		}
	}

	for (int i = 0; i < nreaders; i++)
		total_calls += readers[i].calls;
	printf("flips=%d\n", nflips);
	printf("warmup_flips=%d\n", nwarm);
	printf("readers=%d\n", nreaders);
	printf("stale_readers=%ld\n", stale_readers);
	printf("stale_calls=%ld\n", stale_calls);
	printf("flaps=%ld\n", flaps);
	printf("wrong_between_flips=%ld\n", wrong_idle);
	printf("timeouts=%ld\n", timeouts);
	printf("commit_ms=%.3f\n", commit_ms_sum / total_flips);
	printf("calls_per_s=%.0f\n", total_calls / ((now_ms() - started) / 1000));
	printf("median_ms=%.3f\n", quantile(lat, nlat, 0.5));
	printf("p90_ms=%.3f\n", quantile(lat, nlat, 0.9));
	printf("max_ms=%.3f\n", quantile(lat, nlat, 1.0));
	printf("worst_flip_median_ms=%.3f\n", quantile(flip_median, nflips, 1.0));
	printf("min_ms=%.3f\n", quantile(lat, nlat, 0.0));

	for (int i = 0; i < nreaders; i++)
		PQfinish(readers[i].conn);
	PQfinish(writer);
	return 0;
}

/* ------------------------------------------------------------------ memory */

typedef struct Backend
{
	PGconn	   *conn;
	int			pid;
	bool		off;			/* incremental_cache = off */
} Backend;

/* Pss and Private_Dirty of one process, in kB (-1 when unreadable). */
static void
read_rollup(int pid, long *pss, long *priv_dirty, long *rss)
{
	char		path[64];
	char		line[256];
	FILE	   *f;

	*pss = *priv_dirty = *rss = -1;
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f))
	{
		long		v;

		if (sscanf(line, "Pss: %ld kB", &v) == 1)
			*pss = v;
		else if (sscanf(line, "Private_Dirty: %ld kB", &v) == 1)
			*priv_dirty = v;
		else if (sscanf(line, "Rss: %ld kB", &v) == 1)
			*rss = v;
	}
	fclose(f);
}

/* Runs query on backends [from, to), at most two at a time. */
static void
run_all(Backend *b, int from, int to, const char *query)
{
	int			next = from;
	int			running = 0;
	int			inflight[2] = {-1, -1};

	while (next < to || running > 0)
	{
		struct pollfd fds[2];
		int			n = 0;

		for (int s = 0; s < 2; s++)
			if (inflight[s] < 0 && next < to)
			{
				if (!PQsendQuery(b[next].conn, query))
					die("send", b[next].conn);
				inflight[s] = next++;
				running++;
			}
		for (int s = 0; s < 2; s++)
			if (inflight[s] >= 0)
			{
				fds[n].fd = PQsocket(b[inflight[s]].conn);
				fds[n].events = POLLIN;
				n++;
			}
		if (poll(fds, n, 1000) < 0 && errno != EINTR)
			die("poll", NULL);
		for (int s = 0; s < 2; s++)
		{
			PGconn	   *c;
			PGresult   *res;

			if (inflight[s] < 0)
				continue;
			c = b[inflight[s]].conn;
			if (!PQconsumeInput(c))
				die("consume", c);
			if (PQisBusy(c))
				continue;
			while ((res = PQgetResult(c)) != NULL)
			{
				if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
					die(query, c);
				PQclear(res);
			}
			inflight[s] = -1;
			running--;
		}
	}
}

static void
report_memory(Backend *b, int n, const char *label)
{
	for (int half = 0; half < 2; half++)
	{
		long		pss_sum = 0,
					pd_sum = 0,
					rss_sum = 0,
					pd_max = 0;
		int			count = 0;
		const char *mode = half ? "off" : "inc";

		for (int i = 0; i < n; i++)
		{
			long		pss,
						pd,
						rss;

			if (b[i].off != half)
				continue;
			read_rollup(b[i].pid, &pss, &pd, &rss);
			if (pss < 0)
			{
				fprintf(stderr, "mfclient: cannot read /proc/%d/smaps_rollup\n", b[i].pid);
				exit(1);
			}
			pss_sum += pss;
			pd_sum += pd;
			rss_sum += rss;
			if (pd > pd_max)
				pd_max = pd;
			count++;
		}
		printf("%s_%s_n=%d\n", label, mode, count);
		printf("%s_%s_pss_kb=%ld\n", label, mode, pss_sum);
		printf("%s_%s_private_dirty_kb=%ld\n", label, mode, pd_sum);
		printf("%s_%s_rss_kb=%ld\n", label, mode, rss_sum);
		printf("%s_%s_private_dirty_max_kb=%ld\n", label, mode, pd_max);
	}
	fflush(stdout);
}

static int
memory(const char *steps, const char *query, const char *flip_flag)
{
	int			max = 0;
	int			open = 0;
	Backend    *b;
	char	   *list = strdup(steps);
	char	   *tok;
	char		label[32];

	for (tok = strtok(list, ","); tok; tok = strtok(NULL, ","))
		if (atoi(tok) > max)
			max = atoi(tok);
	b = calloc(max, sizeof(Backend));
	free(list);
	list = strdup(steps);
	for (tok = strtok(list, ","); tok; tok = strtok(NULL, ","))
	{
		int			target = atoi(tok);
		double		t0 = now_ms();

		for (int i = open; i < target; i++)
		{
			b[i].off = (i % 2 == 1);
			b[i].conn = connect_one(b[i].off ? "-c modelflags.incremental_cache=off"
									: "-c modelflags.incremental_cache=on");
			b[i].pid = PQbackendPID(b[i].conn);
		}
		run_all(b, open, target, query);
		fprintf(stderr, "    %d backends: %d opened and ran the query in %.1f s\n",
				target, target - open, (now_ms() - t0) / 1000);
		open = target;
		sleep(1);
		snprintf(label, sizeof(label), "n%d", target);
		report_memory(b, open, label);
	}
	if (flip_flag != NULL)
	{
		PGconn	   *writer = connect_one(NULL);
		char		sql[512];
		double		t0 = now_ms();

		snprintf(sql, sizeof(sql),
				 "SELECT modelflags.set_flag('%s', NOT coalesce((SELECT enabled FROM modelflags.flags WHERE name = '%s'), false))",
				 flip_flag, flip_flag);
		exec_ok(writer, sql);
		PQfinish(writer);
		run_all(b, 0, open, query);
		fprintf(stderr, "    after one flip: %d backends ran the query again in %.1f s\n",
				open, (now_ms() - t0) / 1000);
		sleep(1);
		snprintf(label, sizeof(label), "n%d_flip", open);
		report_memory(b, open, label);
	}
	for (int i = 0; i < open; i++)
		PQfinish(b[i].conn);
	return 0;
}

/* ------------------------------------------------------------------ first */

/* The one value of a one-row, one-column result of sql run with param. */
static char *
query_value(PGconn *conn, const char *sql, const char *param)
{
	const char *params[1] = {param};
	PGresult   *res = PQexecParams(conn, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
	char	   *v;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		die(sql, conn);
	v = strdup(PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/*
 * mfclient first REPS WARM QUERY KIND=SQL...
 *     Two connections: a reader, which runs WARM once, and a writer.  For
 *     each KIND=SQL, REPS times: the writer runs SQL in a transaction that
 *     it rolls back (the same work, nothing committed), and the reader
 *     times one QUERY in the backend (bench.once_ms): base_KIND_I; then the
 *     writer runs SQL and commits, and the reader times one QUERY again:
 *     first_KIND_I, and notes how its cache was brought up to date:
 *     how_KIND.  Both calls follow the same work by another backend on the
 *     same two cores, so what separates them is what the change costs.
 */
static int
first(int reps, const char *warm, const char *query, int nkinds, char **kinds)
{
	PGconn	   *reader = connect_one(NULL);
	PGconn	   *writer = connect_one(NULL);

	exec_ok(reader, warm);
	for (int k = 0; k < nkinds; k++)
	{
		char	   *eq = strchr(kinds[k], '=');
		char		kind[64];
		char	   *how = NULL;

		if (eq == NULL || eq - kinds[k] >= (int) sizeof(kind))
			die("KIND=SQL expected", NULL);
		memcpy(kind, kinds[k], eq - kinds[k]);
		kind[eq - kinds[k]] = '\0';
		for (int i = 1; i <= reps; i++)
		{
			char	   *base;
			char	   *t;

			exec_ok(writer, "BEGIN");
			exec_ok(writer, eq + 1);
			exec_ok(writer, "ROLLBACK");
			base = query_value(reader, "SELECT bench.once_ms($1)", query);
			exec_ok(writer, eq + 1);
			t = query_value(reader, "SELECT bench.once_ms($1)", query);
			free(how);
			how = query_value(reader, "SELECT last_refresh || coalesce(' (' || last_refresh_reason || ')', '') "
							  "FROM modelflags.cache_info()", NULL);
			printf("base_%s_%d=%s\nfirst_%s_%d=%s\n", kind, i, base, kind, i, t);
			free(base);
			free(t);
		}
		printf("how_%s=%s\n", kind, how ? how : "");
		free(how);
	}
	PQfinish(reader);
	PQfinish(writer);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 7 && strcmp(argv[1], "propagate") == 0)
		return propagate(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), argv[5], argv[6]);
	if (argc >= 4 && strcmp(argv[1], "memory") == 0)
		return memory(argv[2], argv[3], argc >= 5 ? argv[4] : NULL);
	if (argc >= 6 && strcmp(argv[1], "first") == 0)
		return first(atoi(argv[2]), argv[3], argv[4], argc - 5, argv + 5);
	fprintf(stderr, "usage: mfclient propagate READERS WARMUP FLIPS FEATURE FLAG\n"
			"       mfclient memory STEPS QUERY [FLIP_FLAG]\n"
			"       mfclient first REPS WARM QUERY KIND=SQL...\n");
	return 2;
}
